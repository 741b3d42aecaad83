/*
 * test_worker_reply.c - request/reply through txq-worker, for each handler
 * kind (sql:, so:, exec:): a C requester (txq_requester on a connection of
 * its own) sends requests to the worker's queue and its callback gets each
 * reply with the request's correlation id and the handler's body. The reply
 * is atomic with the handler's transaction: a handler that writes and
 * replies and then fails, or whose commit is refused, leaves no row and no
 * reply, and its retry sends exactly one. Also: a reply queue that is gone
 * drops the reply (audited) without failing the message; requests whose
 * handler never replies time out; a reply with an unknown correlation id is
 * acked, dropped and counted, and a real reply after it still arrives.
 *
 * Spawns $TXQ_BUILD_DIR/txq-worker (tests/handlers/wt.h) against the
 * test's schema; so: handlers from tests/txq_test_handlers.so.
 * Needs TXQ_TEST_DSN (ctest's pg_start fixture provides it).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tt.h"

#include "handlers/wt.h"

/* What the requester's callbacks saw. */
#define SEEN_MAX 8
typedef struct seen {
    int replies;
    int timeouts;
    char body[SEEN_MAX][64];      /* reply bodies, in arrival order */
    char corr[SEEN_MAX][64];      /* correlation ids given to on_reply */
    char msg_corr[SEEN_MAX][64];  /* the reply messages' own */
    char timed_out[SEEN_MAX][64]; /* correlation ids of timeouts */
} seen;

/* A requester with its own client and connection. */
typedef struct rr {
    txq_client *c;
    PGconn *pg;
    txq_requester *r;
    seen s;
} rr;

static int
setup(void **state)
{
    wt_test *w = wt_test_new(state);
    tt_fixture *f = w->f;

    tt_exec(f->pg, "select create_queue('replies')");
    /* h_reply writes a row and returns the reply; "fail-once" fails its
     * first attempt after the write. h_silent writes and never replies. */
    tt_exec(f->pg,
            "create function h_reply(m message) returns text "
            "language plpgsql as $$ begin "
            "insert into %s.biz values (m.id, convert_from(m.body, 'UTF8')); "
            "if convert_from(m.body, 'UTF8') = 'fail-once' and m.attempts = 1 "
            "then raise exception 'sql fails once'; end if; "
            "return 'sql:' || convert_from(m.body, 'UTF8'); end $$",
            f->schema);
    tt_exec(f->pg,
            "create function h_silent(m message) returns void "
            "language plpgsql as $$ begin "
            "insert into %s.biz values (m.id, convert_from(m.body, 'UTF8')); "
            "end $$",
            f->schema);
    /* Refuse the first commit that carries a reply to "refuse-once": a
     * deferred check on the reply's row that fails at COMMIT, after the
     * handler returned OK and the ack ran. A sequence counts the tries
     * (nextval survives the rollback). */
    tt_exec(f->pg, "create sequence refusals");
    tt_exec(f->pg,
            "create function refuse_first_reply() returns trigger "
            "language plpgsql as $$ begin "
            "if position(convert_to(':refuse-once', 'UTF8') in new.body) > 0 "
            "and nextval('%s.refusals') = 1 then "
            "raise exception 'commit refused on attempt 1'; end if; "
            "return null; end $$",
            f->schema);
    tt_exec(f->pg, "create constraint trigger refuse_first_reply after "
                   "insert on messages deferrable initially deferred for "
                   "each row execute function refuse_first_reply()");
    *state = w;
    return 0;
}

/* "so:<build>/tests/txq_test_handlers.so:<symbol>" */
static const char *
so_spec(const char *symbol, char *buf, size_t size)
{
    const char *bdir = getenv("TXQ_BUILD_DIR");

    assert_non_null(bdir);
    snprintf(buf, size, "so:%s/tests/txq_test_handlers.so:%s", bdir, symbol);
    return buf;
}

/* The exec handler: prints "exec:" + body as the reply; "fail-once" exits
 * 75 on its first attempt after printing; "silent" prints nothing. */
static const char *
exec_spec(wt_test *w, char *buf, size_t size)
{
    char script[128];

    wt_path(&w->dir, "reply.sh", script, sizeof script);
    wt_write(script,
             "body=$(cat)\n"
             "[ \"$body\" = silent ] && exit 0\n"
             "printf 'exec:%s' \"$body\"\n"
             "if [ \"$body\" = fail-once ] && [ \"$TXQ_ATTEMPT\" = 1 ]\n"
             "then echo 'exec fails once' >&2; exit 75; fi\n"
             "exit 0\n");
    snprintf(buf, size, "exec:/bin/sh %s", script);
    return buf;
}

