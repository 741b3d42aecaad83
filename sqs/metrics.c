/*
 * metrics.c - txq-sqs's /metrics (Prometheus text format 0.0.4), /healthz
 * and /readyz, on a libmicrohttpd daemon of their own (--metrics-listen),
 * as txq-worker serves its own: the listener, the listen value's syntax,
 * the buckets and the text helpers are the worker's (worker/promhttp.c,
 * worker/promtext.c).
 *
 * Requests are served in many threads at once, so everything counted is
 * an atomic, but for the per-queue message counters, whose table grows
 * when a queue is first counted and is kept under a mutex. Label values
 * come from fixed tables only (the actions sqs_dispatch knows, SQS's error
 * codes) or from queues that exist (looked up by the request): nothing a
 * caller writes becomes a label value of its own.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "http.h"
#include "promhttp.h"
#include "promtext.h"
#include "sqs.h"

/* /healthz fails when the main loop has not come round for this long: it
 * wakes every second and blocks in nothing but reading the credentials
 * file on SIGHUP. */
#define STALL_SECONDS 30.0

/* The row of requests whose action is not one sqs_dispatch knows. */
#define UNKNOWN  SQS_MAX_ACTIONS
#define NACTIONS (SQS_MAX_ACTIONS + 1)
#define NCODES   (SQS_E_UNAVAILABLE + 1)

enum { MSG_SENT, MSG_RECEIVED, MSG_DELETED, MSG_KINDS };

struct queue_counts {
    char name[SQS_NAME_MAX + 8];
    long long n[MSG_KINDS];
    struct queue_counts *next;
};

static struct {
    struct MHD_Daemon *daemon;
    sqs_server *srv;
    const char *version;
    _Atomic long long requests[NACTIONS][NCODES];
    _Atomic long long buckets[NACTIONS][PROM_NBUCKETS + 1];
    _Atomic long long duration_us[NACTIONS];
    atomic_int long_polls, move_tasks;
    _Atomic double alive; /* sqs_now() of the main loop's last round */
    pthread_mutex_t queues_mu;
    struct queue_counts *queues; /* in the order first counted */
    struct queue_counts **tail;
} M = {.queues_mu = PTHREAD_MUTEX_INITIALIZER};

/* --- counting ------------------------------------------------------------ */

static void
count_messages(const char *queue, int kind, long long n)
{
    struct queue_counts *q;

    if (n <= 0 || queue[0] == '\0')
        return;
    pthread_mutex_lock(&M.queues_mu);
    if (M.tail == NULL)
        M.tail = &M.queues;
    for (q = M.queues; q != NULL; q = q->next)
        if (strcmp(q->name, queue) == 0)
            break;
    if (q == NULL && (q = calloc(1, sizeof *q)) != NULL) {
        snprintf(q->name, sizeof q->name, "%s", queue);
        *M.tail = q;
        M.tail = &q->next;
    }
    if (q != NULL)
        q->n[kind] += n;
    pthread_mutex_unlock(&M.queues_mu);
}

void
sqs_metrics_request(const sqs_req *req, double seconds)
{
    int a = req->action_index >= 0 && sqs_action_name(req->action_index)
                ? req->action_index
                : UNKNOWN;
    int code = (int)req->err >= 0 && (int)req->err < NCODES ? (int)req->err
                                                            : SQS_E_INTERNAL;
    const char *action = a == UNKNOWN ? "" : sqs_action_name(a);

    if (M.daemon == NULL)
        return;
    if (seconds < 0)
        seconds = 0;
    atomic_fetch_add_explicit(&M.requests[a][code], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&M.buckets[a][prom_bucket_of(seconds)], 1,
                              memory_order_relaxed);
    atomic_fetch_add_explicit(&M.duration_us[a], (long long)(seconds * 1e6),
                              memory_order_relaxed);
    /* Messages only of requests that succeeded: their statements have
     * committed. A batch's own entries may have failed: only those in its
     * Successful list count. */
    if (req->err != SQS_OK || req->out == NULL)
        return;
    if (strcmp(action, "SendMessage") == 0)
        count_messages(req->queue, MSG_SENT, 1);
    else if (strcmp(action, "SendMessageBatch") == 0)
        count_messages(req->queue, MSG_SENT,
                       (long long)json_array_size(
                           json_object_get(req->out, "Successful")));
    else if (strcmp(action, "ReceiveMessage") == 0)
        count_messages(
            req->queue, MSG_RECEIVED,
            (long long)json_array_size(json_object_get(req->out, "Messages")));
    else if (strcmp(action, "DeleteMessage") == 0 ||
             strcmp(action, "DeleteMessageBatch") == 0)
        count_messages(req->queue, MSG_DELETED, req->deleted);
}

