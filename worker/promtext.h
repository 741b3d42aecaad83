/*
 * promtext.h - what txq-worker's and txq-sqs's Prometheus endpoints share
 * that needs no HTTP: the metrics_listen value's syntax, the duration
 * histograms' bucket bounds, and a growing buffer for the text exposition
 * (format 0.0.4). The HTTP side is promhttp.h. Kept apart from it so that
 * the worker's unit tests, which link config.c, need no libmicrohttpd.
 */
#ifndef TXQ_PROMTEXT_H
#define TXQ_PROMTEXT_H

#include <stddef.h>

/* Upper bounds (seconds) of a duration histogram's buckets; +Inf follows.
 * The same for both programs, so that dashboards may put them side by
 * side. */
#define PROM_NBUCKETS 15
extern const double prom_bucket_le[PROM_NBUCKETS];

/* The bucket (0 .. PROM_NBUCKETS, the last for +Inf) of seconds. */
size_t prom_bucket_of(double seconds);

/*
 * prom_parse_listen - split a metrics_listen value: "PORT" (on
 * 127.0.0.1), "HOST:PORT" or "[IPV6]:PORT", PORT 0 to 65535 (0: any free
 * port). host and port get NUL-terminated copies. Returns 0, or -1 with
 * the problem in err.
 */
int prom_parse_listen(const char *v,
                      char *host,
                      size_t hostsize,
                      char *port,
                      size_t portsize,
                      char *err,
                      size_t errsize);

/* A text exposition being written: p is malloc'd, len bytes and a NUL;
 * failed once out of memory (every later write is then dropped). */
typedef struct prom_buf {
    char *p;
    size_t len, cap;
    int failed;
} prom_buf;

/* Start b empty: 0, or -1 out of memory. */
int prom_buf_init(prom_buf *b);

void prom_printf(prom_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The # HELP and # TYPE lines of a metric. */
void
prom_head(prom_buf *b, const char *name, const char *type, const char *help);

/* A label value escaped as the format wants (\\, \" and \n) into out;
 * longer ones are cut. Returns out. */
const char *prom_label(const char *v, char *out, size_t size);

#endif /* TXQ_PROMTEXT_H */
