/*
 * supervisor.c - txq-worker's main process.
 *
 * Process model: one forked consumer process per queue slot (concurrency N
 * gives N processes), each with its own connection, supervised here. Why
 * processes and not threads: a handler that crashes (a segfault in a
 * so: handler, an exec: handler that kills its parent, OOM) takes down one
 * slot and its open transaction, never its siblings; libpq connections and
 * handler code need no thread safety; each slot's memory is bounded and
 * returned on exit. The cost, one process per slot, is small next to the
 * PostgreSQL backend each slot holds anyway.
 *
 * The supervisor holds the only LISTEN connection (txq_wake, txq_alert):
 * it registers as a waiter for a queue while some slot of it is idle, and
 * turns each txq_wake into one byte to that queue's idle slots (several
 * notifications in one poll round wake each slot once). Slots also poll
 * every poll_interval, which covers lost notifications, --no-listen and
 * reconnects. The same connection runs txq.maintain() every
 * maintain_interval (claims of dead sessions come back in seconds) and
 * delivers alerts (alert.c). maintain() needs operate on every queue: a
 * role without it gets a warning at start, once, and no calls (nor after
 * a refusal at run time: the grant was revoked).
 *
 * Signals only set flags and write to a self-pipe; the loop does the work:
 * RUNNING -> (SIGTERM/SIGINT) DRAINING -> exit 0 when every slot finished,
 * or SIGKILL and exit 1 at drain_timeout or on a second signal / SIGQUIT.
 * SIGHUP reloads the config, keeping the old one on error. A slot that
 * exits unexpectedly is restarted with exponential backoff.
 *
 * Metrics (metrics.c) and readiness: the consumers are processes, so what
 * they count has to cross into the supervisor. Each consumer adds to
 * counters in its slot's shared page (the page that already carries its
 * backend pid): one relaxed atomic add per message, no system call, no
 * message to parse, nothing lost when the consumer crashes (the page is
 * the supervisor's and outlives it), and nothing to back up when the
 * supervisor is slow. A pipe would cost a write per message on the hot
 * path and a reader that keeps up. The pages are never reset while they
 * live; a retired slot's counts are folded into its queue's totals
 * (S.mq) before its page goes, so the counters only grow. Every loop round
 * the supervisor sums totals and pages into a metrics_state, with its own
 * connection's state and whether every queue has a consumer connected
 * with its handler prepared (a consumer pokes MSG_READY when that
 * changes), and publishes it to the HTTP thread. Queue depth and the
 * oldest ready message's age come from txq.queue_stats on the supervisor's
 * connection, every STATS_INTERVAL at most, never per scrape: a scrape
 * costs the database nothing. The same readiness drives sd_notify (svc.c):
 * READY=1 once every queue is consumed, RELOADING=1 on SIGHUP, STOPPING=1
 * when draining, WATCHDOG=1 every half WATCHDOG_USEC.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"
#include "policy.h"
#include "svc.h"
#include "util.h"
#include "worker.h"

#define RESTART_BASE   0.1
#define RESTART_CAP    30.0
#define HEALTHY_RUN    30.0 /* a slot that ran this long starts afresh */
#define DB_BASE        0.2
#define DB_CAP         2.0 /* as a consumer's reconnects (child.c) */
#define REFUSED_SIZE   256
#define STATS_INTERVAL 5.0 /* read txq.queue_stats at most this often */

struct slot {
    char *queue;
    size_t qi; /* index in cfg->queues; meaningless when retired */
    size_t mi; /* index in S.mq */
    pid_t pid; /* 0: not running */
    int fd;    /* our end of the socket pair, -1 */
    int idle;
    int retired; /* from before a reload: drain, never restart */
    int failures;
    double started;
    double restart_at;
    consumer_shared *shared;   /* mapped MAP_SHARED, kept across restarts */
    int release_pid;           /* a dead consumer's session: give back the */
    long long release_in_hand; /* claims it had not started, but this */
};

struct waiter {
    int registered;
    double retry_at; /* after a failed wait_begin */
};

static struct {
    worker_cfg *cfg;
    const char *path;
    const cfg_override *ov;
    size_t nov;
    struct slot *slots;
    size_t nslots;
    struct waiter *waiters; /* one per cfg->queues */
    PGconn *db;
    txq_client *client;
    int db_failures;
    double db_retry_at;
    double next_maintain;
    int maintain_off; /* the role may not run maintain(): never call it */
    char role[128];   /* the connection's role, from the start's checks */
    alerts *alerts;
    int draining;
    double drain_deadline;
    double started_at;
    int checked;       /* the start's checks passed: consumers may run */
    int pool_warned;   /* "a connection pooler is in between" logged */
    char fatal[2048];  /* why the start is hopeless; "" */
    metrics_queue *mq; /* per queue ever configured: totals of the slots
                          gone, restarts, the last queue_stats */
    size_t nmq;
    double next_stats;  /* when to read queue_stats next */
    double stats_at;    /* when it was last read; 0: never */
    int stats_hinted;   /* "queue gauges need monitor" logged */
    double wd_interval; /* watchdog ping interval; 0: none */
    double next_wd;
    int ready;         /* every queue consumed (see compute_ready) */
    int ready_pending; /* READY=1 to send when ready: at start, reload */
    char db_err[160];  /* why the supervisor's last connection failed */
} S;

