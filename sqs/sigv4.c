/*
 * sigv4.c - AWS Signature Version 4 verification of a request (the
 * Authorization header form), and the digests txq-sqs needs (SHA-256,
 * HMAC-SHA256, MD5) through OpenSSL's libcrypto. The canonical request is
 * rebuilt from what arrived, the signing key derived from the access key's
 * secret, and the signatures compared in constant time.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "sqs.h"

#define SKEW_SECS          (15 * 60)
#define MAX_SIGNED_HEADERS 32

static void
hex(const unsigned char *in, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    size_t i;

    for (i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * len] = '\0';
}

/*
 * The algorithms, fetched once. OpenSSL 3 looks an algorithm up (a
 * property query, under a lock) on every implicit use (EVP_md5(),
 * SHA256(), HMAC()), and a request used a dozen: a tenth of txq-sqs's
 * time went there. Each thread keeps an HMAC-SHA256 context, set up once
 * and given a new key per use (a thread-specific value freed when the
 * thread ends: libmicrohttpd's connection threads come and go).
 */
static EVP_MD *alg_md5, *alg_sha256;
static EVP_MAC *alg_hmac;
static pthread_once_t alg_once = PTHREAD_ONCE_INIT;
static pthread_key_t hmac_key;

static void
hmac_ctx_free(void *ctx)
{
    EVP_MAC_CTX_free(ctx);
}

static void
alg_fetch(void)
{
    alg_md5 = EVP_MD_fetch(NULL, "MD5", NULL);
    alg_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    alg_hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (pthread_key_create(&hmac_key, hmac_ctx_free) != 0)
        abort(); /* no thread-specific key left: nothing else works */
}

void
sqs_crypto_end(void)
{
    if (alg_hmac == NULL && alg_md5 == NULL && alg_sha256 == NULL)
        return;
    EVP_MAC_CTX_free(pthread_getspecific(hmac_key));
    pthread_setspecific(hmac_key, NULL);
    EVP_MAC_free(alg_hmac);
    EVP_MD_free(alg_md5);
    EVP_MD_free(alg_sha256);
    alg_hmac = NULL;
    alg_md5 = alg_sha256 = NULL;
}

static const EVP_MD *
md_of(int sha256)
{
    pthread_once(&alg_once, alg_fetch);
    if (sha256)
        return alg_sha256 != NULL ? alg_sha256 : EVP_sha256();
    return alg_md5 != NULL ? alg_md5 : EVP_md5();
}

void
sqs_md5_hex(const void *data, size_t len, char out[33])
{
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int n = 0;

    EVP_Digest(data, len, d, &n, md_of(0), NULL);
    hex(d, 16, out);
}

void
sqs_sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int n = 0;

    EVP_Digest(data, len, d, &n, md_of(1), NULL);
    hex(d, SHA256_DIGEST_LENGTH, out);
}

