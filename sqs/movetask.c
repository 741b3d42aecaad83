/*
 * movetask.c - SQS's message move tasks on txq's (txq.start_move_task,
 * run_move_task, cancel_move_task, list_move_tasks; the table
 * move_tasks): the actions StartMessageMoveTask, ListMessageMoveTasks and
 * CancelMessageMoveTask, and the thread that runs the tasks in the
 * background. The runner acts as the role that started each task (the
 * gateway login may, as for requests), one batch per task and second,
 * each batch one transaction in which its messages move and the task's
 * counter with them; a task is a row, so a restarted txq-sqs goes on
 * where the last batch committed.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "sqs.h"

/* Messages per batch of a task that gives no rate. */
#define MOVE_BATCH 500

static pthread_t runner;
static int runner_started;
static volatile int runner_stop;
static pthread_mutex_t runner_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t runner_cv = PTHREAD_COND_INITIALIZER;

/* A task handle is the task's id, in decimal. */
static int
parse_handle(const char *h, char *out, size_t size)
{
    size_t n = h ? strlen(h) : 0, i;

    if (n == 0 || n >= size || n > 18)
        return -1;
    for (i = 0; i < n; i++)
        if (h[i] < '0' || h[i] > '9')
            return -1;
    memcpy(out, h, n + 1);
    return 0;
}

/* Wake the runner now (a task just started). */
static void
runner_kick(void)
{
    pthread_mutex_lock(&runner_mu);
    pthread_cond_signal(&runner_cv);
    pthread_mutex_unlock(&runner_mu);
}

enum sqs_code
sqs_start_move_task(sqs_req *req, PGconn *pg)
{
    const char *src_arn = sqs_param_str(req, NULL, "SourceArn");
    const char *dst_arn = sqs_param_str(req, NULL, "DestinationArn");
    sqs_queue s, d;
    long long rate = 0;
    char ratebuf[24], qid[24];
    const char *v[3];
    PGresult *r;
    int is_dlq;

    if (src_arn == NULL)
        return sqs_fail(req, SQS_E_MISSING_PARAM,
                        "The request must contain the parameter SourceArn.");
    if (sqs_param_int(req, NULL, "MaxNumberOfMessagesPerSecond", 1, 500,
                      &rate) < 0)
        return req->err;
    if (sqs_queue_from_arn(req, pg, src_arn, SQS_E_RESOURCE_NOT_FOUND, &s) !=
        SQS_OK)
        return req->err;
    if (dst_arn != NULL && dst_arn[0] != '\0' &&
        sqs_queue_from_arn(req, pg, dst_arn, SQS_E_RESOURCE_NOT_FOUND, &d) !=
            SQS_OK)
        return req->err;
    /* SQS moves messages out of dead-letter queues only. */
    snprintf(qid, sizeof qid, "%lld", s.queue_id);
    v[0] = qid;
    r = sqs_exec(req, pg,
                 sqs_sql("select exists (select 1 from @s@.queues"
                         " where dead_letter_queue_id = $1::int)"),
                 1, v, NULL, NULL);
    if (r == NULL)
        return req->err;
    is_dlq = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    if (!is_dlq)
        return sqs_fail(req, SQS_E_INVALID_PARAM,
                        "Source queue must be configured as a Dead Letter "
                        "Queue: no queue names %s in its RedrivePolicy.",
                        s.sqs_name);

    v[0] = s.txq_name;
    v[1] = dst_arn != NULL && dst_arn[0] != '\0' ? d.txq_name : NULL;
    v[2] = rate > 0 ? (snprintf(ratebuf, sizeof ratebuf, "%lld", rate), ratebuf)
                    : NULL;
    if (sqs_tx_begin(req, pg) != 0)
        return req->err;
    r = sqs_exec(req, pg,
                 sqs_sql("select @s@.start_move_task($1, $2, $3::bigint)"), 3,
                 v, NULL, NULL);
    if (r == NULL) {
        sqs_tx_end(req, pg, 0);
        return req->err;
    }
    req->out = json_pack("{s:s}", "TaskHandle", PQgetvalue(r, 0, 0));
    wlog(WLOG_INFO, "move task started", "task=%s queue=%s key=%s",
         PQgetvalue(r, 0, 0), s.txq_name, req->key_id);
    PQclear(r);
    if (sqs_tx_end(req, pg, 1) != 0)
        return req->err;
    runner_kick();
    return req->out ? SQS_OK : sqs_fail(req, SQS_E_INTERNAL, "oom");
}

/* One ListMessageMoveTasksResultEntry from row i of r (status, id, the
 * destination's SQS name, rate, moved, to move, reason, started). */
