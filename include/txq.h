/*
 * txq.h - libtxq, a transactional message queue that lives in PostgreSQL.
 *
 * Every queue operation runs on the caller's own PGconn, inside the caller's
 * own transaction: a message taken off a queue and the business writes it
 * causes commit together, or not at all. txq never issues BEGIN, COMMIT or
 * ROLLBACK on a connection it is given (txq_migrate and the waiting calls,
 * which need their own commits, say so and refuse to run inside a
 * transaction). Only what is declared here is supported.
 *
 * Threading: Distinct txq_client handles may be used from different threads
 * at the same time. A single handle, and any PGconn passed with it, must be
 * used by one thread at a time. A txq_msg is immutable once received and may
 * be passed between threads. txq keeps no global mutable state and needs no
 * global init or cleanup.
 */
#ifndef TXQ_H
#define TXQ_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#define TXQ_VERSION_MAJOR 1
#define TXQ_VERSION_MINOR 0
#define TXQ_VERSION_PATCH 0

/* The schema version (highest migration) this library works with. */
#define TXQ_SCHEMA_VERSION 10

/* Feature macros. */
#define TXQ_HAS_CLAIM   1
#define TXQ_HAS_FIFO    1
#define TXQ_HAS_TOPICS  1 /* txq_topic_create, txq_publish, ... */
#define TXQ_HAS_REQUEST 1 /* txq_requester_*, txq_request, txq_reply */
#define TXQ_HAS_SEAL    1 /* encrypted queues: txq_keyring_*, TXQ_EDECRYPT */
#define TXQ_HAS_POOLER  1 /* txq_client_set_pooler, txq_pooled */

#if defined(__GNUC__) || defined(__clang__)
#define TXQ_API __attribute__((visibility("default")))
#else
#define TXQ_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* === errors === */

/* Result of every fallible call. Values are never renumbered or reused. */
typedef enum txq_err {
    TXQ_OK = 0,
    TXQ_EMPTY = 1,     /* no message available: not a failure */
    TXQ_EINVAL = 2,    /* bad argument or misuse; nothing was changed */
    TXQ_ENOMEM = 3,    /* out of memory */
    TXQ_ECONN = 4,     /* connection unusable, or SQLSTATE class 08 */
    TXQ_ECONFLICT = 5, /* serialization failure or deadlock: retry the tx */
    TXQ_EDB = 6,       /* any other server error */
    TXQ_ESCHEMA = 7,   /* txq schema missing or at another version */
    TXQ_ENOTFOUND = 8, /* no such queue, message or dead letter */
    TXQ_ESTATE = 9,    /* wrong for the current state: e.g. acking a message
                          this attempt no longer holds, or a call that must
                          run outside a transaction */
    TXQ_EEXIST = 10,   /* the queue already exists */
    TXQ_ETOOBIG = 11,  /* body larger than the queue's max_body_bytes */
    TXQ_ENOROUTE = 12, /* a route topic has no rule matching the message
                          and no default queue (SQLSTATE TQ004); nothing
                          was written */
    TXQ_EPERM = 13,    /* the role lacks a privilege on the queue (or on
                          every queue) or may not pass a time (SQLSTATE
                          42501); txq_errmsg names role, queue and
                          privilege; nothing was changed */
    TXQ_EDECRYPT = 14  /* a message of an encrypted queue could not be
                          opened (no key ring, unknown key id, not an
                          envelope, or its authentication failed:
                          tampered, or moved from another message);
                          txq_errmsg names the message and the reason.
                          Its body is never returned */
} txq_err;

/*
 * txq_strerror - static text for a code ("unknown error" for an unknown one).
 */
TXQ_API const char *txq_strerror(txq_err err);

/*
 * txq_version - the library's version as "MAJOR.MINOR.PATCH" (static).
 */
TXQ_API const char *txq_version(void);

/* === the client handle === */

typedef struct txq_client txq_client;
typedef struct txq_msg txq_msg;

/* Options for txq_client_new. Zero-initialised means defaults. Fields are
 * only ever appended. */
typedef struct txq_options {
    /* Schema holding txq's tables and functions; NULL means "txq". Must
     * match [a-z_][a-z0-9_]{0,62}. */
    const char *schema;
} txq_options;

/*
 * txq_client_new - create a handle. opts may be NULL.
 *
 * The handle holds no connection; each call borrows the caller's PGconn.
 * Returns NULL only when out of memory; a bad schema name is reported by the
 * first call that uses the handle (TXQ_EINVAL).
 * Ownership: free with txq_client_free.
 */