void
sqs_metrics_long_poll(int delta)
{
    atomic_fetch_add_explicit(&M.long_polls, delta, memory_order_relaxed);
}

void
sqs_metrics_move_tasks(int running)
{
    atomic_store_explicit(&M.move_tasks, running, memory_order_relaxed);
}

void
sqs_metrics_alive(void)
{
    atomic_store(&M.alive, sqs_now());
}

/* --- rendering ----------------------------------------------------------- */

static const char *
code_label(int code)
{
    return code == SQS_OK ? "ok"
                          : sqs_code_info((enum sqs_code)code)->json_type;
}

static const char *
action_label(int a)
{
    return a == UNKNOWN ? "unknown" : sqs_action_name(a);
}

static void
render_requests(prom_buf *b)
{
    static const char *const hist = "txq_sqs_request_duration_seconds";
    int a, c;
    size_t k;

    prom_head(b, "txq_sqs_requests_total", "counter",
              "Requests answered, by SQS action (unknown: not one this "
              "endpoint knows, or refused before its action was read) and "
              "outcome (ok, or the SQS error code).");
    for (a = 0; a < NACTIONS; a++)
        for (c = 0; c < NCODES; c++) {
            long long n =
                atomic_load_explicit(&M.requests[a][c], memory_order_relaxed);

            if (n > 0 && (a == UNKNOWN || sqs_action_name(a) != NULL))
                prom_printf(b,
                            "txq_sqs_requests_total{action=\"%s\",code=\"%s\"}"
                            " %lld\n",
                            action_label(a), code_label(c), n);
        }
    prom_head(b, hist, "histogram",
              "Time from a request's headers to its answer, by SQS action "
              "(a long poll's wait included).");
    for (a = 0; a < NACTIONS; a++) {
        long long v[PROM_NBUCKETS + 1], cum = 0;

        if (a != UNKNOWN && sqs_action_name(a) == NULL)
            continue;
        for (k = 0; k <= PROM_NBUCKETS; k++) {
            v[k] = atomic_load_explicit(&M.buckets[a][k], memory_order_relaxed);
            cum += v[k];
        }
        if (cum == 0)
            continue;
        cum = 0;
        for (k = 0; k <= PROM_NBUCKETS; k++) {
            cum += v[k];
            if (k < PROM_NBUCKETS)
                prom_printf(b, "%s_bucket{action=\"%s\",le=\"%g\"} %lld\n",
                            hist, action_label(a), prom_bucket_le[k], cum);
            else
                prom_printf(b, "%s_bucket{action=\"%s\",le=\"+Inf\"} %lld\n",
                            hist, action_label(a), cum);
        }
        prom_printf(b, "%s_sum{action=\"%s\"} %.6f\n", hist, action_label(a),
                    (double)atomic_load_explicit(&M.duration_us[a],
                                                 memory_order_relaxed) /
                        1e6);
        prom_printf(b, "%s_count{action=\"%s\"} %lld\n", hist, action_label(a),
                    cum);
    }
}

static void
render_messages(prom_buf *b)
{
    static const struct {
        const char *name, *help;
    } m[MSG_KINDS] = {
        [MSG_SENT] = {"txq_sqs_messages_sent_total",
                      "Messages sent (SendMessage, SendMessageBatch), "
                      "counted once committed."},
        [MSG_RECEIVED] = {"txq_sqs_messages_received_total",
                          "Messages delivered by ReceiveMessage."},
        [MSG_DELETED] = {"txq_sqs_messages_deleted_total",
                         "Messages deleted (DeleteMessage, DeleteMessageBatch)"
                         "; a stale receipt handle deletes nothing and is "
                         "not counted."},
    };
    const struct queue_counts *q;
    char label[2 * (SQS_NAME_MAX + 8)];
    int k;

    pthread_mutex_lock(&M.queues_mu);
    for (k = 0; k < MSG_KINDS; k++) {
        prom_head(b, m[k].name, "counter", m[k].help);
        for (q = M.queues; q != NULL; q = q->next)
            prom_printf(b, "%s{queue=\"%s\"} %lld\n", m[k].name,
                        prom_label(q->name, label, sizeof label), q->n[k]);
    }
    pthread_mutex_unlock(&M.queues_mu);
}

/* Why not ready, or NULL when ready. */
static const char *
not_ready(void)
{
    int size, in_use, up;

    if (M.srv->draining)
        return "draining";
    sqs_db_stats(&size, &in_use, &up);
    if (!up)
        return "database not connected (LISTEN connection down)";
    return NULL;
}

