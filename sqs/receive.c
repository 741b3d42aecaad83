/*
 * receive.c - ReceiveMessage: a receive of up to 10 messages as the key's
 * role, their attributes and receipt handles (action_msg.c), and long
 * polls that register as txq waiters, give their pooled connection back
 * and sleep until txq's LISTEN wake-up names their queue (wake.c), their
 * wait ends or the poll interval passes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sqs.h"

enum {
    A_RECEIVE_COUNT = 1,
    A_SENT = 2,
    A_GROUP = 4,
    A_DEDUP = 8,
    A_SEQUENCE = 16,
    A_TRACE = 32
};

static int
wanted_attrs(sqs_req *req)
{
    static const struct {
        const char *name;
        int bit;
    } known[] = {
        {"ApproximateReceiveCount", A_RECEIVE_COUNT},
        {"SentTimestamp", A_SENT},
        {"MessageGroupId", A_GROUP},
        {"MessageDeduplicationId", A_DEDUP},
        {"SequenceNumber", A_SEQUENCE},
        {"AWSTraceHeader", A_TRACE},
    };
    const char *lists[] = {"AttributeNames", "MessageSystemAttributeNames"};
    int want = 0;
    size_t l, i, k;

    for (l = 0; l < 2; l++) {
        json_t *a = json_object_get(req->in, lists[l]), *x;

        json_array_foreach(a, i, x)
        {
            const char *s = json_string_value(x);

            if (s == NULL)
                continue;
            if (strcmp(s, "All") == 0)
                want = ~0;
            for (k = 0; k < sizeof known / sizeof known[0]; k++)
                if (strcmp(s, known[k].name) == 0)
                    want |= known[k].bit;
        }
    }
    return want;
}

static const char *q_receive =
    "select id, attempts, body,"
    " (extract(epoch from enqueued_at) * 1000)::bigint, group_key, dedup_id,"
    /* headers whose values are not strings as their text: SQS shows
     * them as String attributes, as PostgreSQL writes them */
    " (select jsonb_object_agg(k, case when jsonb_typeof(v) = 'string'"
    "   or k = 'sqs:types' then v else to_jsonb(v #>> '{}') end)"
    "  from jsonb_each(m.headers) as h(k, v))"
    " from @s@.receive($1, $2::bigint, $3::interval) m";

/* The message attributes of a received message (its headers as JSON
 * text, or NULL) into m, as MessageAttributeNames asks, and its
 * AWSTraceHeader into sys when want has it. Returns SQS_OK. */
static enum sqs_code
message_attrs(sqs_req *req, const char *text, int want, json_t *sys, json_t *m)
{
    json_t *names = json_object_get(req->in, "MessageAttributeNames");
    json_t *h, *a;
    const char *trace;
    char md5[33];

    if (text == NULL)
        return SQS_OK;
    h = json_loads(text, 0, NULL);
    if (h == NULL) {
        wlog(WLOG_WARN, "headers that jansson cannot read: no attributes",
             NULL);
        return SQS_OK;
    }
    a = sqs_attrs_out(h, names, md5, &trace);
    if (a == NULL) {
        json_decref(h);
        return sqs_fail(req, SQS_E_INTERNAL, "out of memory");
    }
    if (json_object_size(a) > 0) {
        json_object_set(m, "MessageAttributes", a);
        json_object_set_new(m, "MD5OfMessageAttributes", json_string(md5));
    }
    if ((want & A_TRACE) && trace != NULL && *trace != '\0' &&
        sqs_text_ok(trace, strlen(trace)))
        json_object_set_new(sys, "AWSTraceHeader", json_string(trace));
    json_decref(a);
    json_decref(h);
    return SQS_OK;
}

/* One receive as the role; appends to msgs. Returns SQS_OK. */
static enum sqs_code
receive_once(sqs_req *req,
             PGconn *pg,
             const sqs_queue *q,
             const char *max,
             const char *vt,
             int want,
             json_t *msgs)
{
    const char *v[3] = {q->txq_name, max, vt};
    PGresult *r;
    int i;

    r = sqs_tx_exec(req, pg, q_receive, 3, v, NULL, NULL);
    if (r == NULL)
        return req->err;
    for (i = 0; i < PQntuples(r); i++) {
        long long id = atoll(PQgetvalue(r, i, 0));
        long long attempt = atoll(PQgetvalue(r, i, 1));
        size_t blen = 0, slen = 0;
        unsigned char *raw =
            PQunescapeBytea((const unsigned char *)PQgetvalue(r, i, 2), &blen);
        char *body = raw ? sqs_text_for_sqs(raw, blen, &slen) : NULL;
        char handle[64], md5[33];
        json_t *m, *attrs;

        PQfreemem(raw);
        if (body == NULL) {
            PQclear(r);
            return sqs_fail(req, SQS_E_INTERNAL, "out of memory");
        }
        sqs_handle_make(req->srv, q->txq_name, id, attempt, handle);
        sqs_md5_hex(body, slen, md5);
        attrs = json_object();
        if (want & A_RECEIVE_COUNT)
            json_object_set_new(attrs, "ApproximateReceiveCount",
                                json_string(PQgetvalue(r, i, 1)));
        if (want & A_SENT)
            json_object_set_new(attrs, "SentTimestamp",
                                json_string(PQgetvalue(r, i, 3)));
        if (q->fifo && (want & A_GROUP) && !PQgetisnull(r, i, 4))
            json_object_set_new(attrs, "MessageGroupId",
                                json_string(PQgetvalue(r, i, 4)));
        if (q->fifo && (want & A_DEDUP) && !PQgetisnull(r, i, 5))
            json_object_set_new(attrs, "MessageDeduplicationId",
                                json_string(PQgetvalue(r, i, 5)));
        if (q->fifo && (want & A_SEQUENCE)) {
            char seq[32];

            snprintf(seq, sizeof seq, "%020lld", id);
            json_object_set_new(attrs, "SequenceNumber", json_string(seq));
        }
        m = json_pack("{s:s,s:s,s:s,s:s%}", "MessageId", PQgetvalue(r, i, 0),
                      "ReceiptHandle", handle, "MD5OfBody", md5, "Body", body,
                      slen);
        free(body);
        if (m == NULL) {
            json_decref(attrs);
            PQclear(r);
            return sqs_fail(req, SQS_E_INTERNAL, "out of memory");
        }
        if (message_attrs(req,
                          PQgetisnull(r, i, 6) ? NULL : PQgetvalue(r, i, 6),
                          want, attrs, m) != SQS_OK) {
            json_decref(m);
            json_decref(attrs);
            PQclear(r);
            return req->err;
        }
        if (json_object_size(attrs) > 0)
            json_object_set(m, "Attributes", attrs);
        json_decref(attrs);
        json_array_append_new(msgs, m);
    }
    PQclear(r);
    return SQS_OK;
}

