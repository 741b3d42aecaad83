/*
 * cli_finish.c - `txq ack`, `txq fail` and `txq extend`: finish or keep a
 * message that `txq recv` claimed, by its id and the attempt recv printed
 * (txq.ack, txq.fail, txq.set_visibility), so a stale holder touches
 * nothing.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char finish_usage[] =
    "usage: txq ack ID --attempt N\n"
    "       txq fail ID --attempt N --error TEXT [--permanent]\n"
    "       txq extend ID --attempt N --seconds S\n"
    "\n"
    "Finish a message `txq recv` claimed (its id and attempts are in the\n"
    "JSON recv printed), only while that attempt still holds it:\n"
    "ack     acknowledge it: it leaves the queue\n"
    "fail    record the error and apply the queue's failure policy (retry\n"
    "        with backoff, or its on_exhausted); --permanent skips retries;\n"
    "        prints the outcome (retry, dead, notified, ignored)\n"
    "extend  keep it invisible S seconds more from now; 0 releases it\n"
    "Exit 1 when the attempt no longer holds it.\n";

struct finish_opts {
    int64_t attempt;
    const char *error;
    int permanent;
    double seconds;
    int has_seconds;
};

static int
parse_opts(const char *cmd, int argc, char **argv, struct finish_opts *o)
{
    static const struct option longopts[] = {
        {"attempt", required_argument, NULL, 'a'},
        {"error", required_argument, NULL, 'e'},
        {"permanent", no_argument, NULL, 'p'},
        {"seconds", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int opt, rc;

    cli_getopt_reset();
    while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        if (opt == 'h') {
            fputs(finish_usage, stdout);
            return CLI_OK;
        }
        if (opt == ':')
            return cli_usage_error(cmd, "%s needs a value", argv[optind - 1]);
        if (opt == 'a') {
            rc = cli_parse_int("--attempt", optarg, 1, INT32_MAX, &o->attempt);
            if (rc != CLI_OK)
                return rc;
        } else if (opt == 'e' && strcmp(cmd, "fail") == 0) {
            o->error = optarg;
        } else if (opt == 'p' && strcmp(cmd, "fail") == 0) {
            o->permanent = 1;
        } else if (opt == 's' && strcmp(cmd, "extend") == 0) {
            rc = cli_parse_double("--seconds", optarg, 0, 43200, &o->seconds);
            if (rc != CLI_OK)
                return rc;
            o->has_seconds = 1;
        } else {
            return cli_usage_error(cmd, "unknown option \"%s\"",
                                   argv[optind - 1]);
        }
    }
    if (argc - optind != 1)
        return cli_usage_error(cmd, "expected one ID");
    if (o->attempt == 0)
        return cli_usage_error(cmd, "--attempt N is required (the attempts "
                                    "recv printed)");
    if (strcmp(cmd, "fail") == 0 && o->error == NULL)
        return cli_usage_error(cmd, "--error TEXT is required");
    if (strcmp(cmd, "extend") == 0 && !o->has_seconds)
        return cli_usage_error(cmd, "--seconds S is required");
    return -1;
}

/* Run the finishing statement; print its one value. */
static int
finish(cli *ctx, int argc, char **argv, const char *cmd)
{
    static const char ack_sql[] =
        "select case when @s@.ack(array[$1::bigint], array[$2::int]) = 1"
        " then 'acked' end";
    static const char fail_sql[] =
        "select @s@.fail($1::bigint, $3, i_attempt => $2::int,"
        " i_permanent => $4::boolean)";
    static const char extend_sql[] =
        "select @s@.set_visibility($1::bigint,"
        " make_interval(secs => $3::float8), i_attempt => $2::int)";
    struct finish_opts o = {0};
    char id[32], attempt[16], num[32];
    const char *params[4];
    int64_t idv;
    PGresult *res;
    int rc = parse_opts(cmd, argc, argv, &o);

    if (rc >= 0)
        return rc;
    if ((rc = cli_parse_int("ID", argv[optind], 1, INT64_MAX, &idv)) != CLI_OK)
        return rc;
    snprintf(id, sizeof id, "%" PRId64, idv);
    snprintf(attempt, sizeof attempt, "%" PRId64, o.attempt);
    if (strcmp(cmd, "extend") == 0)
        snprintf(num, sizeof num, "%.17g", o.seconds);
    else
        snprintf(num, sizeof num, "%s", o.permanent ? "true" : "false");
    params[0] = id;
    params[1] = attempt;
    params[2] = strcmp(cmd, "extend") == 0 ? num : o.error;
    params[3] = num;
    if ((rc = cli_connect(ctx, 1)) != CLI_OK)
        return rc;
    res = cli_query(ctx, cmd,
                    strcmp(cmd, "ack") == 0    ? ack_sql
                    : strcmp(cmd, "fail") == 0 ? fail_sql
                                               : extend_sql,
                    strcmp(cmd, "ack") == 0    ? 2
                    : strcmp(cmd, "fail") == 0 ? 4
                                               : 3,
                    params);
    if (res == NULL)
        return CLI_ERR;
    if (PQgetisnull(res, 0, 0))
        rc = cli_fail(CLI_ERR,
                      "%s: message %s is not held by attempt %s (already "
                      "acked, failed, or claimed again)",
                      cmd, id, attempt);
    else
        printf("%s\n", PQgetvalue(res, 0, 0));
    PQclear(res);
    return rc;
}

int
cli_cmd_ack(cli *ctx, int argc, char **argv)
{
    return finish(ctx, argc, argv, "ack");
}

int
cli_cmd_fail(cli *ctx, int argc, char **argv)
{
    return finish(ctx, argc, argv, "fail");
}

int
cli_cmd_extend(cli *ctx, int argc, char **argv)
{
    return finish(ctx, argc, argv, "extend");
}