TXQ_API txq_client *txq_client_new(const txq_options *opts);

/*
 * txq_client_free - free a handle. NULL is a no-op. Does not touch any
 * PGconn.
 */
TXQ_API void txq_client_free(txq_client *c);

/*
 * txq_errmsg - the last error on this handle, "" when the last call
 * succeeded. Never NULL. Valid until the next call on the handle.
 */
TXQ_API const char *txq_errmsg(const txq_client *c);

/*
 * txq_sqlstate - the 5-character SQLSTATE of the last server error, or "".
 * txq's own SQLSTATEs: TQ001 permanent handler failure, TQ002 not found,
 * TQ003 not held by this attempt, TQ004 no route (TXQ_ENOROUTE), TQ005 a
 * plaintext body for an encrypted queue, or a sealed one for a plain queue
 * (TXQ_EINVAL).
 */
TXQ_API const char *txq_sqlstate(const txq_client *c);

/* === connection poolers === */

/*
 * How a client's connections reach PostgreSQL. Behind a transaction
 * pooler (PgBouncer pool_mode = transaction) each transaction may run on
 * another server connection, and what a session keeps (named prepared
 * statements, session settings, LISTEN) stays with the server connection,
 * not with the client. So in transaction mode libtxq sends every
 * statement unnamed (PQexecParams), keeps no session setting (the
 * consume loop sets its timeouts per transaction), waits by polling
 * instead of LISTEN, and its claims record no backend pid: a pooled
 * server connection outlives its clients (and may end under a live one),
 * so txq.maintain() cannot tell from it that a client died. Such a claim
 * is never given back early: it lapses with its visibility timeout.
 * Limits in transaction mode: a requester (txq_requester_open) needs a
 * session of its own (TXQ_ESTATE), and a send to an encrypted queue must
 * run inside a transaction (TXQ_ESTATE in autocommit).
 */
enum txq_pooler {
    /* Default: the schema check done once per connection (a statement
     * libtxq runs anyway) compares the backend's pid with the one libpq
     * got at connection start. A pooler (PgBouncer) hands out its own:
     * then transaction mode, else none. Until the check, transaction
     * mode. */
    TXQ_POOLER_AUTO = 0,
    /* A session of its own: a direct connection, or session pooling.
     * Named prepared statements, LISTEN, claims recording the pid. */
    TXQ_POOLER_NONE = 1,
    /* Transaction pooling, whatever the check finds. */
    TXQ_POOLER_TRANSACTION = 2
};

/*
 * txq_client_set_pooler - say how c's connections reach PostgreSQL (enum
 * txq_pooler); it applies from the next call.
 * Returns TXQ_OK, TXQ_EINVAL (c NULL or an unknown mode), TXQ_ESTATE (a
 * _start pending).
 */
TXQ_API txq_err txq_client_set_pooler(txq_client *c, int mode);

/*
 * txq_pooled - whether calls of c on pg run in transaction-pooler mode
 * (*pooled 1) or not (0): the mode set, or what TXQ_POOLER_AUTO found.
 * Runs the schema check when pg was not checked yet.
 * Returns TXQ_OK, TXQ_EINVAL, TXQ_ESCHEMA, TXQ_ECONN, TXQ_EDB.
 */
TXQ_API txq_err txq_pooled(txq_client *c, PGconn *pg, int *pooled);

/* === encrypted queues === */

/*
 * A queue created with txq_queue_opts.encrypt takes only bodies sealed by
 * the client: XChaCha20-Poly1305 (libsodium) under a key of a key ring
 * that only clients hold. The seal authenticates the queue, the message
 * id and the headers (which stay readable by the server, as do sizes,
 * ids and times: only the body is secret), so a body moved to another
 * message fails to open. With a key ring attached to the client, txq_send
 * and txq_send_batch (and their _start forms) seal bodies for encrypted
 * queues (one more round trip: the ids are reserved first); every call
 * that returns messages opens them. See docs/security.md.
 */
typedef struct txq_keyring txq_keyring;

/*
 * txq_keyring_load - read a key file: one key per line, "ID BASE64KEY"
 * (ID: 1 to 32 characters A-Z a-z 0-9 . _ -; the key: 32 bytes in
 * standard base64), blank lines and lines starting with # ignored. The
 * last key seals; every key opens (rotation: append a new key, and drop
 * the old one once no message sealed with it is left). The file must be
 * a regular file owned by the calling user, readable by no one else (mode
 * 0600 or 0400). Keys live in locked memory, wiped when freed.
 * Returns TXQ_OK with *out, TXQ_EINVAL (a bad file or line: err, errsize
 * bytes, names the file and the line), TXQ_ENOMEM.
 * Ownership: free with txq_keyring_free. A key ring is never changed once
 * loaded and may be shared by clients of several threads.
 */
