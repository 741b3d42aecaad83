/*
 * mask.h - keep a conninfo's password out of ps: shared by txq-worker and
 * the txq command-line tool, which both take --db.
 */
#ifndef TXQ_WORKER_MASK_H
#define TXQ_WORKER_MASK_H

/*
 * mask_password - overwrite every copy of the password of conninfo s (a
 * string of argv, already copied elsewhere for use) with 'x', or all of s
 * when the password is not there verbatim (quoted, percent-encoded) or s
 * does not parse. ps and /proc/PID/cmdline then do not show it.
 */
void mask_password(char *s);

#endif /* TXQ_WORKER_MASK_H */
