/*
 * alert.c - delivers the alerts of the notify policy to notify_command.
 * The supervisor LISTENs txq_alert (and looks every maintenance tick, for
 * lost notifications and --no-listen); alerts_poll takes the undelivered
 * alerts of one queue with txq.worker_take_alerts (marking them delivered,
 * SKIP LOCKED so several workers never deliver one alert twice) and runs
 * the command without a shell, the details in TXQ_ALERT_* variables. At
 * most one command per queue per notify_interval: alerts that arrive
 * meanwhile wait and go out as one summary (TXQ_ALERT_COUNT). Delivery is
 * at most once: a command that fails is logged; the alerts rows stay.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "childenv.h"
#include "log.h"
#include "policy.h"
#include "util.h"
#include "worker.h"

extern char **environ;

#define LOOK_EVERY 5.0 /* look for missed alerts this often */

struct sent {
    char *queue;
    double at;
};

struct alerts {
    struct sent *sent; /* when each queue's command last ran */
    size_t nsent;
    int kicked;
    double next_look;
    pid_t pid; /* the running command, 0 if none */
    double deadline;
    char queue[80];
};

alerts *
alerts_new(void)
{
    return calloc(1, sizeof(alerts));
}

void
alerts_free(alerts *a)
{
    size_t i;

    if (a == NULL)
        return;
    for (i = 0; i < a->nsent; i++)
        free(a->sent[i].queue);
    free(a->sent);
    free(a);
}

void
alerts_kick(alerts *a)
{
    a->kicked = 1;
}

int
alerts_running(const alerts *a)
{
    return a->pid != 0;
}

static struct sent *
sent_for(alerts *a, const char *queue, int add)
{
    struct sent *n;
    size_t i;

    for (i = 0; i < a->nsent; i++)
        if (strcmp(a->sent[i].queue, queue) == 0)
            return &a->sent[i];
    if (!add)
        return NULL;
    n = realloc(a->sent, (a->nsent + 1) * sizeof *n);
    if (n == NULL)
        return NULL;
    a->sent = n;
    n = &a->sent[a->nsent];
    if ((n->queue = strdup(queue)) == NULL)
        return NULL;
    n->at = -1;
    a->nsent++;
    return n;
}

double
alerts_due(const alerts *a, const worker_cfg *cfg, double now)
{
    double d;

    if (cfg->notify_command == NULL || cfg->notify_command[0] == '\0' ||
        a->pid != 0)
        return 3600;
    if (a->kicked)
        return 0;
    d = a->next_look - now;
    return d > 0 ? d : 0;
}

/* The queues still inside their notify_interval, as a text[] literal. */
static char *
skip_list(alerts *a, const worker_cfg *cfg, double now)
{
    size_t i, len = 3;
    char *s, *p;

    for (i = 0; i < a->nsent; i++)
        len += strlen(a->sent[i].queue) + 3; /* "name", */
    if ((s = malloc(len)) == NULL)
        return NULL;
    p = s;
    *p++ = '{';
    for (i = 0; i < a->nsent; i++) {
        if (policy_alert_wait(a->sent[i].at, now, cfg->notify_interval) <= 0)
            continue;
        /* An array literal's element in double quotes (so that a queue
         * spelt NULL stays a name); a queue name holds no " or \. */
        p += sprintf(p, "%s\"%s\"", p > s + 1 ? "," : "", a->sent[i].queue);
    }
    *p++ = '}';
    *p = '\0';
    return s;
}

/* The command's environment (childenv.h) with its TXQ_ALERT_* variables,
 * or NULL when out of memory. */
static char **
alert_env(const worker_cfg *cfg, PGresult *r)
{
    static const char *const names[] = {
        "TXQ_ALERT_QUEUE",  "TXQ_ALERT_COUNT", "TXQ_ALERT_MESSAGE_ID",
        "TXQ_ALERT_REASON", "TXQ_ALERT_ERROR", "TXQ_ALERT_SCHEMA"};
    char *extra[6];
    char **env = NULL;
    size_t i, ok = 0;

    for (i = 0; i < 6; i++) {
        const char *v = i < 5 ? PQgetvalue(r, 0, (int)i) : cfg->schema;
        size_t n = strlen(names[i]) + strlen(v) + 2;

        if ((extra[i] = malloc(n)) != NULL) {
            snprintf(extra[i], n, "%s=%s", names[i], v);
            ok++;
        }
    }
    if (ok == 6)
        env = childenv_new(cfg->pass_env, (const char *const *)extra, 6);
    for (i = 0; i < 6; i++)
        free(extra[i]);
    return env;
}

