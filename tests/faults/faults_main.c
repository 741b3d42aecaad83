/*
 * faults_main.c - txq-faults, the fault suite's driver (docs/faults.md).
 *
 *   txq-faults run --db CONNINFO --dir DIR [--short | --minutes N]
 *              [--interval S] [--down S] [--faults K,K...] [--seed N]
 *              [--pg-fixture KEY [--pg-port P]] [--nemesis-cmd CMD]
 *              [--producers N] [--workers N] [--schema S]
 *   txq-faults produce ...   (a producer; started by run)
 *
 * run sets up a schema of its own (dropped first), starts the producers and
 * the txq-worker processes, and goes through phases: each begins with one
 * fault. --short runs every fault kind once, each phase followed by a pause
 * of the producers and a drain; --minutes N (the soak) does a random fault
 * every --interval seconds for N minutes, then stops the producers and
 * measures the time to drain. Then the checker (faults_check.c) prints its
 * counters per fault kind; the exit status is 1 on any violation.
 *
 * The database faults (pg-crash, pg-down) need the cluster's key for
 * tests/pg_fixture.sh (--pg-fixture, --pg-port), whose crash, halt and
 * resume commands they run; failover needs --nemesis-cmd (or
 * $TXQ_FAULTS_NEMESIS_CMD), a shell command run at the fault point with
 * TXQ_FAULTS_DB, TXQ_FAULTS_DIR, TXQ_FAULTS_SCHEMA and TXQ_FAULTS_PHASE set,
 * that returns once the new primary takes writes (exit 0) or fails.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "faults.h"
#include "txq.h"

#define DRAIN_TIMEOUT 300.0

static volatile sig_atomic_t interrupted;

static void
on_int(int sig)
{
    (void)sig;
    interrupted = 1;
}

static int
usage(void)
{
    fprintf(stderr,
            "usage: txq-faults run --db CONNINFO --dir DIR [--short | "
            "--minutes N]\n"
            "         [--interval S] [--down S] [--faults K,K...] [--seed N]\n"
            "         [--pg-fixture KEY [--pg-port P]] [--nemesis-cmd CMD]\n"
            "         [--producers N] [--workers N] [--schema S]\n"
            "fault kinds:");
    for (int k = 1; k < FQ_NKINDS; k++)
        fprintf(stderr, " %s", fq_kind_name((fq_kind)k));
    fprintf(stderr, "\n");
    return 2;
}

static int
setup_schema(fq_run *r)
{
    txq_options co = {.size = sizeof co, .schema = r->schema};
    txq_queue_opts std = {.size = sizeof std,
                          .max_attempts = 50,
                          .backoff_base = 0.1,
                          .backoff_cap = 1};
    txq_queue_opts fifo = std, poison = std;
    static const char *const names[4] = {"fq_std", "fq_sql", "fq_fifo",
                                         "fq_poison"};
    txq_client *c = txq_client_new(&co);
    PGconn *pg = fq_db(r);
    const char *s = r->schema;
    int rc = -1, i;

    fifo.fifo = 1;
    poison.max_attempts = FQ_POISON_ATTEMPTS;
    if (c == NULL || pg == NULL)
        goto out;
    if (fq_exec(pg, "drop schema if exists \"%s\" cascade", s) != 0)
        goto out;
    if (txq_migrate(c, pg, NULL) != TXQ_OK) {
        fprintf(stderr, "faults: migrate: %s\n", txq_errmsg(c));
        goto out;
    }
    if (fq_exec(pg, "set search_path = \"%s\"", s) != 0 ||
        fq_exec(pg,
                "create table f_processed (id bigserial primary key,"
                " key text not null, queue text not null, grp text,"
                " seq bigint, msg_id bigint, attempt int, pid int,"
                " at timestamptz not null default clock_timestamp())") != 0 ||
        fq_exec(pg, "create table f_slow_commit (sleep_ms int not null)") !=
            0 ||
        fq_exec(pg, "create function f_slow_commit_fn() returns trigger "
                    "language plpgsql as $$ begin "
                    "perform pg_sleep(new.sleep_ms / 1000.0); return null; "
                    "end $$") != 0 ||
        fq_exec(pg, "create constraint trigger f_slow_commit_t after insert "
                    "on f_slow_commit deferrable initially deferred for each "
                    "row execute function f_slow_commit_fn()") != 0 ||
        fq_exec(pg,
                "create function f_handle(m message) returns void "
                "language plpgsql as $$ declare p text[] := "
                "regexp_split_to_array(convert_from(m.body, 'UTF8'), ' '); "
                "begin insert into \"%s\".f_processed "
                "(key, queue, grp, seq, msg_id, attempt, pid) values "
                "(p[1], m.queue, p[2], p[3]::bigint, m.id, m.attempts, 0); "
                "end $$",
                s) != 0)
        goto out;
    for (i = 0; i < 4; i++) {
        const txq_queue_opts *o = i == 2 ? &fifo : (i == 3 ? &poison : &std);

        if (txq_queue_create(c, pg, names[i], o) != TXQ_OK) {
            fprintf(stderr, "faults: create queue %s: %s\n", names[i],
                    txq_errmsg(c));
            goto out;
        }
    }
    rc = 0;
out:
    txq_client_free(c);
    return rc;
}

static void
set_phase(fq_run *r, const char *text)
{
    char path[600], buf[32];

    snprintf(buf, sizeof buf, "%s\n", text);
    if (fq_put(fq_path(path, sizeof path, r->dir, "phase"), buf) != 0)
        fq_say("cannot write %s", path);
}

/* Messages still in the suite's queues (ready, delayed, in flight), -1 on
 * error. */
