/*
 * action_tags.c - TagQueue, UntagQueue, ListQueueTags, and the tags of
 * CreateQueue: txq's tag_queue(), untag_queue() and queue_tags(), which
 * check the role's grants (operate to change a queue's tags, monitor to
 * list them) and SQS's limits (50 per queue, keys 1-128 characters not
 * beginning with "aws:", values up to 256).
 */
#include <stdlib.h>
#include <string.h>

#include "sqs.h"

/* Keys and values are text SQS can carry (sqs_text_ok: no control
 * characters but tab and line ends, as in a message body): the query
 * protocol's XML could not hold the others. */
static enum sqs_code
tags_text_ok(sqs_req *req, json_t *tags)
{
    const char *k;
    json_t *v;

    json_object_foreach(tags, k, v)
    {
        if (!sqs_text_ok(k, strlen(k)) || !json_is_string(v) ||
            !sqs_text_ok(json_string_value(v), json_string_length(v)))
            return sqs_fail(req, SQS_E_INVALID_PARAM,
                            "Tag keys and values are strings of characters "
                            "SQS allows in a message body.");
    }
    return SQS_OK;
}

enum sqs_code
sqs_tags_set(sqs_req *req, PGconn *pg, const sqs_queue *q, json_t *tags)
{
    const char *v[2] = {q->txq_name, NULL};
    char *text;
    PGresult *r;

    if (tags == NULL)
        return SQS_OK;
    if (!json_is_object(tags))
        return sqs_fail(req, SQS_E_INVALID_PARAM,
                        "Tags is a map of a key to a value.");
    if (json_object_size(tags) == 0)
        return SQS_OK;
    if (tags_text_ok(req, tags) != SQS_OK)
        return req->err;
    text = json_dumps(tags, JSON_COMPACT);
    if (text == NULL)
        return sqs_fail(req, SQS_E_INTERNAL, "out of memory");
    v[1] = text;
    r = sqs_exec(req, pg, sqs_sql("select @s@.tag_queue($1, $2::jsonb)"), 2, v,
                 NULL, NULL);
    free(text);
    PQclear(r);
    return r != NULL ? SQS_OK : req->err;
}

enum sqs_code
sqs_tag_queue(sqs_req *req, PGconn *pg)
{
    json_t *tags = json_object_get(req->in, "Tags");
    char *text;
    enum sqs_code rc;

    if (tags == NULL || (json_is_object(tags) && json_object_size(tags) == 0))
        return sqs_fail(req, SQS_E_MISSING_PARAM,
                        "The request must contain the parameter Tags.");
    if (!json_is_object(tags))
        return sqs_fail(req, SQS_E_INVALID_PARAM,
                        "Tags is a map of a key to a value.");
    if (tags_text_ok(req, tags) != SQS_OK)
        return req->err;
    text = json_dumps(tags, JSON_COMPACT);
    if (text == NULL)
        return sqs_fail(req, SQS_E_INTERNAL, "out of memory");
    rc = sqs_queue_call(req, pg, "select @s@.tag_queue($1, $2::jsonb)", text);
    free(text);
    return rc;
}

enum sqs_code
sqs_untag_queue(sqs_req *req, PGconn *pg)
{
    json_t *keys = json_object_get(req->in, "TagKeys"), *k;
    char *text;
    enum sqs_code rc;
    size_t i;

    if (!json_is_array(keys) || json_array_size(keys) == 0)
        return sqs_fail(req, SQS_E_MISSING_PARAM,
                        "The request must contain the parameter TagKeys.");
    json_array_foreach(keys, i, k)
    {
        if (!json_is_string(k))
            return sqs_fail(req, SQS_E_INVALID_PARAM,
                            "TagKeys is a list of strings.");
    }
    text = json_dumps(keys, JSON_COMPACT);
    if (text == NULL)
        return sqs_fail(req, SQS_E_INTERNAL, "out of memory");
    rc = sqs_queue_call(req, pg,
                        "select @s@.untag_queue($1, array(select"
                        " jsonb_array_elements_text($2::jsonb)))",
                        text);
    free(text);
    return rc;
}

/* Tags set by SQL may hold what SQS cannot carry: such characters are
 * shown as U+FFFD, as in a message body (a key that becomes another's is
 * dropped, as is a value that is not a string). Returns 0, or -1 when out
 * of memory. */
static int
tags_shown(json_t *tags)
{
    json_t *copy = json_deep_copy(tags), *v;
    const char *k;
    int rc = 0;

    if (copy == NULL)
        return -1;
    json_object_clear(tags);
    json_object_foreach(copy, k, v)
    {
        const char *s = json_string_value(v);
        size_t kl, vl;
        char *key = sqs_text_for_sqs((const unsigned char *)k, strlen(k), &kl);
        char *val = s ? sqs_text_for_sqs((const unsigned char *)s,
                                         json_string_length(v), &vl)
                      : NULL;

        if (key == NULL || (s != NULL && val == NULL))
            rc = -1; /* out of memory: not a tag quietly left out */
        else if (val != NULL &&
                 json_object_set_new(tags, key, json_stringn(val, vl)) != 0)
            rc = -1;
        free(key);
        free(val);
    }
    json_decref(copy);
    return rc;
}

enum sqs_code
sqs_list_queue_tags(sqs_req *req, PGconn *pg)
{
    PGresult *r = sqs_queue_exec(req, pg, "select @s@.queue_tags($1)", NULL, 0);
    json_t *tags;

    if (r == NULL)
        return req->err;
    tags = PQntuples(r) == 1 ? json_loads(PQgetvalue(r, 0, 0), 0, NULL) : NULL;
    PQclear(r);
    req->out = json_object();
    if (tags == NULL || req->out == NULL) {
        json_decref(tags);
        return sqs_fail(req, SQS_E_INTERNAL, "out of memory");
    }
    if (json_object_size(tags) > 0) {
        if (tags_shown(tags) != 0) {
            json_decref(tags);
            return sqs_fail(req, SQS_E_INTERNAL, "out of memory");
        }
        json_object_set(req->out, "Tags", tags);
    }
    json_decref(tags);
    return SQS_OK;
}
