/*
 * metrics.c - /metrics (Prometheus text format 0.0.4), /healthz and
 * /readyz over HTTP with libmicrohttpd, in a thread of the supervisor's
 * (see metrics.h); the listener and the text helpers are shared with
 * txq-sqs (promhttp.c, promtext.c).
 *
 * Why a thread, when the rest of the worker is one poll loop per process:
 * the supervisor's loop blocks in libpq now and then (a connection attempt
 * waits up to connect_timeout, maintain() up to its statement_timeout),
 * and a scrape or a probe must not time out meanwhile. The thread touches
 * nothing of the supervisor's but the state it published, copied under a
 * mutex; the loop publishes every round (at least once a second). It is
 * started with every signal blocked, so signals still reach the loop's
 * handlers; a consumer forked meanwhile gets only the forking thread, and
 * closes the listening socket first thing (metrics_close_in_child).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <microhttpd.h>

#include "metrics.h"
#include "promhttp.h"
#include "promtext.h"
#include "util.h"

/* /healthz fails when the supervisor's loop has not come round for this
 * long: longer than anything it may block in (a connection attempt, a
 * statement under its 60 s timeout). */
#define STALL_SECONDS 120.0

static struct {
    struct MHD_Daemon *daemon;
    pthread_mutex_t mu;
    metrics_state st;             /* the last published; queues owned */
    double published;             /* now_mono() of the last publish; 0: never */
    struct MHD_Daemon *in_parent; /* a consumer: the parent's, kept (the
                                     memory is still reachable) but not
                                     used */
} M = {NULL, PTHREAD_MUTEX_INITIALIZER, {NULL, 0, 0, 0, "", -1}, 0, NULL};

/* --- counting, in a consumer --------------------------------------------- */

