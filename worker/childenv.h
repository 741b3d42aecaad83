/*
 * childenv.h - the environment of the programs txq-worker starts (exec:
 * handlers and notify_command). They get a few harmless variables of the
 * worker's own environment (PATH, HOME, USER, LOGNAME, SHELL, LANG,
 * LANGUAGE, LC_*, TZ, TMPDIR), the ones the pass_env setting names, and
 * their own TXQ_* variables; nothing else. So no PGPASSWORD, no TXQ_DB or
 * other conninfo, and no secret of the service the worker runs in reaches
 * a handler unless an operator names it.
 */
#ifndef TXQ_WORKER_CHILDENV_H
#define TXQ_WORKER_CHILDENV_H

#include <stddef.h>

/*
 * childenv_check - check a pass_env value: variable names ([A-Za-z_]
 * [A-Za-z0-9_]*) separated by commas or blanks; none may be one that
 * carries the worker's own credentials (PGPASSWORD, TXQ_DB).
 * Returns 0, or -1 with the problem in err.
 */
int childenv_check(const char *pass_env, char *err, size_t errsize);

/*
 * childenv_new - a NULL-terminated environment for execve: the variables
 * above that the worker's environment holds, then extra (nextra strings
 * "NAME=value"; NULL entries are skipped), which win over the same name.
 * pass_env must have passed childenv_check (NULL or "": none).
 * Returns the array (free with childenv_free), or NULL when out of memory.
 */
char **
childenv_new(const char *pass_env, const char *const *extra, size_t nextra);
void childenv_free(char **env);

#endif /* TXQ_WORKER_CHILDENV_H */
