/*
 * cli.h - shared declarations of the txq command-line tool (tools/).
 *
 * txq.c owns main, option parsing of the global flags, the connection and
 * error reporting; each cli_*.c file implements one group of commands.
 * Every error is reported as ONE line "txq: <what went wrong>" on stderr,
 * and commands return the process exit code: CLI_OK, CLI_ERR (runtime) or
 * CLI_USAGE (bad command line).
 */
#ifndef TXQ_CLI_H
#define TXQ_CLI_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "txq.h"

enum { CLI_OK = 0, CLI_ERR = 1, CLI_USAGE = 2 };

/* Longest schema name, plus its NUL. */
#define CLI_NAME_MAX 64

/* Longest queue name (80, SQS's rule: see txq_name_valid), plus its NUL. */
#define CLI_QUEUE_NAME_MAX 81

/* Largest body read from stdin: the highest max_body_bytes a queue can
 * have. */
#define CLI_BODY_MAX ((size_t)268435456)

/* State shared by every command. */
typedef struct cli {
    const char *dsn;           /* --db, or NULL for the libpq environment */
    char schema[CLI_NAME_MAX]; /* validated [a-z_][a-z0-9_]{0,62} */
    PGconn *pg;                /* open after cli_connect */
    txq_client *c;             /* bound to schema */
    int pooler;                /* enum txq_pooler (--pooler) */
    txq_keyring *keyring;      /* --key-file, attached to c (cli_use_keys) */
} cli;

/* One command: name, handler (argv[0] is the command's own name) and the
 * one-line summary shown by `txq --help`. */
typedef int (*cli_cmd_fn)(cli *ctx, int argc, char **argv);

/* === txq.c: errors, connection, SQL === */

/*
 * cli_fail - print "txq: <message>" as one line on stderr (newlines and
 * other control characters in the message are replaced), return code.
 */