static int sig_pipe[2] = {-1, -1};
static volatile sig_atomic_t sig_term, sig_hup, sig_chld, sig_quit;

static void
on_signal(int sig)
{
    if (sig == SIGTERM || sig == SIGINT)
        sig_term = sig_term < 2 ? sig_term + 1 : 2;
    else if (sig == SIGHUP)
        sig_hup = 1;
    else if (sig == SIGCHLD)
        sig_chld = 1;
    else if (sig == SIGQUIT)
        sig_quit = 1;
    poke(sig_pipe[1], 's');
}

/* Returns: 0, or -1 with errno when a handler could not be installed. */
static int
install_signals(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    if (sigaction(SIGTERM, &sa, NULL) != 0 ||
        sigaction(SIGINT, &sa, NULL) != 0 ||
        sigaction(SIGHUP, &sa, NULL) != 0 ||
        sigaction(SIGCHLD, &sa, NULL) != 0 ||
        sigaction(SIGQUIT, &sa, NULL) != 0)
        return -1;
    sa.sa_handler = SIG_IGN;
    return sigaction(SIGPIPE, &sa, NULL);
}

/* --- slots ------------------------------------------------------------- */

/* The index in S.mq of the queue called name, added if new. Entries are
 * never removed: a queue dropped by a reload keeps its series (counters
 * must not go back). Returns 0, or -1 when out of memory. */
static int
metrics_queue_index(const char *name, size_t *mi)
{
    metrics_queue *n;
    size_t i;

    for (i = 0; i < S.nmq; i++)
        if (strcmp(S.mq[i].name, name) == 0) {
            *mi = i;
            return 0;
        }
    n = realloc(S.mq, (S.nmq + 1) * sizeof *n);
    if (n == NULL)
        return -1;
    S.mq = n;
    memset(&S.mq[S.nmq], 0, sizeof *S.mq);
    snprintf(S.mq[S.nmq].name, sizeof S.mq[S.nmq].name, "%s", name);
    *mi = S.nmq++;
    return 0;
}

static int
add_slots(void)
{
    size_t i;
    int j, n;

    for (i = 0; i < S.cfg->nqueues; i++) {
        n = queue_concurrency(S.cfg, &S.cfg->queues[i]);
        for (j = 0; j < n; j++) {
            struct slot *ns = realloc(S.slots, (S.nslots + 1) * sizeof *ns);

            if (ns == NULL)
                return -1;
            S.slots = ns;
            ns = &S.slots[S.nslots];
            memset(ns, 0, sizeof *ns);
            ns->fd = -1;
            ns->qi = i;
            if (metrics_queue_index(S.cfg->queues[i].name, &ns->mi) != 0)
                return -1;
            if ((ns->queue = strdup(S.cfg->queues[i].name)) == NULL)
                return -1;
            S.nslots++;
        }
    }
    free(S.waiters);
    S.waiters = calloc(S.cfg->nqueues, sizeof *S.waiters);
    return S.waiters == NULL ? -1 : 0;
}

static void
start_slot(struct slot *sl, double now)
{
    int sv[2];
    sigset_t all, old;
    pid_t pid;
    size_t i;

    if (sl->shared == NULL) {
        /* Shared anonymous memory in POSIX terms: /dev/zero mapped
         * MAP_SHARED (MAP_ANONYMOUS is not in POSIX.1-2008). */
        int zero = open("/dev/zero", O_RDWR | O_CLOEXEC);
        void *p = zero < 0 ? MAP_FAILED
                           : mmap(NULL, sizeof *sl->shared,
                                  PROT_READ | PROT_WRITE, MAP_SHARED, zero, 0);

        if (zero >= 0)
            close(zero);
        if (p == MAP_FAILED) {
            wlog(WLOG_ERROR, "shared memory for a consumer failed", "err=%s",
                 strerror(errno));
            sl->restart_at = now + RESTART_CAP;
            return;
        }
        sl->shared = p;
    }
    atomic_store(&sl->shared->backend_pid, 0);
    atomic_store(&sl->shared->in_hand, 0);
    atomic_store(&sl->shared->handled, 0);
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
        wlog(WLOG_ERROR, "socketpair failed", "err=%s", strerror(errno));
        sl->restart_at = now + RESTART_CAP;
        return;
    }
    fd_cloexec(sv[0]);
    fd_cloexec(sv[1]);
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, &old);
    pid = fork();
    if (pid == 0) {
        /* The child keeps only its end of its socket. It must not touch
         * the supervisor's connection: closing the descriptor is enough. */
        close(sv[0]);
        close(sig_pipe[0]);
        close(sig_pipe[1]);
        for (i = 0; i < S.nslots; i++)
            if (S.slots[i].fd >= 0)
                close(S.slots[i].fd);
        if (S.db != NULL && PQsocket(S.db) >= 0)
            close(PQsocket(S.db));
        metrics_close_in_child();
        exit(child_main(S.cfg, &S.cfg->queues[sl->qi], sv[1], sl->shared));
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    close(sv[1]);
    if (pid < 0) {
        wlog(WLOG_ERROR, "fork failed", "queue=%s err=%s", sl->queue,
             strerror(errno));
        close(sv[0]);
        sl->restart_at = now + RESTART_CAP;
        return;
    }
    fd_nonblock(sv[0]);
    sl->fd = sv[0];
    sl->pid = pid;
    sl->idle = 0;
    sl->started = now;
    wlog(WLOG_DEBUG, "consumer forked", "queue=%s pid=%ld", sl->queue,
         (long)pid);
}

