/*
 * faults_util.c - what the parts of txq-faults share: fault names, time,
 * small files, process memory, database helpers and a string map.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "faults.h"

static const char *const kind_names[FQ_NKINDS] = {
    "none",
    "worker-kill",
    "worker-kill-commit",
    "worker-kill-all",
    "producer-kill",
    "producer-kill-commit",
    "pg-crash",
    "terminate",
    "worker-stop",
    "worker-stop-fence",
    "poison",
    "pg-down",
    "failover",
};

const char *
fq_kind_name(fq_kind k)
{
    return k < FQ_NKINDS ? kind_names[k] : "?";
}

fq_kind
fq_kind_parse(const char *s)
{
    int k;

    for (k = 0; k < FQ_NKINDS; k++)
        if (strcmp(s, kind_names[k]) == 0)
            return (fq_kind)k;
    return FQ_NKINDS;
}

double
fq_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void
fq_sleep(double seconds)
{
    struct timespec ts;

    if (seconds <= 0)
        return;
    ts.tv_sec = (time_t)seconds;
    ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

void
fq_say(const char *fmt, ...)
{
    va_list ap;

    fputs("faults: ", stdout);
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
    fflush(stdout);
}

const char *
fq_path(char *buf, size_t size, const char *dir, const char *name)
{
    snprintf(buf, size, "%s/%s", dir, name);
    return buf;
}

int
fq_put(const char *path, const char *text)
{
    char tmp[600];
    int fd, rc = 0;

    snprintf(tmp, sizeof tmp, "%s.tmp%d", path, (int)getpid());
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return -1;
    if (fq_append(fd, text, strlen(text)) != 0)
        rc = -1;
    close(fd);
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -1;
    return rc;
}

int
fq_get(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "r");
    int rc = -1;

    if (f == NULL)
        return -1;
    if (fgets(buf, (int)size, f) != NULL) {
        buf[strcspn(buf, "\n")] = '\0';
        rc = 0;
    }
    fclose(f);
    return rc;
}

int
fq_append(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

long
fq_rss_kb(pid_t pid)
{
    char path[64], line[256];
    FILE *f;
    long kb = 0;

    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    f = fopen(path, "r");
    if (f == NULL)
        return 0;
    while (fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kb = strtol(line + 6, NULL, 10);
            break;
        }
    fclose(f);
    return kb;
}

/* The parent pid of pid from /proc/PID/stat, or -1. */
static long
ppid_of(const char *pid)
{
    char path[300], buf[512], *p;
    FILE *f;
    long pp = -1;

    snprintf(path, sizeof path, "/proc/%s/stat", pid);
    f = fopen(path, "r");
    if (f == NULL)
        return -1;
    if (fgets(buf, sizeof buf, f) != NULL && (p = strrchr(buf, ')')) != NULL)
        if (sscanf(p + 1, " %*c %ld", &pp) != 1)
            pp = -1;
    fclose(f);
    return pp;
}

long
fq_rss_tree_kb(pid_t pid)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    long kb = fq_rss_kb(pid);

    if (d == NULL)
        return kb;
    while ((e = readdir(d)) != NULL)
        if (isdigit((unsigned char)e->d_name[0]) && ppid_of(e->d_name) == pid)
            kb += fq_rss_kb((pid_t)atoi(e->d_name));
    closedir(d);
    return kb;
}

static void
quiet(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

PGconn *
fq_connect(const char *db, int loud)
{
    PGconn *pg = PQconnectdb(db);
    PGresult *r;

    if (PQstatus(pg) != CONNECTION_OK) {
        if (loud)
            fprintf(stderr, "faults: cannot connect: %s", PQerrorMessage(pg));
        PQfinish(pg);
        return NULL;
    }
    /* The server's goodbyes (immediate shutdown) are expected here. */
    PQsetNoticeProcessor(pg, quiet, NULL);
    r = PQexec(pg, "set client_min_messages = warning");
    PQclear(r);
    return pg;
}

static PGresult *vquery(PGconn *pg, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static PGresult *
vquery(PGconn *pg, const char *fmt, va_list ap)
{
    char sql[4096];

    vsnprintf(sql, sizeof sql, fmt, ap);
    return PQexec(pg, sql);
}

int
fq_exec(PGconn *pg, const char *fmt, ...)
{
    va_list ap;
    PGresult *r;
    int rc = 0;

    va_start(ap, fmt);
    r = vquery(pg, fmt, ap);
    va_end(ap);
    if (PQresultStatus(r) != PGRES_COMMAND_OK &&
        PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "faults: %s", PQerrorMessage(pg));
        rc = -1;
    }
    PQclear(r);
    return rc;
}

long long
fq_scalar(PGconn *pg, const char *fmt, ...)
{
    va_list ap;
    PGresult *r;
    long long v = -1;

    va_start(ap, fmt);
    r = vquery(pg, fmt, ap);
    va_end(ap);
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 &&
        !PQgetisnull(r, 0, 0))
        v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return v;
}

/* FNV-1a */
static size_t
hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;

    while (*s != '\0') {
        h ^= (unsigned char)*s++;
        h *= 1099511628211ULL;
    }
    return (size_t)h;
}

static int
grow(fq_map *m)
{
    size_t cap = m->cap ? m->cap * 2 : 1024, i;
    char **keys = calloc(cap, sizeof *keys);
    size_t *vals = calloc(cap, sizeof *vals);

    if (keys == NULL || vals == NULL) {
        free(keys);
        free(vals);
        return -1;
    }
    for (i = 0; i < m->cap; i++) {
        size_t j;

        if (m->keys[i] == NULL)
            continue;
        j = hash(m->keys[i]) & (cap - 1);
        while (keys[j] != NULL)
            j = (j + 1) & (cap - 1);
        keys[j] = m->keys[i];
        vals[j] = m->vals[i];
    }
    free(m->keys);
    free(m->vals);
    m->keys = keys;
    m->vals = vals;
    m->cap = cap;
    return 0;
}

size_t *
fq_map_get(fq_map *m, const char *key, int create)
{
    size_t j;

    if (m->cap == 0 || (create && (m->n + 1) * 2 > m->cap))
        if (grow(m) != 0)
            return NULL;
    j = hash(key) & (m->cap - 1);
    while (m->keys[j] != NULL) {
        if (strcmp(m->keys[j], key) == 0)
            return &m->vals[j];
        j = (j + 1) & (m->cap - 1);
    }
    if (!create)
        return NULL;
    m->keys[j] = strdup(key);
    if (m->keys[j] == NULL)
        return NULL;
    m->vals[j] = 0;
    m->n++;
    return &m->vals[j];
}

void
fq_map_free(fq_map *m)
{
    size_t i;

    for (i = 0; i < m->cap; i++)
        free(m->keys[i]);
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}
