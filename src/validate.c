/*
 * validate.c - argument checks made in C before any round trip: names,
 * UTF-8 text, durations. Each failure names the field and changes nothing.
 */
#include <math.h>
#include <string.h>

#include "txq_int.h"
#include "txq_topic.h"

/* How much of an untrusted input an error message may echo. */
#define SHOW_MAX 60

const char *
txq__show(char *buf, size_t size, const char *s)
{
    size_t i = 0;
    size_t lim = size > 4 ? size - 4 : 0;

    if (lim > SHOW_MAX)
        lim = SHOW_MAX;
    for (; s[i] != '\0' && i < lim; i++) {
        unsigned char ch = (unsigned char)s[i];
        buf[i] = (ch >= 0x20 && ch < 0x7F) ? (char)ch : '?';
    }
    if (s[i] != '\0') {
        memcpy(buf + i, "...", 3);
        i += 3;
    }
    if (size > 0)
        buf[i < size ? i : size - 1] = '\0';
    return buf;
}

int
txq__utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    while (*p != '\0') {
        unsigned int cp;
        int extra;

        if (*p < 0x80) {
            p++;
            continue;
        } else if ((*p & 0xE0) == 0xC0) {
            cp = *p & 0x1Fu;
            extra = 1;
        } else if ((*p & 0xF0) == 0xE0) {
            cp = *p & 0x0Fu;
            extra = 2;
        } else if ((*p & 0xF8) == 0xF0) {
            cp = *p & 0x07u;
            extra = 3;
        } else {
            return 0;
        }
        for (int i = 1; i <= extra; i++) {
            if ((p[i] & 0xC0) != 0x80)
                return 0; /* also catches the terminating NUL */
            cp = (cp << 6) | (p[i] & 0x3Fu);
        }
        /* Overlong forms, UTF-16 surrogates, beyond U+10FFFF. */
        if ((extra == 1 && cp < 0x80) || (extra == 2 && cp < 0x800) ||
            (extra == 3 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        p += extra + 1;
    }
    return 1;
}

/* Whether s matches [a-z][a-z0-9_]{0,62}, or with first_underscore
 * [a-z_]..., with dot also allowing . after the first character: the rule
 * of schema and topic names. */
static int
name_valid(const char *s, int first_underscore, int dot)
{
    size_t i;

    if (s == NULL)
        return 0;
    if (!((s[0] >= 'a' && s[0] <= 'z') || (first_underscore && s[0] == '_')))
        return 0;
    for (i = 1; s[i] != '\0'; i++) {
        char ch = s[i];
        if (i >= TXQ__NAME_MAX)
            return 0;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || (dot && ch == '.')))
            return 0;
    }
    return 1;
}

/* A queue name, SQS's rule: [A-Za-z0-9_-]{1,80}, or [A-Za-z0-9_-]{1,75}
 * followed by ".fifo". */
int
txq_name_valid(const char *name)
{
    size_t i, n;

    if (name == NULL)
        return 0;
    for (i = 0; name[i] != '\0'; i++) {
        char ch = name[i];
        if (i >= TXQ__QUEUE_NAME_MAX)
            return 0;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' || ch == '.'))
            return 0;
    }
    n = i;
    if (n == 0)
        return 0;
    if (strchr(name, '.') == NULL)
        return 1;
    /* The only dot is that of a ".fifo" suffix after 1 or more others. */
    return n > 5 && strcmp(name + n - 5, ".fifo") == 0 &&
           strchr(name, '.') == name + n - 5;
}

int
txq_schema_name_valid(const char *name)
{
    return name_valid(name, 1, 0);
}

int
txq_topic_name_valid(const char *name)
{
    return name_valid(name, 0, 1);
}

txq_err
txq__check_queue_name(txq_client *c, const char *field, const char *name)
{
    char shown[SHOW_MAX + 4];

    if (name == NULL)
        return txq__set_error(c, TXQ_EINVAL, "%s is NULL", field);
    if (!txq_name_valid(name))
        return txq__set_error(c, TXQ_EINVAL,
                              "invalid %s \"%s\": use 1 to 80 characters "
                              "A-Z, a-z, 0-9, - and _, the last 5 of which "
                              "may be \".fifo\"",
                              field, txq__show(shown, sizeof shown, name));
    return TXQ_OK;
}

txq_err
txq__check_text(txq_client *c, const char *field, const char *s, int allow_ctl)
{
    if (s == NULL)
        return TXQ_OK;
    if (!txq__utf8_valid(s))
        return txq__set_error(c, TXQ_EINVAL, "%s is not valid UTF-8", field);
    if (!allow_ctl) {
        for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
            if ((*p < 0x20 && *p != '\t') || *p == 0x7F)
                return txq__set_error(
                    c, TXQ_EINVAL,
                    "%s contains a control character (byte 0x%02x)", field,
                    (unsigned int)*p);
        }
    }
    return TXQ_OK;
}

txq_err
txq__check_secs(
    txq_client *c, const char *field, double v, double min, double max)
{
    if (isnan(v) || isinf(v))
        return txq__set_error(c, TXQ_EINVAL,
                              "%s must be a finite number of seconds", field);
    if (v < min || v > max)
        return txq__set_error(
            c, TXQ_EINVAL,
            "%s must be between %.15g and %.15g seconds (got %g)", field, min,
            max, v);
    return TXQ_OK;
}

txq_err
txq__check_topic_name(txq_client *c, const char *name)
{
    char shown[SHOW_MAX + 4];

    if (name == NULL)
        return txq__set_error(c, TXQ_EINVAL, "topic name is NULL");
    if (!txq_topic_name_valid(name))
        return txq__set_error(c, TXQ_EINVAL,
                              "invalid topic name \"%s\": use 1 to 63 "
                              "characters a-z, 0-9, _ and ., starting with a "
                              "letter",
                              txq__show(shown, sizeof shown, name));
    return TXQ_OK;
}