TXQ_API txq_err txq_keyring_load(const char *path,
                                 txq_keyring **out,
                                 char *err,
                                 size_t errsize);

/* txq_keyring_free - wipe and free a key ring. NULL is a no-op. */
TXQ_API void txq_keyring_free(txq_keyring *kr);

/* txq_keyring_current - the id of the key that seals (borrowed). */
TXQ_API const char *txq_keyring_current(const txq_keyring *kr);

/*
 * txq_client_set_keyring - attach a key ring (NULL: detach). kr is
 * borrowed: it must outlive its use by c.
 * Returns TXQ_OK, TXQ_EINVAL (c NULL), TXQ_ESTATE (a _start pending).
 */
TXQ_API txq_err txq_client_set_keyring(txq_client *c, const txq_keyring *kr);

/* === schema === */

/*
 * txq_migrate - create or upgrade the txq schema on pg.
 *
 * Applies every migration not yet recorded, each in its own transaction under
 * an advisory lock, then re-applies the SQL functions and views. Running it
 * again is a no-op. This call commits: pg must not be inside a transaction
 * (TXQ_ESTATE).
 * Returns TXQ_OK, TXQ_ESTATE, TXQ_ESCHEMA (the schema is newer than this
 * library), TXQ_ECONN, TXQ_EDB. *applied (may be NULL) gets the number of
 * migrations applied by this call.
 */
TXQ_API txq_err txq_migrate(txq_client *c, PGconn *pg, int *applied);

/*
 * txq_schema_check - check that pg's schema is at TXQ_SCHEMA_VERSION.
 *
 * Every other call does this once per connection; call it to fail early.
 * Returns TXQ_OK or TXQ_ESCHEMA (missing, older or newer, with both versions
 * in txq_errmsg), TXQ_ECONN, TXQ_EDB.
 */
TXQ_API txq_err txq_schema_check(txq_client *c, PGconn *pg);

/* === queues === */

enum txq_on_exhausted {
    TXQ_ON_EXHAUSTED_DEFAULT = 0, /* review on create, unchanged on alter */
    TXQ_ON_EXHAUSTED_REVIEW = 1,
    TXQ_ON_EXHAUSTED_IGNORE = 2,
    TXQ_ON_EXHAUSTED_NOTIFY = 3
};

/* Queue settings. Zero means "the default" for txq_queue_create and
 * "unchanged" for txq_queue_alter; negative values are rejected.
 * Durations are in seconds. */
typedef struct txq_queue_opts {
    int fifo;                  /* create only: a FIFO queue */
    double visibility_timeout; /* default 30 */
    int max_attempts;          /* default 5 */
    double backoff_base;       /* default 1 */
    double backoff_cap;        /* default 3600 */
    double backoff_jitter;     /* fraction 0..1, default 0.1 */
    int no_jitter;             /* set jitter to 0 */
    int on_exhausted;          /* enum txq_on_exhausted */
    int64_t max_body_bytes;    /* default 262144, at most 268435456 */
    double expire_after;       /* default: never */
    double dedup_window;       /* FIFO, default 300 */
    double archive_for;        /* default: no archive */
    int clear_expire_after;    /* alter only: messages no longer expire */
    int clear_archive_for;     /* alter only: stop archiving */
    double delay;              /* default delay of a send that gives none
                                  (SQS DelaySeconds), at most 365 days;
                                  default 0 */
    int encrypt;               /* an encrypted queue: it takes only bodies
                                  sealed by a client with a key ring
                                  (txq_client_set_keyring); not for fifo.
                                  alter: turn it on, only while the queue
                                  holds no messages and no dead letters */
    int no_encrypt;            /* alter only: turn encryption off, on the
                                  same condition */
} txq_queue_opts;

/*
 * txq_queue_create - create a queue, in the caller's transaction.
 * opts may be NULL (all defaults).
 * Returns TXQ_OK, TXQ_EINVAL (bad name or setting, named in txq_errmsg),
 * TXQ_EEXIST, TXQ_ECONN, TXQ_EDB, TXQ_ESCHEMA.
 */
TXQ_API txq_err txq_queue_create(txq_client *c,
                                 PGconn *pg,
                                 const char *name,
                                 const txq_queue_opts *opts);

/*
 * txq_queue_alter - change the non-zero settings of opts.
 * Returns TXQ_OK, TXQ_EINVAL, TXQ_ENOTFOUND, TXQ_ECONN, TXQ_EDB.
 */
