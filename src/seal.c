/*
 * seal.c - bodies of encrypted queues: sealed by the client before they go
 * to the server, opened after they come back. XChaCha20-Poly1305 (IETF,
 * libsodium) with a random 24-byte nonce per body; what the seal
 * authenticates besides the body (the associated data) binds it to its
 * queue, its message id and its headers, so the server can neither read a
 * body nor move one to another message unnoticed.
 *
 * The envelope (the stored body):
 *     "TXQE" | version 1 | key id length (1..32) | key id | nonce (24)
 *     | ciphertext | tag (16)
 * The associated data:
 *     "txq.seal.v1" | version | key id length | key id
 *     | queue length (4, big-endian) | queue | message id (8, big-endian)
 *     | headers length (4, big-endian) | headers as the server prints jsonb
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "txq_int.h"

#define MAGIC      "TXQE"
#define MAGIC_LEN  4
#define VERSION    1
#define HDR_FIXED  (MAGIC_LEN + 2)
#define NONCE      crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG        crypto_aead_xchacha20poly1305_ietf_ABYTES
#define DOMAIN     "txq.seal.v1"
#define DOMAIN_LEN (sizeof DOMAIN - 1)

#define OID_BYTEA_ARRAY 1001
#define MAX_DATUM       0x3FFFFF00u

const char *
txq__open_reason(int err)
{
    switch (err) {
    case TXQ__OPEN_OK:
        return NULL;
    case TXQ__OPEN_NO_KEYRING:
        return "the queue is encrypted and the client has no key ring";
    case TXQ__OPEN_NOT_SEALED:
        return "the body is not a sealed envelope";
    case TXQ__OPEN_UNKNOWN_KEY:
        return "sealed with a key id the key ring does not hold";
    case TXQ__OPEN_FORGED:
        return "authentication failed: the body was altered, or belongs to "
               "another message, queue or headers";
    }
    return "cannot be opened";
}

const char *
txq_msg_decrypt_error(const txq_msg *m)
{
    return m != NULL ? txq__open_reason(m->open_err) : NULL;
}

static void
put_be64(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)v;
}

/* The associated data for key id kid of one message, in a malloc'd
 * buffer of *len bytes; the id sits at *id_at (patched per message of a
 * batch). Returns: the buffer, or NULL when out of memory. */
static unsigned char *
make_ad(const char *kid,
        size_t klen,
        const char *queue,
        int64_t id,
        const char *headers,
        size_t *len,
        size_t *id_at)
{
    size_t qlen = strlen(queue), hlen = strlen(headers);
    unsigned char *ad, *p;

    *len = DOMAIN_LEN + 2 + klen + 4 + qlen + 8 + 4 + hlen;
    ad = p = malloc(*len);
    if (ad == NULL)
        return NULL;
    memcpy(p, DOMAIN, DOMAIN_LEN);
    p += DOMAIN_LEN;
    *p++ = VERSION;
    *p++ = (unsigned char)klen;
    memcpy(p, kid, klen);
    p += klen;
    txq__put_be32(p, (uint32_t)qlen);
    memcpy(p + 4, queue, qlen);
    p += 4 + qlen;
    *id_at = (size_t)(p - ad);
    put_be64(p, (uint64_t)id);
    p += 8;
    txq__put_be32(p, (uint32_t)hlen);
    memcpy(p + 4, headers, hlen);
    return ad;
}

/* The envelope of a body of len bytes under key id of klen bytes. */
static size_t
envelope_size(size_t klen, size_t len)
{
    return HDR_FIXED + klen + NONCE + len + TAG;
}

/* Seal body into out (envelope_size bytes) under k, with ad. */
static void
seal_one(const struct txq__key *k,
         const unsigned char *ad,
         size_t adlen,
         const void *body,
         size_t len,
         unsigned char *out)
{
    size_t klen = strlen(k->id);
    unsigned char *nonce = out + HDR_FIXED + klen;
    unsigned long long clen;

    memcpy(out, MAGIC, MAGIC_LEN);
    out[MAGIC_LEN] = VERSION;
    out[MAGIC_LEN + 1] = (unsigned char)klen;
    memcpy(out + HDR_FIXED, k->id, klen);
    randombytes_buf(nonce, NONCE);
    (void)crypto_aead_xchacha20poly1305_ietf_encrypt(
        nonce + NONCE, &clen, len > 0 ? body : (const void *)"", len, ad, adlen,
        NULL, nonce, k->key);
}

/* Mark m as unopenable: no body, its bytes wiped. */
static txq_err
unopened(txq_client *c, txq_msg *m, int why, const char *kid, size_t klen)
{
    sodium_memzero(m->body, m->body_len);
    m->body_len = 0;
    m->open_err = why;
    if (why == TXQ__OPEN_UNKNOWN_KEY)
        return txq__set_error(c, TXQ_EDECRYPT,
                              "message %" PRId64 " of queue \"%s\": sealed "
                              "with key id \"%.*s\", which the key ring "
                              "does not hold",
                              m->id, m->queue, (int)klen, kid);
    return txq__set_error(c, TXQ_EDECRYPT,
                          "message %" PRId64 " of queue \"%s\": %s", m->id,
                          m->queue, txq__open_reason(why));
}

