/*
 * console_http.c - `txq console` on libmicrohttpd: reads each request
 * whole, checks its Host, finds its session by cookie, checks a POST's
 * Origin (or Referer) and form token, and hands it to console_pages.c.
 * Also the sessions themselves: made at login with a connection that
 * libpq authenticated as the role (the password is used for that attempt
 * and wiped), expired when idle, closed at logout.
 *
 * One thread per HTTP connection; a session's PGconn is used by one
 * request at a time (its mutex). Session ids and form tokens are 32 bytes
 * of libsodium's randombytes, compared in constant time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <microhttpd.h>
#include <sodium.h>

#include "console.h"
#include "formdecode.h"
#include "log.h"

#define COOKIE "txq_console"

struct conn_ctx {
    char *uri;
    char *body;
    size_t len, cap;
    int started, too_big;
};

static pthread_mutex_t tab_mu = PTHREAD_MUTEX_INITIALIZER;
static con_session **sessions;
static int nslots;

double
con_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
token(char out[CON_TOKEN_LEN])
{
    unsigned char r[32];

    randombytes_buf(r, sizeof r);
    sodium_bin2hex(out, CON_TOKEN_LEN, r, sizeof r);
    sodium_memzero(r, sizeof r);
}

/* 1 when s is the token t (constant time in the token's length). */
static int
token_eq(const char *s, const char *t)
{
    if (s == NULL || strlen(s) != CON_TOKEN_LEN - 1)
        return 0;
    return sodium_memcmp(s, t, CON_TOKEN_LEN - 1) == 0;
}

/* === sessions === */

static void
session_free(con_session *s)
{
    PQfinish(s->pg);
    free(s->rates);
    pthread_mutex_destroy(&s->mu);
    sodium_memzero(s, sizeof *s);
    free(s);
}

/* Drop slot i when its session is dead and unused; tab_mu held. */
static void
reap(int i)
{
    con_session *s = sessions[i];

    if (s != NULL && s->dead && s->refs == 0) {
        sessions[i] = NULL;
        session_free(s);
    }
}

/* The live session of this cookie, referenced; NULL if none. */
static con_session *
session_get(const char *id)
{
    con_session *found = NULL;

    if (id == NULL || strlen(id) != CON_TOKEN_LEN - 1)
        return NULL;
    pthread_mutex_lock(&tab_mu);
    for (int i = 0; i < nslots; i++) {
        con_session *s = sessions[i];

        if (s != NULL && !s->dead && token_eq(id, s->id)) {
            s->refs++;
            found = s;
        }
    }
    pthread_mutex_unlock(&tab_mu);
    return found;
}

static void
session_put(con_session *s)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&tab_mu);
    s->refs--;
    for (int i = 0; i < nslots; i++)
        if (sessions[i] == s)
            reap(i);
    pthread_mutex_unlock(&tab_mu);
}

void
con_sessions_sweep(const con_server *srv)
{
    double now = con_now();

    pthread_mutex_lock(&tab_mu);
    for (int i = 0; i < nslots; i++) {
        con_session *s = sessions[i];

        if (s != NULL && !s->dead && now - s->last_used > srv->idle_timeout) {
            s->dead = 1;
            wlog(WLOG_INFO, "session expired", "role=%s", s->role);
        }
        reap(i);
    }
    pthread_mutex_unlock(&tab_mu);
}

void
con_sessions_free(void)
{
    pthread_mutex_lock(&tab_mu);
    for (int i = 0; i < nslots; i++)
        if (sessions[i] != NULL)
            session_free(sessions[i]);
    free(sessions);
    sessions = NULL;
    nslots = 0;
    pthread_mutex_unlock(&tab_mu);
}

