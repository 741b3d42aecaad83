/*
 * config.h - txq-worker's settings: defaults < ini file < environment
 * (TXQ_*) < command-line flags, described by one key table (config.c).
 */
#ifndef TXQ_WORKER_CONFIG_H
#define TXQ_WORKER_CONFIG_H

#include <stddef.h>
#include <stdio.h>

/* One [queue.NAME] section (or --handle NAME=HANDLER). */
typedef struct queue_cfg {
    char *name;
    char *handler;   /* sql:schema.fn | so:path:symbol | exec:program args */
    int concurrency; /* consumer processes; 0: the worker's */
    double timeout;  /* handler budget in seconds; 0: the worker's */
    int prefetch;    /* 0: the worker's */
} queue_cfg;

typedef struct worker_cfg {
    char *config_path; /* NULL: no file */
    int concurrency;
    char *db; /* conninfo; "" means the libpq environment (PG*) */
    double drain_timeout;
    char *key_file; /* key ring of encrypted queues; "" means none */
    int listen;
    char *log_format;
    char *log_level;
    double maintain_interval;
    char *metrics_listen; /* HOST:PORT of /metrics, /healthz, /readyz; "" */
    char *notify_command;
    double notify_interval;
    double notify_timeout;
    char *pass_env; /* variables passed to programs (childenv.h) */
    double poll_interval;
    char *pooler; /* auto | none | transaction (txq_client_set_pooler) */
    int prefetch;
    char *schema;
    double startup_timeout; /* no first connection this long: exit; 0 */
    double timeout;
    queue_cfg *queues;
    size_t nqueues;
} worker_cfg;

/* A setting given on the command line: a [worker] key, or "handle" with
 * "QUEUE=HANDLER". flag is what the user typed, for messages. */
typedef struct cfg_override {
    const char *key;
    const char *value;
    const char *flag;
} cfg_override;

/*
 * config_pooler - the enum txq_pooler of a pooler key's value.
 * Returns: TXQ_POOLER_AUTO, _NONE, _TRANSACTION, or -1 when v is none of
 * auto, none, transaction.
 */
int config_pooler(const char *v);

/*
 * config_load - build the effective settings into *cfg (zeroed first):
 * the defaults, then the ini file at path (NULL: none), then the TXQ_*
 * environment, then the overrides, then checks (every queue has a valid
 * handler, at least one queue).
 * Returns 0, or -1 with a message naming the file:line and key, the
 * variable or the flag in err; *cfg is then empty.
 */
int config_load(worker_cfg *cfg,
                const char *path,
                const cfg_override *ov,
                size_t nov,
                char *err,
                size_t errsize);

/* config_free - free what config_load allocated; the struct is zeroed. */
void config_free(worker_cfg *cfg);

/* config_print - the effective values as an ini file (password masked). */
void config_print(const worker_cfg *cfg, FILE *out);

/*
 * config_reload_check - after a reload, the first key that changed but
 * cannot be changed without a restart (the new value is then ignored), or
 * NULL.
 */
const char *config_reload_check(const worker_cfg *old, const worker_cfg *neu);

/* config_queues_equal - whether the consumers of two configs are the same
 * (queues, handlers, concurrency, budgets, poll interval). */
int config_queues_equal(const worker_cfg *a, const worker_cfg *b);

/* Effective per-queue values (the queue's own, else the worker's). */
int queue_concurrency(const worker_cfg *cfg, const queue_cfg *q);
double queue_timeout(const worker_cfg *cfg, const queue_cfg *q);
int queue_prefetch(const worker_cfg *cfg, const queue_cfg *q);

/*
 * config_worker_key - the name of the i-th [worker] key of the table, in
 * its (alphabetical) order, or NULL past the last: for the test that holds
 * the documentation and --help to the table.
 */
const char *config_worker_key(size_t i);

#endif /* TXQ_WORKER_CONFIG_H */