void
metrics_observe(metrics_counts *c, const txq_consumer_event *ev)
{
    double s = ev->seconds > 0 ? ev->seconds : 0;
    size_t b;

    atomic_fetch_add_explicit(&c->v[MC_PROCESSED], 1, memory_order_relaxed);
    if (ev->acked)
        atomic_fetch_add_explicit(
            &c->v[ev->result == TXQ_HANDLER_IGNORE ? MC_IGNORED : MC_ACKED], 1,
            memory_order_relaxed);
    else if (ev->outcome == TXQ_OUTCOME_RETRY)
        atomic_fetch_add_explicit(&c->v[MC_RETRIED], 1, memory_order_relaxed);
    else if (ev->outcome == TXQ_OUTCOME_DEAD ||
             ev->outcome == TXQ_OUTCOME_NOTIFIED ||
             ev->outcome == TXQ_OUTCOME_MOVED)
        atomic_fetch_add_explicit(&c->v[MC_DEAD], 1, memory_order_relaxed);
    else if (ev->outcome == TXQ_OUTCOME_IGNORED)
        atomic_fetch_add_explicit(&c->v[MC_IGNORED], 1, memory_order_relaxed);
    b = prom_bucket_of(s);
    atomic_fetch_add_explicit(&c->v[MC_BUCKET + b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&c->v[MC_DURATION_US], (long long)(s * 1e6),
                              memory_order_relaxed);
}

/* --- rendering ----------------------------------------------------------- */

/* One counter or gauge of every queue: counter is the index of a counter,
 * or -1 for the value of get (where get gives a negative value, the queue
 * is left out). */
static void
per_queue(prom_buf *b,
          const metrics_state *st,
          const char *name,
          const char *type,
          const char *help,
          int counter,
          double (*get)(const metrics_queue *))
{
    size_t i;

    prom_head(b, name, type, help);
    for (i = 0; i < st->nqueues; i++) {
        const metrics_queue *q = &st->queues[i];

        if (counter >= 0)
            prom_printf(b, "%s{queue=\"%s\"} %lld\n", name, q->name,
                        q->v[counter]);
        else if (get != NULL && (get(q) >= 0))
            prom_printf(b, "%s{queue=\"%s\"} %.15g\n", name, q->name, get(q));
    }
}

/* The values per_queue takes with get; -1: no queue_stats row. */
static double
g_consumers(const metrics_queue *q)
{
    return q->consumers;
}

static double
g_connected(const metrics_queue *q)
{
    return q->connected;
}

static double
g_restarts(const metrics_queue *q)
{
    return (double)q->restarts;
}

static double
g_depth(const metrics_queue *q)
{
    return q->have_stats ? q->depth : -1;
}

static double
g_ready(const metrics_queue *q)
{
    return q->have_stats ? q->ready : -1;
}

static double
g_dead(const metrics_queue *q)
{
    return q->have_stats ? q->dead_letters : -1;
}

static double
g_age(const metrics_queue *q)
{
    return q->have_stats ? q->oldest_ready_age : -1;
}

static double
g_estimated(const metrics_queue *q)
{
    return q->have_stats ? q->estimated : -1;
}

char *
metrics_render(const metrics_state *st, size_t *len)
{
    static const char *const hist = "txq_worker_handler_duration_seconds";
    prom_buf b;
    size_t i, k;

    if (prom_buf_init(&b) != 0)
        return NULL;
    prom_head(&b, "txq_worker_info", "gauge",
              "txq-worker's version, as a label (the value is always 1).");
    prom_printf(&b, "txq_worker_info{version=\"%s\"} 1\n", txq_version());
    prom_head(&b, "txq_worker_ready", "gauge",
              "1 when the worker is ready (as /readyz): the supervisor is "
              "connected and every queue has a consumer connected with its "
              "handler prepared.");
    prom_printf(&b, "txq_worker_ready %d\n", st->ready);
    prom_head(&b, "txq_worker_supervisor_connected", "gauge",
              "1 while the supervisor's own connection (LISTEN, maintain(), "
              "queue statistics) is up.");
    prom_printf(&b, "txq_worker_supervisor_connected %d\n",
                st->supervisor_connected);
    per_queue(&b, st, "txq_worker_consumers", "gauge",
              "Consumer processes configured for the queue.", -1, g_consumers);
    per_queue(&b, st, "txq_worker_consumers_connected", "gauge",
              "Consumer processes of the queue connected, with the handler "
              "prepared.",
              -1, g_connected);
    per_queue(&b, st, "txq_worker_consumer_restarts_total", "counter",
              "Consumer processes restarted after an unexpected exit.", -1,
              g_restarts);
    per_queue(&b, st, "txq_worker_messages_processed_total", "counter",
              "Messages handled (every outcome, also those not recorded).",
              MC_PROCESSED, NULL);
    per_queue(&b, st, "txq_worker_messages_acked_total", "counter",
              "Messages handled successfully and acked.", MC_ACKED, NULL);
    per_queue(&b, st, "txq_worker_messages_retried_total", "counter",
              "Failed messages put back for another attempt.", MC_RETRIED,
              NULL);
    per_queue(&b, st, "txq_worker_messages_dead_lettered_total", "counter",
              "Failed messages moved to the dead letters (review or notify).",
              MC_DEAD, NULL);
    per_queue(&b, st, "txq_worker_messages_ignored_total", "counter",
              "Messages dropped: the handler said ignore, or the queue's "
              "policy ignores exhausted messages.",
              MC_IGNORED, NULL);

    prom_head(&b, hist, "histogram",
              "Time in the handler per message (a sql: handler's until its "
              "statements, the ack and the commit came back).");
    for (i = 0; i < st->nqueues; i++) {
        const metrics_queue *q = &st->queues[i];
        long long cum = 0;

        for (k = 0; k <= PROM_NBUCKETS; k++) {
            cum += q->v[MC_BUCKET + k];
            if (k < PROM_NBUCKETS)
                prom_printf(&b, "%s_bucket{queue=\"%s\",le=\"%g\"} %lld\n",
                            hist, q->name, prom_bucket_le[k], cum);
            else
                prom_printf(&b, "%s_bucket{queue=\"%s\",le=\"+Inf\"} %lld\n",
                            hist, q->name, cum);
        }
        prom_printf(&b, "%s_sum{queue=\"%s\"} %.6f\n", hist, q->name,
                    (double)q->v[MC_DURATION_US] / 1e6);
        prom_printf(&b, "%s_count{queue=\"%s\"} %lld\n", hist, q->name, cum);
    }

    per_queue(&b, st, "txq_worker_queue_depth", "gauge",
              "Messages in the queue (ready, delayed, in flight, retrying), "
              "from txq.queue_stats.",
              -1, g_depth);
    per_queue(&b, st, "txq_worker_queue_ready", "gauge",
              "Messages ready to be claimed, from txq.queue_stats.", -1,
              g_ready);
    per_queue(&b, st, "txq_worker_queue_dead_letters", "gauge",
              "Dead letters of the queue, from txq.queue_stats.", -1, g_dead);
    per_queue(&b, st, "txq_worker_queue_oldest_ready_age_seconds", "gauge",
              "Age of the oldest ready message (0: none), from "
              "txq.queue_stats.",
              -1, g_age);
    per_queue(&b, st, "txq_worker_queue_stats_estimated", "gauge",
              "1 when txq.queue_stats scaled its counts from a sample (a "
              "large backlog).",
              -1, g_estimated);
    if (st->stats_age >= 0) {
        prom_head(&b, "txq_worker_queue_stats_age_seconds", "gauge",
                  "Seconds since the queue gauges were read from "
                  "txq.queue_stats.");
        prom_printf(&b, "txq_worker_queue_stats_age_seconds %.3f\n",
                    st->stats_age);
    }
    if (b.failed) {
        free(b.p);
        return NULL;
    }
    *len = b.len;
    return b.p;
}

/* --- serving ------------------------------------------------------------- */

static enum MHD_Result
on_request(void *cls,
           struct MHD_Connection *conn,
           const char *url,
           const char *method,
           const char *version,
           const char *upload_data,
           size_t *upload_data_size,
           void **con_cls)
{
    char text[384];
    unsigned int status = MHD_HTTP_OK;
    double stalled;

    (void)cls;
    (void)version;
    (void)upload_data;
    (void)upload_data_size;
    (void)con_cls;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return prom_respond_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
                                 "only GET and HEAD\n");
    if (strcmp(url, "/metrics") == 0) {
        char *body;
        size_t len = 0;

        pthread_mutex_lock(&M.mu);
        body = metrics_render(&M.st, &len);
        pthread_mutex_unlock(&M.mu);
        return prom_respond_metrics(conn, body, len);
    }
    pthread_mutex_lock(&M.mu);
    stalled = M.published > 0 ? now_mono() - M.published : 0;
    if (strcmp(url, "/healthz") == 0) {
        if (stalled > STALL_SECONDS) {
            status = MHD_HTTP_SERVICE_UNAVAILABLE;
            snprintf(text, sizeof text, "supervisor loop stalled for %.0f s\n",
                     stalled);
        } else {
            snprintf(text, sizeof text, "ok\n");
        }
    } else if (strcmp(url, "/readyz") == 0) {
        if (M.published == 0) {
            status = MHD_HTTP_SERVICE_UNAVAILABLE;
            snprintf(text, sizeof text, "starting\n");
        } else if (!M.st.ready) {
            status = MHD_HTTP_SERVICE_UNAVAILABLE;
            snprintf(text, sizeof text, "not ready: %s\n", M.st.not_ready);
        } else {
            snprintf(text, sizeof text, "ready\n");
        }
    } else if (strcmp(url, "/") == 0) {
        snprintf(text, sizeof text, "txq-worker: /metrics /healthz /readyz\n");
    } else {
        status = MHD_HTTP_NOT_FOUND;
        snprintf(text, sizeof text, "not found; try /metrics\n");
    }
    pthread_mutex_unlock(&M.mu);
    return prom_respond_text(conn, status, text);
}