int
con_login(con_req *r, const char *role, const char *password, const char **msg)
{
    /* The conninfo first (expanded), then what the login says: its user
     * and password win over the conninfo's. No password file: only the
     * password typed in may log in. */
    const char *keys[] = {
        "dbname",           "user", "password", "passfile", "client_encoding",
        "application_name", NULL};
    const char *vals[] = {r->srv->dsn != NULL ? r->srv->dsn : "",
                          role,
                          password,
                          "/dev/null",
                          "UTF8",
                          "txq console",
                          NULL};
    con_session *s;
    PGconn *pg;
    int slot = -1;

    *msg = "login failed: wrong role or password";
    pg = PQconnectdbParams(keys, vals, 1);
    if (pg == NULL) {
        *msg = "out of memory";
        return -1;
    }
    if (PQstatus(pg) != CONNECTION_OK) {
        char err[512];

        snprintf(err, sizeof err, "%s", PQerrorMessage(pg));
        err[strcspn(err, "\n")] = '\0';
        wlog(WLOG_INFO, "login refused", "role=%s err=%s", role, err);
        if (strstr(err, "password authentication failed") == NULL &&
            strstr(err, "does not exist") == NULL)
            *msg = "login failed: the database could not be reached";
        PQfinish(pg);
        return -1;
    }
    /* trust, peer or a client certificate alone: the server took the
     * role without checking the password typed in. */
    if (!PQconnectionUsedPassword(pg)) {
        wlog(WLOG_WARN, "login refused: the server did not check a password",
             "role=%s", role);
        *msg = "login refused: the server does not check a password for "
               "this role (trust or peer authentication)";
        PQfinish(pg);
        return -1;
    }
    /* libpq keeps the password in the connection (for PQreset, which the
     * console never calls): wipe that copy now. */
    {
        char *kept = PQpass(pg);

        if (kept != NULL && kept[0] != '\0')
            sodium_memzero(kept, strlen(kept));
    }
    PQclear(PQexec(pg, "set statement_timeout = '30s'"));
    s = calloc(1, sizeof *s);
    if (s == NULL) {
        PQfinish(pg);
        *msg = "out of memory";
        return -1;
    }
    pthread_mutex_init(&s->mu, NULL);
    s->pg = pg;
    token(s->id);
    token(s->csrf);
    snprintf(s->role, sizeof s->role, "%s", role);
    s->last_used = con_now();
    s->refs = 1;

    pthread_mutex_lock(&tab_mu);
    if (sessions == NULL) {
        sessions = calloc((size_t)r->srv->max_sessions, sizeof *sessions);
        nslots = sessions != NULL ? r->srv->max_sessions : 0;
    }
    for (int i = 0; i < nslots && slot < 0; i++)
        if (sessions[i] == NULL)
            slot = i;
    if (slot >= 0)
        sessions[slot] = s;
    pthread_mutex_unlock(&tab_mu);
    if (slot < 0) {
        session_free(s);
        wlog(WLOG_WARN, "login refused: too many sessions", "role=%s max=%d",
             role, r->srv->max_sessions);
        *msg = "login refused: too many sessions (--max-sessions)";
        return -1;
    }
    wlog(WLOG_INFO, "login", "role=%s", role);
    session_put(r->s);
    r->s = s;
    snprintf(r->cookie, sizeof r->cookie,
             COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict", s->id);
    return 0;
}

void
con_logout(con_req *r)
{
    if (r->s == NULL)
        return;
    pthread_mutex_lock(&tab_mu);
    r->s->dead = 1;
    pthread_mutex_unlock(&tab_mu);
    wlog(WLOG_INFO, "logout", "role=%s", r->s->role);
    snprintf(r->cookie, sizeof r->cookie,
             COOKIE "=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict");
}

/* === form fields === */

/* Split text (n bytes, modified in place) into r->fields. */
static int
parse_fields(con_req *r, char *text, size_t n)
{
    char *p = text, *end = text + n;
    int cap = 0;

    while (p < end) {
        char *amp = memchr(p, '&', (size_t)(end - p));
        char *stop = amp != NULL ? amp : end;
        char *eq = memchr(p, '=', (size_t)(stop - p));
        struct con_field *f;

        *stop = '\0';
        if (stop == p) {
            p = stop + 1;
            continue;
        }
        if (r->nfields == cap) {
            struct con_field *nf;

            cap = cap ? cap * 2 : 8;
            if (cap > 256)
                return -1;
            nf = realloc(r->fields, (size_t)cap * sizeof *nf);
            if (nf == NULL)
                return -1;
            r->fields = nf;
        }
        f = &r->fields[r->nfields++];
        f->key = p;
        if (eq != NULL) {
            *eq = '\0';
            f->val = eq + 1;
        } else {
            f->val = stop;
        }
        form_decode(f->key, strlen(f->key));
        f->vlen = form_decode(f->val, (size_t)(stop - f->val));
        p = stop + 1;
    }
    return 0;
}

char *
con_field(const con_req *r, const char *key)
{
    for (int i = 0; i < r->nfields; i++)
        if (strcmp(r->fields[i].key, key) == 0)
            return r->fields[i].val;
    return NULL;
}

/* === checks === */

static int
host_ok(const con_server *srv, const char *host)
{
    if (host == NULL)
        return 0;
    for (int i = 0; i < srv->nhosts; i++)
        if (strcasecmp(host, srv->hosts[i]) == 0)
            return 1;
    return 0;
}

/* A POST must come from a page of the console: its Origin, or else its
 * Referer, names this origin. */
static int
origin_ok(const con_req *r, const char *origin, const char *referer)
{
    char self[320];

    snprintf(self, sizeof self, "http://%s", r->host);
    if (origin != NULL) {
        if (strcasecmp(origin, self) == 0)
            return 1;
        for (int i = 0; i < r->srv->norigins; i++)
            if (strcasecmp(origin, r->srv->origins[i]) == 0)
                return 1;
        return 0;
    }
    if (referer != NULL) {
        size_t n = strlen(self);

        if (strncasecmp(referer, self, n) == 0 && referer[n] == '/')
            return 1;
        for (int i = 0; i < r->srv->norigins; i++) {
            n = strlen(r->srv->origins[i]);
            if (strncasecmp(referer, r->srv->origins[i], n) == 0 &&
                referer[n] == '/')
                return 1;
        }
    }
    return 0;
}

/* === serving === */

static void
serve(struct MHD_Connection *conn,
      const char *method,
      struct conn_ctx *ctx,
      con_req *r)
{
    const char *cookie, *ctype;
    char *path, *q;
    int post = strcmp(method, "POST") == 0;

    r->method = method;
    r->status = 200;
    r->ctype = "text/html; charset=utf-8";
    path = ctx->uri;
    q = strchr(path, '?');
    if (q != NULL)
        *q++ = '\0';
    r->path = path;
    r->query = q != NULL ? q : "";
    r->host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Host");
    if (!host_ok(r->srv, r->host)) {
        /* DNS rebinding: another name for this address is another site. */
        wlog(WLOG_WARN, "request refused: unknown Host", "host=%s", r->host);
        r->host = r->srv->hosts[0];
        con_page_error(r, 421, "unknown Host: use the console's own address");
        return;
    }
    if (!post && strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        con_page_error(r, 405, "method not allowed");
        return;
    }
    if (strcmp(path, "/static/console.css") == 0 ||
        strcmp(path, "/static/console.js") == 0) {
        int css = strcmp(path, "/static/console.css") == 0;

        cli_buf_puts(&r->out, css ? con_css : con_js);
        r->ctype =
            css ? "text/css; charset=utf-8" : "text/javascript; charset=utf-8";
        return;
    }
    cookie = MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, COOKIE);
    r->s = session_get(cookie);

    if (post) {
        ctype =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
        if (ctx->too_big) {
            con_page_error(r, 413, "the form is too large");
            return;
        }
        if (ctype == NULL ||
            strncasecmp(ctype, "application/x-www-form-urlencoded", 33) != 0) {
            con_page_error(r, 415, "forms only");
            return;
        }
        r->body = ctx->body;
        r->body_len = ctx->len;
        if (r->body != NULL && parse_fields(r, r->body, ctx->len) != 0) {
            con_page_error(r, 400, "malformed form");
            return;
        }
        if (!origin_ok(
                r, MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Origin"),
                MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                            "Referer"))) {
            wlog(WLOG_WARN, "POST refused: foreign or no Origin", "path=%s",
                 path);
            con_page_error(r, 403,
                           "refused: this form did not come from the console");
            return;
        }
    } else if (q != NULL && parse_fields(r, q, strlen(q)) != 0) {
        con_page_error(r, 400, "malformed query");
        return;
    }

    if (strcmp(path, "/login") == 0) {
        if (!post && r->s != NULL) {
            snprintf(r->location, sizeof r->location, "/");
            return;
        }
        if (!post) {
            con_page_login(r, 200, NULL);
            return;
        }
        {
            const char *role = con_field(r, "role");
            const char *pw = con_field(r, "password");
            const char *msg;

            if (role == NULL || role[0] == '\0' ||
                strlen(role) >= CON_ROLE_MAX || pw == NULL || pw[0] == '\0' ||
                strlen(pw) > 1024) {
                con_page_login(r, 401, "give a role and its password");
                return;
            }
            if (con_login(r, role, pw, &msg) != 0) {
                con_page_login(r, 401, msg);
                return;
            }
            snprintf(r->location, sizeof r->location, "/");
        }
        return;
    }
    if (r->s == NULL) {
        if (post) {
            con_page_error(r, 403, "refused: not logged in");
        } else if (strncmp(path, "/fragment/", 10) == 0) {
            con_page_error(r, 401, "not logged in");
        } else {
            snprintf(r->location, sizeof r->location, "/login");
        }
        return;
    }
    if (post && !token_eq(con_field(r, "csrf"), r->s->csrf)) {
        wlog(WLOG_WARN, "POST refused: missing or wrong form token",
             "role=%s path=%s", r->s->role, path);
        con_page_error(r, 403, "refused: missing or wrong form token");
        return;
    }
    if (post && strcmp(path, "/logout") == 0) {
        con_logout(r);
        snprintf(r->location, sizeof r->location, "/login");
        return;
    }
    pthread_mutex_lock(&r->s->mu);
    /* The page's own refreshes do not keep a session alive. */
    if (strncmp(path, "/fragment/", 10) != 0)
        r->s->last_used = con_now();
    con_route(r);
    pthread_mutex_unlock(&r->s->mu);
}

