/*
 * client.c - the client handle: its schema, the SQL texts built for that
 * schema, the checks every call makes on entry, what it knows of each
 * connection it was used on (a small LRU table) and the schema version
 * check done once per connection.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "txq_int.h"

const struct txq__stmt txq__statements[] = {
#define TXQ__STMT_ROW(name, hot) {#name, TXQ__SQL_##name, hot},
    TXQ__STATEMENTS(TXQ__STMT_ROW)
#undef TXQ__STMT_ROW
};

_Static_assert(sizeof txq__statements / sizeof txq__statements[0] ==
                   TXQ__Q_COUNT,
               "one row of txq__statements per enum txq__q");
_Static_assert(TXQ__Q_COUNT <= 64,
               "txq_client.prepared is a 64-bit set of statements");

#define PLACEHOLDER "@extschema@"

char *
txq__splice_schema(const char *text, const char *ident)
{
    size_t plen = strlen(PLACEHOLDER);
    size_t ilen = strlen(ident);
    size_t count = 0;
    size_t len;
    const char *p;
    char *out;
    char *o;

    for (p = strstr(text, PLACEHOLDER); p != NULL;
         p = strstr(p + plen, PLACEHOLDER))
        count++;
    len = strlen(text);
    /* The identifier (at most 65 bytes) is never much longer than the
     * placeholder, so this cannot overflow for texts that fit in memory. */
    out = malloc(len + count * ilen + 1);
    if (out == NULL)
        return NULL;
    o = out;
    for (p = text;;) {
        const char *hit = strstr(p, PLACEHOLDER);
        size_t n = hit != NULL ? (size_t)(hit - p) : strlen(p);
        memcpy(o, p, n);
        o += n;
        if (hit == NULL)
            break;
        memcpy(o, ident, ilen);
        o += ilen;
        p = hit + plen;
    }
    *o = '\0';
    return out;
}

txq_client *
txq_client_new(const txq_options *opts)
{
    txq_client *c = calloc(1, sizeof *c);
    const char *schema;
    txq_options o;

    if (c == NULL)
        return NULL;
    if (txq__opts_copy(&o, sizeof o, TXQ__MIN_txq_options, opts, "txq_options",
                       c->errmsg, sizeof c->errmsg) != 0) {
        /* Reported by the first call (txq__enter). */
        snprintf(c->opts_err, sizeof c->opts_err, "%s", c->errmsg);
        c->errmsg[0] = '\0';
        return c;
    }
    schema = o.schema != NULL ? o.schema : "txq";
    if (!txq_schema_name_valid(schema)) {
        /* Reported by the first call (txq__enter). */
        txq__show(c->schema, sizeof c->schema, schema);
        return c;
    }
    snprintf(c->schema, sizeof c->schema, "%s", schema);
    /* Valid names need no doubling of quotes: just wrap them. */
    snprintf(c->qschema, sizeof c->qschema, "\"%s\"", schema);
    for (int i = 0; i < TXQ__Q_COUNT; i++) {
        c->sql[i] = txq__splice_schema(txq__statements[i].text, c->qschema);
        if (c->sql[i] == NULL) {
            txq_client_free(c);
            return NULL;
        }
        txq__stmt_name(c->stmt[i], sizeof c->stmt[i], c->sql[i],
                       txq__statements[i].name);
    }
    c->schema_ok = 1;
    return c;
}

void
txq_client_free(txq_client *c)
{
    if (c == NULL)
        return;
    for (int i = 0; i < TXQ__Q_COUNT; i++)
        free(c->sql[i]);
    free(c);
}

txq_err
txq__enter(txq_client *c, PGconn *pg)
{
    txq__clear_error(c);
    if (c->opts_err[0] != '\0')
        return txq__set_error(c, TXQ_EINVAL, "%s", c->opts_err);
    if (!c->schema_ok)
        return txq__set_error(c, TXQ_EINVAL,
                              "invalid schema name \"%s\" in txq_options: "
                              "use 1 to 63 characters a-z, 0-9 and _, not "
                              "starting with a digit",
                              c->schema);
    if (pg == NULL)
        return txq__set_error(c, TXQ_EINVAL, "pg is NULL");
    if (c->pending != 0)
        return txq__set_error(c, TXQ_ESTATE,
                              "a txq_%s_start is waiting for its "
                              "txq_%s_finish: finish it first",
                              txq__pending_kind(c), txq__pending_kind(c));
    if (PQstatus(pg) != CONNECTION_OK)
        return txq__set_pg_error(c, pg, NULL);
    return TXQ_OK;
}

