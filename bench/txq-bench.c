/*
 * txq-bench.c - the C driver of bench/run.sh: runs one txq workload with
 * CLIENTS forked processes, each on its own connection, through libtxq.
 *
 *   txq-bench [-b BATCH] [-c CLIENTS] [-j PROCS] [-q QUEUE] [-d DSN]
 *             [-s SCHEMA] [-w] COMMAND [N]
 *
 *   -b BATCH          the batch of send100, recv100, claim100 and pop100
 *                     (1-100, default 100; bench/sqs.sh uses 10)
 *   -j PROCS          send1, send100, pop1 and pop100 only: the CLIENTS
 *                     connections shared by PROCS processes, each serving
 *                     its own through txq_send_start/finish,
 *                     txq_send_batch_start/finish or BEGIN,
 *                     txq_pop_start/finish, COMMIT (bench/async.c), as
 *                     pgbench -j serves its clients from PROCS threads;
 *                     default: a process per connection, blocking calls
 *
 *   -s SCHEMA         the txq schema (default txq); tests/test_bench_smoke.c
 *                     runs the commands against its own
 *
 *   -w                during a send: a session waits on the queue like an
 *                     idle consumer that never finds work (LISTEN, and
 *                     wait_begin again after every wake-up), so sends
 *                     NOTIFY; prints wakes=W, the notifications it got
 *   setup             txq_migrate, then drop (force) and create the queue
 *   send1 N           N messages, one txq_send per transaction (autocommit)
 *   send100 N         N messages, txq_send_batch of 100 per transaction
 *   recv1 N           drain N: BEGIN, txq_receive 1, txq_ack, COMMIT
 *   claim1 N          drain N: txq_claim 1 (commits), BEGIN, txq_ack, COMMIT
 *   recv100 N         drain N: BEGIN, txq_receive 100, txq_ack_batch, COMMIT
 *   claim100 N        drain N: txq_claim 100, BEGIN, txq_ack_batch, COMMIT
 *   pop1 N, pop100 N  drain N: BEGIN, txq_pop 1 (100), COMMIT
 *   ideal1 N          N rows into the ideal's table q, its one-row INSERT
 *                     prepared, one per transaction: the ideal through this
 *                     driver (bench/run.sh compares send1 with both)
 *   worker N -- CMD   drain N with a txq-worker: run CMD (the worker, with
 *                     its handler and concurrency), stop it (SIGTERM) once
 *                     the queue's acked counter grew by N
 *   latency N MS -- CMD
 *                     wake-up latency: run CMD (a worker whose handler
 *                     records clock_timestamp() in bench_lat), wait 1 s,
 *                     then send N messages one at a time, one every MS
 *                     milliseconds, each its own transaction; latency =
 *                     handler start - the moment txq_send returned
 *                     (CLOCK_REALTIME, same host). Prints percentiles.
 *
 * The connection comes from DSN (default: the PG* environment). Every client
 * connects and checks the schema, then waits at a barrier; the clock
 * (CLOCK_MONOTONIC) runs from the barrier's release to the moment the last
 * client finished its last commit. After a send the queue must hold N more
 * messages; after a drain it must be empty and the clients must have acked
 * exactly N. A workload prints one line:
 *
 *   msgs=N seconds=S msgs_per_s=R
 *
 * Exit status: 0 ok, 1 failure (message on stderr), 2 usage.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "bench.h"

/* The ~100-byte JSON body every benchmark in the project uses. */
const char bench_payload[] =
    "{\"type\":\"order.created\",\"order_id\":123456,"
    "\"customer_id\":\"c-000042\",\"amount_cents\":4999,\"currency\":\"EUR\"}";
const size_t bench_payload_len = sizeof bench_payload - 1;

#define BATCH       100
#define MAX_CLIENTS 64

enum mode {
    M_SEND1,
    M_SEND100,
    M_IDEAL1,
    M_RECV1,
    M_CLAIM1,
    M_RECV100,
    M_CLAIM100,
    M_POP1,
    M_POP100,
    M_WORKER,
    M_LATENCY
};