TXQ_API txq_err txq_queue_alter(txq_client *c,
                                PGconn *pg,
                                const char *name,
                                const txq_queue_opts *opts);

/*
 * txq_queue_drop - drop a queue. One that still holds messages or dead
 * letters is dropped only when force is non-zero (they are deleted too).
 * Returns TXQ_OK, TXQ_ENOTFOUND, TXQ_ESTATE (not empty), TXQ_ECONN, TXQ_EDB.
 */
TXQ_API txq_err txq_queue_drop(txq_client *c,
                               PGconn *pg,
                               const char *name,
                               int force);

/* === sending === */

/* Per-message attributes. Zero-initialised means none. Strings must be
 * valid UTF-8 without control characters other than tab; they are copied. */
typedef struct txq_send_opts {
    const char *headers_json;   /* a JSON object, or NULL for {} */
    double delay;               /* seconds before it becomes visible;
                                   0: the queue's delay (default 0) */
    int priority;               /* higher first; -32768..32767 */
    const char *group;          /* FIFO group / routing key */
    const char *dedup_id;       /* idempotency key: a repeat returns the
                                   first id and sends nothing */
    const char *correlation_id; /* request/reply */
    const char *reply_to;       /* request/reply: a queue name */
} txq_send_opts;

/*
 * txq_send - enqueue one message in the caller's current transaction.
 *
 * Uses the caller's PGconn; txq never begins or commits. The message becomes
 * visible when that transaction commits, and never if it rolls back. body is
 * any bytes and is copied; opts may be NULL.
 * Returns TXQ_OK (and *out_id if not NULL), TXQ_EINVAL, TXQ_ETOOBIG,
 * TXQ_ENOTFOUND (no such queue), TXQ_ECONN, TXQ_EDB, TXQ_ESCHEMA; details
 * via txq_errmsg(c) and txq_sqlstate(c).
 */
TXQ_API txq_err txq_send(txq_client *c,
                         PGconn *pg,
                         const char *queue,
                         const void *body,
                         size_t len,
                         const txq_send_opts *opts,
                         int64_t *out_id);

/*
 * txq_send_batch - enqueue n messages in one round trip, in the caller's
 * transaction. bodies[i] has lens[i] bytes; opts (may be NULL) applies to
 * every message. out_ids, when not NULL, has room for n ids, written in the
 * order of bodies. Any bad message fails the whole batch and names its
 * position. Same returns as txq_send.
 */
TXQ_API txq_err txq_send_batch(txq_client *c,
                               PGconn *pg,
                               const char *queue,
                               const void *const *bodies,
                               const size_t *lens,
                               size_t n,
                               const txq_send_opts *opts,
                               int64_t *out_ids);

/* === receiving === */

typedef struct txq_recv_opts {
    double visibility_timeout; /* seconds; 0 means the queue's */
    double wait;               /* txq_claim only: long-poll up to this many
                                  seconds when the queue is empty */
} txq_recv_opts;

/*
 * txq_receive - take up to max ready messages in the caller's transaction.
 *
 * Inside a transaction (BEGIN sent), each message is held by the
 * transaction's row lock (txq.take): other consumers skip it until the
 * transaction ends, and nothing is written to take it. Ack it in the same
 * transaction as the business writes it causes. If the transaction rolls
 * back, or commits without an ack, nothing happened: the message is ready
 * again at once with its attempt count unchanged (txq_msg_attempt is the
 * attempt this delivery would count). txq_fail and txq_ack accept such a
 * message while its transaction holds it (that is when its handle is
 * valid); txq_set_visibility turns it into a claim as txq_claim makes.
 * txq_msg_visible_until is INFINITY (the hold ends with the transaction).
 * On a fifo queue, and outside a transaction (autocommit), it claims
 * instead, as txq_claim does without waiting: the attempt count goes up by
 * one and the message stays invisible for the visibility timeout.
 * opts may be NULL.
 * Returns TXQ_OK with *out an array of *n (>= 1) messages, TXQ_EMPTY with
 * *out NULL and *n 0, TXQ_EINVAL, TXQ_ENOTFOUND, TXQ_ECONN, TXQ_EDB.
 * Ownership: free the array with txq_msgs_free(*out, *n).
 * Encrypted queues: the bodies are opened with the client's key ring.
 * When one or more cannot be opened, the call returns TXQ_EDECRYPT (the
 * message names the first: its id and why) and, unlike other errors,
 * still hands out *out and *n (free them): each message that failed has
 * no body and a txq_msg_decrypt_error; the others are whole. It is held as
 * a good one would be: fail it (txq_fail with permanent: it goes to the
 * queue's exhausted policy, e.g. the dead letters), or leave it to come
 * back. txq_claim, txq_pop and txq_pop_finish do the same; with txq_pop,
 * roll back unless the messages are to be consumed as they are.
 */
