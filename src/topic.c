/*
 * topic.c - publish/subscribe and routing, in the caller's transaction:
 * txq_topic_create, txq_topic_drop, txq_subscribe, txq_unsubscribe,
 * txq_route_add, txq_route_remove and txq_publish. Each checks its
 * arguments here, then calls the SQL function of the same name; filters
 * travel as text parameters cast to jsonb by the server, which rejects bad
 * JSON (TXQ_EINVAL) and filters that are not objects.
 */
#include <limits.h>
#include <string.h>

#include "txq_int.h"

#define OID_BYTEA    17
#define MAX_BODY     268435456u
#define MAX_POSITION 1000000

/* Entry checks shared by every call: handle, connection, topic name. */
static txq_err
enter(txq_client *c, PGconn *pg, const char *topic)
{
    txq_err rc;

    if ((rc = txq__enter(c, pg)) || (rc = txq__check_topic_name(c, topic)))
        return rc;
    return TXQ_OK;
}

/* A filter argument: NULL (only when allowed) or UTF-8 text; the server
 * checks that it is a JSON object. */
static txq_err
check_filter(txq_client *c, const char *filter, int required)
{
    if (filter == NULL) {
        if (required)
            return txq__set_error(c, TXQ_EINVAL,
                                  "filter is NULL (use \"{}\" to match every "
                                  "message)");
        return TXQ_OK;
    }
    return txq__check_text(c, "filter", filter, 1);
}

/* Run statement q expecting one boolean; false becomes TXQ_ENOTFOUND with
 * the message what. */
static txq_err
run_bool(txq_client *c,
         PGconn *pg,
         enum txq__q q,
         const struct txq__params *p,
         const char *what)
{
    char buf[8];
    txq_err rc = txq__query_scalar(c, pg, q, p, buf, sizeof buf, NULL);

    if (rc != TXQ_OK)
        return rc;
    if (strcmp(buf, "t") != 0)
        return txq__set_error(c, TXQ_ENOTFOUND, "%s", what);
    return TXQ_OK;
}

txq_err
txq_topic_create(txq_client *c,
                 PGconn *pg,
                 const char *name,
                 const txq_topic_opts *opts)
{
    struct txq__params p;
    txq_topic_opts o;
    char buf[8];
    txq_err rc;

    if (c == NULL)
        return TXQ_EINVAL;
    if ((rc = enter(c, pg, name)) ||
        (rc = TXQ__OPTS_LOAD(c, txq_topic_opts, opts, &o)))
        return rc;
    opts = &o;
    if (opts->default_queue != NULL) {
        if (!opts->route)
            return txq__set_error(c, TXQ_EINVAL,
                                  "default_queue is only for route topics");
        if ((rc = txq__check_queue_name(c, "default queue name",
                                        opts->default_queue)))
            return rc;
    }
    if ((rc = txq__ensure_schema(c, pg, 0)))
        return rc;
    txq__params_init(&p);
    txq__param_text(&p, name);
    txq__param_text(&p, opts->route ? "route" : "fanout");
    txq__param_text(&p, opts->default_queue);
    return txq__query_scalar(c, pg, TXQ__Q_TOPIC_CREATE, &p, buf, sizeof buf,
                             NULL);
}

txq_err
txq_topic_drop(txq_client *c, PGconn *pg, const char *name)
{
    struct txq__params p;
    txq_err rc;

    if (c == NULL)
        return TXQ_EINVAL;
    if ((rc = enter(c, pg, name)) || (rc = txq__ensure_schema(c, pg, 0)))
        return rc;
    txq__params_init(&p);
    txq__param_text(&p, name);
    return run_bool(c, pg, TXQ__Q_TOPIC_DROP, &p, "topic not found");
}

txq_err
txq_subscribe(txq_client *c,
              PGconn *pg,
              const char *topic,
              const char *queue,
              const char *filter_json)
{
    struct txq__params p;
    txq_err rc;

    if (c == NULL)
        return TXQ_EINVAL;
    if ((rc = enter(c, pg, topic)) ||
        (rc = txq__check_queue_name(c, "queue name", queue)) ||
        (rc = check_filter(c, filter_json, 0)) ||
        (rc = txq__ensure_schema(c, pg, 0)))
        return rc;
    txq__params_init(&p);
    txq__param_text(&p, topic);
    txq__param_text(&p, queue);
    txq__param_text(&p, filter_json);
    return run_bool(c, pg, TXQ__Q_SUBSCRIBE, &p, "subscription not made");
}

txq_err
txq_unsubscribe(txq_client *c, PGconn *pg, const char *topic, const char *queue)
{
    struct txq__params p;
    txq_err rc;

    if (c == NULL)
        return TXQ_EINVAL;
    if ((rc = enter(c, pg, topic)) ||
        (rc = txq__check_queue_name(c, "queue name", queue)) ||
        (rc = txq__ensure_schema(c, pg, 0)))
        return rc;
    txq__params_init(&p);
    txq__param_text(&p, topic);
    txq__param_text(&p, queue);
    rc = run_bool(c, pg, TXQ__Q_UNSUBSCRIBE, &p, "");
    if (rc == TXQ_ENOTFOUND && c->sqlstate[0] == '\0')
        return txq__set_error(c, TXQ_ENOTFOUND,
                              "queue \"%s\" is not subscribed to topic "
                              "\"%s\"",
                              queue, topic);
    return rc;
}

