/*
 * redrive.c - SQS's dead-letter queues on txq's: queue ARNs, the
 * RedrivePolicy attribute (deadLetterTargetArn is the queue's
 * dead_letter_queue, maxReceiveCount its max_attempts) and the action
 * ListDeadLetterSourceQueues. A message whose receives pass
 * maxReceiveCount is moved by txq itself, in the receive that finds its
 * last claim lapsed (docs/sqs.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sqs.h"

void
sqs_queue_arn(const sqs_req *req, const sqs_queue *q, char *buf, size_t size)
{
    snprintf(buf, size, "arn:aws:sqs:%s:%s:%s", req->srv->region,
             req->srv->account, q->sqs_name);
}

enum sqs_code
sqs_queue_from_arn(sqs_req *req,
                   PGconn *pg,
                   const char *arn,
                   enum sqs_code notfound,
                   sqs_queue *q)
{
    char prefix[160];
    size_t n;

    snprintf(prefix, sizeof prefix, "arn:aws:sqs:%s:%s:", req->srv->region,
             req->srv->account);
    n = strlen(prefix);
    if (arn == NULL || strncmp(arn, prefix, n) != 0 ||
        sqs_queue_name(req, arn + n, q) != SQS_OK)
        return sqs_fail(req, notfound,
                        "%.200s names no queue of this server (%s...)",
                        arn ? arn : "(none)", prefix);
    if (sqs_queue_lookup(req, pg, q) != SQS_OK)
        return sqs_fail(req, notfound, "The resource %.200s does not exist.",
                        arn);
    return SQS_OK;
}

/* SQS's wording for a bad RedrivePolicy. */
static enum sqs_code
bad_policy(sqs_req *req, const char *value, const char *reason)
{
    return sqs_fail(req, SQS_E_INVALID_PARAM,
                    "Value %.300s for parameter RedrivePolicy is invalid. "
                    "Reason: %s",
                    value, reason);
}

enum sqs_code
sqs_redrive_parse(sqs_req *req,
                  PGconn *pg,
                  const sqs_queue *q,
                  const char *value,
                  sqs_redrive *out)
{
    json_t *doc, *arn, *count, *v;
    const char *k;
    long long max = 0;
    sqs_queue t;
    enum sqs_code rc = SQS_OK;

    memset(out, 0, sizeof *out);
    out->given = 1;
    if (value[0] == '\0')
        return SQS_OK; /* removes it */
    doc = json_loads(value, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(doc)) {
        json_decref(doc);
        return bad_policy(req, value,
                          "Invalid value for the parameter "
                          "RedrivePolicy: a JSON object.");
    }
    json_object_foreach(doc, k, v)
    {
        if (strcmp(k, "deadLetterTargetArn") != 0 &&
            strcmp(k, "maxReceiveCount") != 0) {
            rc = bad_policy(req, value,
                            "Only following attributes are supported: "
                            "[deadLetterTargetArn, maxReceiveCount].");
            goto out;
        }
    }
    arn = json_object_get(doc, "deadLetterTargetArn");
    count = json_object_get(doc, "maxReceiveCount");
    if (!json_is_string(arn)) {
        rc = bad_policy(req, value,
                        "Redrive policy does not contain mandatory "
                        "attribute: deadLetterTargetArn.");
        goto out;
    }
    if (count == NULL) {
        rc = bad_policy(req, value,
                        "Redrive policy does not contain mandatory "
                        "attribute: maxReceiveCount.");
        goto out;
    }
    if (json_is_integer(count)) {
        max = json_integer_value(count);
    } else if (json_is_string(count)) {
        char *end;
        const char *s = json_string_value(count);

        max = strtoll(s, &end, 10);
        if (*s == '\0' || *end != '\0')
            max = 0;
    }
    if (max < 1 || max > 1000) {
        rc = bad_policy(req, value,
                        "Invalid value for maxReceiveCount: valid values are "
                        "from 1 to 1000 both inclusive.");
        goto out;
    }
    if (sqs_queue_from_arn(req, pg, json_string_value(arn), SQS_E_INVALID_PARAM,
                           &t) != SQS_OK) {
        rc = bad_policy(req, value, "Dead letter target does not exist.");
        goto out;
    }
    if (t.fifo != q->fifo) {
        rc = bad_policy(req, value,
                        q->fifo ? "Dead-letter queue of a FIFO queue must be "
                                  "a FIFO queue."
                                : "Dead-letter queue of a standard queue "
                                  "must be a standard queue.");
        goto out;
    }
    /* Itself, a cycle, a missing send privilege: the server says which. */
    out->max_receive = (int)max;
    snprintf(out->target, sizeof out->target, "%s", t.txq_name);
    snprintf(out->sqs_target, sizeof out->sqs_target, "%s", t.sqs_name);
out:
    json_decref(doc);
    return rc;
}

