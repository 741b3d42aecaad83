/*
 * cli_pause.c - `txq pause QUEUE [--reason R]` and `txq resume QUEUE
 * [--reason R]`: an operator stops a queue's deliveries and starts them
 * again (txq.pause, txq.resume), audited. Sends go on while it is paused.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char pause_usage[] =
    "usage: txq pause QUEUE [--reason R]\n"
    "\n"
    "Stop delivering QUEUE's messages: receive, take, pop and txq-worker\n"
    "get none until `txq resume QUEUE`; sends go on, and messages already\n"
    "in flight finish as usual. Audited, with the reason when given. Needs\n"
    "operate on QUEUE.\n";

static const char resume_usage[] =
    "usage: txq resume QUEUE [--reason R]\n"
    "\n"
    "Deliver a paused QUEUE's messages again; its waiting consumers are\n"
    "woken. Audited. Needs operate on QUEUE.\n";

/* txq pause|resume: fn is "pause" or "resume". */
static int
toggle(cli *ctx, const char *fn, const char *usage, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"reason", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *params[2] = {NULL, NULL};
    char sql[64];
    PGresult *res;
    int opt, rc, changed;

    cli_getopt_reset();
    while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        if (opt == 'h') {
            fputs(usage, stdout);
            return CLI_OK;
        }
        if (opt == ':')
            return cli_usage_error(fn, "%s needs a value", argv[optind - 1]);
        if (opt != 'r')
            return cli_usage_error(fn, "unknown option \"%s\"",
                                   argv[optind - 1]);
        params[1] = optarg;
    }
    if (argc - optind != 1)
        return cli_usage_error(fn, "expected one QUEUE");
    if ((rc = cli_check_queue_name(argv[optind])) != CLI_OK)
        return rc;
    params[0] = argv[optind];
    if ((rc = cli_connect(ctx, 1)) != CLI_OK)
        return rc;
    snprintf(sql, sizeof sql, "select @s@.%s($1, $2)::int", fn);
    res = cli_query(ctx, fn, sql, 2, params);
    if (res == NULL)
        return CLI_ERR;
    changed = strcmp(PQgetvalue(res, 0, 0), "1") == 0;
    PQclear(res);
    if (strcmp(fn, "pause") == 0)
        printf("%s %s\n", params[0], changed ? "paused" : "was paused already");
    else
        printf("%s %s\n", params[0], changed ? "resumed" : "was not paused");
    return CLI_OK;
}

int
cli_cmd_pause(cli *ctx, int argc, char **argv)
{
    return toggle(ctx, "pause", pause_usage, argc, argv);
}

int
cli_cmd_resume(cli *ctx, int argc, char **argv)
{
    return toggle(ctx, "resume", resume_usage, argc, argv);
}
