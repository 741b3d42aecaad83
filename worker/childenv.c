/*
 * childenv.c - the environment of exec: handlers and notify_command
 * (childenv.h). Built from an allow-list, not by removing what is known
 * to be secret: a secret nobody thought of (a cloud key, a token of the
 * service the worker runs in) stays with the worker too.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "childenv.h"

extern char **environ;

/* Passed whenever the worker has them: what a program needs to find its
 * tools, its home, its locale and its temporary directory. */
static const char *const BASE[] = {"PATH",     "HOME",  "USER",
                                   "LOGNAME",  "SHELL", "LANG",
                                   "LANGUAGE", "TZ",    "TMPDIR"};

/* Never passed, even when named: the worker's own credentials, and where
 * its keys are. */
static const char *const REFUSED[] = {"PGPASSWORD", "TXQ_DB", "TXQ_KEY_FILE"};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static int
is_sep(char ch)
{
    return ch == ',' || isspace((unsigned char)ch);
}

/* The length of the name at s (up to a separator or the end). */
static size_t
name_len(const char *s)
{
    size_t n = 0;

    while (s[n] != '\0' && !is_sep(s[n]))
        n++;
    return n;
}

static int
name_is(const char *s, size_t n, const char *name)
{
    return strlen(name) == n && strncmp(s, name, n) == 0;
}

int
childenv_check(const char *pass_env, char *err, size_t errsize)
{
    const char *s = pass_env != NULL ? pass_env : "";

    for (;;) {
        size_t n, i;

        while (is_sep(*s))
            s++;
        if (*s == '\0')
            return 0;
        n = name_len(s);
        if (!(isalpha((unsigned char)s[0]) || s[0] == '_')) {
            snprintf(err, errsize,
                     "\"%.*s\" is not a variable name (letters, digits and "
                     "_, not starting with a digit)",
                     (int)(n > 64 ? 64 : n), s);
            return -1;
        }
        for (i = 1; i < n; i++)
            if (!(isalnum((unsigned char)s[i]) || s[i] == '_')) {
                snprintf(err, errsize,
                         "\"%.*s\" is not a variable name (letters, digits "
                         "and _, not starting with a digit)",
                         (int)(n > 64 ? 64 : n), s);
                return -1;
            }
        for (i = 0; i < NELEM(REFUSED); i++)
            if (name_is(s, n, REFUSED[i])) {
                snprintf(err, errsize,
                         "%s carries the worker's credentials and is never "
                         "passed to a program",
                         REFUSED[i]);
                return -1;
            }
        s += n;
    }
}

/* Whether the variable "NAME=value" at e is to be passed. */
static int
wanted(const char *e, const char *pass_env)
{
    size_t n = strcspn(e, "=");
    const char *s = pass_env != NULL ? pass_env : "";
    size_t i;

    if (e[n] != '=')
        return 0;
    for (i = 0; i < NELEM(BASE); i++)
        if (name_is(e, n, BASE[i]))
            return 1;
    if (n > 3 && strncmp(e, "LC_", 3) == 0)
        return 1;
    for (;;) {
        size_t k;

        while (is_sep(*s))
            s++;
        if (*s == '\0')
            return 0;
        k = name_len(s);
        if (k == n && strncmp(s, e, n) == 0)
            return 1;
        s += k;
    }
}

/* Whether one of extra sets the variable at e. */
static int
overridden(const char *e, const char *const *extra, size_t nextra)
{
    size_t n = strcspn(e, "="), i;

    for (i = 0; i < nextra; i++)
        if (extra[i] != NULL && strncmp(extra[i], e, n) == 0 &&
            extra[i][n] == '=')
            return 1;
    return 0;
}

char **
childenv_new(const char *pass_env, const char *const *extra, size_t nextra)
{
    size_t cap = nextra + 1, n = 0, i;
    char **env;

    for (i = 0; environ != NULL && environ[i] != NULL; i++)
        cap++;
    if ((env = calloc(cap, sizeof *env)) == NULL)
        return NULL;
    for (i = 0; environ != NULL && environ[i] != NULL; i++) {
        if (!wanted(environ[i], pass_env) ||
            overridden(environ[i], extra, nextra))
            continue;
        if ((env[n++] = strdup(environ[i])) == NULL)
            goto oom;
    }
    for (i = 0; i < nextra; i++) {
        if (extra[i] == NULL)
            continue;
        if ((env[n++] = strdup(extra[i])) == NULL)
            goto oom;
    }
    env[n] = NULL;
    return env;
oom:
    childenv_free(env);
    return NULL;
}

void
childenv_free(char **env)
{
    size_t i;

    if (env == NULL)
        return;
    for (i = 0; env[i] != NULL; i++)
        free(env[i]);
    free(env);
}
