/*
 * dispatch.c - the action layer's common part: SQS's error codes and how
 * they go on the wire, reading request parameters, and the table that
 * sends each action to its function (action_*.c, receive.c, redrive.c,
 * movetask.c).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sqs.h"

static const struct sqs_code_info codes[] = {
    [SQS_OK] = {"", "", 200, 0},
    [SQS_E_ACCESS_DENIED] = {"AccessDenied", "AccessDenied", 403, 1},
    [SQS_E_INVALID_CLIENT_TOKEN] = {"InvalidClientTokenId",
                                    "InvalidClientTokenId", 403, 1},
    [SQS_E_SIGNATURE] = {"SignatureDoesNotMatch", "SignatureDoesNotMatch", 403,
                         1},
    [SQS_E_MISSING_AUTH] = {"MissingAuthenticationToken",
                            "MissingAuthenticationToken", 403, 1},
    [SQS_E_INCOMPLETE_SIGNATURE] = {"IncompleteSignature",
                                    "IncompleteSignature", 403, 1},
    [SQS_E_REQUEST_EXPIRED] = {"RequestExpired", "RequestExpired", 403, 1},
    [SQS_E_INVALID_ACTION] = {"InvalidAction", "InvalidAction", 400, 1},
    [SQS_E_UNSUPPORTED] = {"UnsupportedOperation",
                           "AWS.SimpleQueueService.UnsupportedOperation", 400,
                           1},
    [SQS_E_MISSING_PARAM] = {"MissingParameter", "MissingParameter", 400, 1},
    [SQS_E_INVALID_PARAM] = {"InvalidParameterValue", "InvalidParameterValue",
                             400, 1},
    [SQS_E_INVALID_ATTR_NAME] = {"InvalidAttributeName", "InvalidAttributeName",
                                 400, 1},
    [SQS_E_INVALID_ATTR_VALUE] = {"InvalidAttributeValue",
                                  "InvalidAttributeValue", 400, 1},
    [SQS_E_QUEUE_NOT_FOUND] = {"QueueDoesNotExist",
                               "AWS.SimpleQueueService.NonExistentQueue", 400,
                               1},
    [SQS_E_QUEUE_EXISTS] = {"QueueNameExists", "QueueAlreadyExists", 400, 1},
    [SQS_E_RECEIPT_INVALID] = {"ReceiptHandleIsInvalid",
                               "ReceiptHandleIsInvalid", 400, 1},
    [SQS_E_NOT_INFLIGHT] = {"MessageNotInflight",
                            "AWS.SimpleQueueService.MessageNotInflight", 400,
                            1},
    [SQS_E_INVALID_CONTENTS] = {"InvalidMessageContents",
                                "InvalidMessageContents", 400, 1},
    [SQS_E_TOO_MANY_ENTRIES] =
        {"TooManyEntriesInBatchRequest",
         "AWS.SimpleQueueService.TooManyEntriesInBatchRequest", 400, 1},
    [SQS_E_EMPTY_BATCH] = {"EmptyBatchRequest",
                           "AWS.SimpleQueueService.EmptyBatchRequest", 400, 1},
    [SQS_E_IDS_NOT_DISTINCT] =
        {"BatchEntryIdsNotDistinct",
         "AWS.SimpleQueueService.BatchEntryIdsNotDistinct", 400, 1},
    [SQS_E_INVALID_ENTRY_ID] = {"InvalidBatchEntryId",
                                "AWS.SimpleQueueService.InvalidBatchEntryId",
                                400, 1},
    [SQS_E_BATCH_TOO_LONG] = {"BatchRequestTooLong",
                              "AWS.SimpleQueueService.BatchRequestTooLong", 400,
                              1},
    [SQS_E_RESOURCE_NOT_FOUND] = {"ResourceNotFoundException",
                                  "ResourceNotFoundException", 404, 1},
    [SQS_E_INTERNAL] = {"InternalFailure", "InternalFailure", 500, 0},
    [SQS_E_UNAVAILABLE] = {"ServiceUnavailable", "ServiceUnavailable", 503, 0},
};

const struct sqs_code_info *
sqs_code_info(enum sqs_code code)
{
    if ((size_t)code >= sizeof codes / sizeof codes[0])
        code = SQS_E_INTERNAL;
    return &codes[code];
}

enum sqs_code
sqs_fail(sqs_req *req, enum sqs_code code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(req->errmsg, sizeof req->errmsg, fmt, ap);
    va_end(ap);
    req->err = code;
    return code;
}

/* === parameters === */

