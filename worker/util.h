/*
 * util.h - small helpers of txq-worker: clocks, argument splitting,
 * interruptible sleeps, connections.
 */
#ifndef TXQ_WORKER_UTIL_H
#define TXQ_WORKER_UTIL_H

#include <stddef.h>

#include <libpq-fe.h>

/* Monotonic clock in seconds. */
double now_mono(void);

/*
 * split_args - split a command line into words without a shell: spaces
 * separate words; '...' is literal; "..." keeps spaces and takes \" and \\;
 * outside quotes a backslash escapes the next character.
 * Returns a NULL-terminated array (free with free_args), or NULL with a
 * message in err (unbalanced quote, no words, out of memory).
 */
char **split_args(const char *s, char *err, size_t errsize);
void free_args(char **argv);

/*
 * db_connect - connect to conninfo ("" or NULL: the libpq environment),
 * with connect_timeout 10 unless conninfo sets one, application_name
 * txq-worker and client_encoding UTF8. Returns the connection (check
 * PQstatus; PQfinish it either way), or NULL when out of memory.
 */
PGconn *db_connect(const char *conninfo, const char *appname);

/* A one-line copy of PQerrorMessage (no trailing newline) in buf. */
const char *db_error(PGconn *pg, char *buf, size_t size);

/* Set close-on-exec / non-blocking on fd. Return 0 or -1. */
int fd_cloexec(int fd);
int fd_nonblock(int fd);

/* Write one byte, ignoring a full pipe (async-signal-safe). */
void poke(int fd, char byte);

/* Read and discard everything readable on a non-blocking fd; returns 0,
 * or -1 on EOF. */
int drain_fd(int fd);

#endif /* TXQ_WORKER_UTIL_H */
