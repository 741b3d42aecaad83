/*
 * child.c - a consumer process: one per queue slot, forked by the
 * supervisor. It has its own connection and runs the library's consume
 * loop (txq_consumer_run) with the queue's handler; when the queue is
 * empty it tells the supervisor and sleeps on its socket until woken by a
 * NOTIFY or the poll interval passes. SIGTERM drains (finish the messages
 * in hand, exit 0); the supervisor's SIGKILL is the immediate exit. A
 * handler that crashes takes down only this process; the supervisor
 * restarts it.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "handler.h"
#include "log.h"
#include "policy.h"
#include "util.h"
#include "worker.h"

#define RESTART_BASE 0.1
#define RESTART_CAP  30.0
/* A lost database (a failover, a restart) is retried sooner: a connection
 * attempt costs nothing, and a promoted standby should see its consumers
 * within seconds, however long the outage was. */
#define CONNECT_CAP 2.0
#define HEALTHY_RUN 10.0 /* a run this long resets the backoff */

struct child {
    const queue_cfg *q;
    handler *h;
    int sock;
    int idle;
    consumer_shared *shared;
};

/* The handler, with the message marked as in hand while it runs (and
 * after, until its outcome is recorded: event_fn clears it). */
static txq_handler_result
run_handler(PGconn *pg, const txq_msg *m, void *arg, char *err, size_t errsize)
{
    struct child *ch = arg;

    atomic_store(&ch->shared->in_hand, (long long)txq_msg_id(m));
    return handler_fn(ch->h)(pg, m, handler_arg(ch->h), err, errsize);
}

/* The consumer on_term stops: an atomic pointer (lock-free, so a signal
 * handler may read it), published once the consumer exists and cleared
 * before it is freed, so a SIGTERM at any moment finds a live consumer or
 * NULL (txq_consumer_stop(NULL) does nothing; stopping covers that). */
static _Atomic(txq_consumer *) the_consumer;
_Static_assert(ATOMIC_POINTER_LOCK_FREE == 2,
               "the signal handler reads the_consumer: it must be lock-free");
static volatile sig_atomic_t stopping;
static int wake_pipe[2] = {-1, -1};

static void
on_term(int sig)
{
    (void)sig;
    stopping = 1;
    txq_consumer_stop(atomic_load(&the_consumer));
    poke(wake_pipe[1], 's');
}

/* Sleep up to seconds, until woken by the supervisor or a signal. Returns
 * non-zero when the child should stop. */
static int
sleep_wake(struct child *ch, double seconds)
{
    struct pollfd pfd[2];
    int ms = (int)(seconds * 1000);

    pfd[0].fd = ch->sock;
    pfd[0].events = POLLIN;
    pfd[1].fd = wake_pipe[0];
    pfd[1].events = POLLIN;
    if (!stopping && poll(pfd, 2, ms > 0 ? ms : 1) > 0) {
        if ((pfd[0].revents & (POLLIN | POLLHUP)) && drain_fd(ch->sock) < 0)
            stopping = 1; /* the supervisor is gone: drain and exit */
        if (pfd[1].revents & POLLIN)
            drain_fd(wake_pipe[0]);
    }
    return stopping;
}

static int
wait_fn(void *arg, double seconds)
{
    struct child *ch = arg;

    if (!ch->idle) {
        ch->idle = 1;
        poke(ch->sock, MSG_IDLE);
    }
    return sleep_wake(ch, seconds);
}

