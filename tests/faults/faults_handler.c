/*
 * faults_handler.c - the so: handler of the fault suite (txq-faults), built
 * as tests/txq_faults_handler.so and loaded by the txq-worker processes the
 * suite starts. It records each processing in the consume transaction (a
 * row of $FAULTS_SCHEMA.f_processed: key, queue, group, sequence, message
 * id, attempt, consumer pid) and, after that business write, fires the
 * fault the nemesis armed, if any: an armed fault is a file in
 * $FAULTS_DIR/arm, taken by the first consumer that unlinks it.
 *
 *   worker-kill         SIGKILL this consumer (before the COMMIT)
 *   worker-kill-commit  make the COMMIT slow (a deferred trigger sleeps) and
 *                       SIGKILL this consumer while it waits for the reply
 *   worker-stop         SIGSTOP this consumer (its pid and key written to
 *                       $FAULTS_DIR/stopped); the nemesis sends SIGCONT once
 *                       another consumer has processed the message
 *   worker-stop-fence   the same, with the session's idle-in-transaction
 *                       timeout off, so that the session outlives its claim
 *
 * A body is "KEY GROUP SEQ FLAG"; FLAG P marks a poison message, on which
 * the handler crashes its process (abort) every time.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "txq.h"

txq_handler_result
fh_handle(PGconn *pg, const txq_msg *m, void *arg, char *err, size_t errsize);

/* Take the armed fault name: 1 when this process got it. */
static int
take(const char *dir, const char *name)
{
    char path[512];

    snprintf(path, sizeof path, "%s/arm/%s", dir, name);
    return unlink(path) == 0;
}

static void
sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Write text to dir/name through a temporary file and rename. */
static void
put_file(const char *dir, const char *name, const char *text)
{
    char tmp[512], path[512];
    int fd;

    snprintf(tmp, sizeof tmp, "%s/.%s.%d", dir, name, (int)getpid());
    snprintf(path, sizeof path, "%s/%s", dir, name);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return;
    if (write(fd, text, strlen(text)) < 0)
        perror("faults handler: write");
    close(fd);
    rename(tmp, path);
}

static int
exec_ok(PGconn *pg,
        const char *sql,
        int n,
        const char *const *vals,
        char *err,
        size_t errsize)
{
    PGresult *r = PQexecParams(pg, sql, n, NULL, vals, NULL, NULL, 0);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;

    if (!ok)
        snprintf(err, errsize, "%s", PQresultErrorMessage(r));
    PQclear(r);
    return ok;
}

/*
 * Make this transaction's COMMIT take ms milliseconds (a deferred
 * constraint trigger sleeps), and fork a process that SIGKILLs this one
 * after kill_ms, while the COMMIT is under way.
 */
static int
kill_in_commit(PGconn *pg,
               const char *schema,
               long ms,
               long kill_ms,
               char *err,
               size_t errsize)
{
    char sql[256], v[32];
    const char *vals[1] = {v};
    pid_t me = getpid(), pid;

    snprintf(sql, sizeof sql,
             "insert into \"%s\".f_slow_commit (sleep_ms) values ($1)", schema);
    snprintf(v, sizeof v, "%ld", ms);
    if (!exec_ok(pg, sql, 1, vals, err, errsize))
        return 0;
    pid = fork();
    if (pid == 0) {
        sleep_ms(kill_ms);
        kill(me, SIGKILL);
        _exit(0);
    }
    return pid > 0;
}

/* SIGSTOP this consumer, saying who and on what in dir/stopped. Once
 * continued (long after its claim lapsed and another consumer processed
 * the message), the ack and COMMIT that follow must fail. */
static void
stop_here(const char *dir, const char *key)
{
    char note[160];

    snprintf(note, sizeof note, "%d %s\n", (int)getpid(), key);
    put_file(dir, "stopped", note);
    raise(SIGSTOP);
}

txq_handler_result
fh_handle(PGconn *pg, const txq_msg *m, void *arg, char *err, size_t errsize)
{
    const char *schema = getenv("FAULTS_SCHEMA");
    const char *dir = getenv("FAULTS_DIR");
    const char *body = txq_msg_body(m, NULL);
    char key[64], grp[64], flag[8], sql[256], id[32], att[32], pid[32];
    char seq[32], note[160];
    const char *vals[7] = {key, txq_msg_queue(m), grp, seq, id, att, pid};
    long long s;

    (void)arg;
    if (schema == NULL || dir == NULL) {
        snprintf(err, errsize, "FAULTS_SCHEMA and FAULTS_DIR must be set");
        return TXQ_HANDLER_RETRY;
    }
    if (body == NULL ||
        sscanf(body, "%63s %63s %lld %7s", key, grp, &s, flag) != 4) {
        snprintf(err, errsize, "bad body");
        return TXQ_HANDLER_PERMANENT;
    }
    if (flag[0] == 'P')
        abort(); /* poison: crashes its consumer every time */
    snprintf(seq, sizeof seq, "%lld", s);
    snprintf(id, sizeof id, "%lld", (long long)txq_msg_id(m));
    snprintf(att, sizeof att, "%d", txq_msg_attempt(m));
    snprintf(pid, sizeof pid, "%d", (int)getpid());
    snprintf(sql, sizeof sql,
             "insert into \"%s\".f_processed"
             " (key, queue, grp, seq, msg_id, attempt, pid)"
             " values ($1, $2, $3, $4, $5, $6, $7)",
             schema);
    if (!exec_ok(pg, sql, 7, vals, err, errsize))
        return TXQ_HANDLER_RETRY;

    /* The business write is in; the ack and COMMIT have not been sent. */
    if (take(dir, "worker-kill")) {
        snprintf(note, sizeof note, "%d %s\n", (int)getpid(), key);
        put_file(dir, "fired-worker-kill", note);
        raise(SIGKILL);
    }
    if (take(dir, "worker-kill-commit")) {
        /* Past client_connection_check_interval (1 s, set by the
         * consumer) the server notices the dead client during the COMMIT
         * and rolls back; before it, the COMMIT completes unanswered. Both
         * must come out as one processing. */
        long ms = (txq_msg_id(m) % 2) ? 400 : 2500;

        snprintf(note, sizeof note, "%d %s %ld\n", (int)getpid(), key, ms);
        put_file(dir, "fired-worker-kill-commit", note);
        if (!kill_in_commit(pg, schema, ms, 200, err, errsize))
            return TXQ_HANDLER_RETRY;
    }
    if (take(dir, "worker-stop")) {
        /* The server ends the idle session (idle_in_transaction_session_
         * timeout, budget + 5 s) before the claim lapses. */
        stop_here(dir, key);
    } else if (take(dir, "worker-stop-fence")) {
        /* This session outlives its claim: only the attempt fence of the
         * ack keeps the late COMMIT out. */
        if (!exec_ok(pg, "set local idle_in_transaction_session_timeout = 0", 0,
                     NULL, err, errsize))
            return TXQ_HANDLER_RETRY;
        stop_here(dir, key);
    }
    return TXQ_HANDLER_OK;
}