static const struct {
    const char *name;
    enum mode mode;
} modes[] = {
    {"send1", M_SEND1},     {"send100", M_SEND100}, {"recv1", M_RECV1},
    {"claim1", M_CLAIM1},   {"recv100", M_RECV100}, {"claim100", M_CLAIM100},
    {"pop1", M_POP1},       {"pop100", M_POP100},   {"worker", M_WORKER},
    {"latency", M_LATENCY}, {"ideal1", M_IDEAL1},
};

/* What a client sends the parent when it is done. */
struct report {
    int64_t msgs; /* messages sent or acked */
    double end;   /* CLOCK_MONOTONIC at its last commit */
    int failed;   /* non-zero: the client gave up */
};

static const char *dsn = "";
const char *bench_queue = "bench";
static const char *schema = "txq"; /* -s */
static int waiter = 0;             /* -w */
static int procs = 0;              /* -j; 0: a process per client */
static int batch = BATCH;          /* -b: the batch of the *100 commands */
static int ideal = 0;              /* ideal1: table q, not the txq queue */
static txq_keyring *keyring;       /* -k: seal and open (encrypted queue) */

static double
now_mono(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
is_drain(enum mode m)
{
    return m != M_SEND1 && m != M_SEND100 && m != M_IDEAL1;
}

txq_client *
bench_client(void)
{
    txq_options o = {.size = sizeof(txq_options), .schema = schema};
    txq_client *c = txq_client_new(&o);

    if (c != NULL && keyring != NULL)
        txq_client_set_keyring(c, keyring);
    return c;
}

/* A connection with search_path = the txq schema (-s), then public (the
 * ideal's table and the handlers' tables), so this file's own queries name
 * tables unqualified. */
PGconn *
bench_connect(void)
{
    const char *params[1] = {schema};
    PGconn *pg = PQconnectdb(dsn);
    PGresult *res;

    if (PQstatus(pg) != CONNECTION_OK) {
        fprintf(stderr, "txq-bench: connect: %s", PQerrorMessage(pg));
        PQfinish(pg);
        return NULL;
    }
    res = PQexecParams(pg,
                       "select pg_catalog.set_config('search_path',"
                       " pg_catalog.quote_ident($1) || ', public', false)",
                       1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        fprintf(stderr, "txq-bench: search_path: %s", PQerrorMessage(pg));
        PQclear(res);
        PQfinish(pg);
        return NULL;
    }
    PQclear(res);
    return pg;
}

/* Runs a statement that returns no rows (BEGIN, COMMIT, ...). */
static int
exec_cmd(PGconn *pg, const char *sql)
{
    PGresult *res = PQexec(pg, sql);
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK;

    if (!ok)
        fprintf(stderr, "txq-bench: %s: %s", sql, PQerrorMessage(pg));
    PQclear(res);
    return ok;
}

/* Registers pg as a waiter on the queue. Returns 0 or -1. */
static int
wait_begin(PGconn *pg)
{
    const char *params[1] = {bench_queue};
    PGresult *res = PQexecParams(pg, "select wait_begin($1)", 1, NULL, params,
                                 NULL, NULL, 0);
    int ok = PQresultStatus(res) == PGRES_TUPLES_OK;

    if (!ok)
        fprintf(stderr, "txq-bench: wait_begin: %s", PQerrorMessage(pg));
    PQclear(res);
    return ok ? 0 : -1;
}

/* Returns the number of messages in the queue, or -1 on error. */
static int64_t
queue_depth(PGconn *pg)
{
    const char *params[1] = {bench_queue};
    PGresult *res;
    int64_t n = -1;

    if (ideal)
        res = PQexec(pg, "select count(*) from q");
    else
        res = PQexecParams(pg,
                           "select count(*) from messages m"
                           " join queues q using (queue_id)"
                           " where q.name = $1",
                           1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
        n = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    else
        fprintf(stderr, "txq-bench: count: %s", PQerrorMessage(pg));
    PQclear(res);
    return n;
}

int
bench_failed(txq_client *c, const char *what, txq_err rc)
{
    fprintf(stderr, "txq-bench: %s: %s (%s) %s\n", what, txq_strerror(rc),
            txq_sqlstate(c), txq_errmsg(c));
    return -1;
}

/* ideal1: the ideal's one-row INSERT (enq1.sql) through this same client,
 * prepared, one per transaction: the driver's own cost, apart from the
 * queue's. Returns 0 or -1. */
static int
run_ideal(PGconn *pg, int64_t n, int64_t *done)
{
    const char *params[1] = {bench_payload};
    PGresult *res = PQprepare(
        pg, "ideal1", "insert into q (payload) values ($1::jsonb)", 1, NULL);
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK;

    PQclear(res);
    while (ok && *done < n) {
        res = PQexecPrepared(pg, "ideal1", 1, params, NULL, NULL, 0);
        ok = PQresultStatus(res) == PGRES_COMMAND_OK;
        PQclear(res);
        *done += ok;
    }
    if (!ok)
        fprintf(stderr, "txq-bench: ideal1: %s", PQerrorMessage(pg));
    return ok ? 0 : -1;
}

/* Sends n messages, one or BATCH per transaction. Returns 0 or -1. */
static int
run_send(txq_client *c, PGconn *pg, enum mode m, int64_t n, int64_t *done)
{
    const void *bodies[BATCH];
    size_t lens[BATCH];
    txq_err rc;
    int i;

    for (i = 0; i < BATCH; i++) {
        bodies[i] = bench_payload;
        lens[i] = bench_payload_len;
    }
    while (*done < n) {
        if (m == M_SEND1) {
            rc = txq_send(c, pg, bench_queue, bench_payload, bench_payload_len,
                          NULL, NULL);
            if (rc != TXQ_OK)
                return bench_failed(c, "txq_send", rc);
            *done += 1;
        } else {
            size_t k = (size_t)(n - *done < batch ? n - *done : batch);

            rc =
                txq_send_batch(c, pg, bench_queue, bodies, lens, k, NULL, NULL);
            if (rc != TXQ_OK)
                return bench_failed(c, "txq_send_batch", rc);
            *done += (int64_t)k;
        }
    }
    return 0;
}

/* Acks the n messages of msgs in one transaction. Returns 0 or -1. */
static int
ack_all(txq_client *c, PGconn *pg, txq_msg **msgs, size_t n)
{
    size_t acked = 0;
    txq_err rc;

    if (n == 1) {
        rc = txq_ack(c, pg, msgs[0]);
        acked = rc == TXQ_OK;
    } else {
        rc = txq_ack_batch(c, pg, msgs, n, &acked);
    }
    if (rc != TXQ_OK || acked != n) {
        exec_cmd(pg, "ROLLBACK");
        return bench_failed(c, n == 1 ? "txq_ack" : "txq_ack_batch", rc);
    }
    return 0;
}

/*
 * Drains the queue until it reports empty. With SKIP LOCKED an empty answer
 * means every remaining message is held by another client, which acks it.
 * Returns 0 or -1; *done counts the messages acked.
 */
static int
run_drain(txq_client *c, PGconn *pg, enum mode m, int64_t *done)
{
    size_t max =
        (m == M_RECV100 || m == M_CLAIM100 || m == M_POP100) ? (size_t)batch
                                                              : 1;
    int claim = m == M_CLAIM1 || m == M_CLAIM100;
    int pop = m == M_POP1 || m == M_POP100;
    txq_msg **msgs = NULL;
    size_t n = 0;
    txq_err rc;

    for (;;) {
        if (claim) {
            rc = txq_claim(c, pg, bench_queue, max, NULL, &msgs, &n);
            if (rc == TXQ_EMPTY)
                return 0;
            if (rc != TXQ_OK)
                return bench_failed(c, "txq_claim", rc);
            if (!exec_cmd(pg, "BEGIN"))
                goto fail;
        } else {
            if (!exec_cmd(pg, "BEGIN"))
                return -1;
            rc = pop ? txq_pop(c, pg, bench_queue, max, &msgs, &n)
                     : txq_receive(c, pg, bench_queue, max, NULL, &msgs, &n);
            if (rc == TXQ_EMPTY)
                return exec_cmd(pg, "COMMIT") ? 0 : -1;
            if (rc != TXQ_OK) {
                exec_cmd(pg, "ROLLBACK");
                return bench_failed(c, pop ? "txq_pop" : "txq_receive", rc);
            }
        }
        if ((!pop && ack_all(c, pg, msgs, n) != 0) || !exec_cmd(pg, "COMMIT"))
            goto fail;
        *done += (int64_t)n;
        txq_msgs_free(msgs, n);
    }
fail:
    txq_msgs_free(msgs, n);
    return -1;
}

/* The workload's connections act as TXQ_BENCH_ROLE when it is set (SET
 * ROLE: txq judges them as that role, grants and all), as an application
 * that is not the schema's owner; the bookkeeping connection (counts) stays
 * the login. */
static int
app_role(PGconn *pg)
{
    const char *role = getenv("TXQ_BENCH_ROLE");
    const char *params[1] = {role};
    PGresult *res;
    int ok;

    if (role == NULL || role[0] == '\0')
        return 0;
    res = PQexecParams(pg, "select pg_catalog.set_config('role', $1, false)", 1,
                       NULL, params, NULL, NULL, 0);
    ok = PQresultStatus(res) == PGRES_TUPLES_OK;
    if (!ok)
        fprintf(stderr, "txq-bench: set role: %s", PQerrorMessage(pg));
    PQclear(res);
    return ok ? 0 : -1;
}

/* Connects conn i of a client process and checks the schema. */
static int
client_conn(PGconn **pg, txq_client **c)
{
    txq_err rc;

    *c = bench_client();
    *pg = bench_connect();
    if (*c == NULL || *pg == NULL)
        return -1;
    if (app_role(*pg) != 0)
        return -1;
    rc = txq_schema_check(*c, *pg);
    return rc == TXQ_OK ? 0 : bench_failed(*c, "txq_schema_check", rc);
}

/*
 * One client process with nconn connections: connect, check the schema,
 * signal ready, wait for the barrier, run, report. With one connection
 * the blocking calls; with more, bench_async's. Never returns.
 */
static void
client_main(
    enum mode m, int64_t n, int nconn, int ready_fd, int go_fd, int report_fd)
{
    struct report r;
    txq_client *c[MAX_CLIENTS] = {NULL};
    PGconn *pg[MAX_CLIENTS] = {NULL};
    char byte = 'r', go;
    int ok = 0, i;

    /* Padding too: the whole struct goes down the pipe. */
    memset(&r, 0, sizeof r);
    r.failed = 1;
    for (i = 0; i < nconn; i++) {
        if (client_conn(&pg[i], &c[i]) != 0)
            goto out;
    }
    if (write(ready_fd, &byte, 1) != 1)
        goto out;
    /* The parent closes its end to release every client at once. */
    if (read(go_fd, &go, 1) != 0)
        goto out;
    if (nconn > 1)
        ok = bench_async(pg, c, nconn, m != M_SEND1 && m != M_SEND100,
                         m == M_POP100 || m == M_SEND100 ? batch : 1, n,
                         &r.msgs) == 0;
    else if (m == M_IDEAL1)
        ok = run_ideal(pg[0], n, &r.msgs) == 0;
    else if (is_drain(m))
        ok = run_drain(c[0], pg[0], m, &r.msgs) == 0;
    else
        ok = run_send(c[0], pg[0], m, n, &r.msgs) == 0;
    r.end = now_mono();
    r.failed = !ok;
out:
    /* Under PIPE_BUF: the write is atomic. */
    if (write(report_fd, &r, sizeof r) != (ssize_t)sizeof r)
        ok = 0;
    for (i = 0; i < nconn; i++) {
        PQfinish(pg[i]);
        txq_client_free(c[i]);
    }
    _exit(ok ? 0 : 1);
}

/* Checks the queue after the run. Returns 0 or -1. */
static int
verify(PGconn *pg, enum mode m, int64_t n, int64_t before, int64_t done)
{
    int64_t after = queue_depth(pg);

    if (after < 0)
        return -1;
    if (done != n) {
        fprintf(stderr,
                "txq-bench: clients handled %lld messages, "
                "expected %lld\n",
                (long long)done, (long long)n);
        return -1;
    }
    if (is_drain(m) ? after != 0 : after - before != n) {
        fprintf(stderr,
                "txq-bench: the queue holds %lld messages "
                "(before: %lld, run: %lld)\n",
                (long long)after, (long long)before, (long long)n);
        return -1;
    }
    return 0;
}

static int
run_workload(enum mode m, int64_t n, int clients)
{
    int ready[2], go[2], rep[2];
    pid_t pids[MAX_CLIENTS];
    struct report r;
    int64_t before, done = 0;
    double t0, t_end = 0.0;
    int np = procs > 0 && procs < clients ? procs : clients;
    int i, got = 0, started = 0, failed = 0, status;
    PGconn *pg = bench_connect();
    PGconn *wpg = NULL;
    int64_t wakes = 0;
    char byte;

    if (pg == NULL)
        return 1;
    if (waiter && (wpg = bench_connect()) != NULL &&
        (!exec_cmd(wpg, "LISTEN txq_wake") || wait_begin(wpg) != 0)) {
        PQfinish(wpg);
        wpg = NULL;
    }
    if (waiter && wpg == NULL) {
        PQfinish(pg);
        return 1;
    }
    before = queue_depth(pg);
    if (before < 0 || (is_drain(m) && before != n)) {
        fprintf(stderr,
                "txq-bench: the queue holds %lld messages, "
                "expected %lld\n",
                (long long)before, (long long)n);
        PQfinish(pg);
        return 1;
    }
    if (pipe(ready) != 0 || pipe(go) != 0 || pipe(rep) != 0) {
        perror("txq-bench: pipe");
        PQfinish(pg);
        return 1;
    }
    for (i = 0; i < np; i++) {
        /* Split the connections and n as evenly as possible (drains
         * ignore n). */
        int nconn = clients / np + (i < clients % np ? 1 : 0);
        int64_t share = n / np + (i < n % np ? 1 : 0);
        pid_t pid = fork();

        if (pid < 0) {
            perror("txq-bench: fork");
            failed = 1;
            break;
        }
        if (pid == 0) {
            close(ready[0]);
            close(go[1]);
            close(rep[0]);
            client_main(m, share, nconn, ready[1], go[0], rep[1]);
        }
        pids[started++] = pid;
    }
    close(ready[1]);
    close(go[0]);
    close(rep[1]);
    /* Barrier: every client connected (or died: read returns 0). */
    for (i = 0; i < started; i++) {
        if (read(ready[0], &byte, 1) != 1) {
            failed = 1;
            break;
        }
    }
    t0 = now_mono();
    close(go[1]);
    while (got < started) {
        struct pollfd pfd[2] = {{rep[0], POLLIN, 0},
                                {wpg ? PQsocket(wpg) : -1, POLLIN, 0}};

        if (poll(pfd, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            failed = 1;
            break;
        }
        if (pfd[1].revents & POLLIN) {
            PGnotify *nf;
            int hit = 0;

            if (!PQconsumeInput(wpg)) {
                failed = 1;
                break;
            }
            while ((nf = PQnotifies(wpg)) != NULL) {
                hit = 1;
                PQfreemem(nf);
            }
            /* Woken: the sender took the waiter row; wait again. */
            if (hit) {
                wakes++;
                if (wait_begin(wpg) != 0) {
                    failed = 1;
                    break;
                }
            }
        }
        if (!(pfd[0].revents & (POLLIN | POLLHUP)))
            continue;
        if (read(rep[0], &r, sizeof r) != (ssize_t)sizeof r) {
            failed = 1;
            break;
        }
        got++;
        failed |= r.failed;
        done += r.msgs;
        if (r.end > t_end)
            t_end = r.end;
    }
    PQfinish(wpg);
    for (i = 0; i < started; i++) {
        if (waitpid(pids[i], &status, 0) != pids[i] || !WIFEXITED(status) ||
            WEXITSTATUS(status) != 0)
            failed = 1;
    }
    close(ready[0]);
    close(rep[0]);
    if (!failed && verify(pg, m, n, before, done) != 0)
        failed = 1;
    PQfinish(pg);
    if (failed) {
        fprintf(stderr, "txq-bench: run failed\n");
        return 1;
    }
    printf("msgs=%lld seconds=%.3f msgs_per_s=%.0f", (long long)n, t_end - t0,
           (double)n / (t_end - t0));
    if (waiter)
        printf(" wakes=%lld", (long long)wakes);
    printf("\n");
    return 0;
}

/* Returns the queue's acked counter, or -1 on error. */
static int64_t
acked_count(PGconn *pg)
{
    const char *params[1] = {bench_queue};
    PGresult *res;
    int64_t n = -1;

    res = PQexecParams(pg,
                       "select coalesce(sum(c.acked), 0) from"
                       " queue_counters c join queues q"
                       " using (queue_id) where q.name = $1",
                       1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
        n = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    else
        fprintf(stderr, "txq-bench: acked: %s", PQerrorMessage(pg));
    PQclear(res);
    return n;
}

/* Starts argv (a txq-worker) as a child. Returns its pid, or -1. */
static pid_t
spawn(char **argv)
{
    pid_t pid = fork();

    if (pid < 0) {
        perror("txq-bench: fork");
        return -1;
    }
    if (pid == 0) {
        /* The worker logs in as the workload's role (TXQ_BENCH_ROLE). */
        const char *role = getenv("TXQ_BENCH_ROLE");

        if (role != NULL && role[0] != '\0')
            setenv("PGUSER", role, 1);
        execvp(argv[0], argv);
        fprintf(stderr, "txq-bench: %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    return pid;
}

/* SIGTERM (the worker drains) and wait. Returns 0 when it exited 0. */
static int
stop_child(pid_t pid)
{
    int status;

    kill(pid, SIGTERM);
    if (waitpid(pid, &status, 0) != pid)
        return -1;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static void
sleep_secs(double s)
{
    struct timespec ts;

    ts.tv_sec = (time_t)s;
    ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/*
 * W3 with the worker: the clock runs from starting the worker process to
 * the poll (every 10 ms) that sees the acked counter grown by n.
 */
static int
run_worker(int64_t n, char **argv)
{
    PGconn *pg = bench_connect();
    int64_t before, acked = 0, depth;
    double t0, t1;
    pid_t pid;
    int failed = 0;

    if (pg == NULL)
        return 1;
    depth = queue_depth(pg);
    before = acked_count(pg);
    if (depth != n || before < 0) {
        fprintf(stderr,
                "txq-bench: the queue holds %lld messages, "
                "expected %lld\n",
                (long long)depth, (long long)n);
        PQfinish(pg);
        return 1;
    }
    t0 = now_mono();
    if ((pid = spawn(argv)) < 0) {
        PQfinish(pg);
        return 1;
    }
    for (;;) {
        int status;

        acked = acked_count(pg);
        if (acked < 0 || acked - before >= n)
            break;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            fprintf(stderr, "txq-bench: the worker exited early\n");
            pid = -1;
            break;
        }
        sleep_secs(0.01);
    }
    t1 = now_mono();
    if (pid < 0 || stop_child(pid) != 0 || acked - before != n)
        failed = 1;
    if (!failed && queue_depth(pg) != 0)
        failed = 1;
    PQfinish(pg);
    if (failed) {
        fprintf(stderr, "txq-bench: worker run failed (acked %lld of %lld)\n",
                (long long)(acked - before), (long long)n);
        return 1;
    }
    printf("msgs=%lld seconds=%.3f msgs_per_s=%.0f\n", (long long)n, t1 - t0,
           (double)n / (t1 - t0));
    return 0;
}

static double
now_real(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * W4: one producer, n messages, one every ms milliseconds (absolute
 * schedule). The worker's handler records (id, clock_timestamp()) in
 * bench_lat; the send times go in bench_sent at the end, and the
 * percentiles come from the join.
 */
static int
run_latency(int64_t n, double ms, char **argv)
{
    txq_client *c = bench_client();
    PGconn *pg = bench_connect();
    double *sent = calloc((size_t)n, sizeof *sent);
    int64_t *ids = calloc((size_t)n, sizeof *ids);
    char *idtxt = NULL, *ttxt = NULL;
    PGresult *res = NULL;
    double next, deadline;
    pid_t pid = -1;
    int64_t i, got = 0;
    int ret = 1;
    txq_err rc;

    if (c == NULL || pg == NULL || sent == NULL || ids == NULL)
        goto out;
    if (!exec_cmd(pg, "truncate bench_lat, bench_sent"))
        goto out;
    if ((pid = spawn(argv)) < 0)
        goto out;
    sleep_secs(1.0); /* the worker connects and goes idle */
    next = now_mono();
    for (i = 0; i < n; i++) {
        double wait = next - now_mono();

        if (wait > 0)
            sleep_secs(wait);
        rc = txq_send(c, pg, bench_queue, bench_payload, bench_payload_len,
                      NULL, &ids[i]);
        sent[i] = now_real();
        if (rc != TXQ_OK) {
            bench_failed(c, "txq_send", rc);
            goto out;
        }
        next += ms / 1000.0;
    }
    deadline = now_mono() + 30.0;
    while (now_mono() < deadline) {
        res = PQexec(pg, "select count(*) from bench_lat");
        got = PQresultStatus(res) == PGRES_TUPLES_OK
                  ? strtoll(PQgetvalue(res, 0, 0), NULL, 10)
                  : -1;
        PQclear(res);
        res = NULL;
        if (got < 0 || got >= n)
            break;
        sleep_secs(0.05);
    }
    /* "{id,...}" and "{t,...}" arrays for one insert. */
    idtxt = malloc((size_t)n * 24 + 3);
    ttxt = malloc((size_t)n * 32 + 3);
    if (idtxt == NULL || ttxt == NULL)
        goto out;
    {
        size_t a = 0, b = 0;

        idtxt[a++] = '{';
        ttxt[b++] = '{';
        for (i = 0; i < n; i++) {
            a += (size_t)sprintf(idtxt + a, "%s%" PRId64, i ? "," : "", ids[i]);
            b += (size_t)sprintf(ttxt + b, "%s%.6f", i ? "," : "", sent[i]);
        }
        strcpy(idtxt + a, "}");
        strcpy(ttxt + b, "}");
    }
    {
        const char *params[2] = {idtxt, ttxt};

        res = PQexecParams(pg,
                           "insert into bench_sent select * from"
                           " unnest($1::bigint[], $2::float8[])",
                           2, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            fprintf(stderr, "txq-bench: %s", PQerrorMessage(pg));
            goto out;
        }
        PQclear(res);
    }
    res =
        PQexec(pg, "select count(l.id),"
                   " percentile_cont(0.5) within group (order by d),"
                   " percentile_cont(0.99) within group (order by d),"
                   " max(d), count(*) filter (where d < 0)"
                   " from bench_sent s left join lateral"
                   " (select l.id, (extract(epoch from l.t) - s.t) * 1000 as d"
                   " from bench_lat l where l.id = s.id) l on true");
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        fprintf(stderr, "txq-bench: %s", PQerrorMessage(pg));
        goto out;
    }
    printf("msgs=%lld handled=%s p50_ms=%.3f p99_ms=%.3f max_ms=%.3f "
           "negative=%s\n",
           (long long)n, PQgetvalue(res, 0, 0),
           strtod(PQgetvalue(res, 0, 1), NULL),
           strtod(PQgetvalue(res, 0, 2), NULL),
           strtod(PQgetvalue(res, 0, 3), NULL), PQgetvalue(res, 0, 4));
    ret = strtoll(PQgetvalue(res, 0, 0), NULL, 10) == n ? 0 : 1;
    if (ret != 0)
        fprintf(stderr, "txq-bench: the handler saw %s of %lld messages\n",
                PQgetvalue(res, 0, 0), (long long)n);
out:
    PQclear(res);
    if (pid > 0 && stop_child(pid) != 0)
        ret = 1;
    free(idtxt);
    free(ttxt);
    free(sent);
    free(ids);
    PQfinish(pg);
    txq_client_free(c);
    return ret;
}

static int
setup(void)
{
    txq_client *c = bench_client();
    PGconn *pg = bench_connect();
    txq_err rc;
    int ret = 1;

    if (c == NULL || pg == NULL)
        goto out;
    rc = txq_migrate(c, pg, NULL);
    if (rc != TXQ_OK) {
        bench_failed(c, "txq_migrate", rc);
        goto out;
    }
    rc = txq_queue_drop(c, pg, bench_queue, 1);
    if (rc != TXQ_OK && rc != TXQ_ENOTFOUND) {
        bench_failed(c, "txq_queue_drop", rc);
        goto out;
    }
    rc = txq_queue_create(c, pg, bench_queue, NULL);
    if (rc != TXQ_OK) {
        bench_failed(c, "txq_queue_create", rc);
        goto out;
    }
    ret = 0;
out:
    PQfinish(pg);
    txq_client_free(c);
    return ret;
}

static int
usage(void)
{
    fprintf(stderr,
            "usage: txq-bench [-b BATCH] [-c CLIENTS] [-j PROCS] [-q QUEUE] "
            "[-d DSN] "
            "[-s SCHEMA] [-w] [-k KEYFILE] "
            "COMMAND [N]\n"
            "  setup | send1 N | send100 N | recv1 N | claim1 N |"
            " recv100 N | claim100 N | pop1 N | pop100 N | ideal1 N\n"
            "  worker N -- WORKER-COMMAND | latency N MS -- WORKER-COMMAND\n");
    return 2;
}

int
main(int argc, char **argv)
{
    int clients = 4, opt;
    long long n;
    char *end, err[256];
    size_t i;

    while ((opt = getopt(argc, argv, "+b:c:j:q:d:s:wk:")) != -1) {
        switch (opt) {
        case 'k':
            if (txq_keyring_load(optarg, &keyring, err, sizeof err) != TXQ_OK) {
                fprintf(stderr, "txq-bench: %s\n", err);
                return 2;
            }
            break;
        case 'b':
            batch = atoi(optarg);
            if (batch < 1 || batch > BATCH)
                return usage();
            break;
        case 'c':
            clients = atoi(optarg);
            break;
        case 'j':
            procs = atoi(optarg);
            break;
        case 'q':
            bench_queue = optarg;
            break;
        case 'd':
            dsn = optarg;
            break;
        case 's':
            schema = optarg;
            break;
        case 'w':
            waiter = 1;
            break;
        default:
            return usage();
        }
    }
    if (optind >= argc || clients < 1 || clients > MAX_CLIENTS || procs < 0)
        return usage();
    /* A client that dies must not kill the parent on its next write. */
    signal(SIGPIPE, SIG_IGN);
    if (strcmp(argv[optind], "setup") == 0)
        return setup();
    for (i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        if (strcmp(argv[optind], modes[i].name) != 0)
            continue;
        if (optind + 1 >= argc)
            return usage();
        errno = 0;
        n = strtoll(argv[optind + 1], &end, 10);
        if (errno != 0 || *end != '\0' || n < 1)
            return usage();
        if (modes[i].mode == M_WORKER || modes[i].mode == M_LATENCY) {
            int a = optind + 2;
            double ms = 0;

            if (modes[i].mode == M_LATENCY) {
                if (a >= argc || (ms = strtod(argv[a], &end)) <= 0 ||
                    *end != '\0')
                    return usage();
                a++;
            }
            if (a + 1 >= argc || strcmp(argv[a], "--") != 0)
                return usage();
            return modes[i].mode == M_WORKER ? run_worker(n, argv + a + 1)
                                             : run_latency(n, ms, argv + a + 1);
        }
        if (procs > 0 && procs < clients && modes[i].mode != M_SEND1 &&
            modes[i].mode != M_SEND100 && modes[i].mode != M_POP1 &&
            modes[i].mode != M_POP100)
            return usage();
        ideal = modes[i].mode == M_IDEAL1;
        return run_workload(modes[i].mode, n, clients);
    }
    return usage();
}