static long long
depth(fq_run *r)
{
    PGconn *pg = fq_db(r);

    if (pg == NULL)
        return -1;
    return fq_scalar(pg, "select coalesce(sum(depth), 0) from queue_stats "
                         "where queue like 'fq\\_%%'");
}

/* Pause the producers and wait until the queues are empty: seconds it
 * took, or -1 on timeout. */
static double
drain(fq_run *r)
{
    double t0 = fq_now();

    set_phase(r, "pause");
    fq_idle(r, 0.3);
    while (fq_now() - t0 < DRAIN_TIMEOUT && !interrupted) {
        if (depth(r) == 0)
            return fq_now() - t0;
        fq_idle(r, 0.2);
    }
    return -1;
}

/* Start phase kind k: the producers tag their keys with it, then the
 * fault. */
static fq_phase *
begin_phase(fq_run *r, fq_kind k)
{
    fq_phase *p = &r->phase[r->nphase++];
    char buf[16];

    memset(p, 0, sizeof *p);
    p->kind = k;
    p->drain = -1;
    snprintf(buf, sizeof buf, "%d", (int)(p - r->phase));
    set_phase(r, buf);
    return p;
}

static void
report(const fq_run *r, const fq_phase *p, double t0)
{
    fq_say("%6.1fs phase %d %s: %s%s%s", fq_now() - t0, (int)(p - r->phase),
           fq_kind_name(p->kind), p->fired ? "fired" : "not fired",
           p->note[0] ? " " : "", p->note);
}

static int
run_short(fq_run *r, double t0)
{
    fq_phase *p = begin_phase(r, FQ_NONE);
    int k;

    fq_idle(r, 3);
    p->fired = 1;
    if ((p->drain = drain(r)) < 0)
        p->bad = 1;
    for (k = 1; k < FQ_NKINDS && !interrupted; k++) {
        if (!(r->kinds & (1u << k)))
            continue;
        p = begin_phase(r, (fq_kind)k);
        fq_idle(r, 2);
        fq_inject(r, (fq_kind)k, p);
        fq_idle(r, 3);
        p->drain = drain(r);
        if (p->drain < 0) {
            p->bad = 1;
            snprintf(p->note + strlen(p->note),
                     sizeof p->note - strlen(p->note), " NOT_DRAINED");
        }
        report(r, p, t0);
    }
    return 0;
}

