/*
 * msg.c - received messages: decoding a binary receive row into one
 * allocation per message (a sealed body opened in place, seal.c), the
 * accessors, and freeing.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "txq_int.h"

/* Column order of TXQ__SQL_RECEIVE and the type each must have. */
enum {
    COL_ID,
    COL_QUEUE,
    COL_ATTEMPTS,
    COL_HEADERS,
    COL_BODY,
    COL_CORRELATION_ID,
    COL_REPLY_TO,
    COL_PRIORITY,
    COL_GROUP,
    COL_ENQUEUED_AT,
    COL_VISIBLE_UNTIL,
    COL_SEALED,
    N_COLS
};

#define OID_BOOL  16
#define OID_BYTEA 17
#define OID_INT8  20
#define OID_INT4  23
#define OID_TEXT  25
#define OID_TSTZ  1184

static const Oid col_types[N_COLS] = {
    OID_INT8, OID_TEXT, OID_INT4, OID_TEXT, OID_BYTEA, OID_TEXT,
    OID_TEXT, OID_INT4, OID_TEXT, OID_TSTZ, OID_TSTZ,  OID_BOOL,
};

txq_err
txq__check_msg_result(txq_client *c, const PGresult *res)
{
    if (PQnfields(res) != N_COLS)
        return txq__set_error(c, TXQ_EDB,
                              "unexpected receive result: %d columns",
                              PQnfields(res));
    for (int i = 0; i < N_COLS; i++) {
        if (PQftype(res, i) != col_types[i] || PQfformat(res, i) != 1)
            return txq__set_error(c, TXQ_EDB,
                                  "unexpected receive result: column %d "
                                  "has type %u",
                                  i + 1, (unsigned int)PQftype(res, i));
    }
    return TXQ_OK;
}

static uint64_t
get_be(const char *p, int n)
{
    uint64_t v = 0;

    for (int i = 0; i < n; i++)
        v = (v << 8) | (unsigned char)p[i];
    return v;
}

/* A fixed-width binary column: 0 when it is NULL or has another width. */
static int
fixed(const PGresult *res, int row, int col, int width, uint64_t *v)
{
    if (PQgetisnull(res, row, col) || PQgetlength(res, row, col) != width)
        return 0;
    *v = get_be(PQgetvalue(res, row, col), width);
    return 1;
}

/* Bytes a text column needs in the message block (0 for NULL). */
static size_t
text_size(const PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col))
        return 0;
    return (size_t)PQgetlength(res, row, col) + 1;
}

/* Copy a text column to *pos, NUL-terminated; NULL stays NULL. */
static const char *
put_text(const PGresult *res, int row, int col, char **pos)
{
    char *s = *pos;
    size_t len;

    if (PQgetisnull(res, row, col))
        return NULL;
    len = (size_t)PQgetlength(res, row, col);
    memcpy(s, PQgetvalue(res, row, col), len);
    s[len] = '\0';
    *pos += len + 1;
    return s;
}

/*
 * A binary timestamptz (microseconds since 2000-01-01 00:00 UTC; the
 * extreme values are -infinity and infinity) as seconds since the Unix
 * epoch.
 */
static double
epoch_secs(uint64_t bits)
{
    int64_t us = (int64_t)bits;

    if (us == INT64_MAX)
        return INFINITY;
    if (us == INT64_MIN)
        return -INFINITY;
    return (double)(us / 1000000) + 946684800.0 + (double)(us % 1000000) / 1e6;
}

