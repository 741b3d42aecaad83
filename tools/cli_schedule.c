/*
 * cli_schedule.c - `txq schedule list|add|remove`: periodic messages
 * (txq.schedule, txq.unschedule, the schedules view). maintain(), which
 * txq-worker runs, sends each tick once.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char schedule_usage[] =
    "usage: txq schedule list [--json]\n"
    "       txq schedule add NAME --cron EXPR --queue Q [--body B | -]\n"
    "                    [--headers JSON] [--tz ZONE] [--catch-up]\n"
    "       txq schedule remove NAME\n"
    "\n"
    "A schedule sends its body (default empty; - reads standard input) with\n"
    "its headers to QUEUE on every tick of a standard five-field cron\n"
    "expression (minute hour day-of-month month day-of-week; or @hourly,\n"
    "@daily, @weekly, @monthly, @yearly), read on the wall clock of ZONE\n"
    "(default UTC). Whichever txq-worker's maintenance gets there first\n"
    "sends the tick, exactly once. Ticks missed while no maintenance ran\n"
    "are skipped, unless --catch-up. add replaces a schedule of the same\n"
    "name and prints its next tick. Needs operate on QUEUE.\n";

static const char list_sql[] =
    "select name, cron, time_zone, queue, catch_up, next_run, last_run,"
    " runs, skipped from @s@.schedules order by name";

enum { O_CRON = 1000, O_QUEUE, O_BODY, O_HEADERS, O_TZ, O_CATCH_UP, O_JSON };

static int
schedule_list(cli *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"json", no_argument, NULL, O_JSON}, {NULL, 0, NULL, 0}};
    PGresult *res;
    int opt, json = 0, rc;

    cli_getopt_reset();
    while ((opt = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
        if (opt != O_JSON)
            return cli_usage_error("schedule", "unknown option \"%s\"",
                                   argv[optind - 1]);
        json = 1;
    }
    if (optind < argc)
        return cli_usage_error("schedule", "unexpected argument \"%s\"",
                               argv[optind]);
    if ((rc = cli_connect(ctx, 1)) != CLI_OK)
        return rc;
    res = cli_query(ctx, "schedule list", list_sql, 0, NULL);
    if (res == NULL)
        return CLI_ERR;
    if (!json && PQntuples(res) == 0) {
        fputs("no schedules (add one with `txq schedule add`)\n", stdout);
        rc = CLI_OK;
    } else {
        rc = cli_print_result(res, json, 0);
    }
    PQclear(res);
    return rc;
}

static int
schedule_add(cli *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"cron", required_argument, NULL, O_CRON},
        {"queue", required_argument, NULL, O_QUEUE},
        {"body", required_argument, NULL, O_BODY},
        {"headers", required_argument, NULL, O_HEADERS},
        {"tz", required_argument, NULL, O_TZ},
        {"catch-up", no_argument, NULL, O_CATCH_UP},
        {NULL, 0, NULL, 0}};
    const char *cron = NULL, *queue = NULL, *body = "", *headers = NULL;
    const char *tz = NULL, *params[7];
    char *in = NULL;
    size_t inlen = 0;
    int opt, rc, catch_up = 0;
    PGresult *res;

    cli_getopt_reset();
    while ((opt = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
        switch (opt) {
        case O_CRON:
            cron = optarg;
            break;
        case O_QUEUE:
            queue = optarg;
            break;
        case O_BODY:
            body = optarg;
            break;
        case O_HEADERS:
            headers = optarg;
            break;
        case O_TZ:
            tz = optarg;
            break;
        case O_CATCH_UP:
            catch_up = 1;
            break;
        case ':':
            return cli_usage_error("schedule", "%s needs a value",
                                   argv[optind - 1]);
        default:
            return cli_usage_error("schedule", "unknown option \"%s\"",
                                   argv[optind - 1]);
        }
    }
    if (argc - optind != 1)
        return cli_usage_error("schedule", "add expects one NAME");
    if (cron == NULL)
        return cli_usage_error("schedule", "add needs --cron EXPR");
    if (queue == NULL)
        return cli_usage_error("schedule", "add needs --queue Q");
    if ((rc = cli_check_queue_name(queue)) != CLI_OK)
        return rc;
    if (strcmp(body, "-") == 0) {
        if ((rc = cli_read_stdin(&in, &inlen)) != CLI_OK)
            return rc;
        if (!cli_utf8_valid(in != NULL ? in : "", inlen, 1)) {
            free(in);
            return cli_fail(CLI_USAGE, "schedule: the body must be UTF-8 text");
        }
        body = in != NULL ? in : "";
    }
    if ((rc = cli_connect(ctx, 1)) != CLI_OK) {
        free(in);
        return rc;
    }
    params[0] = argv[optind];
    params[1] = cron;
    params[2] = queue;
    params[3] = body;
    params[4] = headers;
    params[5] = tz;
    params[6] = catch_up ? "true" : NULL;
    res = cli_query(ctx, "schedule add",
                    "select @s@.schedule($1, $2, $3,"
                    " convert_to($4, 'UTF8'), $5::jsonb, $6, $7::boolean)",
                    7, params);
    free(in);
    if (res == NULL)
        return CLI_ERR;
    printf("%s: next %s\n", argv[optind], PQgetvalue(res, 0, 0));
    PQclear(res);
    return CLI_OK;
}

static int
schedule_remove(cli *ctx, int argc, char **argv)
{
    const char *params[1];
    PGresult *res;
    int rc, found;

    if (argc != 2)
        return cli_usage_error("schedule", "remove expects one NAME");
    if ((rc = cli_connect(ctx, 1)) != CLI_OK)
        return rc;
    params[0] = argv[1];
    res = cli_query(ctx, "schedule remove", "select @s@.unschedule($1)::int", 1,
                    params);
    if (res == NULL)
        return CLI_ERR;
    found = strcmp(PQgetvalue(res, 0, 0), "1") == 0;
    PQclear(res);
    if (!found)
        return cli_fail(CLI_ERR, "no schedule \"%s\"", argv[1]);
    printf("%s removed\n", argv[1]);
    return CLI_OK;
}

int
cli_cmd_schedule(cli *ctx, int argc, char **argv)
{
    const char *sub = argc > 1 ? argv[1] : "";

    if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0) {
        fputs(schedule_usage, stdout);
        return CLI_OK;
    }
    if (strcmp(sub, "list") == 0)
        return schedule_list(ctx, argc - 1, argv + 1);
    if (strcmp(sub, "add") == 0)
        return schedule_add(ctx, argc - 1, argv + 1);
    if (strcmp(sub, "remove") == 0)
        return schedule_remove(ctx, argc - 1, argv + 1);
    return cli_usage_error("schedule", "expected list, add or remove");
}