txq_err
txq__open_msg(txq_client *c, txq_msg *m)
{
    const unsigned char *env = (const unsigned char *)m->body;
    unsigned char nonce[NONCE];
    char kid[TXQ__KEY_ID_MAX];
    const struct txq__key *k;
    unsigned char *ad;
    unsigned long long plen;
    size_t klen, adlen, id_at, clen;
    int ok;

    if (c->keyring == NULL)
        return unopened(c, m, TXQ__OPEN_NO_KEYRING, NULL, 0);
    if (m->body_len < HDR_FIXED + 1 + NONCE + TAG ||
        memcmp(env, MAGIC, MAGIC_LEN) != 0 || env[MAGIC_LEN] != VERSION)
        return unopened(c, m, TXQ__OPEN_NOT_SEALED, NULL, 0);
    klen = env[MAGIC_LEN + 1];
    if (klen < 1 || klen > TXQ__KEY_ID_MAX ||
        m->body_len < HDR_FIXED + klen + NONCE + TAG)
        return unopened(c, m, TXQ__OPEN_NOT_SEALED, NULL, 0);
    memcpy(kid, env + HDR_FIXED, klen);
    memcpy(nonce, env + HDR_FIXED + klen, NONCE);
    k = txq__keyring_find(c->keyring, kid, klen);
    if (k == NULL)
        return unopened(c, m, TXQ__OPEN_UNKNOWN_KEY, kid, klen);
    ad = make_ad(kid, klen, m->queue, m->id, m->headers, &adlen, &id_at);
    if (ad == NULL)
        return txq__set_error(c, TXQ_ENOMEM, "out of memory");
    /* In place: the ciphertext moved to the front of the body, opened
     * over itself. */
    clen = m->body_len - (HDR_FIXED + klen + NONCE);
    memmove(m->body, m->body + HDR_FIXED + klen + NONCE, clen);
    ok = crypto_aead_xchacha20poly1305_ietf_decrypt(
             (unsigned char *)m->body, &plen, NULL, (unsigned char *)m->body,
             clen, ad, adlen, nonce, k->key) == 0;
    free(ad);
    if (!ok) {
        m->body_len = clen;
        return unopened(c, m, TXQ__OPEN_FORGED, NULL, 0);
    }
    sodium_memzero(m->body + plen, m->body_len - plen);
    m->body_len = (size_t)plen;
    m->body[plen] = '\0';
    return TXQ_OK;
}

/* The ids of seal_prepare's bigint[] text "{1,2,3}" into ids (n).
 * Returns: 1, or 0 when s is not n ids. */
static int
parse_ids(const char *s, int64_t *ids, size_t n)
{
    size_t i = 0;
    char buf[32];

    if (*s++ != '{')
        return 0;
    while (i < n) {
        size_t len = strcspn(s, ",}");

        if (len == 0 || len >= sizeof buf)
            return 0;
        memcpy(buf, s, len);
        buf[len] = '\0';
        if (!txq__parse_int64(buf, &ids[i++]))
            return 0;
        s += len;
        if (*s == '}')
            break;
        s++;
    }
    return i == n && strcmp(s, "}") == 0;
}

/* The bytea[] of n envelopes (PostgreSQL's binary array format, as
 * send.c's build_array), each sealed under k for its id, into *out
 * (malloc'd, *total bytes). Returns: TXQ_OK, or the error (set). */
static txq_err
seal_array(txq_client *c,
           const struct txq__key *k,
           const char *queue,
           const char *headers,
           const int64_t *ids,
           const void *const *bodies,
           const size_t *lens,
           size_t n,
           unsigned char **out,
           size_t *total)
{
    size_t klen = strlen(k->id), adlen, id_at;
    unsigned char *buf, *p, *ad;

    *total = 20;
    for (size_t i = 0; i < n; i++) {
        *total += 4 + envelope_size(klen, lens[i]);
        if (*total > MAX_DATUM)
            return txq__set_error(c, TXQ_ETOOBIG,
                                  "batch too large once sealed: more than %u "
                                  "bytes in one statement; send it in parts",
                                  MAX_DATUM);
    }
    ad = make_ad(k->id, klen, queue, 0, headers, &adlen, &id_at);
    buf = ad != NULL ? malloc(*total) : NULL;
    if (buf == NULL) {
        free(ad);
        return txq__set_error(c, TXQ_ENOMEM,
                              "out of memory for a batch of %zu bytes", *total);
    }
    txq__bytea_array_header(buf, n);
    p = buf + 20;
    for (size_t i = 0; i < n; i++) {
        size_t size = envelope_size(klen, lens[i]);

        put_be64(ad + id_at, (uint64_t)ids[i]);
        txq__put_be32(p, (uint32_t)size);
        seal_one(k, ad, adlen, bodies[i], lens[i], p + 4);
        p += 4 + size;
    }
    free(ad);
    *out = buf;
    return TXQ_OK;
}

