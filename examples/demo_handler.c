/*
 * demo_handler.c - an so: handler for txq-worker, used by tools/demo.sh
 * (queue demo_thumbnails) and meant to be copied: build it as a shared
 * object (CMake: add_library(... MODULE ...), see the examples block at the
 * end of CMakeLists.txt) and run
 *
 *   txq-worker --handle \
 *       thumbnails=so:build/examples/txq_demo_handler.so:demo_thumbnail
 *
 * The message body is an image path such as "photos/0042.jpg". The handler
 * "makes a thumbnail" by recording it in the business table
 * demo.thumbnails (examples/demo.sql) on the worker's connection, inside
 * the consume transaction: the row commits with the ack, or not at all.
 *   - "*.tiff": unsupported, a permanent failure (no retries: the queue's
 *     on_exhausted policy applies at once);
 *   - "*-large.*": the image store is busy on the first attempt, a failure
 *     to retry after the queue's backoff;
 *   - anything else: success.
 * It must not BEGIN, COMMIT or ROLLBACK: the worker owns the transaction.
 */
#include <stdio.h>
#include <string.h>

#include "txq.h"

/* Exported (the library is built with default visibility); a prototype
 * keeps -Wmissing-prototypes quiet without a header of its own. */
txq_handler_result demo_thumbnail(
    PGconn *pg, const txq_msg *m, void *arg, char *err, size_t errsize);

static int
ends_with(const char *s, size_t len, const char *suffix)
{
    size_t n = strlen(suffix);

    return len >= n && memcmp(s + len - n, suffix, n) == 0;
}

txq_handler_result
demo_thumbnail(
    PGconn *pg, const txq_msg *m, void *arg, char *err, size_t errsize)
{
    size_t len = 0;
    const char *path = txq_msg_body(m, &len);
    char id[32], attempt[16];
    const char *vals[3];
    PGresult *r;
    txq_handler_result res = TXQ_HANDLER_OK;

    (void)arg;
    /* The body is bytes: a path must be text without NUL bytes. */
    if (len == 0 || memchr(path, '\0', len) != NULL) {
        snprintf(err, errsize, "body is not an image path");
        return TXQ_HANDLER_PERMANENT;
    }
    if (ends_with(path, len, ".tiff")) {
        snprintf(err, errsize, "%.200s: unsupported format (tiff)", path);
        return TXQ_HANDLER_PERMANENT;
    }
    if (strstr(path, "-large.") != NULL && txq_msg_attempt(m) == 1) {
        snprintf(err, errsize, "%.200s: image store busy, try again", path);
        return TXQ_HANDLER_RETRY;
    }

    snprintf(id, sizeof id, "%lld", (long long)txq_msg_id(m));
    snprintf(attempt, sizeof attempt, "%d", txq_msg_attempt(m));
    vals[0] = id;
    vals[1] = path;
    vals[2] = attempt;
    r = PQexecParams(pg,
                     "insert into demo.thumbnails (message_id, path, attempt)"
                     " values ($1, $2, $3)",
                     3, NULL, vals, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        /* The transaction is aborted now; the worker rolls it back. */
        snprintf(err, errsize, "insert: %s", PQresultErrorMessage(r));
        res = TXQ_HANDLER_RETRY;
    }
    PQclear(r);
    return res;
}
