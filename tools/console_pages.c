/*
 * console_pages.c - the pages of `txq console` and its actions, run on the
 * session's connection as the role that logged in: the queues
 * (queue_stats, with rates from its counters), a queue with its dead
 * letters, one dead letter with its error history and an editor for its
 * body and headers, the alerts; pause, resume, purge, requeue, discard and
 * the edit (console_actions.c).
 *
 * Every value reaches the server as a query parameter; the one
 * identifier in SQL text is the schema, validated at start. Everything
 * shown goes through con_esc. A POST answers with a redirect and a
 * one-time message on success, with an error page on a refusal (403 for
 * 42501, 404 for a dead letter or queue that is not there or not
 * visible).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "console.h"
#include "log.h"
#include "txq.h"

/* === HTML === */

void
con_esc(cli_buf *b, const char *s, size_t n)
{
    size_t i = 0, k;

    while (i < n) {
        unsigned char c = (unsigned char)s[i];

        k = cli_utf8_len(s + i, n - i);
        if (k == 0 || (c < 0x20 && c != '\n' && c != '\t' && c != '\r') ||
            c == 0x7f) {
            cli_buf_puts(b, "\xef\xbf\xbd");
            i += k == 0 ? 1 : k;
            continue;
        }
        switch (c) {
        case '&':
            cli_buf_puts(b, "&amp;");
            break;
        case '<':
            cli_buf_puts(b, "&lt;");
            break;
        case '>':
            cli_buf_puts(b, "&gt;");
            break;
        case '"':
            cli_buf_puts(b, "&quot;");
            break;
        case '\'':
            cli_buf_puts(b, "&#39;");
            break;
        default:
            cli_buf_putn(b, s + i, k);
        }
        i += k;
    }
}

void
con_escs(cli_buf *b, const char *s)
{
    con_esc(b, s, strlen(s));
}

/* printf whose %s arguments are NOT escaped: only for constants and
 * numbers. */
