/*
 * request.c - request/reply: the requester (a table of pending requests
 * keyed by correlation id, woken by LISTEN txq_wake on a connection of its
 * own, driven by the caller's event loop) and txq_reply, the responder's
 * side.
 *
 * Replies are claimed and acked in autocommit before their callbacks run:
 * the reply queue belongs to one requester, whose pending table lives in
 * this process only, so a reply delivered again after a crash would have
 * nobody to go to anyway.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "txq_int.h"

#define OID_BYTEA       17
#define MAX_TIMEOUT     86400.0
#define DEFAULT_POLL    5.0
#define DEFAULT_BATCH   100
#define MAX_BATCH       10000
#define INITIAL_BUCKETS 64

struct pending {
    struct pending *next; /* hash chain, or the list of expired ones */
    double deadline;      /* monotonic seconds */
    txq_reply_fn on_reply;
    txq_timeout_fn on_timeout;
    void *arg;
    char corr[TXQ_CORRELATION_ID_SIZE];
};

struct txq_requester {
    txq_client *c;
    PGconn *pg; /* NULL until txq_requester_open */
    char queue[TXQ__QUEUE_NAME_MAX + 2];
    double poll_interval;
    size_t batch;
    struct pending **buckets;
    size_t nbuckets; /* a power of two */
    size_t npending;
    uint64_t unknown;
    uint64_t seed;
    uint64_t counter;
    double next_poll; /* when to look at the queue without a wake-up */
    int wake;         /* a look at the reply queue is due now */
    int dispatching;
    /* Why txq_requester_new could not read its opts (reported by
     * txq_requester_open), or "". */
    char opts_err[TXQ__ERRMSG_SIZE];
};

