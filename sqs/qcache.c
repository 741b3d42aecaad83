/*
 * qcache.c - the queues of message actions, kept for a second.
 *
 * Every SendMessage, ReceiveMessage and DeleteMessage names its queue by
 * URL, and looking the queue up was a statement and a round trip of its
 * own on every request. Message actions take the queue from here instead:
 * a lookup is reused for QCACHE_TTL seconds. A queue's settings changed
 * through this server (SetQueueAttributes, DeleteQueue, CreateQueue) drop
 * what is kept at once; changed by SQL, they apply to message actions
 * within QCACHE_TTL (SQS documents up to 60 s). What a stale entry can do
 * is bounded: the statements name the queue and check the role's
 * privileges and the queue's existence themselves, so a queue dropped a
 * moment ago is still refused (QueueDoesNotExist), and a grant revoked
 * applies at once. Queue actions (GetQueueAttributes, ...) always look up.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "sqs.h"

#define QCACHE_SIZE 64
#define QCACHE_TTL  1.0

static struct {
    sqs_queue q;
    char name[SQS_NAME_MAX + 8]; /* the name asked for */
    double at;                   /* sqs_now() of the lookup; 0: empty */
} cache[QCACHE_SIZE];
static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned next_slot;
static uint64_t epoch; /* bumped by sqs_queue_forget */

void
sqs_queue_forget(void)
{
    pthread_mutex_lock(&cache_mu);
    for (size_t i = 0; i < QCACHE_SIZE; i++)
        cache[i].at = 0;
    epoch++;
    pthread_mutex_unlock(&cache_mu);
}

enum sqs_code
sqs_queue_for_messages(sqs_req *req, PGconn *pg, sqs_queue *q)
{
    char name[SQS_NAME_MAX + 8];
    double now = sqs_now();
    uint64_t seen;
    size_t i;

    if (sqs_queue_from_url_name(req, q) != SQS_OK)
        return req->err;
    snprintf(name, sizeof name, "%s", q->sqs_name);
    pthread_mutex_lock(&cache_mu);
    for (i = 0; i < QCACHE_SIZE; i++) {
        if (cache[i].at > 0 && now - cache[i].at < QCACHE_TTL &&
            strcmp(cache[i].name, name) == 0) {
            *q = cache[i].q;
            pthread_mutex_unlock(&cache_mu);
            snprintf(req->queue, sizeof req->queue, "%s", q->sqs_name);
            return SQS_OK;
        }
    }
    seen = epoch;
    pthread_mutex_unlock(&cache_mu);
    if (sqs_queue_lookup(req, pg, q) != SQS_OK)
        return req->err;
    snprintf(req->queue, sizeof req->queue, "%s", q->sqs_name);
    pthread_mutex_lock(&cache_mu);
    /* A forget while this lookup ran may have been about this queue. */
    if (seen == epoch) {
        i = next_slot++ % QCACHE_SIZE;
        cache[i].q = *q;
        snprintf(cache[i].name, sizeof cache[i].name, "%s", name);
        cache[i].at = now;
    }
    pthread_mutex_unlock(&cache_mu);
    return SQS_OK;
}
