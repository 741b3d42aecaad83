/*
 * txq_topic.h - topics: publish/subscribe and routing. Part of libtxq's
 * API, included by <txq.h>: include <txq.h>.
 */
#ifndef TXQ_TOPIC_H
#define TXQ_TOPIC_H

#include "txq.h"

#ifdef __cplusplus
extern "C" {
#endif

/* === topics: publish/subscribe and routing === */

/* Topic settings: TXQ_TOPIC_OPTS_INIT (a fanout topic), then the fields
 * wanted. */
typedef struct txq_topic_opts {
    size_t size;               /* sizeof(txq_topic_opts) */
    int route;                 /* route mode: each message goes to exactly
                                  one queue (the first matching rule, else
                                  default_queue) instead of a copy to every
                                  matching subscription */
    const char *default_queue; /* route mode only: where a message no rule
                                  matches goes; NULL: such a message is
                                  refused (TXQ_ENOROUTE) */
} txq_topic_opts;

#define TXQ_TOPIC_OPTS_INIT            \
    {                                  \
        .size = sizeof(txq_topic_opts) \
    }
#define TXQ_TOPIC_OPTS(...) \
    (&(txq_topic_opts){.size = sizeof(txq_topic_opts), __VA_ARGS__})

/*
 * txq_topic_name_valid - whether name is a valid topic name: 1 to 63
 * characters a-z, 0-9, _ and ., starting with a letter
 * ([a-z][a-z0-9_.]{0,62}). Needs no handle and no round trip.
 * Returns 1 or 0 (also for NULL).
 */
TXQ_API int txq_topic_name_valid(const char *name);

/*
 * txq_topic_create - create a topic, in the caller's transaction. Topic
 * names are 1 to 63 characters a-z, 0-9, _ and ., starting with a letter.
 * opts may be NULL (fanout).
 * Returns TXQ_OK, TXQ_EINVAL, TXQ_EEXIST, TXQ_ENOTFOUND (no such default
 * queue), TXQ_ECONN, TXQ_EDB, TXQ_ESCHEMA.
 */
TXQ_API txq_err txq_topic_create(txq_client *c,
                                 PGconn *pg,
                                 const char *name,
                                 const txq_topic_opts *opts);

/*
 * txq_topic_drop - drop a topic with its subscriptions and routes; the
 * queues and their messages stay.
 * Returns TXQ_OK, TXQ_EINVAL, TXQ_ENOTFOUND, TXQ_ECONN, TXQ_EDB.
 */
TXQ_API txq_err txq_topic_drop(txq_client *c, PGconn *pg, const char *name);

/*
 * txq_subscribe - subscribe queue to a fanout topic. filter_json is NULL
 * (every message) or a JSON object: a message is copied to the queue only
 * when its headers contain the filter (jsonb @>, e.g. {"type": "order"}).
 * Subscribing again replaces the filter.
 * Returns TXQ_OK, TXQ_EINVAL (bad name, bad JSON, a filter that is not an
 * object, a route topic), TXQ_ENOTFOUND (no such topic or queue),
 * TXQ_ECONN, TXQ_EDB.
 */
TXQ_API txq_err txq_subscribe(txq_client *c,
                              PGconn *pg,
                              const char *topic,
                              const char *queue,
                              const char *filter_json);

/*
 * txq_unsubscribe - remove queue's subscription to topic.
 * Returns TXQ_OK, TXQ_ENOTFOUND (no such topic or queue, or not
 * subscribed), TXQ_EINVAL, TXQ_ECONN, TXQ_EDB.
 */
TXQ_API txq_err txq_unsubscribe(txq_client *c,
                                PGconn *pg,
                                const char *topic,
                                const char *queue);

/* txq_route_add position: after the last rule. */
#define TXQ_ROUTE_LAST (-1)

/*
 * txq_route_add - add a rule to a route topic: messages whose headers
 * contain filter_json (a JSON object; "{}" matches every message) go to
 * queue. Rules are tried by ascending position, 0 to 1000000;
 * TXQ_ROUTE_LAST puts the rule 10 after the last one. A rule already at
 * that position is replaced. *out_position (may be NULL) gets the rule's
 * position.
 * Returns TXQ_OK, TXQ_EINVAL (bad name, JSON or position, a fanout topic),
 * TXQ_ENOTFOUND, TXQ_ECONN, TXQ_EDB.
 */
TXQ_API txq_err txq_route_add(txq_client *c,
                              PGconn *pg,
                              const char *topic,
                              const char *filter_json,
                              const char *queue,
                              int position,
                              int *out_position);

/*
 * txq_route_remove - remove the rule at position.
 * Returns TXQ_OK, TXQ_ENOTFOUND (no such topic or rule), TXQ_EINVAL,
 * TXQ_ECONN, TXQ_EDB.
 */
TXQ_API txq_err txq_route_remove(txq_client *c,
                                 PGconn *pg,
                                 const char *topic,
                                 int position);

/*
 * txq_publish - publish one message to a topic in the caller's
 * transaction; opts (may be NULL) are those of txq_send.
 *
 * Fanout: a copy goes to every subscribed queue whose filter the headers
 * contain, all or none when the transaction commits or rolls back. No
 * match is not an error: *n is 0 and the topic's unmatched count goes up.
 * Route: the message goes to the first matching rule's queue, else to the
 * default queue; with neither it is refused with TXQ_ENOROUTE, naming the
 * topic, and nothing is written.
 * ids (may be NULL) has room for cap ids, one per copy (fanout: in the
 * order of the queue names); *n (may be NULL) gets the number of copies,
 * which may exceed cap (only cap ids are written then).
 * Returns TXQ_OK, TXQ_ENOROUTE, TXQ_EINVAL, TXQ_ETOOBIG (for one of the
 * queues), TXQ_ENOTFOUND (no such topic), TXQ_ECONN, TXQ_EDB, TXQ_ESCHEMA.
 */
TXQ_API txq_err txq_publish(txq_client *c,
                            PGconn *pg,
                            const char *topic,
                            const void *body,
                            size_t len,
                            const txq_send_opts *opts,
                            int64_t *ids,
                            size_t cap,
                            size_t *n);

#ifdef __cplusplus
}
#endif

#endif /* TXQ_TOPIC_H */
