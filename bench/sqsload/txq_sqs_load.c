/*
 * txq_sqs_load.c - txq-sqs-load, the C load generator of bench/sqs.sh:
 * SQS requests over the JSON protocol, signed by libcurl's own SigV4
 * (CURLOPT_AWS_SIGV4, an implementation independent of txq-sqs's), on
 * keep-alive connections, one per client thread.
 *
 *   txq-sqs-load send  QUEUE_URL N CLIENTS
 *   txq-sqs-load drain QUEUE_URL N CLIENTS
 *   txq-sqs-load wake  QUEUE_URL K
 *
 * send: CLIENTS threads of SendMessageBatch (10 entries) until N messages
 * are sent. drain: CLIENTS threads of ReceiveMessage (up to 10, no wait)
 * and DeleteMessageBatch of what came, until N are deleted (a thread asks
 * only for what no other has asked for, so exactly N are deleted). Both
 * make one warm-up call per thread (a ListQueues) before the clock starts
 * and print "start_ms=T0 end_ms=T1 msgs=N" (wall clock, ms).
 * wake: K times in turn, a ReceiveMessage waiting up to 20 s is started,
 * then after 20 ms a SendMessage on another connection; the latency is
 * from the send's reply (after its commit) to the receive's reply, and
 * ("full") from the send's start. Prints "p50_ms=... p99_ms=... max_ms=...
 * full_p50_ms=... full_p99_ms=... n=K".
 * Credentials: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY; region us-east-1.
 *
 * Why C next to bench/sqs_load.cjs: the Node SDK costs about a core at
 * the rates txq-sqs serves, which the server then lacks on a small
 * machine; this client costs a few percent of that.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#define PAYLOAD                                                        \
    "{\"type\":\"order.created\",\"order_id\":123456,"                 \
    "\"customer_id\":\"c-000042\",\"amount_cents\":4999,\"currency\":" \
    "\"EUR\"}"

static const char *queue_url;
static char endpoint[512];
static char userpwd[512];
static atomic_long to_take; /* messages no client has taken on yet */
static atomic_int failed;

struct conn {
    CURL *curl;
    char *buf;
    size_t len, cap;
};

static size_t
on_data(char *p, size_t size, size_t n, void *user)
{
    struct conn *c = user;
    size_t k = size * n;

    if (c->len + k + 1 > c->cap) {
        size_t cap = (c->len + k + 1) * 2;
        char *b = realloc(c->buf, cap);

        if (b == NULL)
            return 0;
        c->buf = b;
        c->cap = cap;
    }
    memcpy(c->buf + c->len, p, k);
    c->len += k;
    c->buf[c->len] = '\0';
    return k;
}

static void
conn_open(struct conn *c)
{
    memset(c, 0, sizeof *c);
    c->curl = curl_easy_init();
    if (c->curl == NULL) {
        fprintf(stderr, "txq-sqs-load: curl_easy_init failed\n");
        exit(1);
    }
    curl_easy_setopt(c->curl, CURLOPT_URL, endpoint);
    curl_easy_setopt(c->curl, CURLOPT_AWS_SIGV4, "aws:amz:us-east-1:sqs");
    curl_easy_setopt(c->curl, CURLOPT_USERPWD, userpwd);
    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, 60L);
}

static void
conn_close(struct conn *c)
{
    curl_easy_cleanup(c->curl);
    free(c->buf);
}

/* One action with a JSON body (stolen); the reply's JSON, or NULL (said). */
static json_t *
call(struct conn *c, const char *action, json_t *body)
{
    char target[128], *text = json_dumps(body, JSON_COMPACT);
    struct curl_slist *h = NULL;
    long status = 0;
    CURLcode rc;
    json_t *out;

    json_decref(body);
    if (text == NULL)
        return NULL;
    snprintf(target, sizeof target, "X-Amz-Target: AmazonSQS.%s", action);
    h = curl_slist_append(h, target);
    h = curl_slist_append(h, "Content-Type: application/x-amz-json-1.0");
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, text);
    c->len = 0;
    rc = curl_easy_perform(c->curl);
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    free(text);
    if (rc != CURLE_OK || status != 200) {
        fprintf(stderr, "txq-sqs-load: %s: %s %ld %.300s\n", action,
                curl_easy_strerror(rc), status, c->buf ? c->buf : "");
        return NULL;
    }
    out = json_loadb(c->buf, c->len, 0, NULL);
    if (out == NULL)
        fprintf(stderr, "txq-sqs-load: %s: not JSON\n", action);
    return out;
}