static void
signal_slots(int sig)
{
    size_t i;

    for (i = 0; i < S.nslots; i++)
        if (S.slots[i].pid > 0)
            kill(S.slots[i].pid, sig);
}

static void
reap(double now)
{
    pid_t pid;
    int st;
    size_t i;

    while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
        if (alerts_reaped(S.alerts, pid, st))
            continue;
        for (i = 0; i < S.nslots; i++) {
            struct slot *sl = &S.slots[i];
            double delay;

            if (sl->pid != pid)
                continue;
            sl->pid = 0;
            sl->idle = 0;
            atomic_store(&sl->shared->connected, 0);
            if (sl->fd >= 0)
                close(sl->fd);
            sl->fd = -1;
            /* Died with claims: those it had not started go back. */
            if ((!WIFEXITED(st) || WEXITSTATUS(st) != EXIT_OK) &&
                atomic_load(&sl->shared->backend_pid) != 0) {
                sl->release_pid = atomic_load(&sl->shared->backend_pid);
                sl->release_in_hand = atomic_load(&sl->shared->in_hand);
            }
            if (S.draining || sl->retired) {
                wlog(WLOG_DEBUG, "consumer exited", "queue=%s pid=%ld",
                     sl->queue, (long)pid);
                break;
            }
            /* It handled messages before it died (a handler that crashes
             * on some messages): no reason to wait before the next. */
            if (now - sl->started > HEALTHY_RUN ||
                atomic_load(&sl->shared->handled) > 0)
                sl->failures = 0;
            sl->failures++;
            S.mq[sl->mi].restarts++;
            delay = policy_backoff(sl->failures, RESTART_BASE, RESTART_CAP);
            sl->restart_at = now + delay;
            wlog(WLOG_ERROR, "consumer exited unexpectedly",
                 "queue=%s pid=%ld exit=%d signal=%d restart_in_s=%.2f",
                 sl->queue, (long)pid, WIFEXITED(st) ? WEXITSTATUS(st) : -1,
                 WIFSIGNALED(st) ? WTERMSIG(st) : 0, delay);
            break;
        }
    }
}

/* Drop retired slots that have exited. */
static void
compact_slots(void)
{
    size_t i = 0;

    while (i < S.nslots) {
        if (S.slots[i].retired && S.slots[i].pid == 0 &&
            S.slots[i].release_pid == 0) {
            free(S.slots[i].queue);
            if (S.slots[i].shared != NULL) {
                metrics_queue *q = &S.mq[S.slots[i].mi];
                size_t k;

                /* Its counts go to its queue's totals. */
                for (k = 0; k < MC_COUNT; k++)
                    q->v[k] += atomic_load(&S.slots[i].shared->counts.v[k]);
            }
            if (S.slots[i].shared != NULL)
                munmap(S.slots[i].shared, sizeof *S.slots[i].shared);
            S.slots[i] = S.slots[--S.nslots];
        } else {
            i++;
        }
    }
}

/* --- the supervisor's connection --------------------------------------- */

/* Drop the connection and schedule the next attempt. */
static void
db_retry_later(double now)
{
    PQfinish(S.db);
    S.db = NULL;
    S.db_failures++;
    S.db_retry_at = now + policy_backoff(S.db_failures, DB_BASE, DB_CAP);
}

static void
db_lost(double now, const char *why)
{
    char err[512];

    wlog(WLOG_WARN, "supervisor connection lost", "err=%s",
         why != NULL ? why : db_error(S.db, err, sizeof err));
    db_retry_later(now);
}

/* Run a statement on the supervisor's connection; NULL on failure (and
 * the connection dropped when it broke). With refused not NULL, a refusal
 * (42501) is the caller's to log: its message into refused[REFUSED_SIZE],
 * which is "" otherwise. */
static PGresult *
db_query(const char *sql,
         int nparams,
         const char *const *vals,
         double now,
         const char *what,
         char *refused)
{
    PGresult *r = PQexecParams(S.db, sql, nparams, NULL, vals, NULL, NULL, 0);
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;

    if (refused != NULL)
        refused[0] = '\0';
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
        return r;
    if (PQstatus(S.db) == CONNECTION_BAD) {
        PQclear(r);
        db_lost(now, NULL);
        return NULL;
    }
    if (refused != NULL && state != NULL && strcmp(state, "42501") == 0) {
        const char *m = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);

        snprintf(refused, REFUSED_SIZE, "%s", m ? m : "permission denied");
    } else {
        wlog(WLOG_WARN, "supervisor query failed", "what=%s sqlstate=%s err=%s",
             what, state,
             r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL);
    }
    PQclear(r);
    return NULL;
}

/* Give back the claims of dead consumers that no handler had started
 * (txq.release_unstarted), once per death: what it misses, maintain()
 * rescues with the attempt counted. */