TXQ_API txq_err txq_receive(txq_client *c,
                            PGconn *pg,
                            const char *queue,
                            size_t max,
                            const txq_recv_opts *opts,
                            txq_msg ***out,
                            size_t *n);

/*
 * txq_pop - take and acknowledge up to max ready messages at once, in the
 * caller's transaction (one statement; pgmq's pop).
 *
 * pg must be in a transaction (TXQ_ESTATE otherwise). The messages leave
 * the queue when it commits (counted as acked, archived when the queue
 * keeps an archive) and come back untouched if it rolls back: for work that
 * commits or rolls back as a whole. To fail one message on its own (retry,
 * dead letter) use txq_receive and txq_fail instead. On a fifo queue, at
 * most one message per group, the group's oldest. Returns and ownership as
 * txq_receive; txq_msg_visible_until is INFINITY.
 * A role that may delete from the schema's tables itself, outside row
 * security (its owner, a superuser), pops a standard queue in one
 * statement without txq.pop()'s plpgsql call; other roles call txq.pop().
 * After a SET ROLE to a role that may not, the first pop fails with
 * SQLSTATE 42501 (the transaction is aborted) and later ones call pop().
 */
TXQ_API txq_err txq_pop(txq_client *c,
                        PGconn *pg,
                        const char *queue,
                        size_t max,
                        txq_msg ***out,
                        size_t *n);

/*
 * Asynchronous send, send_batch and pop, libpq's PQsendQuery way: for a
 * service that serves several connections from one thread (an event
 * loop). A start makes every check of txq_send / txq_send_batch / txq_pop,
 * sends the statement and returns without waiting for its answer; the
 * finish reads that answer and returns what the blocking call would have.
 * In between, the caller waits until PQconsumeInput(pg) leaves
 * PQisBusy(pg) false (poll PQsocket for input), or just calls the finish,
 * which then blocks. pg is in the state the blocking call needs:
 * autocommit or the caller's transaction for a send, a transaction for a
 * pop; a start on a connection with a command of the caller's still
 * unanswered fails with TXQ_ESTATE.
 *
 * A handle has at most one statement pending: until its finish, every
 * other call with that handle fails with TXQ_ESTATE (and so does a finish
 * of another kind, or one with nothing pending); use a handle per
 * connection. The first start on a connection may block for the schema
 * check and for preparing the statement (once per connection). A start
 * that fails sent nothing; a finish that fails (ENOTFOUND, ECONN, EDB,
 * ...) leaves nothing pending. After a direct statement is refused (42501:
 * a SET ROLE since the connection was checked) the finish reports that
 * error and later starts use txq.send() / txq.pop(); the blocking send
 * calls would have retried a refused send in autocommit by themselves.
 * Returns: a start: TXQ_OK (sent) or the errors of the blocking call's
 * checks: TXQ_EINVAL, TXQ_ETOOBIG, TXQ_ESTATE, TXQ_ENOMEM, TXQ_ESCHEMA,
 * TXQ_ECONN, TXQ_EDB. A finish: the blocking call's returns (*out_id,
 * out_ids as txq_send and txq_send_batch fill them), with txq_pop's
 * ownership of the messages (txq_msgs_free).
 */
TXQ_API txq_err txq_send_start(txq_client *c,
                               PGconn *pg,
                               const char *queue,
                               const void *body,
                               size_t len,
                               const txq_send_opts *opts);

TXQ_API txq_err txq_send_finish(txq_client *c, PGconn *pg, int64_t *out_id);

TXQ_API txq_err txq_send_batch_start(txq_client *c,
                                     PGconn *pg,
                                     const char *queue,
                                     const void *const *bodies,
                                     const size_t *lens,
                                     size_t n,
                                     const txq_send_opts *opts);

/* out_ids: NULL, or room for the n ids of the start's batch. */
TXQ_API txq_err txq_send_batch_finish(txq_client *c,
                                      PGconn *pg,
                                      int64_t *out_ids);

TXQ_API txq_err txq_pop_start(txq_client *c,
                              PGconn *pg,
                              const char *queue,
                              size_t max);

TXQ_API txq_err txq_pop_finish(txq_client *c,
                               PGconn *pg,
                               txq_msg ***out,
                               size_t *n);