txq_err
txq__msg_from_row(txq_client *c, const PGresult *res, int row, txq_msg **out)
{
    static const int text_cols[] = {COL_QUEUE, COL_HEADERS, COL_CORRELATION_ID,
                                    COL_REPLY_TO, COL_GROUP};
    uint64_t id, attempts, priority, enq, vis;
    size_t size = sizeof(txq_msg);
    size_t body_len;
    txq_msg *m;
    char *pos;

    *out = NULL;
    if (!fixed(res, row, COL_ID, 8, &id) ||
        !fixed(res, row, COL_ATTEMPTS, 4, &attempts) ||
        !fixed(res, row, COL_PRIORITY, 4, &priority) ||
        !fixed(res, row, COL_ENQUEUED_AT, 8, &enq) ||
        !fixed(res, row, COL_VISIBLE_UNTIL, 8, &vis) ||
        PQgetisnull(res, row, COL_QUEUE) ||
        PQgetisnull(res, row, COL_HEADERS) || PQgetisnull(res, row, COL_BODY))
        return txq__set_error(c, TXQ_EDB, "unexpected receive result: row %d",
                              row + 1);
    body_len = (size_t)PQgetlength(res, row, COL_BODY);
    size += body_len + 1;
    for (size_t i = 0; i < sizeof text_cols / sizeof text_cols[0]; i++)
        size += text_size(res, row, text_cols[i]);

    m = malloc(size);
    if (m == NULL)
        return txq__set_error(c, TXQ_ENOMEM,
                              "out of memory for a message of %zu bytes",
                              body_len);
    m->id = (int64_t)id;
    m->attempts = (int)(int32_t)(uint32_t)attempts;
    m->priority = (int)(int32_t)(uint32_t)priority;
    m->enqueued_at = epoch_secs(enq);
    m->visible_until = epoch_secs(vis);
    m->body_len = body_len;
    m->open_err = TXQ__OPEN_OK;
    pos = (char *)(m + 1);
    m->body = pos;
    memcpy(pos, PQgetvalue(res, row, COL_BODY), body_len);
    pos[body_len] = '\0';
    pos += body_len + 1;
    m->queue = put_text(res, row, COL_QUEUE, &pos);
    m->headers = put_text(res, row, COL_HEADERS, &pos);
    m->correlation_id = put_text(res, row, COL_CORRELATION_ID, &pos);
    m->reply_to = put_text(res, row, COL_REPLY_TO, &pos);
    m->group = put_text(res, row, COL_GROUP, &pos);
    *out = m;
    /* The queue is encrypted (NULL: it is gone; nothing to open). */
    if (!PQgetisnull(res, row, COL_SEALED) &&
        PQgetlength(res, row, COL_SEALED) == 1 &&
        PQgetvalue(res, row, COL_SEALED)[0] != 0)
        return txq__open_msg(c, m);
    return TXQ_OK;
}

int64_t
txq_msg_id(const txq_msg *m)
{
    return m != NULL ? m->id : 0;
}

const char *
txq_msg_queue(const txq_msg *m)
{
    return m != NULL ? m->queue : NULL;
}

int
txq_msg_attempt(const txq_msg *m)
{
    return m != NULL ? m->attempts : 0;
}

const void *
txq_msg_body(const txq_msg *m, size_t *len)
{
    if (len != NULL)
        *len = m != NULL ? m->body_len : 0;
    return m != NULL && m->open_err == TXQ__OPEN_OK ? m->body : NULL;
}

const char *
txq_msg_headers(const txq_msg *m)
{
    return m != NULL ? m->headers : NULL;
}

const char *
txq_msg_correlation_id(const txq_msg *m)
{
    return m != NULL ? m->correlation_id : NULL;
}

const char *
txq_msg_reply_to(const txq_msg *m)
{
    return m != NULL ? m->reply_to : NULL;
}

const char *
txq_msg_group(const txq_msg *m)
{
    return m != NULL ? m->group : NULL;
}

int
txq_msg_priority(const txq_msg *m)
{
    return m != NULL ? m->priority : 0;
}

double
txq_msg_enqueued_at(const txq_msg *m)
{
    return m != NULL ? m->enqueued_at : 0;
}

double
txq_msg_visible_until(const txq_msg *m)
{
    return m != NULL ? m->visible_until : 0;
}

void
txq_msg_free(txq_msg *m)
{
    free(m);
}

void
txq_msgs_free(txq_msg **msgs, size_t n)
{
    if (msgs == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        txq_msg_free(msgs[i]);
    free(msgs);
}