static void
release_pending(double now)
{
    char sql[160], pid[16], in_hand[24];
    const char *vals[2] = {pid, in_hand};
    PGresult *r;
    size_t i;

    snprintf(sql, sizeof sql,
             "select \"%s\".release_unstarted($1::int, "
             "nullif($2::bigint, 0))",
             S.cfg->schema);
    for (i = 0; i < S.nslots && S.db != NULL; i++) {
        struct slot *sl = &S.slots[i];

        if (sl->release_pid == 0)
            continue;
        snprintf(pid, sizeof pid, "%d", sl->release_pid);
        snprintf(in_hand, sizeof in_hand, "%lld", sl->release_in_hand);
        sl->release_pid = 0;
        r = db_query(sql, 2, vals, now, "release_unstarted", NULL);
        if (r == NULL)
            continue;
        if (PQntuples(r) == 1 && atoi(PQgetvalue(r, 0, 0)) != 0)
            wlog(atoi(PQgetvalue(r, 0, 0)) > 0 ? WLOG_INFO : WLOG_WARN,
                 "claims of a dead consumer given back",
                 "queue=%s released=%s in_hand=%s", sl->queue,
                 PQgetvalue(r, 0, 0), in_hand);
        PQclear(r);
    }
}

static void
wake_queue(size_t qi)
{
    size_t i;

    for (i = 0; i < S.nslots; i++) {
        struct slot *sl = &S.slots[i];

        if (!sl->retired && sl->qi == qi && sl->pid > 0 && sl->idle)
            poke(sl->fd, MSG_WAKE);
    }
}

/* maintain() will not run (why: what decided it); logged once, with what
 * that leaves undone and who can do it. */
static void
maintain_stop(const char *why)
{
    char hint[512];

    S.maintain_off = 1;
    if (S.role[0] == '\0' && S.db != NULL)
        snprintf(S.role, sizeof S.role, "%s", PQuser(S.db));
    snprintf(hint, sizeof hint,
             "claims of dead sessions still come back through receive once "
             "their visibility timeout passes (those of this worker's "
             "consumers at once); expiry, archive and dedup pruning and "
             "storage rotation need maintain() from some role with operate "
             "on every queue ('*'): grant it to this one (txq grant '*' %s "
             "operate) or run it from another",
             S.role);
    wlog(WLOG_WARN, "maintain() will not run from this worker",
         "role=%s err=%s hint=%s", S.role, why, hint);
}

static void
db_open(double now)
{
    char err[512];
    const char *setup;
    PGresult *r;
    txq_err rc;
    size_t i;
    int pooled = 1;

    S.db = db_connect(S.cfg->db, "txq-worker supervisor");
    if (S.db == NULL || PQstatus(S.db) != CONNECTION_OK) {
        wlog(WLOG_WARN, "supervisor cannot connect", "err=%s",
             db_error(S.db, err, sizeof err));
        snprintf(S.db_err, sizeof S.db_err, "%.150s", err);
        /* Never connected: a wrong password, host or database name does
         * not heal; give up after startup_timeout (a service manager
         * shows the failure) rather than retry forever. */
        if (!S.checked && S.cfg->startup_timeout > 0 &&
            now - S.started_at >= S.cfg->startup_timeout)
            snprintf(S.fatal, sizeof S.fatal,
                     "no connection after %gs (startup_timeout): %s",
                     S.cfg->startup_timeout, err);
        db_retry_later(now);
        return;
    }
    /* The first connection: what no retry can fix ends the start. */
    if (!S.checked) {
        char why[sizeof S.fatal];

        if (worker_check_db(S.cfg, S.db, 0, why, sizeof why) != 0) {
            snprintf(S.fatal, sizeof S.fatal, "%s", why);
            return;
        }
        S.checked = 1;
        if (worker_may_maintain(S.cfg, S.db, S.role, sizeof S.role) == 0)
            maintain_stop("its role lacks operate on every queue ('*')");
    }
    rc = txq_schema_check(S.client, S.db);
    if (rc != TXQ_OK && rc != TXQ_ECONN)
        wlog(WLOG_ERROR, "schema check failed", "schema=%s err=%s",
             S.cfg->schema, txq_errmsg(S.client));
    /* Several statements: the simple protocol (no user data here). Behind
     * a pooler a session setting would stay on the server connection for
     * its next clients: none then. */
    if (txq_pooled(S.client, S.db, &pooled) != TXQ_OK)
        pooled = 1;
    if (pooled && S.cfg->listen && !S.pool_warned) {
        S.pool_warned = 1;
        wlog(WLOG_WARN, "a connection pooler is in between",
             "listen=1 hint=\"LISTEN needs session pooling: with "
             "transaction pooling run --no-listen or --pooler=transaction\"");
    }
    if (S.cfg->listen)
        setup = pooled ? "listen txq_wake; listen txq_alert"
                       : "set statement_timeout = 60000;"
                         " listen txq_wake; listen txq_alert";
    else
        setup = pooled ? NULL : "set statement_timeout = 60000";
    if (setup != NULL) {
        r = PQexec(S.db, setup);
        if (r == NULL || PQresultStatus(r) != PGRES_COMMAND_OK) {
            PQclear(r);
            db_lost(now, db_error(S.db, err, sizeof err));
            return;
        }
        PQclear(r);
    }
    wlog(S.db_failures > 0 ? WLOG_INFO : WLOG_DEBUG, "supervisor connected",
         "listen=%d", S.cfg->listen);
    S.db_failures = 0;
    /* Notifications may have been missed while disconnected. */
    for (i = 0; i < S.cfg->nqueues; i++) {
        S.waiters[i].registered = 0;
        S.waiters[i].retry_at = 0;
        wake_queue(i);
    }
    alerts_kick(S.alerts);
}