static char *
render(size_t *len)
{
    prom_buf b;
    int size, in_use, up;

    if (prom_buf_init(&b) != 0)
        return NULL;
    sqs_db_stats(&size, &in_use, &up);
    prom_head(&b, "txq_sqs_build_info", "gauge",
              "txq-sqs's version, as a label (the value is always 1).");
    prom_printf(&b, "txq_sqs_build_info{version=\"%s\"} 1\n", M.version);
    prom_head(&b, "txq_sqs_ready", "gauge",
              "1 when ready (as /readyz): the database is connected and the "
              "server is not draining.");
    prom_printf(&b, "txq_sqs_ready %d\n", not_ready() == NULL);
    prom_head(&b, "txq_sqs_draining", "gauge",
              "1 once SIGTERM started the drain.");
    prom_printf(&b, "txq_sqs_draining %d\n", M.srv->draining ? 1 : 0);
    render_requests(&b);
    prom_head(&b, "txq_sqs_requests_in_flight", "gauge",
              "Requests being served now, long polls included.");
    prom_printf(&b, "txq_sqs_requests_in_flight %d\n", sqs_http_active());
    render_messages(&b);
    prom_head(&b, "txq_sqs_long_polls_waiting", "gauge",
              "ReceiveMessage long polls asleep now, waiting for a wake-up "
              "(they hold no database connection meanwhile).");
    prom_printf(&b, "txq_sqs_long_polls_waiting %d\n",
                atomic_load(&M.long_polls));
    prom_head(&b, "txq_sqs_db_pool_size", "gauge",
              "Database connections the pool may hold (--pool-size).");
    prom_printf(&b, "txq_sqs_db_pool_size %d\n", size);
    prom_head(&b, "txq_sqs_db_pool_in_use", "gauge",
              "Pooled database connections lent to requests now.");
    prom_printf(&b, "txq_sqs_db_pool_in_use %d\n", in_use);
    prom_head(&b, "txq_sqs_db_connected", "gauge",
              "1 while the LISTEN connection (long polls' wake-ups) is up.");
    prom_printf(&b, "txq_sqs_db_connected %d\n", up);
    prom_head(&b, "txq_sqs_move_tasks_running", "gauge",
              "Message move tasks still running after the runner's last "
              "round.");
    prom_printf(&b, "txq_sqs_move_tasks_running %d\n",
                atomic_load(&M.move_tasks));
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
    char text[160];
    const char *why;
    double alive;

    (void)cls;
    (void)version;
    (void)upload_data;
    (void)upload_data_size;
    (void)con_cls;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return prom_respond_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
                                 "only GET and HEAD\n");
    if (strcmp(url, "/metrics") == 0) {
        size_t len = 0;
        char *body = render(&len);

        return prom_respond_metrics(conn, body, len);
    }
    if (strcmp(url, "/healthz") == 0) {
        alive = sqs_now() - atomic_load(&M.alive);
        if (alive > STALL_SECONDS) {
            snprintf(text, sizeof text, "main loop stalled for %.0f s\n",
                     alive);
            return prom_respond_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, text);
        }
        return prom_respond_text(conn, MHD_HTTP_OK, "ok\n");
    }
    if (strcmp(url, "/readyz") == 0) {
        if ((why = not_ready()) != NULL) {
            snprintf(text, sizeof text, "not ready: %s\n", why);
            return prom_respond_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, text);
        }
        return prom_respond_text(conn, MHD_HTTP_OK, "ready\n");
    }
    if (strcmp(url, "/") == 0)
        return prom_respond_text(conn, MHD_HTTP_OK,
                                 "txq-sqs: /metrics /healthz /readyz\n");
    return prom_respond_text(conn, MHD_HTTP_NOT_FOUND,
                             "not found; try /metrics\n");
}

int
sqs_metrics_start(sqs_server *srv,
                  const char *listen,
                  const char *version,
                  char *err,
                  size_t errsize)
{
    M.srv = srv;
    M.version = version;
    sqs_metrics_alive();
    M.daemon = prom_http_start(listen, on_request, NULL, err, errsize);
    return M.daemon != NULL ? 0 : -1;
}

void
sqs_metrics_stop(void)
{
    struct queue_counts *q;

    if (M.daemon != NULL)
        MHD_stop_daemon(M.daemon);
    M.daemon = NULL;
    pthread_mutex_lock(&M.queues_mu);
    while ((q = M.queues) != NULL) {
        M.queues = q->next;
        free(q);
    }
    M.tail = NULL;
    pthread_mutex_unlock(&M.queues_mu);
}
