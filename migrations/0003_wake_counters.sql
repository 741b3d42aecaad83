-- 0003_wake_counters: a queue's waiters are two counters, not rows
-- (docs/design.md, "Wake-ups without serialised commits").
--
-- A waiter row was inserted by each wait_begin and deleted by the send
-- that woke it: under a snapshot held elsewhere none of those versions can
-- be pruned, and every send to a waited-on queue walked them all (3.7 ms a
-- send after six minutes at 800 msgs/s). Sequences are not versioned: a
-- queue's waits sequence counts its registrations, its wakes sequence the
-- registrations a wake-up has already taken; a send notifies when the
-- first is ahead of the second. Both unlogged: no WAL, and a crash that
-- resets them forgets only registrations the restart ended anyway.
--
-- Applied once, in its own transaction, under an advisory lock, by
-- txq_migrate() / `txq migrate`. @extschema@ is replaced by the quoted schema
-- name. Forward-only: never edit a released migration, add a new one.

-- Set by create_queue (_wake_counters) right after the row's insert, which
-- gives the queue its id.
alter table @extschema@.queues
    add column waits_seq regclass,
    add column wakes_seq regclass;

-- Each queue's pair, named after its id (never after its name). A queue
-- with a waiter row left keeps one registration, so its next send wakes it.
do $$
declare
    v_qid int;
    v_waits regclass;
    v_wakes regclass;
begin
    for v_qid in select queue_id from @extschema@.queues order by queue_id
    loop
        execute format('create unlogged sequence @extschema@.%I',
                       'queue_' || v_qid || '_waits');
        execute format('create unlogged sequence @extschema@.%I',
                       'queue_' || v_qid || '_wakes');
        v_waits := format('@extschema@.%I', 'queue_' || v_qid || '_waits');
        v_wakes := format('@extschema@.%I', 'queue_' || v_qid || '_wakes');
        update @extschema@.queues
           set waits_seq = v_waits, wakes_seq = v_wakes
         where queue_id = v_qid;
        if exists (select 1 from @extschema@.waiters w
                    where w.queue_id = v_qid) then
            perform nextval(v_waits);
        end if;
    end loop;
end
$$;

drop table @extschema@.waiters;