/* Be a waiter for the queues that have an idle slot, so that sends to
 * them notify. A registration stays until a send takes it (and notifies
 * us): one left when the slots got busy costs a single NOTIFY, so there is
 * nothing to undo. */
static void
sync_waiters(double now)
{
    char sql[128];
    size_t i, j;

    for (i = 0; i < S.cfg->nqueues && S.db != NULL; i++) {
        struct waiter *w = &S.waiters[i];
        const char *name = S.cfg->queues[i].name;
        int idle = 0;
        PGresult *r;

        for (j = 0; j < S.nslots; j++)
            if (!S.slots[j].retired && S.slots[j].qi == i &&
                S.slots[j].pid > 0 && S.slots[j].idle)
                idle = 1;
        if (idle && !w->registered && now >= w->retry_at) {
            snprintf(sql, sizeof sql, "select \"%s\".wait_begin($1)",
                     S.cfg->schema);
            r = db_query(sql, 1, &name, now, "wait_begin", NULL);
            if (r == NULL) {
                w->retry_at = now + 5;
                continue;
            }
            PQclear(r);
            w->registered = 1;
            /* A send that committed before we registered did not notify:
             * have the idle slots look once more. */
            wake_queue(i);
        }
    }
}

static void
maintain(double now)
{
    char sql[200];
    PGresult *r;
    char refused[REFUSED_SIZE];

    S.next_maintain = now + S.cfg->maintain_interval;
    snprintf(sql, sizeof sql,
             "select (m->>'rescued')::int, (m->>'expired')::int, m::text"
             " from \"%s\".maintain() m",
             S.cfg->schema);
    r = db_query(sql, 0, NULL, now, "maintain", refused);
    if (refused[0] != '\0') {
        /* The grant was revoked while running: once, then quiet. */
        maintain_stop(refused);
        return;
    }
    if (r == NULL)
        return;
    if (PQntuples(r) == 1 &&
        (atoi(PQgetvalue(r, 0, 0)) != 0 || atoi(PQgetvalue(r, 0, 1)) != 0))
        wlog(WLOG_INFO, "maintenance", "result:json=%s", PQgetvalue(r, 0, 2));
    PQclear(r);
}

/* Act on the notifications libpq holds. Any query on the connection (a
 * wait_begin, maintain) may have read some in with its result, and poll
 * does not report those: call this after every query. Returns how many. */
static int
dispatch_notifications(void)
{
    PGnotify *n;
    size_t i;
    int count = 0;

    while (S.db != NULL && (n = PQnotifies(S.db)) != NULL) {
        count++;
        if (strcmp(n->relname, "txq_alert") == 0) {
            alerts_kick(S.alerts);
        } else if (strcmp(n->relname, "txq_wake") == 0) {
            for (i = 0; i < S.cfg->nqueues; i++)
                if (strcmp(S.cfg->queues[i].name, n->extra) == 0) {
                    /* The sender took our registration (txq._wake):
                     * while slots stay idle, sync_waiters registers
                     * again. */
                    S.waiters[i].registered = 0;
                    wake_queue(i);
                }
        }
        PQfreemem(n);
    }
    return count;
}

static void
read_notifications(double now)
{
    if (!PQconsumeInput(S.db)) {
        db_lost(now, NULL);
        return;
    }
    (void)dispatch_notifications();
}

/* --- metrics, readiness, the service manager --------------------------- */

/* Depth, ready, dead letters and the oldest ready message's age of the
 * configured queues, from txq.queue_stats (whose cost does not grow with
 * the backlog), every STATS_INTERVAL. It shows the queues the role may
 * monitor (operate includes it): the others get no gauges. */
