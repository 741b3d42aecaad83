/*
 * console.h - `txq console`, the operators' web console: what its files
 * share. cli_console.c parses the command and runs the server;
 * console_http.c is libmicrohttpd, the sessions, cookies, CSRF and the
 * routing; console_pages.c renders the pages and runs the actions;
 * console_assets.c holds the stylesheet and the script.
 *
 * Each session holds one libpq connection, authenticated as the role that
 * logged in, used by one request at a time (the session's mutex): the
 * database's grants decide what a session sees and may do.
 */
#ifndef TXQ_CONSOLE_H
#define TXQ_CONSOLE_H

#include <pthread.h>
#include <stddef.h>

#include <libpq-fe.h>

#include "cli.h"

/* Hex of 32 random bytes, plus NUL. */
#define CON_TOKEN_LEN 65
/* Longest role name (NAMEDATALEN - 1), plus NUL. */
#define CON_ROLE_MAX 64
/* Largest request body (a dead letter's edited body, as a form). */
#define CON_BODY_MAX (4 * 1024 * 1024)
/* Allowed Host header values (listen address, localhost, --origin). */
#define CON_HOSTS_MAX 8

/* The server's settings, read-only once it listens. */
typedef struct con_server {
    const char *dsn; /* --db, or NULL: the PG* environment */
    char schema[CLI_NAME_MAX];
    char schema_ident[CLI_NAME_MAX + 2]; /* "schema", quoted */
    double idle_timeout;                 /* seconds */
    int max_sessions;
    char hosts[CON_HOSTS_MAX][300]; /* Host values accepted */
    int nhosts;
    char origins[CON_HOSTS_MAX][310]; /* Origin values accepted */
    int norigins;
} con_server;

/* Per-queue counters of the last refresh, for the rates. */
struct con_rate {
    char name[CLI_QUEUE_NAME_MAX];
    long long moved, acked, failed;
};

/* A logged-in operator. */
typedef struct con_session {
    char id[CON_TOKEN_LEN];   /* the cookie's value */
    char csrf[CON_TOKEN_LEN]; /* every form's token */
    char role[CON_ROLE_MAX];
    PGconn *pg;
    pthread_mutex_t mu; /* held while a request uses pg */
    double last_used;   /* monotonic seconds of the last user request */
    int refs;           /* requests holding it (table lock) */
    int dead;           /* logged out or expired: freed at refs 0 */
    char flash[512];    /* the outcome of the last action, shown once */
    int flash_error;
    struct con_rate *rates; /* guarded by mu */
    int nrates;
    double rates_at;
} con_session;

/* One form or query field, decoded. */
struct con_field {
    char *key, *val;
    size_t vlen;
};

/* One request, and the response being built. */
typedef struct con_req {
    const con_server *srv;
    const char *method;
    const char *path;  /* without the query */
    const char *host;  /* the validated Host header */
    const char *query; /* raw */
    char *body;        /* raw form body (POST) */
    size_t body_len;
    struct con_field *fields; /* query (GET) or body (POST) fields */
    int nfields;
    con_session *s; /* NULL: not logged in */
    /* response */
    int status;
    cli_buf out;
    const char *ctype;
    char location[512]; /* a 303's target, or "" */
    char cookie[256];   /* a Set-Cookie, or "" */
} con_req;

/* === console_http.c === */

/* Start serving on addr (its length alen). Returns the daemon (opaque), or
 * NULL; *port gets the bound port. */
void *con_http_start(
    con_server *srv, const void *addr, unsigned alen, int ipv6, unsigned *port);
void con_http_stop(void *daemon);

/* Expire idle sessions (called about once a second). */
void con_sessions_sweep(const con_server *srv);
/* Close every session (at exit). */
void con_sessions_free(void);

/* The value of field key, or NULL. */
char *con_field(const con_req *r, const char *key);

/* Log in with role and password (never kept): on success the request's
 * session is set and its cookie queued. Returns 0, or -1 with *msg set
 * to what the user may be told. */
int
con_login(con_req *r, const char *role, const char *password, const char **msg);
/* Log the request's session out. */
void con_logout(con_req *r);

/* === console_pages.c === */

/* Answer a request that passed the Host, session and CSRF checks. */
void con_route(con_req *r);

/* The login page (status: 200, or 401 after a failed attempt). */
void con_page_login(con_req *r, int status, const char *msg);

/* An error page. */
void con_page_error(con_req *r, int status, const char *msg);

/* sql with "@s@" as the quoted schema, run on the session's connection
 * with text parameters. NULL on error, with the message in err and the
 * SQLSTATE in state (a lost connection also ends the session). */
PGresult *con_run(con_req *r,
                  const char *sql,
                  int n,
                  const char *const *params,
                  char *err,
                  size_t errsize,
                  char state[6]);
/* Answer a failed action or page query: 403 for 42501, 404 for TQ002,
 * 400 for bad input, else 500. */
void con_sql_error(con_req *r, const char *err, const char *state);
/* Whether s is a message or dead letter id: a positive decimal. */
int con_valid_id(const char *s);

/* === console_actions.c === */

/* Run the POST action r->path names; 0 when it names none. */
int con_action(con_req *r);

/* === console_assets.c === */

extern const char con_css[];
extern const char con_js[];

/* === helpers (console_pages.c) === */

/* Append s[0..n) HTML-escaped: & < > " ' as entities, ill-formed UTF-8
 * and control characters other than tab, newline and carriage return as
 * U+FFFD. */
void con_esc(cli_buf *b, const char *s, size_t n);
void con_escs(cli_buf *b, const char *s);

/* Monotonic seconds. */
double con_now(void);

#endif /* TXQ_CONSOLE_H */
