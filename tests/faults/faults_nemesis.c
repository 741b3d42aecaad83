/*
 * faults_nemesis.c - the processes of a fault run and the faults done to
 * them: producers (this program, `produce`) and txq-worker processes are
 * started, restarted when a fault kills them, and stopped; fq_inject does
 * one fault and waits until it has happened (fired) and the system is
 * whole again.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "faults.h"

#define FIRE_TIMEOUT  30.0  /* an armed fault must fire within this */
#define TAKE_TIMEOUT  90.0  /* worker-stop: another consumer takes over */
#define RSS_LIMIT_KB  32768 /* pg-down: growth allowed per process tree */
#define WORKER_BUDGET "2"   /* handler budget: claims last 12 s */

static void set_note(fq_phase *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
set_note(fq_phase *p, const char *fmt, ...)
{
    va_list ap;
    size_t n = strlen(p->note);

    if (n >= sizeof p->note - 2)
        return;
    if (n > 0)
        p->note[n++] = ' ';
    va_start(ap, fmt);
    vsnprintf(p->note + n, sizeof p->note - n, fmt, ap);
    va_end(ap);
}

/* Fork and exec argv with stdout and stderr appended to log, in a process
 * group of its own; env holds NAME, VALUE pairs to set (NULL-ended). */
static pid_t
spawn(const char *const *argv, const char *log, const char *const *env)
{
    pid_t pid;

    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        int i;

        setpgid(0, 0);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        for (i = 0; env != NULL && env[i] != NULL && env[i + 1] != NULL; i += 2)
            setenv(env[i], env[i + 1], 1);
        execv(argv[0], (char *const *)(uintptr_t)argv);
        fprintf(stderr, "faults: exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    if (pid > 0)
        setpgid(pid, pid);
    return pid;
}

int
fq_start_producer(fq_run *r, int slot)
{
    char log[512], name[32], sl[16], gen[16];
    const char *argv[16];
    int i = 0;

    snprintf(name, sizeof name, "prod-%d.err", slot);
    fq_path(log, sizeof log, r->dir, name);
    snprintf(sl, sizeof sl, "%d", slot);
    snprintf(gen, sizeof gen, "%d", ++r->generation[slot]);
    argv[i++] = r->self;
    argv[i++] = "produce";
    argv[i++] = "--db";
    argv[i++] = r->db;
    argv[i++] = "--schema";
    argv[i++] = r->schema;
    argv[i++] = "--dir";
    argv[i++] = r->dir;
    argv[i++] = "--slot";
    argv[i++] = sl;
    argv[i++] = "--gen";
    argv[i++] = gen;
    argv[i] = NULL;
    r->producer[slot] = spawn(argv, log, NULL);
    return r->producer[slot] > 0 ? 0 : -1;
}

int
fq_start_worker(fq_run *r, int slot)
{
    char bin[512], so[512], log[512], name[32];
    char h_std[600], h_fifo[600], h_poison[600], h_sql[200];
    const char *env[] = {"FAULTS_DIR", r->dir, "FAULTS_SCHEMA", r->schema,
                         NULL};
    const char *argv[] = {bin,           "--db",
                          r->db,         "--schema",
                          r->schema,     "--handle",
                          h_std,         "--handle",
                          h_fifo,        "--handle",
                          h_poison,      "--handle",
                          h_sql,         "--timeout",
                          WORKER_BUDGET, "--poll-interval",
                          "0.2",         "--maintain-interval",
                          "1",           "--startup-timeout",
                          "0",           "--drain-timeout",
                          "20",          NULL};

    fq_path(bin, sizeof bin, r->build_dir, "txq-worker");
    fq_path(so, sizeof so, r->build_dir, "tests/txq_faults_handler.so");
    snprintf(h_std, sizeof h_std, "fq_std=so:%s:fh_handle", so);
    snprintf(h_fifo, sizeof h_fifo, "fq_fifo=so:%s:fh_handle", so);
    snprintf(h_poison, sizeof h_poison, "fq_poison=so:%s:fh_handle", so);
    snprintf(h_sql, sizeof h_sql, "fq_sql=sql:%s.f_handle", r->schema);
    snprintf(name, sizeof name, "worker-%d.log", slot);
    fq_path(log, sizeof log, r->dir, name);
    r->worker[slot] = spawn(argv, log, env);
    return r->worker[slot] > 0 ? 0 : -1;
}

static const char *
how(int st, char *buf, size_t size)
{
    if (WIFSIGNALED(st))
        snprintf(buf, size, "killed by signal %d", WTERMSIG(st));
    else
        snprintf(buf, size, "exit %d", WEXITSTATUS(st));
    return buf;
}

void
fq_reap(fq_run *r)
{
    pid_t pid;
    int st, i;
    char buf[64];
    double now = fq_now();

    while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
        /* Killed by a fault: start it again at once; ended otherwise (a
         * bug, or it cannot start): say so and wait a second. Only a stop
         * we asked for may end with 0. */
        int fault = WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL;
        int bad =
            !fault && !(r->stopping && WIFEXITED(st) && WEXITSTATUS(st) == 0);

        for (i = 0; i < r->nproducers; i++) {
            if (r->producer[i] != pid)
                continue;
            r->producer[i] = 0;
            if (bad) {
                fq_say("producer %d.%d ended: %s", i, r->generation[i],
                       how(st, buf, sizeof buf));
                r->abnormal++;
            }
            r->producer_due[i] = fault ? now : now + 1;
        }
        for (i = 0; i < r->nworkers; i++) {
            if (r->worker[i] != pid)
                continue;
            r->worker[i] = 0;
            /* Its consumers may outlive it for a moment (they drain on
             * their parent's death): kill what is left of the group. */
            kill(-pid, SIGKILL);
            if (bad) {
                fq_say("worker %d ended: %s", i, how(st, buf, sizeof buf));
                r->abnormal++;
            }
            r->worker_due[i] = fault ? now : now + 1;
        }
    }
    for (i = 0; i < r->nproducers && !r->stopping; i++)
        if (r->producer[i] == 0 && r->producer_due[i] > 0 &&
            r->producer_due[i] <= now) {
            r->producer_due[i] = 0;
            fq_start_producer(r, i);
        }
    for (i = 0; i < r->nworkers && !r->stopping; i++)
        if (r->worker[i] == 0 && r->worker_due[i] > 0 &&
            r->worker_due[i] <= now) {
            r->worker_due[i] = 0;
            fq_start_worker(r, i);
        }
}

void
fq_idle(fq_run *r, double seconds)
{
    double end = fq_now() + seconds;

    do {
        fq_reap(r);
        fq_sleep(0.05);
    } while (fq_now() < end);
}

/* SIGTERM the pids (0 skipped) and wait up to secs for them; SIGKILL the
 * groups of those left. */
static void
stop_all(fq_run *r, pid_t *pids, int n, double secs)
{
    double end = fq_now() + secs;
    int i, left;

    r->stopping = 1;
    for (i = 0; i < n; i++)
        if (pids[i] > 0)
            kill(pids[i], SIGTERM);
    do {
        fq_reap(r);
        for (left = 0, i = 0; i < n; i++)
            left += pids[i] > 0;
        if (left > 0)
            fq_sleep(0.05);
    } while (left > 0 && fq_now() < end);
    for (i = 0; i < n; i++)
        if (pids[i] > 0) {
            fq_say("pid %d did not stop after SIGTERM: SIGKILL", (int)pids[i]);
            r->abnormal++;
            kill(-pids[i], SIGKILL);
        }
    while (left > 0 && fq_now() < end + 5) {
        fq_reap(r);
        for (left = 0, i = 0; i < n; i++)
            left += pids[i] > 0;
        fq_sleep(0.05);
    }
}

void
fq_stop_producers(fq_run *r)
{
    stop_all(r, r->producer, r->nproducers, 30);
}

void
fq_stop_workers(fq_run *r)
{
    stop_all(r, r->worker, r->nworkers, 40);
}

PGconn *
fq_db(fq_run *r)
{
    double end = fq_now() + 180;

    while (r->pg == NULL || PQstatus(r->pg) != CONNECTION_OK) {
        PQfinish(r->pg);
        r->pg = fq_connect(r->db, fq_now() >= end);
        if (r->pg != NULL) {
            fq_exec(r->pg, "set search_path = \"%s\"", r->schema);
            break;
        }
        if (fq_now() >= end)
            break;
        fq_idle(r, 0.2);
    }
    return r->pg;
}

/* Run tests/pg_fixture.sh ACTION on the suite's cluster; 0 on success. */
static int
pg_action(fq_run *r, const char *action)
{
    char cmd[2048];
    int rc;

    if (r->pg_fixture == NULL || r->source_dir == NULL)
        return -1;
    snprintf(cmd, sizeof cmd, "bash '%s/tests/pg_fixture.sh' %s '%s' %s",
             r->source_dir, action, r->pg_fixture,
             r->pg_port != NULL ? r->pg_port : "");
    rc = system(cmd) == 0 ? 0 : -1;
    /* Our session is gone (or soon will be): use a fresh one. */
    PQfinish(r->pg);
    r->pg = NULL;
    return rc;
}

/* Arm a fault for the first process that takes it. */
static int
arm(fq_run *r, const char *name)
{
    char path[600], rel[64];

    snprintf(rel, sizeof rel, "arm/%s", name);
    return fq_put(fq_path(path, sizeof path, r->dir, rel), "1\n");
}

/* Wait until the armed fault was taken; 1 if it was, else it is disarmed
 * and 0 returned. */
static int
fired(fq_run *r, const char *name, double secs)
{
    char path[600], rel[64];
    double end = fq_now() + secs;

    snprintf(rel, sizeof rel, "arm/%s", name);
    fq_path(path, sizeof path, r->dir, rel);
    while (access(path, F_OK) == 0) {
        if (fq_now() >= end) {
            unlink(path);
            return 0;
        }
        fq_idle(r, 0.05);
    }
    return 1;
}

static void
arm_and_wait(fq_run *r, const char *name, fq_phase *p)
{
    if (arm(r, name) != 0) {
        set_note(p, "cannot arm %s", name);
        return;
    }
    p->fired = fired(r, name, FIRE_TIMEOUT);
}

/* Which consumer the handler killed, and on which message (the handler
 * writes them to fired-KIND). */
static void
victim(fq_run *r, fq_kind k, fq_phase *p)
{
    char path[600], name[64], line[128];
    double end = fq_now() + 10;

    if (!p->fired)
        return;
    snprintf(name, sizeof name, "fired-%s", fq_kind_name(k));
    fq_path(path, sizeof path, r->dir, name);
    while (fq_get(path, line, sizeof line) != 0 && fq_now() < end)
        fq_idle(r, 0.05);
    if (sscanf(line, "%d %31s", &p->victim_pid, p->victim_key) != 2)
        set_note(p, "no %s file", name);
    unlink(path);
}

static void
kill_worker_group(fq_run *r, fq_phase *p)
{
    int w = rand() % r->nworkers;

    if (r->worker[w] <= 0) {
        set_note(p, "worker %d not running", w);
        return;
    }
    kill(-r->worker[w], SIGKILL);
    p->fired = 1;
    set_note(p, "worker=%d", w);
    fq_idle(r, 0.5);
}

static void
terminate(fq_run *r, fq_phase *p)
{
    PGconn *pg = fq_db(r);
    long long n;

    if (pg == NULL)
        return;
    n = fq_scalar(pg, "select count(pg_terminate_backend(pid)) from "
                      "pg_stat_activity where application_name like "
                      "'txq-worker%%'");
    /* Each worker has consumers and a LISTEN connection (its supervisor). */
    p->fired = n >= 2;
    set_note(p, "backends=%lld", n);
}

static void
worker_stop(fq_run *r, fq_phase *p, const char *name)
{
    char path[600], line[128];
    double t0, end;
    int took = 0;

    fq_path(path, sizeof path, r->dir, "stopped");
    unlink(path);
    arm_and_wait(r, name, p);
    if (!p->fired)
        return;
    end = fq_now() + 10;
    while (fq_get(path, line, sizeof line) != 0 && fq_now() < end)
        fq_idle(r, 0.05);
    if (sscanf(line, "%d %31s", &p->victim_pid, p->victim_key) != 2) {
        p->bad = 1;
        set_note(p, "no stopped file");
        return;
    }
    /* Wait past its claim: until another consumer has processed it. */
    t0 = fq_now();
    end = t0 + TAKE_TIMEOUT;
    while (fq_now() < end) {
        PGconn *pg = fq_db(r);

        if (pg != NULL &&
            fq_scalar(pg,
                      "select count(*) from \"%s\".f_processed where key = "
                      "'%s' and pid <> %d",
                      r->schema, p->victim_key, p->victim_pid) > 0) {
            took = 1;
            break;
        }
        fq_idle(r, 0.2);
    }
    set_note(p, "taken_over_after=%.1fs", fq_now() - t0);
    if (!took) {
        p->bad = 1;
        set_note(p, "NOT_TAKEN_OVER");
    }
    kill(p->victim_pid, SIGCONT);
    fq_idle(r, 2);
}

/* Send three poison messages (their handler crashes every time) in one
 * transaction, logged as a producer logs them; 1 when committed. */
static int
send_poison(fq_run *r, int fd, int phase_no)
{
    static int n;
    char buf[1024], line[64];
    size_t len = 0;
    PGconn *pg = fq_db(r);
    int i, first = n + 1, ok;

    if (pg == NULL)
        return 0;
    ok = fq_exec(pg, "begin") == 0;
    for (i = 0; ok && i < 3; i++) {
        ok = fq_exec(pg,
                     "select \"%s\".send('fq_poison', "
                     "convert_to('x-%d - 0 P', 'UTF8'))",
                     r->schema, ++n) == 0;
        len += (size_t)snprintf(buf + len, sizeof buf - len,
                                "U x-%d fq_poison - 0 P %d\n", n, phase_no);
    }
    if (ok) {
        fq_append(fd, buf, len);
        ok = fq_exec(pg, "commit") == 0;
    }
    if (!ok) {
        /* A session the server ended: the next try gets a fresh one. */
        PQfinish(r->pg);
        r->pg = NULL;
        return 0;
    }
    for (i = first; i <= n; i++) {
        snprintf(line, sizeof line, "O x-%d\n", i);
        fq_append(fd, line, strlen(line));
    }
    return 1;
}

static void
poison(fq_run *r, fq_phase *p, int phase_no)
{
    char path[600];
    int fd, i;

    fd = open(fq_path(path, sizeof path, r->dir, "nemesis.log"),
              O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd < 0)
        return;
    for (i = 0; i < 3 && !p->fired; i++)
        p->fired = send_poison(r, fd, phase_no);
    close(fd);
}

/* Bytes of a file, or 0. */
static long
file_size(const char *path)
{
    FILE *f = fopen(path, "r");
    long n = 0;

    if (f != NULL) {
        fseek(f, 0, SEEK_END);
        n = ftell(f);
        fclose(f);
    }
    return n;
}

/* Whether a producer's or worker's log says, after offset, that it lost
 * its connection or cannot connect. */
static int
said_down(const char *path, long offset)
{
    FILE *f = fopen(path, "r");
    char line[1024];
    int yes = 0;

    if (f == NULL)
        return 0;
    fseek(f, offset, SEEK_SET);
    while (!yes && fgets(line, sizeof line, f) != NULL)
        yes = strstr(line, "cannot connect") != NULL ||
              strstr(line, "connection lost") != NULL;
    fclose(f);
    return yes;
}

/* The stderr log of producer i (i < nproducers), else of worker
 * i - nproducers, into buf. */
static const char *
log_of(const fq_run *r, int i, char *buf, size_t size)
{
    char name[32];

    if (i < r->nproducers)
        snprintf(name, sizeof name, "prod-%d.err", i);
    else
        snprintf(name, sizeof name, "worker-%d.log", i - r->nproducers);
    return fq_path(buf, size, r->dir, name);
}

static void
pg_down(fq_run *r, fq_phase *p, int immediate, double secs)
{
    long before[2 * FQ_MAX_PROCS], peak[2 * FQ_MAX_PROCS];
    long offset[2 * FQ_MAX_PROCS], growth = 0;
    pid_t who[2 * FQ_MAX_PROCS];
    char path[600];
    double end;
    int i, n = r->nproducers + r->nworkers, told[2] = {0, 0};

    if (r->pg_fixture == NULL) {
        set_note(p, "no --pg-fixture");
        return;
    }
    for (i = 0; i < n; i++) {
        who[i] =
            i < r->nproducers ? r->producer[i] : r->worker[i - r->nproducers];
        offset[i] = file_size(log_of(r, i, path, sizeof path));
        before[i] = peak[i] = fq_rss_tree_kb(who[i]);
    }
    if (pg_action(r, immediate ? "crash" : "halt") != 0) {
        set_note(p, "pg_fixture.sh %s failed", immediate ? "crash" : "halt");
        p->bad = 1;
    }
    p->fired = 1;
    end = fq_now() + secs;
    while (fq_now() < end) {
        fq_idle(r, 1 < secs ? 1 : secs);
        for (i = 0; i < n; i++) {
            long kb = fq_rss_tree_kb(who[i]);

            if (kb > peak[i])
                peak[i] = kb;
        }
    }
    if (pg_action(r, "resume") != 0) {
        set_note(p, "pg_fixture.sh resume failed");
        p->bad = 1;
    }
    if (immediate)
        return;
    /* Clear errors: every producer and worker said it cannot connect. */
    for (i = 0; i < n; i++) {
        if (peak[i] - before[i] > growth)
            growth = peak[i] - before[i];
        told[i >= r->nproducers] +=
            said_down(log_of(r, i, path, sizeof path), offset[i]);
    }
    set_note(p,
             "down=%.0fs producers_said_so=%d/%d workers_said_so=%d/%d "
             "max_rss_growth=%ldkB",
             secs, told[0], r->nproducers, told[1], r->nworkers, growth);
    if (told[0] < r->nproducers || told[1] < r->nworkers ||
        growth > RSS_LIMIT_KB)
        p->bad = 1;
}

static void
failover(fq_run *r, fq_phase *p, int phase_no)
{
    char cmd[4096];
    int rc;

    if (r->nemesis_cmd == NULL) {
        set_note(p, "no --nemesis-cmd");
        return;
    }
    /* The hook gets the run's particulars in its environment. */
    snprintf(cmd, sizeof cmd, "%d", phase_no);
    setenv("TXQ_FAULTS_PHASE", cmd, 1);
    setenv("TXQ_FAULTS_DB", r->db, 1);
    setenv("TXQ_FAULTS_DIR", r->dir, 1);
    setenv("TXQ_FAULTS_SCHEMA", r->schema, 1);
    rc = system(r->nemesis_cmd);
    PQfinish(r->pg);
    r->pg = NULL;
    p->fired = rc == 0;
    if (rc != 0) {
        p->bad = 1;
        set_note(p, "nemesis command failed (status %d)", rc);
    }
}

void
fq_inject(fq_run *r, fq_kind k, fq_phase *p)
{
    int phase_no = (int)(p - r->phase);

    switch (k) {
    case FQ_NONE:
    case FQ_NKINDS:
        p->fired = 1;
        break;
    case FQ_WORKER_KILL:
    case FQ_WORKER_KILL_COMMIT:
        arm_and_wait(r, fq_kind_name(k), p);
        victim(r, k, p);
        fq_idle(r, 0.5);
        break;
    case FQ_PRODUCER_KILL:
    case FQ_PRODUCER_KILL_COMMIT:
        arm_and_wait(r, fq_kind_name(k), p);
        fq_idle(r, 0.5);
        break;
    case FQ_WORKER_KILL_ALL:
        kill_worker_group(r, p);
        break;
    case FQ_PG_CRASH:
        pg_down(r, p, 1, 1);
        break;
    case FQ_TERMINATE:
        terminate(r, p);
        break;
    case FQ_WORKER_STOP:
    case FQ_WORKER_STOP_FENCE:
        worker_stop(r, p, fq_kind_name(k));
        break;
    case FQ_POISON:
        poison(r, p, phase_no);
        break;
    case FQ_PG_DOWN:
        pg_down(r, p, 0, r->down);
        break;
    case FQ_FAILOVER:
        failover(r, p, phase_no);
        break;
    }
    if (!p->fired && k != FQ_NONE) {
        p->bad = 1;
        set_note(p, "NOT_FIRED");
    }
}
