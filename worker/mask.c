/*
 * mask.c - keep a conninfo's password out of ps (see mask.h).
 */
#include <string.h>

#include <libpq-fe.h>

#include "mask.h"

void
mask_password(char *s)
{
    PQconninfoOption *opts, *o;
    char *msg = NULL, *at;
    const char *pw = NULL;

    if ((opts = PQconninfoParse(s, &msg)) == NULL) {
        PQfreemem(msg);
        memset(s, 'x', strlen(s)); /* unparsable: no connection uses it */
        return;
    }
    for (o = opts; o->keyword != NULL; o++)
        if (strcmp(o->keyword, "password") == 0 && o->val != NULL &&
            o->val[0] != '\0')
            pw = o->val;
    if (pw != NULL && strstr(s, pw) == NULL)
        memset(s, 'x', strlen(s));
    else if (pw != NULL)
        while ((at = strstr(s, pw)) != NULL)
            memset(at, 'x', strlen(pw));
    PQconninfoFree(opts);
}
