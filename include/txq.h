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

/*
 * Versions. txq_version.h, generated from the build's project version (the
 * one place it is set), defines TXQ_VERSION_MAJOR, TXQ_VERSION_MINOR and
 * TXQ_VERSION_PATCH of the headers compiled against; txq_version() and
 * txq_version_number() give the library's at run time, which may be newer.
 * The soname (libtxq.so.MAJOR) changes only with an incompatible change of
 * the ABI; a minor version only adds. See docs/api.md.
 */
#include "txq_version.h"

/* The headers' version as one number: 10000 * MAJOR + 100 * MINOR + PATCH,
 * as txq_version_number() returns the library's (sqlite3's scheme). */
#define TXQ_VERSION_NUMBER \
    (TXQ_VERSION_MAJOR * 10000 + TXQ_VERSION_MINOR * 100 + TXQ_VERSION_PATCH)

/* The schema version (highest migration) this library works with. */
#define TXQ_SCHEMA_VERSION 14

/* Feature macros. */
#define TXQ_HAS_CLAIM   1
#define TXQ_HAS_FIFO    1
#define TXQ_HAS_TOPICS  1 /* txq_topic_create, txq_publish, ... */
#define TXQ_HAS_REQUEST 1 /* txq_requester_*, txq_request, txq_reply */
#define TXQ_HAS_SEAL    1 /* encrypted queues: txq_keyring_*, TXQ_EDECRYPT */
#define TXQ_HAS_DEAD_LETTER_QUEUE \
    1 /* txq_queue_opts.dead_letter_queue, TXQ_OUTCOME_MOVED */
#define TXQ_HAS_POOLER 1 /* txq_client_set_pooler, txq_pooled */

#if defined(__GNUC__) || defined(__clang__)
#define TXQ_API __attribute__((visibility("default")))
#else
#define TXQ_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* === errors === */

/*
 * TXQ_ERR_MAP(XX) - every result code as XX(NAME, value, text), in value
 * order: the enum below, txq_strerror and txq_err_name are all made from
 * this one list (libuv's UV_ERRNO_MAP). Codes are appended, never
 * renumbered or reused.
 */
#define TXQ_ERR_MAP(XX)                                                    \
    /* success */                                                          \
    XX(OK, 0, "success")                                                   \
    /* no message available: not a failure */                              \
    XX(EMPTY, 1, "no message available")                                   \
    /* bad argument or misuse; nothing was changed */                      \
    XX(EINVAL, 2, "invalid argument")                                      \
    XX(ENOMEM, 3, "out of memory")                                         \
    /* connection unusable, or SQLSTATE class 08 */                        \
    XX(ECONN, 4, "connection unusable")                                    \
    /* serialization failure or deadlock: retry the transaction */         \
    XX(ECONFLICT, 5,                                                       \
       "serialization failure or deadlock: retry the transaction")         \
    /* any other server error */                                           \
    XX(EDB, 6, "database error")                                           \
    XX(ESCHEMA, 7, "txq schema missing or at another version")             \
    /* no such queue, message or dead letter */                            \
    XX(ENOTFOUND, 8, "not found")                                          \
    /* wrong for the current state: e.g. acking a message this attempt no  \
     * longer holds, or a call that must run outside a transaction */      \
    XX(ESTATE, 9, "wrong state for this call")                             \
    /* the queue already exists */                                         \
    XX(EEXIST, 10, "already exists")                                       \
    /* body larger than the queue's max_body_bytes */                      \
    XX(ETOOBIG, 11, "body too large")                                      \
    /* a route topic has no rule matching the message and no default queue \
     * (SQLSTATE TQ004); nothing was written */                            \
    XX(ENOROUTE, 12, "no route matches the message")                       \
    /* the role lacks a privilege on the queue (or on every queue) or may  \
     * not pass a time (SQLSTATE 42501); txq_errmsg names role, queue and  \
     * privilege; nothing was changed */                                   \
    XX(EPERM, 13, "permission denied")                                     \
    /* a message of an encrypted queue could not be opened (no key ring,   \
     * unknown key id, not an envelope, or its authentication failed:      \
     * tampered, or moved from another message); txq_errmsg names the      \
     * message and the reason. Its body is never returned */               \
    XX(EDECRYPT, 14, "a message of an encrypted queue could not be decrypted")

/* Result of every fallible call: TXQ_OK, TXQ_EMPTY, TXQ_EINVAL, ... as
 * TXQ_ERR_MAP lists them. */
