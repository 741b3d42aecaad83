-- 0005_rotating_storage: messages is a partitioned table whose storage is
-- recycled by TRUNCATE (docs/design.md, "Storage that a held snapshot
-- cannot bloat").
--
-- Under a snapshot held elsewhere, no version of a row that was claimed or
-- deleted since can be pruned or vacuumed, so a single hot table grows with
-- the traffic for as long as the snapshot lasts, and every claim walks what
-- it grew. TRUNCATE frees a table's storage whatever snapshots are held. So
-- new messages go to one of two rotating partitions, the current one
-- (part = messages_gen % 2); maintain() moves the few rows left in the
-- other one, once it has had time to drain, truncates it when it is empty
-- and then makes it the current one. Messages that become ready much later
-- (delays, long backoffs) wait in a third partition (part 2) that is not
-- rotated, so they are not moved on every rotation.
--
-- Applied once, in its own transaction, under an advisory lock, by
-- txq_migrate() / `txq migrate`. @extschema@ is replaced by the quoted schema
-- name. Forward-only: never edit a released migration, add a new one.

-- Made again with the definitions that follow every migration: they name
-- the table or its row type.
drop view if exists @extschema@.queue_stats;
drop function if exists @extschema@._bury(@extschema@.messages,
    @extschema@.queues, text, text, timestamptz);
drop function if exists @extschema@._exhaust(@extschema@.messages,
    @extschema@.queues, text, text, timestamptz);

alter table @extschema@.messages rename to messages_unpartitioned;
alter index @extschema@.messages_pkey rename to messages_unpartitioned_pkey;
alter index @extschema@.messages_ready_idx
    rename to messages_unpartitioned_ready_idx;
alter index @extschema@.messages_group_idx
    rename to messages_unpartitioned_group_idx;
alter index @extschema@.messages_expires_idx
    rename to messages_unpartitioned_expires_idx;
alter table @extschema@.messages_unpartitioned
    rename constraint messages_one_body to messages_unpartitioned_one_body;
alter sequence @extschema@.messages_id_seq
    rename to messages_unpartitioned_id_seq;
-- The delete trigger would count the copies' rows out of bodies below.
drop trigger if exists messages_body_release
    on @extschema@.messages_unpartitioned;

-- The generation of the current rotating partition: part = last value % 2.
-- A sequence, not a row: every send reads it, and a row's versions would
-- pile up under the very snapshot this is about. maintain() advances it
-- right after it truncated the other partition (_rotate()).
create sequence @extschema@.messages_gen minvalue 0 start 0;
select pg_catalog.setval('@extschema@.messages_gen', 0, true);

-- When each generation began: how long the current partition has taken
-- new messages, and how long the other one has had to drain.
create table @extschema@.rotations (
    gen         bigint constraint rotations_pkey primary key,
    started_at  timestamptz not null
);
insert into @extschema@.rotations values (0, now());

-- The hot table: one row per message waiting or in flight. A claim is one
-- UPDATE (attempts, visible_at); an ack is one DELETE. Nothing else touches a
-- row on the happy path. See docs/design.md for the reasoning and figures.
create table @extschema@.messages (
    id              bigint generated always as identity,
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
    body            bytea,
    body_id         bigint,
    -- Which partition holds the row: 0 or 1 (rotating), 2 (ready later).
    part            smallint not null default
                    (pg_catalog.pg_sequence_last_value(
                         '@extschema@.messages_gen'::regclass) % 2)::smallint,
    constraint messages_pkey primary key (id, part),
    constraint messages_one_body check ((body is null) <> (body_id is null))
) partition by list (part);

-- The storage settings of the old table, on each partition: rows are
-- inserted once, updated about once (the claim) and deleted; room on each
-- page keeps the claim's UPDATE on its page; a churning queue is vacuumed
-- early and without throttling while no snapshot stops it.
create table @extschema@.messages_0
    partition of @extschema@.messages for values in (0)
    with (fillfactor = 85,
          autovacuum_vacuum_scale_factor = 0.0,
          autovacuum_vacuum_threshold = 2000,
          autovacuum_vacuum_insert_scale_factor = 0.0,
          autovacuum_vacuum_insert_threshold = 20000,
          autovacuum_analyze_scale_factor = 0.05,
          autovacuum_vacuum_cost_delay = 0);
create table @extschema@.messages_1
    partition of @extschema@.messages for values in (1)
    with (fillfactor = 85,
          autovacuum_vacuum_scale_factor = 0.0,
          autovacuum_vacuum_threshold = 2000,
          autovacuum_vacuum_insert_scale_factor = 0.0,
          autovacuum_vacuum_insert_threshold = 20000,
          autovacuum_analyze_scale_factor = 0.05,
          autovacuum_vacuum_cost_delay = 0);
create table @extschema@.messages_later
    partition of @extschema@.messages for values in (2)
    with (fillfactor = 85,
          autovacuum_vacuum_scale_factor = 0.0,
          autovacuum_vacuum_threshold = 2000,
          autovacuum_analyze_scale_factor = 0.05,
          autovacuum_vacuum_cost_delay = 0);

-- The indexes of the old table, now on every partition: the claim probe,
-- FIFO group heads, expiry.
create index messages_ready_idx
    on @extschema@.messages (queue_id, priority desc, visible_at, id);
create index messages_group_idx
    on @extschema@.messages (queue_id, group_key, id)
    where group_key is not null;
create index messages_expires_idx
    on @extschema@.messages (queue_id, expires_at)
    where expires_at is not null;
-- What part 2 gives back next (_rotate()).
create index messages_later_due_idx
    on @extschema@.messages_later (visible_at);

-- The messages, each with its id; a message ready more than ten minutes
-- from now waits in part 2.
insert into @extschema@.messages (id, queue_id, priority, visible_at,
    attempts, enqueued_at, expires_at, group_key, dedup_id, correlation_id,
    reply_to, last_error, claimed_at, claimed_by, headers, body, body_id,
    part)
overriding system value
select id, queue_id, priority, visible_at, attempts, enqueued_at,
       expires_at, group_key, dedup_id, correlation_id, reply_to,
       last_error, claimed_at, claimed_by, headers, body, body_id,
       case when visible_at > now() + interval '10 minutes'
                 and claimed_at is null then 2
            else 0 end
  from @extschema@.messages_unpartitioned;

select pg_catalog.setval('@extschema@.messages_id_seq', s.last_value,
                         s.is_called)
  from @extschema@.messages_unpartitioned_id_seq s;

drop table @extschema@.messages_unpartitioned;