static json_t *
task_entry(const sqs_req *req, const PGresult *r, int i, const char *src_arn)
{
    json_t *e = json_object();
    const char *status = PQgetvalue(r, i, 0);

    if (e == NULL)
        return NULL;
    json_object_set_new(e, "TaskHandle", json_string(PQgetvalue(r, i, 1)));
    json_object_set_new(e, "Status", json_string(status));
    json_object_set_new(e, "SourceArn", json_string(src_arn));
    if (!PQgetisnull(r, i, 2)) {
        sqs_queue d;
        char arn[256];

        memset(&d, 0, sizeof d);
        snprintf(d.sqs_name, sizeof d.sqs_name, "%s", PQgetvalue(r, i, 2));
        sqs_queue_arn(req, &d, arn, sizeof arn);
        json_object_set_new(e, "DestinationArn", json_string(arn));
    }
    if (!PQgetisnull(r, i, 3))
        json_object_set_new(e, "MaxNumberOfMessagesPerSecond",
                            json_integer(atoll(PQgetvalue(r, i, 3))));
    json_object_set_new(e, "ApproximateNumberOfMessagesMoved",
                        json_integer(atoll(PQgetvalue(r, i, 4))));
    json_object_set_new(e, "ApproximateNumberOfMessagesToMove",
                        json_integer(atoll(PQgetvalue(r, i, 5))));
    if (strcmp(status, "FAILED") == 0 && !PQgetisnull(r, i, 6))
        json_object_set_new(e, "FailureReason",
                            json_string(PQgetvalue(r, i, 6)));
    json_object_set_new(e, "StartedTimestamp",
                        json_integer(atoll(PQgetvalue(r, i, 7))));
    return e;
}

enum sqs_code
sqs_list_move_tasks(sqs_req *req, PGconn *pg)
{
    const char *src_arn = sqs_param_str(req, NULL, "SourceArn");
    long long max = 1;
    char maxbuf[16];
    sqs_queue s;
    const char *v[3];
    PGresult *r;
    json_t *list;
    int i;

    if (src_arn == NULL)
        return sqs_fail(req, SQS_E_MISSING_PARAM,
                        "The request must contain the parameter SourceArn.");
    if (sqs_param_int(req, NULL, "MaxResults", 1, 10, &max) < 0)
        return req->err;
    if (sqs_queue_from_arn(req, pg, src_arn, SQS_E_RESOURCE_NOT_FOUND, &s) !=
        SQS_OK)
        return req->err;
    snprintf(maxbuf, sizeof maxbuf, "%lld", max);
    v[0] = s.txq_name;
    v[1] = maxbuf;
    v[2] = s.fifo ? "true" : "false";
    if (sqs_tx_begin(req, pg) != 0)
        return req->err;
    r = sqs_exec(
        req, pg,
        /* A destination is of the source's kind. */
        sqs_sql("select t.status, t.task_id,"
                " t.destination_name || case when $3 and t.destination_name"
                " !~ '[.]fifo$' then '.fifo' else '' end,"
                " t.max_per_second, t.moved, t.to_move, t.failure_reason,"
                " (extract(epoch from t.started_at) * 1000)::bigint"
                " from @s@.list_move_tasks($1, $2::bigint) t"
                " order by t.task_id desc"),
        3, v, NULL, NULL);
    sqs_tx_end(req, pg, 0);
    if (r == NULL)
        return req->err;
    list = json_array();
    req->out = json_object();
    if (list == NULL || req->out == NULL) {
        json_decref(list);
        PQclear(r);
        return sqs_fail(req, SQS_E_INTERNAL, "out of memory");
    }
    for (i = 0; i < PQntuples(r); i++)
        json_array_append_new(list, task_entry(req, r, i, src_arn));
    json_object_set_new(req->out, "Results", list);
    PQclear(r);
    return SQS_OK;
}

enum sqs_code
sqs_cancel_move_task(sqs_req *req, PGconn *pg)
{
    char id[24];
    const char *v[1] = {id};
    PGresult *r;

    if (sqs_param_str(req, NULL, "TaskHandle") == NULL)
        return sqs_fail(req, SQS_E_MISSING_PARAM,
                        "The request must contain the parameter TaskHandle.");
    if (parse_handle(sqs_param_str(req, NULL, "TaskHandle"), id, sizeof id) !=
        0)
        return sqs_fail(req, SQS_E_RESOURCE_NOT_FOUND, "Task does not exist.");
    if (sqs_tx_begin(req, pg) != 0)
        return req->err;
    r = sqs_exec(req, pg, sqs_sql("select @s@.cancel_move_task($1::bigint)"), 1,
                 v, NULL, NULL);
    if (r == NULL) {
        sqs_tx_end(req, pg, 0);
        /* txq's "no such task" is its unknown-queue code */
        if (req->err == SQS_E_QUEUE_NOT_FOUND)
            return sqs_fail(req, SQS_E_RESOURCE_NOT_FOUND,
                            "Task does not exist.");
        return req->err;
    }
    req->out = json_pack("{s:I}", "ApproximateNumberOfMessagesMoved",
                         (json_int_t)atoll(PQgetvalue(r, 0, 0)));
    PQclear(r);
    if (sqs_tx_end(req, pg, 1) != 0)
        return req->err;
    wlog(WLOG_INFO, "move task cancelled", "task=%s key=%s", id, req->key_id);
    return req->out ? SQS_OK : sqs_fail(req, SQS_E_INTERNAL, "oom");
}