/* Register as a waiter on q (txq.wait_begin, committed on its own). */
static enum sqs_code
wait_begin(sqs_req *req, PGconn *pg, const sqs_queue *q)
{
    const char *v[1] = {q->txq_name};
    PGresult *r;

    if (sqs_tx_begin(req, pg) != 0)
        return req->err;
    r = sqs_exec(req, pg, sqs_sql("select @s@.wait_begin($1)"), 1, v, NULL,
                 NULL);
    if (r == NULL) {
        sqs_tx_end(req, pg, 0);
        return req->err;
    }
    PQclear(r);
    return sqs_tx_end(req, pg, 1) == 0 ? SQS_OK : req->err;
}

enum sqs_code
sqs_receive_message(sqs_req *req, PGconn **pg)
{
    sqs_queue q;
    long long max = 1, vt = -1, wait = 0;
    char maxs[16], vts[32];
    json_t *msgs;
    double deadline;
    int want, has_wait = 0;

    if (sqs_queue_for_messages(req, *pg, &q) != SQS_OK)
        return req->err;
    if (sqs_param_int(req, NULL, "MaxNumberOfMessages", 1, 10, &max) < 0 ||
        sqs_param_int(req, NULL, "VisibilityTimeout", 0, 43200, &vt) < 0 ||
        (has_wait = sqs_param_int(req, NULL, "WaitTimeSeconds", 0, 20, &wait)) <
            0)
        return req->err;
    if (!has_wait) /* the queue's ReceiveMessageWaitTimeSeconds */
        wait = (long long)q.receive_wait;
    snprintf(maxs, sizeof maxs, "%lld", max);
    /* 0 means visible again at once; txq's least is a millisecond. */
    if (vt >= 0)
        snprintf(vts, sizeof vts, "%s", vt == 0 ? "0.001 seconds" : "");
    if (vt > 0)
        snprintf(vts, sizeof vts, "%lld seconds", vt);
    want = wanted_attrs(req);
    msgs = json_array();
    req->out = json_object();
    if (msgs == NULL || req->out == NULL) {
        json_decref(msgs);
        return sqs_fail(req, SQS_E_INTERNAL, "out of memory");
    }
    deadline = sqs_now() + (double)wait;

    if (receive_once(req, *pg, &q, maxs, vt >= 0 ? vts : NULL, want, msgs) !=
        SQS_OK)
        goto fail;
    while (json_array_size(msgs) == 0 && sqs_now() < deadline &&
           !req->srv->draining) {
        double until;
        uint64_t gen;
        int woken;

        /* Register, then look: a send committed after the look notifies
         * (txq._wake), and the generation taken before the registration
         * sees that notification. */
        gen = sqs_wake_gen(q.txq_name);
        if (wait_begin(req, *pg, &q) != SQS_OK ||
            receive_once(req, *pg, &q, maxs, vt >= 0 ? vts : NULL, want,
                         msgs) != SQS_OK)
            goto fail;
        if (json_array_size(msgs) > 0)
            break;
        /* Sleep without a connection: the pool serves others meanwhile. */
        sqs_db_put(*pg);
        *pg = NULL;
        until = sqs_now() + req->srv->poll_interval;
        wlog(WLOG_DEBUG, "long poll waiting", "queue=%s", q.txq_name);
        sqs_metrics_long_poll(1);
        woken =
            sqs_wake_wait(q.txq_name, gen, until < deadline ? until : deadline);
        sqs_metrics_long_poll(-1);
        wlog(WLOG_DEBUG, "long poll woken", "queue=%s by=%s", q.txq_name,
             woken                   ? "notify"
             : sqs_now() >= deadline ? "deadline"
                                     : "poll");
        if (sqs_now() >= deadline || req->srv->draining)
            break;
        *pg = sqs_db_get(req);
        if (*pg == NULL)
            goto fail;
    }
    if (json_array_size(msgs) > 0)
        json_object_set(req->out, "Messages", msgs);
    json_decref(msgs);
    return SQS_OK;
fail:
    json_decref(msgs);
    json_decref(req->out);
    req->out = NULL;
    return req->err;
}
