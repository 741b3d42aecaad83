-- 0012_sqs_queue_extras: what SQS keeps per queue besides txq's settings,
-- for txq-sqs (docs/sqs.md) and any other client:
--   - the default wait of a receive that gives none (SQS's
--     ReceiveMessageWaitTimeSeconds), a column of queues, which txq-sqs
--     reads with the rest of a queue's settings;
--   - tags: free key/value pairs on a queue (TagQueue, ListQueueTags);
--   - the grants SQS's AddPermission made, by label, so that
--     RemovePermission takes back exactly those and nothing an
--     administrator granted otherwise.
--
-- Applied once, in its own transaction, under an advisory lock, by
-- txq_migrate() / `txq migrate`. @extschema@ is replaced by the quoted schema
-- name. Forward-only: never edit a released migration, add a new one.

alter table @extschema@.queues
    add column receive_wait interval not null default '0'
        constraint queues_receive_wait_ok
        check (receive_wait between '0' and '20 seconds');

create table @extschema@.queue_tags (
    queue_id  int not null references @extschema@.queues (queue_id)
                  on delete cascade,
    key       text not null
                  constraint queue_tags_key_ok
                  check (length(key) between 1 and 128),
    value     text not null
                  constraint queue_tags_value_ok
                  check (length(value) <= 256),
    constraint queue_tags_pkey primary key (queue_id, key)
);

create table @extschema@.sqs_permissions (
    queue_id    int not null references @extschema@.queues (queue_id)
                    on delete cascade,
    label       text not null
                    constraint sqs_permissions_label_ok
                    check (label ~ '^[A-Za-z0-9_-]{1,80}$'),
    role        regrole not null,
    privilege   text not null,
    -- this label made the grant (true), or found it held already: only a
    -- grant some label made is revoked, when the last label naming it goes
    made        boolean not null,
    -- the grant's granted_at: a grant revoked and made again since is
    -- another grant, which RemovePermission leaves alone
    granted_at  timestamptz not null,
    constraint sqs_permissions_pkey
        primary key (queue_id, label, role, privilege)
);
