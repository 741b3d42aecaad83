/*
 * cli_queue.c - `txq queue create|alter|drop|list`.
 *
 * create and alter call txq.create_queue / txq.alter_queue with named
 * arguments rather than txq_queue_create: there an unset setting is SQL
 * NULL, so an explicit zero (--backoff-base 0, --dedup-window 0), which the
 * C options struct reads as "default", keeps its meaning. Every value is a
 * query parameter.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char queue_usage[] =
    "usage: txq queue create NAME [--fifo | --encrypt] [SETTINGS]\n"
    "       txq queue alter NAME [SETTINGS]\n"
    "       txq queue drop NAME [--force]\n"
    "       txq queue list [--json]\n"
    "\n"
    "Settings (durations in seconds, fractions allowed):\n"
    "  --visibility-timeout S   how long a claimed message stays invisible\n"
    "                           (default 30)\n"
    "  --max-attempts N         attempts before the exhausted policy (5)\n"
    "  --backoff-base S         first retry delay, doubled per attempt (1)\n"
    "  --backoff-cap S          longest retry delay (3600)\n"
    "  --backoff-jitter F       random extra delay, fraction 0..1 (0.1)\n"
    "  --on-exhausted P         review, ignore or notify (review)\n"
    "  --max-body-bytes N       largest body (262144)\n"
    "  --expire-after S         drop messages not consumed in time (never;\n"
    "                           `off` on alter turns it off)\n"
    "  --dedup-window S         FIFO duplicate-send window (300)\n"
    "  --archive-for S          keep acked messages this long (off; `off`\n"
    "                           on alter turns it off)\n"
    "  --delay S                default delay of each message sent without\n"
    "                           its own --delay (0)\n"
    "  --encrypt, --no-encrypt  an encrypted queue takes only bodies sealed\n"
    "                           by a client holding the keys (txq send\n"
    "                           --key-file); not fifo; alter changes it only\n"
    "                           on an empty queue (docs/security.md)\n"
    "  --dead-letter-queue Q    move exhausted and permanently failed\n"
    "                           messages into queue Q (of the same kind;\n"
    "                           needs send on Q) instead of the dead\n"
    "                           letters; `off` on alter removes it\n"
    "\n"
    "drop refuses a queue that still holds messages or dead letters unless\n"
    "--force is given, which deletes them. list --json prints one JSON\n"
    "object per queue and line.\n";

/* Index of each setting in the create/alter parameter lists (after the
 * name, which is $1). */
enum {
    S_VT,
    S_ATTEMPTS,
    S_BASE,
    S_CAP,
    S_JITTER,
    S_EXHAUSTED,
    S_BODY,
    S_EXPIRE,
    S_DEDUP,
    S_ARCHIVE,
    S_DELAY,
    S_COUNT
};

enum { K_SECONDS, K_INT, K_FRACTION, K_POLICY };

struct setting {
    const char *name; /* long option without -- */
    int kind;
};

static const struct setting settings[S_COUNT] = {
    [S_VT] = {"visibility-timeout", K_SECONDS},
    [S_ATTEMPTS] = {"max-attempts", K_INT},
    [S_BASE] = {"backoff-base", K_SECONDS},
    [S_CAP] = {"backoff-cap", K_SECONDS},
    [S_JITTER] = {"backoff-jitter", K_FRACTION},
    [S_EXHAUSTED] = {"on-exhausted", K_POLICY},
    [S_BODY] = {"max-body-bytes", K_INT},
    [S_EXPIRE] = {"expire-after", K_SECONDS},
    [S_DEDUP] = {"dedup-window", K_SECONDS},
    [S_ARCHIVE] = {"archive-for", K_SECONDS},
    [S_DELAY] = {"delay", K_SECONDS},
};

/* Option codes: settings are 1000 + index. */
enum {
    OPT_FIFO = 'f',
    OPT_HELP = 'h',
    OPT_ENCRYPT = 'e',
    OPT_NO_ENCRYPT = 'E',
    OPT_DEAD_LETTER_QUEUE = 'd',
    OPT_SETTING = 1000
};

/* Longest seconds value accepted here (~31 years); the server checks each
 * setting's real bounds and names them. */
#define MAX_SECONDS 1e9

static const char create_sql[] =
    "select 1 from @s@.create_queue($1, i_kind => $2,"
    " i_visibility_timeout => $3::float8 * interval '1 second',"
    " i_max_attempts => $4::int,"
    " i_backoff_base => $5::float8 * interval '1 second',"
    " i_backoff_cap => $6::float8 * interval '1 second',"
    " i_backoff_jitter => $7::float8, i_on_exhausted => $8,"
    " i_max_body_bytes => $9::int,"
    " i_expire_after => $10::float8 * interval '1 second',"
    " i_dedup_window => $11::float8 * interval '1 second',"
    " i_archive_for => $12::float8 * interval '1 second',"
    " i_delay => $13::float8 * interval '1 second',"
    " i_encrypt => $14::boolean, i_dead_letter_queue => $15)";