static void
on_reply(void *arg, const char *corr, const txq_msg *reply)
{
    seen *s = arg;
    size_t len;
    const char *body = txq_msg_body(reply, &len);
    const char *mc = txq_msg_correlation_id(reply);

    if (s->replies < SEEN_MAX) {
        snprintf(s->body[s->replies], sizeof s->body[0], "%.*s", (int)len,
                 body);
        snprintf(s->corr[s->replies], sizeof s->corr[0], "%s", corr);
        snprintf(s->msg_corr[s->replies], sizeof s->msg_corr[0], "%s",
                 mc != NULL ? mc : "(null)");
    }
    s->replies++;
}

static void
on_timeout(void *arg, const char *corr)
{
    seen *s = arg;

    if (s->timeouts < SEEN_MAX)
        snprintf(s->timed_out[s->timeouts], sizeof s->timed_out[0], "%s", corr);
    s->timeouts++;
}

static void
rr_open(wt_test *w, rr *q)
{
    memset(q, 0, sizeof *q);
    q->c = txq_client_new(TXQ_OPTIONS(.schema = w->f->schema));
    assert_non_null(q->c);
    q->pg = tt_connect(w->f->schema);
    q->r = txq_requester_new(q->c, "replies", NULL);
    assert_non_null(q->r);
    assert_txq_ok(q->c, txq_requester_open(q->r, q->pg));
}

static void
rr_close(rr *q)
{
    txq_requester_free(q->r);
    txq_client_free(q->c);
    PQfinish(q->pg);
}

/* Send a request on the requester's connection; its correlation id goes
 * to corr (TXQ_CORRELATION_ID_SIZE bytes). */
static void
rr_request(
    rr *q, const char *queue, const char *body, double timeout, char *corr)
{
    assert_txq_ok(q->c,
                  txq_request(q->r, NULL, queue, body, strlen(body), NULL,
                              timeout, on_reply, on_timeout, &q->s, corr));
}

/* Run the requester's event loop until nothing is pending (fails after
 * secs). */
static void
rr_wait(rr *q, double secs)
{
    assert_txq_ok(q->c, txq_requester_wait(q->r, secs));
    if (txq_requester_pending(q->r) != 0)
        fail_msg("%zu requests still pending after %.1fs",
                 txq_requester_pending(q->r), secs);
}

/* Sum of a queue_counters column over queues named like pattern. */
static long long
counter(wt_test *w, const char *column, const char *pattern)
{
    return tt_scalar(w->f->pg,
                     "select coalesce(sum(c.%s), 0) from queue_counters c "
                     "join queues q using (queue_id) where q.name like '%s'",
                     column, pattern);
}

static long long
depth(wt_test *w, const char *queue)
{
    return tt_scalar(w->f->pg,
                     "select count(*) from messages m join queues q using "
                     "(queue_id) where q.name = '%s'",
                     queue);
}

/*
 * One handler kind, end to end: "ping" is answered at once; "fail-once"
 * writes (and for so: and exec: produces its reply) then fails its first
 * attempt; "refuse-once" replies and returns OK but its first commit is
 * refused. Each request gets exactly one reply with its correlation id,
 * from the attempt that committed; the failed attempts left no row.
 */