typedef enum txq_err {
#define TXQ__ERR_ENUM(name, value, text) TXQ_##name = value,
    TXQ_ERR_MAP(TXQ__ERR_ENUM)
#undef TXQ__ERR_ENUM
} txq_err;

/*
 * txq_strerror - static text for a code ("unknown error" for an unknown one).
 */
TXQ_API const char *txq_strerror(txq_err err);

/*
 * txq_err_name - the code's symbolic name as static text, "TXQ_EPERM" for
 * TXQ_EPERM ("unknown" for a value not in TXQ_ERR_MAP): for logs and for
 * FFI callers that map codes by name.
 */
TXQ_API const char *txq_err_name(txq_err err);

/*
 * txq_version - the library's version as "MAJOR.MINOR.PATCH" (static).
 */
TXQ_API const char *txq_version(void);

/*
 * txq_version_number - the library's version as 10000 * MAJOR + 100 * MINOR
 * + PATCH (10000 for 1.0.0), for callers that cannot use the macros (FFI):
 * a program needs a library at least as new as the headers it was built
 * with when it uses what they added.
 */
TXQ_API int txq_version_number(void);

/* === options structs and the ABI === */

/*
 * Every options struct starts with `size_t size`, the struct's size as the
 * caller compiled it; fields are only ever appended. Initialise one with
 * its _INIT macro, or pass a literal with its compound-literal macro:
 *
 *     txq_send_opts o = TXQ_SEND_OPTS_INIT;
 *     o.dedup_id = "order-42";
 *     txq_send(c, pg, "orders", body, len, &o, &id);
 *     txq_send(c, pg, "orders", body, len,
 *              TXQ_SEND_OPTS(.dedup_id = "order-42"), &id);
 *
 * The library reads the first `size` bytes it knows and takes the fields
 * a shorter (older) struct lacks as zero, their default: a program built
 * against older headers keeps working with a newer library. A longer
 * (newer) struct is accepted when the fields this library does not know
 * are zero; one that sets them is refused with TXQ_EINVAL rather than
 * silently ignored. A size of 0 (a struct zeroed without its macro) or
 * below the 1.0 layout is refused with TXQ_EINVAL. A NULL pointer still
 * means all defaults.
 *
 * Zero means "the default" (or "unchanged" for txq_queue_alter). Where
 * zero is itself a legal value (a delay of 0, a backoff of 0), the
 * struct's `set` word says that a field is given: a field counts as given
 * when it is non-zero or its TXQ_*_SET_* bit is set. Unknown bits are
 * refused (TXQ_EINVAL), as are set fields of a newer struct.
 *
 * A struct the library fills in for a callback (txq_consumer_event) also
 * starts with size, the library's: read a field appended after 1.0 only
 * when TXQ_HAS_FIELD(txq_consumer_event, ev, field).
 */
#define TXQ_HAS_FIELD(type, p, field) \
    ((p)->size >= offsetof(type, field) + sizeof((p)->field))

/* === the client handle === */

typedef struct txq_client txq_client;
typedef struct txq_msg txq_msg;

/* Options for txq_client_new: TXQ_OPTIONS_INIT, then the fields wanted. */
typedef struct txq_options {
    size_t size; /* sizeof(txq_options), set by TXQ_OPTIONS_INIT */
    /* Schema holding txq's tables and functions; NULL means "txq". Must
     * match [a-z_][a-z0-9_]{0,62}. */
    const char *schema;
} txq_options;

#define TXQ_OPTIONS_INIT            \
    {                               \
        .size = sizeof(txq_options) \
    }
#define TXQ_OPTIONS(...) \
    (&(txq_options){.size = sizeof(txq_options), __VA_ARGS__})

/*
 * txq_client_new - create a handle. opts may be NULL.
 *
 * The handle holds no connection; each call borrows the caller's PGconn.
 * Returns NULL only when out of memory; a bad schema name or opts->size is
 * reported by the first call that uses the handle (TXQ_EINVAL).
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
 * Every other call does this once per connection (a client remembers the
 * last 8 it was used on); call it to fail early.
 * Returns TXQ_OK or TXQ_ESCHEMA (missing, older or newer, with both versions
 * in txq_errmsg), TXQ_ECONN, TXQ_EDB.
 */
TXQ_API txq_err txq_schema_check(txq_client *c, PGconn *pg);

