/*
 * cli_topic.c - `txq topic create|subscribe|unsubscribe|route|unroute|list
 * |drop`: publish/subscribe (fanout topics with filtered subscriptions) and
 * routing (route topics with ordered rules and a default queue). Every
 * change goes through libtxq; list reads the topic tables.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char topic_usage[] =
    "usage: txq topic create NAME [--route] [--default-queue Q]\n"
    "       txq topic subscribe TOPIC QUEUE [--filter JSON]\n"
    "       txq topic unsubscribe TOPIC QUEUE\n"
    "       txq topic route TOPIC --filter JSON QUEUE [--position N]\n"
    "       txq topic unroute TOPIC POSITION\n"
    "       txq topic list [--json]\n"
    "       txq topic drop NAME\n"
    "\n"
    "A fanout topic (the default) puts a copy of each published message in\n"
    "every subscribed queue whose filter the message's headers contain\n"
    "(JSON containment: --filter '{\"type\":\"order\"}' takes messages with\n"
    "--header type=order); without --filter a subscription takes all.\n"
    "A --route topic puts each message in exactly one queue: the first rule\n"
    "(lowest --position; default: after the last rule) whose filter the\n"
    "headers contain, else --default-queue, else publish fails and nothing\n"
    "is written. --filter '{}' matches every message. Topic names: 1 to 63\n"
    "characters a-z, 0-9, _ and ., starting with a letter.\n";

/* clang-format off */
#define LIST_SQL(bindings) \
    "select t.name, t.mode, dq.name as default_queue, " bindings \
    ", t.unmatched from @s@.topics t left join @s@.queues dq" \
    " on dq.queue_id = t.default_queue_id order by t.name"

#define BINDINGS_TEXT \
    "case t.mode when 'fanout' then (select string_agg(q.name ||" \
    " coalesce(' ' || s.filter::text, ''), ', ' order by q.name)" \
    " from @s@.subscriptions s join @s@.queues q using (queue_id)" \
    " where s.topic_id = t.topic_id) else (select string_agg(" \
    "r.position || ': ' || r.filter::text || ' -> ' || q.name, ', '" \
    " order by r.position) from @s@.routes r join @s@.queues q" \
    " using (queue_id) where r.topic_id = t.topic_id) end as bindings"

#define BINDINGS_JSON \
    "(select coalesce(jsonb_agg(jsonb_build_object('queue', q.name," \
    " 'filter', s.filter) order by q.name), '[]') from @s@.subscriptions s" \
    " join @s@.queues q using (queue_id) where s.topic_id = t.topic_id)" \
    " as subscriptions, (select coalesce(jsonb_agg(jsonb_build_object(" \
    "'position', r.position, 'filter', r.filter, 'queue', q.name)" \
    " order by r.position), '[]') from @s@.routes r join @s@.queues q" \
    " using (queue_id) where r.topic_id = t.topic_id) as routes"
/* clang-format on */

enum { O_ROUTE = 1000, O_DEFAULT, O_FILTER, O_POSITION, O_JSON };

/* Options of every sub-command; each accepts the ones it names. */
struct args {
    int route;
    const char *default_queue;
    const char *filter;
    int64_t position;
    int json;
    int npos;
    char *pos[3];
};

/* Parse argv (argv[0] is the sub-command) into a; allowed lists the
 * option codes sub accepts. */
