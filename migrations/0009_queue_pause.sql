-- 0009_queue_pause: a queue can be paused. A paused queue takes every
-- send as before and delivers nothing (receive, take, pop, the worker)
-- until it is resumed: an operator's brake while a consumer's bug is
-- fixed or a downstream system is down, without stopping the producers
-- or the other queues' consumers. txq.pause() and txq.resume() set it,
-- audited.
--
-- Applied once, in its own transaction, under an advisory lock, by
-- txq_migrate() / `txq migrate`. @extschema@ is replaced by the quoted schema
-- name. Forward-only: never edit a released migration, add a new one.

alter table @extschema@.queues
    add column paused boolean not null default false;