/* === names === */

/*
 * txq_name_valid - whether name is a valid queue name, SQS's rule: 1 to 80
 * ASCII letters, digits, - and _ ([A-Za-z0-9_-]{1,80}), or 1 to 75 of them
 * followed by ".fifo" ([A-Za-z0-9_-]{1,75}\.fifo), the rule the server
 * applies too (which also keeps a name ending in ".fifo" for a fifo queue).
 * Every name of the older rule ([a-z][a-z0-9_]{0,62}) matches. Needs no handle
 * and no round trip.
 * Returns 1 or 0 (also for NULL).
 */
TXQ_API int txq_name_valid(const char *name);

/*
 * txq_schema_name_valid - the same for a schema name (txq_options.schema),
 * which may also start with _: [a-z_][a-z0-9_]{0,62}. Returns 1 or 0.
 */
TXQ_API int txq_schema_name_valid(const char *name);

/* === queues === */

enum txq_on_exhausted {
    TXQ_ON_EXHAUSTED_DEFAULT = 0, /* review on create, unchanged on alter */
    TXQ_ON_EXHAUSTED_REVIEW = 1,
    TXQ_ON_EXHAUSTED_IGNORE = 2,
    TXQ_ON_EXHAUSTED_NOTIFY = 3
};

/* Bits of txq_queue_opts.set: the field is given even when it is 0. */
#define TXQ_QUEUE_SET_VISIBILITY_TIMEOUT (UINT64_C(1) << 0)
#define TXQ_QUEUE_SET_MAX_ATTEMPTS       (UINT64_C(1) << 1)
#define TXQ_QUEUE_SET_BACKOFF_BASE       (UINT64_C(1) << 2)
#define TXQ_QUEUE_SET_BACKOFF_CAP        (UINT64_C(1) << 3)
#define TXQ_QUEUE_SET_BACKOFF_JITTER     (UINT64_C(1) << 4)
#define TXQ_QUEUE_SET_MAX_BODY_BYTES     (UINT64_C(1) << 5)
#define TXQ_QUEUE_SET_EXPIRE_AFTER       (UINT64_C(1) << 6)
#define TXQ_QUEUE_SET_DEDUP_WINDOW       (UINT64_C(1) << 7)
#define TXQ_QUEUE_SET_ARCHIVE_FOR        (UINT64_C(1) << 8)
#define TXQ_QUEUE_SET_DELAY              (UINT64_C(1) << 9)
#define TXQ_QUEUE_SET_ENCRYPT            (UINT64_C(1) << 10)
#define TXQ_QUEUE_SET_DEAD_LETTER_QUEUE  (UINT64_C(1) << 11)

/* Queue settings: TXQ_QUEUE_OPTS_INIT, then the fields wanted. A field is
 * given when it is non-zero or its TXQ_QUEUE_SET_* bit is in set; the
 * others are "the default" for txq_queue_create and "unchanged" for
 * txq_queue_alter. So alter sets delay to 0 with .delay = 0, .set =
 * TXQ_QUEUE_SET_DELAY. Negative values are rejected; the server checks
 * the ranges (TXQ_EINVAL naming the setting). Durations are in seconds. */
typedef struct txq_queue_opts {
    size_t size;               /* sizeof(txq_queue_opts) */
    uint64_t set;              /* TXQ_QUEUE_SET_* bits */
    int fifo;                  /* create only: a FIFO queue */
    double visibility_timeout; /* 1 s to 12 h, default 30 */
    int max_attempts;          /* at least 1, default 5 */
    double backoff_base;       /* 0 to 30 days, default 1 */
    double backoff_cap;        /* 0 to 30 days, >= base, default 3600 */
    double backoff_jitter;     /* fraction 0..1, default 0.1 */
    int on_exhausted;          /* enum txq_on_exhausted */
    int64_t max_body_bytes;    /* default 262144, at most 268435456 */
    double expire_after;       /* 1 s to 365 days; given as 0: never
                                  (the default) */
    double dedup_window;       /* FIFO, 0 to 30 days, default 300 */
    double archive_for;        /* 1 s to 3650 days; given as 0: no
                                  archive (the default) */
    double delay;              /* default delay of a send that gives none
                                  (SQS DelaySeconds), 0 to 365 days;
                                  default 0 */
    int encrypt;               /* an encrypted queue: it takes only bodies
                                  sealed by a client with a key ring
                                  (txq_client_set_keyring); not for fifo.
                                  alter: turn it on, or given as 0 off,
                                  only while the queue holds no messages
                                  and no dead letters */
    /* Appended after the first layout (TXQ_HAS_DEAD_LETTER_QUEUE): */
    const char *dead_letter_queue; /* the queue that takes this queue's
                                      exhausted and permanently failed
                                      messages (same kind, another queue,
                                      no cycle; the caller needs send on
                                      it); NULL: none on create, unchanged
                                      on alter; alter with NULL or "" and
                                      TXQ_QUEUE_SET_DEAD_LETTER_QUEUE
                                      removes it (docs/api.md). Copied. */
} txq_queue_opts;

