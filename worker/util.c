/*
 * util.c - small helpers of txq-worker (see util.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

double
now_mono(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void
free_args(char **argv)
{
    size_t i;

    if (argv == NULL)
        return;
    for (i = 0; argv[i] != NULL; i++)
        free(argv[i]);
    free(argv);
}

char **
split_args(const char *s, char *err, size_t errsize)
{
    size_t len = strlen(s), nwords = 0, cap = 4;
    char **argv = calloc(cap + 1, sizeof *argv);
    char *word = malloc(len + 1);
    const char *p = s;

    if (argv == NULL || word == NULL)
        goto nomem;
    for (;;) {
        size_t w = 0;
        int have = 0;

        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0')
            break;
        while (*p != '\0' && *p != ' ' && *p != '\t') {
            have = 1;
            if (*p == '\'') {
                const char *q = strchr(p + 1, '\'');

                if (q == NULL) {
                    snprintf(err, errsize, "unbalanced ' quote");
                    goto fail;
                }
                memcpy(word + w, p + 1, (size_t)(q - p - 1));
                w += (size_t)(q - p - 1);
                p = q + 1;
            } else if (*p == '"') {
                p++;
                while (*p != '"') {
                    if (*p == '\0') {
                        snprintf(err, errsize, "unbalanced \" quote");
                        goto fail;
                    }
                    if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
                        p++;
                    word[w++] = *p++;
                }
                p++;
            } else if (*p == '\\' && p[1] != '\0') {
                word[w++] = p[1];
                p += 2;
            } else {
                word[w++] = *p++;
            }
        }
        if (!have)
            break;
        if (nwords == cap) {
            char **n = realloc(argv, (cap * 2 + 1) * sizeof *argv);

            if (n == NULL)
                goto nomem;
            argv = n;
            cap *= 2;
        }
        word[w] = '\0';
        if ((argv[nwords] = strdup(word)) == NULL)
            goto nomem;
        argv[++nwords] = NULL;
    }
    free(word);
    if (nwords == 0) {
        snprintf(err, errsize, "no program given");
        free_args(argv);
        return NULL;
    }
    return argv;
nomem:
    snprintf(err, errsize, "out of memory");
fail:
    free(word);
    free_args(argv);
    return NULL;
}

/* The server's notices and warnings (a handler's RAISE WARNING, say) as
 * log events: libpq's default prints them raw on stderr, which breaks
 * the logfmt and JSON formats. */
static void
notice_to_log(void *arg, const PGresult *r)
{
    const char *sev = PQresultErrorField(r, PG_DIAG_SEVERITY_NONLOCALIZED);
    const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
    const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    int level = WLOG_INFO;

    (void)arg;
    if (sev != NULL && strcmp(sev, "WARNING") == 0)
        level = WLOG_WARN;
    else if (sev != NULL &&
             (strcmp(sev, "DEBUG") == 0 || strcmp(sev, "LOG") == 0))
        level = WLOG_DEBUG;
    wlog(level, "server notice", "severity=%s sqlstate=%s err=%s",
         sev != NULL ? sev : "NOTICE", st, msg != NULL ? msg : "");
}

PGconn *
db_connect(const char *conninfo, const char *appname)
{
    /* Earlier keywords are overridden by what the conninfo (expanded from
     * dbname) sets, so the user's settings win over these defaults. */
    const char *keys[] = {"connect_timeout", "application_name",
                          "client_encoding", "dbname", NULL};
    const char *vals[] = {"10", appname, "UTF8",
                          conninfo != NULL ? conninfo : "", NULL};
    PGconn *pg;

    if (conninfo == NULL || conninfo[0] == '\0')
        keys[3] = NULL;
    pg = PQconnectdbParams(keys, vals, 1);
    if (pg != NULL)
        PQsetNoticeReceiver(pg, notice_to_log, NULL);
    return pg;
}

const char *
db_error(PGconn *pg, char *buf, size_t size)
{
    size_t n;
    char *nl;

    snprintf(buf, size, "%s",
             pg != NULL ? PQerrorMessage(pg) : "out of memory");
    n = strlen(buf);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
        buf[--n] = '\0';
    while ((nl = strchr(buf, '\n')) != NULL)
        *nl = ' ';
    return buf;
}

int
fd_cloexec(int fd)
{
    int fl = fcntl(fd, F_GETFD);

    return fl < 0 ? -1 : fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
}

int
fd_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

void
poke(int fd, char byte)
{
    int saved = errno;
    ssize_t r;

    if (fd >= 0)
        do
            r = write(fd, &byte, 1);
        while (r < 0 && errno == EINTR);
    errno = saved;
}

int
drain_fd(int fd)
{
    char buf[256];

    for (;;) {
        ssize_t r = read(fd, buf, sizeof buf);

        if (r > 0)
            continue;
        if (r == 0)
            return -1;
        if (errno == EINTR)
            continue;
        return 0;
    }
}
