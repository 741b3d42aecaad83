/*
 * sqs.h - txq-sqs internals: an SQS-compatible HTTP endpoint on txq's SQL
 * API. One action layer (dispatch.c, action_*.c) works on requests
 * and results in the shape of SQS's JSON protocol (jansson objects); the
 * HTTP layer (http.c) turns query-protocol forms into that shape and
 * renders results as XML or JSON. Every request is authenticated
 * (sigv4.c, creds.c) and runs as its access key's PostgreSQL role on a
 * pooled connection (db.c).
 */
#ifndef TXQ_SQS_H
#define TXQ_SQS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <libpq-fe.h>

#define SQS_NAME_MAX   80  /* an SQS queue name, .fifo included */
#define SQS_ROLE_MAX   64  /* a PostgreSQL role name, NUL included */
#define SQS_KEYID_MAX  128 /* an access key id, NUL included */
#define SQS_SECRET_MAX 128
#define SQS_ERRMSG     512

/* === errors: SQS's codes === */

enum sqs_code {
    SQS_OK = 0,
    SQS_E_ACCESS_DENIED,
    SQS_E_INVALID_CLIENT_TOKEN,
    SQS_E_SIGNATURE,
    SQS_E_MISSING_AUTH,
    SQS_E_INCOMPLETE_SIGNATURE,
    SQS_E_REQUEST_EXPIRED,
    SQS_E_INVALID_ACTION,
    SQS_E_UNSUPPORTED,
    SQS_E_MISSING_PARAM,
    SQS_E_INVALID_PARAM,
    SQS_E_INVALID_ATTR_NAME,
    SQS_E_INVALID_ATTR_VALUE,
    SQS_E_QUEUE_NOT_FOUND,
    SQS_E_QUEUE_EXISTS,
    SQS_E_RECEIPT_INVALID,
    SQS_E_NOT_INFLIGHT,
    SQS_E_INVALID_CONTENTS,
    SQS_E_TOO_MANY_ENTRIES,
    SQS_E_EMPTY_BATCH,
    SQS_E_IDS_NOT_DISTINCT,
    SQS_E_INVALID_ENTRY_ID,
    SQS_E_BATCH_TOO_LONG,
    SQS_E_RESOURCE_NOT_FOUND,
    SQS_E_INTERNAL,
    SQS_E_UNAVAILABLE
};

/* How a code goes on the wire. */
struct sqs_code_info {
    const char *json_type;  /* after "com.amazonaws.sqs#" */
    const char *query_code; /* the query protocol's Code */
    int status;             /* HTTP status */
    int sender;             /* 1: the caller's fault, 0: the server's */
};

const struct sqs_code_info *sqs_code_info(enum sqs_code code);

/* === configuration, shared by every thread (read-only once running) === */

typedef struct sqs_server {
    const char *db;     /* conninfo */
    const char *schema; /* txq's schema */
    const char *region;
    const char *account;
    const char *creds_path;
    int pool_size;
    double poll_interval; /* long polls look again this often, LISTEN or
                             not (seconds) */
    double pool_wait;     /* wait this long for a free connection */
    unsigned char receipt_key[32];
    char *schema_ident; /* quoted schema, for SQL text */
    volatile int draining;
} sqs_server;

/* === one request, through the action layer === */

typedef struct sqs_req {
    sqs_server *srv;
    const char *action; /* e.g. "SendMessage" */
    json_t *in;         /* parameters, JSON-protocol shape (borrowed) */
    json_t *out;        /* result object, made by the action */
    char role[SQS_ROLE_MAX];
    char key_id[SQS_KEYID_MAX];
    const char *host;     /* Host header, for queue URLs */
    const char *url_path; /* request path: a queue URL's path, or "/" */
    char request_id[40];
    enum sqs_code err;
    char errmsg[SQS_ERRMSG];
    /* For the metrics: the action's index (sqs_action_name), -1 until
     * sqs_dispatch knows it; the SQS name of the queue the request's
     * QueueUrl named, once looked up ("" until then); the messages its
     * deletes removed, once their statement succeeded. */
    int action_index;
    char queue[SQS_NAME_MAX + 8];
    long long deleted;
} sqs_req;

