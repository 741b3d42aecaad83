-- 0010_schedules: periodic messages. A schedule sends a message to a
-- queue on every tick of a cron expression (five fields, in a time zone);
-- maintain() fires the ticks that are due, in the transaction that moves
-- the schedule to its next tick, so each tick sends exactly once however
-- many workers run maintain(). Ticks missed while nothing ran maintain()
-- are skipped, unless the schedule catches up.
--
-- Applied once, in its own transaction, under an advisory lock, by
-- txq_migrate() / `txq migrate`. @extschema@ is replaced by the quoted schema
-- name. Forward-only: never edit a released migration, add a new one.

-- A cron expression, parsed: the values each field allows. any_day and
-- any_weekday say the day-of-month or day-of-week field was '*' (when both
-- are restricted, a day matching either fires, as cron does).
create type @extschema@.cron_spec as (
    minutes      int[],
    hours        int[],
    days         int[],
    months       int[],
    weekdays     int[],
    any_day      boolean,
    any_weekday  boolean
);

create table @extschema@.cron_schedules (
    name         text primary key
                     constraint cron_schedules_name_ok
                     check (name ~ '^[a-z][a-z0-9_]{0,62}$'),
    cron         text not null,
    spec         @extschema@.cron_spec not null,
    time_zone    text not null,
    queue_id     int not null references @extschema@.queues (queue_id)
                     on delete cascade,
    body         bytea not null,
    headers      jsonb not null default '{}',
    catch_up     boolean not null default false,
    next_run     timestamptz not null,
    last_run     timestamptz,
    runs         bigint not null default 0,
    skipped      bigint not null default 0,
    created_at   timestamptz not null default now()
);
create index cron_schedules_next_run_idx
    on @extschema@.cron_schedules (next_run);
