/*
 * action_queue.c - the queue actions: CreateQueue, GetQueueUrl,
 * ListQueues, DeleteQueue, GetQueueAttributes, SetQueueAttributes,
 * PurgeQueue, and queue names and URLs. Each runs txq's SQL API as the
 * request's role; every value is a parameter.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sqs.h"

/* === queue names and URLs === */

/* SQS's queue name rule, which is txq's (txq_name_valid: txq-sqs does not
 * link libtxq): [A-Za-z0-9_-]{1,80} or [A-Za-z0-9_-]{1,75}\.fifo. */
static int
name_ok(const char *name)
{
    size_t n = strlen(name), i, end = n;

    if (n > 5 && strcmp(name + n - 5, ".fifo") == 0)
        end = n - 5;
    if (end == 0 || n > SQS_NAME_MAX)
        return 0;
    for (i = 0; i < end; i++)
        if (!((name[i] >= 'a' && name[i] <= 'z') ||
              (name[i] >= 'A' && name[i] <= 'Z') ||
              (name[i] >= '0' && name[i] <= '9') || name[i] == '_' ||
              name[i] == '-'))
            return 0;
    return 1;
}

enum sqs_code
sqs_queue_name(sqs_req *req, const char *name, sqs_queue *q)
{
    size_t n;

    memset(q, 0, sizeof *q);
    if (name == NULL || *name == '\0')
        return sqs_fail(req, SQS_E_MISSING_PARAM,
                        "The request must contain the parameter QueueName.");
    /* txq's rule is SQS's: the SQS name is the txq name. */
    if (!name_ok(name))
        return sqs_fail(req, SQS_E_INVALID_PARAM,
                        "Can only include alphanumeric characters, hyphens, "
                        "or underscores. 1 to 80 in length");
    n = strlen(name);
    memcpy(q->sqs_name, name, n + 1);
    memcpy(q->txq_name, name, n + 1);
    q->fifo = n > 5 && strcmp(name + n - 5, ".fifo") == 0;
    return SQS_OK;
}

void
sqs_name_of(char *buf, size_t size, const char *txq_name, int fifo)
{
    size_t n = strlen(txq_name);
    int suffixed = n > 5 && strcmp(txq_name + n - 5, ".fifo") == 0;

    snprintf(buf, size, "%s%s", txq_name, fifo && !suffixed ? ".fifo" : "");
}

void
sqs_queue_url(const sqs_req *req, const sqs_queue *q, char *buf, size_t size)
{
    snprintf(buf, size, "http://%s/%s/%s", req->host, req->srv->account,
             q->sqs_name);
}

static const char *q_lookup =
    "select queue_id, kind, extract(epoch from visibility_timeout)::float8,"
    " extract(epoch from delay)::float8, max_body_bytes,"
    " coalesce(extract(epoch from expire_after)::float8, -1),"
    " extract(epoch from created_at)::bigint, max_attempts,"
    " (select d.name || case when d.kind = 'fifo'"
    " and d.name !~ '[.]fifo$' then '.fifo' else '' end"
    " from @s@.queues d where d.queue_id = q.dead_letter_queue_id),"
    " extract(epoch from receive_wait)::float8, name"
    " from @s@.queues q where name = $1"
    /* NAME.fifo is also the FIFO queue NAME made without the suffix
     * (before txq took SQS's names, or by SQL), when no NAME.fifo is. */
    " or (name = $2 and kind = 'fifo') order by name = $1 desc limit 1";