/*
 * txq_claim - the durable-attempt form of txq_receive.
 *
 * pg must not be in a transaction (TXQ_ESTATE): the claim commits on its
 * own, so each message's attempt is counted before any handler runs, and a
 * message that kills its consumer still ends in its failure policy. Then,
 * per message, the caller begins its own transaction, does the work, calls
 * txq_ack (or txq_fail), and commits. The ack is fenced by the attempt: once
 * the claim has lapsed and another consumer holds the message, the stale ack
 * changes nothing and returns TXQ_ESTATE.
 * With opts->wait > 0 and nothing ready, it waits for a send (LISTEN/NOTIFY,
 * with a poll every second as fallback) up to opts->wait seconds. While
 * waiting it consumes every notification pending on pg and it ends with
 * UNLISTEN txq_wake: give it a connection that does not LISTEN for itself.
 * Behind a transaction pooler (txq_pooled) it polls every second instead.
 * Returns as txq_receive, plus TXQ_ESTATE.
 */
TXQ_API txq_err txq_claim(txq_client *c,
                          PGconn *pg,
                          const char *queue,
                          size_t max,
                          const txq_recv_opts *opts,
                          txq_msg ***out,
                          size_t *n);

/*
 * txq_ack - acknowledge one message in the caller's transaction: it leaves
 * the queue when that transaction commits.
 * Returns TXQ_OK, TXQ_ESTATE when the message is no longer held by this
 * attempt (acked, failed, or claimed again after its claim lapsed),
 * TXQ_EINVAL, TXQ_ECONN, TXQ_EDB.
 */
TXQ_API txq_err txq_ack(txq_client *c, PGconn *pg, const txq_msg *m);

/*
 * txq_ack_batch - acknowledge n messages in one round trip.
 * Returns TXQ_OK when all were acked; TXQ_ESTATE when some were not held
 * (the held ones are acked; roll back to undo), with *acked (may be NULL)
 * the count acked.
 */
TXQ_API txq_err txq_ack_batch(
    txq_client *c, PGconn *pg, txq_msg *const *msgs, size_t n, size_t *acked);

/* What txq_fail did with a message. */
typedef enum txq_outcome {
    TXQ_OUTCOME_RETRY = 1,    /* back on the queue after the backoff */
    TXQ_OUTCOME_DEAD = 2,     /* in the dead letters for review */
    TXQ_OUTCOME_NOTIFIED = 3, /* dead-lettered and an alert raised */
    TXQ_OUTCOME_IGNORED = 4   /* dropped (counted; archived if configured) */
} txq_outcome;

typedef struct txq_fail_opts {
    int permanent;      /* no retries: straight to the exhausted policy */
    double retry_after; /* seconds; 0 means the queue's backoff */
} txq_fail_opts;

/*
 * txq_fail - record a failed attempt with its error text and apply the
 * queue's failure policy, in the caller's transaction. error is copied and
 * may be NULL; opts may be NULL.
 * Returns TXQ_OK with *outcome (may be NULL), TXQ_ESTATE (not held by this
 * attempt), TXQ_ENOTFOUND, TXQ_EINVAL, TXQ_ECONN, TXQ_EDB.
 */
TXQ_API txq_err txq_fail(txq_client *c,
                         PGconn *pg,
                         const txq_msg *m,
                         const char *error,
                         const txq_fail_opts *opts,
                         txq_outcome *outcome);

/*
 * txq_set_visibility - keep a message invisible for seconds more from now
 * (extend the claim of a long handler); 0 releases it at once without
 * counting a failure.
 * Returns TXQ_OK, TXQ_EINVAL, TXQ_ESTATE (not held), TXQ_ECONN, TXQ_EDB.
 */
TXQ_API txq_err txq_set_visibility(txq_client *c,
                                   PGconn *pg,
                                   const txq_msg *m,
                                   double seconds);

/* === messages === */

/* Accessors. Strings are borrowed until the message is freed; absent
 * optional strings are NULL. */
TXQ_API int64_t txq_msg_id(const txq_msg *m);
TXQ_API const char *txq_msg_queue(const txq_msg *m);
TXQ_API int txq_msg_attempt(const txq_msg *m);
/* The body and its length in bytes (*len may be NULL). Always followed by a
 * NUL byte not counted in len, so a text body can be used as a C string. */