static void put(con_req *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
put(con_req *r, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n > 0)
        cli_buf_putn(&r->out, buf,
                     (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

static void
esc(con_req *r, const char *s)
{
    con_escs(&r->out, s);
}

static void
csrf_input(con_req *r)
{
    put(r, "<input type=\"hidden\" name=\"csrf\" value=\"%s\">", r->s->csrf);
}

static void
page_begin(con_req *r, const char *title)
{
    put(r, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
           "<meta name=\"viewport\" content=\"width=device-width\">"
           "<title>");
    esc(r, title);
    put(r, " - txq console</title>"
           "<link rel=\"stylesheet\" href=\"/static/console.css\">"
           "<script src=\"/static/console.js\" defer></script></head><body>"
           "<header><a class=\"brand\" href=\"/\">txq console</a>");
    if (r->s != NULL) {
        put(r, "<nav><a href=\"/\">Queues</a><a href=\"/alerts\">Alerts</a>"
               "</nav><span class=\"who\">");
        esc(r, r->s->role);
        put(r, " &middot; schema ");
        esc(r, r->srv->schema);
        put(r, "</span><form method=\"post\" action=\"/logout\">");
        csrf_input(r);
        put(r, "<button class=\"link\">Log out</button></form>");
    }
    put(r, "</header><main>");
    if (r->s != NULL && r->s->flash[0] != '\0') {
        put(r, "<p class=\"flash%s\" role=\"status\">",
            r->s->flash_error ? " error" : "");
        esc(r, r->s->flash);
        put(r, "</p>");
        r->s->flash[0] = '\0';
    }
}

static void
page_end(con_req *r)
{
    put(r, "</main></body></html>\n");
}

void
con_page_error(con_req *r, int status, const char *msg)
{
    r->status = status;
    r->out.len = 0;
    page_begin(r, "Error");
    put(r, "<h1>Error %d</h1><p class=\"flash error\">", status);
    esc(r, msg);
    put(r, "</p><p><a href=\"/\">Back to the queues</a></p>");
    page_end(r);
}

void
con_page_login(con_req *r, int status, const char *msg)
{
    r->status = status;
    page_begin(r, "Log in");
    put(r, "<h1>Log in</h1><p>With a PostgreSQL role and its password: the "
           "console acts as that role, and its grants decide what you see "
           "and may do.</p>");
    if (msg != NULL) {
        put(r, "<p class=\"flash error\" role=\"alert\">");
        esc(r, msg);
        put(r, "</p>");
    }
    put(r, "<form method=\"post\" action=\"/login\" class=\"login\">"
           "<label>Role <input name=\"role\" autocomplete=\"username\" "
           "required autofocus></label>"
           "<label>Password <input name=\"password\" type=\"password\" "
           "autocomplete=\"current-password\" required></label>"
           "<button>Log in</button></form>");
    page_end(r);
}

/* === SQL === */

PGresult *
con_run(con_req *r,
        const char *sql,
        int n,
        const char *const *params,
        char *err,
        size_t errsize,
        char state[6])
{
    cli_buf text = {0};
    const char *p = sql, *at;
    PGresult *res;
    ExecStatusType st;

    state[0] = '\0';
    while ((at = strstr(p, "@s@")) != NULL) {
        cli_buf_putn(&text, p, (size_t)(at - p));
        cli_buf_puts(&text, r->srv->schema_ident);
        p = at + 3;
    }
    cli_buf_puts(&text, p);
    if (text.oom) {
        cli_buf_free(&text);
        snprintf(err, errsize, "out of memory");
        return NULL;
    }
    res = PQexecParams(r->s->pg, text.data, n, NULL, params, NULL, NULL, 0);
    cli_buf_free(&text);
    st = PQresultStatus(res);
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
        return res;
    {
        const char *m = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
        const char *c = PQresultErrorField(res, PG_DIAG_SQLSTATE);

        snprintf(err, errsize, "%s", m != NULL ? m : PQerrorMessage(r->s->pg));
        snprintf(state, 6, "%s", c != NULL ? c : "");
    }
    PQclear(res);
    if (PQstatus(r->s->pg) != CONNECTION_OK) {
        /* The password is gone: a lost connection ends the session. */
        snprintf(err, errsize,
                 "the database connection was lost: log in again");
        snprintf(state, 6, "08006");
        con_logout(r);
    }
    return NULL;
}

void
con_sql_error(con_req *r, const char *err, const char *state)
{
    int status = 500;

    if (strcmp(state, "42501") == 0)
        status = 403;
    else if (strcmp(state, "TQ002") == 0)
        status = 404;
    else if (strncmp(state, "22", 2) == 0 || strcmp(state, "TQ005") == 0)
        status = 400;
    con_page_error(r, status, err);
}

int
con_valid_id(const char *s)
{
    size_t n = s != NULL ? strlen(s) : 0;

    if (n == 0 || n > 18 || s[0] == '0')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

static long long
num(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? 0 : atoll(PQgetvalue(res, row, col));
}

static void
put_age(con_req *r, double s)
{
    if (s <= 0)
        put(r, "&ndash;");
    else if (s < 60)
        put(r, "%.1f s", s);
    else if (s < 3600)
        put(r, "%ld min %02ld s", (long)s / 60, (long)s % 60);
    else if (s < 86400)
        put(r, "%.1f h", s / 3600);
    else
        put(r, "%.1f d", s / 86400);
}

/* === the queues === */

static const char stats_sql[] =
    "select queue, paused, estimated, depth, ready, in_flight, dead,"
    " coalesce(extract(epoch from oldest_ready_age), 0)::float8,"
    " depth + acked + dead_lettered + ignored + expired + discarded"
    " - requeued, acked, retried + dead_lettered, delayed, retrying"
    " from @s@.queue_stats where $1::text is null or queue = $1"
    " order by queue";

static const struct con_rate *
rate_of(const con_session *s, const char *name)
{
    for (int i = 0; i < s->nrates; i++)
        if (strcmp(s->rates[i].name, name) == 0)
            return &s->rates[i];
    return NULL;
}

static void
put_rate(con_req *r,
         const struct con_rate *was,
         long long now,
         long long then,
         double dt)
{
    double v;

    if (was == NULL || dt <= 0.2) {
        put(r, "<td class=\"n dim\">&ndash;</td>");
        return;
    }
    v = (double)(now - then) / dt;
    put(r, "<td class=\"n\">%.1f</td>", v < 0 ? 0 : v);
}

/* The queues table (the page's and its refreshes'). */
static void
queues_table(con_req *r)
{
    const char *params[1] = {NULL};
    char err[512], state[6], stamp[16] = "";
    PGresult *res = con_run(r, stats_sql, 1, params, err, sizeof err, state);
    struct con_rate *now = NULL;
    double t = con_now(), dt = t - r->s->rates_at;
    time_t wall = time(NULL);
    struct tm tm;
    int n;

    if (res == NULL) {
        put(r, "<p class=\"empty\">This role may see no queues");
        if (strcmp(state, "42501") != 0) {
            put(r, " (");
            esc(r, err);
            put(r, ")");
        }
        put(r, ".</p>");
        return;
    }
    n = PQntuples(res);
    if (n == 0) {
        put(r, "<p class=\"empty\">No queues this role may monitor.</p>");
        PQclear(res);
        return;
    }
    now = calloc((size_t)n, sizeof *now);
    put(r, "<table class=\"queues\"><thead><tr><th>Queue</th><th>State</th>"
           "<th class=\"n\">Depth</th><th class=\"n\">Ready</th>"
           "<th class=\"n\">In flight</th><th class=\"n\">Oldest ready</th>"
           "<th class=\"n\">Dead letters</th><th class=\"n\">Sent/s</th>"
           "<th class=\"n\">Acked/s</th><th class=\"n\">Failed/s</th>"
           "</tr></thead><tbody>");
    for (int i = 0; i < n; i++) {
        const char *name = PQgetvalue(res, i, 0);
        const struct con_rate *was = rate_of(r->s, name);
        long long dead = num(res, i, 6);
        struct con_rate cur = {0};

        snprintf(cur.name, sizeof cur.name, "%s", name);
        cur.moved = num(res, i, 8);
        cur.acked = num(res, i, 9);
        cur.failed = num(res, i, 10);
        if (now != NULL)
            now[i] = cur;
        put(r, "<tr><td><a href=\"/queue?name=");
        esc(r, name);
        put(r, "\">");
        esc(r, name);
        put(r,
            "</a></td><td>%s</td><td class=\"n\">%s%lld</td>"
            "<td class=\"n\">%lld</td><td class=\"n\">%lld</td>"
            "<td class=\"n\">",
            strcmp(PQgetvalue(res, i, 1), "t") == 0
                ? "<span class=\"badge paused\">paused</span>"
                : "<span class=\"badge\">running</span>",
            strcmp(PQgetvalue(res, i, 2), "t") == 0 ? "~" : "", num(res, i, 3),
            num(res, i, 4), num(res, i, 5));
        put_age(r, atof(PQgetvalue(res, i, 7)));
        put(r, "</td><td class=\"n%s\">%lld</td>", dead > 0 ? " bad" : "",
            dead);
        put_rate(r, was, cur.moved, was ? was->moved : 0, dt);
        put_rate(r, was, cur.acked, was ? was->acked : 0, dt);
        put_rate(r, was, cur.failed, was ? was->failed : 0, dt);
        put(r, "</tr>");
    }
    put(r, "</tbody></table>");
    if (localtime_r(&wall, &tm) != NULL)
        strftime(stamp, sizeof stamp, "%H:%M:%S", &tm);
    put(r,
        "<p class=\"dim\">Updated %s; refreshed every 3 seconds. "
        "Depths marked ~ are estimates.</p>",
        stamp);
    if (now != NULL) {
        free(r->s->rates);
        r->s->rates = now;
        r->s->nrates = n;
        r->s->rates_at = t;
    }
    PQclear(res);
}

static void
page_queues(con_req *r)
{
    page_begin(r, "Queues");
    put(r, "<h1>Queues</h1><div id=\"queues\" "
           "data-refresh=\"/fragment/queues\">");
    queues_table(r);
    put(r, "</div>");
    page_end(r);
}

/* === one queue === */

/* The queue's figures (the page's and its refreshes'); 0 running, 1
 * paused, or -1 when the role sees no such queue. */
static int
queue_stats_box(con_req *r, const char *name)
{
    const char *params[1] = {name};
    char err[512], state[6];
    PGresult *res = con_run(r, stats_sql, 1, params, err, sizeof err, state);
    int paused;

    if (res == NULL || PQntuples(res) == 0) {
        PQclear(res);
        put(r, "<p class=\"empty\">This role may not monitor this "
               "queue.</p>");
        return -1;
    }
    put(r, "<dl class=\"stats\">");
    put(r, "<div><dt>State</dt><dd>%s</dd></div>",
        strcmp(PQgetvalue(res, 0, 1), "t") == 0 ? "paused" : "running");
    put(r, "<div><dt>Depth</dt><dd>%lld</dd></div>", num(res, 0, 3));
    put(r, "<div><dt>Ready</dt><dd>%lld</dd></div>", num(res, 0, 4));
    put(r, "<div><dt>In flight</dt><dd>%lld</dd></div>", num(res, 0, 5));
    put(r, "<div><dt>Delayed</dt><dd>%lld</dd></div>", num(res, 0, 11));
    put(r, "<div><dt>Retrying</dt><dd>%lld</dd></div>", num(res, 0, 12));
    put(r, "<div><dt>Dead letters</dt><dd class=\"%s\">%lld</dd></div>",
        num(res, 0, 6) > 0 ? "bad" : "", num(res, 0, 6));
    put(r, "<div><dt>Acked</dt><dd>%lld</dd></div>", num(res, 0, 9));
    put(r, "<div><dt>Oldest ready</dt><dd>");
    put_age(r, atof(PQgetvalue(res, 0, 7)));
    put(r, "</dd></div></dl>");
    paused = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
    PQclear(res);
    return paused;
}

static void
action_form(con_req *r,
            const char *action,
            const char *name,
            const char *label,
            const char *reason_hint,
            int reason_required,
            const char *cls)
{
    put(r, "<form method=\"post\" action=\"/action/%s\" class=\"inline\">",
        action);
    csrf_input(r);
    put(r, "<input type=\"hidden\" name=\"name\" value=\"");
    esc(r, name);
    put(r,
        "\"><input name=\"reason\" placeholder=\"%s\"%s>"
        "<button class=\"%s\">%s</button></form>",
        reason_hint, reason_required ? " required" : "", cls, label);
}

static const char dead_list_sql[] =
    "select id, reason, attempts,"
    " to_char(failed_at, 'YYYY-MM-DD HH24:MI:SS'), last_error"
    " from @s@.dead_letters where queue = $1 order by failed_at, id"
    " limit 200";

static void
page_queue(con_req *r)
{
    const char *name = con_field(r, "name");
    const char *params[1] = {name};
    char err[512], state[6];
    PGresult *res;
    int paused;

    if (!txq_name_valid(name)) {
        con_page_error(r, 400, "not a queue name");
        return;
    }
    page_begin(r, name);
    put(r, "<p class=\"crumbs\"><a href=\"/\">Queues</a> /</p><h1>");
    esc(r, name);
    put(r, "</h1><div id=\"stats\" data-refresh=\"/fragment/queue?name=");
    esc(r, name);
    put(r, "\">");
    paused = queue_stats_box(r, name);
    put(r, "</div><section class=\"actions\"><h2>Actions</h2>");
    if (paused != 1)
        action_form(r, "pause", name, "Pause deliveries", "reason (optional)",
                    0, "");
    if (paused != 0)
        action_form(r, "resume", name, "Resume deliveries", "reason (optional)",
                    0, "");
    action_form(r, "purge", name, "Purge every message", "reason (required)", 1,
                "danger");
    put(r, "</section><h2>Dead letters</h2>");
    res = con_run(r, dead_list_sql, 1, params, err, sizeof err, state);
    if (res == NULL) {
        put(r, "<p class=\"empty\">This role may not see them.</p>");
    } else if (PQntuples(res) == 0) {
        put(r, "<p class=\"empty\">None.</p>");
    } else {
        put(r, "<table class=\"dead\"><thead><tr><th>Id</th><th>Reason</th>"
               "<th class=\"n\">Attempts</th><th>Failed at</th>"
               "<th>Last error</th></tr></thead><tbody>");
        for (int i = 0; i < PQntuples(res); i++) {
            const char *e = PQgetvalue(res, i, 4);
            size_t elen = strlen(e);

            put(r, "<tr><td><a href=\"/dead?id=");
            esc(r, PQgetvalue(res, i, 0));
            put(r, "\">");
            esc(r, PQgetvalue(res, i, 0));
            put(r, "</a></td><td>");
            esc(r, PQgetvalue(res, i, 1));
            put(r, "</td><td class=\"n\">");
            esc(r, PQgetvalue(res, i, 2));
            put(r, "</td><td>");
            esc(r, PQgetvalue(res, i, 3));
            put(r, "</td><td class=\"err\">");
            /* cut at a character boundary */
            if (elen > 160) {
                elen = 160;
                while (elen > 0 && ((unsigned char)e[elen] & 0xc0) == 0x80)
                    elen--;
            }
            con_esc(&r->out, e, elen);
            put(r, "%s</td></tr>", elen < strlen(e) ? "&hellip;" : "");
        }
        put(r, "</tbody></table>");
    }
    PQclear(res);
    page_end(r);
}

/* === one dead letter === */

static const char dead_sql[] =
    "select id, queue, reason, attempts,"
    " to_char(failed_at, 'YYYY-MM-DD HH24:MI:SS TZ'),"
    " to_char(enqueued_at, 'YYYY-MM-DD HH24:MI:SS TZ'), priority,"
    " group_key, correlation_id, reply_to,"
    " case when headers = '{}' then '{}' else jsonb_pretty(headers) end,"
    " encrypted, body from @s@.dead_letters where id = $1::bigint";

static const char dead_errors_sql[] =
    "select e->>'attempt',"
    " to_char((e->>'failed_at')::timestamptz, 'YYYY-MM-DD HH24:MI:SS TZ'),"
    " e->>'error'"
    " from @s@.dead_letters d, jsonb_array_elements(d.errors) e"
    " where d.id = $1::bigint";

static void
field_row(con_req *r, const char *label, const PGresult *res, int col)
{
    put(r, "<div><dt>%s</dt><dd>", label);
    if (PQgetisnull(res, 0, col))
        put(r, "&ndash;");
    else
        esc(r, PQgetvalue(res, 0, col));
    put(r, "</dd></div>");
}

/* 1 when a body is text the editor keeps as it is: UTF-8 without NUL or
 * control characters other than tab, newline and carriage return. */
static int
editable(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((p[i] < 0x20 && p[i] != '\t' && p[i] != '\n' && p[i] != '\r') ||
            p[i] == 0x7f)
            return 0;
    return cli_utf8_valid(p, n, 1);
}

static void
page_dead(con_req *r)
{
    const char *id = con_field(r, "id");
    const char *params[1] = {id};
    char err[512], state[6];
    PGresult *res, *errs;
    unsigned char *body = NULL;
    size_t blen = 0;
    int sealed, text;
    const char *queue;

    if (!con_valid_id(id)) {
        con_page_error(r, 400, "not a dead letter id");
        return;
    }
    res = con_run(r, dead_sql, 1, params, err, sizeof err, state);
    if (res == NULL || PQntuples(res) == 0) {
        PQclear(res);
        con_page_error(r, 404,
                       res == NULL ? err
                                   : "no such dead letter, or this role may "
                                     "not see it");
        return;
    }
    queue = PQgetvalue(res, 0, 1);
    sealed = strcmp(PQgetvalue(res, 0, 11), "t") == 0;
    body =
        PQunescapeBytea((const unsigned char *)PQgetvalue(res, 0, 12), &blen);
    text = body != NULL && editable(body, blen);
    page_begin(r, "Dead letter");
    put(r, "<p class=\"crumbs\"><a href=\"/\">Queues</a> / <a "
           "href=\"/queue?name=");
    esc(r, queue);
    put(r, "\">");
    esc(r, queue);
    put(r, "</a> /</p><h1>Dead letter ");
    esc(r, id);
    put(r, "</h1><dl class=\"fields\">");
    field_row(r, "Queue", res, 1);
    field_row(r, "Reason", res, 2);
    field_row(r, "Attempts", res, 3);
    field_row(r, "Failed at", res, 4);
    field_row(r, "Enqueued at", res, 5);
    field_row(r, "Priority", res, 6);
    field_row(r, "Group", res, 7);
    field_row(r, "Correlation id", res, 8);
    field_row(r, "Reply to", res, 9);
    put(r, "</dl><h2>Errors</h2>");
    errs = con_run(r, dead_errors_sql, 1, params, err, sizeof err, state);
    if (errs != NULL && PQntuples(errs) > 0) {
        put(r, "<table class=\"errors\"><thead><tr><th class=\"n\">Attempt"
               "</th><th>Failed at</th><th>Error</th></tr></thead><tbody>");
        for (int i = 0; i < PQntuples(errs); i++) {
            put(r, "<tr><td class=\"n\">");
            esc(r, PQgetvalue(errs, i, 0));
            put(r, "</td><td>");
            esc(r, PQgetvalue(errs, i, 1));
            put(r, "</td><td class=\"err\"><pre>");
            esc(r, PQgetvalue(errs, i, 2));
            put(r, "</pre></td></tr>");
        }
        put(r, "</tbody></table>");
    } else {
        put(r, "<p class=\"empty\">None recorded.</p>");
    }
    PQclear(errs);

    put(r, "<h2>Body and headers</h2>");
    if (sealed || !text) {
        put(r, "<p class=\"empty\">%s (%zu bytes): not editable here.</p>",
            sealed ? "The body is sealed (an encrypted queue)"
                   : "The body is not plain UTF-8 text",
            blen);
    } else {
        /* The newline after <textarea> is eaten by the HTML parser, so a
         * body that starts with one keeps it. */
        put(r, "<form method=\"post\" action=\"/action/edit\" "
               "class=\"edit\">");
        csrf_input(r);
        put(r, "<input type=\"hidden\" name=\"id\" value=\"");
        esc(r, id);
        put(r,
            "\"><label>Body (%zu bytes)<textarea name=\"body\" rows=\"8\" "
            "spellcheck=\"false\">\n",
            blen);
        con_esc(&r->out, (const char *)body, blen);
        put(r, "</textarea></label><label>Headers (JSON)<textarea "
               "name=\"headers\" rows=\"4\" spellcheck=\"false\">\n");
        esc(r, PQgetvalue(res, 0, 10));
        put(r, "</textarea></label><button>Save changes</button></form>");
    }
    put(r, "<section class=\"actions\"><h2>Resolve</h2>"
           "<form method=\"post\" action=\"/action/requeue\" "
           "class=\"inline\">");
    csrf_input(r);
    put(r, "<input type=\"hidden\" name=\"id\" value=\"");
    esc(r, id);
    put(r, "\"><input type=\"hidden\" name=\"queue\" value=\"");
    esc(r, queue);
    put(r, "\"><button class=\"primary\">Requeue</button></form>"
           "<form method=\"post\" action=\"/action/discard\" "
           "class=\"inline\">");
    csrf_input(r);
    put(r, "<input type=\"hidden\" name=\"id\" value=\"");
    esc(r, id);
    put(r, "\"><input type=\"hidden\" name=\"queue\" value=\"");
    esc(r, queue);
    put(r, "\"><input name=\"reason\" placeholder=\"reason (required)\" "
           "required><button class=\"danger\">Discard</button></form>"
           "</section>");
    PQfreemem(body);
    PQclear(res);
    page_end(r);
}

/* === alerts === */

static const char alerts_sql[] =
    "select id, to_char(raised_at, 'YYYY-MM-DD HH24:MI:SS'), queue,"
    " message_id, reason, error, delivered from @s@.alerts"
    " order by id desc limit 200";

static void
page_alerts(con_req *r)
{
    char err[512], state[6];
    PGresult *res = con_run(r, alerts_sql, 0, NULL, err, sizeof err, state);

    page_begin(r, "Alerts");
    put(r, "<h1>Alerts</h1><p class=\"dim\">Raised when a queue with "
           "on_exhausted = notify dead-letters a message; the newest "
           "first.</p>");
    if (res == NULL) {
        put(r, "<p class=\"empty\">This role may not read alerts%s</p>",
            strcmp(state, "42501") == 0
                ? " (members of txq_operator or txq_admin may)."
                : ".");
    } else if (PQntuples(res) == 0) {
        put(r, "<p class=\"empty\">None.</p>");
    } else {
        put(r, "<table class=\"alerts\"><thead><tr><th>Raised at</th>"
               "<th>Queue</th><th>Message</th><th>Reason</th><th>Error</th>"
               "<th>Delivered</th></tr></thead><tbody>");
        for (int i = 0; i < PQntuples(res); i++) {
            put(r, "<tr><td>");
            esc(r, PQgetvalue(res, i, 1));
            put(r, "</td><td><a href=\"/queue?name=");
            esc(r, PQgetvalue(res, i, 2));
            put(r, "\">");
            esc(r, PQgetvalue(res, i, 2));
            put(r, "</a></td><td>");
            esc(r, PQgetvalue(res, i, 3));
            put(r, "</td><td>");
            esc(r, PQgetvalue(res, i, 4));
            put(r, "</td><td class=\"err\">");
            esc(r, PQgetvalue(res, i, 5));
            put(r, "</td><td>%s</td></tr>",
                strcmp(PQgetvalue(res, i, 6), "t") == 0 ? "yes" : "no");
        }
        put(r, "</tbody></table>");
    }
    PQclear(res);
    page_end(r);
}

void
con_route(con_req *r)
{
    int post = strcmp(r->method, "POST") == 0;
    const char *p = r->path;

    if (!post && strcmp(p, "/") == 0)
        page_queues(r);
    else if (!post && strcmp(p, "/fragment/queues") == 0)
        queues_table(r);
    else if (!post && strcmp(p, "/fragment/queue") == 0) {
        if (txq_name_valid(con_field(r, "name")))
            queue_stats_box(r, con_field(r, "name"));
    } else if (!post && strcmp(p, "/queue") == 0)
        page_queue(r);
    else if (!post && strcmp(p, "/dead") == 0)
        page_dead(r);
    else if (!post && strcmp(p, "/alerts") == 0)
        page_alerts(r);
    else if (!post || !con_action(r))
        con_page_error(r, 404, "no such page");
}