static int
parse(
    const char *sub, int argc, char **argv, const int *allowed, struct args *a)
{
    static const struct option longopts[] = {
        {"route", no_argument, NULL, O_ROUTE},
        {"default-queue", required_argument, NULL, O_DEFAULT},
        {"filter", required_argument, NULL, O_FILTER},
        {"position", required_argument, NULL, O_POSITION},
        {"json", no_argument, NULL, O_JSON},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int opt, rc, idx = -1;

    memset(a, 0, sizeof *a);
    a->position = -1;
    cli_getopt_reset();
    while ((opt = getopt_long(argc, argv, ":h", longopts, &idx)) != -1) {
        int ok = 0;

        if (opt == 'h') {
            fputs(topic_usage, stdout);
            return -1;
        }
        if (opt == ':')
            return cli_usage_error("topic", "%s needs a value",
                                   argv[optind - 1]);
        for (const int *p = allowed; *p != 0; p++)
            ok |= *p == opt;
        if (!ok && idx >= 0)
            return cli_usage_error("topic", "unknown option \"--%s\" for %s",
                                   longopts[idx].name, sub);
        if (!ok)
            return cli_usage_error("topic", "unknown option \"%s\" for %s",
                                   argv[optind - 1], sub);
        idx = -1;
        switch (opt) {
        case O_ROUTE:
            a->route = 1;
            break;
        case O_DEFAULT:
            rc = cli_check_queue_name(optarg);
            if (rc != CLI_OK)
                return rc;
            a->default_queue = optarg;
            break;
        case O_FILTER:
            a->filter = optarg;
            break;
        case O_POSITION:
            rc = cli_parse_int("--position", optarg, 0, 1000000, &a->position);
            if (rc != CLI_OK)
                return rc;
            break;
        default:
            a->json = 1;
        }
    }
    for (; optind < argc; optind++) {
        if (a->npos == 3)
            return cli_usage_error("topic", "too many arguments for %s", sub);
        a->pos[a->npos++] = argv[optind];
    }
    return CLI_OK;
}

/* Check that a has exactly n positional arguments named by what. */
static int
want_args(const char *sub, const struct args *a, int n, const char *what)
{
    if (a->npos != n)
        return cli_usage_error("topic", "%s takes %s", sub, what);
    return CLI_OK;
}

static int
cmd_create(cli *ctx, int argc, char **argv)
{
    static const int allowed[] = {O_ROUTE, O_DEFAULT, 0};
    struct args a;
    txq_err err;
    int rc = parse("create", argc, argv, allowed, &a);

    if (rc != CLI_OK)
        return rc < 0 ? CLI_OK : rc;
    if ((rc = want_args("create", &a, 1, "one topic NAME")) ||
        (rc = cli_check_topic_name(a.pos[0])))
        return rc;
    if (a.default_queue != NULL && !a.route)
        return cli_usage_error("topic", "--default-queue needs --route");
    if ((rc = cli_connect(ctx, 1)))
        return rc;
    err = txq_topic_create(
        ctx->c, ctx->pg, a.pos[0],
        TXQ_TOPIC_OPTS(.route = a.route, .default_queue = a.default_queue));
    if (err != TXQ_OK)
        return cli_txq_fail(ctx, err, "topic create");
    printf("topic %s created (%s)\n", a.pos[0], a.route ? "route" : "fanout");
    return CLI_OK;
}

static int
cmd_subscribe(cli *ctx, int argc, char **argv, int unsubscribe)
{
    static const int allowed[] = {O_FILTER, 0};
    static const int none[] = {0};
    const char *sub = unsubscribe ? "unsubscribe" : "subscribe";
    struct args a;
    txq_err err;
    int rc = parse(sub, argc, argv, unsubscribe ? none : allowed, &a);

    if (rc != CLI_OK)
        return rc < 0 ? CLI_OK : rc;
    if ((rc = want_args(sub, &a, 2, "TOPIC QUEUE")) ||
        (rc = cli_check_topic_name(a.pos[0])) ||
        (rc = cli_check_queue_name(a.pos[1])) || (rc = cli_connect(ctx, 1)))
        return rc;
    if (unsubscribe)
        err = txq_unsubscribe(ctx->c, ctx->pg, a.pos[0], a.pos[1]);
    else
        err = txq_subscribe(ctx->c, ctx->pg, a.pos[0], a.pos[1], a.filter);
    if (err != TXQ_OK)
        return cli_txq_fail(
            ctx, err, unsubscribe ? "topic unsubscribe" : "topic subscribe");
    printf("queue %s %s topic %s\n", a.pos[1],
           unsubscribe ? "unsubscribed from" : "subscribed to", a.pos[0]);
    return CLI_OK;
}

static int
cmd_route(cli *ctx, int argc, char **argv)
{
    static const int allowed[] = {O_FILTER, O_POSITION, 0};
    struct args a;
    txq_err err;
    int pos = 0;
    int rc = parse("route", argc, argv, allowed, &a);

    if (rc != CLI_OK)
        return rc < 0 ? CLI_OK : rc;
    if ((rc = want_args("route", &a, 2, "TOPIC --filter JSON QUEUE")) ||
        (rc = cli_check_topic_name(a.pos[0])) ||
        (rc = cli_check_queue_name(a.pos[1])))
        return rc;
    if (a.filter == NULL)
        return cli_usage_error("topic",
                               "route needs --filter JSON ('{}' matches "
                               "every message)");
    if ((rc = cli_connect(ctx, 1)))
        return rc;
    err =
        txq_route_add(ctx->c, ctx->pg, a.pos[0], a.filter, a.pos[1],
                      a.position < 0 ? TXQ_ROUTE_LAST : (int)a.position, &pos);
    if (err != TXQ_OK)
        return cli_txq_fail(ctx, err, "topic route");
    printf("route %d of topic %s: %s -> %s\n", pos, a.pos[0], a.filter,
           a.pos[1]);
    return CLI_OK;
}

static int
cmd_unroute(cli *ctx, int argc, char **argv)
{
    static const int none[] = {0};
    struct args a;
    int64_t pos;
    txq_err err;
    int rc = parse("unroute", argc, argv, none, &a);

    if (rc != CLI_OK)
        return rc < 0 ? CLI_OK : rc;
    if ((rc = want_args("unroute", &a, 2, "TOPIC POSITION")) ||
        (rc = cli_check_topic_name(a.pos[0])) ||
        (rc = cli_parse_int("POSITION", a.pos[1], 0, 1000000, &pos)) ||
        (rc = cli_connect(ctx, 1)))
        return rc;
    err = txq_route_remove(ctx->c, ctx->pg, a.pos[0], (int)pos);
    if (err != TXQ_OK)
        return cli_txq_fail(ctx, err, "topic unroute");
    printf("route %d of topic %s removed\n", (int)pos, a.pos[0]);
    return CLI_OK;
}

static int
cmd_list(cli *ctx, int argc, char **argv)
{
    static const int allowed[] = {O_JSON, 0};
    struct args a;
    PGresult *res;
    int rc = parse("list", argc, argv, allowed, &a);

    if (rc != CLI_OK)
        return rc < 0 ? CLI_OK : rc;
    if ((rc = want_args("list", &a, 0, "no arguments")) ||
        (rc = cli_connect(ctx, 1)))
        return rc;
    res = cli_query(ctx, "topic list",
                    a.json ? LIST_SQL(BINDINGS_JSON) : LIST_SQL(BINDINGS_TEXT),
                    0, NULL);
    if (res == NULL)
        return CLI_ERR;
    rc = cli_print_result(res, a.json, 0);
    PQclear(res);
    return rc;
}

static int
cmd_drop(cli *ctx, int argc, char **argv)
{
    static const int none[] = {0};
    struct args a;
    txq_err err;
    int rc = parse("drop", argc, argv, none, &a);

    if (rc != CLI_OK)
        return rc < 0 ? CLI_OK : rc;
    if ((rc = want_args("drop", &a, 1, "one topic NAME")) ||
        (rc = cli_check_topic_name(a.pos[0])) || (rc = cli_connect(ctx, 1)))
        return rc;
    err = txq_topic_drop(ctx->c, ctx->pg, a.pos[0]);
    if (err != TXQ_OK)
        return cli_txq_fail(ctx, err, "topic drop");
    printf("topic %s dropped\n", a.pos[0]);
    return CLI_OK;
}

int
cli_cmd_topic(cli *ctx, int argc, char **argv)
{
    const char *sub = argc > 1 ? argv[1] : "";

    if (strcmp(sub, "create") == 0)
        return cmd_create(ctx, argc - 1, argv + 1);
    if (strcmp(sub, "subscribe") == 0)
        return cmd_subscribe(ctx, argc - 1, argv + 1, 0);
    if (strcmp(sub, "unsubscribe") == 0)
        return cmd_subscribe(ctx, argc - 1, argv + 1, 1);
    if (strcmp(sub, "route") == 0)
        return cmd_route(ctx, argc - 1, argv + 1);
    if (strcmp(sub, "unroute") == 0)
        return cmd_unroute(ctx, argc - 1, argv + 1);
    if (strcmp(sub, "list") == 0)
        return cmd_list(ctx, argc - 1, argv + 1);
    if (strcmp(sub, "drop") == 0)
        return cmd_drop(ctx, argc - 1, argv + 1);
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0) {
        fputs(topic_usage, stdout);
        return CLI_OK;
    }
    if (sub[0] == '\0')
        return cli_usage_error("topic", "missing sub-command: create, "
                                        "subscribe, unsubscribe, route, "
                                        "unroute, list or drop");
    return cli_usage_error("topic", "unknown sub-command \"%.100s\"", sub);
}