/* As the login (outside any role's transaction). */
enum sqs_code
sqs_queue_lookup(sqs_req *req, PGconn *pg, sqs_queue *q)
{
    char bare[SQS_NAME_MAX + 1];
    const char *v[2] = {q->txq_name, NULL};
    PGresult *r;
    int fifo;

    if (q->fifo) {
        size_t n = strlen(q->sqs_name);

        memcpy(bare, q->sqs_name, n - 5);
        bare[n - 5] = '\0';
        v[1] = bare;
    }
    r = sqs_exec(req, pg, sqs_sql(q_lookup), 2, v, NULL, NULL);

    if (r == NULL)
        return req->err;
    if (PQntuples(r) != 1) {
        PQclear(r);
        return sqs_fail(req, SQS_E_QUEUE_NOT_FOUND,
                        "The specified queue does not exist.");
    }
    fifo = strcmp(PQgetvalue(r, 0, 1), "fifo") == 0;
    q->queue_id = atoll(PQgetvalue(r, 0, 0));
    q->visibility_timeout = atof(PQgetvalue(r, 0, 2));
    q->delay = atof(PQgetvalue(r, 0, 3));
    q->max_body_bytes = atoll(PQgetvalue(r, 0, 4));
    q->expire_after = atof(PQgetvalue(r, 0, 5));
    q->created = atoll(PQgetvalue(r, 0, 6));
    q->max_attempts = atoi(PQgetvalue(r, 0, 7));
    snprintf(q->dead_letter, sizeof q->dead_letter, "%s", PQgetvalue(r, 0, 8));
    q->receive_wait = atof(PQgetvalue(r, 0, 9));
    snprintf(q->txq_name, sizeof q->txq_name, "%s", PQgetvalue(r, 0, 10));
    PQclear(r);
    if (fifo != q->fifo)
        return sqs_fail(req, SQS_E_QUEUE_NOT_FOUND,
                        "The specified queue does not exist.");
    return SQS_OK;
}

enum sqs_code
sqs_queue_from_url_name(sqs_req *req, sqs_queue *q)
{
    const char *url = sqs_param_str(req, NULL, "QueueUrl");
    const char *path, *name;
    char account[64];
    size_t alen;

    if (url == NULL) {
        if (strcmp(req->url_path, "/") == 0 || req->url_path[0] == '\0')
            return sqs_fail(req, SQS_E_MISSING_PARAM,
                            "The request must contain the parameter "
                            "QueueUrl.");
        path = req->url_path;
    } else {
        path = strstr(url, "://");
        path = path ? strchr(path + 3, '/') : NULL;
        if (path == NULL)
            return sqs_fail(req, SQS_E_QUEUE_NOT_FOUND,
                            "The specified queue does not exist.");
    }
    /* /ACCOUNT/NAME */
    path++;
    name = strchr(path, '/');
    if (name == NULL)
        return sqs_fail(req, SQS_E_QUEUE_NOT_FOUND,
                        "The specified queue does not exist.");
    alen = (size_t)(name - path);
    if (alen >= sizeof account)
        return sqs_fail(req, SQS_E_QUEUE_NOT_FOUND,
                        "The specified queue does not exist.");
    memcpy(account, path, alen);
    account[alen] = '\0';
    name++;
    if (strcmp(account, req->srv->account) != 0 || strchr(name, '/') != NULL)
        return sqs_fail(req, SQS_E_QUEUE_NOT_FOUND,
                        "The specified queue does not exist.");
    if (sqs_queue_name(req, name, q) != SQS_OK)
        return sqs_fail(req, SQS_E_QUEUE_NOT_FOUND,
                        "The specified queue does not exist.");
    return SQS_OK;
}

enum sqs_code
sqs_queue_from_url(sqs_req *req, PGconn *pg, sqs_queue *q)
{
    if (sqs_queue_from_url_name(req, q) != SQS_OK ||
        sqs_queue_lookup(req, pg, q) != SQS_OK)
        return req->err;
    /* What the metrics count messages under: a queue that exists, never
     * a name as the caller wrote it. */
    snprintf(req->queue, sizeof req->queue, "%s", q->sqs_name);
    return SQS_OK;
}

/* === queue attributes === */

struct attrs {
    long long vt, delay, max_size, retention, wait;
    int has_vt, has_delay, has_max_size, has_retention, has_wait, fifo,
        has_fifo;
    sqs_redrive redrive;
    sqs_allow allow;
};

static int
parse_bool(const char *s, int *out)
{
    if (strcmp(s, "true") == 0)
        *out = 1;
    else if (strcmp(s, "false") == 0)
        *out = 0;
    else
        return -1;
    return 0;
}

