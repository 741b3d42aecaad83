/*
 * log.c - one line per event on stderr, in logfmt (default) or JSON. The
 * line is built in a stack buffer and written with one fprintf, so lines of
 * concurrent worker processes do not interleave; errno is kept.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <sys/types.h>
#include <time.h>

#include "log.h"

#define LINE_MAX_BYTES 4096
#define VALUE_MAX      1024

static int log_json;
static int log_min = WLOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

int
wlog_parse_level(const char *name)
{
    int i;

    if (name == NULL)
        return -1;
    for (i = 0; i < 4; i++)
        if (strcasecmp(name, level_names[i]) == 0)
            return i;
    if (strcasecmp(name, "warning") == 0)
        return WLOG_WARN;
    return -1;
}

int
wlog_parse_format(const char *name)
{
    if (name == NULL)
        return -1;
    if (strcasecmp(name, "logfmt") == 0)
        return 0;
    if (strcasecmp(name, "json") == 0)
        return 1;
    return -1;
}

int
wlog_set_level(const char *name)
{
    int l = wlog_parse_level(name);

    if (l < 0)
        return -1;
    log_min = l;
    return 0;
}

int
wlog_set_format(const char *name)
{
    int f = wlog_parse_format(name);

    if (f < 0)
        return -1;
    log_json = f;
    return 0;
}

struct line {
    char buf[LINE_MAX_BYTES];
    size_t len;
};

static void
put(struct line *l, const char *s, size_t n)
{
    if (l->len + n >= sizeof l->buf - 2)
        n = sizeof l->buf - 2 - l->len;
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

static void
putc_line(struct line *l, char ch)
{
    put(l, &ch, 1);
}

/* A value, escaped for the format; quoted unless a bare word is fine. */
static void
put_value(struct line *l, const char *v, int numeric)
{
    const unsigned char *p;
    int quote = log_json ? !numeric : 0;

    if (!log_json) {
        quote = *v == '\0';
        for (p = (const unsigned char *)v; *p && !quote; p++)
            if (*p <= ' ' || *p == '"' || *p == '=' || *p == '\\' || *p == 0x7f)
                quote = 1;
    }
    if (quote)
        putc_line(l, '"');
    for (p = (const unsigned char *)v; *p; p++) {
        char esc[8];

        switch (*p) {
        case '"':
            put(l, "\\\"", 2);
            break;
        case '\\':
            put(l, "\\\\", 2);
            break;
        case '\n':
            put(l, "\\n", 2);
            break;
        case '\r':
            put(l, "\\r", 2);
            break;
        case '\t':
            put(l, "\\t", 2);
            break;
        default:
            if (*p < 0x20 || *p == 0x7f) {
                snprintf(esc, sizeof esc, "\\u%04x", *p);
                put(l, esc, strlen(esc));
            } else {
                putc_line(l, (char)*p);
            }
        }
    }
    if (quote)
        putc_line(l, '"');
}

/* --- a JSON validator, for values logged as JSON ---------------------- */

#define JSON_MAX_DEPTH 32

static const char *
json_ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    return p;
}

static const char *
json_string(const char *p)
{
    if (*p++ != '"')
        return NULL;
    for (;;) {
        unsigned char c = (unsigned char)*p++;

        if (c == '"')
            return p;
        if (c < 0x20)
            return NULL; /* also the end of the text */
        if (c == '\\') {
            c = (unsigned char)*p++;
            if (c == 'u') {
                int i;

                for (i = 0; i < 4; i++, p++)
                    if (!strchr("0123456789abcdefABCDEF", *p) || *p == '\0')
                        return NULL;
            } else if (c == '\0' || !strchr("\"\\/bfnrt", c)) {
                return NULL;
            }
        }
    }
}

static const char *
json_digits(const char *p)
{
    if (*p < '0' || *p > '9')
        return NULL;
    while (*p >= '0' && *p <= '9')
        p++;
    return p;
}

