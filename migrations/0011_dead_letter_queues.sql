-- 0011_dead_letter_queues: a queue may name another queue as its
-- dead-letter queue, and messages move between queues by move tasks
-- (docs/sql-api.md, "Dead-letter queues").
--
-- A message of a queue with a dead_letter_queue that exhausts its
-- attempts, or fails permanently, is moved, in the transaction that
-- failed it, into that queue as an ordinary message (same id, fresh
-- attempt count, its provenance in the header txq_dead_letter) instead of
-- into dead_letter_messages. A move task takes the messages of a queue,
-- in small transactions, to another queue or back to the queues they
-- came from (SQS's message move tasks); its row is its progress, so a
-- task survives a restart of whatever runs it.
--
-- Applied once, in its own transaction, under an advisory lock, by
-- txq_migrate() / `txq migrate`. @extschema@ is replaced by the quoted schema
-- name. Forward-only: never edit a released migration, add a new one.

-- A column without a default rewrites nothing. The reference keeps a
-- target from being deleted under its sources (drop_queue says so first).
alter table @extschema@.queues
    add column dead_letter_queue_id int
        constraint queues_dead_letter_queue_fkey
        references @extschema@.queues (queue_id),
    add constraint queues_dead_letter_not_self
        check (dead_letter_queue_id <> queue_id);
create index queues_dead_letter_queue_idx
    on @extschema@.queues (dead_letter_queue_id)
    where dead_letter_queue_id is not null;

create table @extschema@.move_tasks (
    task_id               bigint generated always as identity
                          constraint move_tasks_pkey primary key,
    source_queue_id       int not null
                          references @extschema@.queues (queue_id)
                          on delete cascade,
    -- null: each message back to the queue it was dead-lettered from
    -- (its txq_dead_letter header). No reference: a task whose
    -- destination was dropped fails, naming it.
    destination_queue_id  int,
    destination_name      text,
    max_per_second        int
                          constraint move_tasks_rate_ok
                          check (max_per_second between 1 and 500),
    status                text not null default 'RUNNING'
                          constraint move_tasks_status_ok
                          check (status in ('RUNNING', 'COMPLETED',
                                            'CANCELLING', 'CANCELLED',
                                            'FAILED')),
    -- the messages to move, counted at the start; the task moves at
    -- most this many, so that messages that come back are not moved
    -- again and again
    to_move               bigint not null,
    moved                 bigint not null default 0,
    failure_reason        text,
    -- the task acts as this role: every batch checks its grants
    started_by            regrole not null,
    started_at            timestamptz not null default now(),
    last_batch_at         timestamptz,
    finished_at           timestamptz
);
-- One active task per source queue, as SQS has it.
create unique index move_tasks_one_active_idx
    on @extschema@.move_tasks (source_queue_id)
    where status in ('RUNNING', 'CANCELLING');
create index move_tasks_source_idx
    on @extschema@.move_tasks (source_queue_id, task_id);

-- The signatures before i_dead_letter_queue (create_queue.sql and
-- alter_queue.sql make the new ones).
drop function if exists @extschema@.create_queue(text, text, interval,
    bigint, interval, interval, double precision, text, bigint, interval,
    interval, interval, interval, boolean);
drop function if exists @extschema@.alter_queue(text, interval, bigint,
    interval, interval, double precision, text, bigint, interval, interval,
    interval, boolean, boolean, interval, boolean);
