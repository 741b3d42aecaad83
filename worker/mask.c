/*
 * mask.c - keep a conninfo's secrets out of ps (see mask.h).
 */
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "mask.h"

void
mask_password(char *s)
{
    PQconninfoOption *opts, *o;
    char *msg = NULL, *orig = NULL, *at;
    size_t len = strlen(s);

    if ((opts = PQconninfoParse(s, &msg)) == NULL) {
        PQfreemem(msg);
        memset(s, 'x', len); /* unparsable: no connection uses it */
        return;
    }
    /* Every copy of every secret is found in the original text, so that
     * masking one (a password inside the other) hides no part of the
     * other from the search. */
    if ((orig = strdup(s)) == NULL)
        goto all;
    for (o = opts; o->keyword != NULL; o++) {
        if (!mask_is_secret(o->keyword) || o->val == NULL || o->val[0] == '\0')
            continue;
        if (strstr(orig, o->val) == NULL)
            goto all;
        for (at = orig; (at = strstr(at, o->val)) != NULL; at++)
            memset(s + (at - orig), 'x', strlen(o->val));
    }
    goto out;
all:
    memset(s, 'x', len);
out:
    free(orig);
    PQconninfoFree(opts);
}
