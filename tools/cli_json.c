/*
 * cli_json.c - JSON text, base64 and UTF-8 checking for the txq CLI.
 *
 * Written by hand rather than with jansson: the CLI only ever writes flat
 * objects of a handful of fields (strings, numbers, and JSON the server
 * already produced), never parses JSON, and the whole job is a string
 * escaper, a base64 encoder and a UTF-8 validator. A dependency for that
 * would cost more than these ~200 lines.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

void
cli_buf_free(cli_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

static int
reserve(cli_buf *b, size_t extra)
{
    size_t cap;
    char *p;

    if (b->oom)
        return 0;
    if (b->len + extra + 1 <= b->cap)
        return 1;
    cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) {
        if (cap > (size_t)-1 / 2) {
            b->oom = 1;
            return 0;
        }
        cap *= 2;
    }
    p = realloc(b->data, cap);
    if (p == NULL) {
        b->oom = 1;
        return 0;
    }
    b->data = p;
    b->cap = cap;
    return 1;
}

void
cli_buf_putn(cli_buf *b, const void *p, size_t n)
{
    if (!reserve(b, n))
        return;
    if (n > 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void
cli_buf_puts(cli_buf *b, const char *s)
{
    cli_buf_putn(b, s, strlen(s));
}

void
cli_buf_printf(cli_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !reserve(b, (size_t)n)) {
        b->oom = 1;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

int
cli_buf_write(cli_buf *b)
{
    if (b->oom)
        return cli_fail(CLI_ERR, "out of memory");
    if (b->len > 0 && fwrite(b->data, 1, b->len, stdout) != b->len)
        return cli_fail(CLI_ERR, "cannot write output: %s", strerror(errno));
    return CLI_OK;
}

size_t
cli_utf8_len(const void *s, size_t n)
{
    const unsigned char *p = s;
    unsigned char c = p[0];
    size_t len, i;
    unsigned long cp;

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0; /* continuation byte, overlong lead 0xc0/0xc1, or > f4 */
    }
    if (len > n)
        return 0;
    for (i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

int
cli_utf8_valid(const void *p, size_t n, int no_nul)
{
    const unsigned char *s = p;
    size_t i = 0, k;

    while (i < n) {
        if (s[i] == 0 && no_nul)
            return 0;
        k = cli_utf8_len(s + i, n - i);
        if (k == 0)
            return 0;
        i += k;
    }
    return 1;
}

void
cli_json_str(cli_buf *b, const char *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)p;
    size_t i = 0, run = 0, k;
    char esc[7];

    cli_buf_putn(b, "\"", 1);
    while (i < n) {
        unsigned char c = s[i];
        const char *rep = NULL;

        if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
            run++;
            i++;
            continue;
        }
        k = c < 0x80 ? 1 : cli_utf8_len(s + i, n - i);
        if (k > 1) {
            run += k;
            i += k;
            continue;
        }
        cli_buf_putn(b, s + i - run, run);
        run = 0;
        switch (c) {
        case '"':
            rep = "\\\"";
            break;
        case '\\':
            rep = "\\\\";
            break;
        case '\n':
            rep = "\\n";
            break;
        case '\r':
            rep = "\\r";
            break;
        case '\t':
            rep = "\\t";
            break;
        case '\b':
            rep = "\\b";
            break;
        case '\f':
            rep = "\\f";
            break;
        default:
            if (c < 0x20) {
                memcpy(esc, "\\u00", 4);
                esc[4] = hex[c >> 4];
                esc[5] = hex[c & 0xf];
                esc[6] = '\0';
                rep = esc;
            } else {
                rep = "\\ufffd"; /* a byte that is not UTF-8 */
            }
        }
        cli_buf_puts(b, rep);
        i++;
    }
    cli_buf_putn(b, s + i - run, run);
    cli_buf_putn(b, "\"", 1);
}

void
cli_base64(cli_buf *b, const void *p, size_t n)
{
    static const char tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *s = p;
    char out[4];
    size_t i;

    if (!reserve(b, (n + 2) / 3 * 4))
        return;
    for (i = 0; i + 2 < n; i += 3) {
        unsigned long v =
            (unsigned long)s[i] << 16 | (unsigned long)s[i + 1] << 8 | s[i + 2];
        out[0] = tab[v >> 18 & 63];
        out[1] = tab[v >> 12 & 63];
        out[2] = tab[v >> 6 & 63];
        out[3] = tab[v & 63];
        cli_buf_putn(b, out, 4);
    }
    if (i < n) {
        unsigned long v = (unsigned long)s[i] << 16;
        if (i + 1 < n)
            v |= (unsigned long)s[i + 1] << 8;
        out[0] = tab[v >> 18 & 63];
        out[1] = tab[v >> 12 & 63];
        out[2] = i + 1 < n ? tab[v >> 6 & 63] : '=';
        out[3] = '=';
        cli_buf_putn(b, out, 4);
    }
}

void
cli_json_key(cli_buf *b, const char *key)
{
    if (b->len > 0 && b->data[b->len - 1] != '{')
        cli_buf_putn(b, ",", 1);
    cli_json_str(b, key, strlen(key));
    cli_buf_putn(b, ":", 1);
}

void
cli_json_body(cli_buf *b, const char *p, size_t n)
{
    if (cli_utf8_valid(p, n, 1)) {
        cli_json_key(b, "body");
        cli_json_str(b, p, n);
        return;
    }
    cli_json_key(b, "body_base64");
    cli_buf_putn(b, "\"", 1);
    cli_base64(b, p, n);
    cli_buf_putn(b, "\"", 1);
}
