/*
 * creds.c - the credentials file: one access key per line,
 * "ACCESS_KEY_ID SECRET_ACCESS_KEY ROLE [ACCOUNT_ID]", '#' comments and
 * blank lines ignored. The account (12 digits), when given, is what
 * AddPermission names to mean the roles of its keys. Refused unless only its
 * owner may read it (mode 0600 or stricter). A reload (SIGHUP) swaps the whole
 * set or keeps the old one.
 */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>

#include "sqs.h"

struct cred {
    char key_id[SQS_KEYID_MAX];
    char secret[SQS_SECRET_MAX];
    char role[SQS_ROLE_MAX];
    char account[16]; /* "" when none */
};

static pthread_mutex_t creds_mu = PTHREAD_MUTEX_INITIALIZER;
static struct cred *creds;
static size_t ncreds;

static void
free_set(struct cred *set, size_t n)
{
    if (set != NULL)
        OPENSSL_cleanse(set, n * sizeof *set);
    free(set);
}

/* Split line into up to 4 whitespace-separated fields; returns the count. */
static int
fields(char *line, char **f)
{
    int n = 0;
    char *p = line;

    while (*p) {
        while (isspace((unsigned char)*p))
            p++;
        if (*p == '\0' || *p == '#')
            break;
        if (n == 4)
            return 5;
        f[n++] = p;
        while (*p && !isspace((unsigned char)*p))
            p++;
        if (*p)
            *p++ = '\0';
    }
    return n;
}

static int
valid_token(const char *s, size_t max)
{
    size_t n = strlen(s), i;

    if (n == 0 || n >= max)
        return 0;
    for (i = 0; i < n; i++)
        if (!isgraph((unsigned char)s[i]))
            return 0;
    return 1;
}

int
sqs_creds_load(const char *path, char *err, size_t errsize)
{
    FILE *f;
    struct stat st;
    struct cred *set = NULL, *old;
    size_t n = 0, cap = 0, oldn;
    char line[1024];
    int lineno = 0;

    f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errsize, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fileno(f), &st) != 0) {
        snprintf(err, errsize, "cannot stat %s: %s", path, strerror(errno));
        goto fail;
    }
    if ((st.st_mode & 077) != 0) {
        snprintf(err, errsize,
                 "%s holds secrets and is readable by group or others "
                 "(mode %03o): chmod 600 it",
                 path, (unsigned)(st.st_mode & 0777));
        goto fail;
    }
    while (fgets(line, sizeof line, f) != NULL) {
        char *fl[4];
        int nf;
        size_t i;

        lineno++;
        if (strchr(line, '\n') == NULL && !feof(f)) {
            snprintf(err, errsize, "%s:%d: line too long", path, lineno);
            goto fail;
        }
        nf = fields(line, fl);
        if (nf == 0)
            continue;
        if (nf != 3 && nf != 4) {
            snprintf(err, errsize,
                     "%s:%d: want ACCESS_KEY_ID SECRET ROLE [ACCOUNT_ID] (%d "
                     "fields)",
                     path, lineno, nf);
            goto fail;
        }
        if (nf == 4 &&
            (strlen(fl[3]) != 12 || strspn(fl[3], "0123456789") != 12)) {
            snprintf(err, errsize, "%s:%d: an account id is 12 digits", path,
                     lineno);
            goto fail;
        }
        if (!valid_token(fl[0], SQS_KEYID_MAX) ||
            !valid_token(fl[1], SQS_SECRET_MAX) ||
            !valid_token(fl[2], SQS_ROLE_MAX)) {
            snprintf(err, errsize, "%s:%d: a field is empty or too long", path,
                     lineno);
            goto fail;
        }
        for (i = 0; i < n; i++) {
            if (strcmp(set[i].key_id, fl[0]) == 0) {
                snprintf(err, errsize, "%s:%d: access key %s given twice", path,
                         lineno, fl[0]);
                goto fail;
            }
        }
        if (n == cap) {
            struct cred *ns;

            cap = cap ? cap * 2 : 8;
            ns = calloc(cap, sizeof *ns);
            if (ns == NULL) {
                snprintf(err, errsize, "out of memory");
                goto fail;
            }
            if (n > 0)
                memcpy(ns, set, n * sizeof *set);
            free_set(set, n);
            set = ns;
        }
        snprintf(set[n].key_id, sizeof set[n].key_id, "%s", fl[0]);
        snprintf(set[n].secret, sizeof set[n].secret, "%s", fl[1]);
        snprintf(set[n].role, sizeof set[n].role, "%s", fl[2]);
        snprintf(set[n].account, sizeof set[n].account, "%s",
                 nf == 4 ? fl[3] : "");
        n++;
    }
    OPENSSL_cleanse(line, sizeof line);
    if (ferror(f)) {
        snprintf(err, errsize, "cannot read %s", path);
        goto fail;
    }
    fclose(f);
    if (n == 0) {
        snprintf(err, errsize, "%s holds no access key", path);
        free_set(set, cap);
        return -1;
    }
    pthread_mutex_lock(&creds_mu);
    old = creds;
    oldn = ncreds;
    creds = set;
    ncreds = n;
    pthread_mutex_unlock(&creds_mu);
    free_set(old, oldn);
    return 0;

fail:
    OPENSSL_cleanse(line, sizeof line);
    fclose(f);
    free_set(set, cap);
    return -1;
}

int
sqs_creds_lookup(const char *key_id,
                 char *secret,
                 size_t secretsize,
                 char *role,
                 size_t rolesize)
{
    size_t i;
    int found = 0;

    pthread_mutex_lock(&creds_mu);
    for (i = 0; i < ncreds; i++) {
        if (strcmp(creds[i].key_id, key_id) == 0) {
            snprintf(secret, secretsize, "%s", creds[i].secret);
            snprintf(role, rolesize, "%s", creds[i].role);
            found = 1;
            break;
        }
    }
    pthread_mutex_unlock(&creds_mu);
    return found;
}

int
sqs_creds_account_roles(const char *account, json_t *roles)
{
    size_t i, j;
    int n = 0;

    pthread_mutex_lock(&creds_mu);
    for (i = 0; i < ncreds; i++) {
        json_t *x;
        int seen = 0;

        if (strcmp(creds[i].account, account) != 0 || account[0] == '\0')
            continue;
        json_array_foreach(roles, j, x)
        {
            seen |= strcmp(json_string_value(x), creds[i].role) == 0;
        }
        if (!seen && json_array_append_new(roles, json_string(creds[i].role)))
            n = -1;
        if (n >= 0)
            n++;
    }
    pthread_mutex_unlock(&creds_mu);
    return n;
}

void
sqs_creds_free(void)
{
    pthread_mutex_lock(&creds_mu);
    free_set(creds, ncreds);
    creds = NULL;
    ncreds = 0;
    pthread_mutex_unlock(&creds_mu);
}
