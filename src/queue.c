/*
 * queue.c - queue administration in the caller's transaction:
 * txq_queue_create, txq_queue_alter and txq_queue_drop. Fields of
 * txq_queue_opts not given (zero and not marked in set) become NULL
 * arguments ("the default" / "unchanged").
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

    if ((rc = txq__opts_check_set(c, "txq_queue_opts", o->set,
                                  TXQ__QUEUE_SET_ALL)) ||
        (rc = check_secs_opt(c, "visibility_timeout", o->visibility_timeout)) ||
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
    if (alter && o->fifo)
        return txq__set_error(c, TXQ_EINVAL,
                              "fifo is for txq_queue_create only: the kind "
                              "of a queue cannot change");
    if (o->encrypt && o->fifo)
        return txq__set_error(c, TXQ_EINVAL,
                              "a fifo queue cannot be encrypted");
    if (o->dead_letter_queue != NULL && o->dead_letter_queue[0] != '\0')
        return txq__check_queue_name(c, "dead_letter_queue",
                                     o->dead_letter_queue);
    return TXQ_OK;
}

/* An int setting: NULL when not given. */
static void
param_int(struct txq__params *p, int64_t v, int given)
{
    if (given)
        txq__param_int64(p, v);
    else
        txq__param_text(p, NULL);
}

/* A duration or fraction: NULL when not given. */
static void
param_secs(struct txq__params *p, double v, int given)
{
    if (given)
        txq__param_secs(p, v, 0);
    else
        txq__param_text(p, NULL);
}

/* The settings common to create and alter, in the order of their SQL.
 * expire_after and archive_for given as 0 mean "never" / "no archive":
 * NULL here, and for alter the clear flags after. */
static void
settings_params(struct txq__params *p, const txq_queue_opts *o)
{
    param_secs(
        p, o->visibility_timeout,
        TXQ__GIVEN(o, visibility_timeout, TXQ_QUEUE_SET_VISIBILITY_TIMEOUT));
    param_int(p, o->max_attempts,
              TXQ__GIVEN(o, max_attempts, TXQ_QUEUE_SET_MAX_ATTEMPTS));
    param_secs(p, o->backoff_base,
               TXQ__GIVEN(o, backoff_base, TXQ_QUEUE_SET_BACKOFF_BASE));
    param_secs(p, o->backoff_cap,
               TXQ__GIVEN(o, backoff_cap, TXQ_QUEUE_SET_BACKOFF_CAP));
    param_secs(p, o->backoff_jitter,
               TXQ__GIVEN(o, backoff_jitter, TXQ_QUEUE_SET_BACKOFF_JITTER));
    txq__param_text(p, exhausted_names[o->on_exhausted]);
    param_int(p, o->max_body_bytes,
              TXQ__GIVEN(o, max_body_bytes, TXQ_QUEUE_SET_MAX_BODY_BYTES));
    param_secs(p, o->expire_after, o->expire_after != 0);
    param_secs(p, o->dedup_window,
               TXQ__GIVEN(o, dedup_window, TXQ_QUEUE_SET_DEDUP_WINDOW));
    param_secs(p, o->archive_for, o->archive_for != 0);
}

/* Checks and round trip shared by create and alter. */
static txq_err
create_or_alter(txq_client *c,
                PGconn *pg,
                const char *name,
                const txq_queue_opts *opts,
                int alter)
{
    struct txq__params p;
    txq_queue_opts o;
    char buf[16];
    txq_err rc;

    if (c == NULL)
        return TXQ_EINVAL;
    if ((rc = txq__enter(c, pg)) ||
        (rc = TXQ__OPTS_LOAD(c, txq_queue_opts, opts, &o)) ||
        (rc = txq__check_queue_name(c, "queue name", name)) ||
        (rc = check_opts(c, &o, alter)) || (rc = txq__ensure_schema(c, pg, 0)))
        return rc;

    txq__params_init(&p);
    txq__param_text(&p, name);
    if (!alter)
        txq__param_text(&p, o.fifo ? "fifo" : NULL);
    settings_params(&p, &o);
    if (alter) {
        txq__param_bool(&p, o.expire_after == 0 &&
                                (o.set & TXQ_QUEUE_SET_EXPIRE_AFTER) != 0);
        txq__param_bool(&p, o.archive_for == 0 &&
                                (o.set & TXQ_QUEUE_SET_ARCHIVE_FOR) != 0);
    }
    param_secs(&p, o.delay, TXQ__GIVEN(&o, delay, TXQ_QUEUE_SET_DELAY));
    if (TXQ__GIVEN(&o, encrypt, TXQ_QUEUE_SET_ENCRYPT))
        txq__param_bool(&p, o.encrypt != 0);
    else
        txq__param_text(&p, NULL);
    /* "" removes it; NULL with the set bit too. */
    if (o.dead_letter_queue != NULL)
        txq__param_text(&p, o.dead_letter_queue);
    else
        txq__param_text(&p,
                        (o.set & TXQ_QUEUE_SET_DEAD_LETTER_QUEUE) ? "" : NULL);
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