static double
now_secs(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* FNV-1a of a correlation id. */
static size_t
hash(const char *s)
{
    uint64_t h = 1469598103934665603u;

    for (; *s != '\0'; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211u;
    }
    return (size_t)h;
}

txq_requester *
txq_requester_new(txq_client *c,
                  const char *reply_queue,
                  const txq_requester_opts *opts)
{
    txq_requester *r = calloc(1, sizeof *r);
    txq_requester_opts o;
    struct timespec ts;

    if (r == NULL)
        return NULL;
    r->buckets = calloc(INITIAL_BUCKETS, sizeof *r->buckets);
    if (r->buckets == NULL) {
        free(r);
        return NULL;
    }
    r->nbuckets = INITIAL_BUCKETS;
    r->c = c;
    /* Copied as given (at most one byte too long, so that a name that is
     * too long stays invalid); txq_requester_open validates it. */
    if (reply_queue != NULL)
        snprintf(r->queue, sizeof r->queue, "%s", reply_queue);
    r->poll_interval = DEFAULT_POLL;
    r->batch = DEFAULT_BATCH;
    if (txq__opts_copy(&o, sizeof o, TXQ__MIN_txq_requester_opts, opts,
                       "txq_requester_opts", r->opts_err,
                       sizeof r->opts_err) != 0)
        memset(&o, 0, sizeof o);
    if (o.poll_interval > 0 && isfinite(o.poll_interval))
        r->poll_interval = o.poll_interval;
    if (o.batch > 0)
        r->batch = o.batch < MAX_BATCH ? o.batch : MAX_BATCH;
    /* Correlation ids need only be unique among this requester's pending
     * requests; the seed makes them unlikely to repeat across processes. */
    clock_gettime(CLOCK_REALTIME, &ts);
    r->seed = ((uint64_t)ts.tv_sec * 1000000007u) ^ (uint64_t)ts.tv_nsec ^
              ((uint64_t)getpid() << 40) ^ (uint64_t)(uintptr_t)r;
    return r;
}

/* The entry of corr, unlinked from the table when unlink is set. */
static struct pending *
lookup(txq_requester *r, const char *corr, int unlink)
{
    struct pending **pp = &r->buckets[hash(corr) & (r->nbuckets - 1)];

    for (; *pp != NULL; pp = &(*pp)->next) {
        struct pending *p = *pp;
        if (strcmp(p->corr, corr) == 0) {
            if (unlink) {
                *pp = p->next;
                p->next = NULL;
                r->npending--;
            }
            return p;
        }
    }
    return NULL;
}

/* Add p, doubling the table when it gets full (on ENOMEM it stays as it
 * is: the chains grow, nothing is lost). */
static void
insert(txq_requester *r, struct pending *p)
{
    size_t b;

    if (r->npending >= r->nbuckets) {
        size_t n = r->nbuckets * 2;
        struct pending **nb = calloc(n, sizeof *nb);

        if (nb != NULL) {
            for (size_t i = 0; i < r->nbuckets; i++) {
                struct pending *q = r->buckets[i], *next;
                for (; q != NULL; q = next) {
                    next = q->next;
                    b = hash(q->corr) & (n - 1);
                    q->next = nb[b];
                    nb[b] = q;
                }
            }
            free(r->buckets);
            r->buckets = nb;
            r->nbuckets = n;
        }
    }
    b = hash(p->corr) & (r->nbuckets - 1);
    p->next = r->buckets[b];
    r->buckets[b] = p;
    r->npending++;
}

/* Free every pending notification of pg; 1 when one was for our queue. */
static int
drain(txq_requester *r)
{
    PGnotify *nf;
    int hit = 0;

    while ((nf = PQnotifies(r->pg)) != NULL) {
        if (strcmp(nf->relname, "txq_wake") == 0 &&
            strcmp(nf->extra, r->queue) == 0)
            hit = 1;
        PQfreemem(nf);
    }
    return hit;
}

/* Run statement q on pg with the reply queue as its parameter (or none). */
static txq_err
exec_q(txq_requester *r, PGconn *pg, enum txq__q q, int with_queue)
{
    struct txq__params p;
    PGresult *res = NULL;
    txq_err rc;

    txq__params_init(&p);
    if (with_queue)
        txq__param_text(&p, r->queue);
    rc = txq__query(r->c, pg, q, &p, 0, &res);
    PQclear(res);
    return rc;
}

txq_err
txq_requester_open(txq_requester *r, PGconn *pg)
{
    txq_client *c;
    txq_err rc;

    if (r == NULL || r->c == NULL)
        return TXQ_EINVAL;
    c = r->c;
    if ((rc = txq__enter(c, pg)))
        return rc;
    if (r->opts_err[0] != '\0')
        return txq__set_error(c, TXQ_EINVAL, "%s", r->opts_err);
    if (r->dispatching)
        return txq__set_error(c, TXQ_ESTATE,
                              "txq_requester_open called from a callback");
    if ((rc = txq__check_queue_name(c, "reply queue name",
                                    r->queue[0] != '\0' ? r->queue : NULL)))
        return rc;
    if (PQtransactionStatus(pg) != PQTRANS_IDLE)
        return txq__set_error(c, TXQ_ESTATE,
                              "txq_requester_open must run outside a "
                              "transaction: the requester's connection runs "
                              "its own autocommit statements");
    if ((rc = txq__ensure_schema(c, pg, 0)))
        return rc;
    if (txq__pooled(c, pg))
        return txq__set_error(c, TXQ_ESTATE,
                              "txq_requester_open needs a session of its "
                              "own (LISTEN): connect directly or through "
                              "session pooling, and say so with "
                              "txq_client_set_pooler(TXQ_POOLER_NONE)");
    if ((rc = exec_q(r, pg, TXQ__Q_LISTEN, 0)))
        return rc;
    rc = exec_q(r, pg, TXQ__Q_WAIT_BEGIN, 1);
    if (rc != TXQ_OK) {
        char msg[TXQ__ERRMSG_SIZE], state[6];

        memcpy(msg, c->errmsg, sizeof msg);
        memcpy(state, c->sqlstate, sizeof state);
        exec_q(r, pg, TXQ__Q_UNLISTEN, 0);
        memcpy(c->errmsg, msg, sizeof msg);
        memcpy(c->sqlstate, state, sizeof state);
        return rc;
    }
    r->pg = pg;
    r->wake = 1; /* replies may have come while nobody listened */
    r->next_poll = now_secs() + r->poll_interval;
    drain(r);
    return TXQ_OK;
}

/* Fill corr with a new correlation id: 16 hex digits of the seed mixed
 * with the counter (splitmix64), then the counter. */
static void
make_corr(txq_requester *r, char *corr)
{
    uint64_t z = r->seed + 0x9E3779B97F4A7C15u * ++r->counter;

    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    z ^= z >> 31;
    snprintf(corr, TXQ_CORRELATION_ID_SIZE, "%016llx-%llu",
             (unsigned long long)z, (unsigned long long)r->counter);
}

txq_err
txq_request(txq_requester *r,
            PGconn *pg,
            const char *queue,
            const void *body,
            size_t len,
            const txq_send_opts *opts,
            double timeout,
            txq_reply_fn on_reply,
            txq_timeout_fn on_timeout,
            void *arg,
            char *correlation_id)
{
    txq_send_opts so;
    struct pending *p;
    txq_client *c;
    PGconn *via;
    txq_err rc;

    if (correlation_id != NULL)
        correlation_id[0] = '\0';
    if (r == NULL || r->c == NULL)
        return TXQ_EINVAL;
    c = r->c;
    via = pg != NULL ? pg : r->pg;
    if (r->pg == NULL) {
        txq__clear_error(c);
        return txq__set_error(c, TXQ_ESTATE,
                              "the requester is not open: call "
                              "txq_requester_open first");
    }
    if ((rc = txq__enter(c, via)))
        return rc;
    if ((rc = TXQ__OPTS_LOAD(c, txq_send_opts, opts, &so)))
        return rc;
    if (on_reply == NULL)
        return txq__set_error(c, TXQ_EINVAL, "on_reply is NULL");
    if ((rc = txq__check_secs(c, "timeout", timeout, 0, MAX_TIMEOUT)))
        return rc;
    if (timeout <= 0)
        return txq__set_error(c, TXQ_EINVAL,
                              "timeout must be more than 0 seconds");
    if (so.reply_to != NULL && strcmp(so.reply_to, r->queue) != 0)
        return txq__set_error(c, TXQ_EINVAL,
                              "reply_to must be NULL or the requester's "
                              "queue \"%s\"",
                              r->queue);
    if (so.correlation_id != NULL) {
        if (so.correlation_id[0] == '\0' ||
            strlen(so.correlation_id) >= TXQ_CORRELATION_ID_SIZE)
            return txq__set_error(c, TXQ_EINVAL,
                                  "correlation_id must have 1 to %d bytes",
                                  TXQ_CORRELATION_ID_SIZE - 1);
        if ((rc = txq__check_text(c, "correlation_id", so.correlation_id, 0)))
            return rc;
        if (lookup(r, so.correlation_id, 0) != NULL)
            return txq__set_error(c, TXQ_EEXIST,
                                  "a request with correlation_id \"%s\" is "
                                  "pending already",
                                  so.correlation_id);
    }
    p = calloc(1, sizeof *p);
    if (p == NULL)
        return txq__set_error(c, TXQ_ENOMEM, "out of memory");
    if (so.correlation_id != NULL)
        memcpy(p->corr, so.correlation_id, strlen(so.correlation_id) + 1);
    else
        make_corr(r, p->corr);
    so.correlation_id = p->corr;
    so.reply_to = r->queue;
    rc = txq_send(c, via, queue, body, len, &so, NULL);
    if (via == r->pg && drain(r))
        r->wake = 1; /* a wake-up read along with the send's result */
    if (rc != TXQ_OK) {
        free(p);
        return rc;
    }
    p->deadline = now_secs() + timeout;
    p->on_reply = on_reply;
    p->on_timeout = on_timeout;
    p->arg = arg;
    insert(r, p);
    if (correlation_id != NULL)
        memcpy(correlation_id, p->corr, strlen(p->corr) + 1);
    return TXQ_OK;
}

txq_err
txq_request_cancel(txq_requester *r, const char *correlation_id)
{
    struct pending *p;

    if (r == NULL || r->c == NULL)
        return TXQ_EINVAL;
    txq__clear_error(r->c);
    if (correlation_id == NULL)
        return txq__set_error(r->c, TXQ_EINVAL, "correlation_id is NULL");
    p = lookup(r, correlation_id, 1);
    if (p == NULL)
        return txq__set_error(r->c, TXQ_ENOTFOUND,
                              "no pending request has that correlation_id");
    free(p);
    return TXQ_OK;
}

int
txq_requester_fd(const txq_requester *r)
{
    if (r == NULL || r->pg == NULL)
        return -1;
    return PQsocket(r->pg);
}

int
txq_requester_timeout_ms(const txq_requester *r)
{
    double next, ms;

    if (r == NULL || r->pg == NULL)
        return -1;
    if (r->wake)
        return 0;
    if (r->npending == 0)
        return -1;
    next = r->next_poll;
    for (size_t i = 0; i < r->nbuckets; i++) {
        for (const struct pending *p = r->buckets[i]; p != NULL; p = p->next)
            if (p->deadline < next)
                next = p->deadline;
    }
    ms = (next - now_secs()) * 1000.0;
    if (ms <= 0)
        return 0;
    if (ms >= INT_MAX)
        return INT_MAX;
    return (int)ms + ((double)(int)ms < ms); /* rounded up */
}

/* Take one batch of replies, ack it, then run the callbacks. */
static txq_err
take_replies(txq_requester *r, size_t *called)
{
    txq_msg **msgs = NULL;
    size_t n = 0;
    txq_err rc;

    rc = txq__receive_once(r->c, r->pg, r->queue, r->batch, 0, &msgs, &n);
    if (rc == TXQ_EMPTY)
        return TXQ_OK;
    if (rc != TXQ_OK)
        return rc;
    rc = txq_ack_batch(r->c, r->pg, msgs, n, NULL);
    if (rc != TXQ_OK && rc != TXQ_ESTATE) {
        /* Not acked: they come back after the visibility timeout. */
        txq_msgs_free(msgs, n);
        return rc;
    }
    txq__clear_error(r->c);
    if (n == r->batch)
        r->wake = 1; /* there may be more */
    for (size_t i = 0; i < n; i++) {
        const char *corr = txq_msg_correlation_id(msgs[i]);
        struct pending *p = corr != NULL ? lookup(r, corr, 1) : NULL;

        if (p == NULL) {
            r->unknown++;
            continue;
        }
        p->on_reply(p->arg, p->corr, msgs[i]);
        free(p);
        (*called)++;
    }
    txq_msgs_free(msgs, n);
    return TXQ_OK;
}

/* Run the timeout callbacks of the requests past their deadline, earliest
 * first. They are unlinked before any callback runs, so callbacks may add
 * and cancel requests. */
static void
fire_timeouts(txq_requester *r, size_t *called)
{
    struct pending *due = NULL;
    double now = now_secs();

    for (size_t i = 0; i < r->nbuckets; i++) {
        struct pending **pp = &r->buckets[i];
        while (*pp != NULL) {
            struct pending *p = *pp, **at = &due;
            if (p->deadline > now) {
                pp = &p->next;
                continue;
            }
            *pp = p->next;
            r->npending--;
            while (*at != NULL && (*at)->deadline <= p->deadline)
                at = &(*at)->next;
            p->next = *at;
            *at = p;
        }
    }
    while (due != NULL) {
        struct pending *p = due;
        due = p->next;
        if (p->on_timeout != NULL)
            p->on_timeout(p->arg, p->corr);
        free(p);
        (*called)++;
    }
}

txq_err
txq_requester_dispatch(txq_requester *r, size_t *called)
{
    size_t count = 0;
    int woken;
    txq_err rc;

    if (called != NULL)
        *called = 0;
    if (r == NULL || r->c == NULL)
        return TXQ_EINVAL;
    txq__clear_error(r->c);
    if (r->pg == NULL)
        return txq__set_error(r->c, TXQ_ESTATE,
                              "the requester is not open: call "
                              "txq_requester_open first");
    if (r->dispatching)
        return txq__set_error(r->c, TXQ_ESTATE,
                              "txq_requester_dispatch called from a "
                              "callback");
    if ((rc = txq__enter(r->c, r->pg)))
        return rc;
    if (!PQconsumeInput(r->pg))
        return txq__set_pg_error(r->c, r->pg, NULL);
    r->dispatching = 1;
    woken = drain(r);
    r->wake |= woken;
    if (r->npending > 0 && now_secs() >= r->next_poll)
        r->wake = 1;
    while (r->wake) {
        r->wake = 0;
        /* The reply that woke us took our registration (txq._wake):
         * register again before looking, or the next reply notifies
         * nobody and waits for the poll. */
        if (woken && (rc = exec_q(r, r->pg, TXQ__Q_WAIT_BEGIN, 1)))
            goto out;
        rc = take_replies(r, &count);
        if (rc != TXQ_OK)
            goto out;
        woken = drain(r);
        r->wake |= woken;
    }
    r->next_poll = now_secs() + r->poll_interval;
    fire_timeouts(r, &count);
out:
    r->dispatching = 0;
    if (called != NULL)
        *called = count;
    return rc;
}

txq_err
txq_requester_wait(txq_requester *r, double seconds)
{
    double deadline;
    txq_err rc;

    if (r == NULL || r->c == NULL)
        return TXQ_EINVAL;
    txq__clear_error(r->c);
    if ((rc = txq__check_secs(r->c, "seconds", seconds, 0, MAX_TIMEOUT)))
        return rc;
    deadline = now_secs() + seconds;
    for (;;) {
        struct pollfd pfd;
        double left;
        int ms;

        if ((rc = txq_requester_dispatch(r, NULL)) != TXQ_OK)
            return rc;
        left = deadline - now_secs();
        if (r->npending == 0 || left <= 0)
            return TXQ_OK;
        ms = txq_requester_timeout_ms(r);
        if (ms < 0 || ms > left * 1000.0)
            ms = (int)(left * 1000.0) + 1;
        pfd.fd = txq_requester_fd(r);
        pfd.events = POLLIN;
        pfd.revents = 0;
        if (poll(&pfd, 1, ms) < 0 && errno != EINTR)
            return txq__set_error(r->c, TXQ_ECONN, "poll on the connection: %s",
                                  strerror(errno));
    }
}

size_t
txq_requester_pending(const txq_requester *r)
{
    return r != NULL ? r->npending : 0;
}

uint64_t
txq_requester_unknown(const txq_requester *r)
{
    return r != NULL ? r->unknown : 0;
}

void
txq_requester_free(txq_requester *r)
{
    if (r == NULL)
        return;
    if (r->pg != NULL && r->c != NULL && PQstatus(r->pg) == CONNECTION_OK &&
        PQtransactionStatus(r->pg) == PQTRANS_IDLE) {
        char msg[TXQ__ERRMSG_SIZE], state[6];

        /* Best effort, keeping the handle's last error. */
        memcpy(msg, r->c->errmsg, sizeof msg);
        memcpy(state, r->c->sqlstate, sizeof state);
        exec_q(r, r->pg, TXQ__Q_UNLISTEN, 0);
        drain(r);
        memcpy(r->c->errmsg, msg, sizeof msg);
        memcpy(r->c->sqlstate, state, sizeof state);
    }
    for (size_t i = 0; i < r->nbuckets; i++) {
        struct pending *p = r->buckets[i], *next;
        for (; p != NULL; p = next) {
            next = p->next;
            free(p);
        }
    }
    free(r->buckets);
    free(r);
}

txq_err
txq_reply(txq_client *c,
          PGconn *pg,
          const txq_msg *request,
          const void *body,
          size_t len,
          const char *headers_json,
          int64_t *out_id)
{
    struct txq__params p;
    char buf[32];
    int isnull = 1;
    int64_t id = 0;
    txq_err rc;

    if (out_id != NULL)
        *out_id = 0;
    if (c == NULL)
        return TXQ_EINVAL;
    if ((rc = txq__enter(c, pg)))
        return rc;
    if (request == NULL)
        return txq__set_error(c, TXQ_EINVAL, "request is NULL");
    if (request->reply_to == NULL)
        return txq__set_error(c, TXQ_EINVAL,
                              "message %lld is not a request: it has no "
                              "reply_to queue",
                              (long long)request->id);
    if (request->correlation_id == NULL)
        return txq__set_error(c, TXQ_EINVAL,
                              "message %lld is not a request: it has no "
                              "correlation_id",
                              (long long)request->id);
    if ((rc = txq__check_body(c, body, len)) ||
        (rc = txq__check_text(c, "headers_json", headers_json, 1)) ||
        (rc = txq__ensure_schema(c, pg, 0)))
        return rc;
    txq__params_init(&p);
    txq__param_text(&p, request->reply_to);
    txq__param_text(&p, request->correlation_id);
    txq__param_binary(&p, body, len, OID_BYTEA);
    txq__param_text(&p, headers_json);
    rc = txq__query_scalar(c, pg, TXQ__Q_REPLY, &p, buf, sizeof buf, &isnull);
    if (rc != TXQ_OK)
        return rc;
    if (!isnull && !txq__parse_int64(buf, &id))
        return txq__set_error(c, TXQ_EDB, "unexpected message id \"%s\"", buf);
    if (out_id != NULL)
        *out_id = id;
    return TXQ_OK;
}
