/*
 * handler_so.c - so:path:symbol handlers: a shared object loaded with
 * dlopen in the consumer process; symbol is a txq_handler_fn (txq.h) and
 * gets the consume transaction's PGconn, the message, and as arg the
 * consumer's txq_client (bound to the worker's schema): a handler replies
 * to a request with txq_reply(arg, pg, m, ...) before it returns OK, so the
 * reply commits with its writes and the ack, or not at all.
 * A crash in it takes down only its consumer process; the attempt was
 * counted by the claim, so a message that always crashes ends in its
 * failure policy.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "handler.h"

int
handler_so_check(const char *rest, char *err, size_t errsize)
{
    const char *colon = strrchr(rest, ':');
    const char *p;

    if (colon == NULL || colon == rest || colon[1] == '\0')
        goto bad;
    for (p = colon + 1; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              *p == '_' || (p > colon + 1 && *p >= '0' && *p <= '9')))
            goto bad;
    return 0;
bad:
    snprintf(err, errsize,
             "so handler \"%.60s\": expected path:symbol (a C identifier "
             "after the last colon)",
             rest);
    return -1;
}

void *
handler_so_open(const char *rest, txq_handler_fn *fn, char *err, size_t errsize)
{
    const char *colon = strrchr(rest, ':');
    char path[4096];
    void *dl, *sym;

    if ((size_t)(colon - rest) >= sizeof path) {
        snprintf(err, errsize, "so handler: path too long");
        return NULL;
    }
    memcpy(path, rest, (size_t)(colon - rest));
    path[colon - rest] = '\0';
    dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (dl == NULL) {
        snprintf(err, errsize, "so handler: %s", dlerror());
        return NULL;
    }
    dlerror();
    sym = dlsym(dl, colon + 1);
    if (sym == NULL) {
        const char *e = dlerror();

        snprintf(err, errsize, "so handler: symbol %s: %s", colon + 1,
                 e != NULL ? e : "is NULL");
        dlclose(dl);
        return NULL;
    }
    /* POSIX guarantees a data pointer from dlsym converts to a function
     * pointer; ISO C does not, hence the copy. */
    memcpy(fn, &sym, sizeof *fn);
    return dl;
}

void
handler_so_close(void *dl)
{
    if (dl != NULL)
        dlclose(dl);
}