void
sqs_redrive_render(const sqs_req *req,
                   const sqs_queue *q,
                   char *buf,
                   size_t size)
{
    sqs_queue t;
    char arn[256];

    buf[0] = '\0';
    if (q->dead_letter[0] == '\0')
        return;
    memset(&t, 0, sizeof t);
    snprintf(t.sqs_name, sizeof t.sqs_name, "%s", q->dead_letter);
    sqs_queue_arn(req, &t, arn, sizeof arn);
    snprintf(buf, size,
             "{\"deadLetterTargetArn\":\"%s\",\"maxReceiveCount\":%d}", arn,
             q->max_attempts);
}

enum sqs_code
sqs_list_dead_letter_sources(sqs_req *req, PGconn *pg)
{
    const char *token = sqs_param_str(req, NULL, "NextToken");
    long long max = 1000;
    int paged;
    sqs_queue q;
    char qid[24];
    const char *v[2];
    PGresult *r = NULL, *names;
    json_t *urls = NULL;
    int i, n;
    enum sqs_code rc;

    if (sqs_queue_from_url(req, pg, &q) != SQS_OK)
        return req->err;
    paged = sqs_param_int(req, NULL, "MaxResults", 1, 1000, &max);
    if (paged < 0)
        return req->err;
    /* The sources, read as the login (the queue list), then those the
     * role holds a privilege on, as the role. */
    snprintf(qid, sizeof qid, "%lld", q.queue_id);
    v[0] = qid;
    v[1] = token ? token : "";
    r = sqs_exec(req, pg,
                 sqs_sql("select coalesce(jsonb_agg(s.name"
                         " order by s.name), '[]') from @s@.queues s"
                         " where s.dead_letter_queue_id = $1::int"
                         " and s.name > $2"),
                 2, v, NULL, NULL);
    if (r == NULL)
        return req->err;
    if (sqs_tx_begin(req, pg) != 0) {
        PQclear(r);
        return req->err;
    }
    if ((rc = sqs_need_some_privilege(req, pg, &q)) != SQS_OK) {
        sqs_tx_end(req, pg, 0);
        PQclear(r);
        return rc;
    }
    v[0] = PQgetvalue(r, 0, 0);
    names = sqs_exec(req, pg,
                     sqs_sql("select n from jsonb_array_elements_text($1)"
                             " with ordinality as a(n, o)"
                             " where cardinality(@s@.privileges(n)) > 0"
                             " order by o limit 1001"),
                     1, v, NULL, NULL);
    sqs_tx_end(req, pg, 0);
    PQclear(r);
    r = names;
    if (r == NULL)
        return req->err;
    urls = json_array();
    req->out = json_object();
    if (urls == NULL || req->out == NULL) {
        json_decref(urls);
        PQclear(r);
        return sqs_fail(req, SQS_E_INTERNAL, "out of memory");
    }
    n = PQntuples(r);
    for (i = 0; i < n && i < max; i++) {
        sqs_queue s;
        char url[512];

        memset(&s, 0, sizeof s);
        /* A source is of its dead-letter queue's kind. */
        sqs_name_of(s.sqs_name, sizeof s.sqs_name, PQgetvalue(r, i, 0), q.fifo);
        sqs_queue_url(req, &s, url, sizeof url);
        json_array_append_new(urls, json_string(url));
    }
    json_object_set_new(req->out, "queueUrls", urls);
    if (paged && n > max) {
        /* the token is a txq name: the last one of this page */
        json_object_set_new(req->out, "NextToken",
                            json_string(PQgetvalue(r, (int)max - 1, 0)));
    }
    PQclear(r);
    return SQS_OK;
}
