/*
 * handler.h - the three kinds of txq-worker handlers behind one
 * txq_handler_fn: a SQL function (sql:schema.fn), a shared object
 * (so:path:symbol) and a program (exec:program args).
 */
#ifndef TXQ_WORKER_HANDLER_H
#define TXQ_WORKER_HANDLER_H

#include <stddef.h>

#include "txq.h"

typedef struct handler handler;

/* What each kind needs to know besides its spec. */
typedef struct handler_env {
    txq_client *c;      /* for replies */
    const char *schema; /* txq's schema */
    const char *queue;
    double timeout;       /* the handler budget, seconds */
    const char *pass_env; /* exec: what else of the environment to pass */
} handler_env;

/*
 * handler_check - check a handler spec's syntax (no I/O): sql: a function
 * name [schema.]fn of plain identifiers; so: a path, a colon and a C
 * symbol; exec: a command line that splits into at least one word.
 * Returns 0, or -1 with the problem in err.
 */
int handler_check(const char *spec, char *err, size_t errsize);

/* handler_check_command - check a command line (notify_command). */
int handler_check_command(const char *cmd, char *err, size_t errsize);

/*
 * handler_open - load a handler in the consumer process (so: dlopen and
 * dlsym; exec: split the command line). env is copied.
 * Returns the handler, or NULL with the problem in err.
 */
handler *handler_open(const char *spec,
                      const handler_env *env,
                      char *err,
                      size_t errsize);

/*
 * handler_prepare - check on a fresh connection what can only be checked
 * there (sql: that the function exists). Returns 0, or -1 with err.
 */
int handler_prepare(handler *h, PGconn *pg, char *err, size_t errsize);

/* The callback and its argument for txq_consumer_new. */
txq_handler_fn handler_fn(const handler *h);

/* handler_forget - what the handler prepared on its connection is gone:
 * prepare it again before the next message. */
void handler_forget(handler *h);
void *handler_arg(handler *h);

/* handler_close - unload and free. NULL is a no-op. */
void handler_close(handler *h);

/*
 * handler_verify - what a start can check of a handler before any message
 * comes: sql: the function exists with the right argument (prepared on pg,
 * then deallocated); exec: the program is found (a path that can be
 * executed, or a name on PATH); so: with load, the object loads and has
 * the symbol (without load, nothing: the supervisor does not load handler
 * code into itself). Returns 0, or -1 with the problem in err.
 */
int handler_verify(const char *spec,
                   const handler_env *env,
                   PGconn *pg,
                   int load,
                   char *err,
                   size_t errsize);

/* === kinds (handler_sql.c, handler_so.c, handler_exec.c) === */

int handler_sql_check(const char *name, char *err, size_t errsize);
void *handler_sql_open(const char *name,
                       const handler_env *env,
                       char *err,
                       size_t errsize);
int handler_sql_prepare(void *arg, PGconn *pg, char *err, size_t errsize);
void handler_sql_unprepare(PGconn *pg);
txq_handler_result handler_sql_run(
    PGconn *pg, const txq_msg *m, void *arg, char *err, size_t errsize);
void handler_sql_forget(void *arg);
void handler_sql_close(void *arg);

int handler_so_check(const char *rest, char *err, size_t errsize);
void *handler_so_open(const char *rest,
                      txq_handler_fn *fn,
                      char *err,
                      size_t errsize);
void handler_so_close(void *dl);

void *handler_exec_open(const char *cmd,
                        const handler_env *env,
                        char *err,
                        size_t errsize);
txq_handler_result handler_exec_run(
    PGconn *pg, const txq_msg *m, void *arg, char *err, size_t errsize);
int handler_exec_found(void *arg, char *err, size_t errsize);
void handler_exec_close(void *arg);

#endif /* TXQ_WORKER_HANDLER_H */
