/*
 * txq_consumer.h - the consume loop that txq-worker runs, for embedding.
 * Part of libtxq's API, included by <txq.h>: include <txq.h>.
 */
#ifndef TXQ_CONSUMER_H
#define TXQ_CONSUMER_H

#include "txq.h"

#ifdef __cplusplus
extern "C" {
#endif

/* === consumer loop === */

/*
 * The consume loop that txq-worker runs, for embedding in a service. Per
 * claimed message: BEGIN; SET LOCAL statement_timeout to the handler budget;
 * the handler runs on the same PGconn inside that transaction; the ack
 * (fenced by the attempt) joins it; COMMIT. When the handler fails, its
 * transaction rolls back and txq_fail records the failure in a transaction
 * of its own, applying the queue's failure policy (retry with backoff, then
 * review / ignore / notify). Attempts are durable before a handler runs:
 * the first claim commits on its own (txq_claim); after a successful
 * handler, the claim of the next messages commits together with its ack
 * (one commit and, pipelined, one round trip per message).
 */

/* What a handler tells the loop. */
typedef enum txq_handler_result {
    TXQ_HANDLER_OK = 0,        /* done: the ack commits with its writes */
    TXQ_HANDLER_RETRY = 1,     /* failed: roll back, retry after backoff */
    TXQ_HANDLER_PERMANENT = 2, /* failed for good: roll back, no retries,
                                  straight to the queue's exhausted policy */
    TXQ_HANDLER_IGNORE = 3     /* not for this handler: its writes roll back
                                  and the message is acked (consumed, counted
                                  as acked, no error recorded) */
} txq_handler_result;

/* Size of the error buffer a handler gets. */
#define TXQ_HANDLER_ERRSIZE 4096

/*
 * txq_handler_fn - handle one message.
 *
 * Runs inside the consume transaction on pg: the handler's writes commit
 * with the ack, or roll back. It must not BEGIN, COMMIT or ROLLBACK. A
 * statement that fails aborts the transaction; the loop then treats the
 * message as failed (RETRY) even if the handler returned OK. On a failure
 * the handler writes a NUL-terminated description into err (errsize bytes,
 * "" on entry); it is recorded in the message's error history.
 * m and the strings it holds are borrowed for the duration of the call.
 *
 * Pipelined: a handler may instead queue its statements in libpq's
 * pipeline mode (PQenterPipelineMode, then up to 8 PQsendQuery* calls, no
 * PQpipelineSync) and return OK at once; the loop sends the ack and COMMIT
 * behind them in the same round trip. If one of them fails, nothing is
 * committed and the message fails: permanently when its SQLSTATE is TQ001,
 * else to be retried, with the error's message and SQLSTATE appended to
 * what the handler left in err (e.g. its name). txq-worker's sql: handlers
 * work this way.
 *
 * Replies: a handler answers a request (txq_msg_reply_to and
 * txq_msg_correlation_id set) with txq_reply(c, pg, m, body, len,
 * headers_json, NULL) on the pg it was given, before returning OK: the
 * reply commits with its writes and the ack, and is never sent if the
 * message fails. txq-worker passes a so: handler its consumer's
 * txq_client (bound to the worker's schema) as arg, so it calls
 * txq_reply((txq_client *)arg, pg, m, ...); an embedding service passes a
 * client of its own through txq_consumer_new's arg. A reply queue that
 * no longer exists drops the reply (audited) and is not an error.
 */
typedef txq_handler_result (*txq_handler_fn)(
    PGconn *pg, const txq_msg *m, void *arg, char *err, size_t errsize);

/* What happened to one message (for logs and metrics). Filled in by the
 * library: size is the library's sizeof(txq_consumer_event), so a field
 * appended after 1.0 is read only when TXQ_HAS_FIELD(txq_consumer_event,
 * ev, field). */
typedef struct txq_consumer_event {
    size_t size;               /* the library's sizeof(txq_consumer_event) */
    const txq_msg *msg;        /* borrowed for the callback */
    txq_handler_result result; /* what the handler returned (after the loop's
                                  checks: OK with a failed transaction is
                                  RETRY); RETRY when it never ran */
    int acked;                 /* the ack committed */
    txq_outcome outcome;       /* what txq_fail did; 0 when not failed */
    txq_err err;               /* TXQ_OK, TXQ_ESTATE (the claim lapsed and
                                  someone else holds the message: nothing
                                  was changed), or the error of the ack,
                                  commit or fail step */
    const char *error;         /* the failure text recorded, or "" */
    double seconds;            /* time spent in the handler (a pipelined
                                  handler: until its statements, the ack
                                  and COMMIT came back) */
} txq_consumer_event;

/* Loop settings: TXQ_CONSUMER_OPTS_INIT, then the fields wanted. */
typedef struct txq_consumer_opts {
    size_t size;               /* sizeof(txq_consumer_opts) */
    size_t prefetch;           /* messages claimed per round trip; handled
                                  one by one, each in its own transaction,
                                  each claim extended before its handler
                                  starts when it waited over 1 s. Default
                                  (0): automatic, as many as the loop
                                  handles in about 50 ms (1 to 16; 1 for a
                                  handler slower than 50 ms) */
    double timeout;            /* handler budget in seconds, default 30: the
                                  transaction's statement_timeout, and the
                                  session's idle_in_transaction_session_
                                  timeout is timeout + 5 s */
    double visibility_timeout; /* claim length, default timeout + 10 s */
    double poll_interval;      /* longest sleep while the queue is empty,
                                  default 1 s */
    /* Wait hook: called when the queue is empty, instead of txq_claim's own
     * LISTEN/NOTIFY long poll; it waits up to `seconds` for new work (or
     * less) and returns 0, or non-zero to end the loop (as a stop). */
    int (*wait_fn)(void *wait_arg, double seconds);
    void *wait_arg;
    /* Called after each message; may be NULL. */
    void (*event_fn)(void *event_arg, const txq_consumer_event *ev);
    void *event_arg;
    uint64_t max_messages; /* end after this many messages (0: no limit) */
    int exit_when_empty;   /* end when a claim finds the queue empty */
} txq_consumer_opts;

#define TXQ_CONSUMER_OPTS_INIT            \
    {                                     \
        .size = sizeof(txq_consumer_opts) \
    }
#define TXQ_CONSUMER_OPTS(...) \
    (&(txq_consumer_opts){.size = sizeof(txq_consumer_opts), __VA_ARGS__})

typedef struct txq_consumer txq_consumer;

/*
 * txq_consumer_new - a consume loop for queue with handler fn(..., arg).
 * opts may be NULL; it and queue are copied. The client c is borrowed and
 * must outlive the consumer.
 * Returns NULL only when out of memory; bad arguments (opts->size too)
 * are reported by txq_consumer_run (TXQ_EINVAL).
 * Ownership: free with txq_consumer_free.
 */
TXQ_API txq_consumer *txq_consumer_new(txq_client *c,
                                       const char *queue,
                                       const txq_consumer_opts *opts,
                                       txq_handler_fn fn,
                                       void *arg);

/*
 * txq_consumer_run - run the loop on pg until stopped.
 *
 * pg must be a connection of its own, outside a transaction (TXQ_ESTATE);
 * the loop sets its session's statement_timeout,
 * idle_in_transaction_session_timeout and (PostgreSQL 14+)
 * client_connection_check_interval. A stop (txq_consumer_stop, wait_fn,
 * max_messages, exit_when_empty) takes effect between messages: the
 * messages already claimed are handled first, so the loop drains.
 * Returns TXQ_OK when stopped; TXQ_ECONN when the connection broke (claims
 * of the dead session come back when txq.maintain() runs or the claim
 * lapses; reconnect and call again); TXQ_EINVAL, TXQ_ENOTFOUND (no such
 * queue), TXQ_ESCHEMA, TXQ_EDB. Details via txq_consumer_errmsg.
 */
TXQ_API txq_err txq_consumer_run(txq_consumer *cons, PGconn *pg);

/*
 * txq_consumer_stop - ask the loop to end after the message in hand.
 * Async-signal-safe and callable from any thread (it sets an atomic flag);
 * a loop waiting in txq_claim's long poll notices within poll_interval.
 * The flag stays set: txq_consumer_run returns at once until
 * txq_consumer_reset.
 */
TXQ_API void txq_consumer_stop(txq_consumer *cons);

/* txq_consumer_reset - clear the stop flag. */
TXQ_API void txq_consumer_reset(txq_consumer *cons);

/* txq_consumer_stopping - non-zero once txq_consumer_stop was called. */
TXQ_API int txq_consumer_stopping(const txq_consumer *cons);

/*
 * txq_consumer_errmsg - why the last txq_consumer_run returned an error,
 * "" otherwise; txq_consumer_sqlstate - its SQLSTATE or "". Never NULL;
 * valid until the next run.
 */
TXQ_API const char *txq_consumer_errmsg(const txq_consumer *cons);
TXQ_API const char *txq_consumer_sqlstate(const txq_consumer *cons);

/* txq_consumer_free - free a consumer. NULL is a no-op. */
TXQ_API void txq_consumer_free(txq_consumer *cons);

#ifdef __cplusplus
}
#endif

#endif /* TXQ_CONSUMER_H */