/* === the runner === */

/* One batch of task id as role, in its own transaction; returns its
 * status, or NULL (logged) on an error. */
static const char *
run_batch(sqs_req *req, PGconn *pg, const char *id, int max)
{
    static const char *const states[] = {"RUNNING", "COMPLETED", "CANCELLED",
                                         "FAILED"};
    char maxbuf[16];
    const char *v[2] = {id, maxbuf};
    const char *st = NULL;
    PGresult *r;
    size_t i;

    snprintf(maxbuf, sizeof maxbuf, "%d", max);
    if (sqs_tx_begin(req, pg) != 0)
        goto fail;
    r = sqs_exec(req, pg,
                 sqs_sql("select @s@.run_move_task($1::bigint, $2::bigint)"), 2,
                 v, NULL, NULL);
    if (r == NULL) {
        sqs_tx_end(req, pg, 0);
        goto fail;
    }
    for (i = 0; i < sizeof states / sizeof states[0]; i++)
        if (strcmp(PQgetvalue(r, 0, 0), states[i]) == 0)
            st = states[i];
    PQclear(r);
    if (sqs_tx_end(req, pg, 1) != 0)
        goto fail;
    return st;
fail:
    wlog(WLOG_WARN, "move task batch failed", "task=%s role=%s err=%s", id,
         req->role, req->errmsg);
    return NULL;
}

/* One round: a batch of every task the login may run. Returns 1 when a
 * task is still running. */
static int
run_round(sqs_server *srv)
{
    sqs_req req;
    PGconn *pg;
    PGresult *r;
    int i, running = 0, nrunning = 0;

    memset(&req, 0, sizeof req);
    req.srv = srv;
    req.action = "MessageMoveTask";
    snprintf(req.request_id, sizeof req.request_id, "move-task-runner");
    pg = sqs_db_get(&req);
    if (pg == NULL)
        return 0;
    r = sqs_exec(&req, pg,
                 sqs_sql("select task_id, started_by, max_per_second"
                         " from @s@.move_tasks_to_run()"),
                 0, NULL, NULL, NULL);
    for (i = 0; r != NULL && i < PQntuples(r) && !runner_stop; i++) {
        const char *st;
        int max = PQgetisnull(r, i, 2) ? MOVE_BATCH : atoi(PQgetvalue(r, i, 2));

        snprintf(req.role, sizeof req.role, "%s", PQgetvalue(r, i, 1));
        snprintf(req.key_id, sizeof req.key_id, "task %s", PQgetvalue(r, i, 0));
        st = run_batch(&req, pg, PQgetvalue(r, i, 0), max);
        if (st != NULL && strcmp(st, "RUNNING") == 0) {
            running = 1;
            nrunning++;
        } else if (st != NULL)
            wlog(WLOG_INFO, "move task ended", "task=%s status=%s",
                 PQgetvalue(r, i, 0), st);
    }
    /* A round that failed to list the tasks leaves the gauge as it was. */
    if (r != NULL)
        sqs_metrics_move_tasks(nrunning);
    PQclear(r);
    sqs_db_put(pg);
    return running;
}

static void *
runner_main(void *arg)
{
    sqs_server *srv = arg;

    while (!runner_stop) {
        struct timespec ts;

        run_round(srv);
        /* A second between rounds: MaxNumberOfMessagesPerSecond is one
         * batch of that many per second. */
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_mutex_lock(&runner_mu);
        if (!runner_stop)
            pthread_cond_timedwait(&runner_cv, &runner_mu, &ts);
        pthread_mutex_unlock(&runner_mu);
    }
    return NULL;
}

int
sqs_move_start(sqs_server *srv)
{
    runner_stop = 0;
    if (pthread_create(&runner, NULL, runner_main, srv) != 0) {
        wlog(WLOG_ERROR, "cannot start the move task runner", NULL);
        return -1;
    }
    runner_started = 1;
    return 0;
}

void
sqs_move_stop(void)
{
    if (!runner_started)
        return;
    pthread_mutex_lock(&runner_mu);
    runner_stop = 1;
    pthread_cond_signal(&runner_cv);
    pthread_mutex_unlock(&runner_mu);
    pthread_join(runner, NULL);
    runner_started = 0;
}