int cli_fail(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * cli_txq_fail - report a failed library call: what, then txq_errmsg.
 * Returns CLI_ERR.
 */
int cli_txq_fail(cli *ctx, txq_err rc, const char *what);

/*
 * cli_pg_fail - report a failed query (res may be NULL), then PQclear it.
 * Returns CLI_ERR.
 */
int cli_pg_fail(cli *ctx, PGresult *res, const char *what);

/*
 * cli_connect - connect with ctx->dsn (or the environment) and make the
 * client; with check, also check that the schema is migrated.
 * Returns CLI_OK or CLI_ERR (reported).
 */
int cli_connect(cli *ctx, int check);

/*
 * cli_query - run sql, in which every "@s@" is replaced by the quoted
 * schema name, with nparams text parameters (NULL entries are SQL NULLs).
 * Returns the result when it is PGRES_TUPLES_OK or PGRES_COMMAND_OK;
 * otherwise reports it with what and returns NULL. Ownership: PQclear.
 */
PGresult *cli_query(cli *ctx,
                    const char *what,
                    const char *sql,
                    int nparams,
                    const char *const *params);

/*
 * cli_use_keys - load the key file at path (NULL: none, nothing done) and
 * attach it to ctx->c (after cli_connect). Returns CLI_OK or CLI_ERR
 * (reported).
 */
int cli_use_keys(cli *ctx, const char *path);

/* cli_begin / cli_commit / cli_rollback - plain transaction control on
 * ctx->pg. Return CLI_OK or CLI_ERR (reported; rollback never reports). */
int cli_begin(cli *ctx);
int cli_commit(cli *ctx);
void cli_rollback(cli *ctx);

/* === txq.c: argument checks (each prints its error) === */

/*
 * cli_parse_double - parse a whole string as a finite number in [min, max].
 * Returns CLI_OK, or CLI_USAGE naming flag.
 */
int cli_parse_double(
    const char *flag, const char *s, double min, double max, double *out);

/*
 * cli_parse_int - parse a whole string as a base-10 integer in [min, max].
 * Returns CLI_OK, or CLI_USAGE naming flag.
 */
int cli_parse_int(
    const char *flag, const char *s, int64_t min, int64_t max, int64_t *out);

/*
 * cli_check_queue_name - name must be a queue name (txq_name_valid: 1 to
 * 80 of A-Z a-z 0-9 - _, or up to 75 of them and ".fifo").
 * Returns CLI_OK, or CLI_USAGE naming it.
 */
int cli_check_queue_name(const char *name);

/*
 * cli_check_topic_name - name must match [a-z][a-z0-9_.]{0,62}.
 * Returns CLI_OK, or CLI_USAGE naming it.
 */
int cli_check_topic_name(const char *name);

/*
 * cli_usage_error - "txq <cmd>: ..." style usage error with a pointer to
 * --help. Returns CLI_USAGE.
 */
int cli_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* cli_getopt_reset - prepare getopt_long for a sub-command's argv. */
void cli_getopt_reset(void);

/* === the commands === */

int cli_cmd_migrate(cli *ctx, int argc, char **argv);
int cli_cmd_queue(cli *ctx, int argc, char **argv);    /* cli_queue.c */
int cli_cmd_send(cli *ctx, int argc, char **argv);     /* cli_msg.c */
int cli_cmd_recv(cli *ctx, int argc, char **argv);     /* cli_msg.c */
int cli_cmd_stats(cli *ctx, int argc, char **argv);    /* cli_stats.c */
int cli_cmd_dead(cli *ctx, int argc, char **argv);     /* cli_dead.c */
int cli_cmd_publish(cli *ctx, int argc, char **argv);  /* cli_msg.c */
int cli_cmd_topic(cli *ctx, int argc, char **argv);    /* cli_topic.c */
int cli_cmd_request(cli *ctx, int argc, char **argv);  /* cli_request.c */
int cli_cmd_peek(cli *ctx, int argc, char **argv);     /* cli_msg.c */
int cli_cmd_grant(cli *ctx, int argc, char **argv);    /* cli_grant.c */
int cli_cmd_revoke(cli *ctx, int argc, char **argv);   /* cli_grant.c */
int cli_cmd_grants(cli *ctx, int argc, char **argv);   /* cli_grant.c */
int cli_cmd_purge(cli *ctx, int argc, char **argv);    /* cli_remove.c */
int cli_cmd_cancel(cli *ctx, int argc, char **argv);   /* cli_remove.c */
int cli_cmd_pause(cli *ctx, int argc, char **argv);    /* cli_pause.c */
int cli_cmd_resume(cli *ctx, int argc, char **argv);   /* cli_pause.c */
int cli_cmd_schedule(cli *ctx, int argc, char **argv); /* cli_schedule.c */
int cli_cmd_top(cli *ctx, int argc, char **argv);      /* cli_top.c */
int cli_cmd_ack(cli *ctx, int argc, char **argv);      /* cli_finish.c */
int cli_cmd_fail(cli *ctx, int argc, char **argv);     /* cli_finish.c */
int cli_cmd_extend(cli *ctx, int argc, char **argv);   /* cli_finish.c */
int cli_cmd_console(cli *ctx, int argc, char **argv);  /* cli_console.c */

/*
 * cli_read_stdin - read all of standard input (at most CLI_BODY_MAX
 * bytes). Returns CLI_OK with *out (malloc'd, NULL when empty) and *len,
 * or CLI_ERR (reported). (cli_msg.c)
 */
int cli_read_stdin(char **out, size_t *len);

/* === cli_json.c: JSON text, base64, UTF-8 === */

/* A growable output buffer. On allocation failure it sets oom and ignores
 * further writes; check oom before using data. */
typedef struct cli_buf {
    char *data; /* NUL-terminated when len > 0 */
    size_t len;
    size_t cap;
    int oom;
} cli_buf;

void cli_buf_free(cli_buf *b);
void cli_buf_putn(cli_buf *b, const void *p, size_t n);
void cli_buf_puts(cli_buf *b, const char *s);
void cli_buf_printf(cli_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* cli_utf8_len - length of the well-formed UTF-8 sequence at p (n > 0
 * bytes left), or 0 when it is not one. */
size_t cli_utf8_len(const void *p, size_t n);

/* cli_utf8_valid - 1 when p[0..n) is well-formed UTF-8 (no overlongs, no
 * surrogates, nothing above U+10FFFF) and, with no_nul, holds no NUL. */
int cli_utf8_valid(const void *p, size_t n, int no_nul);

/* cli_json_str - append p[0..n) as a quoted JSON string: escapes ", \ and
 * control characters; ill-formed UTF-8 bytes become U+FFFD. */
void cli_json_str(cli_buf *b, const char *p, size_t n);

/* cli_base64 - append p[0..n) in standard base64 with padding. */
void cli_base64(cli_buf *b, const void *p, size_t n);

/* cli_json_key - append ,"key": (without the comma for the first key of an
 * object, i.e. when the buffer ends with '{'). */
void cli_json_key(cli_buf *b, const char *key);

/* cli_json_body - append a message body p[0..n) as the key "body" with a
 * JSON string when it is UTF-8 text without NUL, else as "body_base64". */
void cli_json_body(cli_buf *b, const char *p, size_t n);

/* cli_buf_write - write the buffer to stdout. Returns CLI_OK, or CLI_ERR
 * (reported) on out of memory or a write error. */
int cli_buf_write(cli_buf *b);

/* === cli_out.c: query results as a table or as JSON lines === */

/*
 * cli_print_result - print every row of res: with json, one JSON object
 * per line (numbers, booleans and json columns unquoted, NULL as null);
 * otherwise an aligned table with a header line (NULL as "-"), text cut at
 * maxwidth characters (0: no limit).
 * Returns CLI_OK, or CLI_ERR (reported).
 */
int cli_print_result(const PGresult *res, int json, size_t maxwidth);

/* cli_json_value - append row/column of res as a JSON value, typed by its
 * column type as in cli_print_result. */
void cli_json_value(cli_buf *b, const PGresult *res, int row, int col);

/*
 * cli_json_row - append row of res as one JSON object and a newline, as
 * cli_print_result --json does; a bytea column named "body" goes through
 * cli_json_body. Returns CLI_OK, or CLI_ERR (reported) when out of memory.
 */
int cli_json_row(cli_buf *b, const PGresult *res, int row);

/* cli_json_row with body (len bytes) in place of the row's body column
 * (body NULL: the column's own). */
int cli_json_row_body(
    cli_buf *b, const PGresult *res, int row, const char *body, size_t len);

/*
 * cli_build_headers - the JSON object of n KEY=VALUE arguments (the last
 * KEY wins) into json; errors name cmd. Returns CLI_OK, CLI_USAGE or
 * CLI_ERR (reported). (cli_msg.c)
 */
int cli_build_headers(const char *cmd, char **hdr, int n, cli_buf *json);

#endif /* TXQ_CLI_H */