txq_err
txq_route_add(txq_client *c,
              PGconn *pg,
              const char *topic,
              const char *filter_json,
              const char *queue,
              int position,
              int *out_position)
{
    struct txq__params p;
    char buf[32];
    int64_t pos;
    txq_err rc;

    if (c == NULL)
        return TXQ_EINVAL;
    if ((rc = enter(c, pg, topic)) || (rc = check_filter(c, filter_json, 1)) ||
        (rc = txq__check_queue_name(c, "queue name", queue)))
        return rc;
    if (position != TXQ_ROUTE_LAST && (position < 0 || position > MAX_POSITION))
        return txq__set_error(c, TXQ_EINVAL,
                              "position must be between 0 and %d, or "
                              "TXQ_ROUTE_LAST (got %d)",
                              MAX_POSITION, position);
    if ((rc = txq__ensure_schema(c, pg, 0)))
        return rc;
    txq__params_init(&p);
    txq__param_text(&p, topic);
    txq__param_text(&p, filter_json);
    txq__param_text(&p, queue);
    if (position == TXQ_ROUTE_LAST)
        txq__param_text(&p, NULL);
    else
        txq__param_int64(&p, position);
    rc = txq__query_scalar(c, pg, TXQ__Q_ROUTE_ADD, &p, buf, sizeof buf, NULL);
    if (rc != TXQ_OK)
        return rc;
    if (!txq__parse_int64(buf, &pos) || pos < 0 || pos > INT_MAX)
        return txq__set_error(c, TXQ_EDB, "unexpected route position \"%s\"",
                              buf);
    if (out_position != NULL)
        *out_position = (int)pos;
    return TXQ_OK;
}

txq_err
txq_route_remove(txq_client *c, PGconn *pg, const char *topic, int position)
{
    struct txq__params p;
    txq_err rc;

    if (c == NULL)
        return TXQ_EINVAL;
    if ((rc = enter(c, pg, topic)))
        return rc;
    if (position < 0 || position > MAX_POSITION)
        return txq__set_error(c, TXQ_EINVAL,
                              "position must be between 0 and %d (got %d)",
                              MAX_POSITION, position);
    if ((rc = txq__ensure_schema(c, pg, 0)))
        return rc;
    txq__params_init(&p);
    txq__param_text(&p, topic);
    txq__param_int64(&p, position);
    rc = run_bool(c, pg, TXQ__Q_ROUTE_REMOVE, &p, "");
    if (rc == TXQ_ENOTFOUND && c->sqlstate[0] == '\0')
        return txq__set_error(c, TXQ_ENOTFOUND,
                              "topic \"%s\" has no route at position %d", topic,
                              position);
    return rc;
}

txq_err
txq_publish(txq_client *c,
            PGconn *pg,
            const char *topic,
            const void *body,
            size_t len,
            const txq_send_opts *opts,
            int64_t *ids,
            size_t cap,
            size_t *n)
{
    struct txq__params p;
    PGresult *r = NULL;
    txq_send_opts o;
    size_t rows;
    txq_err rc;

    if (n != NULL)
        *n = 0;
    if (c == NULL)
        return TXQ_EINVAL;
    if ((rc = enter(c, pg, topic)))
        return rc;
    if (body == NULL && len > 0)
        return txq__set_error(c, TXQ_EINVAL, "body is NULL but len is %zu",
                              len);
    if (ids == NULL && cap > 0)
        return txq__set_error(c, TXQ_EINVAL, "ids is NULL but cap is %zu", cap);
    if (len > MAX_BODY)
        return txq__set_error(c, TXQ_ETOOBIG,
                              "body of %zu bytes exceeds the largest "
                              "max_body_bytes (%u)",
                              len, MAX_BODY);
    if ((rc = txq__check_send_opts(c, opts, &o)) ||
        (rc = txq__ensure_schema(c, pg, 0)))
        return rc;

    txq__params_init(&p);
    txq__param_text(&p, topic);
    txq__param_binary(&p, body, len, OID_BYTEA);
    txq__send_opts_params(&p, &o);
    rc = txq__query(c, pg, TXQ__Q_PUBLISH, &p, 0, &r);
    if (rc != TXQ_OK)
        return rc;
    rows = (size_t)PQntuples(r);
    for (size_t i = 0; i < rows && i < cap; i++) {
        if (!txq__parse_int64(PQgetvalue(r, (int)i, 0), &ids[i])) {
            rc = txq__set_error(c, TXQ_EDB, "unexpected message id");
            goto out;
        }
    }
    if (n != NULL)
        *n = rows;
out:
    PQclear(r);
    return rc;
}
