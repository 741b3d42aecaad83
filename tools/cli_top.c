/*
 * cli_top.c - `txq top`: a live view of every queue, redrawn every second
 * (or --interval S): depth, ready, in flight, the oldest ready message's
 * age and the dead letters, with rates per second of messages sent, acked
 * and failed between two refreshes. q or Ctrl-C quits.
 *
 * The rates come from queue_stats alone (its cost does not grow with the
 * backlog): acked and failed (retried + dead-lettered) from the outcome
 * counters; sent from the balance of a queue, what it holds now minus
 * what it held, plus what left it (acked, dead-lettered, ignored,
 * expired, discarded) and minus what came back (requeued).
 */
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static const char top_usage[] =
    "usage: txq top [--interval S] [--count N]\n"
    "\n"
    "A live view of every queue you may monitor, redrawn every S seconds\n"
    "(default 1): depth, ready, in flight, the age of the oldest ready\n"
    "message, dead letters, and per second: sent, acked, failed (retried\n"
    "or dead-lettered). A paused queue is marked. q or Ctrl-C quits;\n"
    "--count N stops after N refreshes. Depths above about 100,000 are\n"
    "estimates (marked ~).\n";

static const char top_sql[] =
    "select queue, paused, estimated, depth, ready, in_flight, dead,"
    " coalesce(extract(epoch from oldest_ready_age), 0)::float8,"
    " acked, retried + dead_lettered,"
    " acked + dead_lettered + ignored + expired + discarded - requeued"
    " from @s@.queue_stats order by queue";

/* What one refresh read of a queue. */
struct row {
    char name[CLI_QUEUE_NAME_MAX];
    long long depth, acked, failed, left;
};