/* Attributes of CreateQueue (create) or SetQueueAttributes. */
static enum sqs_code
parse_attrs(
    sqs_req *req, PGconn *pg, const sqs_queue *q, int create, struct attrs *a)
{
    json_t *map = json_object_get(req->in, "Attributes"), *v;
    const char *k;

    memset(a, 0, sizeof *a);
    if (map == NULL)
        return SQS_OK;
    if (!json_is_object(map))
        return sqs_fail(req, SQS_E_INVALID_PARAM, "Attributes is not a map");
    json_object_foreach(map, k, v)
    {
        struct {
            const char *name;
            long long lo, hi, *out;
            int *has;
        } ints[] = {
            {"VisibilityTimeout", 1, 43200, &a->vt, &a->has_vt},
            {"DelaySeconds", 0, 900, &a->delay, &a->has_delay},
            {"MaximumMessageSize", 1024, 1048576, &a->max_size,
             &a->has_max_size},
            {"MessageRetentionPeriod", 60, 1209600, &a->retention,
             &a->has_retention},
            {"ReceiveMessageWaitTimeSeconds", 0, 20, &a->wait, &a->has_wait},
        };
        const char *s = json_is_string(v) ? json_string_value(v) : NULL;
        size_t i;
        int b;

        if (s == NULL)
            return sqs_fail(req, SQS_E_INVALID_ATTR_VALUE,
                            "Invalid value for the parameter %s.", k);
        for (i = 0; i < sizeof ints / sizeof ints[0]; i++) {
            char *end;
            long long x;

            if (strcmp(k, ints[i].name) != 0)
                continue;
            x = strtoll(s, &end, 10);
            if (*s == '\0' || *end != '\0' || x < ints[i].lo || x > ints[i].hi)
                return sqs_fail(req, SQS_E_INVALID_ATTR_VALUE,
                                "Invalid value for the parameter %s: "
                                "txq-sqs takes %lld to %lld.",
                                k, ints[i].lo, ints[i].hi);
            *ints[i].out = x;
            *ints[i].has = 1;
            break;
        }
        if (i < sizeof ints / sizeof ints[0])
            continue;
        if (strcmp(k, "FifoQueue") == 0) {
            if (!create)
                return sqs_fail(req, SQS_E_INVALID_ATTR_NAME,
                                "FifoQueue can only be set when a queue is "
                                "created.");
            if (parse_bool(s, &b) != 0 || b != q->fifo)
                return sqs_fail(req, SQS_E_INVALID_ATTR_VALUE,
                                "FifoQueue: the name of a FIFO queue ends "
                                "in .fifo, and only theirs.");
            a->fifo = b;
            a->has_fifo = 1;
        } else if (strcmp(k, "ContentBasedDeduplication") == 0) {
            /* FIFO queues always deduplicate by content when a send
             * gives no MessageDeduplicationId (docs/sqs.md). */
            if (parse_bool(s, &b) != 0 || !q->fifo)
                return sqs_fail(req, SQS_E_INVALID_ATTR_VALUE,
                                "ContentBasedDeduplication: true or false, "
                                "FIFO queues only.");
        } else if (strcmp(k, "RedrivePolicy") == 0) {
            if (sqs_redrive_parse(req, pg, q, s, &a->redrive) != SQS_OK)
                return req->err;
        } else if (strcmp(k, "RedriveAllowPolicy") == 0) {
            if (sqs_allow_parse(req, pg, s, &a->allow) != SQS_OK)
                return req->err;
        } else {
            return sqs_fail(req, SQS_E_INVALID_ATTR_NAME,
                            "Unknown or unsupported attribute %.100s "
                            "(txq-sqs: see docs/sqs.md).",
                            k);
        }
    }
    return SQS_OK;
}

/* "N seconds", or NULL when absent. */
static const char *
secs(char *buf, size_t size, int has, long long v)
{
    if (!has)
        return NULL;
    snprintf(buf, size, "%lld seconds", v);
    return buf;
}

