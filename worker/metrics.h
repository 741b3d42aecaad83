/*
 * metrics.h - txq-worker's Prometheus endpoint (/metrics) and health
 * endpoints (/healthz, /readyz), served by libmicrohttpd, and the counters
 * the consumer processes keep for it.
 *
 * Who counts what: each consumer process adds its messages to counters in
 * its slot's shared page (metrics_observe); the supervisor sums the pages
 * of its slots, plus what slots that are gone had counted, into one
 * metrics_state per loop round (metrics_publish); the HTTP thread renders
 * the latest state published (metrics_render). See supervisor.c for why
 * shared memory.
 */
#ifndef TXQ_WORKER_METRICS_H
#define TXQ_WORKER_METRICS_H

#include <stddef.h>

#include "txq.h"

#include "promtext.h"

/* Indexes of a queue's counters. */
enum metrics_counter {
    MC_PROCESSED = 0, /* events: the handler ran, or the message failed */
    MC_ACKED,         /* the handler succeeded and the ack committed */
    MC_RETRIED,       /* failed, back on the queue after the backoff */
    MC_DEAD,          /* dead-lettered (review, or notify) */
    MC_IGNORED,       /* dropped: the handler said ignore, or the policy */
    MC_DURATION_US,   /* the histogram's sum, microseconds */
    MC_BUCKET,        /* PROM_NBUCKETS + 1 per-bucket (not cumulative)
                         counts, the last for +Inf */
    MC_COUNT = MC_BUCKET + PROM_NBUCKETS + 1
};

/* What one consumer process counted, in its slot's shared page: written
 * by the consumer only, read by the supervisor. */
typedef struct metrics_counts {
    _Atomic long long v[MC_COUNT];
} metrics_counts;

/* metrics_observe - count one message's outcome (a consumer's event_fn). */
void metrics_observe(metrics_counts *c, const txq_consumer_event *ev);

/* One queue, as published. */
typedef struct metrics_queue {
    char name[81]; /* a queue name: at most 80 characters */
    long long v[MC_COUNT];
    long long restarts; /* consumers restarted after an unexpected exit */
    int consumers;      /* consumer processes configured (slots) */
    int connected;      /* of them: connected, handler prepared */
    int have_stats;     /* queue_stats gave a row (the role may monitor) */
    double depth, ready, dead_letters, oldest_ready_age;
    int estimated;
} metrics_queue;

/* The whole worker, as published. */
typedef struct metrics_state {
    metrics_queue *queues;
    size_t nqueues;
    int supervisor_connected;
    int ready;
    char not_ready[256]; /* why not ready; "" */
    double stats_age;    /* seconds since queue_stats was read; -1: never */
} metrics_state;

/*
 * metrics_start - listen on listen (a metrics_listen value) and serve in a
 * thread of the supervisor's. Logs where it listens. Returns 0, or -1 with
 * the problem in err.
 */
int metrics_start(const char *listen, char *err, size_t errsize);

/* metrics_running - whether metrics_start succeeded. */
int metrics_running(void);

/* metrics_publish - the state the endpoints serve from now on (copied);
 * also marks the supervisor's loop alive for /healthz. */
int metrics_publish(const metrics_state *st);

/* metrics_close_in_child - in a forked consumer: close the listening
 * socket (the child serves nothing, and must not keep the port). */
void metrics_close_in_child(void);

/* metrics_stop - stop serving and free. Safe when not started. */
void metrics_stop(void);

/*
 * metrics_render - the Prometheus text exposition (format 0.0.4) of st,
 * malloc'd (NUL-terminated, length in *len), or NULL when out of memory.
 */
char *metrics_render(const metrics_state *st, size_t *len);

#endif /* TXQ_WORKER_METRICS_H */