TXQ_API const void *txq_msg_body(const txq_msg *m, size_t *len);
TXQ_API const char *txq_msg_headers(const txq_msg *m); /* JSON object text */
TXQ_API const char *txq_msg_correlation_id(const txq_msg *m);
TXQ_API const char *txq_msg_reply_to(const txq_msg *m);
TXQ_API const char *txq_msg_group(const txq_msg *m);
TXQ_API int txq_msg_priority(const txq_msg *m);
/* Times as seconds since the Unix epoch. */
TXQ_API double txq_msg_enqueued_at(const txq_msg *m);
TXQ_API double txq_msg_visible_until(const txq_msg *m);
/* Why a message of an encrypted queue could not be opened (static text),
 * or NULL when its body is there. Such a message has no body
 * (txq_msg_body returns NULL, length 0). */
TXQ_API const char *txq_msg_decrypt_error(const txq_msg *m);

/* txq_msg_free - free one message. NULL is a no-op. */
TXQ_API void txq_msg_free(txq_msg *m);

/* txq_msgs_free - free an array from txq_receive/txq_claim and its n
 * messages. NULL is a no-op. */
TXQ_API void txq_msgs_free(txq_msg **msgs, size_t n);

/* === dead letters === */

/*
 * txq_requeue - put dead letter id back on its queue with a fresh attempt
 * count, in the caller's transaction.
 * Returns TXQ_OK, TXQ_ENOTFOUND, TXQ_ECONN, TXQ_EDB.
 */
TXQ_API txq_err txq_requeue(txq_client *c, PGconn *pg, int64_t id);

/*
 * txq_requeue_all - requeue every dead letter of a queue; *count (may be
 * NULL) gets how many.
 * Returns TXQ_OK, TXQ_ENOTFOUND, TXQ_EINVAL, TXQ_ECONN, TXQ_EDB.
 */
TXQ_API txq_err txq_requeue_all(txq_client *c,
                                PGconn *pg,
                                const char *queue,
                                int64_t *count);

/*
 * txq_discard - delete dead letter id for good; reason is required and
 * recorded in the audit log.
 * Returns TXQ_OK, TXQ_EINVAL, TXQ_ENOTFOUND, TXQ_ECONN, TXQ_EDB.
 */
TXQ_API txq_err txq_discard(txq_client *c,
                            PGconn *pg,
                            int64_t id,
                            const char *reason);

/*
 * txq_dead_letter - read dead letter id as a message: its queue, attempts,
 * headers, body (opened with the client's key ring when its queue is
 * encrypted), ids and times (txq_msg_visible_until: when it failed).
 * Needs operate on its queue, as the dead_letters view.
 * Returns TXQ_OK with *out, TXQ_ENOTFOUND, TXQ_EDECRYPT (*out is still
 * set, without a body: txq_msg_decrypt_error says why), TXQ_ECONN,
 * TXQ_EDB. Ownership: free *out with txq_msg_free.
 */
TXQ_API txq_err txq_dead_letter(txq_client *c,
                                PGconn *pg,
                                int64_t id,
                                txq_msg **out);

/* === topics: publish/subscribe and routing === */

/* Topic settings. Zero-initialised means a fanout topic. Fields are only
 * appended. */
typedef struct txq_topic_opts {
    int route;                 /* route mode: each message goes to exactly
                                  one queue (the first matching rule, else
                                  default_queue) instead of a copy to every
                                  matching subscription */
    const char *default_queue; /* route mode only: where a message no rule
                                  matches goes; NULL: such a message is
                                  refused (TXQ_ENOROUTE) */
} txq_topic_opts;

/*
 * txq_topic_create - create a topic, in the caller's transaction. Topic
 * names are 1 to 63 characters a-z, 0-9, _ and ., starting with a letter.
 * opts may be NULL (fanout).
 * Returns TXQ_OK, TXQ_EINVAL, TXQ_EEXIST, TXQ_ENOTFOUND (no such default
 * queue), TXQ_ECONN, TXQ_EDB, TXQ_ESCHEMA.
 */
TXQ_API txq_err txq_topic_create(txq_client *c,
                                 PGconn *pg,
                                 const char *name,
                                 const txq_topic_opts *opts);

/*
 * txq_topic_drop - drop a topic with its subscriptions and routes; the
 * queues and their messages stay.
 * Returns TXQ_OK, TXQ_EINVAL, TXQ_ENOTFOUND, TXQ_ECONN, TXQ_EDB.
 */
TXQ_API txq_err txq_topic_drop(txq_client *c, PGconn *pg, const char *name);

/*
 * txq_subscribe - subscribe queue to a fanout topic. filter_json is NULL
 * (every message) or a JSON object: a message is copied to the queue only
 * when its headers contain the filter (jsonb @>, e.g. {"type": "order"}).
 * Subscribing again replaces the filter.
 * Returns TXQ_OK, TXQ_EINVAL (bad name, bad JSON, a filter that is not an
 * object, a route topic), TXQ_ENOTFOUND (no such topic or queue),
 * TXQ_ECONN, TXQ_EDB.
 */
