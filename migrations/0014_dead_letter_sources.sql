-- 0014_dead_letter_sources: a queue may say which queues can name it as
-- their dead_letter_queue (SQS's RedriveAllowPolicy): null, any queue
-- (allowAll, as before); an empty array, none (denyAll); else the names
-- of the queues that may (byQueue). Checked when a queue's
-- dead_letter_queue is set (create_queue, alter_queue); a queue already
-- naming it keeps it. Set with set_dead_letter_sources().
--
-- Applied once, in its own transaction, under an advisory lock, by
-- txq_migrate() / `txq migrate`. @extschema@ is replaced by the quoted schema
-- name. Forward-only: never edit a released migration, add a new one.

alter table @extschema@.queues
    add column dead_letter_sources text[]
        constraint queues_dead_letter_sources_ok
        check (dead_letter_sources is null
               or (coalesce(array_ndims(dead_letter_sources), 1) = 1
                   and cardinality(dead_letter_sources) <= 100
                   and array_position(dead_letter_sources, null) is null));
