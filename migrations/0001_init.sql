-- 0001_init: tables, types and roles of txq.
--
-- Applied once, in its own transaction, under an advisory lock, by
-- txq_migrate() / `txq migrate`. @extschema@ is replaced by the quoted schema
-- name. Forward-only: never edit a released migration, add a new one.

-- Queues and their settings (docs/sql-api.md). Settings are plain columns
-- so an operator can read them with SQL; txq.alter_queue validates changes.
create table @extschema@.queues (
    queue_id            int generated always as identity
                        constraint queues_pkey primary key,
    name                text not null
                        constraint queues_name_key unique
                        constraint queues_name_ok
                        check (name ~ '^[a-z][a-z0-9_]{0,62}$'),
    kind                text not null default 'standard'
                        constraint queues_kind_ok
                        check (kind in ('standard', 'fifo')),
    visibility_timeout  interval not null default '30 seconds',
    max_attempts        int not null default 5,
    backoff_base        interval not null default '1 second',
    backoff_cap         interval not null default '1 hour',
    backoff_jitter      double precision not null default 0.1,
    on_exhausted        text not null default 'review'
                        constraint queues_on_exhausted_ok
                        check (on_exhausted in ('review', 'ignore', 'notify')),
    max_body_bytes      int not null default 262144,
    expire_after        interval,
    dedup_window        interval not null default '5 minutes',
    archive_for         interval,
    created_at          timestamptz not null default now(),
    constraint queues_max_attempts_ok
        check (max_attempts between 1 and 1000),
    constraint queues_visibility_ok
        check (visibility_timeout between '1 second' and '12 hours'),
    constraint queues_backoff_ok
        check (backoff_base >= '0' and backoff_cap >= backoff_base
               and backoff_cap <= '30 days'),
    constraint queues_jitter_ok check (backoff_jitter between 0 and 1),
    constraint queues_max_body_ok
        check (max_body_bytes between 1 and 268435456),
    constraint queues_expire_ok
        check (expire_after is null
               or expire_after between '1 second' and '365 days'),
    constraint queues_dedup_ok
        check (dedup_window between '0' and '30 days'),
    constraint queues_archive_ok
        check (archive_for is null
               or archive_for between '1 second' and '3650 days')
);

-- The hot table: one row per message waiting or in flight. A claim is one
-- UPDATE (attempts, visible_at); an ack is one DELETE. Nothing else touches a
-- row on the happy path. See docs/design.md for the reasoning and figures.
create table @extschema@.messages (
    id              bigint generated always as identity
                    constraint messages_pkey primary key,
    queue_id        int not null,
    priority        smallint not null default 0,
    visible_at      timestamptz not null,
    attempts        int not null default 0,
    enqueued_at     timestamptz not null,
    expires_at      timestamptz,
    group_key       text,
    dedup_id        text,
    correlation_id  text,
    reply_to        text,
    last_error      text,
    claimed_at      timestamptz,
    claimed_by      int,
    headers         jsonb not null default '{}',
    body            bytea not null
) with (
    -- Rows are inserted once, updated about once (the claim) and deleted.
    -- Room on each page lets the claim's UPDATE stay on the same page.
    fillfactor = 85,
    -- Vacuum a churning queue early and without throttling: dead tuples of a
    -- hot queue slow every claim until they are gone.
    autovacuum_vacuum_scale_factor = 0.0,
    autovacuum_vacuum_threshold = 2000,
    autovacuum_vacuum_insert_scale_factor = 0.0,
    autovacuum_vacuum_insert_threshold = 20000,
    autovacuum_analyze_scale_factor = 0.05,
    autovacuum_vacuum_cost_delay = 0
);

-- The claim probe: ready messages of one queue, highest priority first, then
-- oldest visible_at. Delayed and in-flight rows sort after the ready ones of
-- the same priority, so the probe stops at the first row it can take.
create index messages_ready_idx
    on @extschema@.messages (queue_id, priority desc, visible_at, id);

-- FIFO queues: the head of each group is the lowest id of that group.
create index messages_group_idx
    on @extschema@.messages (queue_id, group_key, id)
    where group_key is not null;