static const char *
json_number(const char *p)
{
    if (*p == '-')
        p++;
    if (*p == '0')
        p++;
    else if ((p = json_digits(p)) == NULL)
        return NULL;
    if (*p == '.' && (p = json_digits(p + 1)) == NULL)
        return NULL;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        p = json_digits(p);
    }
    return p;
}

/* One JSON value at p (after white space): the text after it, or NULL. */
static const char *
json_value(const char *p, int depth)
{
    char close;

    p = json_ws(p);
    if (*p == '{' || *p == '[') {
        if (depth >= JSON_MAX_DEPTH)
            return NULL;
        close = *p == '{' ? '}' : ']';
        p = json_ws(p + 1);
        if (*p == close)
            return p + 1;
        for (;;) {
            if (close == '}') {
                if ((p = json_string(json_ws(p))) == NULL)
                    return NULL;
                p = json_ws(p);
                if (*p++ != ':')
                    return NULL;
            }
            if ((p = json_value(p, depth + 1)) == NULL)
                return NULL;
            p = json_ws(p);
            if (*p == close)
                return p + 1;
            if (*p++ != ',')
                return NULL;
        }
    }
    if (*p == '"')
        return json_string(p);
    if (strncmp(p, "true", 4) == 0)
        return p + 4;
    if (strncmp(p, "false", 5) == 0)
        return p + 5;
    if (strncmp(p, "null", 4) == 0)
        return p + 4;
    return json_number(p);
}

int
wlog_json_valid(const char *s)
{
    const char *end = json_value(s, 0);

    return end != NULL && *json_ws(end) == '\0';
}

/* A value that is itself JSON, as it is (its white space made spaces, so
 * that it stays on the line). */
static void
put_raw_json(struct line *l, const char *v)
{
    for (; *v; v++)
        putc_line(l, *v == '\n' || *v == '\r' || *v == '\t' ? ' ' : *v);
}

/* kind: 1 numeric, 0 a string, 2 a string holding JSON. */
static void
put_pair(
    struct line *l, const char *key, size_t keylen, const char *v, int kind)
{
    if (log_json) {
        put(l, ",\"", 2);
        put(l, key, keylen);
        put(l, "\":", 2);
    } else {
        putc_line(l, ' ');
        put(l, key, keylen);
        putc_line(l, '=');
    }
    /* Nested JSON goes in as JSON, not as a string holding it; when it
     * would not fit on the line whole, or is not valid (cut at VALUE_MAX),
     * as a string. logfmt has no nesting: a quoted string there. */
    if (kind == 2 && log_json && l->len + strlen(v) + 2 < sizeof l->buf - 2 &&
        wlog_json_valid(v))
        put_raw_json(l, v);
    else
        put_value(l, v, kind == 1);
}

/*
 * Format one conversion spec (spec..end, e.g. "%lld") with the next
 * argument into out. Returns 1 for a numeric value, 0 for a string, -1 to
 * leave the pair out (a NULL string).
 */
