/*
 * mask.h - keep a conninfo's secrets out of ps: shared by txq-worker and
 * the txq command-line tool, which both take --db.
 */
#ifndef TXQ_WORKER_MASK_H
#define TXQ_WORKER_MASK_H

#include <string.h>

/*
 * mask_is_secret - whether a conninfo keyword holds a secret: password,
 * and sslpassword (the pass phrase of an encrypted sslkey).
 */
static inline int
mask_is_secret(const char *keyword)
{
    return strcmp(keyword, "password") == 0 ||
           strcmp(keyword, "sslpassword") == 0;
}

/*
 * mask_password - overwrite every copy of the secrets (mask_is_secret) of
 * conninfo s (a string of argv, already copied elsewhere for use) with
 * 'x', or all of s when a secret is not there verbatim (quoted,
 * percent-encoded), s does not parse, or memory runs out. ps and
 * /proc/PID/cmdline then do not show them.
 */
void mask_password(char *s);

#endif /* TXQ_WORKER_MASK_H */
