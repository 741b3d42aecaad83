/*
 * queue.c - queue administration in the caller's transaction:
 * txq_queue_create, txq_queue_alter and txq_queue_drop. Zero fields of
 * txq_queue_opts become NULL arguments ("the default" / "unchanged").
 */
#include "txq_int.h"

#define MAX_SECS (3650 * 86400.0) /* the longest setting, archive_for */
#define MAX_BODY 268435456

static const char *const exhausted_names[] = {NULL, "review", "ignore",
                                              "notify"};

static txq_err
check_secs_opt(txq_client *c, const char *field, double v)
{
    return txq__check_secs(c, field, v, 0, MAX_SECS);
}

static txq_err
check_opts(txq_client *c, const txq_queue_opts *o, int alter)
{
    txq_err rc;

    if ((rc = check_secs_opt(c, "visibility_timeout", o->visibility_timeout)) ||
        (rc = check_secs_opt(c, "backoff_base", o->backoff_base)) ||
        (rc = check_secs_opt(c, "backoff_cap", o->backoff_cap)) ||
        (rc = check_secs_opt(c, "expire_after", o->expire_after)) ||
        (rc = check_secs_opt(c, "dedup_window", o->dedup_window)) ||
        (rc = check_secs_opt(c, "archive_for", o->archive_for)) ||
        (rc = txq__check_secs(c, "delay", o->delay, 0, 365 * 86400.0)) ||
        (rc = txq__check_secs(c, "backoff_jitter (a fraction)",
                              o->backoff_jitter, 0, 1)))
        return rc;
    if (o->max_attempts < 0)
        return txq__set_error(c, TXQ_EINVAL,
                              "max_attempts must not be negative (got %d)",
                              o->max_attempts);
    if (o->max_body_bytes < 0 || o->max_body_bytes > MAX_BODY)
        return txq__set_error(c, TXQ_EINVAL,
                              "max_body_bytes must be between 1 and %d "
                              "(got %lld)",
                              MAX_BODY, (long long)o->max_body_bytes);
    if (o->on_exhausted < TXQ_ON_EXHAUSTED_DEFAULT ||
        o->on_exhausted > TXQ_ON_EXHAUSTED_NOTIFY)
        return txq__set_error(c, TXQ_EINVAL,
                              "on_exhausted must be a txq_on_exhausted value "
                              "(got %d)",
                              o->on_exhausted);
    if (o->no_jitter && o->backoff_jitter != 0)
        return txq__set_error(c, TXQ_EINVAL,
                              "no_jitter and backoff_jitter are both set");
    if (alter && o->fifo)
        return txq__set_error(c, TXQ_EINVAL,
                              "fifo is for txq_queue_create only: the kind "
                              "of a queue cannot change");
    if (!alter && (o->clear_expire_after || o->clear_archive_for))
        return txq__set_error(c, TXQ_EINVAL,
                              "clear_expire_after and clear_archive_for are "
                              "for txq_queue_alter only");
    if (o->clear_expire_after && o->expire_after != 0)
        return txq__set_error(c, TXQ_EINVAL,
                              "clear_expire_after and expire_after are both "
                              "set");
    if (!alter && o->no_encrypt)
        return txq__set_error(c, TXQ_EINVAL,
                              "no_encrypt is for txq_queue_alter only");
    if (o->encrypt && o->no_encrypt)
        return txq__set_error(c, TXQ_EINVAL,
                              "encrypt and no_encrypt are both set");
    if (o->encrypt && o->fifo)
        return txq__set_error(c, TXQ_EINVAL,
                              "a fifo queue cannot be encrypted");
    if (o->clear_archive_for && o->archive_for != 0)
        return txq__set_error(c, TXQ_EINVAL,
                              "clear_archive_for and archive_for are both "
                              "set");
    return TXQ_OK;
}

/* An int setting: 0 is NULL. */
static void
param_int(struct txq__params *p, int64_t v)
{
    if (v != 0)
        txq__param_int64(p, v);
    else
        txq__param_text(p, NULL);
}

/* The settings common to create and alter, in the order of their SQL. */
static void
settings_params(struct txq__params *p, const txq_queue_opts *o)
{
    txq__param_secs(p, o->visibility_timeout, 1);
    param_int(p, o->max_attempts);
    txq__param_secs(p, o->backoff_base, 1);
    txq__param_secs(p, o->backoff_cap, 1);
    if (o->no_jitter)
        txq__param_text(p, "0");
    else if (o->backoff_jitter != 0)
        txq__param_secs(p, o->backoff_jitter, 0);
    else
        txq__param_text(p, NULL);
    txq__param_text(p, exhausted_names[o->on_exhausted]);
    param_int(p, o->max_body_bytes);
    txq__param_secs(p, o->expire_after, 1);
    txq__param_secs(p, o->dedup_window, 1);
    txq__param_secs(p, o->archive_for, 1);
}

/* Checks and round trip shared by create and alter. */
static txq_err
create_or_alter(txq_client *c,
                PGconn *pg,
                const char *name,
                const txq_queue_opts *opts,
                int alter)
{
    static const txq_queue_opts defaults;
    struct txq__params p;
    char buf[16];
    txq_err rc;

    if (c == NULL)
        return TXQ_EINVAL;
    if (opts == NULL)
        opts = &defaults;
    if ((rc = txq__enter(c, pg)) ||
        (rc = txq__check_queue_name(c, "queue name", name)) ||
        (rc = check_opts(c, opts, alter)) ||
        (rc = txq__ensure_schema(c, pg, 0)))
        return rc;

    txq__params_init(&p);
    txq__param_text(&p, name);
    if (!alter)
        txq__param_text(&p, opts->fifo ? "fifo" : NULL);
    settings_params(&p, opts);
    if (alter) {
        txq__param_bool(&p, opts->clear_expire_after);
        txq__param_bool(&p, opts->clear_archive_for);
    }
    txq__param_secs(&p, opts->delay, 1);
    if (opts->encrypt || opts->no_encrypt)
        txq__param_bool(&p, opts->encrypt != 0);
    else
        txq__param_text(&p, NULL);
    return txq__query_scalar(c, pg,
                             alter ? TXQ__Q_QUEUE_ALTER : TXQ__Q_QUEUE_CREATE,
                             &p, buf, sizeof buf, NULL);
}

txq_err
txq_queue_create(txq_client *c,
                 PGconn *pg,
                 const char *name,
                 const txq_queue_opts *opts)
{
    return create_or_alter(c, pg, name, opts, 0);
}

txq_err
txq_queue_alter(txq_client *c,
                PGconn *pg,
                const char *name,
                const txq_queue_opts *opts)
{
    return create_or_alter(c, pg, name, opts, 1);
}

txq_err
txq_queue_drop(txq_client *c, PGconn *pg, const char *name, int force)
{
    struct txq__params p;
    char buf[16];
    txq_err rc;

    if (c == NULL)
        return TXQ_EINVAL;
    if ((rc = txq__enter(c, pg)) ||
        (rc = txq__check_queue_name(c, "queue name", name)) ||
        (rc = txq__ensure_schema(c, pg, 0)))
        return rc;
    txq__params_init(&p);
    txq__param_text(&p, name);
    txq__param_bool(&p, force);
    return txq__query_scalar(c, pg, TXQ__Q_QUEUE_DROP, &p, buf, sizeof buf,
                             NULL);
}