static void
event_fn(void *arg, const txq_consumer_event *ev)
{
    struct child *ch = arg;
    const char *action;
    long long id = (long long)txq_msg_id(ev->msg);
    int attempt = txq_msg_attempt(ev->msg);
    double ms = ev->seconds * 1000;
    int level;

    atomic_store(&ch->shared->in_hand, 0);
    atomic_fetch_add(&ch->shared->handled, 1);
    metrics_observe(&ch->shared->counts, ev);
    if (ch->idle) {
        ch->idle = 0;
        poke(ch->sock, MSG_BUSY);
    }
    /* A sql: handler's prepared call is gone (DEALLOCATE, DISCARD ALL, a
     * pooler that switched backends): the next message prepares it. */
    if (!ev->acked && ev->error != NULL && strstr(ev->error, "[26000]"))
        handler_forget(ch->h);
    if (ev->acked) {
        wlog(WLOG_DEBUG,
             ev->result == TXQ_HANDLER_IGNORE ? "message ignored by handler"
                                              : "message acked",
             "queue=%s msg_id=%lld attempt=%d action=ack duration_ms=%.1f",
             ch->q->name, id, attempt, ms);
        return;
    }
    if (ev->err == TXQ_ESTATE) {
        wlog(WLOG_WARN, "claim lapsed; another attempt holds the message",
             "queue=%s msg_id=%lld attempt=%d action=none duration_ms=%.1f "
             "err=%s",
             ch->q->name, id, attempt, ms, ev->error);
        return;
    }
    if (ev->outcome == 0) {
        wlog(WLOG_ERROR, "recording the outcome failed",
             "queue=%s msg_id=%lld attempt=%d action=none err=%s", ch->q->name,
             id, attempt, ev->error);
        return;
    }
    action = policy_outcome_action(ev->outcome);
    level = ev->outcome == TXQ_OUTCOME_RETRY     ? WLOG_WARN
            : ev->outcome == TXQ_OUTCOME_IGNORED ? WLOG_WARN
                                                 : WLOG_ERROR;
    wlog(level,
         ev->outcome == TXQ_OUTCOME_RETRY ? "message failed, will retry"
                                          : "message failed for good",
         "queue=%s msg_id=%lld attempt=%d action=%s permanent=%d "
         "duration_ms=%.1f err=%s",
         ch->q->name, id, attempt, action, ev->result == TXQ_HANDLER_PERMANENT,
         ms, ev->error);
}

/* Returns: 0, or -1 with errno when a handler could not be installed. */
static int
setup_signals(void)
{
    struct sigaction sa;
    sigset_t none;

    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_term;
    if (sigaction(SIGTERM, &sa, NULL) != 0)
        return -1;
    sa.sa_handler = SIG_IGN;
    /* Only the supervisor acts on these; it tells the children. */
    if (sigaction(SIGINT, &sa, NULL) != 0 ||
        sigaction(SIGHUP, &sa, NULL) != 0 || sigaction(SIGPIPE, &sa, NULL) != 0)
        return -1;
    sa.sa_handler = SIG_DFL;
    if (sigaction(SIGCHLD, &sa, NULL) != 0 ||
        sigaction(SIGQUIT, &sa, NULL) != 0)
        return -1;
    sigemptyset(&none);
    return sigprocmask(SIG_SETMASK, &none, NULL);
}

/*
 * The backend pid that this consumer's claims record, for the supervisor's
 * release_unstarted() after a crash; 0 when there is none to trust: behind
 * a transaction pooler the claims record none, and behind any pooler the
 * pid libpq knows is the pooler's own, while the server connection serves
 * other clients too and outlives this one.
 */
static int
claim_pid(txq_client *c, PGconn *pg)
{
    PGresult *r;
    int pooled = 1, pid = 0;

    if (txq_pooled(c, pg, &pooled) != TXQ_OK || pooled)
        return 0;
    r = PQexec(pg, "select pg_catalog.pg_backend_pid()");
    if (r != NULL && PQresultStatus(r) == PGRES_TUPLES_OK &&
        PQntuples(r) == 1 && atoi(PQgetvalue(r, 0, 0)) == PQbackendPID(pg))
        pid = PQbackendPID(pg);
    PQclear(r);
    return pid;
}