int
sqs_hmac_sha256(const void *key,
                size_t keylen,
                const void *data,
                size_t len,
                unsigned char out[32])
{
    EVP_MAC_CTX *ctx;
    size_t n = 0;

    (void)md_of(1);
    ctx = alg_hmac != NULL ? pthread_getspecific(hmac_key) : NULL;
    if (ctx == NULL && alg_hmac != NULL &&
        (ctx = EVP_MAC_CTX_new(alg_hmac)) != NULL) {
        char digest[] = "SHA256";
        OSSL_PARAM p[] = {
            OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
            OSSL_PARAM_construct_end()};

        if (!EVP_MAC_CTX_set_params(ctx, p) ||
            pthread_setspecific(hmac_key, ctx) != 0) {
            EVP_MAC_CTX_free(ctx);
            ctx = NULL;
        }
    }
    if (ctx == NULL || !EVP_MAC_init(ctx, key, keylen, NULL) ||
        !EVP_MAC_update(ctx, data, len) || !EVP_MAC_final(ctx, out, &n, 32) ||
        n != 32) {
        /* Out of memory or no HMAC: random bytes, which no one can
         * match, for a caller that does not look at the result. */
        if (RAND_bytes(out, 32) != 1)
            abort();
        return -1;
    }
    return 0;
}

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
static const char b64std[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* base64 of in with alphabet abc, '=' padded when pad. */
static void
b64_encode(
    const char *abc, int pad, const unsigned char *in, size_t len, char *out)
{
    size_t i;
    char *o = out;

    for (i = 0; i + 2 < len; i += 3) {
        unsigned v =
            (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
        *o++ = abc[v >> 18];
        *o++ = abc[(v >> 12) & 63];
        *o++ = abc[(v >> 6) & 63];
        *o++ = abc[v & 63];
    }
    if (len - i == 1) {
        unsigned v = (unsigned)in[i] << 16;
        *o++ = abc[v >> 18];
        *o++ = abc[(v >> 12) & 63];
        if (pad) {
            *o++ = '=';
            *o++ = '=';
        }
    } else if (len - i == 2) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8;
        *o++ = abc[v >> 18];
        *o++ = abc[(v >> 12) & 63];
        *o++ = abc[(v >> 6) & 63];
        if (pad)
            *o++ = '=';
    }
    *o = '\0';
}

/* Decode n characters of in (alphabet abc, no padding): the length, or
 * -1 for a character outside abc, an encoding that is not canonical, or
 * more than outsize bytes. */
static long
b64_decode(const char *abc,
           const char *in,
           size_t n,
           unsigned char *out,
           size_t outsize)
{
    unsigned v = 0;
    int bits = 0;
    size_t len = 0, i;

    for (i = 0; i < n; i++) {
        const char *at = in[i] ? strchr(abc, in[i]) : NULL;

        if (at == NULL)
            return -1;
        v = (v << 6) | (unsigned)(at - abc);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (len >= outsize)
                return -1;
            out[len++] = (unsigned char)(v >> bits);
            v &= (1u << bits) - 1;
        }
    }
    if (bits >= 6 || v != 0)
        return -1; /* not a canonical encoding */
    return (long)len;
}

void
sqs_b64url_encode(const unsigned char *in, size_t len, char *out)
{
    b64_encode(b64url, 0, in, len, out);
}

long
sqs_b64url_decode(const char *in, unsigned char *out, size_t outsize)
{
    return b64_decode(b64url, in, strlen(in), out, outsize);
}

void
sqs_b64_encode(const unsigned char *in, size_t len, char *out)
{
    b64_encode(b64std, 1, in, len, out);
}

long
sqs_b64_decode(const char *in, size_t n, unsigned char *out, size_t outsize)
{
    size_t pad = 0;

    if (n % 4 != 0)
        return -1;
    while (pad < 2 && pad < n && in[n - 1 - pad] == '=')
        pad++;
    return b64_decode(b64std, in, n - pad, out, outsize);
}

/* === a growable string === */

struct buf {
    char *p;
    size_t len, cap;
    int oom;
};

