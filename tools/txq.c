/*
 * txq.c - the txq command-line tool: global options, command dispatch, the
 * connection, error reporting and argument checks shared by every command,
 * and `txq migrate`.
 *
 * Every user-given string reaches the server as a query parameter or
 * through libtxq; the only identifier spliced into SQL text is the schema
 * name, validated here and quoted with PQescapeIdentifier.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "mask.h"
#include "txq_topic.h"

static const char usage_text[] =
    "usage: txq [--db CONNINFO] [--schema NAME] [--pooler MODE] COMMAND "
    "[ARGS]\n"
    "\n"
    "Commands:\n"
    "  migrate                     create or upgrade the txq schema\n"
    "  queue create|alter|drop|list  manage queues and their settings\n"
    "  send QUEUE [BODY|-]         enqueue one message (body from stdin\n"
    "                              when BODY is - or absent)\n"
    "  recv QUEUE                  claim messages, print one JSON per line\n"
    "  ack|fail|extend ID --attempt N  finish or keep a message recv claimed\n"
    "  peek QUEUE [-n N]           print messages without claiming them\n"
    "  topic create|subscribe|route|list|drop  publish/subscribe and routing\n"
    "  publish TOPIC [BODY|-]      publish one message, print the copies' ids\n"
    "  request QUEUE BODY          send a request, wait for and print the\n"
    "                              reply (--timeout S)\n"
    "  stats                       per-queue depth, in flight, outcomes\n"
    "  top [--interval S]          live view of every queue, with rates\n"
    "  dead list|show|requeue|discard  inspect and resolve dead letters\n"
    "  grant QUEUE ROLE PRIVS      give ROLE privileges (send, receive,\n"
    "                              operate, monitor, admin) on QUEUE or *\n"
    "  revoke QUEUE ROLE [PRIVS]   take them back (all, without PRIVS)\n"
    "  grants [QUEUE]              who may do what on which queue\n"
    "  purge QUEUE --reason R      delete every message of QUEUE (audited)\n"
    "  cancel ID... --reason R     take these messages out (audited)\n"
    "  pause QUEUE [--reason R]    deliver nothing until resumed (audited)\n"
    "  resume QUEUE [--reason R]   deliver a paused queue's messages again\n"
    "  schedule list|add|remove    periodic messages (cron)\n"
    "  console [--listen ADDR:PORT]  the operators' web console (log in\n"
    "                              with a PostgreSQL role and password)\n"
    "\n"
    "Options:\n"
    "  --db CONNINFO    libpq connection string or URI (default: $TXQ_DB,\n"
    "                   else the PG* environment variables)\n"
    "  --schema NAME    schema holding txq (default: $TXQ_SCHEMA or txq)\n"
    "  --pooler MODE    auto (default: detect a connection pooler), none,\n"
    "                   or transaction (PgBouncer pool_mode = transaction:\n"
    "                   no prepared statements, no LISTEN); $TXQ_POOLER\n"
    "  These may also follow the command, anywhere before a \"--\".\n"
    "  --help           this text; `txq COMMAND --help` for a command\n"
    "  --version        print the versions and exit\n"
    "\n"
    "Exit status: 0 success, 1 runtime error (the server's refusals,\n"
    "permission denied among them), 2 usage error.\n";

static const char migrate_usage[] =
    "usage: txq migrate\n"
    "\n"
    "Create the txq schema, or apply the migrations it lacks, then reload\n"
    "the SQL functions and views. Running it again changes nothing.\n";

struct command {
    const char *name;
    cli_cmd_fn fn;
};

static const struct command commands[] = {
    {"migrate", cli_cmd_migrate}, {"queue", cli_cmd_queue},
    {"send", cli_cmd_send},       {"recv", cli_cmd_recv},
    {"stats", cli_cmd_stats},     {"dead", cli_cmd_dead},
    {"topic", cli_cmd_topic},     {"publish", cli_cmd_publish},
    {"request", cli_cmd_request}, {"peek", cli_cmd_peek},
    {"grant", cli_cmd_grant},     {"revoke", cli_cmd_revoke},
    {"grants", cli_cmd_grants},   {"purge", cli_cmd_purge},
    {"cancel", cli_cmd_cancel},   {"pause", cli_cmd_pause},
    {"resume", cli_cmd_resume},   {"schedule", cli_cmd_schedule},
    {"top", cli_cmd_top},         {"ack", cli_cmd_ack},
    {"fail", cli_cmd_fail},       {"extend", cli_cmd_extend},
    {"console", cli_cmd_console},
};

/* Replace control characters (and bytes that are not UTF-8) so that a
 * message stays one readable line. */
