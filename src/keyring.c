/*
 * keyring.c - the key ring of encrypted queues: a key file read strictly
 * (its owner and mode checked, every bad line named), the keys kept in
 * libsodium's guarded, locked memory and wiped when freed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "txq_int.h"

/* A key file holds a few lines; anything larger is not one. */
#define MAX_FILE (1024 * 1024)

int
txq__sodium_init(void)
{
    /* sodium_init is thread-safe and returns 1 once it has run. */
    return sodium_init() < 0 ? -1 : 0;
}

static txq_err fail(char *err, size_t errsize, txq_err rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static txq_err
fail(char *err, size_t errsize, txq_err rc, const char *fmt, ...)
{
    va_list ap;

    if (err != NULL && errsize > 0) {
        va_start(ap, fmt);
        vsnprintf(err, errsize, fmt, ap);
        va_end(ap);
    }
    return rc;
}

static int
id_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';
}

/* Read the whole file into a malloc'd, NUL-terminated buffer of *len
 * bytes, after checking what it is, who owns it and who may read it. */
static txq_err
read_file(const char *path, char **out, size_t *len, char *err, size_t errsize)
{
    struct stat st;
    char *buf = NULL;
    size_t got = 0;
    ssize_t r;
    txq_err rc = TXQ_OK;
    int fd;

    *out = NULL;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail(err, errsize, TXQ_EINVAL, "key file %s: %s", path,
                    strerror(errno));
    if (fstat(fd, &st) != 0) {
        rc = fail(err, errsize, TXQ_EINVAL, "key file %s: %s", path,
                  strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = fail(err, errsize, TXQ_EINVAL, "key file %s: not a regular file",
                  path);
        goto out;
    }
    if (st.st_uid != geteuid()) {
        rc = fail(err, errsize, TXQ_EINVAL,
                  "key file %s: owned by uid %u, not by this user (uid %u): "
                  "refused",
                  path, (unsigned)st.st_uid, (unsigned)geteuid());
        goto out;
    }
    if ((st.st_mode & 077) != 0) {
        rc = fail(err, errsize, TXQ_EINVAL,
                  "key file %s: mode %04o lets group or others read it: "
                  "refused; chmod 600 it",
                  path, (unsigned)(st.st_mode & 07777));
        goto out;
    }
    if (st.st_size > MAX_FILE) {
        rc = fail(err, errsize, TXQ_EINVAL, "key file %s: larger than %d bytes",
                  path, MAX_FILE);
        goto out;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (buf == NULL) {
        rc = fail(err, errsize, TXQ_ENOMEM, "out of memory");
        goto out;
    }
    while (got < (size_t)st.st_size &&
           (r = read(fd, buf + got, (size_t)st.st_size - got)) != 0) {
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = fail(err, errsize, TXQ_EINVAL, "key file %s: %s", path,
                      strerror(errno));
            goto out;
        }
        got += (size_t)r;
    }
    buf[got] = '\0';
    *len = got;
    *out = buf;
    buf = NULL;
out:
    if (buf != NULL) {
        sodium_memzero(buf, (size_t)st.st_size + 1);
        free(buf);
    }
    close(fd);
    return rc;
}

/* One key line (NUL-terminated, no newline) into *k. Returns: TXQ_OK, or
 * TXQ_EINVAL with what is wrong in err. */
static txq_err
parse_line(char *line, struct txq__key *k, char *err, size_t errsize)
{
    char *id = line, *key, *end;
    size_t idlen, keylen, binlen = 0;

    idlen = strcspn(id, " \t");
    if (idlen == 0)
        return fail(err, errsize, TXQ_EINVAL,
                    "starts with a blank: want ID BASE64KEY");
    if (idlen > TXQ__KEY_ID_MAX)
        return fail(err, errsize, TXQ_EINVAL,
                    "key id longer than %d characters", TXQ__KEY_ID_MAX);
    for (size_t i = 0; i < idlen; i++) {
        if (!id_char(id[i]))
            return fail(err, errsize, TXQ_EINVAL,
                        "key id has a character other than A-Z a-z 0-9 . _ "
                        "-");
    }
    key = id + idlen + strspn(id + idlen, " \t");
    keylen = strcspn(key, " \t");
    if (keylen == 0)
        return fail(err, errsize, TXQ_EINVAL,
                    "no key after the id: want ID BASE64KEY");
    end = key + keylen + strspn(key + keylen, " \t");
    if (*end != '\0')
        return fail(err, errsize, TXQ_EINVAL,
                    "more than two fields: want ID BASE64KEY");
    if (sodium_base642bin(k->key, sizeof k->key, key, keylen, NULL, &binlen,
                          NULL, sodium_base64_VARIANT_ORIGINAL) != 0 ||
        binlen != TXQ__KEY_BYTES)
        return fail(err, errsize, TXQ_EINVAL,
                    "the key is not %d bytes in standard base64 (e.g. "
                    "head -c 32 /dev/urandom | base64)",
                    TXQ__KEY_BYTES);
    memcpy(k->id, id, idlen);
    k->id[idlen] = '\0';
    return TXQ_OK;
}

/* Parse buf (len bytes, NUL-terminated; wiped by the caller) into kr. */
static txq_err
parse(const char *path,
      char *buf,
      size_t len,
      txq_keyring *kr,
      char *err,
      size_t errsize)
{
    char why[160];
    size_t cap = 1;
    int lineno = 0;
    txq_err rc;

    for (size_t i = 0; i < len; i++)
        cap += buf[i] == '\n';
    kr->keys = sodium_malloc(cap * sizeof *kr->keys);
    if (kr->keys == NULL)
        return fail(err, errsize, TXQ_ENOMEM, "out of memory");
    for (char *line = buf; line != NULL;) {
        char *nl = strchr(line, '\n');
        struct txq__key *k = &kr->keys[kr->n];

        if (nl != NULL)
            *nl = '\0';
        lineno++;
        if (strlen(line) != (size_t)((nl != NULL ? nl : buf + len) - line))
            return fail(err, errsize, TXQ_EINVAL, "%s:%d: a NUL byte", path,
                        lineno);
        if (nl != NULL && nl > line && nl[-1] == '\r')
            nl[-1] = '\0';
        if (line[strspn(line, " \t")] != '\0' && line[0] != '#') {
            if ((rc = parse_line(line, k, why, sizeof why)) != TXQ_OK)
                return fail(err, errsize, rc, "%s:%d: %s", path, lineno, why);
            if (txq__keyring_find(kr, k->id, strlen(k->id)) != NULL)
                return fail(err, errsize, TXQ_EINVAL,
                            "%s:%d: key id \"%s\" appears twice", path, lineno,
                            k->id);
            kr->n++;
        }
        line = nl != NULL ? nl + 1 : NULL;
    }
    if (kr->n == 0)
        return fail(err, errsize, TXQ_EINVAL,
                    "%s: no key (want lines ID BASE64KEY)", path);
    return TXQ_OK;
}

txq_err
txq_keyring_load(const char *path, txq_keyring **out, char *err, size_t errsize)
{
    txq_keyring *kr = NULL;
    char *buf = NULL;
    size_t len = 0;
    txq_err rc;

    if (err != NULL && errsize > 0)
        err[0] = '\0';
    if (out == NULL)
        return fail(err, errsize, TXQ_EINVAL, "out is NULL");
    *out = NULL;
    if (path == NULL)
        return fail(err, errsize, TXQ_EINVAL, "path is NULL");
    if (txq__sodium_init() != 0)
        return fail(err, errsize, TXQ_ENOMEM, "libsodium failed to start");
    if ((rc = read_file(path, &buf, &len, err, errsize)) != TXQ_OK)
        return rc;
    kr = calloc(1, sizeof *kr);
    if (kr == NULL)
        rc = fail(err, errsize, TXQ_ENOMEM, "out of memory");
    else
        rc = parse(path, buf, len, kr, err, errsize);
    sodium_memzero(buf, len + 1);
    free(buf);
    if (rc != TXQ_OK) {
        txq_keyring_free(kr);
        return rc;
    }
    /* Nothing writes the keys again. */
    (void)sodium_mprotect_readonly(kr->keys);
    *out = kr;
    return TXQ_OK;
}

void
txq_keyring_free(txq_keyring *kr)
{
    if (kr == NULL)
        return;
    /* sodium_free wipes the keys before it unmaps them. */
    sodium_free(kr->keys);
    free(kr);
}

const char *
txq_keyring_current(const txq_keyring *kr)
{
    return kr != NULL && kr->n > 0 ? kr->keys[kr->n - 1].id : NULL;
}

const struct txq__key *
txq__keyring_find(const txq_keyring *kr, const char *id, size_t idlen)
{
    for (size_t i = 0; i < kr->n; i++) {
        if (strlen(kr->keys[i].id) == idlen &&
            memcmp(kr->keys[i].id, id, idlen) == 0)
            return &kr->keys[i];
    }
    return NULL;
}

txq_err
txq_client_set_keyring(txq_client *c, const txq_keyring *kr)
{
    if (c == NULL)
        return TXQ_EINVAL;
    txq__clear_error(c);
    if (c->pending != 0)
        return txq__set_error(c, TXQ_ESTATE,
                              "a txq_%s_start is waiting for its "
                              "txq_%s_finish: finish it first",
                              txq__pending_kind(c), txq__pending_kind(c));
    c->keyring = kr;
    return TXQ_OK;
}