static void
read_queue_stats(double now)
{
    char sql[400], *list;
    const char *vals[1];
    PGresult *r;
    size_t i, j, len = 3;
    int missing = 0;

    S.next_stats = now + STATS_INTERVAL;
    for (i = 0; i < S.cfg->nqueues; i++)
        len += strlen(S.cfg->queues[i].name) + 3;
    if ((list = malloc(len)) == NULL)
        return;
    /* An array literal (a parameter, not SQL text). Each name in double
     * quotes, so that one spelt NULL stays a name: a queue name holds no
     * " or \ (txq_name_valid). */
    strcpy(list, "{");
    for (i = 0; i < S.cfg->nqueues; i++) {
        if (i > 0)
            strcat(list, ",");
        strcat(list, "\"");
        strcat(list, S.cfg->queues[i].name);
        strcat(list, "\"");
    }
    strcat(list, "}");
    vals[0] = list;
    snprintf(sql, sizeof sql,
             "select queue, depth, ready, dead,"
             " coalesce(extract(epoch from oldest_ready_age), 0)::float8,"
             " estimated::int"
             " from \"%s\".queue_stats where queue = any($1::text[])",
             S.cfg->schema);
    r = db_query(sql, 1, vals, now, "queue_stats", NULL);
    free(list);
    if (r == NULL)
        return;
    for (i = 0; i < S.nmq; i++)
        S.mq[i].have_stats = 0;
    for (j = 0; j < (size_t)PQntuples(r); j++)
        for (i = 0; i < S.nmq; i++) {
            metrics_queue *q = &S.mq[i];

            if (strcmp(q->name, PQgetvalue(r, (int)j, 0)) != 0)
                continue;
            q->have_stats = 1;
            q->depth = atof(PQgetvalue(r, (int)j, 1));
            q->ready = atof(PQgetvalue(r, (int)j, 2));
            q->dead_letters = atof(PQgetvalue(r, (int)j, 3));
            q->oldest_ready_age = atof(PQgetvalue(r, (int)j, 4));
            q->estimated = atoi(PQgetvalue(r, (int)j, 5));
        }
    missing = (size_t)PQntuples(r) < S.cfg->nqueues;
    PQclear(r);
    S.stats_at = now;
    if (missing && !S.stats_hinted) {
        S.stats_hinted = 1;
        wlog(WLOG_INFO, "no queue gauges for some queues",
             "hint=\"txq.queue_stats shows the queues the role may monitor: "
             "grant it monitor on them for txq_worker_queue_* metrics\"");
    }
}

/* Whether the worker is ready: connected, and every queue has a consumer
 * connected with its handler prepared. If not, why into why. */
static int
compute_ready(char *why, size_t size)
{
    size_t i, j;

    why[0] = '\0';
    if (S.draining) {
        snprintf(why, size, "draining");
        return 0;
    }
    if (S.db == NULL) {
        snprintf(why, size, "supervisor not connected%s%s",
                 S.db_err[0] ? ": " : "", S.db_err);
        return 0;
    }
    for (i = 0; i < S.cfg->nqueues; i++) {
        int ok = 0;

        for (j = 0; j < S.nslots && !ok; j++) {
            struct slot *sl = &S.slots[j];

            ok = !sl->retired && sl->qi == i && sl->pid > 0 &&
                 sl->shared != NULL && atomic_load(&sl->shared->connected);
        }
        if (!ok) {
            snprintf(why, size, "queue %s: no consumer connected",
                     S.cfg->queues[i].name);
            return 0;
        }
    }
    return 1;
}

/* Sum the totals and the live pages, publish them to the HTTP thread. */
static void
publish_metrics(double now, int ready, const char *why)
{
    metrics_state st;
    metrics_queue *q;
    size_t i, k;

    if (!metrics_running() || S.nmq == 0)
        return;
    if ((q = malloc(S.nmq * sizeof *q)) == NULL)
        return;
    memcpy(q, S.mq, S.nmq * sizeof *q);
    for (i = 0; i < S.nslots; i++) {
        struct slot *sl = &S.slots[i];
        metrics_queue *mq = &q[sl->mi];

        if (sl->shared != NULL)
            for (k = 0; k < MC_COUNT; k++)
                mq->v[k] += atomic_load(&sl->shared->counts.v[k]);
        if (sl->retired)
            continue;
        mq->consumers++;
        if (sl->pid > 0 && sl->shared != NULL &&
            atomic_load(&sl->shared->connected))
            mq->connected++;
    }
    memset(&st, 0, sizeof st);
    st.queues = q;
    st.nqueues = S.nmq;
    st.supervisor_connected = S.db != NULL;
    st.ready = ready;
    snprintf(st.not_ready, sizeof st.not_ready, "%s", why);
    st.stats_age = S.stats_at > 0 ? now - S.stats_at : -1;
    metrics_publish(&st);
    free(q);
}

/* Once per loop round: readiness to the metrics and the service manager
 * (READY=1 when due, STATUS= when it changed, the watchdog's ping). */
static void
service_round(double now)
{
    char why[256], status[300];
    size_t i, total = 0, connected = 0;
    int ready = compute_ready(why, sizeof why);

    for (i = 0; i < S.nslots; i++)
        if (!S.slots[i].retired) {
            total++;
            connected += S.slots[i].pid > 0 && S.slots[i].shared != NULL &&
                         atomic_load(&S.slots[i].shared->connected);
        }
    if (ready)
        snprintf(status, sizeof status,
                 "ready: %zu queue(s), %zu of %zu consumers connected",
                 S.cfg->nqueues, connected, total);
    else
        snprintf(status, sizeof status, "not ready: %s", why);
    if (ready && S.ready_pending) {
        S.ready_pending = 0;
        svc_ready(status);
        wlog(WLOG_INFO, "ready", "queues=%zu consumers=%zu", S.cfg->nqueues,
             total);
    } else {
        svc_status(status);
    }
    S.ready = ready;
    if (S.wd_interval > 0 && now >= S.next_wd) {
        svc_watchdog();
        S.next_wd = now + S.wd_interval;
    }
    publish_metrics(now, ready, why);
}

/* --- reload and shutdown ----------------------------------------------- */

static void
keep_str(char **neu, char *const *old)
{
    free(*neu);
    *neu = strdup(*old != NULL ? *old : "");
}