struct snap {
    struct row *rows;
    int n;
    double at; /* monotonic seconds */
};

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static double
mono(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long long
num(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? 0 : atoll(PQgetvalue(r, row, col));
}

static const struct row *
find(const struct snap *s, const char *name)
{
    for (int i = 0; s != NULL && i < s->n; i++)
        if (strcmp(s->rows[i].name, name) == 0)
            return &s->rows[i];
    return NULL;
}

/* "1.2k/s"-style rate into buf; "-" before a second reading. */
static const char *
rate(char *buf,
     size_t size,
     const struct row *was,
     long long now,
     long long then,
     double dt)
{
    double v;

    if (was == NULL || dt <= 0) {
        snprintf(buf, size, "-");
        return buf;
    }
    v = (double)(now - then) / dt;
    if (v < 0)
        v = 0;
    if (v >= 10000)
        snprintf(buf, size, "%.1fk", v / 1000);
    else
        snprintf(buf, size, "%.1f", v);
    return buf;
}

static const char *
age(char *buf, size_t size, double s)
{
    if (s < 60)
        snprintf(buf, size, "%.1fs", s);
    else if (s < 3600)
        snprintf(buf, size, "%ldm%02lds", (long)s / 60, (long)s % 60);
    else
        snprintf(buf, size, "%.1fh", s / 3600);
    return buf;
}

/* One refresh: query, draw, and the new snapshot into *now. */
static int
refresh(cli *ctx, const struct snap *was, struct snap *now, int tty)
{
    PGresult *res = cli_query(ctx, "top", top_sql, 0, NULL);
    char stamp[32] = "", b1[32], b2[32], b3[32], b4[32];
    time_t t = time(NULL);
    struct tm tm;
    double dt;
    long long tot_depth = 0;

    if (res == NULL)
        return CLI_ERR;
    now->at = mono();
    now->n = PQntuples(res);
    now->rows = calloc(now->n > 0 ? (size_t)now->n : 1, sizeof *now->rows);
    if (now->rows == NULL) {
        PQclear(res);
        return cli_fail(CLI_ERR, "out of memory");
    }
    dt = was != NULL ? now->at - was->at : 0;
    if (localtime_r(&t, &tm) != NULL)
        strftime(stamp, sizeof stamp, "%H:%M:%S", &tm);
    if (tty)
        fputs("\033[H\033[2J", stdout);
    for (int i = 0; i < now->n; i++)
        tot_depth += num(res, i, 3);
    printf("txq top  %s  schema %s  %d queue%s  %lld queued   (q quits)\n\n",
           stamp, ctx->schema, now->n, now->n == 1 ? "" : "s", tot_depth);
    printf("%-24s %-6s %10s %10s %9s %9s %7s %9s %9s %9s\n", "QUEUE", "STATE",
           "DEPTH", "READY", "IN_FLIGHT", "OLDEST", "DEAD", "SENT/s", "ACKED/s",
           "FAILED/s");
    for (int i = 0; i < now->n; i++) {
        struct row *r = &now->rows[i];
        const struct row *p;
        int est = strcmp(PQgetvalue(res, i, 2), "t") == 0;
        char depth[24];

        snprintf(r->name, sizeof r->name, "%s", PQgetvalue(res, i, 0));
        r->depth = num(res, i, 3);
        r->acked = num(res, i, 8);
        r->failed = num(res, i, 9);
        r->left = num(res, i, 10);
        p = find(was, r->name);
        snprintf(depth, sizeof depth, "%s%lld", est ? "~" : "", r->depth);
        printf(
            "%-24.24s %-6s %10s %10lld %9lld %9s %7lld %9s %9s %9s\n", r->name,
            strcmp(PQgetvalue(res, i, 1), "t") == 0 ? "paused" : "", depth,
            num(res, i, 4), num(res, i, 5),
            age(b1, sizeof b1, atof(PQgetvalue(res, i, 7))), num(res, i, 6),
            rate(b2, sizeof b2, p, r->depth + r->left,
                 p != NULL ? p->depth + p->left : 0, dt),
            rate(b3, sizeof b3, p, r->acked, p != NULL ? p->acked : 0, dt),
            rate(b4, sizeof b4, p, r->failed, p != NULL ? p->failed : 0, dt));
    }
    if (now->n == 0)
        puts("(no queues you may monitor)");
    PQclear(res);
    if (fflush(stdout) != 0)
        return cli_fail(CLI_ERR, "cannot write output");
    return CLI_OK;
}

int
cli_cmd_top(cli *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"interval", required_argument, NULL, 'i'},
        {"count", required_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    struct snap a = {0}, b = {0}, *was = NULL, *now = &a;
    struct termios saved, raw;
    struct sigaction sa;
    double every = 1;
    int64_t count = 0;
    int opt, rc, tty = isatty(STDOUT_FILENO), keys = isatty(STDIN_FILENO);
    int raw_on = 0;

    cli_getopt_reset();
    while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'h':
            fputs(top_usage, stdout);
            return CLI_OK;
        case 'i':
            if ((rc = cli_parse_double("--interval", optarg, 0.1, 3600,
                                       &every)) != CLI_OK)
                return rc;
            break;
        case 'n':
            if ((rc = cli_parse_int("--count", optarg, 1, 1000000000,
                                    &count)) != CLI_OK)
                return rc;
            break;
        case ':':
            return cli_usage_error("top", "%s needs a value", argv[optind - 1]);
        default:
            return cli_usage_error("top", "unknown option \"%s\"",
                                   argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage_error("top", "unexpected argument \"%s\"",
                               argv[optind]);
    if ((rc = cli_connect(ctx, 1)) != CLI_OK)
        return rc;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGINT, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0)
        return cli_fail(CLI_ERR, "top: cannot set signal handlers");
    /* Keys one at a time, unechoed: q quits without Enter. */
    if (keys && tcgetattr(STDIN_FILENO, &saved) == 0) {
        raw = saved;
        raw.c_lflag &= (tcflag_t) ~(ICANON | ECHO);
        raw.c_cc[VMIN] = 0;
        raw.c_cc[VTIME] = 0;
        raw_on = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
    }
    for (int64_t n = 0; !stop;) {
        double until;

        rc = refresh(ctx, was, now, tty);
        if (was != NULL)
            free(was->rows);
        if (rc != CLI_OK)
            break;
        was = now;
        now = now == &a ? &b : &a;
        if (count > 0 && ++n >= count)
            break;
        until = mono() + every;
        while (!stop && mono() < until) {
            struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
            int ms = (int)((until - mono()) * 1000) + 1;

            if (keys && poll(&pfd, 1, ms) > 0) {
                char c;
                ssize_t got = read(STDIN_FILENO, &c, 1);

                if (got == 1 && (c == 'q' || c == 'Q'))
                    stop = 1;
                else if (got == 0)
                    keys = 0; /* end of input: no more keys to wait for */
            } else if (!keys) {
                struct timespec ts = {0, 50 * 1000 * 1000};

                nanosleep(&ts, NULL);
            }
        }
    }
    if (was != NULL)
        free(was->rows);
    if (raw_on)
        tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    return rc;
}
