create or replace function @extschema@.maintain(i_now timestamptz default null)
returns jsonb
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
-- ----------------------------------------------------------------------
-- Function: maintain(i_now)
--
--      Housekeeping, cheap enough to run every few seconds (txq-worker
--      does): releases claims of sessions that died (their messages come
--      back in seconds, not after the visibility timeout), moves expired
--      messages to the dead letters, prunes the archive and dedup ids past
--      their windows, forgets waiters of dead sessions. Each step works in
--      bounded chunks and skips locked rows, so it never blocks consumers.
--
-- Returns:
--      a JSON object with the count of each step.
-- ----------------------------------------------------------------------
declare
    v_now timestamptz := coalesce(i_now, now());
    q @extschema@.queues;
    n_rescued int;
    n_expired int := 0;
    n_archive int;
    n_dedup int;
    n_waiters int;
begin
    -- A claim whose backend is gone, or was reused by a later session.
    with dead as (
        select m.id from @extschema@.messages m
         where m.claimed_by is not null and m.visible_at > v_now
           and not exists (select 1 from pg_stat_activity a
                            where a.pid = m.claimed_by
                              and (a.backend_start is null
                                   or a.backend_start <= m.claimed_at))
         limit 10000
           for update skip locked)
    update @extschema@.messages m
       set visible_at = v_now, claimed_by = null
      from dead where m.id = dead.id;
    get diagnostics n_rescued = row_count;

    for q in select * from @extschema@.queues
              where expire_after is not null
                 or exists (select 1 from @extschema@.messages mm
                             where mm.queue_id = queues.queue_id
                               and mm.expires_at is not null limit 1)
    loop
        n_expired := n_expired + @extschema@._expire(q, v_now, 10000);
    end loop;

    delete from @extschema@.archive a
     where a.ctid = any (array(
           select a2.ctid from @extschema@.archive a2
             join @extschema@.queues q2 using (queue_id)
            where a2.finished_at < v_now - coalesce(q2.archive_for, '0')
            limit 10000));
    get diagnostics n_archive = row_count;

    delete from @extschema@.dedup d
     where (d.queue_id, d.dedup_id) in (
           select d2.queue_id, d2.dedup_id from @extschema@.dedup d2
            where d2.expires_at <= v_now limit 10000
              for update skip locked);
    get diagnostics n_dedup = row_count;

    delete from @extschema@.waiters w
     where not exists (select 1 from pg_stat_activity a
                        where a.pid = w.backend_pid);
    get diagnostics n_waiters = row_count;

    return jsonb_build_object('rescued', n_rescued, 'expired', n_expired,
        'archive_pruned', n_archive, 'dedup_pruned', n_dedup,
        'waiters_cleared', n_waiters);
end
$$;