static void
spawn(alerts *a, const worker_cfg *cfg, PGresult *r, double now)
{
    char err[256];
    char **argv = split_args(cfg->notify_command, err, sizeof err);
    char **env;
    pid_t pid;

    if (argv == NULL) {
        wlog(WLOG_ERROR, "bad notify_command", "err=%s", err);
        return;
    }
    if ((env = alert_env(cfg, r)) == NULL) {
        wlog(WLOG_ERROR, "out of memory", "what=notify_command environment");
        free_args(argv);
        return;
    }
    pid = fork();
    if (pid < 0) {
        wlog(WLOG_ERROR, "fork failed", "err=%s", strerror(errno));
        free_args(argv);
        childenv_free(env);
        return;
    }
    if (pid == 0) {
        sigset_t none;
        int s, fd = open("/dev/null", O_RDONLY);

        setpgid(0, 0);
        for (s = 1; s < 32; s++)
            if (s != SIGKILL && s != SIGSTOP)
                signal(s, SIG_DFL);
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (fd >= 0)
            dup2(fd, 0);
        environ = env;
        execvp(argv[0], argv);
        dprintf(2, "txq-worker: cannot run notify_command %s: %s\n", argv[0],
                strerror(errno));
        _exit(127);
    }
    setpgid(pid, pid);
    free_args(argv);
    childenv_free(env);
    a->pid = pid;
    a->deadline = now + cfg->notify_timeout;
    snprintf(a->queue, sizeof a->queue, "%s", PQgetvalue(r, 0, 0));
    wlog(WLOG_INFO, "alert command started",
         "queue=%s alerts=%s msg_id=%s reason=%s pid=%ld", PQgetvalue(r, 0, 0),
         PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2), PQgetvalue(r, 0, 3),
         (long)pid);
}

int
alerts_poll(alerts *a, PGconn *db, const worker_cfg *cfg, double now)
{
    char sql[160];
    const char *vals[1];
    char *skip;
    PGresult *r;
    struct sent *s;

    if (alerts_due(a, cfg, now) > 0)
        return 0;
    a->kicked = 0;
    a->next_look =
        now + (cfg->notify_interval < LOOK_EVERY
                   ? (cfg->notify_interval > 0.1 ? cfg->notify_interval : 0.1)
                   : LOOK_EVERY);
    if ((skip = skip_list(a, cfg, now)) == NULL)
        return 0;
    vals[0] = skip;
    snprintf(sql, sizeof sql,
             "select * from \"%s\".worker_take_alerts($1::text[])",
             cfg->schema);
    r = PQexecParams(db, sql, 1, NULL, vals, NULL, NULL, 0);
    free(skip);
    if (r == NULL || PQresultStatus(r) != PGRES_TUPLES_OK) {
        char err[512];
        int lost = PQstatus(db) == CONNECTION_BAD;

        wlog(WLOG_ERROR, "taking alerts failed", "err=%s",
             r ? PQresultErrorMessage(r) : db_error(db, err, sizeof err));
        PQclear(r);
        return lost ? -1 : 0;
    }
    if (PQntuples(r) == 1) {
        if ((s = sent_for(a, PQgetvalue(r, 0, 0), 1)) != NULL)
            s->at = now;
        spawn(a, cfg, r, now);
        /* More queues may have alerts: look again when this one is done. */
        a->kicked = 1;
    }
    PQclear(r);
    return 0;
}

int
alerts_reaped(alerts *a, pid_t pid, int status)
{
    if (a->pid == 0 || pid != a->pid)
        return 0;
    a->pid = 0;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        wlog(WLOG_INFO, "alert command done", "queue=%s", a->queue);
    else if (WIFEXITED(status))
        wlog(WLOG_ERROR, "alert command failed", "queue=%s exit=%d", a->queue,
             WEXITSTATUS(status));
    else
        wlog(WLOG_ERROR, "alert command killed", "queue=%s signal=%d", a->queue,
             WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    return 1;
}

void
alerts_timeouts(alerts *a, double now, int force)
{
    if (a->pid != 0 && (force || now >= a->deadline)) {
        if (!force)
            wlog(WLOG_ERROR, "alert command timed out", "queue=%s pid=%ld",
                 a->queue, (long)a->pid);
        kill(-a->pid, SIGKILL);
        kill(a->pid, SIGKILL);
        a->deadline = now + 3600; /* reaped by the supervisor */
    }
}
