/*
 * cli_dead.c - `txq dead list|show|requeue|discard`: inspect dead letters
 * (the dead_letters view) and resolve them through libtxq.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char dead_usage[] =
    "usage: txq dead list [QUEUE] [--limit N] [--json]\n"
    "       txq dead show ID [--json] [--key-file FILE]\n"
    "       txq dead requeue ID\n"
    "       txq dead requeue --all QUEUE\n"
    "       txq dead discard ID --reason R\n"
    "\n"
    "list   the oldest dead letters first (default limit 100)\n"
    "show   one dead letter in full: error history, headers and body\n"
    "       (of an encrypted queue: opened with the keys of --key-file)\n"
    "requeue  put it back on its queue with a fresh attempt count (edit\n"
    "       body or headers first with a plain UPDATE of txq.dead_letters)\n"
    "discard  delete it for good; the reason goes to the audit log\n";

#define LIST_SQL(ts)                                                      \
    "select id, queue, reason, attempts, " ts " as failed_at, last_error" \
    " from @s@.dead_letters where ($1::text is null or queue = $1)"       \
    " order by failed_at, id limit $2::bigint"

static const char show_sql[] =
    "select id, queue, reason, attempts, failed_at, enqueued_at, priority,"
    " group_key as \"group\", correlation_id, reply_to, headers, last_error,"
    " errors, encrypted, body from @s@.dead_letters where id = $1::bigint";

static const char errors_sql[] =
    "select e->>'attempt' as attempt, e->>'failed_at' as failed_at,"
    " e->>'error' as error"
    " from @s@.dead_letters d, jsonb_array_elements(d.errors) e"
    " where d.id = $1::bigint";

/* Parse a dead-letter id argument into text (for parameters) and *id. */
static int
parse_id(const char *s, int64_t *id, char *text, size_t size)
{
    int rc = cli_parse_int("ID", s, 1, INT64_MAX, id);

    if (rc == CLI_OK)
        snprintf(text, size, "%" PRId64, *id);
    return rc;
}

/* Common option loop for the sub-commands: --json, --limit, --all,
 * --reason, --help. Returns -1 to go on, else an exit code. */
struct dead_opts {
    int json;
    int all;
    int64_t limit;
    const char *reason;
    const char *key_file;
};

static int
parse_opts(int argc, char **argv, const char *allowed, struct dead_opts *o)
{
    static const struct option longopts[] = {
        {"json", no_argument, NULL, 'j'},
        {"limit", required_argument, NULL, 'l'},
        {"all", no_argument, NULL, 'a'},
        {"reason", required_argument, NULL, 'r'},
        {"key-file", required_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int opt, rc;

    o->limit = 100;
    cli_getopt_reset();
    while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        if (opt == 'h') {
            fputs(dead_usage, stdout);
            return CLI_OK;
        }
        if (opt == ':')
            return cli_usage_error("dead", "%s needs a value",
                                   argv[optind - 1]);
        if (opt == '?' || strchr(allowed, opt) == NULL)
            return cli_usage_error("dead", "unknown option \"%s\" for %s",
                                   argv[optind - 1], argv[0]);
        if (opt == 'j')
            o->json = 1;
        else if (opt == 'a')
            o->all = 1;
        else if (opt == 'r')
            o->reason = optarg;
        else if (opt == 'k')
            o->key_file = optarg;
        else if (opt == 'l') {
            rc = cli_parse_int("--limit", optarg, 1, INT64_MAX, &o->limit);
            if (rc != CLI_OK)
                return rc;
        }
    }
    return -1;
}

static int
dead_list(cli *ctx, int argc, char **argv)
{
    struct dead_opts o = {0};
    const char *params[2] = {NULL, NULL};
    char limit[24];
    int rc = parse_opts(argc, argv, "jl", &o);
    PGresult *res;

    if (rc >= 0)
        return rc;
    if (argc - optind > 1)
        return cli_usage_error("dead", "dead list takes at most one QUEUE");
    if (argc - optind == 1) {
        rc = cli_check_queue_name(argv[optind]);
        if (rc != CLI_OK)
            return rc;
        params[0] = argv[optind];
    }
    snprintf(limit, sizeof limit, "%" PRId64, o.limit);
    params[1] = limit;
    rc = cli_connect(ctx, 1);
    if (rc != CLI_OK)
        return rc;
    if (params[0] != NULL) {
        res = cli_query(ctx, "dead list",
                        "select 1 from @s@.queues where name = $1", 1, params);
        if (res == NULL)
            return CLI_ERR;
        rc = PQntuples(res) == 0;
        PQclear(res);
        if (rc)
            return cli_fail(CLI_ERR, "dead list: unknown queue \"%s\"",
                            params[0]);
    }
    res = cli_query(ctx, "dead list",
                    o.json ? LIST_SQL("failed_at")
                           : LIST_SQL("date_trunc('second', failed_at)"),
                    2, params);
    if (res == NULL)
        return CLI_ERR;
    if (!o.json && PQntuples(res) == 0) {
        puts("no dead letters");
        rc = CLI_OK;
    } else {
        rc = cli_print_result(res, o.json, 60);
    }
    PQclear(res);
    return rc;
}

/* 1 when text is fit to print raw to a terminal: UTF-8, no NUL, and no
 * control characters other than newline, tab and carriage return. */
static int
printable(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if ((c < 0x20 && c != '\n' && c != '\t' && c != '\r') || c == 0x7f)
            return 0;
    }
    return cli_utf8_valid(p, n, 1);
}