static void
reload(void)
{
    worker_cfg *n = malloc(sizeof *n);
    const char *key;
    char err[1024];
    size_t i;

    if (n == NULL || config_load(n, S.path, S.ov, S.nov, err, sizeof err)) {
        wlog(WLOG_ERROR, "reload failed; keeping the current settings",
             "err=%s", n == NULL ? "out of memory" : err);
        free(n);
        return;
    }
    while ((key = config_reload_check(S.cfg, n)) != NULL) {
        wlog(WLOG_WARN, "setting needs a restart; keeping its old value",
             "key=%s", key);
        if (strcmp(key, "db") == 0)
            keep_str(&n->db, &S.cfg->db);
        else if (strcmp(key, "schema") == 0)
            keep_str(&n->schema, &S.cfg->schema);
        else if (strcmp(key, "listen") == 0)
            n->listen = S.cfg->listen;
        else if (strcmp(key, "metrics_listen") == 0)
            keep_str(&n->metrics_listen, &S.cfg->metrics_listen);
        else
            break;
    }
    wlog_set_format(n->log_format);
    wlog_set_level(n->log_level);
    if (config_queues_equal(S.cfg, n)) {
        /* Same consumers: the rest applies at once. */
        config_free(S.cfg);
        free(S.cfg);
        S.cfg = n;
        wlog(WLOG_INFO, "configuration reloaded", "consumers=unchanged");
        return;
    }
    /* New consumers: the old ones drain, new ones start now. */
    for (i = 0; i < S.nslots; i++) {
        S.slots[i].retired = 1;
        if (S.slots[i].pid > 0)
            kill(S.slots[i].pid, SIGTERM);
    }
    config_free(S.cfg);
    free(S.cfg);
    S.cfg = n;
    if (add_slots() != 0)
        wlog(WLOG_ERROR, "out of memory", "what=reload");
    wlog(WLOG_INFO, "configuration reloaded", "consumers=restarted");
}

static int
stop_now(const char *why)
{
    size_t i;

    wlog(WLOG_WARN, "immediate exit", "reason=%s", why);
    svc_stopping();
    signal_slots(SIGKILL);
    alerts_timeouts(S.alerts, now_mono(), 1);
    for (i = 0; i < S.nslots; i++)
        if (S.slots[i].pid > 0)
            while (waitpid(S.slots[i].pid, NULL, 0) < 0 && errno == EINTR)
                ;
    return EXIT_FATAL;
}

/* --- the loop ---------------------------------------------------------- */

static double
min_d(double a, double b)
{
    return a < b ? a : b;
}

static int
loop(void)
{
    for (;;) {
        double now = now_mono(), timeout = 1.0;
        struct pollfd *pfd;
        size_t i, n = 0, running = 0;
        int db_fd = -1;

        if (sig_quit || sig_term >= 2)
            return stop_now(sig_quit ? "SIGQUIT" : "second signal");
        if (sig_term == 1 && !S.draining) {
            S.draining = 1;
            S.drain_deadline = now + S.cfg->drain_timeout;
            wlog(WLOG_INFO, "draining", "timeout_s=%g", S.cfg->drain_timeout);
            svc_stopping();
            signal_slots(SIGTERM);
        }
        if (sig_chld) {
            sig_chld = 0;
            reap(now);
        }
        if (sig_hup) {
            sig_hup = 0;
            if (!S.draining) {
                svc_reloading();
                reload();
                S.ready_pending = 1; /* READY=1 again once ready */
            }
        }
        if (S.db != NULL)
            release_pending(now);
        compact_slots();
        for (i = 0; i < S.nslots; i++)
            running += S.slots[i].pid > 0;

        if (S.draining) {
            if (running == 0 && !alerts_running(S.alerts)) {
                wlog(WLOG_INFO, "drained; exiting", "pid=%ld", (long)getpid());
                return EXIT_OK;
            }
            if (now >= S.drain_deadline)
                return stop_now("drain timeout");
            timeout = min_d(timeout, S.drain_deadline - now);
        } else {
            for (i = 0; i < S.nslots; i++) {
                struct slot *sl = &S.slots[i];

                if (sl->pid == 0 && !sl->retired && S.checked) {
                    if (now >= sl->restart_at)
                        start_slot(sl, now);
                    else
                        timeout = min_d(timeout, sl->restart_at - now);
                }
            }
            if (S.db == NULL && now >= S.db_retry_at)
                db_open(now);
            /* Only before the checks passed, so no consumer runs. */
            if (S.fatal[0] != '\0') {
                wlog(WLOG_ERROR, "cannot start", "err=%s", S.fatal);
                return EXIT_FATAL;
            }
            if (S.db != NULL && !S.maintain_off && now >= S.next_maintain)
                maintain(now);
            if (S.db != NULL && alerts_poll(S.alerts, S.db, S.cfg, now) != 0)
                db_lost(now, NULL);
            if (S.db != NULL && metrics_running() && now >= S.next_stats)
                read_queue_stats(now);
            /* Last, after the other queries: a wake that came in with a
             * query's result took our waiter row, so register again
             * before sleeping, until no more came in meanwhile (a few
             * passes at most; then come straight back, since poll does
             * not report what libpq already read). */
            if (S.db != NULL && S.cfg->listen) {
                int pass = 0;

                do
                    sync_waiters(now);
                while (dispatch_notifications() > 0 && ++pass < 8);
                if (pass == 8)
                    timeout = 0;
            }
            if (S.db == NULL)
                timeout = min_d(timeout, S.db_retry_at - now);
            else if (!S.maintain_off)
                timeout = min_d(timeout, S.next_maintain - now);
            timeout = min_d(timeout, alerts_due(S.alerts, S.cfg, now));
            if (metrics_running() && S.db != NULL)
                timeout = min_d(timeout, S.next_stats - now);
        }
        alerts_timeouts(S.alerts, now, 0);
        service_round(now);
        if (S.wd_interval > 0)
            timeout = min_d(timeout, S.next_wd - now);

        pfd = calloc(S.nslots + 2, sizeof *pfd);
        if (pfd == NULL)
            return stop_now("out of memory");
        pfd[n].fd = sig_pipe[0];
        pfd[n++].events = POLLIN;
        if (S.db != NULL && S.cfg->listen && PQsocket(S.db) >= 0) {
            db_fd = (int)n;
            pfd[n].fd = PQsocket(S.db);
            pfd[n++].events = POLLIN;
        }
        for (i = 0; i < S.nslots; i++) {
            pfd[n].fd = S.slots[i].fd; /* -1 is ignored by poll */
            pfd[n++].events = POLLIN;
        }
        if (timeout < 0.001)
            timeout = 0.001;
        if (poll(pfd, n, (int)(timeout * 1000) + 1) > 0) {
            now = now_mono();
            if (pfd[0].revents)
                drain_fd(sig_pipe[0]);
            for (i = 0; i < S.nslots; i++) {
                struct slot *sl = &S.slots[i];
                struct pollfd *p = &pfd[n - S.nslots + i];
                char buf[64];
                ssize_t r, k;

                if (p->fd < 0 || !p->revents || sl->fd != p->fd)
                    continue;
                r = read(sl->fd, buf, sizeof buf);
                if (r == 0) {
                    close(sl->fd);
                    sl->fd = -1;
                    sl->idle = 0;
                }
                for (k = 0; k < r; k++)
                    if (buf[k] == MSG_IDLE)
                        sl->idle = 1;
                    else if (buf[k] == MSG_BUSY)
                        sl->idle = 0;
            }
            if (db_fd >= 0 && pfd[db_fd].revents && S.db != NULL)
                read_notifications(now);
        }
        free(pfd);
    }
}