struct txq__conn *
txq__conn_find(const txq_client *c, const PGconn *pg)
{
    int pid = PQbackendPID(pg);

    if (c->cur != NULL && c->cur->pg == pg && c->cur->pid == pid)
        return c->cur;
    for (int i = 0; i < TXQ__CONNS; i++) {
        if (c->conns[i].pg == pg && c->conns[i].pid == pid)
            return (struct txq__conn *)(uintptr_t)&c->conns[i];
    }
    return NULL;
}

struct txq__conn *
txq__conn_get(txq_client *c, const PGconn *pg)
{
    struct txq__conn *e = txq__conn_find(c, pg);

    if (e == NULL) {
        /* pg's old entry (another backend since), else a free one, else
         * the least recently used. */
        e = &c->conns[0];
        for (int i = 0; i < TXQ__CONNS; i++) {
            struct txq__conn *x = &c->conns[i];

            if (x->pg == pg) {
                e = x;
                break;
            }
            if (x->used < e->used)
                e = x; /* a free entry's is 0 */
        }
        if (e == c->cur)
            c->cur = NULL;
        memset(e, 0, sizeof *e);
        e->pg = pg;
        e->pid = PQbackendPID(pg);
    }
    e->used = ++c->tick;
    return e;
}

void
txq__conns_unchecked(txq_client *c)
{
    for (int i = 0; i < TXQ__CONNS; i++)
        c->conns[i].checked = 0;
}

int
txq__pooled(const txq_client *c, const PGconn *pg)
{
    const struct txq__conn *e;

    switch (c->pooler) {
    case TXQ_POOLER_NONE:
        return 0;
    case TXQ_POOLER_TRANSACTION:
        return 1;
    default:
        /* Not checked yet on this connection: assume the worst, which
         * costs speed, never safety. */
        e = txq__conn_find(c, pg);
        return e == NULL || !e->checked || e->pooler_seen;
    }
}

enum txq__q
txq__variant(const txq_client *c, const PGconn *pg, enum txq__q q)
{
    if (!txq__pooled(c, pg))
        return q;
    switch (q) {
    case TXQ__Q_RECEIVE:
        return TXQ__Q_RECEIVE_POOLED;
    case TXQ__Q_ACK_RECEIVE:
        return TXQ__Q_ACK_RECEIVE_POOLED;
    case TXQ__Q_SET_VISIBILITY:
        return TXQ__Q_SET_VISIBILITY_POOLED;
    default:
        return q;
    }
}

txq_err
txq_client_set_pooler(txq_client *c, int mode)
{
    if (c == NULL)
        return TXQ_EINVAL;
    txq__clear_error(c);
    if (mode != TXQ_POOLER_AUTO && mode != TXQ_POOLER_NONE &&
        mode != TXQ_POOLER_TRANSACTION)
        return txq__set_error(c, TXQ_EINVAL, "unknown pooler mode %d", mode);
    if (c->pending != 0)
        return txq__set_error(c, TXQ_ESTATE,
                              "a txq_%s_start is waiting for its "
                              "txq_%s_finish: finish it first",
                              txq__pending_kind(c), txq__pending_kind(c));
    c->pooler = mode;
    return TXQ_OK;
}

txq_err
txq_pooled(txq_client *c, PGconn *pg, int *pooled)
{
    txq_err rc;

    if (pooled != NULL)
        *pooled = 0;
    if (c == NULL)
        return TXQ_EINVAL;
    if ((rc = txq__enter(c, pg)) || (rc = txq__ensure_schema(c, pg, 0)))
        return rc;
    if (pooled != NULL)
        *pooled = txq__pooled(c, pg);
    return TXQ_OK;
}