static long long
now_ms(void)
{
    struct timeval tv;

    gettimeofday(&tv, NULL);
    return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static double
mono(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Take up to 10 of what is left; 0 when nothing is. */
static long
take(long most)
{
    long left = atomic_load(&to_take), k;

    do {
        k = left < most ? left : most;
        if (k <= 0)
            return 0;
    } while (!atomic_compare_exchange_weak(&to_take, &left, left - k));
    return k;
}

static size_t
count_of(json_t *r, const char *key)
{
    return json_array_size(json_object_get(r, key));
}

static void
sender(struct conn *c)
{
    long k;

    while ((k = take(10)) > 0 && !atomic_load(&failed)) {
        json_t *entries = json_array(), *r;

        for (long i = 0; i < k; i++) {
            char id[24];

            snprintf(id, sizeof id, "m%ld", i);
            json_array_append_new(entries, json_pack("{s:s, s:s}", "Id", id,
                                                     "MessageBody", PAYLOAD));
        }
        r = call(
            c, "SendMessageBatch",
            json_pack("{s:s, s:o}", "QueueUrl", queue_url, "Entries", entries));
        if (r == NULL || count_of(r, "Successful") != (size_t)k ||
            count_of(r, "Failed") != 0) {
            atomic_store(&failed, 1);
            json_decref(r);
            return;
        }
        json_decref(r);
    }
}

static void
drainer(struct conn *c)
{
    long k;

    while ((k = take(10)) > 0 && !atomic_load(&failed)) {
        json_t *r, *msgs, *m, *entries;
        size_t i, n;

        r = call(c, "ReceiveMessage",
                 json_pack("{s:s, s:I, s:i}", "QueueUrl", queue_url,
                           "MaxNumberOfMessages", (json_int_t)k,
                           "WaitTimeSeconds", 0));
        if (r == NULL) {
            atomic_store(&failed, 1);
            return;
        }
        msgs = json_object_get(r, "Messages");
        n = json_array_size(msgs);
        /* What did not come is left for any client to take again. */
        atomic_fetch_add(&to_take, k - (long)n);
        if (n == 0) {
            json_decref(r);
            continue;
        }
        entries = json_array();
        json_array_foreach(msgs, i, m)
        {
            char id[24];

            snprintf(id, sizeof id, "d%zu", i);
            json_array_append_new(
                entries, json_pack("{s:s, s:O}", "Id", id, "ReceiptHandle",
                                   json_object_get(m, "ReceiptHandle")));
        }
        json_decref(r);
        r = call(
            c, "DeleteMessageBatch",
            json_pack("{s:s, s:o}", "QueueUrl", queue_url, "Entries", entries));
        if (r == NULL || count_of(r, "Successful") != n) {
            atomic_store(&failed, 1);
            json_decref(r);
            return;
        }
        json_decref(r);
    }
}

struct client {
    pthread_t t;
    struct conn c;
    int drain;
    pthread_barrier_t *ready;
};

static void *
client_main(void *arg)
{
    struct client *cl = arg;
    json_t *r = call(&cl->c, "ListQueues", json_object()); /* warm up */

    if (r == NULL)
        atomic_store(&failed, 1);
    json_decref(r);
    pthread_barrier_wait(cl->ready);
    if (cl->drain)
        drainer(&cl->c);
    else
        sender(&cl->c);
    return NULL;
}

static int
run_load(int drain, long n, int clients)
{
    struct client *cl = calloc((size_t)clients, sizeof *cl);
    pthread_barrier_t ready;
    long long start, end;

    if (cl == NULL)
        return 1;
    atomic_store(&to_take, n);
    pthread_barrier_init(&ready, NULL, (unsigned)clients + 1);
    for (int i = 0; i < clients; i++) {
        conn_open(&cl[i].c);
        cl[i].drain = drain;
        cl[i].ready = &ready;
        pthread_create(&cl[i].t, NULL, client_main, &cl[i]);
    }
    pthread_barrier_wait(&ready);
    start = now_ms();
    for (int i = 0; i < clients; i++)
        pthread_join(cl[i].t, NULL);
    end = now_ms();
    for (int i = 0; i < clients; i++)
        conn_close(&cl[i].c);
    free(cl);
    if (atomic_load(&failed))
        return 1;
    printf("start_ms=%lld end_ms=%lld msgs=%ld\n", start, end, n);
    return 0;
}

struct waiter {
    struct conn c;
    json_t *reply;
    double at; /* mono() when the reply came */
};

static void *
waiter_main(void *arg)
{
    struct waiter *w = arg;

    w->reply = call(&w->c, "ReceiveMessage",
                    json_pack("{s:s, s:i, s:i}", "QueueUrl", queue_url,
                              "MaxNumberOfMessages", 1, "WaitTimeSeconds", 20));
    w->at = mono();
    return NULL;
}

static int
by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static double
pct(const double *v, int n, double p)
{
    int i = (int)(p * n + 0.999999) - 1;

    return v[i < 0 ? 0 : i >= n ? n - 1 : i];
}

static int
run_wake(int k)
{
    double *lat = calloc((size_t)k, sizeof *lat);
    double *full = calloc((size_t)k, sizeof *full);
    struct waiter w;
    struct conn s;
    int i;

    if (lat == NULL || full == NULL)
        return 1;
    conn_open(&w.c);
    conn_open(&s);
    for (i = 0; i < k; i++) {
        pthread_t t;
        struct timespec pause = {0, 20 * 1000 * 1000};
        double t0, t1;
        json_t *r, *m;

        w.reply = NULL;
        pthread_create(&t, NULL, waiter_main, &w);
        nanosleep(&pause, NULL);
        t0 = mono();
        r = call(&s, "SendMessage",
                 json_pack("{s:s, s:s}", "QueueUrl", queue_url, "MessageBody",
                           "wake"));
        t1 = mono();
        pthread_join(t, NULL);
        m = json_array_get(json_object_get(w.reply, "Messages"), 0);
        if (r == NULL || m == NULL) {
            fprintf(stderr, "txq-sqs-load: wake %d: no message\n", i);
            return 1;
        }
        json_decref(r);
        lat[i] = (w.at - t1) * 1000;
        full[i] = (w.at - t0) * 1000;
        r = call(&s, "DeleteMessage",
                 json_pack("{s:s, s:O}", "QueueUrl", queue_url, "ReceiptHandle",
                           json_object_get(m, "ReceiptHandle")));
        json_decref(w.reply);
        if (r == NULL)
            return 1;
        json_decref(r);
    }
    qsort(lat, (size_t)k, sizeof *lat, by_value);
    qsort(full, (size_t)k, sizeof *full, by_value);
    printf("p50_ms=%.2f p99_ms=%.2f max_ms=%.2f full_p50_ms=%.2f "
           "full_p99_ms=%.2f n=%d\n",
           pct(lat, k, 0.5), pct(lat, k, 0.99), lat[k - 1], pct(full, k, 0.5),
           pct(full, k, 0.99), k);
    conn_close(&w.c);
    conn_close(&s);
    free(lat);
    free(full);
    return 0;
}

int
main(int argc, char **argv)
{
    const char *key = getenv("AWS_ACCESS_KEY_ID");
    const char *secret = getenv("AWS_SECRET_ACCESS_KEY");
    const char *p;
    long n;
    int rc;

    if (argc < 4 || key == NULL || secret == NULL) {
        fprintf(stderr, "usage: txq-sqs-load send|drain QUEUE_URL N CLIENTS\n"
                        "       txq-sqs-load wake QUEUE_URL K\n"
                        "(AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY set)\n");
        return 2;
    }
    queue_url = argv[2];
    p = strstr(queue_url, "://");
    p = p ? strchr(p + 3, '/') : NULL;
    if (p == NULL || (size_t)(p - queue_url) + 2 > sizeof endpoint) {
        fprintf(stderr, "txq-sqs-load: not a queue URL: %s\n", queue_url);
        return 2;
    }
    snprintf(endpoint, sizeof endpoint, "%.*s/", (int)(p - queue_url),
             queue_url);
    snprintf(userpwd, sizeof userpwd, "%s:%s", key, secret);
    n = strtol(argv[3], NULL, 10);
    if (n <= 0 ||
        (strcmp(argv[1], "wake") != 0 && (argc < 5 || atoi(argv[4]) <= 0))) {
        fprintf(stderr, "txq-sqs-load: N and CLIENTS must be positive\n");
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (strcmp(argv[1], "send") == 0)
        rc = run_load(0, n, atoi(argv[4]));
    else if (strcmp(argv[1], "drain") == 0)
        rc = run_load(1, n, atoi(argv[4]));
    else if (strcmp(argv[1], "wake") == 0)
        rc = run_wake((int)n);
    else {
        fprintf(stderr, "txq-sqs-load: unknown mode %s\n", argv[1]);
        rc = 2;
    }
    curl_global_cleanup();
    return rc;
}