/* Whether the given attributes match q's; the first that differs. */
static const char *
attrs_differ(const struct attrs *a, const sqs_queue *q)
{
    if (a->has_vt && (double)a->vt != q->visibility_timeout)
        return "VisibilityTimeout";
    if (a->has_delay && (double)a->delay != q->delay)
        return "DelaySeconds";
    if (a->has_max_size && a->max_size != q->max_body_bytes)
        return "MaximumMessageSize";
    if (a->has_retention && (double)a->retention != q->expire_after)
        return "MessageRetentionPeriod";
    if (a->redrive.given &&
        (strcmp(a->redrive.sqs_target, q->dead_letter) != 0 ||
         (a->redrive.target[0] && a->redrive.max_receive != q->max_attempts)))
        return "RedrivePolicy";
    if (a->has_wait && (double)a->wait != q->receive_wait)
        return "ReceiveMessageWaitTimeSeconds";
    return NULL;
}

enum sqs_code
sqs_need_some_privilege(sqs_req *req, PGconn *pg, const sqs_queue *q)
{
    const char *v[1] = {q->txq_name};
    PGresult *r =
        sqs_exec(req, pg, sqs_sql("select cardinality(@s@.privileges($1)) > 0"),
                 1, v, NULL, NULL);
    int ok;

    if (r == NULL)
        return req->err;
    ok = PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    if (!ok)
        return sqs_fail(req, SQS_E_ACCESS_DENIED,
                        "role %s holds no privilege on queue %s", req->role,
                        q->txq_name);
    return SQS_OK;
}

static enum sqs_code
reply_url(sqs_req *req, const sqs_queue *q)
{
    char url[512];

    sqs_queue_url(req, q, url, sizeof url);
    req->out = json_pack("{s:s}", "QueueUrl", url);
    return req->out ? SQS_OK : sqs_fail(req, SQS_E_INTERNAL, "out of memory");
}

/* The existing queue q: its URL when the attributes match and the role
 * may see it. */
static enum sqs_code
existing(sqs_req *req, PGconn *pg, sqs_queue *q, const struct attrs *a)
{
    const char *diff = attrs_differ(a, q);
    int ok, same;

    if (diff == NULL) {
        if (sqs_allow_same(req, pg, q, &a->allow, &same) != SQS_OK)
            return req->err;
        if (!same)
            diff = "RedriveAllowPolicy";
    }

    if (diff != NULL)
        return sqs_fail(req, SQS_E_QUEUE_EXISTS,
                        "A queue already exists with the same name and a "
                        "different value for attribute %s",
                        diff);
    if (sqs_tx_begin(req, pg) != 0)
        return req->err;
    ok = sqs_need_some_privilege(req, pg, q) == SQS_OK;
    sqs_tx_end(req, pg, 0);
    return ok ? reply_url(req, q) : req->err;
}

/* ReceiveMessageWaitTimeSeconds, when given, in the role's transaction. */
static enum sqs_code
set_wait(sqs_req *req, PGconn *pg, const sqs_queue *q, const struct attrs *a)
{
    char wait[32];
    const char *v[2] = {q->txq_name, wait};
    PGresult *r;

    if (!a->has_wait)
        return SQS_OK;
    snprintf(wait, sizeof wait, "%lld seconds", a->wait);
    r = sqs_exec(req, pg,
                 sqs_sql("select @s@.set_receive_wait($1, $2::interval)"), 2, v,
                 NULL, NULL);
    PQclear(r);
    return r != NULL ? SQS_OK : req->err;
}

/* CreateQueue's tags: "tags" in JSON, Tag.N.Key/Value in a form. */
static json_t *
create_tags(const sqs_req *req)
{
    json_t *t = json_object_get(req->in, "tags");

    return t != NULL ? t : json_object_get(req->in, "Tags");
}

