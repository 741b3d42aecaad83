/*
 * action_msg.c - the message actions: SendMessage(Batch),
 * DeleteMessage(Batch), ChangeMessageVisibility(Batch) (ReceiveMessage is
 * in receive.c); and receipt handles, which carry a
 * message's id and the attempt that received it under an HMAC of the
 * server's key, so that only the delivery that was handed out can be
 * acknowledged or extended (txq fences by attempt).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "log.h"
#include "sqs.h"

#define HANDLE_VERSION  1
#define HANDLE_MAC      16
#define HANDLE_BYTES    (1 + 8 + 8 + HANDLE_MAC)
#define BATCH_MAX       10
#define BATCH_BYTES_MAX 1048576

/* === receipt handles === */

static void
handle_mac(const sqs_server *srv,
           const unsigned char *head,
           const char *queue,
           unsigned char mac[32])
{
    unsigned char msg[17 + SQS_NAME_MAX + 1];
    size_t ql = strlen(queue);

    memcpy(msg, head, 17);
    memcpy(msg + 17, queue, ql);
    sqs_hmac_sha256(srv->receipt_key, sizeof srv->receipt_key, msg, 17 + ql,
                    mac);
}

static void
put_be64(unsigned char *p, unsigned long long v)
{
    int i;

    for (i = 7; i >= 0; i--) {
        p[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
}

static unsigned long long
get_be64(const unsigned char *p)
{
    unsigned long long v = 0;
    int i;

    for (i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

void
sqs_handle_make(const sqs_server *srv,
                const char *queue,
                long long id,
                long long attempt,
                char *out)
{
    unsigned char h[HANDLE_BYTES], mac[32];

    h[0] = HANDLE_VERSION;
    put_be64(h + 1, (unsigned long long)id);
    put_be64(h + 9, (unsigned long long)attempt);
    handle_mac(srv, h, queue, mac);
    memcpy(h + 17, mac, HANDLE_MAC);
    sqs_b64url_encode(h, sizeof h, out);
}

/* Returns SQS_OK with *id and *attempt, or SQS_E_RECEIPT_INVALID. */
static enum sqs_code
handle_read(sqs_req *req,
            const char *queue,
            const char *s,
            long long *id,
            long long *attempt)
{
    unsigned char h[HANDLE_BYTES + 4], mac[32];

    if (s == NULL)
        return sqs_fail(req, SQS_E_MISSING_PARAM,
                        "The request must contain the parameter "
                        "ReceiptHandle.");
    if (strlen(s) > 64 || sqs_b64url_decode(s, h, sizeof h) != HANDLE_BYTES ||
        h[0] != HANDLE_VERSION)
        goto bad;
    handle_mac(req->srv, h, queue, mac);
    if (CRYPTO_memcmp(mac, h + 17, HANDLE_MAC) != 0)
        goto bad;
    *id = (long long)get_be64(h + 1);
    *attempt = (long long)get_be64(h + 9);
    return SQS_OK;
bad:
    return sqs_fail(req, SQS_E_RECEIPT_INVALID,
                    "The input receipt handle \"%.64s\" is not a valid "
                    "receipt handle.",
                    s);
}

/* === bodies === */

/* Length of the UTF-8 character at s (n bytes left) that SQS allows in
 * a body (#x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD #x10000-#x10FFFF), or 0. */
static size_t
allowed_char(const unsigned char *s, size_t n)
{
    unsigned cp;
    size_t len, i;

    if (s[0] < 0x80) {
        return s[0] >= 0x20 || s[0] == 0x9 || s[0] == 0xa || s[0] == 0xd ? 1
                                                                         : 0;
    } else if ((s[0] & 0xe0) == 0xc0) {
        len = 2;
        cp = s[0] & 0x1f;
    } else if ((s[0] & 0xf0) == 0xe0) {
        len = 3;
        cp = s[0] & 0x0f;
    } else if ((s[0] & 0xf8) == 0xf0) {
        len = 4;
        cp = s[0] & 0x07;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
        (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp < 0xe000) || cp == 0xfffe || cp == 0xffff)
        return 0;
    return len;
}

int
sqs_text_ok(const char *s, size_t n)
{
    size_t i = 0, l;

    while (i < n) {
        l = allowed_char((const unsigned char *)s + i, n - i);
        if (l == 0)
            return 0;
        i += l;
    }
    return 1;
}

char *
sqs_text_for_sqs(const unsigned char *s, size_t n, size_t *outlen)
{
    char *out = malloc(n * 3 + 1);
    size_t i = 0, o = 0, l;

    if (out == NULL)
        return NULL;
    while (i < n) {
        l = allowed_char(s + i, n - i);
        if (l == 0) {
            memcpy(out + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        } else {
            memcpy(out + o, s + i, l);
            o += l;
            i += l;
        }
    }
    out[o] = '\0';
    *outlen = o;
    return out;
}

/* === sending === */

/* What one send needs, checked before any SQL. */
struct send_in {
    const char *body;
    size_t len;
    char delay[32];
    const char *group;
    const char *dedup;
    char dedup_buf[65];
    char *headers; /* JSON text, or NULL: none */
    char md5_attrs[33], md5_sys[33];
};

static void
send_in_free(struct send_in *s)
{
    free(s->headers);
    s->headers = NULL;
}

static enum sqs_code
send_check(sqs_req *req,
           const sqs_queue *q,
           const json_t *obj,
           struct send_in *s)
{
    json_t *headers;
    long long delay;
    size_t attr_size = 0;
    int has_delay;

    memset(s, 0, sizeof s[0]);
    s->body = sqs_param_str(req, obj, "MessageBody");
    if (s->body == NULL)
        return sqs_fail(req, SQS_E_MISSING_PARAM,
                        "The request must contain the parameter "
                        "MessageBody.");
    s->len = strlen(s->body);
    if (s->len == 0)
        return sqs_fail(req, SQS_E_MISSING_PARAM,
                        "The request must contain the parameter "
                        "MessageBody.");
    if (!sqs_text_ok(s->body, s->len))
        return sqs_fail(req, SQS_E_INVALID_CONTENTS,
                        "Invalid binary character in the message body: "
                        "see the allowed characters in SQS's SendMessage");
    has_delay = sqs_param_int(req, obj, "DelaySeconds", 0, 900, &delay);
    if (has_delay < 0)
        return req->err;
    if (has_delay)
        snprintf(s->delay, sizeof s->delay, "%lld seconds", delay);
    s->group = sqs_param_str(req, obj, "MessageGroupId");
    s->dedup = sqs_param_str(req, obj, "MessageDeduplicationId");
    if (q->fifo) {
        if (has_delay && delay != 0)
            return sqs_fail(req, SQS_E_INVALID_PARAM,
                            "Value %lld for parameter DelaySeconds is "
                            "invalid. Reason: The request include parameter "
                            "that is not valid for this queue type.",
                            delay);
        if (s->group == NULL || *s->group == '\0' || strlen(s->group) > 128)
            return sqs_fail(req, SQS_E_MISSING_PARAM,
                            "The request must contain the parameter "
                            "MessageGroupId.");
        if (s->dedup == NULL) {
            sqs_sha256_hex(s->body, s->len, s->dedup_buf);
            s->dedup = s->dedup_buf;
        } else if (*s->dedup == '\0' || strlen(s->dedup) > 128) {
            return sqs_fail(req, SQS_E_INVALID_PARAM,
                            "MessageDeduplicationId: 1 to 128 characters");
        }
    } else {
        if (s->dedup != NULL)
            return sqs_fail(req, SQS_E_INVALID_PARAM,
                            "The request include parameter "
                            "MessageDeduplicationId that is not valid for "
                            "this queue type");
        s->group = NULL; /* SQS's fair queues: no txq meaning yet */
    }
    /* Last: what it makes is freed by the caller (send_in_free). */
    headers = json_object();
    if (headers == NULL)
        return sqs_fail(req, SQS_E_INTERNAL, "out of memory");
    if (sqs_attrs_in(req, obj, headers, s->md5_attrs, s->md5_sys, &attr_size) !=
        SQS_OK) {
        json_decref(headers);
        return req->err;
    }
    if (json_object_size(headers) > 0 &&
        (s->headers = json_dumps(headers, JSON_COMPACT)) == NULL) {
        json_decref(headers);
        return sqs_fail(req, SQS_E_INTERNAL, "out of memory");
    }
    json_decref(headers);
    /* SQS counts the attributes' names, types and values in the size;
     * the body alone is txq's max_body_bytes. */
    if ((long long)(s->len + attr_size) > q->max_body_bytes) {
        send_in_free(s);
        return sqs_fail(req, SQS_E_INVALID_PARAM,
                        "One or more parameters are invalid. Reason: "
                        "Message must be shorter than %lld bytes.",
                        q->max_body_bytes);
    }
    return SQS_OK;
}

/* A send's reply in out: MessageId (id), MD5OfMessageBody, the
 * attributes' digests when it has attributes and, on FIFO queues,
 * SequenceNumber. */
static void
send_reply(const sqs_queue *q,
           const struct send_in *s,
           const char *id,
           json_t *out)
{
    char md5[33], seq[32];

    sqs_md5_hex(s->body, s->len, md5);
    json_object_set_new(out, "MessageId", json_string(id));
    json_object_set_new(out, "MD5OfMessageBody", json_string(md5));
    if (s->md5_attrs[0])
        json_object_set_new(out, "MD5OfMessageAttributes",
                            json_string(s->md5_attrs));
    if (s->md5_sys[0])
        json_object_set_new(out, "MD5OfMessageSystemAttributes",
                            json_string(s->md5_sys));
    if (q->fifo) {
        snprintf(seq, sizeof seq, "%020lld", atoll(id));
        json_object_set_new(out, "SequenceNumber", json_string(seq));
    }
}

static const char *q_send =
    "select @s@.send($1, $2::bytea, i_delay => $3::interval,"
    " i_group => $4, i_dedup_id => $5, i_headers => $6::jsonb)";

/* Send one, in the caller's transaction, or in one of its own when
 * own_tx; fills out with MessageId, MD5OfMessageBody, the attributes'
 * digests when it has attributes and, on FIFO queues, SequenceNumber. */
static enum sqs_code
send_one(sqs_req *req,
         PGconn *pg,
         const sqs_queue *q,
         const struct send_in *s,
         json_t *out,
         int own_tx)
{
    const char *v[6] = {q->txq_name, s->body,  s->delay[0] ? s->delay : NULL,
                        s->group,    s->dedup, s->headers};
    int len[6] = {0, (int)s->len, 0, 0, 0, 0};
    int bin[6] = {0, 1, 0, 0, 0, 0};
    PGresult *r = own_tx ? sqs_tx_exec(req, pg, q_send, 6, v, len, bin)
                         : sqs_exec(req, pg, sqs_sql(q_send), 6, v, len, bin);

    if (r == NULL)
        return req->err;
    send_reply(q, s, PQgetvalue(r, 0, 0), out);
    PQclear(r);
    return SQS_OK;
}

enum sqs_code
sqs_send_message(sqs_req *req, PGconn *pg)
{
    sqs_queue q;
    struct send_in s;
    enum sqs_code rc;

    if (sqs_queue_for_messages(req, pg, &q) != SQS_OK ||
        send_check(req, &q, req->in, &s) != SQS_OK)
        return req->err;
    req->out = json_object();
    rc = req->out == NULL ? sqs_fail(req, SQS_E_INTERNAL, "out of memory")
                          : send_one(req, pg, &q, &s, req->out, 1);
    send_in_free(&s);
    return rc;
}

/* === batches === */

/* The Entries of a batch: 1 to 10, each Id [A-Za-z0-9_-]{1,80}, distinct. */
static enum sqs_code
batch_entries(sqs_req *req, json_t **entries)
{
    json_t *e = json_object_get(req->in, "Entries"), *x, *y;
    size_t i, j, n;

    if (e == NULL || !json_is_array(e) || json_array_size(e) == 0)
        return sqs_fail(req, SQS_E_EMPTY_BATCH,
                        "There should be at least one entry in the "
                        "request.");
    n = json_array_size(e);
    if (n > BATCH_MAX)
        return sqs_fail(req, SQS_E_TOO_MANY_ENTRIES,
                        "Maximum number of entries per request are %d. You "
                        "have sent %zu.",
                        BATCH_MAX, n);
    json_array_foreach(e, i, x)
    {
        const char *id = sqs_param_str(req, x, "Id");
        size_t k;

        if (id == NULL || *id == '\0' || strlen(id) > 80)
            goto bad_id;
        for (k = 0; id[k]; k++)
            if (!((id[k] >= 'a' && id[k] <= 'z') ||
                  (id[k] >= 'A' && id[k] <= 'Z') ||
                  (id[k] >= '0' && id[k] <= '9') || id[k] == '-' ||
                  id[k] == '_'))
                goto bad_id;
        for (j = 0; j < i; j++) {
            y = json_array_get(e, j);
            if (strcmp(sqs_param_str(req, y, "Id"), id) == 0)
                return sqs_fail(req, SQS_E_IDS_NOT_DISTINCT, "Id %s repeated.",
                                id);
        }
    }
    *entries = e;
    return SQS_OK;
bad_id:
    return sqs_fail(req, SQS_E_INVALID_ENTRY_ID,
                    "A batch entry id can only contain alphanumeric "
                    "characters, hyphens and underscores. It can be at most "
                    "80 letters long.");
}

/* Record entry id as failed with req's error, which is then cleared. */
static void
batch_failed(sqs_req *req, json_t *failed, const char *id)
{
    const struct sqs_code_info *ci = sqs_code_info(req->err);

    json_array_append_new(failed,
                          json_pack("{s:s,s:b,s:s,s:s}", "Id", id,
                                    "SenderFault", ci->sender, "Code",
                                    ci->query_code, "Message", req->errmsg));
    req->err = SQS_OK;
    req->errmsg[0] = '\0';
}

static int
savepoint(sqs_req *req, PGconn *pg, const char *sql)
{
    PGresult *r = sqs_exec(req, pg, sql, 0, NULL, NULL, NULL);

    PQclear(r);
    return r != NULL ? 0 : -1;
}

typedef enum sqs_code (*entry_fn)(
    sqs_req *, PGconn *, const sqs_queue *, json_t *entry, json_t *ok);

/* A batch's start: its queue, its entries (checked) and the reply with
 * its Successful and Failed lists. */
static enum sqs_code
batch_start(sqs_req *req,
            PGconn *pg,
            sqs_queue *q,
            json_t **entries,
            json_t **ok,
            json_t **failed)
{
    if (sqs_queue_for_messages(req, pg, q) != SQS_OK ||
        batch_entries(req, entries) != SQS_OK)
        return req->err;
    *ok = json_array();
    *failed = json_array();
    req->out = json_pack("{s:o,s:o}", "Successful", *ok, "Failed", *failed);
    if (req->out == NULL)
        return sqs_fail(req, SQS_E_INTERNAL, "out of memory");
    return SQS_OK;
}

/* A batch's end: SQS leaves out an empty list. */
static enum sqs_code
batch_finish(sqs_req *req)
{
    json_t *ok = json_object_get(req->out, "Successful");
    json_t *failed = json_object_get(req->out, "Failed");

    if (json_array_size(failed) == 0)
        json_object_del(req->out, "Failed");
    if (json_array_size(ok) == 0)
        json_object_del(req->out, "Successful");
    return SQS_OK;
}

static enum sqs_code batch_run(sqs_req *req, PGconn *pg, entry_fn fn);

/* A batch's one statement was refused: forget its reply and run each
 * entry on its own, so that each gets its own result. */
static enum sqs_code
batch_redo(sqs_req *req, PGconn *pg, entry_fn fn)
{
    json_decref(req->out);
    req->out = NULL;
    req->err = SQS_OK;
    req->errmsg[0] = '\0';
    return batch_run(req, pg, fn);
}

/* Run fn for each entry in one transaction, each under a savepoint: a
 * failed entry undoes only itself. */
static enum sqs_code
batch_run(sqs_req *req, PGconn *pg, entry_fn fn)
{
    json_t *entries, *e, *ok, *failed;
    sqs_queue q;
    size_t i;
    int began = 0;

    if (batch_start(req, pg, &q, &entries, &ok, &failed) != SQS_OK)
        return req->err;
    json_array_foreach(entries, i, e)
    {
        const char *id = sqs_param_str(req, e, "Id");
        json_t *res = json_pack("{s:s}", "Id", id);

        if (res == NULL)
            return sqs_fail(req, SQS_E_INTERNAL, "out of memory");
        if (!began) {
            if (sqs_tx_begin(req, pg) != 0) {
                json_decref(res);
                return req->err;
            }
            began = 1;
        }
        if (savepoint(req, pg, "savepoint entry") != 0) {
            json_decref(res);
            return req->err;
        }
        if (fn(req, pg, &q, e, res) == SQS_OK) {
            json_array_append_new(ok, res);
            if (savepoint(req, pg, "release savepoint entry") != 0)
                return req->err;
            continue;
        }
        json_decref(res);
        if (req->err == SQS_E_UNAVAILABLE || req->err == SQS_E_INTERNAL ||
            PQstatus(pg) != CONNECTION_OK) {
            sqs_tx_end(req, pg, 0);
            return req->err;
        }
        batch_failed(req, failed, id);
        if (PQtransactionStatus(pg) == PQTRANS_INERROR &&
            savepoint(req, pg, "rollback to savepoint entry") != 0)
            return req->err;
    }
    batch_finish(req);
    return sqs_tx_end(req, pg, 1) == 0 ? SQS_OK : req->err;
}

static enum sqs_code
send_entry(sqs_req *req, PGconn *pg, const sqs_queue *q, json_t *e, json_t *ok)
{
    struct send_in s;
    enum sqs_code rc;

    if (send_check(req, q, e, &s) != SQS_OK)
        return req->err;
    rc = send_one(req, pg, q, &s, ok, 0);
    send_in_free(&s);
    return rc;
}

/* One send_batch of the checked entries, in their order: the bodies as
 * a binary bytea[] ($2, as libtxq sends them: no escaping, no parsing),
 * headers (null when no entry has any), groups and dedup ids of a FIFO
 * queue, each a JSON array ($3, $5, $6); the same delay for all ($4). */
static const char *q_send_batch =
    "select @s@.send_batch($1, $2::bytea[],"
    " i_headers => case when $3::jsonb is null then null else"
    " array(select case when jsonb_typeof(h) = 'null' then null"
    " else h end from jsonb_array_elements($3::jsonb) with ordinality"
    " t(h, i) order by i) end,"
    " i_delay => $4::interval,"
    " i_groups => case when $5::jsonb is null then null else array(select g"
    " from jsonb_array_elements_text($5::jsonb) with ordinality t(g, i)"
    " order by i) end,"
    " i_dedup_ids => case when $6::jsonb is null then null else array(select"
    " d from jsonb_array_elements_text($6::jsonb) with ordinality t(d, i)"
    " order by i) end)";

static void
put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* The bodies of in[0..n) in PostgreSQL's binary array format (one
 * dimension of n bytea, lower bound 1, each element its length and
 * bytes); malloc'd, length in *len, NULL when out of memory. */
static unsigned char *
bytea_array(const struct send_in *in, size_t n, int *len)
{
    size_t total = 20, k;
    unsigned char *buf, *p;

    for (k = 0; k < n; k++)
        total += 4 + in[k].len;
    if (total > INT32_MAX || (buf = malloc(total)) == NULL)
        return NULL;
    put_be32(buf, 1);      /* dimensions */
    put_be32(buf + 4, 0);  /* no nulls */
    put_be32(buf + 8, 17); /* bytea's oid */
    put_be32(buf + 12, (uint32_t)n);
    put_be32(buf + 16, 1); /* lower bound */
    for (k = 0, p = buf + 20; k < n; k++) {
        put_be32(p, (uint32_t)in[k].len);
        memcpy(p + 4, in[k].body, in[k].len);
        p += 4 + in[k].len;
    }
    *len = (int)total;
    return buf;
}

/* Append the JSON text of v (stolen) to a; -1 when out of memory. */
static int
append(json_t *a, json_t *v)
{
    return v != NULL ? json_array_append_new(a, v) : -1;
}

/*
 * SendMessageBatch in one statement: every entry is checked first (one
 * that breaks a rule fails alone), then the others go in one send_batch,
 * which returns their ids in order: four statements for a batch instead of
 * thirty-odd (a savepoint, a send and a release per entry). When their
 * delays differ, or that statement fails (a refusal, a body the server
 * turns down), each entry is sent on its own under a savepoint
 * (batch_run), so that each gets its own result.
 */
static enum sqs_code
send_batch_once(sqs_req *req, PGconn *pg)
{
    /* The JSON arrays of the headers, groups and dedup ids; the bodies travel
     * as a binary bytea[] (bytea_array). */
    json_t *entries, *e, *ok, *failed, *arr[3] = {NULL, NULL, NULL};
    struct send_in in[BATCH_MAX];
    const char *ids[BATCH_MAX], *v[6];
    char *text[3] = {NULL, NULL, NULL};
    unsigned char *bodies = NULL;
    size_t i, k, n = 0;
    int same_delay = 1, oom = 0, fallback = 0, any_headers = 0;
    int lens[6] = {0}, bin[6] = {0, 1, 0, 0, 0, 0};
    PGresult *r = NULL;
    sqs_queue q;

    if (batch_start(req, pg, &q, &entries, &ok, &failed) != SQS_OK)
        return req->err;
    for (k = 0; k < 3; k++)
        oom |= (arr[k] = json_array()) == NULL;
    if (oom) {
        for (k = 0; k < 3; k++)
            json_decref(arr[k]);
        return sqs_fail(req, SQS_E_INTERNAL, "out of memory");
    }
    json_array_foreach(entries, i, e)
    {
        const char *eid = sqs_param_str(req, e, "Id");

        if (send_check(req, &q, e, &in[n]) != SQS_OK) {
            batch_failed(req, failed, eid);
            continue;
        }
        if (n > 0 && strcmp(in[n].delay, in[0].delay) != 0)
            same_delay = 0;
        any_headers |= in[n].headers != NULL;
        oom |= append(arr[0], in[n].headers != NULL
                                  ? json_loads(in[n].headers, 0, NULL)
                                  : json_null());
        if (q.fifo) {
            oom |= append(arr[1], json_string(in[n].group));
            oom |= append(arr[2], json_string(in[n].dedup));
        }
        ids[n++] = eid;
    }
    for (k = 0; k < 3 && !oom && n > 0; k++)
        if ((k == 0 ? any_headers : q.fifo) &&
            (text[k] = json_dumps(arr[k], JSON_COMPACT)) == NULL)
            oom = 1;
    if (n > 0 && !oom && same_delay &&
        (bodies = bytea_array(in, n, &lens[1])) == NULL)
        oom = 1;
    if (n > 0 && !oom && same_delay) {
        v[0] = q.txq_name;
        v[1] = (const char *)bodies;
        v[2] = text[0];
        v[3] = in[0].delay[0] ? in[0].delay : NULL;
        v[4] = text[1];
        v[5] = text[2];
        r = sqs_tx_exec(req, pg, q_send_batch, 6, v, lens, bin);
        if (r == NULL) {
            fallback = req->err != SQS_E_UNAVAILABLE &&
                       req->err != SQS_E_INTERNAL &&
                       PQstatus(pg) == CONNECTION_OK;
            goto out;
        }
        if (PQntuples(r) != (int)n) {
            /* send_batch returns an id per body: committed, but which? */
            wlog(WLOG_ERROR, "send_batch returned the wrong number of ids",
                 "queue=%s ids=%d bodies=%zu", q.txq_name, PQntuples(r), n);
            sqs_fail(req, SQS_E_INTERNAL, "internal error (request %s)",
                     req->request_id);
            goto out;
        }
        for (k = 0; k < n; k++) {
            json_t *res = json_pack("{s:s}", "Id", ids[k]);

            if (res == NULL) {
                oom = 1;
                break;
            }
            send_reply(&q, &in[k], PQgetvalue(r, (int)k, 0), res);
            json_array_append_new(ok, res);
        }
    } else if (n > 0) {
        fallback = !oom;
    }
out:
    PQclear(r);
    free(bodies);
    for (k = 0; k < 3; k++) {
        json_decref(arr[k]);
        free(text[k]);
    }
    for (k = 0; k < n; k++)
        send_in_free(&in[k]);
    if (fallback)
        return batch_redo(req, pg, send_entry);
    if (oom)
        return sqs_fail(req, SQS_E_INTERNAL, "out of memory");
    return req->err != SQS_OK ? req->err : batch_finish(req);
}

enum sqs_code
sqs_send_message_batch(sqs_req *req, PGconn *pg)
{
    json_t *e = json_object_get(req->in, "Entries"), *x;
    size_t i, total = 0;

    json_array_foreach(e, i, x)
    {
        const char *b = sqs_param_str(req, x, "MessageBody");

        total += (b ? strlen(b) : 0) + sqs_attrs_size(x);
    }
    if (total > BATCH_BYTES_MAX)
        return sqs_fail(req, SQS_E_BATCH_TOO_LONG,
                        "Batch requests cannot be longer than %d bytes. You "
                        "have sent %zu bytes.",
                        BATCH_BYTES_MAX, total);
    return send_batch_once(req, pg);
}

/* === acknowledging and extending === */

/* tmpl with text parameters, in the caller's transaction (a batch's, run
 * entry by entry) or, when own_tx, in one of its own. */
static PGresult *
run(sqs_req *req,
    PGconn *pg,
    const char *tmpl,
    int n,
    const char *const *v,
    int own_tx)
{
    return own_tx ? sqs_tx_exec(req, pg, tmpl, n, v, NULL, NULL)
                  : sqs_exec(req, pg, sqs_sql(tmpl), n, v, NULL, NULL);
}

static enum sqs_code
delete_run(sqs_req *req, PGconn *pg, const sqs_queue *q, json_t *obj, int own)
{
    long long id = 0, attempt = 0;
    char ids[32], att[32];
    const char *v[2] = {ids, att};
    PGresult *r;

    if (handle_read(req, q->txq_name, sqs_param_str(req, obj, "ReceiptHandle"),
                    &id, &attempt) != SQS_OK)
        return req->err;
    snprintf(ids, sizeof ids, "%lld", id);
    snprintf(att, sizeof att, "%lld", attempt);
    r = run(req, pg, "select @s@.ack(array[$1::bigint], array[$2::bigint])", 2,
            v, own);
    if (r == NULL)
        return req->err;
    /* SQS: a handle of an earlier delivery "succeeds, but the message
     * will not be deleted". txq's fence keeps the newer delivery. */
    if (strcmp(PQgetvalue(r, 0, 0), "0") == 0)
        wlog(WLOG_INFO, "stale receipt handle: nothing deleted",
             "queue=%s msg_id=%lld attempt=%lld key=%s", q->txq_name, id,
             attempt, req->key_id);
    /* Counted only when the request succeeds, i.e. after its commit. */
    req->deleted += atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    return SQS_OK;
}

static enum sqs_code
delete_one(
    sqs_req *req, PGconn *pg, const sqs_queue *q, json_t *obj, json_t *ok)
{
    (void)ok;
    return delete_run(req, pg, q, obj, 0);
}

enum sqs_code
sqs_delete_message(sqs_req *req, PGconn *pg)
{
    sqs_queue q;

    if (sqs_queue_for_messages(req, pg, &q) != SQS_OK ||
        delete_run(req, pg, &q, req->in, 1) != SQS_OK)
        return req->err;
    req->out = json_object();
    return SQS_OK;
}

/*
 * DeleteMessageBatch in one statement: the handles are read first (one
 * that does not verify fails alone, ReceiptHandleIsInvalid), then one ack
 * of all the others, in one transaction. Should the ack fail, each entry
 * is deleted again on its own (batch_run) so that each gets its own error;
 * a batch costs four statements instead of thirty-odd (a savepoint, an
 * ack and a release per entry).
 */
enum sqs_code
sqs_delete_message_batch(sqs_req *req, PGconn *pg)
{
    json_t *entries, *e, *ok, *failed;
    sqs_queue q;
    char ids[BATCH_MAX * 21 + 3], atts[BATCH_MAX * 21 + 3];
    const char *v[2] = {ids, atts};
    size_t i, n = 0, ip = 0, ap = 0;
    long long id, attempt, acked;
    PGresult *r;

    if (batch_start(req, pg, &q, &entries, &ok, &failed) != SQS_OK)
        return req->err;
    json_array_foreach(entries, i, e)
    {
        const char *eid = sqs_param_str(req, e, "Id");

        if (handle_read(req, q.txq_name, sqs_param_str(req, e, "ReceiptHandle"),
                        &id, &attempt) != SQS_OK) {
            batch_failed(req, failed, eid);
            continue;
        }
        ip += (size_t)snprintf(ids + ip, sizeof ids - ip, "%s%lld",
                               n ? "," : "{", id);
        ap += (size_t)snprintf(atts + ap, sizeof atts - ap, "%s%lld",
                               n ? "," : "{", attempt);
        n++;
        json_array_append_new(ok, json_pack("{s:s}", "Id", eid));
    }
    if (n > 0) {
        snprintf(ids + ip, sizeof ids - ip, "}");
        snprintf(atts + ap, sizeof atts - ap, "}");
        r = sqs_tx_exec(req, pg, "select @s@.ack($1::bigint[], $2::bigint[])",
                        2, v, NULL, NULL);
        if (r == NULL) {
            if (req->err == SQS_E_UNAVAILABLE || req->err == SQS_E_INTERNAL ||
                PQstatus(pg) != CONNECTION_OK)
                return req->err;
            return batch_redo(req, pg, delete_one);
        }
        acked = atoll(PQgetvalue(r, 0, 0));
        req->deleted += acked;
        PQclear(r);
        /* SQS: a handle of an earlier delivery "succeeds, but the message
         * will not be deleted". txq's fence keeps the newer delivery. */
        if (acked < (long long)n)
            wlog(WLOG_INFO, "stale receipt handles: nothing deleted",
                 "queue=%s handles=%lld key=%s", q.txq_name,
                 (long long)n - acked, req->key_id);
    }
    return batch_finish(req);
}

static enum sqs_code
visibility_one(
    sqs_req *req, PGconn *pg, const sqs_queue *q, json_t *obj, json_t *ok)
{
    long long id = 0, attempt = 0, vt = 0;
    char ids[32], att[32], vts[32];
    const char *v[3] = {ids, vts, att};
    PGresult *r;
    int has;

    (void)ok;
    if (handle_read(req, q->txq_name, sqs_param_str(req, obj, "ReceiptHandle"),
                    &id, &attempt) != SQS_OK)
        return req->err;
    has = sqs_param_int(req, obj, "VisibilityTimeout", 0, 43200, &vt);
    if (has < 0)
        return req->err;
    if (has == 0)
        return sqs_fail(req, SQS_E_MISSING_PARAM,
                        "The request must contain the parameter "
                        "VisibilityTimeout.");
    snprintf(ids, sizeof ids, "%lld", id);
    snprintf(att, sizeof att, "%lld", attempt);
    snprintf(vts, sizeof vts, "%lld", vt);
    r = sqs_exec(req, pg,
                 sqs_sql("select @s@.set_visibility($1::bigint,"
                         " make_interval(secs => $2::float8), $3::bigint)"),
                 3, v, NULL, NULL);
    if (r == NULL)
        return req->err;
    PQclear(r);
    return SQS_OK;
}

enum sqs_code
sqs_change_visibility(sqs_req *req, PGconn *pg)
{
    sqs_queue q;

    if (sqs_queue_for_messages(req, pg, &q) != SQS_OK)
        return req->err;
    if (sqs_tx_begin(req, pg) != 0)
        return req->err;
    if (visibility_one(req, pg, &q, req->in, NULL) != SQS_OK) {
        sqs_tx_end(req, pg, 0);
        return req->err;
    }
    if (sqs_tx_end(req, pg, 1) != 0)
        return req->err;
    req->out = json_object();
    return SQS_OK;
}

enum sqs_code
sqs_change_visibility_batch(sqs_req *req, PGconn *pg)
{
    return batch_run(req, pg, visibility_one);
}
