/*
 * async.c - txq-bench's driver for one process serving several
 * connections (-j), the shape of pgbench's threads: each connection is a
 * small state machine (send, send_batch: start, finish; pop: BEGIN,
 * start, finish,
 * then COMMIT with the next BEGIN in one round trip), and one poll()
 * waits on every socket with a command out.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"

#define MAX_CONNS 64

#define MAX_BATCH 100

enum step { S_IDLE, S_BEGIN, S_TXQ, S_COMMIT, S_DONE };

/* A batch's bodies: the payload MAX_BATCH times (set by bench_async). */
static const void *bodies[MAX_BATCH];
static size_t lens[MAX_BATCH];

struct conn {
    PGconn *pg;
    txq_client *c;
    enum step step;
    int64_t left; /* send: messages still to send */
    size_t sent;  /* send: messages of the statement out */
    int empty;    /* pop: the last pop found nothing */
};

/* Sends a command of its own (BEGIN, COMMIT). Returns 0 or -1. */
static int
send_cmd(struct conn *k, const char *sql, enum step next)
{
    if (!PQsendQuery(k->pg, sql)) {
        fprintf(stderr, "txq-bench: %s: %s", sql, PQerrorMessage(k->pg));
        return -1;
    }
    k->step = next;
    return 0;
}

/* Reads the answer to BEGIN or COMMIT. Returns 0 or -1. */
static int
read_cmd(struct conn *k)
{
    PGresult *r;
    int ok = 1, got = 0;

    while ((r = PQgetResult(k->pg)) != NULL) {
        ok = ok && PQresultStatus(r) == PGRES_COMMAND_OK;
        got++;
        PQclear(r);
    }
    ok = ok && got > 0;
    if (!ok)
        fprintf(stderr, "txq-bench: command failed: %s", PQerrorMessage(k->pg));
    return ok ? 0 : -1;
}

/* Starts k's next step. Returns 0 or -1. */
static int
next(struct conn *k, int pop, size_t max)
{
    txq_err rc;

    if (!pop) {
        if (k->left == 0) {
            k->step = S_DONE;
            return 0;
        }
        k->sent = (size_t)k->left < max ? (size_t)k->left : max;
        if (max == 1)
            rc = txq_send_start(k->c, k->pg, bench_queue, bench_payload,
                                bench_payload_len, NULL);
        else
            rc = txq_send_batch_start(k->c, k->pg, bench_queue, bodies, lens,
                                      k->sent, NULL);
        if (rc != TXQ_OK)
            return bench_failed(
                k->c, max == 1 ? "txq_send_start" : "txq_send_batch_start", rc);
        k->step = S_TXQ;
        return 0;
    }
    switch (k->step) {
    case S_IDLE:
        return send_cmd(k, "BEGIN", S_BEGIN);
    case S_BEGIN:
        rc = txq_pop_start(k->c, k->pg, bench_queue, max);
        if (rc != TXQ_OK)
            return bench_failed(k->c, "txq_pop_start", rc);
        k->step = S_TXQ;
        return 0;
    case S_TXQ:
        /* The next transaction's BEGIN rides with this COMMIT: one round
         * trip (simple protocol, two statements). */
        return k->empty ? send_cmd(k, "COMMIT", S_COMMIT)
                        : send_cmd(k, "COMMIT; BEGIN", S_BEGIN);
    case S_COMMIT:
        k->step = S_DONE;
        return 0;
    default:
        return -1;
    }
}

/* k's answer is in: read it and start the next step. Returns 0 or -1. */
static int
answered(struct conn *k, int pop, size_t max, int64_t *done)
{
    txq_msg **m = NULL;
    size_t n = 0;
    txq_err rc;

    if (k->step == S_BEGIN || k->step == S_COMMIT) {
        if (read_cmd(k) != 0)
            return -1;
    } else if (!pop) {
        rc = max == 1 ? txq_send_finish(k->c, k->pg, NULL)
                      : txq_send_batch_finish(k->c, k->pg, NULL);
        if (rc != TXQ_OK)
            return bench_failed(
                k->c, max == 1 ? "txq_send_finish" : "txq_send_batch_finish",
                rc);
        k->left -= (int64_t)k->sent;
        *done += (int64_t)k->sent;
    } else {
        rc = txq_pop_finish(k->c, k->pg, &m, &n);
        if (rc != TXQ_OK && rc != TXQ_EMPTY)
            return bench_failed(k->c, "txq_pop_finish", rc);
        k->empty = rc == TXQ_EMPTY;
        *done += (int64_t)n;
        txq_msgs_free(m, n);
    }
    return next(k, pop, max);
}

int
bench_async(PGconn **pg,
            txq_client **c,
            int nk,
            int pop,
            size_t max,
            int64_t n,
            int64_t *done)
{
    struct conn k[MAX_CONNS];
    struct pollfd p[MAX_CONNS];
    int i, active = nk;

    if (nk < 1 || nk > MAX_CONNS || max < 1 || max > MAX_BATCH)
        return -1;
    for (i = 0; i < MAX_BATCH; i++) {
        bodies[i] = bench_payload;
        lens[i] = bench_payload_len;
    }
    for (i = 0; i < nk; i++) {
        k[i] = (struct conn){.pg = pg[i], .c = c[i], .step = S_IDLE};
        k[i].left = n / nk + (i < n % nk ? 1 : 0);
        if (next(&k[i], pop, max) != 0)
            return -1;
        if (k[i].step == S_DONE)
            active--;
    }
    while (active > 0) {
        for (i = 0; i < nk; i++)
            p[i] = (struct pollfd){
                .fd = k[i].step == S_DONE ? -1 : PQsocket(k[i].pg),
                .events = POLLIN};
        if (poll(p, (nfds_t)nk, -1) < 0) {
            if (errno == EINTR)
                continue;
            perror("txq-bench: poll");
            return -1;
        }
        for (i = 0; i < nk; i++) {
            if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            if (!PQconsumeInput(k[i].pg)) {
                fprintf(stderr, "txq-bench: %s", PQerrorMessage(k[i].pg));
                return -1;
            }
            if (PQisBusy(k[i].pg))
                continue;
            if (answered(&k[i], pop, max, done) != 0)
                return -1;
            if (k[i].step == S_DONE)
                active--;
        }
    }
    return 0;
}
