/*
 * action_perm.c - AddPermission and RemovePermission on txq's grants.
 *
 * SQS names accounts and actions; txq grants privileges to roles. An
 * account is the roles of its access keys (the credentials file's fourth
 * field), and each action the least privilege that allows it (SendMessage
 * send; ReceiveMessage, DeleteMessage, ChangeMessageVisibility receive;
 * GetQueueAttributes, GetQueueUrl, ListQueueTags and
 * ListDeadLetterSourceQueues monitor; PurgeQueue operate; "*" all four).
 * txq's sqs_add_permission() grants them through grant(), which takes
 * admin as every grant does, and records under the label what it added;
 * sqs_remove_permission() revokes exactly that (docs/sqs.md).
 */
#include <stdlib.h>
#include <string.h>

#include "sqs.h"

/* The privileges of an SQS action name, "a,b" (a list for SQL), or NULL
 * for an action that cannot be granted. */
static const char *
action_privileges(const char *action)
{
    static const struct {
        const char *action, *privileges;
    } map[] = {
        {"*", "send,receive,monitor,operate"},
        {"SendMessage", "send"},
        {"ReceiveMessage", "receive"},
        {"DeleteMessage", "receive"},
        {"ChangeMessageVisibility", "receive"},
        {"GetQueueAttributes", "monitor"},
        {"GetQueueUrl", "monitor"},
        {"ListQueueTags", "monitor"},
        {"ListDeadLetterSourceQueues", "monitor"},
        {"PurgeQueue", "operate"},
    };
    size_t i;

    for (i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(map[i].action, action) == 0)
            return map[i].privileges;
    return NULL;
}

/* The distinct privileges of the request's actions, into privs (a JSON
 * array). */
static enum sqs_code
privileges_of(sqs_req *req, json_t *privs)
{
    json_t *actions = json_object_get(req->in, "Actions"), *a;
    size_t i;

    if (!json_is_array(actions) || json_array_size(actions) == 0)
        return sqs_fail(req, SQS_E_MISSING_PARAM,
                        "The request must contain the parameter Actions.");
    json_array_foreach(actions, i, a)
    {
        const char *name = json_string_value(a);
        const char *p = name ? action_privileges(name) : NULL;

        if (p == NULL)
            return sqs_fail(req, SQS_E_INVALID_PARAM,
                            "Value %.100s for parameter ActionName is "
                            "invalid. Reason: txq-sqs grants only "
                            "SendMessage, ReceiveMessage, DeleteMessage, "
                            "ChangeMessageVisibility, GetQueueAttributes, "
                            "GetQueueUrl, ListQueueTags, "
                            "ListDeadLetterSourceQueues, PurgeQueue and *; "
                            "the others are the queue owner's (admin).",
                            name ? name : "(not a string)");
        while (*p) {
            size_t n = strcspn(p, ","), j;
            json_t *x;
            int seen = 0;

            json_array_foreach(privs, j, x)
            {
                seen |= strlen(json_string_value(x)) == n &&
                        strncmp(json_string_value(x), p, n) == 0;
            }
            if (!seen && json_array_append_new(privs, json_stringn(p, n)))
                return sqs_fail(req, SQS_E_INTERNAL, "out of memory");
            p += n + (p[n] == ',');
        }
    }
    return SQS_OK;
}

/* The distinct roles of the request's accounts, into roles. */
static enum sqs_code
roles_of(sqs_req *req, json_t *roles)
{
    json_t *accounts = json_object_get(req->in, "AWSAccountIds"), *a;
    size_t i;

    if (!json_is_array(accounts) || json_array_size(accounts) == 0)
        return sqs_fail(req, SQS_E_MISSING_PARAM,
                        "The request must contain the parameter "
                        "AWSAccountIds.");
    json_array_foreach(accounts, i, a)
    {
        const char *acct = json_string_value(a);
        int n = acct ? sqs_creds_account_roles(acct, roles) : 0;

        if (n < 0)
            return sqs_fail(req, SQS_E_INTERNAL, "out of memory");
        if (n == 0)
            return sqs_fail(req, SQS_E_INVALID_PARAM,
                            "Value %.64s for parameter AWSAccountId is "
                            "invalid. Reason: no access key of txq-sqs "
                            "belongs to that account (the credentials "
                            "file's fourth field).",
                            acct ? acct : "(not a string)");
    }
    return SQS_OK;
}

/* Run tmpl with the queue, the label and, when roles, the roles and the
 * privileges (JSON arrays) as the role, committing on success. */
static enum sqs_code
permission_call(
    sqs_req *req, PGconn *pg, const char *tmpl, json_t *roles, json_t *privs)
{
    const char *label = sqs_param_str(req, NULL, "Label");
    char *r_text = NULL, *p_text = NULL;
    const char *v[4];
    sqs_queue q;
    PGresult *r = NULL;

    if (sqs_queue_from_url(req, pg, &q) != SQS_OK)
        return req->err;
    if (label == NULL)
        return sqs_fail(req, SQS_E_MISSING_PARAM,
                        "The request must contain the parameter Label.");
    if (roles != NULL && ((r_text = json_dumps(roles, JSON_COMPACT)) == NULL ||
                          (p_text = json_dumps(privs, JSON_COMPACT)) == NULL)) {
        sqs_fail(req, SQS_E_INTERNAL, "out of memory");
        goto out;
    }
    v[0] = q.txq_name;
    v[1] = label;
    v[2] = r_text;
    v[3] = p_text;
    if (sqs_tx_begin(req, pg) != 0)
        goto out;
    r = sqs_exec(req, pg, sqs_sql(tmpl), roles ? 4 : 2, v, NULL, NULL);
    if (sqs_tx_end(req, pg, r != NULL) != 0 || r == NULL)
        goto out;
    req->out = json_object();
    if (req->out == NULL)
        sqs_fail(req, SQS_E_INTERNAL, "out of memory");
out:
    PQclear(r);
    free(r_text);
    free(p_text);
    return req->err;
}

enum sqs_code
sqs_add_permission(sqs_req *req, PGconn *pg)
{
    json_t *roles = json_array(), *privs = json_array();
    enum sqs_code rc;

    if (roles == NULL || privs == NULL)
        rc = sqs_fail(req, SQS_E_INTERNAL, "out of memory");
    else if (roles_of(req, roles) == SQS_OK &&
             privileges_of(req, privs) == SQS_OK)
        rc = permission_call(
            req, pg,
            "select @s@.sqs_add_permission($1, $2,"
            " array(select jsonb_array_elements_text($3::jsonb))::name[],"
            " array(select jsonb_array_elements_text($4::jsonb)))",
            roles, privs);
    else
        rc = req->err;
    json_decref(roles);
    json_decref(privs);
    return rc;
}

enum sqs_code
sqs_remove_permission(sqs_req *req, PGconn *pg)
{
    return permission_call(req, pg, "select @s@.sqs_remove_permission($1, $2)",
                           NULL, NULL);
}