enum sqs_code
sqs_create_queue(sqs_req *req, PGconn *pg)
{
    sqs_queue q;
    struct attrs a;
    char vt[32], delay[32], size[32], ret[32], tries[16];
    const char *v[8];
    PGresult *r;

    if (sqs_queue_name(req, sqs_param_str(req, NULL, "QueueName"), &q) !=
            SQS_OK ||
        parse_attrs(req, pg, &q, 1, &a) != SQS_OK)
        return req->err;
    if (sqs_queue_lookup(req, pg, &q) == SQS_OK)
        return existing(req, pg, &q, &a);
    if (req->err != SQS_E_QUEUE_NOT_FOUND)
        return req->err;
    req->err = SQS_OK;

    v[0] = q.txq_name;
    v[1] = q.fifo ? "fifo" : "standard";
    v[2] = secs(vt, sizeof vt, a.has_vt, a.vt);
    v[3] = a.has_max_size
               ? (snprintf(size, sizeof size, "%lld", a.max_size), size)
               : NULL;
    v[4] = secs(ret, sizeof ret, a.has_retention, a.retention);
    v[5] = secs(delay, sizeof delay, a.has_delay, a.delay);
    /* SQS redelivers without limit when no redrive policy says
     * otherwise: txq's most attempts. */
    snprintf(tries, sizeof tries, "%d",
             a.redrive.target[0] ? a.redrive.max_receive : 1000);
    v[6] = tries;
    v[7] = a.redrive.target[0] ? a.redrive.target : NULL;
    if (sqs_tx_begin(req, pg) != 0)
        return req->err;
    r = sqs_exec(req, pg,
                 sqs_sql("select (@s@.create_queue($1, i_kind => $2,"
                         " i_max_attempts => $7::bigint,"
                         " i_visibility_timeout => $3::interval,"
                         " i_max_body_bytes => $4::bigint,"
                         " i_expire_after => $5::interval,"
                         " i_delay => $6::interval,"
                         " i_dead_letter_queue => $8)).name"),
                 8, v, NULL, NULL);
    if (r == NULL) {
        sqs_tx_end(req, pg, 0);
        if (req->err == SQS_E_QUEUE_EXISTS) {
            /* created meanwhile by someone else */
            req->err = SQS_OK;
            if (sqs_queue_lookup(req, pg, &q) == SQS_OK)
                return existing(req, pg, &q, &a);
        }
        return req->err;
    }
    PQclear(r);
    if (set_wait(req, pg, &q, &a) != SQS_OK ||
        sqs_allow_apply(req, pg, &q, &a.allow) != SQS_OK ||
        sqs_tags_set(req, pg, &q, create_tags(req)) != SQS_OK) {
        sqs_tx_end(req, pg, 0);
        return req->err;
    }
    if (sqs_tx_end(req, pg, 1) != 0)
        return req->err;
    wlog(WLOG_INFO, "queue created", "queue=%s key=%s", q.txq_name,
         req->key_id);
    return reply_url(req, &q);
}

enum sqs_code
sqs_get_queue_url(sqs_req *req, PGconn *pg)
{
    sqs_queue q;
    struct attrs none;

    memset(&none, 0, sizeof none);
    if (sqs_queue_name(req, sqs_param_str(req, NULL, "QueueName"), &q) !=
        SQS_OK) {
        if (req->err == SQS_E_INVALID_PARAM)
            return sqs_fail(req, SQS_E_QUEUE_NOT_FOUND,
                            "The specified queue does not exist.");
        return req->err;
    }
    if (sqs_queue_lookup(req, pg, &q) != SQS_OK)
        return req->err;
    return existing(req, pg, &q, &none);
}

