/*
 * wait.c - the long poll of txq_claim: while a queue is empty, register as
 * a waiter (so sends NOTIFY txq_wake), sleep in poll() on the connection's
 * socket, and receive again on a notification for the queue or on a one
 * second tick (the fallback for lost notifications). Runs in autocommit.
 * Behind a transaction pooler (txq__pooled) there is no session to LISTEN
 * on: it receives again on every tick instead.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <time.h>

#include "txq_int.h"

#define TICK_MS 1000

static double
now_secs(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Free every pending notification; 1 if one was for queue. */
static int
drain(PGconn *pg, const char *queue)
{
    PGnotify *nf;
    int hit = 0;

    while ((nf = PQnotifies(pg)) != NULL) {
        if (strcmp(nf->relname, "txq_wake") == 0 &&
            strcmp(nf->extra, queue) == 0)
            hit = 1;
        PQfreemem(nf);
    }
    return hit;
}

/* Run statement q with queue as its parameter (or none), ignoring rows. */
static txq_err
exec_q(txq_client *c, PGconn *pg, enum txq__q q, const char *queue)
{
    struct txq__params p;
    PGresult *r = NULL;
    txq_err rc;

    txq__params_init(&p);
    if (queue != NULL)
        txq__param_text(&p, queue);
    rc = txq__query(c, pg, q, &p, 0, &r);
    PQclear(r);
    return rc;
}

/* Sleep until input arrives on pg or ms pass. Returns: TXQ_OK (*input
 * says which), or TXQ_ECONN. */
static txq_err
sleep_on(txq_client *c, PGconn *pg, int ms, int *input)
{
    struct pollfd pfd;
    int sock = PQsocket(pg);
    int n;

    *input = 0;
    if (sock < 0)
        return txq__set_pg_error(c, pg, NULL);
    pfd.fd = sock;
    pfd.events = POLLIN;
    pfd.revents = 0;
    n = poll(&pfd, 1, ms);
    if (n < 0) {
        if (errno == EINTR)
            return TXQ_OK;
        return txq__set_error(c, TXQ_ECONN, "poll on the connection: %s",
                              strerror(errno));
    }
    if (n == 0)
        return TXQ_OK;
    *input = 1;
    if (!PQconsumeInput(pg))
        return txq__set_pg_error(c, pg, NULL);
    return TXQ_OK;
}

txq_err
txq__wait_receive(txq_client *c,
                  PGconn *pg,
                  const char *queue,
                  size_t max,
                  double vt_secs,
                  double wait_secs,
                  txq_msg ***out,
                  size_t *n)
{
    double deadline = now_secs() + wait_secs;
    int listening = 0;
    txq_err rc, rc2 = TXQ_OK;

    rc = txq__receive_once(c, pg, queue, max, vt_secs, out, n);
    if (rc != TXQ_EMPTY || wait_secs <= 0)
        return rc;

    if (txq__pooled(c, pg)) {
        /* A LISTEN would stay behind on whichever server connection ran
         * it, and the wake-ups reach whoever holds that one. */
        while (rc == TXQ_EMPTY) {
            double left = deadline - now_secs();
            struct timespec ts;

            if (left <= 0)
                break;
            if (left > TICK_MS / 1000.0)
                left = TICK_MS / 1000.0;
            ts.tv_sec = (time_t)left;
            ts.tv_nsec = (long)((left - (double)ts.tv_sec) * 1e9);
            while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
                ;
            rc = txq__receive_once(c, pg, queue, max, vt_secs, out, n);
        }
        return rc;
    }

    /* Register, then receive once more: a send that committed between
     * the first receive and the registration notified nobody. */
    rc = exec_q(c, pg, TXQ__Q_LISTEN, NULL);
    if (rc != TXQ_OK)
        goto cleanup;
    listening = 1;
    rc = exec_q(c, pg, TXQ__Q_WAIT_BEGIN, queue);
    if (rc != TXQ_OK)
        goto cleanup;
    rc = txq__receive_once(c, pg, queue, max, vt_secs, out, n);
    while (rc == TXQ_EMPTY) {
        double left = deadline - now_secs();
        int ms, input = 0, woken;

        if (left <= 0)
            break;
        /* A wake that arrived with the last result may be for a send the
         * last receive did not see yet: receive again at once. */
        woken = drain(pg, queue);
        if (!woken) {
            ms = left * 1000 < TICK_MS ? (int)(left * 1000) + 1 : TICK_MS;
            rc = sleep_on(c, pg, ms, &input);
            if (rc != TXQ_OK)
                goto cleanup;
            woken = input && drain(pg, queue);
            if (input && !woken) {
                rc = TXQ_EMPTY; /* other traffic: sleep on */
                continue;
            }
        }
        /* The sender that woke us took our registration (txq._wake):
         * wait again before looking, or a send after that look notifies
         * nobody. */
        if (woken && (rc = exec_q(c, pg, TXQ__Q_WAIT_BEGIN, queue)) != TXQ_OK)
            goto cleanup;
        rc = txq__receive_once(c, pg, queue, max, vt_secs, out, n);
    }

cleanup:
    /* Always unlisten; the caller keeps a clean session. A registration
     * left needs no undoing: the next send takes it with one NOTIFY.
     * Messages already claimed are returned even if the clean-up fails
     * (they are committed; losing them here would only delay them). */
    if (PQstatus(pg) == CONNECTION_OK) {
        char msg[TXQ__ERRMSG_SIZE];
        char state[6];

        memcpy(msg, c->errmsg, sizeof msg);
        memcpy(state, c->sqlstate, sizeof state);
        if (listening)
            rc2 = exec_q(c, pg, TXQ__Q_UNLISTEN, NULL);
        drain(pg, queue);
        if (rc2 != TXQ_OK && rc == TXQ_EMPTY)
            return rc2; /* its message is set */
        memcpy(c->errmsg, msg, sizeof msg);
        memcpy(c->sqlstate, state, sizeof state);
    }
    return rc;
}
