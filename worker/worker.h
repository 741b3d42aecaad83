/*
 * worker.h - the parts of txq-worker's process model: the supervisor (the
 * main process: signals, children, LISTEN, maintenance, alerts) and the
 * consumer children (one per queue slot, each with its own connection).
 */
#ifndef TXQ_WORKER_WORKER_H
#define TXQ_WORKER_WORKER_H

#include <stddef.h>
#include <sys/types.h>

#include <libpq-fe.h>

#include "config.h"
#include "metrics.h"

/* Exit codes (docs/worker.md, "Signals, exit codes, logs"), plus the one a
 * consumer child uses when its handler cannot be loaded. */
#define EXIT_OK        0
#define EXIT_FATAL     1
#define EXIT_USAGE     2
#define EXIT_CHILD_CFG 78

/* Bytes on the socket between supervisor and child. */
#define MSG_IDLE  'i' /* child -> supervisor: the queue was empty */
#define MSG_BUSY  'b' /* child -> supervisor: it got messages again */
#define MSG_WAKE  'w' /* supervisor -> child: a send was notified */
#define MSG_READY 'r' /* child -> supervisor: its connected flag changed */

/*
 * supervisor_run - run the daemon until it is stopped. cfg is owned by the
 * supervisor from here on (replaced on reload). path and ov are kept for
 * SIGHUP reloads.
 * Returns the process exit code.
 */
int supervisor_run(worker_cfg *cfg,
                   const char *path,
                   const cfg_override *ov,
                   size_t nov);

/*
 * What a consumer process shares with the supervisor, in a page mapped
 * MAP_SHARED before the fork: its session's backend pid and the message in
 * its handler. When the process dies, the supervisor gives back the claims
 * it had not started (txq.release_unstarted), so a crashing handler costs
 * an attempt of its own message only, not of the whole prefetched batch;
 * and a process that handled messages before it died is restarted at once.
 * Also its state and counts for the metrics and readiness (metrics.h):
 * whether it is connected with its handler prepared, and what it handled,
 * counted up across its restarts (the page outlives the process).
 */
typedef struct consumer_shared {
    _Atomic int backend_pid;   /* of its connection; 0: none yet */
    _Atomic long long in_hand; /* id of the message in the handler; 0 */
    _Atomic long long handled; /* messages done since the fork */
    _Atomic int connected;     /* connected, handler prepared */
    metrics_counts counts;     /* never reset while the page lives */
} consumer_shared;

/*
 * child_main - a consumer process for queue q: connect (with backoff),
 * load the handler, run the consume loop; sock is its end of the socket to
 * the supervisor, shared its page (see above). Returns the exit code.
 */
int child_main(const worker_cfg *cfg,
               const queue_cfg *q,
               int sock,
               consumer_shared *shared);

/*
 * worker_check_db - check on pg what no retry can fix (check.c): the
 * schema at this build's version, every queue of cfg present, pg's role
 * holding receive on it (txq.privileges), every handler ready
 * (handler_verify; load: also load so: objects). Returns 0, or -1 with
 * every problem found in err, separated by "; ".
 */
int worker_check_db(
    const worker_cfg *cfg, PGconn *pg, int load, char *err, size_t errsize);

/*
 * worker_may_maintain - whether pg's role holds operate on every queue
 * ('*'), which txq.maintain() needs; the role's name into role.
 * Returns 1 or 0, or -1 when it could not be asked (then try maintain()
 * and see).
 */
int worker_may_maintain(const worker_cfg *cfg,
                        PGconn *pg,
                        char *role,
                        size_t rolesize);

/* === alert.c: delivery of notify-policy alerts to notify_command === */

typedef struct alerts alerts;

alerts *alerts_new(void);
void alerts_free(alerts *a);

/* A NOTIFY txq_alert arrived (or may have been missed): look soon. */
void alerts_kick(alerts *a);

/*
 * alerts_poll - when a command may run, take the undelivered alerts of one
 * queue (marking them delivered) and start notify_command for them.
 * db is the supervisor's connection. Returns 0, or -1 when the connection
 * failed (the caller reconnects).
 */
int alerts_poll(alerts *a, PGconn *db, const worker_cfg *cfg, double now);

/* Seconds until alerts_poll has something to do (a large value if not). */
double alerts_due(const alerts *a, const worker_cfg *cfg, double now);

/* A child exited: returns 1 when it was the alert command (and logs). */
int alerts_reaped(alerts *a, pid_t pid, int status);

/* Kill an overrunning command; with force, kill it whatever its time. */
void alerts_timeouts(alerts *a, double now, int force);

/* Whether a command is running. */
int alerts_running(const alerts *a);

#endif /* TXQ_WORKER_WORKER_H */