int
supervisor_run(worker_cfg *cfg,
               const char *path,
               const cfg_override *ov,
               size_t nov)
{
    txq_options copts = TXQ_OPTIONS_INIT;
    size_t i;
    int code;

    S.cfg = cfg;
    S.path = path;
    S.ov = ov;
    S.nov = nov;
    copts.schema = cfg->schema;
    if (pipe(sig_pipe) != 0 || (S.alerts = alerts_new()) == NULL ||
        (S.client = txq_client_new(&copts)) == NULL || add_slots() != 0 ||
        txq_client_set_pooler(S.client, config_pooler(cfg->pooler)) != TXQ_OK) {
        wlog(WLOG_ERROR, "cannot start", "err=%s", strerror(errno));
        code = EXIT_FATAL;
        goto out;
    }
    fd_cloexec(sig_pipe[0]);
    fd_cloexec(sig_pipe[1]);
    fd_nonblock(sig_pipe[0]);
    fd_nonblock(sig_pipe[1]);
    /* Transaction pooling: a LISTEN would stay on whichever server
     * connection ran it (notifications reach its next clients, or make
     * the pooler drop it). Poll instead. */
    if (config_pooler(cfg->pooler) == TXQ_POOLER_TRANSACTION && cfg->listen) {
        wlog(WLOG_INFO, "no LISTEN through a transaction pooler", "pooler=%s",
             cfg->pooler);
        cfg->listen = 0;
    }
    if (install_signals() != 0) {
        wlog(WLOG_ERROR, "cannot install signal handlers", "err=%s",
             strerror(errno));
        code = EXIT_FATAL;
        goto out;
    }
    S.started_at = now_mono();
    S.ready_pending = 1;
    S.wd_interval = svc_init();
    S.next_wd = S.started_at;
    if (cfg->metrics_listen[0] != '\0') {
        char err[512];

        if (metrics_start(cfg->metrics_listen, err, sizeof err) != 0) {
            wlog(WLOG_ERROR, "cannot start", "err=%s", err);
            code = EXIT_FATAL;
            goto out;
        }
    }
    wlog(WLOG_INFO, "txq-worker started",
         "version=%s pid=%ld queues=%zu consumers=%zu schema=%s listen=%d "
         "pooler=%s",
         txq_version(), (long)getpid(), cfg->nqueues, S.nslots, cfg->schema,
         cfg->listen, cfg->pooler);
    code = loop();
out:
    metrics_stop();
    PQfinish(S.db);
    txq_client_free(S.client);
    alerts_free(S.alerts);
    for (i = 0; i < S.nslots; i++) {
        if (S.slots[i].fd >= 0)
            close(S.slots[i].fd);
        free(S.slots[i].queue);
    }
    free(S.slots);
    free(S.waiters);
    free(S.mq);
    config_free(S.cfg);
    free(S.cfg);
    return code;
}
