-- 0013_sqs_queue_names: queue names follow SQS's rule. A queue name is 1 to
-- 80 ASCII letters, digits, - and _, or up to 75 of them followed by
-- ".fifo" (80 in all); a name ending in ".fifo" is a FIFO queue's. A FIFO
-- queue without the suffix stays legal. Every name legal before (0001's
-- [a-z][a-z0-9_]{0,62}) is legal still, so no row needs changing.
--
-- Names stay data: nothing builds SQL text or an identifier from one.
-- Topic names, schema names and schedule names keep their rules.
--
-- Applied once, in its own transaction, under an advisory lock, by
-- txq_migrate() / `txq migrate`. @extschema@ is replaced by the quoted schema
-- name. Forward-only: never edit a released migration, add a new one.

alter table @extschema@.queues
    drop constraint queues_name_ok,
    add constraint queues_name_ok
        check (name ~ '^[A-Za-z0-9_-]{1,80}$'
               or name ~ '^[A-Za-z0-9_-]{1,75}[.]fifo$'),
    add constraint queues_fifo_suffix_ok
        check (name !~ '[.]fifo$' or kind = 'fifo');