static int
run_soak(fq_run *r, double t0)
{
    fq_kind pick[FQ_NKINDS];
    int n = 0, k;
    double end = t0 + r->minutes * 60, next = fq_now() + r->interval, d;
    fq_phase *p = begin_phase(r, FQ_NONE);

    p->fired = 1;
    for (k = 1; k < FQ_NKINDS; k++)
        if (r->kinds & (1u << k))
            pick[n++] = (fq_kind)k;
    while (fq_now() < end && !interrupted && n > 0 &&
           r->nphase < FQ_MAX_PHASES) {
        if (fq_now() < next) {
            fq_idle(r, next - fq_now() < 0.5 ? next - fq_now() : 0.5);
            continue;
        }
        p = begin_phase(r, pick[rand() % n]);
        fq_inject(r, p->kind, p);
        report(r, p, t0);
        next += r->interval;
        if (next < fq_now())
            next = fq_now() + 1;
    }
    fq_say("faults stopped after %.1f s; draining", fq_now() - t0);
    d = drain(r);
    if (d < 0) {
        fq_say("NOT drained after %.0f s", DRAIN_TIMEOUT);
        p->bad = 1;
    } else {
        fq_say("time to drain after the faults stopped: %.1f s", d);
    }
    p->drain = d;
    return 0;
}

static int
parse_kinds(fq_run *r, const char *list)
{
    char buf[512], *tok, *save = NULL;

    r->kinds = 0;
    snprintf(buf, sizeof buf, "%s", list);
    for (tok = strtok_r(buf, ",", &save); tok != NULL;
         tok = strtok_r(NULL, ",", &save)) {
        fq_kind k = fq_kind_parse(tok);

        if (k == FQ_NKINDS || k == FQ_NONE) {
            fprintf(stderr, "txq-faults: unknown fault kind '%s'\n", tok);
            return -1;
        }
        r->kinds |= 1u << k;
    }
    return 0;
}