static const char alter_sql[] =
    "select 1 from @s@.alter_queue($1,"
    " i_visibility_timeout => $2::float8 * interval '1 second',"
    " i_max_attempts => $3::int,"
    " i_backoff_base => $4::float8 * interval '1 second',"
    " i_backoff_cap => $5::float8 * interval '1 second',"
    " i_backoff_jitter => $6::float8, i_on_exhausted => $7,"
    " i_max_body_bytes => $8::int,"
    " i_expire_after => $9::float8 * interval '1 second',"
    " i_dedup_window => $10::float8 * interval '1 second',"
    " i_archive_for => $11::float8 * interval '1 second',"
    " i_delay => $12::float8 * interval '1 second',"
    " i_clear_expire_after => $13::boolean,"
    " i_clear_archive_for => $14::boolean, i_encrypt => $15::boolean,"
    " i_dead_letter_queue => $16)";

#define SECS(col) "extract(epoch from " col ")::float8 as " col

/* clang-format off */
#define LIST_SQL(extra)                                                   \
    "select name, kind, " SECS("visibility_timeout") ", max_attempts, "   \
    SECS("backoff_base") ", " SECS("backoff_cap") ", backoff_jitter, "    \
    "on_exhausted, max_body_bytes, " SECS("expire_after") ", "            \
    SECS("dedup_window") ", " SECS("archive_for") ", " SECS("delay")      \
    ", encrypt, (select d.name from @s@.queues d"                        \
    " where d.queue_id = q.dead_letter_queue_id) as dead_letter_queue"    \
    extra " from @s@.queues q order by name"
/* clang-format on */

/* Parsed settings: text values ready to be parameters, NULL when unset. */
struct values {
    char buf[S_COUNT][40];
    const char *val[S_COUNT];
    int clear_expire;
    int clear_archive;
};

static int
parse_setting(struct values *v, int idx, const char *arg, int alter)
{
    const struct setting *s = &settings[idx];
    char flag[40];
    double d;
    int64_t n;
    int rc;

    snprintf(flag, sizeof flag, "--%s", s->name);
    if (alter && (idx == S_EXPIRE || idx == S_ARCHIVE) &&
        (strcmp(arg, "off") == 0 || strcmp(arg, "none") == 0)) {
        if (idx == S_EXPIRE)
            v->clear_expire = 1;
        else
            v->clear_archive = 1;
        v->val[idx] = NULL;
        return CLI_OK;
    }
    switch (s->kind) {
    case K_SECONDS:
    case K_FRACTION:
        rc = cli_parse_double(flag, arg, 0,
                              s->kind == K_FRACTION ? 1 : MAX_SECONDS, &d);
        if (rc != CLI_OK)
            return rc;
        snprintf(v->buf[idx], sizeof v->buf[idx], "%.17g", d);
        break;
    case K_INT:
        rc = cli_parse_int(flag, arg, 1, INT32_MAX, &n);
        if (rc != CLI_OK)
            return rc;
        snprintf(v->buf[idx], sizeof v->buf[idx], "%lld", (long long)n);
        break;
    default:
        if (strcmp(arg, "review") != 0 && strcmp(arg, "ignore") != 0 &&
            strcmp(arg, "notify") != 0)
            return cli_fail(CLI_USAGE,
                            "%s: expected review, ignore or notify, got "
                            "\"%.100s\"",
                            flag, arg);
        snprintf(v->buf[idx], sizeof v->buf[idx], "%s", arg);
    }
    v->val[idx] = v->buf[idx];
    return CLI_OK;
}

