/*
 * cli_remove.c - `txq purge QUEUE --reason R` and `txq cancel ID...
 * --reason R`: an operator takes messages out of a queue (txq.purge,
 * txq.cancel), audited, with the reason required.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char purge_usage[] =
    "usage: txq purge QUEUE --reason R\n"
    "\n"
    "Delete every message of QUEUE, ready, delayed, retrying or in flight\n"
    "(a holder's later ack finds nothing); its settings and dead letters\n"
    "stay. The reason goes to the audit log; the messages count as\n"
    "discarded. Needs operate on QUEUE. Prints how many were deleted.\n";

static const char cancel_usage[] =
    "usage: txq cancel ID... --reason R\n"
    "\n"
    "Take the messages with these ids out of their queues, whatever their\n"
    "state (a holder's later ack finds nothing); ids in no queue are\n"
    "skipped. Each gets an audit-log row with the reason and counts as\n"
    "discarded. Needs operate on their queues. Prints how many were\n"
    "cancelled. Dead letters are not messages: `txq dead discard`.\n";

/* --reason R and --help; the reason into *reason. Returns -1 to go on,
 * else an exit code. */
static int
parse_reason(const char *cmd,
             const char *usage,
             int argc,
             char **argv,
             const char **reason)
{
    static const struct option longopts[] = {
        {"reason", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int opt;

    cli_getopt_reset();
    while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        if (opt == 'h') {
            fputs(usage, stdout);
            return CLI_OK;
        }
        if (opt == ':')
            return cli_usage_error(cmd, "%s needs a value", argv[optind - 1]);
        if (opt != 'r')
            return cli_usage_error(cmd, "unknown option \"%s\"",
                                   argv[optind - 1]);
        *reason = optarg;
    }
    if (*reason == NULL || (*reason)[strspn(*reason, " \t\n")] == '\0')
        return cli_usage_error(cmd, "--reason R is required");
    return -1;
}

/* Run sql (one row, one count) with params; print "N what". */
static int
run_count(cli *ctx,
          const char *cmd,
          const char *sql,
          const char *const *params,
          const char *what)
{
    PGresult *res;
    int rc;

    if ((rc = cli_connect(ctx, 1)) != CLI_OK)
        return rc;
    res = cli_query(ctx, cmd, sql, 2, params);
    if (res == NULL)
        return CLI_ERR;
    printf("%s %s\n", PQgetvalue(res, 0, 0), what);
    PQclear(res);
    return CLI_OK;
}

int
cli_cmd_purge(cli *ctx, int argc, char **argv)
{
    const char *reason = NULL;
    const char *params[2];
    int rc = parse_reason("purge", purge_usage, argc, argv, &reason);

    if (rc >= 0)
        return rc;
    if (argc - optind != 1)
        return cli_usage_error("purge", "expected one QUEUE");
    if ((rc = cli_check_queue_name(argv[optind])) != CLI_OK)
        return rc;
    params[0] = argv[optind];
    params[1] = reason;
    return run_count(ctx, "purge", "select @s@.purge($1, $2)", params,
                     "deleted");
}

int
cli_cmd_cancel(cli *ctx, int argc, char **argv)
{
    const char *reason = NULL;
    const char *params[2];
    cli_buf ids = {0};
    int rc = parse_reason("cancel", cancel_usage, argc, argv, &reason);

    if (rc >= 0)
        return rc;
    if (argc - optind < 1)
        return cli_usage_error("cancel", "expected one or more IDs");
    /* The ids as one array literal of checked integers: a parameter. */
    cli_buf_puts(&ids, "{");
    for (int i = optind; i < argc; i++) {
        int64_t id;

        if ((rc = cli_parse_int("ID", argv[i], 1, INT64_MAX, &id)) != CLI_OK) {
            cli_buf_free(&ids);
            return rc;
        }
        cli_buf_printf(&ids, "%s%" PRId64, i > optind ? "," : "", id);
    }
    cli_buf_puts(&ids, "}");
    params[0] = ids.data;
    params[1] = reason;
    rc = ids.data == NULL || ids.oom
             ? cli_fail(CLI_ERR, "out of memory")
             : run_count(ctx, "cancel", "select @s@.cancel($1::bigint[], $2)",
                         params, "cancelled");
    cli_buf_free(&ids);
    return rc;
}
