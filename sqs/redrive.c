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
        return req->err != SQS_E_QUEUE_NOT_FOUND
                   ? req->err /* the database's trouble, not the ARN's */
                   : sqs_fail(req, notfound,
                              "The resource %.200s does not exist.", arn);
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

/* === RedriveAllowPolicy: the queue's dead_letter_sources === */

/* SQS's wording for a bad RedriveAllowPolicy. */
static enum sqs_code
bad_allow(sqs_req *req, const char *reason)
{
    return sqs_fail(req, SQS_E_INVALID_ATTR_VALUE,
                    "Invalid value for the parameter RedriveAllowPolicy. "
                    "Reason: %s",
                    reason);
}

enum sqs_code
sqs_allow_parse(sqs_req *req, PGconn *pg, const char *value, sqs_allow *out)
{
    json_t *doc = NULL, *perm, *arns, *names = NULL, *v;
    const char *k, *p;
    enum sqs_code rc = SQS_OK;
    size_t i;
    char *text;

    memset(out, 0, sizeof *out);
    out->given = 1;
    out->any = 1;
    if (value[0] == '\0')
        return SQS_OK; /* as allowAll */
    doc = json_loads(value, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(doc)) {
        rc = bad_allow(req, "a JSON object, {\"redrivePermission\": ...}.");
        goto out;
    }
    json_object_foreach(doc, k, v)
    {
        if (strcmp(k, "redrivePermission") != 0 &&
            strcmp(k, "sourceQueueArns") != 0) {
            rc = bad_allow(req, "Only following attributes are supported: "
                                "[redrivePermission, sourceQueueArns].");
            goto out;
        }
    }
    perm = json_object_get(doc, "redrivePermission");
    arns = json_object_get(doc, "sourceQueueArns");
    p = json_string_value(perm);
    if (p == NULL || (strcmp(p, "allowAll") != 0 && strcmp(p, "denyAll") != 0 &&
                      strcmp(p, "byQueue") != 0)) {
        rc = bad_allow(req, "redrivePermission is allowAll, denyAll or "
                            "byQueue.");
        goto out;
    }
    if ((arns != NULL) != (strcmp(p, "byQueue") == 0)) {
        rc = bad_allow(req, "sourceQueueArns is given with byQueue, and "
                            "only then.");
        goto out;
    }
    if (strcmp(p, "allowAll") == 0)
        goto out;
    out->any = 0;
    if (strcmp(p, "denyAll") == 0) {
        snprintf(out->sources, sizeof out->sources, "[]");
        goto out;
    }
    if (!json_is_array(arns) || json_array_size(arns) < 1 ||
        json_array_size(arns) > 10) {
        rc = bad_allow(req, "sourceQueueArns is a list of 1 to 10 queue "
                            "ARNs.");
        goto out;
    }
    names = json_array();
    json_array_foreach(arns, i, v)
    {
        sqs_queue q;
        char prefix[160];
        size_t n;
        const char *arn = json_string_value(v);

        snprintf(prefix, sizeof prefix, "arn:aws:sqs:%s:%s:", req->srv->region,
                 req->srv->account);
        n = strlen(prefix);
        if (arn == NULL || strncmp(arn, prefix, n) != 0 ||
            sqs_queue_name(req, arn + n, &q) != SQS_OK) {
            req->err = SQS_OK;
            rc = bad_allow(req, "sourceQueueArns names queues of this "
                                "server's region and account by ARN.");
            goto out;
        }
        /* A queue made without its .fifo goes by its txq name; one not
         * made yet by the name given. */
        if (sqs_queue_lookup(req, pg, &q) != SQS_OK) {
            if (req->err != SQS_E_QUEUE_NOT_FOUND) {
                rc = req->err;
                goto out;
            }
            req->err = SQS_OK;
        }
        json_array_append_new(names, json_string(q.txq_name));
    }
    text = json_dumps(names, JSON_COMPACT);
    if (text == NULL || strlen(text) >= sizeof out->sources) {
        free(text);
        rc = sqs_fail(req, SQS_E_INTERNAL, "out of memory");
        goto out;
    }
    snprintf(out->sources, sizeof out->sources, "%s", text);
    free(text);
out:
    json_decref(names);
    json_decref(doc);
    return rc;
}

static const char *q_allow_set =
    "select @s@.set_dead_letter_sources($1, case when $2::jsonb is null"
    " then null else array(select jsonb_array_elements_text($2::jsonb))"
    " end)";

enum sqs_code
sqs_allow_apply(sqs_req *req,
                PGconn *pg,
                const sqs_queue *q,
                const sqs_allow *a)
{
    const char *v[2] = {q->txq_name, a->any ? NULL : a->sources};
    PGresult *r;

    if (!a->given)
        return SQS_OK;
    r = sqs_exec(req, pg, sqs_sql(q_allow_set), 2, v, NULL, NULL);
    PQclear(r);
    return r != NULL ? SQS_OK : req->err;
}

enum sqs_code
sqs_allow_same(
    sqs_req *req, PGconn *pg, const sqs_queue *q, const sqs_allow *a, int *same)
{
    char id[32];
    const char *v[2] = {id, a->any ? NULL : a->sources};
    PGresult *r;

    *same = 1;
    if (!a->given)
        return SQS_OK;
    snprintf(id, sizeof id, "%lld", q->queue_id);
    r = sqs_exec(req, pg,
                 sqs_sql("select dead_letter_sources is not distinct from"
                         " (case when $2::jsonb is null then null else"
                         " array(select distinct s from"
                         " jsonb_array_elements_text($2::jsonb) s order by s)"
                         " end) from @s@.queues where queue_id = $1::int"),
                 2, v, NULL, NULL);
    if (r == NULL)
        return req->err;
    *same = PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    return SQS_OK;
}

enum sqs_code
sqs_allow_render(sqs_req *req, PGconn *pg, const sqs_queue *q, json_t *attrs)
{
    char id[32];
    const char *v[1] = {id};
    json_t *names, *policy, *arns, *n;
    PGresult *r;
    size_t i;
    char *text;

    snprintf(id, sizeof id, "%lld", q->queue_id);
    r = sqs_exec(req, pg,
                 sqs_sql("select to_jsonb(dead_letter_sources)"
                         " from @s@.queues where queue_id = $1::int"),
                 1, v, NULL, NULL);
    if (r == NULL)
        return req->err;
    if (PQntuples(r) != 1 || PQgetisnull(r, 0, 0)) {
        PQclear(r); /* any queue: SQS shows nothing until one is set */
        return SQS_OK;
    }
    names = json_loads(PQgetvalue(r, 0, 0), 0, NULL);
    PQclear(r);
    policy = json_object();
    arns = json_array();
    json_array_foreach(names, i, n)
    {
        char arn[256];
        sqs_queue s;

        memset(&s, 0, sizeof s);
        snprintf(s.sqs_name, sizeof s.sqs_name, "%s", json_string_value(n));
        sqs_queue_arn(req, &s, arn, sizeof arn);
        json_array_append_new(arns, json_string(arn));
    }
    json_object_set_new(
        policy, "redrivePermission",
        json_string(json_array_size(arns) ? "byQueue" : "denyAll"));
    if (json_array_size(arns))
        json_object_set(policy, "sourceQueueArns", arns);
    text = json_dumps(policy, JSON_COMPACT);
    if (text != NULL)
        json_object_set_new(attrs, "RedriveAllowPolicy", json_string(text));
    free(text);
    json_decref(arns);
    json_decref(policy);
    json_decref(names);
    return text != NULL ? SQS_OK : sqs_fail(req, SQS_E_INTERNAL, "oom");
}