const char *
sqs_param_str(const sqs_req *req, const json_t *obj, const char *name)
{
    json_t *v = json_object_get(obj ? obj : req->in, name);

    return json_is_string(v) ? json_string_value(v) : NULL;
}

int
sqs_param_int(sqs_req *req,
              const json_t *obj,
              const char *name,
              long long lo,
              long long hi,
              long long *out)
{
    json_t *v = json_object_get(obj ? obj : req->in, name);
    long long x;

    if (v == NULL || json_is_null(v))
        return 0;
    if (json_is_integer(v)) {
        x = json_integer_value(v);
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end;

        if (*s == '\0' || strlen(s) > 18)
            goto bad;
        x = strtoll(s, &end, 10);
        if (*end != '\0')
            goto bad;
    } else {
        goto bad;
    }
    if (x < lo || x > hi)
        goto bad;
    *out = x;
    return 1;
bad:
    sqs_fail(req, SQS_E_INVALID_PARAM,
             "Value for parameter %s is invalid. Reason: must be an integer "
             "between %lld and %lld.",
             name, lo, hi);
    return -1;
}

/* === dispatch === */

typedef enum sqs_code (*action_fn)(sqs_req *, PGconn *);

static const struct {
    const char *name;
    action_fn fn;
} actions[] = {
    {"AddPermission", sqs_add_permission},
    {"ChangeMessageVisibility", sqs_change_visibility},
    {"ChangeMessageVisibilityBatch", sqs_change_visibility_batch},
    {"CancelMessageMoveTask", sqs_cancel_move_task},
    {"CreateQueue", sqs_create_queue},
    {"DeleteMessage", sqs_delete_message},
    {"DeleteMessageBatch", sqs_delete_message_batch},
    {"DeleteQueue", sqs_delete_queue},
    {"GetQueueAttributes", sqs_get_queue_attributes},
    {"GetQueueUrl", sqs_get_queue_url},
    {"ListDeadLetterSourceQueues", sqs_list_dead_letter_sources},
    {"ListMessageMoveTasks", sqs_list_move_tasks},
    {"ListQueueTags", sqs_list_queue_tags},
    {"ListQueues", sqs_list_queues},
    {"PurgeQueue", sqs_purge_queue},
    {"ReceiveMessage", NULL}, /* holds no connection while it waits */
    {"RemovePermission", sqs_remove_permission},
    {"SendMessage", sqs_send_message},
    {"SendMessageBatch", sqs_send_message_batch},
    {"SetQueueAttributes", sqs_set_queue_attributes},
    {"StartMessageMoveTask", sqs_start_move_task},
    {"TagQueue", sqs_tag_queue},
    {"UntagQueue", sqs_untag_queue},
};

const char *
sqs_action_name(int i)
{
    return i >= 0 && (size_t)i < sizeof actions / sizeof actions[0]
               ? actions[i].name
               : NULL;
}

_Static_assert(sizeof actions / sizeof actions[0] < SQS_MAX_ACTIONS,
               "the metrics count SQS_MAX_ACTIONS actions at most");

enum sqs_code
sqs_dispatch(sqs_req *req)
{
    size_t i;
    PGconn *pg;
    enum sqs_code rc;

    for (i = 0; i < sizeof actions / sizeof actions[0]; i++)
        if (strcmp(actions[i].name, req->action) == 0)
            break;
    if (i == sizeof actions / sizeof actions[0])
        return sqs_fail(req, SQS_E_INVALID_ACTION,
                        "The action %.64s is not valid for this endpoint.",
                        req->action);
    req->action_index = (int)i;
    if (req->in == NULL || !json_is_object(req->in))
        return sqs_fail(req, SQS_E_INVALID_PARAM,
                        "the request body is not a JSON object");
    pg = sqs_db_get(req);
    if (pg == NULL)
        return req->err;
    if (actions[i].fn == NULL)
        rc = sqs_receive_message(req, &pg);
    else
        rc = actions[i].fn(req, pg);
    if (pg != NULL)
        sqs_db_put(pg);
    /* Settings the message actions may have kept (qcache.c). */
    if (actions[i].fn == sqs_create_queue ||
        actions[i].fn == sqs_delete_queue ||
        actions[i].fn == sqs_set_queue_attributes)
        sqs_queue_forget();
    if (rc == SQS_OK && req->out == NULL)
        rc = sqs_fail(req, SQS_E_INTERNAL, "out of memory");
    return rc;
}
