/*
 * formdecode.h - decoding of application/x-www-form-urlencoded fields in
 * place: shared by txq-sqs (the query protocol's forms) and `txq console`
 * (its login and action forms), which both read HTML-form bodies.
 */
#ifndef TXQ_WORKER_FORMDECODE_H
#define TXQ_WORKER_FORMDECODE_H

#include <stddef.h>

/* The value of hex digit c, or -1. */
static inline int
form_hexv(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decode a form field of n bytes in place ('+' is a space, %XX a byte; a
 * malformed % stays as it is) and NUL-terminate it; its new length. */
static inline size_t
form_decode(char *s, size_t n)
{
    size_t i, o = 0;

    for (i = 0; i < n; i++) {
        if (s[i] == '+') {
            s[o++] = ' ';
        } else if (s[i] == '%' && i + 2 < n && form_hexv(s[i + 1]) >= 0 &&
                   form_hexv(s[i + 2]) >= 0) {
            s[o++] = (char)(form_hexv(s[i + 1]) * 16 + form_hexv(s[i + 2]));
            i += 2;
        } else {
            s[o++] = s[i];
        }
    }
    s[o] = '\0';
    return o;
}

#endif /* TXQ_WORKER_FORMDECODE_H */