static void
round_trip(wt_test *w, const char *spec, const char *kind, int writes)
{
    static const char *const bodies[] = {"ping", "fail-once", "refuse-once"};
    char h[512], want[64], fail_text[64];
    const char *args[] = {"--handle", h, NULL};
    char corr[3][TXQ_CORRELATION_ID_SIZE];
    char *log;
    rr q;
    size_t i;

    wt_test_queue(w, "jobs", NULL);
    snprintf(h, sizeof h, "jobs=%s", spec);
    wt_test_start(w, args);
    rr_open(w, &q);
    for (i = 0; i < 3; i++) {
        rr_request(&q, "jobs", bodies[i], 15, corr[i]);
        rr_wait(&q, 15);
        assert_int_equal(q.s.timeouts, 0);
        assert_int_equal(q.s.replies, (int)i + 1);
        snprintf(want, sizeof want, "%s:%s", kind, bodies[i]);
        assert_string_equal(q.s.body[i], want);
        assert_string_equal(q.s.corr[i], corr[i]);
        assert_string_equal(q.s.msg_corr[i], corr[i]);
    }
    /* Each failing request failed exactly once, then succeeded. */
    wt_await(w->f->pg, 3, 10,
             "select coalesce(sum(c.acked), 0) from "
             "queue_counters c join queues q using "
             "(queue_id) where q.name = 'jobs'");
    assert_int_equal(counter(w, "retried", "jobs"), 2);
    wt_test_stop(w);

    /* Exactly one reply per request ever committed: three acked by the
     * requester, none left, none unknown. */
    assert_txq_ok(q.c, txq_requester_dispatch(q.r, NULL));
    assert_int_equal(q.s.replies, 3);
    assert_int_equal(txq_requester_unknown(q.r), 0);
    assert_int_equal(depth(w, "replies"), 0);
    assert_int_equal(counter(w, "acked", "replies"), 3);
    /* One row per request: the failed attempts' writes rolled back. */
    assert_int_equal(tt_scalar(w->f->pg, "select count(*) from biz"),
                     writes ? 3 : 0);
    if (writes)
        assert_int_equal(
            tt_scalar(w->f->pg, "select count(distinct body) from biz"), 3);
    log = wt_read(w->log);
    assert_non_null(strstr(log, "commit refused on attempt 1"));
    snprintf(fail_text, sizeof fail_text, "%s",
             strcmp(kind, "so") == 0    ? "failing after the reply"
             : strcmp(kind, "sql") == 0 ? "sql fails once"
                                        : "exec fails once");
    assert_non_null(strstr(log, fail_text));
    free(log);
    rr_close(&q);
}

static void
test_sql_round_trip(void **state)
{
    wt_test *w = *state;
    char spec[128];

    snprintf(spec, sizeof spec, "sql:%s.h_reply", w->f->schema);
    round_trip(w, spec, "sql", 1);
}

static void
test_so_round_trip(void **state)
{
    wt_test *w = *state;
    char spec[512];

    round_trip(w, so_spec("th_reply", spec, sizeof spec), "so", 1);
}

static void
test_exec_round_trip(void **state)
{
    wt_test *w = *state;
    char spec[512];

    round_trip(w, exec_spec(w, spec, sizeof spec), "exec", 0);
}

/*
 * Requests whose reply queue was dropped (the requester gave up): each kind
 * drops the reply, audits it, and the handler's work still commits.
 */
static void
test_reply_queue_gone(void **state)
{
    wt_test *w = *state;
    char h1[128], h2[640], h3[640], spec[512];
    const char *args[] = {"--handle", h1, "--handle", h2, "--handle", h3, NULL};
    txq_send_opts so = TXQ_SEND_OPTS_INIT;
    const char *queues[] = {"jobs_sql", "jobs_so", "jobs_exec"};
    size_t i;

    for (i = 0; i < 3; i++)
        wt_test_queue(w, queues[i], NULL);
    snprintf(h1, sizeof h1, "jobs_sql=sql:%s.h_reply", w->f->schema);
    snprintf(h2, sizeof h2, "jobs_so=%s",
             so_spec("th_reply", spec, sizeof spec));
    snprintf(h3, sizeof h3, "jobs_exec=%s", exec_spec(w, spec, sizeof spec));
    tt_exec(w->f->pg, "select create_queue('gone')");
    so.reply_to = "gone";
    so.correlation_id = "lost-1";
    for (i = 0; i < 3; i++)
        assert_txq_ok(w->f->c, txq_send(w->f->c, w->f->pg, queues[i], "ping", 4,
                                        &so, NULL));
    tt_exec(w->f->pg, "select drop_queue('gone')");
    wt_test_start(w, args);
    wt_await(w->f->pg, 3, 15,
             "select count(*) from audit_log where action = "
             "'reply_dropped' and queue = 'gone' and detail like "
             "'%lost-1%'");
    wt_await(w->f->pg, 3, 10,
             "select coalesce(sum(c.acked), 0) from queue_counters c join "
             "queues q using (queue_id) where q.name like 'jobs%'");
    wt_test_stop(w);
    assert_int_equal(counter(w, "retried", "jobs%"), 0);
    assert_int_equal(
        tt_scalar(w->f->pg, "select count(*) from dead_letter_messages"), 0);
    assert_int_equal(tt_scalar(w->f->pg, "select count(*) from messages"), 0);
    assert_int_equal(tt_scalar(w->f->pg, "select count(*) from biz"), 2);
}