enum sqs_code
sqs_list_queues(sqs_req *req, PGconn *pg)
{
    const char *prefix = sqs_param_str(req, NULL, "QueueNamePrefix");
    const char *token = sqs_param_str(req, NULL, "NextToken");
    long long max = 1000;
    int paged;
    PGresult *r = NULL, *r2 = NULL;
    json_t *urls = json_array(), *arr = json_array();
    const char *v[1];
    int i, n;
    enum sqs_code rc = SQS_OK;

    if (urls == NULL || arr == NULL) {
        rc = sqs_fail(req, SQS_E_INTERNAL, "out of memory");
        goto out;
    }
    paged = sqs_param_int(req, NULL, "MaxResults", 1, 1000, &max);
    if (paged < 0) {
        rc = req->err;
        goto out;
    }
    v[0] = token ? token : "";
    r = sqs_exec(req, pg,
                 sqs_sql("select name, kind from @s@.queues where name > $1"
                         " order by name limit 10000"),
                 1, v, NULL, NULL);
    if (r == NULL) {
        rc = req->err;
        goto out;
    }
    n = PQntuples(r);
    for (i = 0; i < n; i++) {
        char full[SQS_NAME_MAX + 8];

        sqs_name_of(full, sizeof full, PQgetvalue(r, i, 0),
                    strcmp(PQgetvalue(r, i, 1), "fifo") == 0);
        if (prefix == NULL || strncmp(full, prefix, strlen(prefix)) == 0)
            json_array_append_new(arr, json_string(PQgetvalue(r, i, 0)));
    }
    /* Only the queues the role holds a privilege on. */
    if (json_array_size(arr) > 0) {
        char *names = json_dumps(arr, JSON_COMPACT);

        if (names == NULL || sqs_tx_begin(req, pg) != 0) {
            free(names);
            rc = names ? req->err : sqs_fail(req, SQS_E_INTERNAL, "oom");
            goto out;
        }
        v[0] = names;
        r2 = sqs_exec(
            req, pg,
            sqs_sql("select n from jsonb_array_elements_text($1::jsonb)"
                    " with ordinality as a(n, o)"
                    " where cardinality(@s@.privileges(n)) > 0 order by o"),
            1, v, NULL, NULL);
        free(names);
        sqs_tx_end(req, pg, 0);
        if (r2 == NULL && req->err == SQS_E_ACCESS_DENIED) {
            /* not even the schema's usage: no queue to show */
            req->err = SQS_OK;
            req->errmsg[0] = '\0';
            n = 0;
        } else if (r2 == NULL) {
            rc = req->err;
            goto out;
        }
        for (i = 0; r2 != NULL && i < PQntuples(r2) && i < max; i++) {
            sqs_queue q;
            char url[512];
            int j;

            memset(&q, 0, sizeof q);
            snprintf(q.txq_name, sizeof q.txq_name, "%s", PQgetvalue(r2, i, 0));
            for (j = 0; j < n; j++)
                if (strcmp(PQgetvalue(r, j, 0), q.txq_name) == 0)
                    q.fifo = strcmp(PQgetvalue(r, j, 1), "fifo") == 0;
            sqs_name_of(q.sqs_name, sizeof q.sqs_name, q.txq_name, q.fifo);
            sqs_queue_url(req, &q, url, sizeof url);
            json_array_append_new(urls, json_string(url));
        }
        if (paged && r2 != NULL && PQntuples(r2) > max)
            token = PQgetvalue(r2, (int)max - 1, 0);
        else
            token = NULL;
    } else {
        token = NULL;
    }
    req->out = json_object();
    if (req->out == NULL) {
        rc = sqs_fail(req, SQS_E_INTERNAL, "out of memory");
        goto out;
    }
    if (json_array_size(urls) > 0)
        json_object_set(req->out, "QueueUrls", urls);
    if (token != NULL)
        json_object_set_new(req->out, "NextToken", json_string(token));
out:
    PQclear(r);
    PQclear(r2);
    json_decref(urls);
    json_decref(arr);
    return rc;
}

PGresult *
sqs_queue_exec(
    sqs_req *req, PGconn *pg, const char *tmpl, const char *arg2, int commit)
{
    sqs_queue q;
    const char *v[2];
    PGresult *r;

    if (sqs_queue_from_url(req, pg, &q) != SQS_OK || sqs_tx_begin(req, pg) != 0)
        return NULL;
    v[0] = q.txq_name;
    v[1] = arg2;
    r = sqs_exec(req, pg, sqs_sql(tmpl), arg2 ? 2 : 1, v, NULL, NULL);
    if (sqs_tx_end(req, pg, r != NULL && commit) != 0) {
        PQclear(r);
        return NULL;
    }
    return r;
}

enum sqs_code
sqs_queue_call(sqs_req *req, PGconn *pg, const char *tmpl, const char *arg2)
{
    PGresult *r = sqs_queue_exec(req, pg, tmpl, arg2, 1);

    if (r == NULL)
        return req->err;
    PQclear(r);
    req->out = json_object();
    return req->out ? SQS_OK : sqs_fail(req, SQS_E_INTERNAL, "oom");
}

