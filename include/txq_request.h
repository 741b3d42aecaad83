/*
 * txq_request.h - request/reply over queues. Part of libtxq's API,
 * included by <txq.h>: include <txq.h>.
 */
#ifndef TXQ_REQUEST_H
#define TXQ_REQUEST_H

#include "txq.h"

#ifdef __cplusplus
extern "C" {
#endif

/* === request/reply === */

/*
 * A request is a message with a reply_to queue and a correlation id; the
 * handler's reply goes to that queue with the same correlation id, in the
 * handler's transaction (txq_reply). A requester owns one reply queue and
 * one dedicated connection, LISTENs on it, and calls the callback
 * registered for each correlation id when its reply arrives, or the
 * timeout callback when none came in time. It fits any event loop:
 *
 *     poll txq_requester_fd(r) for input, for at most
 *     txq_requester_timeout_ms(r), then call txq_requester_dispatch(r).
 *
 * Sends wake it through NOTIFY txq_wake; it never polls busily (while
 * requests are pending it also looks every poll_interval, for lost
 * notifications). Replies whose correlation id is not pending (late,
 * cancelled, or not ours) are acked and dropped, and counted
 * (txq_requester_unknown). A requester is used by one thread at a time.
 */

/* Largest correlation id txq_request generates or accepts, with its NUL. */
#define TXQ_CORRELATION_ID_SIZE 64

typedef struct txq_requester txq_requester;

/* Called with the reply; reply and correlation_id are borrowed for the
 * call. */
typedef void (*txq_reply_fn)(void *arg,
                             const char *correlation_id,
                             const txq_msg *reply);

/* Called when no reply came within the request's timeout. */
typedef void (*txq_timeout_fn)(void *arg, const char *correlation_id);

/* Requester settings: TXQ_REQUESTER_OPTS_INIT, then the fields wanted. */
typedef struct txq_requester_opts {
    size_t size;          /* sizeof(txq_requester_opts) */
    double poll_interval; /* look at the reply queue this often while
                             requests are pending, in case a notification
                             was lost; default 5 s */
    size_t batch;         /* replies taken per round trip, default 100 */
} txq_requester_opts;

#define TXQ_REQUESTER_OPTS_INIT            \
    {                                      \
        .size = sizeof(txq_requester_opts) \
    }
#define TXQ_REQUESTER_OPTS(...) \
    (&(txq_requester_opts){.size = sizeof(txq_requester_opts), __VA_ARGS__})

/*
 * txq_requester_new - a requester whose replies arrive on reply_queue (an
 * existing queue, read by this requester alone). opts may be NULL; it and
 * reply_queue are copied. c is borrowed and must outlive the requester;
 * errors of every txq_requester_* and txq_request call are reported on c
 * (txq_errmsg), a bad opts->size by txq_requester_open (TXQ_EINVAL).
 * Returns NULL only when out of memory.
 * Ownership: free with txq_requester_free.
 */
TXQ_API txq_requester *txq_requester_new(txq_client *c,
                                         const char *reply_queue,
                                         const txq_requester_opts *opts);

/*
 * txq_requester_open - start listening on pg, a connection dedicated to
 * this requester, outside a transaction (TXQ_ESTATE). pg is borrowed until
 * txq_requester_free or the next txq_requester_open; the requester runs
 * autocommit statements on it. After a lost connection, open again with a
 * new one: the pending requests are kept.
 * Returns TXQ_OK, TXQ_EINVAL (bad reply queue name), TXQ_ENOTFOUND (no such
 * queue), TXQ_ESTATE, TXQ_ECONN, TXQ_EDB, TXQ_ESCHEMA.
 */
TXQ_API txq_err txq_requester_open(txq_requester *r, PGconn *pg);

/*
 * txq_request - send a request to queue and register its callbacks.
 *
 * The request carries reply_to = the requester's queue and a correlation
 * id: opts->correlation_id when given (it must not be pending already),
 * else a generated one, copied to correlation_id (may be NULL; room for
 * TXQ_CORRELATION_ID_SIZE bytes). opts (may be NULL) are those of
 * txq_send; opts->reply_to must be NULL or the requester's queue.
 * pg is the connection to send on: the caller's own (the request joins its
 * transaction, and goes out when that commits; if it rolls back, the
 * timeout fires) or NULL for the requester's connection (committed at
 * once). on_reply(arg, ...) is called by txq_requester_dispatch when the
 * reply arrives, or on_timeout(arg, ...) (may be NULL) once timeout
 * seconds (> 0, at most 1 day) have passed without one; exactly one of
 * them, once, unless cancelled.
 * Returns TXQ_OK, TXQ_EINVAL, TXQ_EEXIST (correlation id pending),
 * TXQ_ESTATE (not open), TXQ_ENOMEM, and txq_send's errors (then nothing
 * is registered).
 */
TXQ_API txq_err txq_request(txq_requester *r,
                            PGconn *pg,
                            const char *queue,
                            const void *body,
                            size_t len,
                            const txq_send_opts *opts,
                            double timeout,
                            txq_reply_fn on_reply,
                            txq_timeout_fn on_timeout,
                            void *arg,
                            char *correlation_id);

/*
 * txq_request_cancel - forget a pending request: neither callback will
 * run, and a reply that still comes is dropped as unknown.
 * Returns TXQ_OK, TXQ_ENOTFOUND (not pending), TXQ_EINVAL.
 */
TXQ_API txq_err txq_request_cancel(txq_requester *r,
                                   const char *correlation_id);

/* txq_requester_fd - the socket to poll for input, or -1 when not open. */
TXQ_API int txq_requester_fd(const txq_requester *r);

/*
 * txq_requester_timeout_ms - how long the event loop may sleep before
 * calling txq_requester_dispatch even without input: the time to the next
 * request timeout or poll, 0 when work is waiting already, -1 when nothing
 * is pending (sleep until input).
 */
TXQ_API int txq_requester_timeout_ms(const txq_requester *r);

/*
 * txq_requester_dispatch - do what is due, without blocking beyond round
 * trips: read the connection's input, take the replies waiting on the
 * reply queue (claimed and acked before any callback runs), call their
 * callbacks, and the timeout callbacks of requests past their timeout.
 * Callbacks may call txq_request and txq_request_cancel, but not
 * txq_requester_dispatch, txq_requester_open or txq_requester_free.
 * *called (may be NULL) gets the number of callbacks run.
 * Returns TXQ_OK, TXQ_ESTATE (not open, or called from a callback),
 * TXQ_ECONN (open again with a new connection), TXQ_EDB.
 */
TXQ_API txq_err txq_requester_dispatch(txq_requester *r, size_t *called);

/*
 * txq_requester_wait - a small event loop: poll and dispatch until no
 * request is pending or seconds (>= 0) have passed.
 * Returns as txq_requester_dispatch, plus TXQ_EINVAL.
 */
TXQ_API txq_err txq_requester_wait(txq_requester *r, double seconds);

/* txq_requester_pending - the number of requests awaiting a reply. */
TXQ_API size_t txq_requester_pending(const txq_requester *r);

/* txq_requester_unknown - replies dropped since txq_requester_new because
 * no pending request had their correlation id (or they had none). */
TXQ_API uint64_t txq_requester_unknown(const txq_requester *r);

/*
 * txq_requester_free - free a requester; pending requests are forgotten
 * without callbacks. When its connection is open and idle, it stops
 * waiting on the reply queue (UNLISTEN) first; it never closes the
 * connection. NULL is a no-op.
 */
TXQ_API void txq_requester_free(txq_requester *r);

/*
 * txq_reply - send the reply to request (a message with reply_to and a
 * correlation id, as received) in the caller's transaction: a handler
 * calls it before its ack, so its writes, the reply and the ack commit
 * together. headers_json is NULL or a JSON object. When the reply queue no
 * longer exists (the requester gave up and dropped it) the reply is
 * dropped, recorded in txq.audit_log, and *out_id is 0; that is not an
 * error. *out_id may be NULL.
 * Returns TXQ_OK, TXQ_EINVAL (request without reply_to or correlation id,
 * bad headers), TXQ_ETOOBIG, TXQ_ECONN, TXQ_EDB.
 */
TXQ_API txq_err txq_reply(txq_client *c,
                          PGconn *pg,
                          const txq_msg *request,
                          const void *body,
                          size_t len,
                          const char *headers_json,
                          int64_t *out_id);

#ifdef __cplusplus
}
#endif

#endif /* TXQ_REQUEST_H */
