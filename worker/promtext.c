/*
 * promtext.c - the Prometheus pieces txq-worker and txq-sqs share (see
 * promtext.h): no HTTP, no database.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "promtext.h"

const double prom_bucket_le[PROM_NBUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025,
                                              0.05,  0.1,    0.25,  0.5,  1,
                                              2.5,   5,      10,    30,   60};

size_t
prom_bucket_of(double seconds)
{
    size_t b = 0;

    while (b < PROM_NBUCKETS && seconds > prom_bucket_le[b])
        b++;
    return b;
}

int
prom_parse_listen(const char *v,
                  char *host,
                  size_t hostsize,
                  char *port,
                  size_t portsize,
                  char *err,
                  size_t errsize)
{
    const char *colon, *h = "127.0.0.1", *p = v;
    size_t hlen = strlen(h), i;
    char *end;
    long n;

    if (v[0] == '[') {
        const char *close = strchr(v, ']');

        if (close == NULL || close[1] != ':') {
            snprintf(err, errsize, "expected [IPV6]:PORT (got \"%.80s\")", v);
            return -1;
        }
        h = v + 1;
        hlen = (size_t)(close - h);
        p = close + 2;
    } else if ((colon = strrchr(v, ':')) != NULL) {
        h = v;
        hlen = (size_t)(colon - v);
        p = colon + 1;
        if (memchr(v, ':', hlen) != NULL) {
            snprintf(err, errsize,
                     "an IPv6 address goes in brackets: [::1]:PORT (got "
                     "\"%.80s\")",
                     v);
            return -1;
        }
    }
    if (hlen == 0 || hlen >= hostsize) {
        snprintf(err, errsize, "expected HOST:PORT or PORT (got \"%.80s\")", v);
        return -1;
    }
    for (i = 0; i < hlen; i++)
        if (!(isalnum((unsigned char)h[i]) || strchr(".-:%_", h[i]))) {
            snprintf(err, errsize, "bad host in \"%.80s\"", v);
            return -1;
        }
    errno = 0;
    n = strtol(p, &end, 10);
    if (!isdigit((unsigned char)p[0]) || *end != '\0' || errno != 0 || n < 0 ||
        n > 65535 || strlen(p) >= portsize) {
        snprintf(err, errsize,
                 "expected a port between 0 and 65535 (got \"%.80s\")", v);
        return -1;
    }
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    snprintf(port, portsize, "%ld", n);
    return 0;
}

int
prom_buf_init(prom_buf *b)
{
    b->len = 0;
    b->failed = 0;
    b->cap = 8192;
    b->p = malloc(b->cap);
    if (b->p == NULL)
        return -1;
    b->p[0] = '\0';
    return 0;
}

void
prom_printf(prom_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (b->failed)
        return;
    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = 1;
            return;
        }
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        {
            size_t cap = (b->cap + (size_t)n + 1) * 2;
            char *p = realloc(b->p, cap);

            if (p == NULL) {
                b->failed = 1;
                return;
            }
            b->p = p;
            b->cap = cap;
        }
    }
}

void
prom_head(prom_buf *b, const char *name, const char *type, const char *help)
{
    prom_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

const char *
prom_label(const char *v, char *out, size_t size)
{
    size_t o = 0;

    for (; *v != '\0' && o + 3 < size; v++) {
        if (*v == '\\' || *v == '"') {
            out[o++] = '\\';
            out[o++] = *v;
        } else if (*v == '\n') {
            out[o++] = '\\';
            out[o++] = 'n';
        } else {
            out[o++] = *v;
        }
    }
    out[o] = '\0';
    return out;
}