static void
one_line(char *s)
{
    size_t n = strlen(s), k;

    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
        s[--n] = '\0';
    for (size_t i = 0; i < n; i += k) {
        k = cli_utf8_len(s + i, n - i);
        if (k == 0) {
            s[i] = '?';
            k = 1;
        } else if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
            s[i] = s[i] == '\n' || s[i] == '\t' ? ' ' : '?';
        }
    }
}

static int vfail(int code, const char *prefix, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static int
vfail(int code, const char *prefix, const char *fmt, va_list ap)
{
    char buf[1024];

    vsnprintf(buf, sizeof buf, fmt, ap);
    one_line(buf);
    fprintf(stderr, "%s: %s\n", prefix, buf);
    return code;
}

int
cli_fail(int code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vfail(code, "txq", fmt, ap);
    va_end(ap);
    return code;
}

int
cli_usage_error(const char *cmd, const char *fmt, ...)
{
    char buf[768];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return cli_fail(CLI_USAGE, "%s (see `txq %s --help`)", buf, cmd);
}

int
cli_txq_fail(cli *ctx, txq_err rc, const char *what)
{
    const char *msg = ctx->c != NULL ? txq_errmsg(ctx->c) : "";

    if (msg[0] == '\0')
        msg = txq_strerror(rc);
    if (rc == TXQ_ESCHEMA && strstr(msg, "migrate") == NULL)
        return cli_fail(CLI_ERR, "%s: %s (run `txq migrate`)", what, msg);
    return cli_fail(CLI_ERR, "%s: %s", what, msg);
}

int
cli_pg_fail(cli *ctx, PGresult *res, const char *what)
{
    const char *msg = NULL;

    if (res != NULL)
        msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    if (msg == NULL && res != NULL)
        msg = PQresultErrorMessage(res);
    if (msg == NULL || msg[0] == '\0')
        msg = PQerrorMessage(ctx->pg);
    if (msg == NULL || msg[0] == '\0')
        msg = "unknown error";
    cli_fail(CLI_ERR, "%s: %s", what, msg);
    PQclear(res);
    return CLI_ERR;
}

int
cli_connect(cli *ctx, int check)
{
    /* client_encoding comes after dbname so that it overrides anything the
     * conninfo or PGCLIENTENCODING says: the JSON output is UTF-8. */
    const char *keys[] = {"dbname", "fallback_application_name",
                          "client_encoding", NULL};
    const char *vals[] = {ctx->dsn, "txq", "UTF8", NULL};
    txq_options opts = TXQ_OPTIONS_INIT;
    txq_err rc;

    ctx->pg = PQconnectdbParams(keys, vals, 1);
    if (ctx->pg == NULL)
        return cli_fail(CLI_ERR, "cannot connect: out of memory");
    if (PQstatus(ctx->pg) != CONNECTION_OK)
        return cli_fail(CLI_ERR, "cannot connect: %s", PQerrorMessage(ctx->pg));
    opts.schema = ctx->schema;
    ctx->c = txq_client_new(&opts);
    if (ctx->c == NULL)
        return cli_fail(CLI_ERR, "out of memory");
    txq_client_set_pooler(ctx->c, ctx->pooler);
    if (check) {
        rc = txq_schema_check(ctx->c, ctx->pg);
        if (rc != TXQ_OK)
            return cli_txq_fail(ctx, rc, "schema check");
    }
    return CLI_OK;
}

int
cli_use_keys(cli *ctx, const char *path)
{
    char err[512];

    if (path == NULL)
        return CLI_OK;
    if (txq_keyring_load(path, &ctx->keyring, err, sizeof err) != TXQ_OK)
        return cli_fail(CLI_ERR, "--key-file: %s", err);
    return txq_client_set_keyring(ctx->c, ctx->keyring) == TXQ_OK
               ? CLI_OK
               : cli_fail(CLI_ERR, "--key-file: %s", txq_errmsg(ctx->c));
}

/* sql with every "@s@" replaced by the quoted schema; NULL when out of
 * memory. */
static char *
expand_schema(cli *ctx, const char *sql)
{
    char *ident = PQescapeIdentifier(ctx->pg, ctx->schema, strlen(ctx->schema));
    cli_buf b = {0};
    const char *p = sql, *at;

    if (ident == NULL)
        return NULL;
    while ((at = strstr(p, "@s@")) != NULL) {
        cli_buf_putn(&b, p, (size_t)(at - p));
        cli_buf_puts(&b, ident);
        p = at + 3;
    }
    cli_buf_puts(&b, p);
    PQfreemem(ident);
    if (b.oom) {
        cli_buf_free(&b);
        return NULL;
    }
    return b.data;
}

PGresult *
cli_query(cli *ctx,
          const char *what,
          const char *sql,
          int nparams,
          const char *const *params)
{
    char *text = expand_schema(ctx, sql);
    PGresult *res;
    ExecStatusType st;

    if (text == NULL) {
        cli_fail(CLI_ERR, "%s: out of memory", what);
        return NULL;
    }
    res = PQexecParams(ctx->pg, text, nparams, NULL, params, NULL, NULL, 0);
    free(text);
    st = PQresultStatus(res);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        cli_pg_fail(ctx, res, what);
        return NULL;
    }
    return res;
}