static void
put(struct buf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        char *np;

        while (cap < b->len + n + 1)
            cap *= 2;
        np = realloc(b->p, cap);
        if (np == NULL) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void
puts_buf(struct buf *b, const char *s)
{
    put(b, s, strlen(s));
}

static int
unreserved(int c)
{
    return isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

/* Percent-encode s (n bytes) as SigV4 does; '/' kept when keep_slash. */
static void
put_encoded(struct buf *b, const char *s, size_t n, int keep_slash)
{
    size_t i;

    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char e[4];

        if (unreserved(c) || (keep_slash && c == '/')) {
            put(b, (const char *)&c, 1);
        } else {
            snprintf(e, sizeof e, "%%%02X", c);
            put(b, e, 3);
        }
    }
}

static int
hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Percent-decode s[0..n) into a new string ('+' stays '+', as SigV4 reads
 * a query string). */
static char *
decode(const char *s, size_t n)
{
    char *out = malloc(n + 1), *o = out;
    size_t i;

    if (out == NULL)
        return NULL;
    for (i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 &&
            hexval(s[i + 2]) >= 0) {
            *o++ = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else {
            *o++ = s[i];
        }
    }
    *o = '\0';
    return out;
}

struct qpair {
    char *k, *v; /* encoded again, canonically */
};

static int
cmp_pair(const void *a, const void *b)
{
    const struct qpair *x = a, *y = b;
    int c = strcmp(x->k, y->k);

    return c != 0 ? c : strcmp(x->v, y->v);
}

/* The canonical query string of raw query q. Returns 0, or -1 (OOM). */
static int
canonical_query(struct buf *out, const char *q)
{
    struct qpair *pairs = NULL;
    size_t n = 0, cap = 0, i;
    const char *p = q;
    int rc = -1;

    while (*p) {
        const char *amp = strchr(p, '&'), *eq;
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        struct buf k = {0}, v = {0};
        char *dk, *dv;

        if (len > 0) {
            eq = memchr(p, '=', len);
            dk = decode(p, eq ? (size_t)(eq - p) : len);
            dv = eq ? decode(eq + 1, len - (size_t)(eq - p) - 1) : strdup("");
            if (dk == NULL || dv == NULL) {
                free(dk);
                free(dv);
                goto out;
            }
            put_encoded(&k, dk, strlen(dk), 0);
            put_encoded(&v, dv, strlen(dv), 0);
            put(&k, "", 0);
            put(&v, "", 0);
            free(dk);
            free(dv);
            if (k.oom || v.oom) {
                free(k.p);
                free(v.p);
                goto out;
            }
            if (n == cap) {
                struct qpair *np;

                cap = cap ? cap * 2 : 8;
                np = realloc(pairs, cap * sizeof *pairs);
                if (np == NULL) {
                    free(k.p);
                    free(v.p);
                    goto out;
                }
                pairs = np;
            }
            pairs[n].k = k.p;
            pairs[n].v = v.p;
            n++;
        }
        p += len;
        if (*p == '&')
            p++;
    }
    if (n > 1)
        qsort(pairs, n, sizeof *pairs, cmp_pair);
    for (i = 0; i < n; i++) {
        if (i > 0)
            put(out, "&", 1);
        puts_buf(out, pairs[i].k);
        put(out, "=", 1);
        puts_buf(out, pairs[i].v);
    }
    rc = out->oom ? -1 : 0;
out:
    for (i = 0; i < n; i++) {
        free(pairs[i].k);
        free(pairs[i].v);
    }
    free(pairs);
    return rc;
}

/* A header value trimmed, inner runs of spaces made one. */
static void
put_header_value(struct buf *b, const char *v)
{
    int space = 0;

    while (*v == ' ' || *v == '\t')
        v++;
    for (; *v; v++) {
        if (*v == ' ' || *v == '\t') {
            space = 1;
            continue;
        }
        if (space)
            put(b, " ", 1);
        space = 0;
        put(b, v, 1);
    }
}

/* Copy the value of "Name=" from the Authorization header's parameters. */
static int
auth_param(const char *auth, const char *name, char *out, size_t size)
{
    size_t nl = strlen(name);
    const char *p = auth;

    while ((p = strstr(p, name)) != NULL) {
        if ((p == auth || p[-1] == ' ' || p[-1] == ',') && p[nl] == '=') {
            const char *v = p + nl + 1, *end = v;
            size_t len;

            while (*end && *end != ',' && *end != ' ')
                end++;
            len = (size_t)(end - v);
            if (len >= size)
                return -1;
            memcpy(out, v, len);
            out[len] = '\0';
            return 0;
        }
        p += nl;
    }
    return -1;
}

/* YYYYMMDDTHHMMSSZ as epoch seconds, or -1. */
static long long
parse_amz_date(const char *s)
{
    struct tm tm;
    int i;

    if (strlen(s) != 16 || s[8] != 'T' || s[15] != 'Z')
        return -1;
    for (i = 0; i < 15; i++)
        if (i != 8 && !isdigit((unsigned char)s[i]))
            return -1;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 +
                 (s[3] - '0') - 1900;
    tm.tm_mon = (s[4] - '0') * 10 + (s[5] - '0') - 1;
    tm.tm_mday = (s[6] - '0') * 10 + (s[7] - '0');
    tm.tm_hour = (s[9] - '0') * 10 + (s[10] - '0');
    tm.tm_min = (s[11] - '0') * 10 + (s[12] - '0');
    tm.tm_sec = (s[13] - '0') * 10 + (s[14] - '0');
    if (tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
        tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
        return -1;
    return (long long)timegm(&tm);
}

enum sqs_code
sqs_sigv4_verify(sqs_req *req, const sqs_http_req *h, long long now)
{
    const char *auth = h->header(h->header_ctx, "Authorization");
    const char *amz_date;
    char cred[256], signed_hdrs[1024], sig[80], secret[SQS_SECRET_MAX];
    char role[SQS_ROLE_MAX], scope_region[64], payload_hash[65], cr_hash[65];
    char *parts[5], *slash, *names[MAX_SIGNED_HEADERS];
    char expected[65], keybuf[SQS_SECRET_MAX + 8];
    unsigned char k[32], k2[32];
    struct buf cr = {0}, sts = {0};
    size_t nparts = 0, nnames = 0, i;
    long long t;
    enum sqs_code rc;
    int has_host = 0;

    if (auth == NULL || *auth == '\0')
        return sqs_fail(req, SQS_E_MISSING_AUTH,
                        "Request is missing Authentication Token");
    if (strncmp(auth, "AWS4-HMAC-SHA256 ", 17) != 0)
        return sqs_fail(req, SQS_E_INCOMPLETE_SIGNATURE,
                        "Unsupported authorization type: only "
                        "AWS4-HMAC-SHA256 is accepted");
    if (auth_param(auth + 17, "Credential", cred, sizeof cred) != 0 ||
        auth_param(auth + 17, "SignedHeaders", signed_hdrs,
                   sizeof signed_hdrs) != 0 ||
        auth_param(auth + 17, "Signature", sig, sizeof sig) != 0)
        return sqs_fail(req, SQS_E_INCOMPLETE_SIGNATURE,
                        "Authorization header requires Credential, "
                        "SignedHeaders and Signature");

    /* Credential=KEYID/DATE/REGION/SERVICE/aws4_request */
    parts[0] = cred;
    nparts = 1;
    while (nparts < 5 && (slash = strchr(parts[nparts - 1], '/')) != NULL) {
        *slash = '\0';
        parts[nparts++] = slash + 1;
    }
    if (nparts != 5 || strchr(parts[4], '/') != NULL ||
        strcmp(parts[4], "aws4_request") != 0 || strlen(parts[1]) != 8)
        return sqs_fail(req, SQS_E_INCOMPLETE_SIGNATURE,
                        "Credential must be KEYID/DATE/REGION/sqs/"
                        "aws4_request");
    if (strlen(parts[0]) >= sizeof req->key_id)
        return sqs_fail(req, SQS_E_INVALID_CLIENT_TOKEN,
                        "The security token included in the request is "
                        "invalid");
    snprintf(req->key_id, sizeof req->key_id, "%s", parts[0]);
    snprintf(scope_region, sizeof scope_region, "%s", parts[2]);
    if (strcmp(parts[3], "sqs") != 0)
        return sqs_fail(req, SQS_E_SIGNATURE,
                        "Credential should be scoped to correct service: "
                        "'sqs'");
    if (strcmp(scope_region, req->srv->region) != 0)
        return sqs_fail(req, SQS_E_SIGNATURE,
                        "Credential should be scoped to a valid region "
                        "('%s')",
                        req->srv->region);

    amz_date = h->header(h->header_ctx, "X-Amz-Date");
    if (amz_date == NULL)
        return sqs_fail(req, SQS_E_INCOMPLETE_SIGNATURE,
                        "the X-Amz-Date header is required");
    t = parse_amz_date(amz_date);
    if (t < 0)
        return sqs_fail(req, SQS_E_INCOMPLETE_SIGNATURE,
                        "X-Amz-Date is not YYYYMMDDTHHMMSSZ");
    if (strncmp(amz_date, parts[1], 8) != 0)
        return sqs_fail(req, SQS_E_SIGNATURE,
                        "the credential's date is not X-Amz-Date's");
    if (t < now - SKEW_SECS || t > now + SKEW_SECS)
        return sqs_fail(req, SQS_E_REQUEST_EXPIRED,
                        "Signature expired: %s is more than 15 minutes "
                        "from the server's time",
                        amz_date);

    if (!sqs_creds_lookup(req->key_id, secret, sizeof secret, role,
                          sizeof role))
        return sqs_fail(req, SQS_E_INVALID_CLIENT_TOKEN,
                        "The security token included in the request is "
                        "invalid");

    /* SignedHeaders: lowercase names, sorted, separated by ';'. */
    names[nnames++] = signed_hdrs;
    for (i = 0; signed_hdrs[i]; i++) {
        if (signed_hdrs[i] == ';') {
            signed_hdrs[i] = '\0';
            if (nnames == MAX_SIGNED_HEADERS) {
                rc = sqs_fail(req, SQS_E_INCOMPLETE_SIGNATURE,
                              "too many signed headers");
                goto out;
            }
            names[nnames++] = signed_hdrs + i + 1;
        }
    }

    put(&cr, h->method, strlen(h->method));
    put(&cr, "\n", 1);
    put_encoded(&cr, h->path[0] ? h->path : "/",
                h->path[0] ? strlen(h->path) : 1, 1);
    put(&cr, "\n", 1);
    if (canonical_query(&cr, h->query) != 0) {
        rc = sqs_fail(req, SQS_E_INTERNAL, "out of memory");
        goto out;
    }
    put(&cr, "\n", 1);
    for (i = 0; i < nnames; i++) {
        const char *v = h->header(h->header_ctx, names[i]);

        if (strcmp(names[i], "host") == 0)
            has_host = 1;
        if (v == NULL) {
            rc = sqs_fail(req, SQS_E_SIGNATURE,
                          "signed header %.64s is missing", names[i]);
            goto out;
        }
        puts_buf(&cr, names[i]);
        put(&cr, ":", 1);
        put_header_value(&cr, v);
        put(&cr, "\n", 1);
    }
    put(&cr, "\n", 1);
    for (i = 0; i < nnames; i++) {
        if (i > 0)
            put(&cr, ";", 1);
        puts_buf(&cr, names[i]);
    }
    put(&cr, "\n", 1);
    sqs_sha256_hex(h->body_len ? (const void *)h->body : "", h->body_len,
                   payload_hash);
    puts_buf(&cr, payload_hash);
    if (!has_host) {
        rc = sqs_fail(req, SQS_E_SIGNATURE, "the host header must be signed");
        goto out;
    }
    if (cr.oom) {
        rc = sqs_fail(req, SQS_E_INTERNAL, "out of memory");
        goto out;
    }

    sqs_sha256_hex(cr.p, cr.len, cr_hash);
    puts_buf(&sts, "AWS4-HMAC-SHA256\n");
    puts_buf(&sts, amz_date);
    put(&sts, "\n", 1);
    put(&sts, parts[1], 8);
    put(&sts, "/", 1);
    puts_buf(&sts, scope_region);
    puts_buf(&sts, "/sqs/aws4_request\n");
    puts_buf(&sts, cr_hash);
    if (sts.oom) {
        rc = sqs_fail(req, SQS_E_INTERNAL, "out of memory");
        goto out;
    }

    snprintf(keybuf, sizeof keybuf, "AWS4%s", secret);
    if (sqs_hmac_sha256(keybuf, strlen(keybuf), parts[1], 8, k) != 0 ||
        sqs_hmac_sha256(k, 32, scope_region, strlen(scope_region), k2) != 0 ||
        sqs_hmac_sha256(k2, 32, "sqs", 3, k) != 0 ||
        sqs_hmac_sha256(k, 32, "aws4_request", 12, k2) != 0 ||
        sqs_hmac_sha256(k2, 32, sts.p, sts.len, k) != 0) {
        rc = sqs_fail(req, SQS_E_INTERNAL, "cannot compute HMAC-SHA256");
        goto out;
    }
    hex(k, 32, expected);

    if (strlen(sig) != 64 || CRYPTO_memcmp(sig, expected, 64) != 0) {
        rc = sqs_fail(req, SQS_E_SIGNATURE,
                      "The request signature we calculated does not match "
                      "the signature you provided. Check your AWS Secret "
                      "Access Key and signing method.");
        goto out;
    }
    snprintf(req->role, sizeof req->role, "%s", role);
    rc = SQS_OK;
out:
    OPENSSL_cleanse(secret, sizeof secret);
    OPENSSL_cleanse(keybuf, sizeof keybuf);
    OPENSSL_cleanse(k, sizeof k);
    OPENSSL_cleanse(k2, sizeof k2);
    free(cr.p);
    free(sts.p);
    return rc;
}