#define TXQ_QUEUE_OPTS_INIT            \
    {                                  \
        .size = sizeof(txq_queue_opts) \
    }
#define TXQ_QUEUE_OPTS(...) \
    (&(txq_queue_opts){.size = sizeof(txq_queue_opts), __VA_ARGS__})

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
 * txq_queue_alter - change the settings opts gives (non-zero or marked in
 * opts->set); the others stay as they are.
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

/* Bits of txq_send_opts.set. */
#define TXQ_SEND_SET_DELAY (UINT64_C(1) << 0) /* a delay of 0 is given */

/* Per-message attributes: TXQ_SEND_OPTS_INIT, then the fields wanted.
 * Strings must be valid UTF-8 without control characters other than tab;
 * they are copied. */
typedef struct txq_send_opts {
    size_t size;                /* sizeof(txq_send_opts) */
    uint64_t set;               /* TXQ_SEND_SET_* bits */
    const char *headers_json;   /* a JSON object, or NULL for {} */
    double delay;               /* seconds before it becomes visible; not
                                   given: the queue's delay (default 0) */
    int priority;               /* higher first; -32768..32767 */
    const char *group;          /* FIFO group / routing key */
    const char *dedup_id;       /* idempotency key: a repeat returns the
                                   first id and sends nothing */
    const char *correlation_id; /* request/reply */
    const char *reply_to;       /* request/reply: a queue name */
} txq_send_opts;

#define TXQ_SEND_OPTS_INIT            \
    {                                 \
        .size = sizeof(txq_send_opts) \
    }
#define TXQ_SEND_OPTS(...) \
    (&(txq_send_opts){.size = sizeof(txq_send_opts), __VA_ARGS__})

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

/* Receive settings: TXQ_RECV_OPTS_INIT, then the fields wanted. */
typedef struct txq_recv_opts {
    size_t size;               /* sizeof(txq_recv_opts) */
    double visibility_timeout; /* seconds; 0 means the queue's */
    double wait;               /* txq_claim only: long-poll up to this many
                                  seconds when the queue is empty */
} txq_recv_opts;

#define TXQ_RECV_OPTS_INIT            \
    {                                 \
        .size = sizeof(txq_recv_opts) \
    }
#define TXQ_RECV_OPTS(...) \
    (&(txq_recv_opts){.size = sizeof(txq_recv_opts), __VA_ARGS__})

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
    TXQ_OUTCOME_IGNORED = 4,  /* dropped (counted; archived if configured) */
    TXQ_OUTCOME_MOVED = 5     /* moved into the queue's dead_letter_queue */
} txq_outcome;

/* Bits of txq_fail_opts.set. */
#define TXQ_FAIL_SET_RETRY_AFTER (UINT64_C(1) << 0) /* retry at once */

/* Failure settings: TXQ_FAIL_OPTS_INIT, then the fields wanted. */
typedef struct txq_fail_opts {
    size_t size;        /* sizeof(txq_fail_opts) */
    uint64_t set;       /* TXQ_FAIL_SET_* bits */
    int permanent;      /* no retries: straight to the exhausted policy */
    double retry_after; /* seconds, 0 to 365 days; not given: the queue's
                           backoff */
} txq_fail_opts;

#define TXQ_FAIL_OPTS_INIT            \
    {                                 \
        .size = sizeof(txq_fail_opts) \
    }
#define TXQ_FAIL_OPTS(...) \
    (&(txq_fail_opts){.size = sizeof(txq_fail_opts), __VA_ARGS__})

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

#ifdef __cplusplus
}
#endif

/* The rest of the API, in headers of their own. */
#include "txq_consumer.h"
#include "txq_request.h"
#include "txq_topic.h"

#endif /* TXQ_H */