/* Does the probe result say the schema (s), its table (t), its function
 * (f) exist? Returns: TXQ_OK or the error set. */
static txq_err
probe(txq_client *c, PGconn *pg, int *s, int *t, int *f)
{
    struct txq__params p;
    PGresult *r = NULL;
    txq_err rc;

    txq__params_init(&p);
    txq__param_text(&p, c->qschema);
    rc = txq__query(c, pg, TXQ__Q_SCHEMA_PROBE, &p, 0, &r);
    if (rc != TXQ_OK)
        goto out;
    if (PQntuples(r) != 1 || PQnfields(r) != 3) {
        rc = txq__set_error(c, TXQ_EDB, "unexpected schema probe result");
        goto out;
    }
    *s = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    *t = strcmp(PQgetvalue(r, 0, 1), "t") == 0;
    *f = strcmp(PQgetvalue(r, 0, 2), "t") == 0;
out:
    PQclear(r);
    return rc;
}

txq_err
txq__ensure_schema(txq_client *c, PGconn *pg, int force)
{
    char buf[32];
    int64_t version = 0;
    int have_schema = 0, have_table = 0, have_fn = 0, isnull = 1;
    int send_direct, pop_direct, server_pid;
    struct txq__conn *e = txq__conn_get(c, pg);
    PGresult *r = NULL;
    txq_err rc;

    c->cur = e;
    if (!force && e->checked)
        return TXQ_OK;
    e->checked = 0;
    /* Probe first: a failing statement would abort the caller's
     * transaction. */
    rc = probe(c, pg, &have_schema, &have_table, &have_fn);
    if (rc != TXQ_OK)
        return rc;
    if (!have_schema || !have_table)
        return txq__set_error(c, TXQ_ESCHEMA,
                              "txq schema \"%s\" not found: run txq migrate",
                              c->schema);
    if (!have_fn)
        return txq__set_error(c, TXQ_ESCHEMA,
                              "txq schema \"%s\" is incomplete (no "
                              "schema_version()): run txq migrate",
                              c->schema);
    rc = txq__query(c, pg, TXQ__Q_SCHEMA_VERSION, NULL, 0, &r);
    if (rc != TXQ_OK)
        return rc;
    if (PQntuples(r) != 1 || PQnfields(r) != 4) {
        PQclear(r);
        return txq__set_error(c, TXQ_EDB, "unexpected schema version result");
    }
    isnull = PQgetisnull(r, 0, 0);
    snprintf(buf, sizeof buf, "%s", PQgetvalue(r, 0, 0));
    send_direct = strcmp(PQgetvalue(r, 0, 1), "t") == 0;
    pop_direct = strcmp(PQgetvalue(r, 0, 2), "t") == 0;
    server_pid = atoi(PQgetvalue(r, 0, 3));
    PQclear(r);
    if (!isnull && !txq__parse_int64(buf, &version))
        return txq__set_error(c, TXQ_EDB, "unexpected schema version \"%s\"",
                              buf);
    if (isnull || version != TXQ_SCHEMA_VERSION)
        return txq__set_error(c, TXQ_ESCHEMA,
                              "txq schema \"%s\" is at version %" PRId64
                              ", this library needs version %d: %s",
                              c->schema, version, TXQ_SCHEMA_VERSION,
                              version < TXQ_SCHEMA_VERSION ? "run txq migrate"
                                                           : "upgrade libtxq");
    e->checked = 1;
    e->send_direct = send_direct;
    e->pop_direct = pop_direct;
    /* A pooler gives its clients a cancel key of its own: the pid libpq
     * got at connection start is not the backend's that runs the
     * statements. Directly (or through a plain TCP proxy) they are one. */
    e->pooler_seen = server_pid != e->pid;
    return TXQ_OK;
}

txq_err
txq_schema_check(txq_client *c, PGconn *pg)
{
    txq_err rc;

    if (c == NULL)
        return TXQ_EINVAL;
    rc = txq__enter(c, pg);
    if (rc != TXQ_OK)
        return rc;
    return txq__ensure_schema(c, pg, 1);
}
