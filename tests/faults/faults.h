/*
 * faults.h - the fault suite (txq-faults): a Jepsen-style run of producers,
 * txq-worker consumers and a nemesis against a PostgreSQL of its own, and
 * the checker that counts what went wrong. docs/faults.md describes it.
 *
 * Files of a run directory:
 *   prod-N.log   producer slot N: "U KEY QUEUE GROUP SEQ FLAG PHASE" before
 *                its COMMIT (uncertain from then on), "O KEY" once the
 *                COMMIT returned success, "F KEY" once it surely failed
 *   nemesis.log  the same, for the poison messages the nemesis sends
 *   prod-N.err   a producer's stderr; worker-N.log a worker's
 *   phase        the current phase number (producers tag their keys), or
 *                "pause"
 *   arm/NAME     a fault armed for the first process to take it
 */
#ifndef TXQ_FAULTS_H
#define TXQ_FAULTS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <libpq-fe.h>

#define FQ_MAX_PROCS       8
#define FQ_MAX_PHASES      1024
#define FQ_POISON_ATTEMPTS 3
#define FQ_KEY_MAX         32

/* The fault kinds, in the order the short form runs them. */
typedef enum fq_kind {
    FQ_NONE = 0,             /* no fault: the warm-up phase */
    FQ_WORKER_KILL,          /* kill -9 after the business write */
    FQ_WORKER_KILL_COMMIT,   /* kill -9 between COMMIT and its reply */
    FQ_WORKER_KILL_ALL,      /* kill -9 of a worker's processes at once */
    FQ_PRODUCER_KILL,        /* kill -9 of a producer mid-transaction */
    FQ_PRODUCER_KILL_COMMIT, /* kill -9 of a producer during its COMMIT */
    FQ_PG_CRASH,             /* pg_ctl stop -m immediate, then start */
    FQ_TERMINATE,            /* pg_terminate_backend of the workers */
    FQ_WORKER_STOP,          /* SIGSTOP past the claim, then SIGCONT */
    FQ_WORKER_STOP_FENCE,    /* the same, its session kept alive */
    FQ_POISON,               /* messages that crash their handler */
    FQ_PG_DOWN,              /* the database down while producers run */
    FQ_FAILOVER,             /* --nemesis-cmd: failover, by others */
    FQ_NKINDS
} fq_kind;

/* What one phase (the time from one fault to the next) did. */
typedef struct fq_phase {
    fq_kind kind;
    int fired;    /* the fault happened */
    int bad;      /* a check of the fault itself failed (see note) */
    double drain; /* seconds to drain after it (short form), else -1 */
    char note[200];
    /* worker-kill, worker-kill-commit, worker-stop: the consumer the fault
     * hit after its business write, and that message's key */
    int victim_pid;
    char victim_key[FQ_KEY_MAX];
} fq_phase;

typedef struct fq_run {
    /* options */
    const char *db;
    const char *dir;
    const char *schema;
    const char *build_dir;
    const char *source_dir;
    const char *pg_fixture; /* the cluster's key for tests/pg_fixture.sh */
    const char *pg_port;
    const char *nemesis_cmd; /* the failover hook */
    int short_form;
    double minutes;
    double interval;
    double down;
    int nproducers;
    int nworkers;
    unsigned seed;
    unsigned kinds; /* bit per fq_kind that may run */
    /* state */
    PGconn *pg;
    pid_t producer[FQ_MAX_PROCS];
    int generation[FQ_MAX_PROCS];
    pid_t worker[FQ_MAX_PROCS];
    /* when to start a slot again that ended other than by a fault's
     * SIGKILL (0: not pending) */
    double producer_due[FQ_MAX_PROCS];
    double worker_due[FQ_MAX_PROCS];
    char self[512]; /* this program, for `produce` */
    int abnormal;   /* producers and workers that ended on their own with
                       an error (a crash, a sanitizer report, exit != 0) */
    int stopping;   /* producers are being stopped: do not restart them */
    fq_phase phase[FQ_MAX_PHASES];
    int nphase;
} fq_run;

/* === faults_util.c === */
const char *fq_kind_name(fq_kind k);
fq_kind fq_kind_parse(const char *s);
double fq_now(void);
void fq_sleep(double seconds);
/* printf to stdout with a "faults: " prefix and a newline, flushed. */
void fq_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* dir/name into buf. */
const char *fq_path(char *buf, size_t size, const char *dir, const char *name);
/* Write text to path through a temporary file and rename; 0 on success. */
int fq_put(const char *path, const char *text);
/* The first line of path into buf (without newline); 0 on success. */
int fq_get(const char *path, char *buf, size_t size);
/* Append all of buf to fd (O_APPEND): one write when it can; 0 on success. */
int fq_append(int fd, const char *buf, size_t len);
/* Resident set size of pid in KiB (0 when gone). */
long fq_rss_kb(pid_t pid);
/* That of pid and its children. */
long fq_rss_tree_kb(pid_t pid);
/* A connection with client_min_messages = warning, or NULL (why on stderr
 * when loud). */
PGconn *fq_connect(const char *db, int loud);
/* Run SQL; 0 on success, else -1 with the error on stderr. */
int fq_exec(PGconn *pg, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* First column of the first row as a number, or -1 on error. */
long long fq_scalar(PGconn *pg, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A string-keyed map to slots of size_t, growing. */
typedef struct fq_map {
    char **keys;
    size_t *vals;
    size_t cap;
    size_t n;
} fq_map;
/* The slot of key (created as 0 when create, else NULL if absent). */
size_t *fq_map_get(fq_map *m, const char *key, int create);
void fq_map_free(fq_map *m);

/* === faults_produce.c === */
/* txq-faults produce: the producer process. */
int fq_produce_main(int argc, char **argv);

/* === faults_nemesis.c === */
/* Start, watch and stop the producers and workers. */
int fq_start_producer(fq_run *r, int slot);
int fq_start_worker(fq_run *r, int slot);
/* Reap children that died and start them again; call often. */
void fq_reap(fq_run *r);
/* SIGTERM the producers and wait for them. */
void fq_stop_producers(fq_run *r);
/* SIGTERM the workers and wait for them. */
void fq_stop_workers(fq_run *r);
/* Inject fault k (its outcome into p). */
void fq_inject(fq_run *r, fq_kind k, fq_phase *p);
/* The run's connection, reconnected when it broke (waits up to 180 s). */
PGconn *fq_db(fq_run *r);
/* Sleep seconds while reaping children. */
void fq_idle(fq_run *r, double seconds);

/* === faults_check.c === */
/* Check the run's history; print a line of counters per fault kind and the
 * total. Returns the number of violations. */
long fq_check(fq_run *r);

#endif /* TXQ_FAULTS_H */