static int
format_one(
    const char *spec, size_t speclen, va_list *ap, char *out, size_t outsize)
{
    char f[32];
    char conv = spec[speclen - 1];
    int longs = 0, size_t_mod = 0;
    size_t i;

    if (speclen >= sizeof f) {
        snprintf(out, outsize, "?");
        return 0;
    }
    memcpy(f, spec, speclen);
    f[speclen] = '\0';
    for (i = 1; i + 1 < speclen; i++) {
        if (spec[i] == 'l')
            longs++;
        else if (spec[i] == 'z')
            size_t_mod = 1;
    }
    switch (conv) {
    case 's': {
        const char *s = va_arg(*ap, const char *);

        if (s == NULL)
            return -1;
        snprintf(out, outsize, "%s", s);
        return 0;
    }
    case 'd':
    case 'i':
        if (size_t_mod)
            snprintf(out, outsize, "%zd", va_arg(*ap, ssize_t));
        else if (longs >= 2)
            snprintf(out, outsize, "%lld", va_arg(*ap, long long));
        else if (longs == 1)
            snprintf(out, outsize, "%ld", va_arg(*ap, long));
        else
            snprintf(out, outsize, "%d", va_arg(*ap, int));
        return 1;
    case 'u':
        if (size_t_mod)
            snprintf(out, outsize, "%zu", va_arg(*ap, size_t));
        else if (longs >= 2)
            snprintf(out, outsize, "%llu", va_arg(*ap, unsigned long long));
        else if (longs == 1)
            snprintf(out, outsize, "%lu", va_arg(*ap, unsigned long));
        else
            snprintf(out, outsize, "%u", va_arg(*ap, unsigned int));
        return 1;
    case 'f':
    case 'g':
    case 'e': {
        const char *dot = memchr(f, '.', speclen);
        int prec = dot != NULL ? atoi(dot + 1) : 6;
        double v = va_arg(*ap, double);

        if (conv == 'f')
            snprintf(out, outsize, "%.*f", prec, v);
        else if (conv == 'g')
            snprintf(out, outsize, "%.*g", prec, v);
        else
            snprintf(out, outsize, "%.*e", prec, v);
        return 1;
    }
    default:
        snprintf(out, outsize, "?");
        return 0;
    }
}

void
wlog(int level, const char *msg, const char *kvfmt, ...)
{
    int saved = errno;
    struct line l;
    struct timeval tv;
    struct tm tm;
    char ts[96];
    va_list ap;
    const char *p;

    if (level < log_min)
        return;
    if (level < WLOG_DEBUG || level > WLOG_ERROR)
        level = WLOG_ERROR;
    l.len = 0;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, (int)(tv.tv_usec / 1000));
    if (log_json) {
        put(&l, "{\"ts\":\"", 7);
        put(&l, ts, strlen(ts));
        put(&l, "\"", 1);
    } else {
        put(&l, "ts=", 3);
        put(&l, ts, strlen(ts));
    }
    put_pair(&l, "level", 5, level_names[level], 0);
    put_pair(&l, "msg", 3, msg, 0);

    va_start(ap, kvfmt);
    p = kvfmt != NULL ? kvfmt : "";
    while (*p) {
        const char *key, *eq, *spec, *end;
        char value[VALUE_MAX];
        size_t keylen;
        int kind, json = 0;

        while (*p == ' ')
            p++;
        if (*p == '\0')
            break;
        key = p;
        eq = strchr(key, '=');
        if (eq == NULL)
            break; /* a bad format: stop rather than guess */
        keylen = (size_t)(eq - key);
        if (keylen > 5 && strncmp(eq - 5, ":json", 5) == 0) {
            keylen -= 5; /* key:json=%s: the value is JSON */
            json = 1;
        }
        if (eq[1] != '%') {
            /* a literal value, up to the next space */
            end = eq + 1;
            while (*end && *end != ' ')
                end++;
            snprintf(value, sizeof value, "%.*s", (int)(end - eq - 1), eq + 1);
            put_pair(&l, key, keylen, value, json ? 2 : 0);
            p = end;
            continue;
        }
        spec = eq + 1;
        end = spec + 1;
        while (*end && strchr("0123456789.-+ #lhzj", *end) != NULL &&
               *end != ' ')
            end++;
        if (*end == '\0')
            break;
        end++; /* the conversion character */
        kind = format_one(spec, (size_t)(end - spec), &ap, value, sizeof value);
        if (kind >= 0)
            put_pair(&l, key, keylen, value, json && kind == 0 ? 2 : kind);
        p = end;
    }
    va_end(ap);
    if (log_json)
        putc_line(&l, '}');
    l.buf[l.len] = '\0';
    fprintf(stderr, "%s\n", l.buf);
    errno = saved;
}
