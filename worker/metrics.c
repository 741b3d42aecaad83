/*
 * metrics.c - /metrics (Prometheus text format 0.0.4), /healthz and
 * /readyz over HTTP with libmicrohttpd, in a thread of the supervisor's
 * (see metrics.h).
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
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "config.h"
#include "log.h"
#include "metrics.h"
#include "util.h"

/* /healthz fails when the supervisor's loop has not come round for this
 * long: longer than anything it may block in (a connection attempt, a
 * statement under its 60 s timeout). */
#define STALL_SECONDS 120.0

const double metrics_bucket_le[METRICS_NBUCKETS] = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
    0.5,   1,      2.5,   5,    10,    30,   60};

static struct {
    struct MHD_Daemon *daemon;
    pthread_mutex_t mu;
    metrics_state st; /* the last published; queues owned */
    double published; /* now_mono() of the last publish; 0: never */
    char last_error[256];
    struct MHD_Daemon *in_parent; /* a consumer: the parent's, kept (the
                                     memory is still reachable) but not
                                     used */
} M = {NULL, PTHREAD_MUTEX_INITIALIZER, {NULL, 0, 0, 0, "", -1}, 0, "", NULL};

/* --- counting, in a consumer --------------------------------------------- */

void
metrics_observe(metrics_counts *c, const txq_consumer_event *ev)
{
    double s = ev->seconds > 0 ? ev->seconds : 0;
    size_t b = 0;

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
    while (b < METRICS_NBUCKETS && s > metrics_bucket_le[b])
        b++;
    atomic_fetch_add_explicit(&c->v[MC_BUCKET + b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&c->v[MC_DURATION_US], (long long)(s * 1e6),
                              memory_order_relaxed);
}

/* --- rendering ----------------------------------------------------------- */

struct buf {
    char *p;
    size_t len, cap;
    int failed;
};

static void bprintf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
bprintf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (b->failed)
        return;
    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = 1;
            return;
        }
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        {
            size_t cap = (b->cap + (size_t)n + 1) * 2;
            char *p = realloc(b->p, cap);

            if (p == NULL) {
                b->failed = 1;
                return;
            }
            b->p = p;
            b->cap = cap;
        }
    }
}