/* seal_prepare() for n messages of queue. Returns: TXQ_OK with *r (the
 * caller clears it) and *encrypted. */
static txq_err
prepare(txq_client *c,
        PGconn *pg,
        const char *queue,
        size_t n,
        const txq_send_opts *opts,
        PGresult **r,
        int *encrypted)
{
    struct txq__params p;
    txq_err rc;

    txq__params_init(&p);
    txq__param_text(&p, queue);
    txq__param_int64(&p, (int64_t)n);
    txq__param_text(&p, opts != NULL ? opts->headers_json : NULL);
    rc = txq__query(c, pg, TXQ__Q_SEAL_PREPARE, &p, 0, r);
    if (rc != TXQ_OK)
        return rc;
    if (PQntuples(*r) != 1 || PQnfields(*r) != 3 || PQgetisnull(*r, 0, 1)) {
        PQclear(*r);
        *r = NULL;
        return txq__set_error(c, TXQ_EDB, "unexpected seal_prepare result");
    }
    *encrypted = strcmp(PQgetvalue(*r, 0, 2), "t") == 0;
    return TXQ_OK;
}

txq_err
txq__seal_send(txq_client *c,
               PGconn *pg,
               const char *queue,
               const void *const *bodies,
               const size_t *lens,
               size_t n,
               const txq_send_opts *opts,
               int start,
               int64_t *out_ids,
               int *sealed)
{
    static const txq_send_opts none;
    const struct txq__key *k = &c->keyring->keys[c->keyring->n - 1];
    struct txq__params p;
    PGresult *r = NULL, *sent = NULL;
    unsigned char *array = NULL;
    int64_t *ids = NULL;
    size_t total;
    int encrypted = 0;
    txq_err rc;

    *sealed = 0;
    if (opts == NULL)
        opts = &none;
    if ((rc = prepare(c, pg, queue, n, opts, &r, &encrypted)) != TXQ_OK ||
        !encrypted)
        goto out;
    *sealed = 1;
    if (txq__pooled(c, pg) && PQtransactionStatus(pg) == PQTRANS_IDLE) {
        /* The ids are reserved for the backend that ran seal_prepare();
         * in autocommit a transaction pooler may run send_sealed() on
         * another. In one transaction both run on the same. */
        rc = txq__set_error(c, TXQ_ESTATE,
                            "a send to the encrypted queue \"%s\" through a "
                            "transaction pooler must run inside a "
                            "transaction (BEGIN first)",
                            queue);
        goto out;
    }
    if (opts->dedup_id != NULL) {
        rc = txq__set_error(c, TXQ_EINVAL,
                            "dedup_id is not for encrypted queues (\"%s\")",
                            queue);
        goto out;
    }
    ids = malloc(n * sizeof *ids);
    if (ids == NULL) {
        rc = txq__set_error(c, TXQ_ENOMEM, "out of memory");
        goto out;
    }
    if (PQgetisnull(r, 0, 0) || !parse_ids(PQgetvalue(r, 0, 0), ids, n)) {
        rc = txq__set_error(c, TXQ_EDB, "seal_prepare did not reserve %zu ids",
                            n);
        goto out;
    }
    if ((rc = seal_array(c, k, queue, PQgetvalue(r, 0, 1), ids, bodies, lens, n,
                         &array, &total)) != TXQ_OK)
        goto out;
    txq__params_init(&p);
    txq__param_text(&p, queue);
    txq__param_text(&p, PQgetvalue(r, 0, 0));
    txq__param_binary(&p, array, total, OID_BYTEA_ARRAY);
    txq__param_text(&p, PQgetvalue(r, 0, 1));
    if (TXQ__GIVEN(opts, delay, TXQ_SEND_SET_DELAY))
        txq__param_secs(&p, opts->delay, 0);
    else
        txq__param_text(&p, NULL);
    if (opts->priority != 0)
        txq__param_int64(&p, opts->priority);
    else
        txq__param_text(&p, NULL);
    txq__param_text(&p, opts->group);
    txq__param_text(&p, opts->correlation_id);
    txq__param_text(&p, opts->reply_to);
    if (start) {
        rc = txq__send_query(c, pg, TXQ__Q_SEND_SEALED, &p, 0);
    } else {
        rc = txq__query(c, pg, TXQ__Q_SEND_SEALED, &p, 0, &sent);
        if (rc == TXQ_OK)
            rc = txq__batch_ids(c, sent, n, out_ids);
    }
out:
    PQclear(sent);
    PQclear(r);
    free(array);
    free(ids);
    return rc;
}
