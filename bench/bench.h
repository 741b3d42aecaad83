/*
 * bench.h - what txq-bench.c shares with bench/async.c, the driver that
 * serves several connections from one process through libtxq's
 * asynchronous calls (-j).
 */
#ifndef TXQ_BENCH_H
#define TXQ_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "txq.h"

extern const char bench_payload[];     /* the ~100-byte JSON body */
extern const size_t bench_payload_len; /* its length, without the NUL */
extern const char *bench_queue;        /* -q */

/* A connection with search_path = the txq schema, then public; NULL (and
 * a message on stderr) when it fails. */
PGconn *bench_connect(void);

/* A handle on the txq schema (-s), or NULL. */
txq_client *bench_client(void);

/* Prints what failed with txq's message. Returns -1. */
int bench_failed(txq_client *c, const char *what, txq_err rc);

/*
 * bench_async - one process serving k connections (pg[i], each with its
 * handle c[i]) through txq_send_start/finish (pop: 0, max 1) or
 * txq_send_batch_start/finish of max (pop: 0, n messages in all, split
 * among them, a statement per transaction), or BEGIN, txq_pop_start/finish
 * of max, COMMIT until the queue is empty (pop: 1). max: 1 to 100.
 * Returns 0 or -1; *done counts the messages sent or popped.
 */
int bench_async(PGconn **pg,
                txq_client **c,
                int k,
                int pop,
                size_t max,
                int64_t n,
                int64_t *done);

#endif