/* Append s for a terminal: newlines as \n, other controls as '?', so
 * that each field stays on its line. */
static void
put_field(cli_buf *b, const char *s)
{
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '\n')
            cli_buf_puts(b, "\\n");
        else if ((c < 0x20 && c != '\t') || c == 0x7f)
            cli_buf_putn(b, "?", 1);
        else
            cli_buf_putn(b, s, 1);
    }
}

static int
show_text(cli *ctx, PGresult *res, const char *idtext, cli_buf *b)
{
    const char *params[1] = {idtext};
    PGresult *errs;

    for (int c = 0; c < PQnfields(res); c++) {
        const char *name = PQfname(res, c);
        if (strcmp(name, "errors") == 0 || strcmp(name, "body") == 0)
            continue;
        cli_buf_printf(b, "%-15s ", name);
        put_field(b, PQgetisnull(res, 0, c) ? "-" : PQgetvalue(res, 0, c));
        cli_buf_putn(b, "\n", 1);
    }
    errs = cli_query(ctx, "dead show", errors_sql, 1, params);
    if (errs == NULL)
        return CLI_ERR;
    cli_buf_puts(b, "errors:\n");
    for (int r = 0; r < PQntuples(errs); r++) {
        cli_buf_printf(b, "  attempt %s at %s: ", PQgetvalue(errs, r, 0),
                       PQgetvalue(errs, r, 1));
        put_field(b, PQgetvalue(errs, r, 2));
        cli_buf_putn(b, "\n", 1);
    }
    PQclear(errs);
    return CLI_OK;
}

static int
dead_show(cli *ctx, int argc, char **argv)
{
    struct dead_opts o = {0};
    const char *params[1];
    char idtext[24];
    int64_t id;
    int rc = parse_opts(argc, argv, "jk", &o), bc;
    PGresult *res;
    unsigned char *body = NULL;
    const char *shown;
    txq_msg *m = NULL;
    size_t len = 0;
    cli_buf b = {0};
    txq_err err;

    if (rc >= 0)
        return rc;
    if (argc - optind != 1)
        return cli_usage_error("dead", "dead show takes one ID");
    rc = parse_id(argv[optind], &id, idtext, sizeof idtext);
    if (rc != CLI_OK)
        return rc;
    rc = cli_connect(ctx, 1);
    if (rc == CLI_OK)
        rc = cli_use_keys(ctx, o.key_file);
    if (rc != CLI_OK)
        return rc;
    params[0] = idtext;
    res = cli_query(ctx, "dead show", show_sql, 1, params);
    if (res == NULL)
        return CLI_ERR;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return cli_fail(CLI_ERR, "dead letter %s not found", idtext);
    }
    /* Sealed, and the keys given: the body opened by libtxq (the dead
     * letter kept its id, queue and headers, which the seal binds). */
    shown = NULL;
    if (o.key_file != NULL &&
        strcmp(PQgetvalue(res, 0, PQfnumber(res, "encrypted")), "t") == 0) {
        err = txq_dead_letter(ctx->c, ctx->pg, id, &m);
        if (err != TXQ_OK) {
            rc = cli_txq_fail(ctx, err, "dead show");
            goto out;
        }
        shown = txq_msg_body(m, &len);
    }
    if (o.json) {
        rc = cli_json_row_body(&b, res, 0, shown, len);
        goto out;
    }
    if (shown == NULL) {
        bc = PQfnumber(res, "body");
        body = PQunescapeBytea((const unsigned char *)PQgetvalue(res, 0, bc),
                               &len);
        if (body == NULL) {
            rc = cli_fail(CLI_ERR, "out of memory");
            goto out;
        }
        shown = (const char *)body;
    }
    rc = show_text(ctx, res, idtext, &b);
    if (rc != CLI_OK)
        goto out;
    if (printable(shown, len)) {
        cli_buf_printf(&b, "body (%zu bytes):\n", len);
        cli_buf_putn(&b, shown, len);
        if (len == 0 || shown[len - 1] != '\n')
            cli_buf_putn(&b, "\n", 1);
    } else {
        cli_buf_printf(&b, "body (%zu bytes, base64):\n", len);
        cli_base64(&b, (const unsigned char *)shown, len);
        cli_buf_putn(&b, "\n", 1);
    }
