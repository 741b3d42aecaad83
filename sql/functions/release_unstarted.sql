create or replace function @extschema@.release_unstarted(
    i_backend_pid  int,
    i_in_hand      bigint default null)
returns int
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
-- ----------------------------------------------------------------------
-- Function: release_unstarted(i_backend_pid, i_in_hand)
--
--      A consumer process died (a so: handler crashed it, say) with a
--      batch claimed by its session i_backend_pid, and was handling
--      i_in_hand. The other messages of the batch never reached a
--      handler: their claims are undone (attempts - 1, ready now, no
--      error recorded), so a crash costs an attempt of the message in
--      hand only, not of every innocent message prefetched with it. The
--      one in hand lapses as before (maintain() rescues it, its attempt
--      counts). Claims maintain() rescued first are found too (it keeps
--      claimed_by); one claimed again since belongs to its new holder.
--      Only the claims of a session that is gone are touched: it waits
--      up to 2 s for the backend to end (the client's death ends it) and
--      does nothing if it still runs. txq-worker's supervisor calls it
--      when a consumer process dies, only for a consumer connected
--      directly: behind a pooler the pid is a shared server connection's,
--      and claims made through a transaction pooler record none
--      (_claimant()), so this never finds them.
--
-- Returns:
--      how many claims were undone; -1 when the session still runs.
-- ----------------------------------------------------------------------
declare
    n int;
begin
    if i_backend_pid is null then
        raise exception 'backend pid is null' using errcode = '22023';
    end if;
    -- pg_stat_activity is read once per transaction and kept: drop that
    -- copy before each look, or the loop never sees the backend end.
    for i in 1 .. 200 loop
        perform pg_stat_clear_snapshot();
        exit when not exists (select 1 from pg_stat_activity a
                               where a.pid = i_backend_pid);
        perform pg_sleep(0.01);
    end loop;
    perform pg_stat_clear_snapshot();
    if exists (select 1 from pg_stat_activity a where a.pid = i_backend_pid)
    then
        return -1;
    end if;
    with r as (
        update @extschema@.messages m
           set attempts = m.attempts - 1, visible_at = now(),
               claimed_at = null, claimed_by = null
         where m.claimed_by = i_backend_pid and m.claimed_at is not null
           and m.attempts > 0
           and m.id is distinct from i_in_hand
           and @extschema@._may(m.queue_id, 'receive')
        returning 1)
    select count(*) into n from r;
    return n;
end
$$;
