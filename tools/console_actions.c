/*
 * console_actions.c - the operator's actions of `txq console`: pause,
 * resume, purge, requeue, discard and the edit of a dead letter, each one
 * statement of txq's SQL API (or an UPDATE of txq.dead_letters) on the
 * session's connection, as the role that logged in: the database's grants
 * decide. A form's values reach the server only as query parameters.
 *
 * Success answers with a redirect (r->location) and a one-time message;
 * a refusal with an error page (con_sql_error: 403 for 42501, 404 for a
 * queue or dead letter that is not there or not visible).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <libpq-fe.h>

#include "console.h"
#include "log.h"
#include "txq.h"

static void flash(con_req *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
flash(con_req *r, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(r->s->flash, sizeof r->s->flash, fmt, ap);
    va_end(ap);
    r->s->flash_error = 0;
}

/* Browsers send a textarea's line breaks as CRLF: back to LF. */
static void
unix_newlines(char *s)
{
    char *o = s;

    for (; *s != '\0'; s++)
        if (!(s[0] == '\r' && s[1] == '\n'))
            *o++ = *s;
    *o = '\0';
}

/* Run an action's statement; NULL when it failed, answered already. */
static PGresult *
act_run(con_req *r, const char *sql, int n, const char *const *params)
{
    char err[512], state[6];
    PGresult *res = con_run(r, sql, n, params, err, sizeof err, state);

    if (res == NULL)
        con_sql_error(r, err, state);
    return res;
}

/* The form's queue name, or NULL after a 400 page. */
static const char *
act_queue(con_req *r)
{
    const char *name = con_field(r, "name");

    if (!txq_name_valid(name)) {
        con_page_error(r, 400, "not a queue name");
        return NULL;
    }
    return name;
}

static void
act_toggle(con_req *r, int pause)
{
    const char *name = act_queue(r), *reason = con_field(r, "reason");
    const char *params[2] = {name, reason != NULL && reason[0] ? reason : NULL};
    PGresult *res;

    if (name == NULL)
        return;
    res = act_run(r,
                  pause ? "select @s@.pause($1, $2)::int"
                        : "select @s@.resume($1, $2)::int",
                  2, params);
    if (res == NULL)
        return;
    wlog(WLOG_INFO, pause ? "pause" : "resume", "role=%s queue=%s", r->s->role,
         name);
    flash(r, "%s %s", name,
          strcmp(PQgetvalue(res, 0, 0), "1") == 0
              ? (pause ? "paused" : "resumed")
              : (pause ? "was paused already" : "was not paused"));
    PQclear(res);
    snprintf(r->location, sizeof r->location, "/queue?name=%s", name);
}

static void
act_purge(con_req *r)
{
    const char *name = act_queue(r), *reason = con_field(r, "reason");
    const char *params[2] = {name, reason};
    PGresult *res;

    if (name == NULL)
        return;
    res = act_run(r, "select @s@.purge($1, $2)", 2, params);
    if (res == NULL)
        return;
    wlog(WLOG_INFO, "purge", "role=%s queue=%s messages=%s", r->s->role, name,
         PQgetvalue(res, 0, 0));
    flash(r, "purged %s: %s messages deleted", name, PQgetvalue(res, 0, 0));
    PQclear(res);
    snprintf(r->location, sizeof r->location, "/queue?name=%s", name);
}

/* requeue, discard: back to the dead letter's queue (a name the form
 * carried, checked; the queues page otherwise). */
static void
act_dead(con_req *r, int requeue)
{
    const char *id = con_field(r, "id"), *queue = con_field(r, "queue");
    const char *reason = con_field(r, "reason");
    const char *params[2] = {id, reason};
    PGresult *res;

    if (!con_valid_id(id)) {
        con_page_error(r, 400, "not a dead letter id");
        return;
    }
    res = act_run(r,
                  requeue ? "select @s@.requeue($1::bigint)"
                          : "select @s@.discard($1::bigint, $2)",
                  requeue ? 1 : 2, params);
    if (res == NULL)
        return;
    wlog(WLOG_INFO, requeue ? "requeue" : "discard", "role=%s id=%s",
         r->s->role, id);
    if (requeue)
        flash(r, "dead letter %s requeued (message %s)", id,
              PQgetvalue(res, 0, 0));
    else
        flash(r, "dead letter %s discarded", id);
    PQclear(res);
    if (txq_name_valid(queue))
        snprintf(r->location, sizeof r->location, "/queue?name=%s", queue);
    else
        snprintf(r->location, sizeof r->location, "/");
}

static void
act_edit(con_req *r)
{
    char *id = con_field(r, "id");
    char *body = con_field(r, "body");
    char *headers = con_field(r, "headers");
    const char *params[3];
    PGresult *res;

    if (!con_valid_id(id) || body == NULL || headers == NULL) {
        con_page_error(r, 400, "the form needs id, body and headers");
        return;
    }
    unix_newlines(body);
    unix_newlines(headers);
    params[0] = id;
    params[1] = body;
    params[2] = headers;
    res =
        act_run(r,
                "update @s@.dead_letters set body = convert_to($2, 'UTF8'),"
                " headers = $3::jsonb where id = $1::bigint and not encrypted",
                3, params);
    if (res == NULL)
        return;
    if (strcmp(PQcmdTuples(res), "1") != 0) {
        PQclear(res);
        con_page_error(r, 404,
                       "no such dead letter, or this role may not edit it");
        return;
    }
    PQclear(res);
    wlog(WLOG_INFO, "dead letter edited", "role=%s id=%s", r->s->role, id);
    flash(r, "dead letter %s saved", id);
    snprintf(r->location, sizeof r->location, "/dead?id=%s", id);
}

int
con_action(con_req *r)
{
    static const struct {
        const char *path;
        void (*fn)(con_req *, int);
        int arg;
    } toggles[] = {
        {"/action/pause", act_toggle, 1},
        {"/action/resume", act_toggle, 0},
        {"/action/requeue", act_dead, 1},
        {"/action/discard", act_dead, 0},
    };

    for (size_t i = 0; i < sizeof toggles / sizeof toggles[0]; i++)
        if (strcmp(r->path, toggles[i].path) == 0) {
            toggles[i].fn(r, toggles[i].arg);
            return 1;
        }
    if (strcmp(r->path, "/action/purge") == 0)
        act_purge(r);
    else if (strcmp(r->path, "/action/edit") == 0)
        act_edit(r);
    else
        return 0;
    return 1;
}