static enum MHD_Result
respond(struct MHD_Connection *conn, con_req *r)
{
    static const char *const headers[][2] = {
        {"Content-Security-Policy",
         "default-src 'none'; style-src 'self'; script-src 'self'; "
         "connect-src 'self'; img-src 'self'; form-action 'self'; "
         "frame-ancestors 'none'; base-uri 'none'"},
        {"X-Content-Type-Options", "nosniff"},
        {"X-Frame-Options", "DENY"},
        {"Referrer-Policy", "same-origin"},
        {"Cache-Control", "no-store"},
    };
    static char empty[1];
    struct MHD_Response *resp;
    enum MHD_Result rc;

    if (r->location[0] != '\0') {
        r->status = 303;
        r->out.len = 0;
    }
    if (r->out.oom) {
        cli_buf_free(&r->out);
        r->status = 500;
    }
    resp = MHD_create_response_from_buffer(
        r->out.len, r->out.len ? r->out.data : empty, MHD_RESPMEM_MUST_COPY);
    if (resp == NULL)
        return MHD_NO;
    for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++)
        MHD_add_response_header(resp, headers[i][0], headers[i][1]);
    MHD_add_response_header(resp, "Content-Type", r->ctype);
    if (r->location[0] != '\0')
        MHD_add_response_header(resp, "Location", r->location);
    if (r->cookie[0] != '\0')
        MHD_add_response_header(resp, "Set-Cookie", r->cookie);
    rc = MHD_queue_response(conn, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static enum MHD_Result
on_request(void *cls,
           struct MHD_Connection *conn,
           const char *url,
           const char *method,
           const char *version,
           const char *upload,
           size_t *upload_size,
           void **con_cls)
{
    struct conn_ctx *ctx = *con_cls;
    con_req r;
    enum MHD_Result rc;

    (void)url;
    (void)version;
    if (ctx == NULL || ctx->uri == NULL)
        return MHD_NO;
    if (!ctx->started) {
        ctx->started = 1;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        size_t n = *upload_size;

        *upload_size = 0;
        if (ctx->too_big || ctx->len + n > CON_BODY_MAX) {
            ctx->too_big = 1;
            return MHD_YES;
        }
        if (ctx->len + n + 1 > ctx->cap) {
            size_t cap = ctx->cap ? ctx->cap : 4096;
            char *nb;

            while (cap < ctx->len + n + 1)
                cap *= 2;
            nb = malloc(cap);
            if (nb == NULL)
                return MHD_NO;
            /* Not realloc: a form may hold a password, wiped below. */
            if (ctx->body != NULL) {
                memcpy(nb, ctx->body, ctx->len);
                sodium_memzero(ctx->body, ctx->cap);
                free(ctx->body);
            }
            ctx->body = nb;
            ctx->cap = cap;
        }
        memcpy(ctx->body + ctx->len, upload, n);
        ctx->len += n;
        ctx->body[ctx->len] = '\0';
        return MHD_YES;
    }

    memset(&r, 0, sizeof r);
    r.srv = cls;
    serve(conn, method, ctx, &r);
    rc = respond(conn, &r);
    session_put(r.s);
    free(r.fields);
    cli_buf_free(&r.out);
    return rc;
}

static void *
on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct conn_ctx *ctx = calloc(1, sizeof *ctx);

    (void)cls;
    (void)conn;
    if (ctx != NULL)
        ctx->uri = strdup(uri);
    return ctx;
}