static int
simple(cli *ctx, const char *sql)
{
    PGresult *res = PQexec(ctx->pg, sql);

    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        return cli_pg_fail(ctx, res, sql);
    PQclear(res);
    return CLI_OK;
}

int
cli_begin(cli *ctx)
{
    return simple(ctx, "begin");
}

int
cli_commit(cli *ctx)
{
    return simple(ctx, "commit");
}

void
cli_rollback(cli *ctx)
{
    PQclear(PQexec(ctx->pg, "rollback"));
}

int
cli_parse_double(
    const char *flag, const char *s, double min, double max, double *out)
{
    char *end;
    double v;

    if (s[0] == '\0' || isspace((unsigned char)s[0]))
        return cli_fail(CLI_USAGE, "%s: expected a number, got \"%s\"", flag,
                        s);
    errno = 0;
    v = strtod(s, &end);
    if (*end != '\0' || end == s)
        return cli_fail(CLI_USAGE, "%s: not a number: \"%s\"", flag, s);
    if (!isfinite(v) && errno != ERANGE)
        return cli_fail(CLI_USAGE, "%s: not a finite number: \"%s\"", flag, s);
    if (errno == ERANGE || v < min || v > max)
        return cli_fail(CLI_USAGE, "%s: %s is out of range (%g to %g)", flag, s,
                        min, max);
    *out = v;
    return CLI_OK;
}

int
cli_parse_int(
    const char *flag, const char *s, int64_t min, int64_t max, int64_t *out)
{
    char *end;
    long long v;

    if (s[0] == '\0' || isspace((unsigned char)s[0]))
        return cli_fail(CLI_USAGE, "%s: expected an integer, got \"%s\"", flag,
                        s);
    errno = 0;
    v = strtoll(s, &end, 10);
    if (*end != '\0' || end == s)
        return cli_fail(CLI_USAGE, "%s: not an integer: \"%s\"", flag, s);
    if (errno == ERANGE || v < min || v > max)
        return cli_fail(CLI_USAGE, "%s: %s is out of range (%lld to %lld)",
                        flag, s, (long long)min, (long long)max);
    *out = (int64_t)v;
    return CLI_OK;
}