-- FIFO deduplication: a dedup id is remembered for the queue's dedup window,
-- also after its message was consumed.
create table @extschema@.dedup (
    queue_id    int not null,
    dedup_id    text not null,
    message_id  bigint not null,
    expires_at  timestamptz not null,
    constraint dedup_pkey primary key (queue_id, dedup_id)
);
create index dedup_expires_idx on @extschema@.dedup (expires_at);

-- Error history, one row per failed attempt; kept for dead letters and
-- across requeues.
create table @extschema@.message_errors (
    id          bigint generated always as identity
                constraint message_errors_pkey primary key,
    message_id  bigint not null,
    attempt     int not null,
    error       text not null,
    failed_at   timestamptz not null
);
create index message_errors_message_idx
    on @extschema@.message_errors (message_id);

-- Messages that need a person: exhausted or permanently failed (policies
-- review and notify) or expired. Body and headers may be edited with a plain
-- UPDATE before txq.requeue().
create table @extschema@.dead_letter_messages (
    id              bigint constraint dead_letter_messages_pkey primary key,
    queue_id        int not null,
    priority        smallint not null,
    attempts        int not null,
    enqueued_at     timestamptz not null,
    group_key       text,
    dedup_id        text,
    correlation_id  text,
    reply_to        text,
    last_error      text,
    headers         jsonb not null,
    body            bytea not null,
    reason          text not null
                    constraint dead_letter_reason_ok
                    check (reason in ('exhausted', 'permanent', 'expired')),
    failed_at       timestamptz not null
);
create index dead_letter_messages_queue_idx
    on @extschema@.dead_letter_messages (queue_id, failed_at);

-- Acked (and optionally ignored) messages kept for archive_for.
create table @extschema@.archive (
    id              bigint not null,
    queue_id        int not null,
    attempts        int not null,
    enqueued_at     timestamptz not null,
    finished_at     timestamptz not null,
    outcome         text not null,
    correlation_id  text,
    headers         jsonb not null,
    body            bytea not null
);
create index archive_finished_idx
    on @extschema@.archive (finished_at);

-- Topics: publish/subscribe (fanout) and routing (route). A fanout topic
-- copies each message into every subscribed queue whose filter its headers
-- contain (jsonb @>); a route topic sends it to the first matching rule's
-- queue, else to its default queue, else refuses it.
create table @extschema@.topics (
    topic_id          int generated always as identity
                      constraint topics_pkey primary key,
    name              text not null
                      constraint topics_name_key unique
                      constraint topics_name_ok
                      check (name ~ '^[a-z][a-z0-9_.]{0,62}$'),
    mode              text not null default 'fanout'
                      constraint topics_mode_ok
                      check (mode in ('fanout', 'route')),
    default_queue_id  int,
    unmatched         bigint not null default 0,
    created_at        timestamptz not null default now()
);

create table @extschema@.subscriptions (
    topic_id    int not null,
    queue_id    int not null,
    filter      jsonb,
    created_at  timestamptz not null default now(),
    constraint subscriptions_pkey primary key (topic_id, queue_id)
);

create table @extschema@.routes (
    topic_id    int not null,
    position    int not null,
    filter      jsonb not null,
    queue_id    int not null,
    constraint routes_pkey primary key (topic_id, position)
);

-- Outcome counters. Each backend adds to a row of its own (slot = its pid,
-- created on first use; maintain() folds rows of ended sessions into slot
-- 0), so concurrent consumers never queue up on a counter row.
create table @extschema@.queue_counters (
    queue_id    int not null,
    slot        int not null,
    acked       bigint not null default 0,
    retried     bigint not null default 0,
    dead        bigint not null default 0,
    ignored     bigint not null default 0,
    expired     bigint not null default 0,
    requeued    bigint not null default 0,
    discarded   bigint not null default 0,
    constraint queue_counters_pkey primary key (queue_id, slot)
) with (fillfactor = 50);