TXQ_API txq_err txq_subscribe(txq_client *c,
                              PGconn *pg,
                              const char *topic,
                              const char *queue,
                              const char *filter_json);

/*
 * txq_unsubscribe - remove queue's subscription to topic.
 * Returns TXQ_OK, TXQ_ENOTFOUND (no such topic or queue, or not
 * subscribed), TXQ_EINVAL, TXQ_ECONN, TXQ_EDB.
 */
TXQ_API txq_err txq_unsubscribe(txq_client *c,
                                PGconn *pg,
                                const char *topic,
                                const char *queue);

/* txq_route_add position: after the last rule. */
#define TXQ_ROUTE_LAST (-1)

/*
 * txq_route_add - add a rule to a route topic: messages whose headers
 * contain filter_json (a JSON object; "{}" matches every message) go to
 * queue. Rules are tried by ascending position, 0 to 1000000;
 * TXQ_ROUTE_LAST puts the rule 10 after the last one. A rule already at
 * that position is replaced. *out_position (may be NULL) gets the rule's
 * position.
 * Returns TXQ_OK, TXQ_EINVAL (bad name, JSON or position, a fanout topic),
 * TXQ_ENOTFOUND, TXQ_ECONN, TXQ_EDB.
 */
TXQ_API txq_err txq_route_add(txq_client *c,
                              PGconn *pg,
                              const char *topic,
                              const char *filter_json,
                              const char *queue,
                              int position,
                              int *out_position);

/*
 * txq_route_remove - remove the rule at position.
 * Returns TXQ_OK, TXQ_ENOTFOUND (no such topic or rule), TXQ_EINVAL,
 * TXQ_ECONN, TXQ_EDB.
 */
TXQ_API txq_err txq_route_remove(txq_client *c,
                                 PGconn *pg,
                                 const char *topic,
                                 int position);

/*
 * txq_publish - publish one message to a topic in the caller's
 * transaction; opts (may be NULL) are those of txq_send.
 *
 * Fanout: a copy goes to every subscribed queue whose filter the headers
 * contain, all or none when the transaction commits or rolls back. No
 * match is not an error: *n is 0 and the topic's unmatched count goes up.
 * Route: the message goes to the first matching rule's queue, else to the
 * default queue; with neither it is refused with TXQ_ENOROUTE, naming the
 * topic, and nothing is written.
 * ids (may be NULL) has room for cap ids, one per copy (fanout: in the
 * order of the queue names); *n (may be NULL) gets the number of copies,
 * which may exceed cap (only cap ids are written then).
 * Returns TXQ_OK, TXQ_ENOROUTE, TXQ_EINVAL, TXQ_ETOOBIG (for one of the
 * queues), TXQ_ENOTFOUND (no such topic), TXQ_ECONN, TXQ_EDB, TXQ_ESCHEMA.
 */
TXQ_API txq_err txq_publish(txq_client *c,
                            PGconn *pg,
                            const char *topic,
                            const void *body,
                            size_t len,
                            const txq_send_opts *opts,
                            int64_t *ids,
                            size_t cap,
                            size_t *n);

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

/* Requester settings. Zero-initialised means defaults; fields are only
 * appended. */
typedef struct txq_requester_opts {
    double poll_interval; /* look at the reply queue this often while
                             requests are pending, in case a notification
                             was lost; default 5 s */
    size_t batch;         /* replies taken per round trip, default 100 */
} txq_requester_opts;

/*
 * txq_requester_new - a requester whose replies arrive on reply_queue (an
 * existing queue, read by this requester alone). opts may be NULL; it and
 * reply_queue are copied. c is borrowed and must outlive the requester;
 * errors of every txq_requester_* and txq_request call are reported on c
 * (txq_errmsg).
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

/* What happened to one message (for logs and metrics). */
typedef struct txq_consumer_event {
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

/* Loop settings. Zero-initialised means defaults; fields only appended. */
typedef struct txq_consumer_opts {
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

typedef struct txq_consumer txq_consumer;

/*
 * txq_consumer_new - a consume loop for queue with handler fn(..., arg).
 * opts may be NULL; it and queue are copied. The client c is borrowed and
 * must outlive the consumer.
 * Returns NULL only when out of memory; bad arguments are reported by
 * txq_consumer_run (TXQ_EINVAL).
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

#endif /* TXQ_H */