static int
run_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},
        {"dir", required_argument, NULL, 'D'},
        {"schema", required_argument, NULL, 's'},
        {"short", no_argument, NULL, 'S'},
        {"minutes", required_argument, NULL, 'm'},
        {"interval", required_argument, NULL, 'i'},
        {"down", required_argument, NULL, 'o'},
        {"faults", required_argument, NULL, 'f'},
        {"seed", required_argument, NULL, 'e'},
        {"pg-fixture", required_argument, NULL, 'x'},
        {"pg-port", required_argument, NULL, 'p'},
        {"nemesis-cmd", required_argument, NULL, 'n'},
        {"producers", required_argument, NULL, 'P'},
        {"workers", required_argument, NULL, 'W'},
        {NULL, 0, NULL, 0}};
    static fq_run r; /* large: the phase table */
    struct rlimit no_core = {0, 0};
    struct sigaction sa;
    char path[600], cmd[700];
    const char *faults = NULL;
    double t0;
    long bad;
    ssize_t n;
    int ch, i, k, rc = 1;

    r.db = getenv("TXQ_TEST_DSN");
    r.schema = "txq_faults";
    r.build_dir = getenv("TXQ_BUILD_DIR");
    r.source_dir = getenv("TXQ_SOURCE_DIR");
    r.nemesis_cmd = getenv("TXQ_FAULTS_NEMESIS_CMD");
    r.interval = 20;
    r.down = -1;
    r.nproducers = 2;
    r.nworkers = 2;
    r.seed = (unsigned)getpid();
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 'd':
            r.db = optarg;
            break;
        case 'D':
            r.dir = optarg;
            break;
        case 's':
            r.schema = optarg;
            break;
        case 'S':
            r.short_form = 1;
            break;
        case 'm':
            r.minutes = atof(optarg);
            break;
        case 'i':
            r.interval = atof(optarg);
            break;
        case 'o':
            r.down = atof(optarg);
            break;
        case 'f':
            faults = optarg;
            break;
        case 'e':
            r.seed = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'x':
            r.pg_fixture = optarg;
            break;
        case 'p':
            r.pg_port = optarg;
            break;
        case 'n':
            r.nemesis_cmd = optarg[0] ? optarg : NULL;
            break;
        case 'P':
            r.nproducers = atoi(optarg);
            break;
        case 'W':
            r.nworkers = atoi(optarg);
            break;
        default:
            return usage();
        }
    }
    if (r.db == NULL || r.dir == NULL || r.build_dir == NULL ||
        (!r.short_form && r.minutes <= 0) || r.interval <= 0 ||
        r.nproducers < 1 || r.nproducers > FQ_MAX_PROCS || r.nworkers < 1 ||
        r.nworkers > FQ_MAX_PROCS ||
        strspn(r.schema, "abcdefghijklmnopqrstuvwxyz_"
                         "0123456789") != strlen(r.schema))
        return usage();
    if (r.down < 0)
        r.down = r.short_form ? 10 : 60;
    r.kinds = 0;
    for (k = 1; k < FQ_NKINDS; k++)
        r.kinds |= 1u << k;
    if (faults != NULL && parse_kinds(&r, faults) != 0)
        return 2;
    /* Without the cluster's key or a hook these cannot run: say so, and
     * leave them out. */
    if (r.pg_fixture == NULL &&
        (r.kinds & ((1u << FQ_PG_CRASH) | (1u << FQ_PG_DOWN)))) {
        fq_say("no --pg-fixture: pg-crash and pg-down left out");
        r.kinds &= ~((1u << FQ_PG_CRASH) | (1u << FQ_PG_DOWN));
    }
    if (r.nemesis_cmd == NULL && (r.kinds & (1u << FQ_FAILOVER))) {
        if (faults != NULL)
            fq_say("failover needs --nemesis-cmd: left out");
        r.kinds &= ~(1u << FQ_FAILOVER);
    }
    /* Resolved now: a rebuild during the run must not stop the restarts. */
    n = readlink("/proc/self/exe", r.self, sizeof r.self - 1);
    if (n <= 0 || (size_t)n >= sizeof r.self - 1) {
        fprintf(stderr, "txq-faults: cannot find myself\n");
        return 1;
    }
    r.self[n] = '\0';
    srand(r.seed);
    setrlimit(RLIMIT_CORE, &no_core); /* poison crashes leave no cores */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_int;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* our own run directory, made fresh */
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s/arm'", r.dir, r.dir);
    if (strchr(r.dir, '\'') != NULL || system(cmd) != 0) {
        fprintf(stderr, "txq-faults: cannot make %s\n", r.dir);
        return 1;
    }
    fq_say("seed=%u %s producers=%d workers=%d dir=%s", r.seed,
           r.short_form ? "short" : "soak", r.nproducers, r.nworkers, r.dir);
    if (setup_schema(&r) != 0)
        goto out;
    set_phase(&r, "0");
    for (i = 0; i < r.nworkers; i++)
        if (fq_start_worker(&r, i) != 0)
            goto out;
    for (i = 0; i < r.nproducers; i++)
        if (fq_start_producer(&r, i) != 0)
            goto out;
    t0 = fq_now();
    if (r.short_form)
        run_short(&r, t0);
    else
        run_soak(&r, t0);
    fq_stop_producers(&r);
    if (depth(&r) != 0)
        drain(&r);
    fq_stop_workers(&r);
    fq_say("ran %.1f s; checking", fq_now() - t0);
    bad = fq_check(&r);
    if (interrupted) {
        fq_say("interrupted");
        bad++;
    }
    fq_say("%s (%ld violations; logs in %s)", bad == 0 ? "PASS" : "FAIL", bad,
           fq_path(path, sizeof path, r.dir, ""));
    rc = bad == 0 ? 0 : 1;
out:
    r.stopping = 1;
    for (i = 0; i < r.nproducers; i++)
        if (r.producer[i] > 0)
            kill(-r.producer[i], SIGKILL);
    for (i = 0; i < r.nworkers; i++)
        if (r.worker[i] > 0)
            kill(-r.worker[i], SIGKILL);
    fq_reap(&r);
    PQfinish(r.pg);
    return rc;
}

int
main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "run") == 0)
        return run_main(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "produce") == 0)
        return fq_produce_main(argc - 1, argv + 1);
    return usage();
}