int
child_main(const worker_cfg *cfg,
           const queue_cfg *q,
           int sock,
           consumer_shared *shared)
{
    struct child ch = {q, NULL, sock, 0, shared};
    txq_options copts = TXQ_OPTIONS_INIT;
    txq_consumer_opts o = TXQ_CONSUMER_OPTS_INIT;
    handler_env henv;
    handler *h = NULL;
    txq_client *c = NULL;
    txq_consumer *cons = NULL;
    txq_keyring *kr = NULL;
    char err[1024];
    int failures = 0, code = EXIT_OK;

    if (pipe(wake_pipe) != 0) {
        wlog(WLOG_ERROR, "pipe failed", "err=%s", strerror(errno));
        return EXIT_FATAL;
    }
    fd_cloexec(wake_pipe[0]);
    fd_cloexec(wake_pipe[1]);
    fd_nonblock(wake_pipe[0]);
    fd_nonblock(wake_pipe[1]);
    fd_nonblock(sock);
#ifdef __linux__
    /* The supervisor died: drain rather than run unsupervised. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
#endif
    if (setup_signals() != 0) {
        wlog(WLOG_ERROR, "cannot install signal handlers", "queue=%s err=%s",
             q->name, strerror(errno));
        return EXIT_FATAL;
    }
    if (getppid() == 1)
        stopping = 1;

    copts.schema = cfg->schema;
    c = txq_client_new(&copts);
    if (c != NULL)
        txq_client_set_pooler(c, config_pooler(cfg->pooler));
    /* The keys of encrypted queues: read here, in the consumer, and never
     * handed to a handler's program (its environment names no key file). */
    if (c != NULL && cfg->key_file[0] != '\0') {
        if (txq_keyring_load(cfg->key_file, &kr, err, sizeof err) != TXQ_OK) {
            wlog(WLOG_ERROR, "cannot load the key file", "queue=%s err=%s",
                 q->name, err);
            txq_client_free(c);
            return EXIT_CHILD_CFG;
        }
        txq_client_set_keyring(c, kr);
    }
    henv.c = c;
    henv.schema = cfg->schema;
    henv.queue = q->name;
    henv.timeout = queue_timeout(cfg, q);
    henv.pass_env = cfg->pass_env;
    if (c == NULL ||
        (h = handler_open(q->handler, &henv, err, sizeof err)) == NULL) {
        wlog(WLOG_ERROR, "cannot load the handler",
             "queue=%s handler=%s err=%s", q->name, q->handler,
             c == NULL ? "out of memory" : err);
        txq_client_free(c);
        txq_keyring_free(kr);
        return EXIT_CHILD_CFG;
    }
    ch.h = h;
    o.prefetch = (size_t)queue_prefetch(cfg, q);
    o.timeout = queue_timeout(cfg, q);
    o.poll_interval = cfg->poll_interval;
    o.wait_fn = wait_fn;
    o.wait_arg = &ch;
    o.event_fn = event_fn;
    o.event_arg = &ch;
    cons = txq_consumer_new(c, q->name, &o, run_handler, &ch);
    atomic_store(&the_consumer, cons);
    if (cons == NULL) {
        wlog(WLOG_ERROR, "out of memory", "queue=%s", q->name);
        code = EXIT_FATAL;
        goto out;
    }
    if (stopping)
        txq_consumer_stop(cons);
    wlog(WLOG_DEBUG, "consumer started", "queue=%s pid=%ld", q->name,
         (long)getpid());

    while (!stopping) {
        PGconn *pg = db_connect(cfg->db, "txq-worker");
        double started = now_mono(), cap = CONNECT_CAP;
        txq_err rc;

        if (pg == NULL || PQstatus(pg) != CONNECTION_OK) {
            wlog(WLOG_WARN, "cannot connect", "queue=%s err=%s", q->name,
                 db_error(pg, err, sizeof err));
        } else if (handler_prepare(h, pg, err, sizeof err) != 0) {
            wlog(WLOG_ERROR, "handler not ready", "queue=%s handler=%s err=%s",
                 q->name, q->handler, err);
            cap = RESTART_CAP;
        } else {
            if (failures > 0)
                wlog(WLOG_INFO, "connected", "queue=%s", q->name);
            atomic_store(&shared->backend_pid, claim_pid(c, pg));
            atomic_store(&shared->connected, 1);
            poke(sock, MSG_READY);
            rc = txq_consumer_run(cons, pg);
            atomic_store(&shared->connected, 0);
            poke(sock, MSG_READY);
            if (rc == TXQ_OK) {
                PQfinish(pg);
                break;
            }
            wlog(rc == TXQ_ECONN ? WLOG_WARN : WLOG_ERROR, "consume loop ended",
                 "queue=%s code=%s sqlstate=%s err=%s", q->name,
                 txq_strerror(rc), txq_consumer_sqlstate(cons),
                 txq_consumer_errmsg(cons));
            if (rc != TXQ_ECONN && PQstatus(pg) == CONNECTION_OK)
                cap = RESTART_CAP;
        }
        PQfinish(pg);
        if (now_mono() - started > HEALTHY_RUN)
            failures = 0;
        failures++;
        {
            double until =
                now_mono() + policy_backoff(failures, RESTART_BASE, cap);

            while (!stopping && now_mono() < until)
                sleep_wake(&ch, until - now_mono());
        }
    }
    wlog(WLOG_DEBUG, "consumer stopped", "queue=%s pid=%ld", q->name,
         (long)getpid());
out:
    /* Unpublished first: on_term must never see a freed consumer. */
    atomic_store(&the_consumer, NULL);
    txq_consumer_free(cons);
    handler_close(h);
    txq_client_free(c);
    txq_keyring_free(kr);
    return code;
}