int
metrics_start(const char *listen, char *err, size_t errsize)
{
    M.daemon = prom_http_start(listen, on_request, NULL, err, errsize);
    return M.daemon != NULL ? 0 : -1;
}

int
metrics_running(void)
{
    return M.daemon != NULL;
}

int
metrics_publish(const metrics_state *st)
{
    metrics_queue *q = NULL;

    if (M.daemon == NULL)
        return 0;
    if (st->nqueues > 0) {
        q = malloc(st->nqueues * sizeof *q);
        if (q == NULL)
            return -1;
        memcpy(q, st->queues, st->nqueues * sizeof *q);
    }
    pthread_mutex_lock(&M.mu);
    free(M.st.queues);
    M.st = *st;
    M.st.queues = q;
    M.published = now_mono();
    pthread_mutex_unlock(&M.mu);
    return 0;
}

void
metrics_close_in_child(void)
{
    const union MHD_DaemonInfo *info;

    if (M.daemon == NULL)
        return;
    info = MHD_get_daemon_info(M.daemon, MHD_DAEMON_INFO_LISTEN_FD);
    if (info != NULL && info->listen_fd >= 0)
        close(info->listen_fd);
    /* The daemon's memory stays as it is: its thread is not here. */
    M.in_parent = M.daemon;
    M.daemon = NULL;
}

void
metrics_stop(void)
{
    if (M.daemon != NULL)
        MHD_stop_daemon(M.daemon);
    M.daemon = NULL;
    pthread_mutex_lock(&M.mu);
    free(M.st.queues);
    M.st.queues = NULL;
    M.st.nqueues = 0;
    pthread_mutex_unlock(&M.mu);
}
