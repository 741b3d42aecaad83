/*
 * cli_stats.c - `txq stats`: the queue_stats view as a table or JSON lines,
 * once or refreshed every few seconds until interrupted.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static const char stats_usage[] =
    "usage: txq stats [--json] [--watch [S]]\n"
    "\n"
    "One row per queue from the queue_stats view: depth (ready + delayed +\n"
    "in_flight + retrying), dead letters, the age in seconds of the oldest\n"
    "ready message, the outcomes counted since the queue was created, and\n"
    "whether it is paused. Above about 100,000 queued messages the counts\n"
    "come from a sample of the storage and estimated is true.\n"
    "\n"
    "  --json       one JSON object per queue and line\n"
    "  --watch [S]  refresh every S seconds (default 2) until interrupted\n";

static const char stats_sql[] =
    "select queue, kind, depth, ready, delayed, in_flight, retrying, dead,"
    " round(extract(epoch from oldest_ready_age)::numeric, 3)"
    " as oldest_ready_s,"
    " acked, retried, dead_lettered, ignored, expired, requeued, discarded,"
    " paused, estimated from @s@.queue_stats order by queue";

static volatile sig_atomic_t interrupted;

static void
on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

/* Sleep up to seconds, returning early once interrupted. */
static void
nap(double seconds)
{
    while (seconds > 0 && !interrupted) {
        double step = seconds < 0.1 ? seconds : 0.1;
        struct timespec ts;

        ts.tv_sec = 0;
        ts.tv_nsec = (long)(step * 1e9);
        nanosleep(&ts, NULL);
        seconds -= step;
    }
}

static int
show(cli *ctx, int json, int watching, double every)
{
    PGresult *res = cli_query(ctx, "stats", stats_sql, 0, NULL);
    char stamp[32] = "";
    time_t now = time(NULL);
    struct tm tm;
    int rc;

    if (res == NULL)
        return CLI_ERR;
    if (watching && !json) {
        if (localtime_r(&now, &tm) != NULL)
            strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &tm);
        /* On a terminal, redraw in place; in a pipe, append. */
        if (isatty(STDOUT_FILENO))
            fputs("\033[H\033[2J", stdout);
        else
            fputs("\n", stdout);
        printf("txq stats  %s  (every %gs, Ctrl-C to stop)\n\n", stamp, every);
    }
    if (!json && PQntuples(res) == 0) {
        fputs("no queues (create one with `txq queue create NAME`)\n", stdout);
        rc = CLI_OK;
    } else {
        rc = cli_print_result(res, json, 0);
    }
    PQclear(res);
    if (rc == CLI_OK && fflush(stdout) != 0)
        return cli_fail(CLI_ERR, "cannot write output");
    return rc;
}

int
cli_cmd_stats(cli *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"json", no_argument, NULL, 'j'},
        {"watch", optional_argument, NULL, 'w'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    struct sigaction sa;
    double every = 2;
    int opt, json = 0, watch = 0, rc;

    cli_getopt_reset();
    while ((opt = getopt_long(argc, argv, ":jh", longopts, NULL)) != -1) {
        switch (opt) {
        case 'h':
            fputs(stats_usage, stdout);
            return CLI_OK;
        case 'j':
            json = 1;
            break;
        case 'w':
            watch = 1;
            /* Accept both --watch=S and --watch S. */
            if (optarg == NULL && optind < argc && argv[optind][0] >= '0' &&
                argv[optind][0] <= '9')
                optarg = argv[optind++];
            if (optarg != NULL) {
                rc = cli_parse_double("--watch", optarg, 0.1, 86400, &every);
                if (rc != CLI_OK)
                    return rc;
            }
            break;
        default:
            return cli_usage_error("stats", "unknown option \"%s\"",
                                   argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage_error("stats", "unexpected argument \"%s\"",
                               argv[optind]);
    rc = cli_connect(ctx, 1);
    if (rc != CLI_OK || !watch)
        return rc != CLI_OK ? rc : show(ctx, json, 0, every);

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGINT, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0)
        return cli_fail(CLI_ERR, "cannot catch SIGINT and SIGTERM: %s",
                        strerror(errno));
    while (!interrupted) {
        rc = show(ctx, json, 1, every);
        if (rc != CLI_OK)
            return rc;
        nap(every);
    }
    return CLI_OK;
}