int
cli_check_queue_name(const char *name)
{
    if (txq_name_valid(name))
        return CLI_OK;
    return cli_fail(CLI_USAGE,
                    "invalid queue name \"%.100s\": use 1 to 80 characters "
                    "A-Z, a-z, 0-9, - and _, the last 5 of which may be "
                    "\".fifo\"",
                    name);
}

int
cli_check_topic_name(const char *name)
{
    if (txq_topic_name_valid(name))
        return CLI_OK;
    return cli_fail(CLI_USAGE,
                    "invalid topic name \"%.100s\": use 1 to 63 characters "
                    "a-z, 0-9, _ and ., starting with a letter",
                    name);
}

void
cli_getopt_reset(void)
{
    /* glibc: 0 re-initialises getopt completely, for a new argv. */
    optind = 0;
    opterr = 0;
}

int
cli_cmd_migrate(cli *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {{"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    int opt, applied = 0, rc;
    txq_err err;
    PGresult *res;

    cli_getopt_reset();
    while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        if (opt == 'h') {
            fputs(migrate_usage, stdout);
            return CLI_OK;
        }
        return cli_usage_error("migrate", "unknown option \"%s\"",
                               argv[optind - 1]);
    }
    if (optind < argc)
        return cli_usage_error("migrate", "unexpected argument \"%s\"",
                               argv[optind]);
    rc = cli_connect(ctx, 0);
    if (rc != CLI_OK)
        return rc;
    err = txq_migrate(ctx->c, ctx->pg, &applied);
    if (err != TXQ_OK)
        return cli_txq_fail(ctx, err, "migrate");
    res = cli_query(ctx, "migrate", "select @s@.schema_version()", 0, NULL);
    if (res == NULL)
        return CLI_ERR;
    printf("schema %s at version %s (applied %d)\n", ctx->schema,
           PQgetvalue(res, 0, 0), applied);
    PQclear(res);
    return CLI_OK;
}

static void
print_version(void)
{
    printf("txq %d.%d.%d (libtxq %s, schema version %d)\n", TXQ_VERSION_MAJOR,
           TXQ_VERSION_MINOR, TXQ_VERSION_PATCH, txq_version(),
           TXQ_SCHEMA_VERSION);
}

/* *dsn = a copy of arg; ps shows argv, so the password in arg itself is
 * overwritten (of every --db given: the last one counts). */
static int
set_dsn(char **dsn, char *arg)
{
    free(*dsn);
    *dsn = strdup(arg);
    mask_password(arg);
    return *dsn == NULL ? -1 : 0;
}

/* The enum txq_pooler of a --pooler value, or -1. */
static int
pooler_mode(const char *v)
{
    if (strcmp(v, "auto") == 0)
        return TXQ_POOLER_AUTO;
    if (strcmp(v, "none") == 0)
        return TXQ_POOLER_NONE;
    if (strcmp(v, "transaction") == 0)
        return TXQ_POOLER_TRANSACTION;
    return -1;
}

/* --db, --schema and --pooler given after the command (as --db X or
 * --db=X), up to a "--": taken as if given before it, and removed from
 * argv[from..] so that the command does not see them. Returns -1 (go on)
 * or an exit code. */
static int
trailing_globals(int *argc,
                 char **argv,
                 int from,
                 char **dsn,
                 const char **schema,
                 const char **pooler)
{
    int out = from;

    for (int i = from; i < *argc; i++) {
        char *a = argv[i];
        int db = strcmp(a, "--db") == 0, sc = strcmp(a, "--schema") == 0;
        int po = strcmp(a, "--pooler") == 0;

        if (strcmp(a, "--") == 0) {
            while (i < *argc)
                argv[out++] = argv[i++];
            break;
        }
        if ((db || sc || po) && i + 1 >= *argc)
            return cli_fail(CLI_USAGE, "option \"%s\" needs a value", a);
        if (po || strncmp(a, "--pooler=", 9) == 0) {
            *pooler = po ? argv[++i] : a + 9;
            continue;
        }
        if (db || strncmp(a, "--db=", 5) == 0) {
            if (set_dsn(dsn, db ? argv[++i] : a + 5) != 0)
                return cli_fail(CLI_ERR, "out of memory");
        } else if (sc) {
            *schema = argv[++i];
        } else if (strncmp(a, "--schema=", 9) == 0) {
            *schema = a + 9;
        } else {
            argv[out++] = a;
        }
    }
    argv[out] = NULL;
    *argc = out;
    return -1;
}

int
main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"db", required_argument, NULL, 'd'},
        {"schema", required_argument, NULL, 's'},
        {"pooler", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0}};
    cli ctx = {0};
    const char *schema = getenv("TXQ_SCHEMA");
    const char *pooler = getenv("TXQ_POOLER");
    char *dsn = NULL;
    int opt, rc = -1;

    if (schema == NULL || schema[0] == '\0')
        schema = "txq";
    if (pooler == NULL || pooler[0] == '\0')
        pooler = "auto";
    opterr = 0;
    /* "+": stop at the command; its options are parsed by the command. */
    while (rc < 0 && (opt = getopt_long(argc, argv, "+:d:s:p:hV", longopts,
                                        NULL)) != -1) {
        switch (opt) {
        case 'd':
            /* ps shows argv: keep a copy, and overwrite the password in
             * argv (of every --db given; the last one counts). */
            if (set_dsn(&dsn, optarg) != 0)
                rc = cli_fail(CLI_ERR, "out of memory");
            break;
        case 's':
            schema = optarg;
            break;
        case 'p':
            pooler = optarg;
            break;
        case 'h':
            fputs(usage_text, stdout);
            rc = CLI_OK;
            break;
        case 'V':
            print_version();
            rc = CLI_OK;
            break;
        case ':':
            rc = cli_fail(CLI_USAGE, "option \"%s\" needs a value",
                          argv[optind - 1]);
            break;
        default:
            rc = cli_fail(CLI_USAGE, "unknown option \"%s\" (see `txq --help`)",
                          argv[optind - 1]);
        }
    }
    /* The same options after the command, anywhere before a "--". */
    if (rc < 0 && optind < argc)
        rc = trailing_globals(&argc, argv, optind + 1, &dsn, &schema, &pooler);
    if (rc < 0 && dsn == NULL && getenv("TXQ_DB") != NULL &&
        getenv("TXQ_DB")[0] != '\0' && (dsn = strdup(getenv("TXQ_DB"))) == NULL)
        rc = cli_fail(CLI_ERR, "out of memory");
    ctx.dsn = dsn;
    if (rc < 0 && !txq_schema_name_valid(schema))
        rc = cli_fail(CLI_USAGE,
                      "invalid schema name \"%.100s\": use 1 to 63 "
                      "characters a-z, 0-9 and _, not starting with a digit",
                      schema);
    else if (rc < 0 && pooler_mode(pooler) < 0)
        rc = cli_fail(CLI_USAGE,
                      "invalid pooler mode \"%.100s\": use auto, none or "
                      "transaction",
                      pooler);
    else if (rc < 0 && optind >= argc)
        rc = cli_fail(CLI_USAGE, "no command given (see `txq --help`)");
    if (rc >= 0)
        goto out;
    memcpy(ctx.schema, schema, strlen(schema) + 1);
    ctx.pooler = pooler_mode(pooler);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(argv[optind], commands[i].name) == 0) {
            rc = commands[i].fn(&ctx, argc - optind, argv + optind);
            break;
        }
    }
    if (rc < 0)
        rc =
            cli_fail(CLI_USAGE, "unknown command \"%.100s\" (see `txq --help`)",
                     argv[optind]);
    txq_client_free(ctx.c);
    txq_keyring_free(ctx.keyring);
    PQfinish(ctx.pg);
    if (fflush(stdout) != 0 && rc == CLI_OK)
        rc = cli_fail(CLI_ERR, "cannot write output: %s", strerror(errno));
out:
    free(dsn);
    return rc;
}