static void
on_done(void *cls,
        struct MHD_Connection *conn,
        void **con_cls,
        enum MHD_RequestTerminationCode why)
{
    struct conn_ctx *ctx = *con_cls;

    (void)cls;
    (void)conn;
    (void)why;
    if (ctx == NULL)
        return;
    if (ctx->body != NULL)
        sodium_memzero(ctx->body, ctx->cap);
    free(ctx->body);
    free(ctx->uri);
    free(ctx);
    *con_cls = NULL;
}

void *
con_http_start(
    con_server *srv, const void *addr, unsigned alen, int ipv6, unsigned *port)
{
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION |
                     MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC;
    struct MHD_Daemon *d;
    const union MHD_DaemonInfo *info;

    (void)alen;
    if (ipv6)
        flags |= MHD_USE_IPv6;
    d = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, srv, MHD_OPTION_SOCK_ADDR, addr,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, NULL, MHD_OPTION_NOTIFY_COMPLETED,
        on_done, NULL, MHD_OPTION_CONNECTION_LIMIT, (unsigned)64,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60, MHD_OPTION_END);
    if (d == NULL)
        return NULL;
    info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    *port = info != NULL ? (unsigned)info->port : 0u;
    return d;
}

void
con_http_stop(void *daemon)
{
    MHD_stop_daemon(daemon);
}
