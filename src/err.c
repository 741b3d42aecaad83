/*
 * err.c - error codes and messages: txq_strerror, txq_err_name, the per-handle
 * error (errmsg, SQLSTATE) and the one place server errors are classified into
 * txq_err codes.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "txq_int.h"

const char *
txq_strerror(txq_err err)
{
    switch (err) {
#define TXQ__ERR_TEXT(name, value, text) \
    case TXQ_##name:                     \
        return text;
        TXQ_ERR_MAP(TXQ__ERR_TEXT)
#undef TXQ__ERR_TEXT
    }
    return "unknown error";
}

const char *
txq_err_name(txq_err err)
{
    switch (err) {
#define TXQ__ERR_NAME(name, value, text) \
    case TXQ_##name:                     \
        return "TXQ_" #name;
        TXQ_ERR_MAP(TXQ__ERR_NAME)
#undef TXQ__ERR_NAME
    }
    return "unknown";
}

const char *
txq_version(void)
{
#define TXQ__STR2(x) #x
#define TXQ__STR(x)  TXQ__STR2(x)
    return TXQ__STR(TXQ_VERSION_MAJOR) "." TXQ__STR(
        TXQ_VERSION_MINOR) "." TXQ__STR(TXQ_VERSION_PATCH);
#undef TXQ__STR
#undef TXQ__STR2
}

int
txq_version_number(void)
{
    return TXQ_VERSION_NUMBER;
}

const char *
txq_errmsg(const txq_client *c)
{
    return c == NULL ? "" : c->errmsg;
}

const char *
txq_sqlstate(const txq_client *c)
{
    return c == NULL ? "" : c->sqlstate;
}

void
txq__clear_error(txq_client *c)
{
    c->errmsg[0] = '\0';
    c->sqlstate[0] = '\0';
}

/* Cut s to fit size bytes without splitting a UTF-8 sequence, dropping a
 * trailing newline (libpq's messages end with one). */
static void
copy_message(char *dst, size_t size, const char *s)
{
    size_t len = strlen(s);

    if (len >= size) {
        len = size - 1;
        /* Back off continuation bytes so the cut lands on a boundary. */
        while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
            len--;
    }
    while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r'))
        len--;
    /* One line: libpq's multi-line connection messages become one, with
     * each run of line breaks and tabs turned into a single space. */
    for (size_t i = 0, o = 0;; i++) {
        if (i == len) {
            dst[o] = '\0';
            break;
        }
        if (s[i] == '\n' || s[i] == '\r' || s[i] == '\t') {
            if (o > 0 && dst[o - 1] != ' ')
                dst[o++] = ' ';
            continue;
        }
        dst[o++] = s[i];
    }
}

void
txq__copy_message(txq_client *c, const char *msg)
{
    copy_message(c->errmsg, sizeof c->errmsg, msg);
}

txq_err
txq__set_error(txq_client *c, txq_err code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(c->errmsg, sizeof c->errmsg, fmt, ap);
    va_end(ap);
    c->sqlstate[0] = '\0';
    return code;
}

txq_err
txq__classify(const char *sqlstate, PGconn *pg)
{
    if (pg != NULL && PQstatus(pg) == CONNECTION_BAD)
        return TXQ_ECONN;
    if (sqlstate == NULL || strlen(sqlstate) != 5)
        return TXQ_EDB;
    if (strncmp(sqlstate, "08", 2) == 0)
        return TXQ_ECONN;
    if (strcmp(sqlstate, "40001") == 0 || strcmp(sqlstate, "40P01") == 0)
        return TXQ_ECONFLICT;
    if (strncmp(sqlstate, "22", 2) == 0)
        return TXQ_EINVAL;
    if (strcmp(sqlstate, "54000") == 0)
        return TXQ_ETOOBIG;
    if (strcmp(sqlstate, "TQ002") == 0)
        return TXQ_ENOTFOUND;
    if (strcmp(sqlstate, "TQ003") == 0 || strcmp(sqlstate, "55000") == 0)
        return TXQ_ESTATE;
    if (strcmp(sqlstate, "TQ004") == 0)
        return TXQ_ENOROUTE;
    if (strcmp(sqlstate, "TQ005") == 0)
        return TXQ_EINVAL;
    if (strcmp(sqlstate, "42501") == 0)
        return TXQ_EPERM;
    if (strcmp(sqlstate, "42710") == 0)
        return TXQ_EEXIST;
    if (strcmp(sqlstate, "3F000") == 0 || strcmp(sqlstate, "42883") == 0 ||
        strcmp(sqlstate, "42P01") == 0)
        return TXQ_ESCHEMA;
    return TXQ_EDB;
}

txq_err
txq__set_pg_error(txq_client *c, PGconn *pg, const PGresult *res)
{
    const char *state = NULL;
    const char *msg = NULL;

    if (res != NULL) {
        state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
        if (msg == NULL || msg[0] == '\0')
            msg = PQresultErrorMessage(res);
    }
    if ((msg == NULL || msg[0] == '\0') && pg != NULL)
        msg = PQerrorMessage(pg);
    if (msg == NULL || msg[0] == '\0')
        msg = "unknown database error";
    copy_message(c->errmsg, sizeof c->errmsg, msg);
    if (state != NULL && strlen(state) == 5)
        memcpy(c->sqlstate, state, 6);
    else
        c->sqlstate[0] = '\0';
    return txq__classify(state, pg);
}