-- Alerts raised by the notify policy.
create table @extschema@.alerts (
    id          bigint generated always as identity
                constraint alerts_pkey primary key,
    raised_at   timestamptz not null default now(),
    queue       text not null,
    message_id  bigint,
    reason      text not null,
    error       text,
    delivered   boolean not null default false
);
create index alerts_undelivered_idx
    on @extschema@.alerts (queue, id) where not delivered;
create index alerts_raised_idx on @extschema@.alerts (raised_at);

-- Who did what to a message outside the normal flow.
create table @extschema@.audit_log (
    id          bigint generated always as identity
                constraint audit_log_pkey primary key,
    at          timestamptz not null default now(),
    actor       text not null default session_user,
    action      text not null,
    queue       text,
    message_id  bigint,
    detail      text
);

-- Sessions waiting for messages (long poll, idle workers). A send notifies
-- only when somebody waits, so a busy system pays no NOTIFY at commit.
create unlogged table @extschema@.waiters (
    queue_id    int not null,
    backend_pid int not null,
    since       timestamptz not null default now(),
    constraint waiters_pkey primary key (queue_id, backend_pid)
);

-- What a handler receives; the rows txq.receive() returns.
create type @extschema@.message as (
    id              bigint,
    queue           text,
    attempts        int,
    headers         jsonb,
    body            bytea,
    correlation_id  text,
    reply_to        text,
    priority        smallint,
    group_key       text,
    dedup_id        text,
    enqueued_at     timestamptz,
    visible_until   timestamptz
);

-- Roles (cluster-wide, so created only when missing). Privileges are granted
-- on the functions, which run as their owner; the roles get no table access
-- beyond what an operator needs to read and edit dead letters.
do $roles$
declare
    r text;
begin
    foreach r in array array['txq_producer', 'txq_consumer',
                             'txq_operator', 'txq_admin']
    loop
        if not exists (select 1 from pg_roles where rolname = r) then
            -- Two first migrations at once (two schemas of one cluster)
            -- may both get here: the loser finds the role made.
            begin
                execute format('create role %I nologin', r);
            exception when duplicate_object or unique_violation then
                null;
            end;
        end if;
    end loop;
end
$roles$;

grant usage on schema @extschema@
    to txq_producer, txq_consumer, txq_operator, txq_admin;
revoke all on all tables in schema @extschema@ from public;
grant select on @extschema@.queues to txq_operator, txq_admin;
grant select, update (headers, body, priority) on
    @extschema@.dead_letter_messages to txq_operator, txq_admin;
grant select on @extschema@.message_errors, @extschema@.archive,
    @extschema@.alerts, @extschema@.audit_log, @extschema@.topics,
    @extschema@.subscriptions, @extschema@.routes to txq_operator, txq_admin;
do $members$
begin
    -- Only when missing: granting a membership that exists still needs
    -- admin option on the role, which a non-superuser owner lacks.
    if (select count(*) from pg_auth_members m
         where m.member = 'txq_admin'::regrole
           and m.roleid in ('txq_producer'::regrole, 'txq_consumer'::regrole,
                            'txq_operator'::regrole)) < 3 then
        grant txq_producer, txq_consumer, txq_operator to txq_admin;
    end if;
exception when unique_violation then
    null; -- granted at the same moment by another first migration
end
$members$;

-- Messaging patterns and SQS-grade features (appended before the first
-- release; still version 1).
--
-- A per-queue default delay (SQS DelaySeconds): a send without its own delay
-- becomes visible this long after it commits.
alter table @extschema@.queues
    add column delay interval not null default '0'
    constraint queues_delay_ok check (delay between '0' and '365 days');

-- Expiry probe: the expired messages of one queue, without scanning the
-- queue's backlog (receive and maintain() look here on queues that expire).
create index messages_expires_idx
    on @extschema@.messages (queue_id, expires_at)
    where expires_at is not null;

-- Archive pruning works queue by queue (each queue has its own retention),
-- so the probe is a range of (queue_id, finished_at).
drop index @extschema@.archive_finished_idx;
create index archive_queue_finished_idx
    on @extschema@.archive (queue_id, finished_at);