out:
    PQfreemem(body);
    txq_msg_free(m);
    PQclear(res);
    if (rc == CLI_OK)
        rc = cli_buf_write(&b);
    cli_buf_free(&b);
    return rc;
}

static int
dead_requeue(cli *ctx, int argc, char **argv)
{
    struct dead_opts o = {0};
    char idtext[24];
    int64_t id, count = 0;
    int rc = parse_opts(argc, argv, "a", &o);
    txq_err err;

    if (rc >= 0)
        return rc;
    if (argc - optind != 1)
        return cli_usage_error("dead", o.all ? "requeue --all takes one QUEUE"
                                             : "requeue takes one ID");
    if (o.all)
        rc = cli_check_queue_name(argv[optind]);
    else
        rc = parse_id(argv[optind], &id, idtext, sizeof idtext);
    if (rc != CLI_OK)
        return rc;
    rc = cli_connect(ctx, 1);
    if (rc != CLI_OK)
        return rc;
    if (o.all) {
        err = txq_requeue_all(ctx->c, ctx->pg, argv[optind], &count);
        if (err != TXQ_OK)
            return cli_txq_fail(ctx, err, "dead requeue --all");
        printf("requeued %" PRId64 " dead letter%s of queue %s\n", count,
               count == 1 ? "" : "s", argv[optind]);
        return CLI_OK;
    }
    err = txq_requeue(ctx->c, ctx->pg, id);
    if (err != TXQ_OK)
        return cli_txq_fail(ctx, err, "dead requeue");
    printf("requeued dead letter %s\n", idtext);
    return CLI_OK;
}

static int
dead_discard(cli *ctx, int argc, char **argv)
{
    struct dead_opts o = {0};
    char idtext[24];
    int64_t id;
    int rc = parse_opts(argc, argv, "r", &o);
    txq_err err;

    if (rc >= 0)
        return rc;
    if (argc - optind != 1)
        return cli_usage_error("dead", "discard takes one ID");
    if (o.reason == NULL || o.reason[0] == '\0')
        return cli_usage_error("dead", "discard needs --reason R (it goes to "
                                       "the audit log)");
    rc = parse_id(argv[optind], &id, idtext, sizeof idtext);
    if (rc != CLI_OK)
        return rc;
    rc = cli_connect(ctx, 1);
    if (rc != CLI_OK)
        return rc;
    err = txq_discard(ctx->c, ctx->pg, id, o.reason);
    if (err != TXQ_OK)
        return cli_txq_fail(ctx, err, "dead discard");
    printf("discarded dead letter %s\n", idtext);
    return CLI_OK;
}

int
cli_cmd_dead(cli *ctx, int argc, char **argv)
{
    const char *sub = argc > 1 ? argv[1] : "";

    if (strcmp(sub, "list") == 0)
        return dead_list(ctx, argc - 1, argv + 1);
    if (strcmp(sub, "show") == 0)
        return dead_show(ctx, argc - 1, argv + 1);
    if (strcmp(sub, "requeue") == 0)
        return dead_requeue(ctx, argc - 1, argv + 1);
    if (strcmp(sub, "discard") == 0)
        return dead_discard(ctx, argc - 1, argv + 1);
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0) {
        fputs(dead_usage, stdout);
        return CLI_OK;
    }
    if (sub[0] == '\0')
        return cli_usage_error("dead", "missing sub-command: list, show, "
                                       "requeue or discard");
    return cli_usage_error("dead", "unknown sub-command \"%.100s\"", sub);
}