enum sqs_code
sqs_delete_queue(sqs_req *req, PGconn *pg)
{
    enum sqs_code rc = sqs_queue_call(
        req, pg, "select @s@.drop_queue($1, i_force => true)", NULL);

    if (rc == SQS_OK)
        wlog(WLOG_INFO, "queue deleted", "key=%s", req->key_id);
    return rc;
}

enum sqs_code
sqs_purge_queue(sqs_req *req, PGconn *pg)
{
    char reason[SQS_KEYID_MAX + 64];

    snprintf(reason, sizeof reason, "PurgeQueue through txq-sqs, key %s",
             req->key_id);
    return sqs_queue_call(req, pg, "select @s@.purge($1, $2)", reason);
}

enum sqs_code
sqs_set_queue_attributes(sqs_req *req, PGconn *pg)
{
    sqs_queue q;
    struct attrs a;
    char vt[32], delay[32], size[32], ret[32], tries[16];
    const char *v[7];
    PGresult *r;

    if (sqs_queue_from_url(req, pg, &q) != SQS_OK ||
        parse_attrs(req, pg, &q, 0, &a) != SQS_OK)
        return req->err;
    v[0] = q.txq_name;
    v[1] = secs(vt, sizeof vt, a.has_vt, a.vt);
    v[2] = a.has_max_size
               ? (snprintf(size, sizeof size, "%lld", a.max_size), size)
               : NULL;
    v[3] = secs(ret, sizeof ret, a.has_retention, a.retention);
    v[4] = secs(delay, sizeof delay, a.has_delay, a.delay);
    /* A removed redrive policy: SQS's unlimited redelivery again. */
    snprintf(tries, sizeof tries, "%d",
             a.redrive.target[0] ? a.redrive.max_receive : 1000);
    v[5] = a.redrive.given ? tries : NULL;
    v[6] = a.redrive.given ? a.redrive.target : NULL;
    if (sqs_tx_begin(req, pg) != 0)
        return req->err;
    r = sqs_exec(req, pg,
                 sqs_sql("select (@s@.alter_queue($1,"
                         " i_visibility_timeout => $2::interval,"
                         " i_max_body_bytes => $3::bigint,"
                         " i_expire_after => $4::interval,"
                         " i_delay => $5::interval,"
                         " i_max_attempts => $6::bigint,"
                         " i_dead_letter_queue => $7)).name"),
                 7, v, NULL, NULL);
    if (r == NULL) {
        sqs_tx_end(req, pg, 0);
        return req->err;
    }
    PQclear(r);
    if (set_wait(req, pg, &q, &a) != SQS_OK ||
        sqs_allow_apply(req, pg, &q, &a.allow) != SQS_OK) {
        sqs_tx_end(req, pg, 0);
        return req->err;
    }
    if (sqs_tx_end(req, pg, 1) != 0)
        return req->err;
    req->out = json_object();
    return req->out ? SQS_OK : sqs_fail(req, SQS_E_INTERNAL, "oom");
}

static const char *const all_attrs[] = {
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
    "VisibilityTimeout",
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "CreatedTimestamp",
    "LastModifiedTimestamp",
    "QueueArn",
    "ReceiveMessageWaitTimeSeconds",
    "FifoQueue",
    "ContentBasedDeduplication",
    "RedrivePolicy",
    "RedriveAllowPolicy",
    /* known to SQS, never set here: asked for, they are left out */
    "Policy",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "SqsManagedSseEnabled",
    "DeduplicationScope",
    "FifoThroughputLimit",
};

