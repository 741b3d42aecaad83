/*
 * bench_handler.c - so: handlers for W3w, the worker with a handler that
 * writes (bench/run.sh), built as bench/txq_bench_handler.so. Each inserts
 * the message's id and body into public.w3w_done, as the ideal's consume
 * statement does:
 *
 *   bench_write      a blocking PQexecParams: the handler a user writes
 *                    first (one round trip of its own per message)
 *   bench_write_pipe the same INSERT queued in pipeline mode and left
 *                    unsynced: the consumer sends it with the ack and
 *                    COMMIT in one round trip (docs: pipelined handlers)
 *   bench_write_prep bench_write_pipe with the INSERT prepared once per
 *                    connection (parsed and planned once, as a plpgsql
 *                    function's statements are), the handler written for
 *                    speed
 */
#include <stdio.h>

#include "txq.h"

txq_handler_result
bench_write(PGconn *pg, const txq_msg *m, void *arg, char *err, size_t errsize);
txq_handler_result bench_write_pipe(
    PGconn *pg, const txq_msg *m, void *arg, char *err, size_t errsize);
txq_handler_result bench_write_prep(
    PGconn *pg, const txq_msg *m, void *arg, char *err, size_t errsize);

static const char INSERT_DONE[] =
    "insert into public.w3w_done (id, body) values ($1, $2)";

/* The two parameters of INSERT_DONE: the id as text, the body as bytes. */
static void
params(
    const txq_msg *m, char *id, size_t idsize, const char *vals[2], int lens[2])
{
    size_t len = 0;

    snprintf(id, idsize, "%lld", (long long)txq_msg_id(m));
    vals[0] = id;
    lens[0] = 0;
    vals[1] = txq_msg_body(m, &len);
    lens[1] = (int)len;
}

txq_handler_result
bench_write(PGconn *pg, const txq_msg *m, void *arg, char *err, size_t errsize)
{
    static const int fmts[2] = {0, 1};
    const char *vals[2];
    int lens[2];
    char id[32];
    PGresult *r;
    txq_handler_result res = TXQ_HANDLER_OK;

    (void)arg;
    params(m, id, sizeof id, vals, lens);
    r = PQexecParams(pg, INSERT_DONE, 2, NULL, vals, lens, fmts, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        snprintf(err, errsize, "insert: %s", PQresultErrorMessage(r));
        res = TXQ_HANDLER_RETRY;
    }
    PQclear(r);
    return res;
}

txq_handler_result
bench_write_pipe(
    PGconn *pg, const txq_msg *m, void *arg, char *err, size_t errsize)
{
    static const int fmts[2] = {0, 1};
    const char *vals[2];
    int lens[2];
    char id[32];

    (void)arg;
    params(m, id, sizeof id, vals, lens);
    if ((PQpipelineStatus(pg) == PQ_PIPELINE_OFF && !PQenterPipelineMode(pg)) ||
        !PQsendQueryParams(pg, INSERT_DONE, 2, NULL, vals, lens, fmts, 0)) {
        snprintf(err, errsize, "insert: %s", PQerrorMessage(pg));
        return TXQ_HANDLER_RETRY;
    }
    return TXQ_HANDLER_OK;
}

/* The connection (and its backend, should a new connection get the same
 * address) bench_write_prep prepared INSERT_DONE on: a worker child keeps
 * one connection, and makes a new one only after losing it. */
static const PGconn *prepared_conn;
static int prepared_pid;

txq_handler_result
bench_write_prep(
    PGconn *pg, const txq_msg *m, void *arg, char *err, size_t errsize)
{
    static const int fmts[2] = {0, 1};
    static const Oid types[2] = {20, 17}; /* bigint, bytea */
    const char *vals[2];
    int lens[2];
    char id[32];

    (void)arg;
    if (prepared_conn != pg || prepared_pid != PQbackendPID(pg)) {
        /* Not transactional: it outlives this transaction's rollback. */
        PGresult *r = PQprepare(pg, "bench_write_done", INSERT_DONE, 2, types);
        int ok = PQresultStatus(r) == PGRES_COMMAND_OK;

        if (!ok)
            snprintf(err, errsize, "prepare: %s", PQresultErrorMessage(r));
        PQclear(r);
        if (!ok)
            return TXQ_HANDLER_RETRY;
        prepared_conn = pg;
        prepared_pid = PQbackendPID(pg);
    }
    params(m, id, sizeof id, vals, lens);
    if ((PQpipelineStatus(pg) == PQ_PIPELINE_OFF && !PQenterPipelineMode(pg)) ||
        !PQsendQueryPrepared(pg, "bench_write_done", 2, vals, lens, fmts, 0)) {
        snprintf(err, errsize, "insert: %s", PQerrorMessage(pg));
        return TXQ_HANDLER_RETRY;
    }
    return TXQ_HANDLER_OK;
}