/* create and alter: NAME plus settings. */
static int
create_or_alter(cli *ctx, int argc, char **argv, int alter)
{
    struct option longopts[S_COUNT + 6];
    const char *what = alter ? "queue alter" : "queue create";
    struct values v = {0};
    const char *params[17] = {0};
    const char *encrypt = NULL, *dlq = NULL;
    int opt, fifo = 0, rc, n = 0, np;
    PGresult *res;

    for (int i = 0; i < S_COUNT; i++)
        longopts[n++] = (struct option){settings[i].name, required_argument,
                                        NULL, OPT_SETTING + i};
    if (!alter)
        longopts[n++] = (struct option){"fifo", no_argument, NULL, OPT_FIFO};
    longopts[n++] = (struct option){"encrypt", no_argument, NULL, OPT_ENCRYPT};
    if (alter)
        longopts[n++] =
            (struct option){"no-encrypt", no_argument, NULL, OPT_NO_ENCRYPT};
    longopts[n++] = (struct option){"dead-letter-queue", required_argument,
                                    NULL, OPT_DEAD_LETTER_QUEUE};
    longopts[n++] = (struct option){"help", no_argument, NULL, OPT_HELP};
    longopts[n] = (struct option){NULL, 0, NULL, 0};

    cli_getopt_reset();
    while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        if (opt == OPT_HELP) {
            fputs(queue_usage, stdout);
            return CLI_OK;
        } else if (opt == OPT_FIFO) {
            fifo = 1;
        } else if (opt == OPT_DEAD_LETTER_QUEUE) {
            /* "" removes it (alter); the server names a bad one. */
            dlq = alter && (strcmp(optarg, "off") == 0 ||
                            strcmp(optarg, "none") == 0)
                      ? ""
                      : optarg;
            if (*dlq != '\0' && (rc = cli_check_queue_name(dlq)) != CLI_OK)
                return rc;
        } else if (opt == OPT_ENCRYPT || opt == OPT_NO_ENCRYPT) {
            encrypt = opt == OPT_ENCRYPT ? "true" : "false";
        } else if (opt >= OPT_SETTING && opt < OPT_SETTING + S_COUNT) {
            rc = parse_setting(&v, opt - OPT_SETTING, optarg, alter);
            if (rc != CLI_OK)
                return rc;
        } else if (opt == ':') {
            return cli_usage_error("queue", "%s needs a value",
                                   argv[optind - 1]);
        } else {
            return cli_usage_error("queue", "unknown option \"%s\" for %s",
                                   argv[optind - 1], what);
        }
    }
    if (argc - optind != 1)
        return cli_usage_error("queue", "%s takes one queue NAME", what);
    rc = cli_check_queue_name(argv[optind]);
    if (rc != CLI_OK)
        return rc;

    params[0] = argv[optind];
    np = 1;
    if (!alter)
        params[np++] = fifo ? "fifo" : "standard";
    for (int i = 0; i < S_COUNT; i++)
        params[np++] = v.val[i];
    if (alter) {
        params[np++] = v.clear_expire ? "true" : "false";
        params[np++] = v.clear_archive ? "true" : "false";
    }
    params[np++] = encrypt;
    params[np++] = dlq;
    rc = cli_connect(ctx, 1);
    if (rc != CLI_OK)
        return rc;
    res = cli_query(ctx, what, alter ? alter_sql : create_sql, np, params);
    if (res == NULL)
        return CLI_ERR;
    PQclear(res);
    printf("queue %s %s\n", argv[optind], alter ? "altered" : "created");
    return CLI_OK;
}

static int
drop(cli *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {{"force", no_argument, NULL, 'f'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    int opt, force = 0, rc;
    txq_err err;

    cli_getopt_reset();
    while ((opt = getopt_long(argc, argv, ":fh", longopts, NULL)) != -1) {
        if (opt == 'h') {
            fputs(queue_usage, stdout);
            return CLI_OK;
        } else if (opt == 'f') {
            force = 1;
        } else {
            return cli_usage_error("queue", "unknown option \"%s\" for drop",
                                   argv[optind - 1]);
        }
    }
    if (argc - optind != 1)
        return cli_usage_error("queue", "queue drop takes one queue NAME");
    rc = cli_check_queue_name(argv[optind]);
    if (rc != CLI_OK)
        return rc;
    rc = cli_connect(ctx, 1);
    if (rc != CLI_OK)
        return rc;
    err = txq_queue_drop(ctx->c, ctx->pg, argv[optind], force);
    if (err != TXQ_OK)
        return cli_txq_fail(ctx, err, "queue drop");
    printf("queue %s dropped\n", argv[optind]);
    return CLI_OK;
}

static int
list(cli *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {{"json", no_argument, NULL, 'j'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    int opt, json = 0, rc;
    PGresult *res;

    cli_getopt_reset();
    while ((opt = getopt_long(argc, argv, ":jh", longopts, NULL)) != -1) {
        if (opt == 'h') {
            fputs(queue_usage, stdout);
            return CLI_OK;
        } else if (opt == 'j') {
            json = 1;
        } else {
            return cli_usage_error("queue", "unknown option \"%s\" for list",
                                   argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage_error("queue", "unexpected argument \"%s\"",
                               argv[optind]);
    rc = cli_connect(ctx, 1);
    if (rc != CLI_OK)
        return rc;
    /* The table leaves out created_at to stay readable. */
    res = cli_query(ctx, "queue list",
                    json ? LIST_SQL(", created_at") : LIST_SQL(""), 0, NULL);
    if (res == NULL)
        return CLI_ERR;
    rc = cli_print_result(res, json, 0);
    PQclear(res);
    return rc;
}

int
cli_cmd_queue(cli *ctx, int argc, char **argv)
{
    const char *sub = argc > 1 ? argv[1] : "";

    if (strcmp(sub, "create") == 0)
        return create_or_alter(ctx, argc - 1, argv + 1, 0);
    if (strcmp(sub, "alter") == 0)
        return create_or_alter(ctx, argc - 1, argv + 1, 1);
    if (strcmp(sub, "drop") == 0)
        return drop(ctx, argc - 1, argv + 1);
    if (strcmp(sub, "list") == 0)
        return list(ctx, argc - 1, argv + 1);
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0) {
        fputs(queue_usage, stdout);
        return CLI_OK;
    }
    if (sub[0] == '\0')
        return cli_usage_error("queue", "missing sub-command: create, alter, "
                                        "drop or list");
    return cli_usage_error("queue", "unknown sub-command \"%.100s\"", sub);
}