/* Set req's error (printf-style message); returns code. */
enum sqs_code sqs_fail(sqs_req *req, enum sqs_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Run req->action. Returns SQS_OK with req->out set, or the error (also in
 * req->err / req->errmsg). */
enum sqs_code sqs_dispatch(sqs_req *req);

/* The name of the i-th action sqs_dispatch knows, NULL past the last
 * (fewer than SQS_MAX_ACTIONS). */
#define SQS_MAX_ACTIONS 32
const char *sqs_action_name(int i);

/* The queue actions (action_queue.c) and message actions (action_msg.c). */
enum sqs_code sqs_create_queue(sqs_req *req, PGconn *pg);
enum sqs_code sqs_get_queue_url(sqs_req *req, PGconn *pg);
enum sqs_code sqs_list_queues(sqs_req *req, PGconn *pg);
enum sqs_code sqs_delete_queue(sqs_req *req, PGconn *pg);
enum sqs_code sqs_get_queue_attributes(sqs_req *req, PGconn *pg);
enum sqs_code sqs_set_queue_attributes(sqs_req *req, PGconn *pg);
enum sqs_code sqs_purge_queue(sqs_req *req, PGconn *pg);
enum sqs_code sqs_send_message(sqs_req *req, PGconn *pg);
enum sqs_code sqs_send_message_batch(sqs_req *req, PGconn *pg);
enum sqs_code sqs_receive_message(sqs_req *req, PGconn **pg);
enum sqs_code sqs_delete_message(sqs_req *req, PGconn *pg);
enum sqs_code sqs_delete_message_batch(sqs_req *req, PGconn *pg);
enum sqs_code sqs_change_visibility(sqs_req *req, PGconn *pg);
enum sqs_code sqs_change_visibility_batch(sqs_req *req, PGconn *pg);
/* Dead-letter queues (redrive.c) and message move tasks (movetask.c). */
enum sqs_code sqs_list_dead_letter_sources(sqs_req *req, PGconn *pg);
enum sqs_code sqs_start_move_task(sqs_req *req, PGconn *pg);
enum sqs_code sqs_list_move_tasks(sqs_req *req, PGconn *pg);
enum sqs_code sqs_cancel_move_task(sqs_req *req, PGconn *pg);
/* Tags (action_tags.c) and permissions (action_perm.c). */
enum sqs_code sqs_tag_queue(sqs_req *req, PGconn *pg);
enum sqs_code sqs_untag_queue(sqs_req *req, PGconn *pg);
enum sqs_code sqs_list_queue_tags(sqs_req *req, PGconn *pg);
enum sqs_code sqs_add_permission(sqs_req *req, PGconn *pg);
enum sqs_code sqs_remove_permission(sqs_req *req, PGconn *pg);

/* === queues (action_queue.c) === */

/* A queue as the actions see it: SQS name, txq name, settings. */
typedef struct sqs_queue {
    char sqs_name[SQS_NAME_MAX + 8]; /* room for a txq name + ".fifo" */
    char txq_name[SQS_NAME_MAX + 1];
    int fifo;
    long long queue_id;
    double visibility_timeout, delay, expire_after; /* seconds; -1: none */
    long long max_body_bytes;
    long long created;   /* epoch seconds */
    double receive_wait; /* seconds: a receive's wait when it gives none */
    int max_attempts;
    char dead_letter[SQS_NAME_MAX + 8]; /* its SQS name, "" for none */
} sqs_queue;

/* Take an SQS queue name, which is also the txq name (txq_name_valid);
 * fills sqs_name, txq_name and fifo (the name ends in .fifo). Returns
 * SQS_OK or the error. sqs_queue_lookup may then find the txq FIFO queue
 * NAME for NAME.fifo (one made without the suffix) and set txq_name. */
enum sqs_code sqs_queue_name(sqs_req *req, const char *name, sqs_queue *q);

/* The SQS name of the txq queue txq_name into buf: itself, with ".fifo"
 * added to a FIFO queue's that lacks it. */
void sqs_name_of(char *buf, size_t size, const char *txq_name, int fifo);

/* The queue named by QueueUrl (or the request path), looked up in txq.
 * Returns SQS_OK, SQS_E_QUEUE_NOT_FOUND, or another error. */
enum sqs_code sqs_queue_from_url(sqs_req *req, PGconn *pg, sqs_queue *q);
/* Only the names of that queue (sqs_queue_name), not looked up. */
enum sqs_code sqs_queue_from_url_name(sqs_req *req, sqs_queue *q);

/* The queue of a message action (qcache.c): sqs_queue_from_url, with a
 * lookup reused for a second. sqs_queue_forget drops every one kept (a
 * queue changed). */
enum sqs_code sqs_queue_for_messages(sqs_req *req, PGconn *pg, sqs_queue *q);
void sqs_queue_forget(void);

/* Run tmpl (parameters: the txq name of the request's queue, and arg2
 * unless NULL) as the role, in a transaction of its own that commits
 * when commit and it succeeded, else rolls back. Returns the result, or
 * NULL with the error set. */
PGresult *sqs_queue_exec(
    sqs_req *req, PGconn *pg, const char *tmpl, const char *arg2, int commit);
/* sqs_queue_exec that commits, for an action with an empty result.
 * Returns SQS_OK or the error. */
enum sqs_code
sqs_queue_call(sqs_req *req, PGconn *pg, const char *tmpl, const char *arg2);

/* Set tags (a JSON object; NULL: none) on q, in the role's transaction
 * that is open. Returns SQS_OK or the error. */
enum sqs_code
sqs_tags_set(sqs_req *req, PGconn *pg, const sqs_queue *q, json_t *tags);

/* The queue URL of q, written to buf. */
void
sqs_queue_url(const sqs_req *req, const sqs_queue *q, char *buf, size_t size);

/* The queue an ARN arn:aws:sqs:REGION:ACCOUNT:NAME names (this server's
 * region and account), looked up: SQS_OK, or the error (code on req;
 * notfound is the code for an ARN that names no queue here). */
enum sqs_code sqs_queue_from_arn(sqs_req *req,
                                 PGconn *pg,
                                 const char *arn,
                                 enum sqs_code notfound,
                                 sqs_queue *q);

/* Look q (names set by sqs_queue_name) up, as the login: SQS_OK, or
 * SQS_E_QUEUE_NOT_FOUND (also for a kind that differs from the name's). */
enum sqs_code sqs_queue_lookup(sqs_req *req, PGconn *pg, sqs_queue *q);

/* The ARN of q, written to buf. */
void
sqs_queue_arn(const sqs_req *req, const sqs_queue *q, char *buf, size_t size);

/* Any privilege at all on q, asked as the role (in its transaction). */
enum sqs_code
sqs_need_some_privilege(sqs_req *req, PGconn *pg, const sqs_queue *q);

/* === RedrivePolicy (redrive.c) === */

typedef struct sqs_redrive {
    int given;                     /* the attribute was in the request */
    int max_receive;               /* maxReceiveCount; 0 when removed */
    char target[SQS_NAME_MAX + 1]; /* the DLQ's txq name; "" removes */
    char sqs_target[SQS_NAME_MAX + 8];
} sqs_redrive;

/* Parse a RedrivePolicy value for queue q: "" removes it, else a JSON
 * object {deadLetterTargetArn, maxReceiveCount} naming an existing queue
 * of q's kind. Returns SQS_OK or SQS_E_INVALID_PARAM (error set). */
enum sqs_code sqs_redrive_parse(sqs_req *req,
                                PGconn *pg,
                                const sqs_queue *q,
                                const char *value,
                                sqs_redrive *out);

/* q's RedrivePolicy as SQS writes it, into buf ("" when none). */
void sqs_redrive_render(const sqs_req *req,
                        const sqs_queue *q,
                        char *buf,
                        size_t size);

/* RedriveAllowPolicy (redrive.c): which queues may name a queue as their
 * dead-letter queue, txq's dead_letter_sources. */
typedef struct sqs_allow {
    int given;          /* the attribute was in the request */
    int any;            /* allowAll (or ""): dead_letter_sources null */
    char sources[1024]; /* else a JSON array of txq names; [] denyAll */
} sqs_allow;

/* Parse a RedriveAllowPolicy value. Returns SQS_OK or the error. */
enum sqs_code
sqs_allow_parse(sqs_req *req, PGconn *pg, const char *value, sqs_allow *out);
/* Set it on q, in the role's open transaction (nothing when not given). */
enum sqs_code sqs_allow_apply(sqs_req *req,
                              PGconn *pg,
                              const sqs_queue *q,
                              const sqs_allow *a);
/* Whether q has it already (*same; 1 when not given). */
enum sqs_code sqs_allow_same(sqs_req *req,
                             PGconn *pg,
                             const sqs_queue *q,
                             const sqs_allow *a,
                             int *same);
/* q's RedriveAllowPolicy into attrs, when one is set. */
enum sqs_code
sqs_allow_render(sqs_req *req, PGconn *pg, const sqs_queue *q, json_t *attrs);

/* === message move tasks in the background (movetask.c) === */

/* Start and stop the thread that runs the move tasks of the roles the
 * login may act as. Start returns 0, or -1 (logged). */
int sqs_move_start(sqs_server *srv);
void sqs_move_stop(void);

/* === metrics (metrics.c), for --metrics-listen === */

/* Serve /metrics, /healthz and /readyz on listen (a metrics_listen value)
 * in a thread of their own; version goes in build_info. Returns 0, or -1
 * with the problem in err. */
int sqs_metrics_start(sqs_server *srv,
                      const char *listen,
                      const char *version,
                      char *err,
                      size_t errsize);
void sqs_metrics_stop(void);
/* The main loop came round (for /healthz). */
void sqs_metrics_alive(void);
/* Count one request that ended as req says, after seconds. */
void sqs_metrics_request(const sqs_req *req, double seconds);
/* A long poll starts (+1) or stops (-1) waiting. */
void sqs_metrics_long_poll(int delta);
/* Move tasks still running after the runner's last round. */
void sqs_metrics_move_tasks(int running);

/* === parameters (dispatch.c) === */

/* A string parameter, or NULL. */
const char *
sqs_param_str(const sqs_req *req, const json_t *obj, const char *name);
/* An integer parameter (a JSON number or a decimal string) in [lo, hi]:
 * 1 found, 0 absent (*out untouched), -1 bad (error set). */
int sqs_param_int(sqs_req *req,
                  const json_t *obj,
                  const char *name,
                  long long lo,
                  long long hi,
                  long long *out);

/* === SQS's text (action_msg.c) === */

/* Whether s (n bytes) holds only the characters SQS allows in a body:
 * #x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD #x10000-#x10FFFF, as UTF-8. */
int sqs_text_ok(const char *s, size_t n);
/* Text stored by other means (SQL, libtxq) as SQS may carry it: each byte
 * that is not part of an allowed character becomes U+FFFD. Returns a
 * malloc'd, NUL-terminated copy (*outlen bytes), or NULL. */
char *sqs_text_for_sqs(const unsigned char *s, size_t n, size_t *outlen);

/* A receipt handle (base64url, 44 characters and a NUL) for the
 * delivery of message id at attempt from queue. */
void sqs_handle_make(const sqs_server *srv,
                     const char *queue,
                     long long id,
                     long long attempt,
                     char *out);

/* === message attributes (msgattr.c) === */

/* Check the MessageAttributes and MessageSystemAttributes of a send
 * (obj) and add them to headers, txq's (docs/sqs.md). md5 and md5sys get
 * SQS's digests, "" when there are none; *size the bytes the attributes
 * count towards the message's size. Returns SQS_OK, or the error with
 * headers possibly half-filled (the caller drops them). */
enum sqs_code sqs_attrs_in(sqs_req *req,
                           const json_t *obj,
                           json_t *headers,
                           char md5[33],
                           char md5sys[33],
                           size_t *size);
/* About the bytes the MessageAttributes of obj count, unchecked (for a
 * batch's total). */
size_t sqs_attrs_size(const json_t *obj);
/* The MessageAttributes map of stored headers, those names asks for
 * (MessageAttributeNames: names, All, .*, prefix.*), with their digest
 * in md5 ("" when none); *trace the AWSTraceHeader, or NULL (borrowed
 * from headers). NULL when out of memory. */
json_t *sqs_attrs_out(json_t *headers,
                      const json_t *names,
                      char md5[33],
                      const char **trace);

/* === database (db.c) === */

/* Start the pool and the LISTEN thread. Returns 0, or -1 (logged). */
int sqs_db_start(sqs_server *srv);
void sqs_db_stop(void);

/* A pooled connection, or NULL after srv->pool_wait (error set). */
PGconn *sqs_db_get(sqs_req *req);
/* Give it back; a connection in a bad state is reset first. */
void sqs_db_put(PGconn *pg);

/* BEGIN and act as req's role: 0, or -1 with the error set. */
int sqs_tx_begin(sqs_req *req, PGconn *pg);
/* COMMIT (ok) or ROLLBACK: 0, or -1 with the error set. */
int sqs_tx_end(sqs_req *req, PGconn *pg, int ok);

/* Run tmpl (a template of sqs_sql) as req's role in a transaction of its
 * own, committed when it succeeds, in one round trip (see db.c). Returns
 * its result, or NULL with the error set and nothing changed. */
PGresult *sqs_tx_exec(sqs_req *req,
                      PGconn *pg,
                      const char *tmpl,
                      int n,
                      const char *const *values,
                      const int *lengths,
                      const int *binary);

/* Run a parameterised statement; text parameters, text results unless
 * binary_params marks some parameters as binary (lengths then needed).
 * On error returns NULL with req's error set from the SQLSTATE. */
PGresult *sqs_exec(sqs_req *req,
                   PGconn *pg,
                   const char *sql,
                   int n,
                   const char *const *values,
                   const int *lengths,
                   const int *binary);

/* Map a failed result to req's error: SQLSTATE to SQS code. */
enum sqs_code sqs_pg_error(sqs_req *req, PGconn *pg, const PGresult *r);

/* SQL text with "@s@" replaced by the quoted schema (static, built once). */
const char *sqs_sql(const char *tmpl);

/* Long polls: the wake-up generation of a queue, and waiting for it to
 * change (or until deadline, a CLOCK_MONOTONIC time in seconds). Returns
 * 1 woken by a notification, 0 timed out or draining. */
uint64_t sqs_wake_gen(const char *queue);
int sqs_wake_wait(const char *queue, uint64_t gen, double deadline);
/* Wake every long poll (shutdown). */
void sqs_wake_all(void);

double sqs_now(void);

/* For the metrics: the pool's size, the connections lent out now, and
 * whether the LISTEN connection is up. */
void sqs_db_stats(int *size, int *in_use, int *listening);

/* === credentials (creds.c) === */

/* Load the file (refused unless mode 0600); replaces the current set.
 * Returns 0, or -1 with the reason in err. */
int sqs_creds_load(const char *path, char *err, size_t errsize);
/* Copy the secret and role of key_id. Returns 1 found, 0 not. */
int sqs_creds_lookup(const char *key_id,
                     char *secret,
                     size_t secretsize,
                     char *role,
                     size_t rolesize);
/* Append to roles (a JSON array) the roles of the keys of account that
 * it does not hold yet. Returns how many keys the account has (0: an
 * account no key names), or -1 out of memory. */
int sqs_creds_account_roles(const char *account, json_t *roles);
void sqs_creds_free(void);

/* === the query protocol's forms (form.c) === */

/* Gather the fields of form text (n bytes, URL-encoded) into tree; Action
 * goes to *action (malloc'd). Returns 0, or -1 when malformed. */
int sqs_form_parse(const char *text, size_t n, json_t *tree, char **action);
/* The JSON protocol's shape of a gathered tree (a new object), or NULL
 * with the reason in err. */
json_t *sqs_form_finish(json_t *tree, char *err, size_t errsize);

/* === SigV4 and digests (sigv4.c) === */

/* What the verifier needs of an HTTP request. */
typedef struct sqs_http_req {
    const char *method;
    const char *path;  /* raw path, as sent */
    const char *query; /* raw query string, without '?', or "" */
    const char *(*header)(void *ctx, const char *name); /* NULL if absent */
    void *header_ctx;
    const unsigned char *body;
    size_t body_len;
} sqs_http_req;

/* Verify the Authorization header of h at time now (epoch seconds) for
 * region and service "sqs". Fills req->role and req->key_id on success.
 * Returns SQS_OK or an authentication error (set on req). */
enum sqs_code
sqs_sigv4_verify(sqs_req *req, const sqs_http_req *h, long long now);

void sqs_md5_hex(const void *data, size_t len, char out[33]);
void sqs_sha256_hex(const void *data, size_t len, char out[65]);
/* HMAC-SHA256 into out: 0, or -1 (out then random bytes). */
int sqs_hmac_sha256(const void *key,
                    size_t keylen,
                    const void *data,
                    size_t len,
                    unsigned char out[32]);
/* Free what the digests keep, the calling thread's included: at exit,
 * when no other thread uses them any more. */
void sqs_crypto_end(void);
/* base64url without padding; out needs 4 * ceil(len / 3) + 1 bytes. */
void sqs_b64url_encode(const unsigned char *in, size_t len, char *out);
/* Returns the decoded length, or -1. */
long sqs_b64url_decode(const char *in, unsigned char *out, size_t outsize);
/* Standard base64, '=' padded; out needs 4 * ceil(len / 3) + 1 bytes. */
void sqs_b64_encode(const unsigned char *in, size_t len, char *out);
/* Decode n characters of padded standard base64 (canonical only): the
 * length, or -1. */
long
sqs_b64_decode(const char *in, size_t n, unsigned char *out, size_t outsize);

#endif /* TXQ_SQS_H */