/* Handlers that never reply: every request's timeout fires, on time. */
static void
test_no_reply_times_out(void **state)
{
    wt_test *w = *state;
    char h1[128], h2[640], h3[640], spec[512];
    const char *args[] = {"--handle", h1, "--handle", h2, "--handle", h3, NULL};
    const char *queues[] = {"quiet_sql", "quiet_so", "quiet_exec"};
    char corr[3][TXQ_CORRELATION_ID_SIZE];
    double t0, took;
    rr q;
    size_t i;

    for (i = 0; i < 3; i++)
        wt_test_queue(w, queues[i], NULL);
    snprintf(h1, sizeof h1, "quiet_sql=sql:%s.h_silent", w->f->schema);
    snprintf(h2, sizeof h2, "quiet_so=%s", so_spec("th_ok", spec, sizeof spec));
    snprintf(h3, sizeof h3, "quiet_exec=%s", exec_spec(w, spec, sizeof spec));
    wt_test_start(w, args);
    rr_open(w, &q);
    t0 = tt_now();
    rr_request(&q, "quiet_sql", "x", 0.5, corr[0]);
    rr_request(&q, "quiet_so", "y", 0.5, corr[1]);
    rr_request(&q, "quiet_exec", "silent", 0.5, corr[2]);
    rr_wait(&q, 10);
    took = tt_now() - t0;
    assert_true(took >= 0.45);
    assert_true(took < 5);
    assert_int_equal(q.s.replies, 0);
    assert_int_equal(q.s.timeouts, 3);
    for (i = 0; i < 3; i++)
        assert_string_equal(q.s.timed_out[i], corr[i]);
    /* The handlers did run and commit; they just sent nothing. */
    wt_await(w->f->pg, 3, 10,
             "select coalesce(sum(c.acked), 0) from queue_counters c join "
             "queues q using (queue_id) where q.name like 'quiet%'");
    wt_test_stop(w);
    assert_int_equal(tt_scalar(w->f->pg, "select count(*) from biz"), 2);
    assert_int_equal(depth(w, "replies"), 0);
    assert_int_equal(txq_requester_unknown(q.r), 0);
    rr_close(&q);
}

/* A reply nobody waits for is acked, dropped and counted; the real reply
 * after it still reaches its callback. */
static void
test_unknown_reply_ignored(void **state)
{
    wt_test *w = *state;
    char h[128], corr[TXQ_CORRELATION_ID_SIZE];
    const char *args[] = {"--handle", h, NULL};
    txq_send_opts so = TXQ_SEND_OPTS_INIT;
    rr q;

    wt_test_queue(w, "jobs", NULL);
    snprintf(h, sizeof h, "jobs=sql:%s.h_reply", w->f->schema);
    rr_open(w, &q);
    so.correlation_id = "nobody";
    assert_txq_ok(
        w->f->c, txq_send(w->f->c, w->f->pg, "replies", "stray", 5, &so, NULL));
    wt_test_start(w, args);
    rr_request(&q, "jobs", "ping", 15, corr);
    rr_wait(&q, 15);
    assert_int_equal(q.s.timeouts, 0);
    assert_int_equal(q.s.replies, 1);
    assert_string_equal(q.s.body[0], "sql:ping");
    assert_string_equal(q.s.corr[0], corr);
    assert_int_equal(txq_requester_unknown(q.r), 1);
    assert_int_equal(depth(w, "replies"), 0);
    assert_int_equal(counter(w, "acked", "replies"), 2);
    wt_test_stop(w);
    rr_close(&q);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sql_round_trip, setup,
                                        wt_test_teardown),
        cmocka_unit_test_setup_teardown(test_so_round_trip, setup,
                                        wt_test_teardown),
        cmocka_unit_test_setup_teardown(test_exec_round_trip, setup,
                                        wt_test_teardown),
        cmocka_unit_test_setup_teardown(test_reply_queue_gone, setup,
                                        wt_test_teardown),
        cmocka_unit_test_setup_teardown(test_no_reply_times_out, setup,
                                        wt_test_teardown),
        cmocka_unit_test_setup_teardown(test_unknown_reply_ignored, setup,
                                        wt_test_teardown),
    };

    tt_dsn();
    return cmocka_run_group_tests_name("worker_reply", tests, NULL, NULL);
}
