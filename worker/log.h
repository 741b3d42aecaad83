/*
 * log.h - txq-worker's event log: one line per event on stderr, logfmt or
 * JSON (docs/worker.md). Never payloads, only ids.
 */
#ifndef TXQ_WORKER_LOG_H
#define TXQ_WORKER_LOG_H

enum wlog_level { WLOG_DEBUG = 0, WLOG_INFO, WLOG_WARN, WLOG_ERROR };

/* Set the format ("logfmt" or "json") and the lowest level logged.
 * Returns 0, or -1 for an unknown name (nothing changed). */
int wlog_set_format(const char *name);
int wlog_set_level(const char *name);

/* Parse a level or format name: the value, or -1. */
int wlog_parse_level(const char *name);
int wlog_parse_format(const char *name);

/*
 * wlog - log one event: ts, level and msg, then the context pairs of
 * kvfmt, a space-separated list of key=%conversion (%s %d %ld %lld %u %zu
 * %g %.Nf ...) whose arguments follow. A %s whose argument is NULL is left
 * out. Values are quoted and escaped as the format needs. A key written
 * key:json holds JSON text (an object, say): in the JSON format it is
 * nested as it is (as a string when it is not valid JSON), in logfmt it is
 * a quoted string. Keeps errno.
 */
void wlog(int level, const char *msg, const char *kvfmt, ...)
    __attribute__((format(printf, 3, 4)));

/* wlog_json_valid - whether s is one valid JSON value (white space around
 * it allowed). */
int wlog_json_valid(const char *s);

#endif /* TXQ_WORKER_LOG_H */