static void set_attr(json_t *m, const char *k, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
set_attr(json_t *m, const char *k, const char *fmt, ...)
{
    char buf[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    json_object_set_new(m, k, json_string(buf));
}

enum sqs_code
sqs_get_queue_attributes(sqs_req *req, PGconn *pg)
{
    json_t *names = json_object_get(req->in, "AttributeNames"), *n;
    const size_t nall = sizeof all_attrs / sizeof all_attrs[0];
    int want[sizeof all_attrs / sizeof all_attrs[0]] = {0};
    sqs_queue q;
    const char *v[1];
    PGresult *r;
    json_t *m;
    size_t i, j;

    if (sqs_queue_from_url(req, pg, &q) != SQS_OK)
        return req->err;
    json_array_foreach(names, i, n)
    {
        const char *s = json_string_value(n);

        if (s == NULL)
            return sqs_fail(req, SQS_E_INVALID_ATTR_NAME, "Unknown Attribute");
        if (strcmp(s, "All") == 0) {
            for (j = 0; j < nall; j++)
                want[j] = 1;
            continue;
        }
        for (j = 0; j < nall && strcmp(s, all_attrs[j]) != 0; j++)
            ;
        if (j == nall)
            return sqs_fail(req, SQS_E_INVALID_ATTR_NAME,
                            "Unknown Attribute %.100s.", s);
        want[j] = 1;
    }
    if (sqs_tx_begin(req, pg) != 0)
        return req->err;
    v[0] = q.txq_name;
    r = sqs_exec(req, pg,
                 sqs_sql("select ready, in_flight + retrying, delayed"
                         " from @s@.queue_stats where queue = $1"),
                 1, v, NULL, NULL);
    sqs_tx_end(req, pg, 0);
    if (r == NULL)
        return req->err;
    if (PQntuples(r) != 1) {
        PQclear(r);
        return sqs_fail(req, SQS_E_ACCESS_DENIED,
                        "role %s may not monitor queue %s", req->role,
                        q.txq_name);
    }
    m = json_object();
    if (m == NULL) {
        PQclear(r);
        return sqs_fail(req, SQS_E_INTERNAL, "out of memory");
    }
    for (j = 0; j < nall; j++) {
        const char *k = all_attrs[j];

        if (!want[j])
            continue;
        if (j < 3)
            set_attr(m, k, "%s", PQgetvalue(r, 0, (int)j));
        else if (strcmp(k, "VisibilityTimeout") == 0)
            set_attr(m, k, "%.0f", q.visibility_timeout);
        else if (strcmp(k, "DelaySeconds") == 0)
            set_attr(m, k, "%.0f", q.delay);
        else if (strcmp(k, "MaximumMessageSize") == 0)
            set_attr(m, k, "%lld", q.max_body_bytes);
        else if (strcmp(k, "MessageRetentionPeriod") == 0) {
            if (q.expire_after >= 0)
                set_attr(m, k, "%.0f", q.expire_after);
        } else if (strcmp(k, "CreatedTimestamp") == 0 ||
                   strcmp(k, "LastModifiedTimestamp") == 0)
            set_attr(m, k, "%lld", q.created);
        else if (strcmp(k, "QueueArn") == 0) {
            char arn[256];

            sqs_queue_arn(req, &q, arn, sizeof arn);
            set_attr(m, k, "%s", arn);
        } else if (strcmp(k, "RedrivePolicy") == 0 && q.dead_letter[0]) {
            char rp[512];

            sqs_redrive_render(req, &q, rp, sizeof rp);
            set_attr(m, k, "%s", rp);
        } else if (strcmp(k, "RedriveAllowPolicy") == 0) {
            if (sqs_allow_render(req, pg, &q, m) != SQS_OK) {
                PQclear(r);
                json_decref(m);
                return req->err;
            }
        } else if (strcmp(k, "ReceiveMessageWaitTimeSeconds") == 0)
            set_attr(m, k, "%.0f", q.receive_wait);
        else if ((strcmp(k, "FifoQueue") == 0 ||
                  strcmp(k, "ContentBasedDeduplication") == 0) &&
                 q.fifo)
            set_attr(m, k, "true");
    }
    PQclear(r);
    req->out = json_object();
    if (req->out == NULL) {
        json_decref(m);
        return sqs_fail(req, SQS_E_INTERNAL, "out of memory");
    }
    if (json_object_size(m) > 0)
        json_object_set(req->out, "Attributes", m);
    json_decref(m);
    return SQS_OK;
}