static void
head(struct buf *b, const char *name, const char *type, const char *help)
{
    bprintf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One counter or gauge of every queue: counter is the index of a counter,
 * or -1 for the value of get (where get gives a negative value, the queue
 * is left out). */
static void
per_queue(struct buf *b,
          const metrics_state *st,
          const char *name,
          const char *type,
          const char *help,
          int counter,
          double (*get)(const metrics_queue *))
{
    size_t i;

    head(b, name, type, help);
    for (i = 0; i < st->nqueues; i++) {
        const metrics_queue *q = &st->queues[i];

        if (counter >= 0)
            bprintf(b, "%s{queue=\"%s\"} %lld\n", name, q->name, q->v[counter]);
        else if (get != NULL && (get(q) >= 0))
            bprintf(b, "%s{queue=\"%s\"} %.15g\n", name, q->name, get(q));
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
    struct buf b = {NULL, 0, 0, 0};
    size_t i, k;

    if ((b.p = malloc(b.cap = 8192)) == NULL)
        return NULL;
    head(&b, "txq_worker_info", "gauge",
         "txq-worker's version, as a label (the value is always 1).");
    bprintf(&b, "txq_worker_info{version=\"%s\"} 1\n", txq_version());
    head(&b, "txq_worker_ready", "gauge",
         "1 when the worker is ready (as /readyz): the supervisor is "
         "connected and every queue has a consumer connected with its "
         "handler prepared.");
    bprintf(&b, "txq_worker_ready %d\n", st->ready);
    head(&b, "txq_worker_supervisor_connected", "gauge",
         "1 while the supervisor's own connection (LISTEN, maintain(), "
         "queue statistics) is up.");
    bprintf(&b, "txq_worker_supervisor_connected %d\n",
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

    head(&b, hist, "histogram",
         "Time in the handler per message (a sql: handler's until its "
         "statements, the ack and the commit came back).");
    for (i = 0; i < st->nqueues; i++) {
        const metrics_queue *q = &st->queues[i];
        long long cum = 0;

        for (k = 0; k <= METRICS_NBUCKETS; k++) {
            cum += q->v[MC_BUCKET + k];
            if (k < METRICS_NBUCKETS)
                bprintf(&b, "%s_bucket{queue=\"%s\",le=\"%g\"} %lld\n", hist,
                        q->name, metrics_bucket_le[k], cum);
            else
                bprintf(&b, "%s_bucket{queue=\"%s\",le=\"+Inf\"} %lld\n", hist,
                        q->name, cum);
        }
        bprintf(&b, "%s_sum{queue=\"%s\"} %.6f\n", hist, q->name,
                (double)q->v[MC_DURATION_US] / 1e6);
        bprintf(&b, "%s_count{queue=\"%s\"} %lld\n", hist, q->name, cum);
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
        head(&b, "txq_worker_queue_stats_age_seconds", "gauge",
             "Seconds since the queue gauges were read from "
             "txq.queue_stats.");
        bprintf(&b, "txq_worker_queue_stats_age_seconds %.3f\n", st->stats_age);
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
respond(struct MHD_Connection *conn,
        unsigned int status,
        const char *type,
        char *body,
        size_t len)
{
    struct MHD_Response *r;
    enum MHD_Result ret;

    r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (r == NULL) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result
respond_text(struct MHD_Connection *conn, unsigned int status, const char *s)
{
    char *body = strdup(s);

    if (body == NULL)
        return MHD_NO;
    return respond(conn, status, "text/plain; charset=utf-8", body,
                   strlen(body));
}

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
        return respond_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
                            "only GET and HEAD\n");
    if (strcmp(url, "/metrics") == 0) {
        char *body;
        size_t len = 0;

        pthread_mutex_lock(&M.mu);
        body = metrics_render(&M.st, &len);
        pthread_mutex_unlock(&M.mu);
        if (body == NULL)
            return respond_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
                                "out of memory\n");
        return respond(conn, MHD_HTTP_OK, "text/plain; version=0.0.4", body,
                       len);
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
    return respond_text(conn, status, text);
}

/* libmicrohttpd's messages as log events (its default writes raw lines
 * to stderr); the last kept for metrics_start's error. */
static void
on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[256];
    size_t n;

    (void)cls;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    vsnprintf(msg, sizeof msg, fmt, ap);
#pragma GCC diagnostic pop
    n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '.'))
        msg[--n] = '\0';
    snprintf(M.last_error, sizeof M.last_error, "%s", msg);
    wlog(WLOG_WARN, "metrics server", "err=%s", msg);
}

static int
is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in =
            (const struct sockaddr_in *)(const void *)sa;

        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 =
            (const struct sockaddr_in6 *)(const void *)sa;

        return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
    }
    return 0;
}

int
metrics_start(const char *listen, char *err, size_t errsize)
{
    char host[256], port[8], shown[300];
    struct addrinfo hints, *ai = NULL;
    const union MHD_DaemonInfo *info;
    sigset_t all, old;
    unsigned int flags;
    int rc;

    if (config_parse_listen(listen, host, sizeof host, port, sizeof port, err,
                            errsize) != 0)
        return -1;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    if ((rc = getaddrinfo(host, port, &hints, &ai)) != 0) {
        snprintf(err, errsize, "metrics_listen %s: %s", listen,
                 gai_strerror(rc));
        return -1;
    }
    flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    M.last_error[0] = '\0';
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    M.daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, NULL, MHD_OPTION_EXTERNAL_LOGGER,
        on_mhd_log, NULL, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)32,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)10, MHD_OPTION_END);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (M.daemon == NULL) {
        snprintf(err, errsize, "metrics_listen %s: cannot listen%s%s", listen,
                 M.last_error[0] ? ": " : "", M.last_error);
        freeaddrinfo(ai);
        return -1;
    }
    info = MHD_get_daemon_info(M.daemon, MHD_DAEMON_INFO_BIND_PORT);
    snprintf(shown, sizeof shown,
             ai->ai_family == AF_INET6 ? "[%s]:%u" : "%s:%u", host,
             info != NULL ? (unsigned)info->port : 0u);
    if (is_loopback(ai->ai_addr))
        wlog(WLOG_INFO, "metrics listening", "addr=%s paths=%s", shown,
             "/metrics,/healthz,/readyz");
    else
        wlog(WLOG_WARN, "metrics listening beyond loopback", "addr=%s hint=%s",
             shown,
             "whoever reaches this address reads queue names and counts: "
             "keep it behind a firewall, or listen on 127.0.0.1");
    freeaddrinfo(ai);
    return 0;
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
