/*
 * handler.c - dispatch of handler specs to their kind: sql:, so:, exec:.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handler.h"
#include "util.h"

enum kind { KIND_SQL = 1, KIND_SO, KIND_EXEC };

struct handler {
    enum kind kind;
    txq_handler_fn fn;
    void *arg;     /* sql/exec state, or the so's dl handle */
    txq_client *c; /* so: the handler's arg, for txq_reply */
};

static enum kind
kind_of(const char *spec, const char **rest)
{
    if (strncmp(spec, "sql:", 4) == 0) {
        *rest = spec + 4;
        return KIND_SQL;
    }
    if (strncmp(spec, "so:", 3) == 0) {
        *rest = spec + 3;
        return KIND_SO;
    }
    if (strncmp(spec, "exec:", 5) == 0) {
        *rest = spec + 5;
        return KIND_EXEC;
    }
    return 0;
}

int
handler_check_command(const char *cmd, char *err, size_t errsize)
{
    char **argv = split_args(cmd, err, errsize);

    if (argv == NULL)
        return -1;
    free_args(argv);
    return 0;
}

int
handler_check(const char *spec, char *err, size_t errsize)
{
    const char *rest = NULL;

    switch (kind_of(spec, &rest)) {
    case KIND_SQL:
        return handler_sql_check(rest, err, errsize);
    case KIND_SO:
        return handler_so_check(rest, err, errsize);
    case KIND_EXEC:
        return handler_check_command(rest, err, errsize);
    }
    snprintf(err, errsize,
             "unknown handler kind in \"%.60s\" (expected sql:schema.fn, "
             "so:path:symbol or exec:program args)",
             spec);
    return -1;
}

handler *
handler_open(const char *spec,
             const handler_env *env,
             char *err,
             size_t errsize)
{
    handler *h;
    const char *rest = NULL;

    if (handler_check(spec, err, errsize) != 0)
        return NULL;
    if ((h = calloc(1, sizeof *h)) == NULL) {
        snprintf(err, errsize, "out of memory");
        return NULL;
    }
    h->kind = kind_of(spec, &rest);
    h->c = env->c;
    switch (h->kind) {
    case KIND_SQL:
        h->fn = handler_sql_run;
        h->arg = handler_sql_open(rest, env, err, errsize);
        break;
    case KIND_SO:
        h->arg = handler_so_open(rest, &h->fn, err, errsize);
        break;
    case KIND_EXEC:
        h->fn = handler_exec_run;
        h->arg = handler_exec_open(rest, env, err, errsize);
        break;
    }
    if (h->arg == NULL) {
        free(h);
        return NULL;
    }
    return h;
}

int
handler_prepare(handler *h, PGconn *pg, char *err, size_t errsize)
{
    if (h->kind == KIND_SQL)
        return handler_sql_prepare(h->arg, pg, err, errsize);
    return 0;
}

int
handler_verify(const char *spec,
               const handler_env *env,
               PGconn *pg,
               int load,
               char *err,
               size_t errsize)
{
    const char *rest = NULL;
    handler *h;
    int rc = 0;

    if (kind_of(spec, &rest) == KIND_SO && !load)
        return handler_check(spec, err, errsize);
    if ((h = handler_open(spec, env, err, errsize)) == NULL)
        return -1;
    if (h->kind == KIND_SQL) {
        rc = handler_sql_prepare(h->arg, pg, err, errsize);
        if (rc == 0)
            handler_sql_unprepare(pg);
    } else if (h->kind == KIND_EXEC) {
        rc = handler_exec_found(h->arg, err, errsize);
    }
    handler_close(h);
    return rc;
}

void
handler_forget(handler *h)
{
    if (h->kind == KIND_SQL)
        handler_sql_forget(h->arg);
}

txq_handler_fn
handler_fn(const handler *h)
{
    return h->fn;
}

void *
handler_arg(handler *h)
{
    /* A shared object's handler gets the consumer's txq_client (bound to
     * the worker's schema), so that it can reply with txq_reply. */
    return h->kind == KIND_SO ? (void *)h->c : h->arg;
}

void
handler_close(handler *h)
{
    if (h == NULL)
        return;
    switch (h->kind) {
    case KIND_SQL:
        handler_sql_close(h->arg);
        break;
    case KIND_SO:
        handler_so_close(h->arg);
        break;
    case KIND_EXEC:
        handler_exec_close(h->arg);
        break;
    }
    free(h);
}
