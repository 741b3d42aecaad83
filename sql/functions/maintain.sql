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
--      their windows, sends the periodic messages whose tick has come
--      (schedule()), turns off the waiting flag of queues with no
--      wait registration pending, and last recycles the messages'
--      storage (_rotate()) and the counters' (_compact_counters(), once a
--      held snapshot let them pass 4 MB). Each step works in bounded
--      chunks and skips locked rows, so it never blocks consumers (the
--      storage steps wait at most 50 ms for a truncate's lock).
--
-- Returns:
--      a JSON object with the count of each step.
-- ----------------------------------------------------------------------
declare
    v_now timestamptz := case when i_now is null then now()
                          else @extschema@._clock(i_now) end;
    q @extschema@.queues;
    n_rescued int;
    n_expired int := 0;
    n_archive int := 0;
    v_qid int;
    v_keep interval;
    v_n int;
    n_dedup int;
    n_scheduled int;
    n_unflagged int := 0;
    n_counters int;
    v_gen int;
    v_storage jsonb;
    v_compacted boolean;
begin
    -- It acts on every queue.
    if not @extschema@._may(null, 'operate') then
        perform @extschema@._deny(null, 'operate');
    end if;
    -- A claim whose backend is gone, or was reused by a later session:
    -- ready now, its attempt lapsed. A claim made through a transaction
    -- pooler records no backend (_claimant()) and is never taken here:
    -- its server connection says nothing about its client, which may
    -- still be working; it lapses instead. claimed_by stays, so that the
    -- dead consumer's supervisor, which may come after this, still finds
    -- the claims its handler never started (release_unstarted); the next
    -- claim overwrites it.
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
       set visible_at = v_now
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

    -- The archive, queue by queue: each queue_id present (a loose index
    -- scan, so a big archive is never read whole) loses up to 10000 rows
    -- per call past its retention, each chunk a range probe of
    -- archive_queue_finished_idx. Rows of dropped queues, or of queues
    -- that stopped archiving, go at once.
    for v_qid in
        with recursive ids(qid) as (
            (select a.queue_id from @extschema@.archive a
              order by a.queue_id limit 1)
            union all
            select (select a.queue_id from @extschema@.archive a
                     where a.queue_id > ids.qid
                     order by a.queue_id limit 1)
              from ids where ids.qid is not null)
        select qid from ids where qid is not null
    loop
        exit when n_archive >= 10000;
        v_keep := coalesce((select q2.archive_for from @extschema@.queues q2
                             where q2.queue_id = v_qid), '0');
        delete from @extschema@.archive a
         where a.ctid = any (array(
               select a2.ctid from @extschema@.archive a2
                where a2.queue_id = v_qid
                  and a2.finished_at < v_now - v_keep
                order by a2.finished_at
                limit 10000 - n_archive));
        get diagnostics v_n = row_count;
        n_archive := n_archive + v_n;
    end loop;

    delete from @extschema@.dedup d
     where (d.queue_id, d.dedup_id) in (
           select d2.queue_id, d2.dedup_id from @extschema@.dedup d2
            where d2.expires_at <= v_now
              -- an idempotency key lasts while its message does
              and not exists (select from @extschema@.messages m
                               where m.id = d2.message_id)
            limit 10000
              for update skip locked);
    get diagnostics n_dedup = row_count;

    -- Ids seal_prepare() reserved for sessions that ended unused.
    delete from @extschema@.id_reservations r
     where not exists (select 1 from pg_stat_activity a
                        where a.pid = r.backend_pid
                          and (a.backend_start is null
                               or a.backend_start <= r.reserved_at));

    -- Periodic messages whose tick has come (schedule()).
    n_scheduled := @extschema@._run_schedules(v_now);

    -- Delivered alerts are kept 30 days for the record.
    delete from @extschema@.alerts al
     where al.id = any (array(
           select a2.id from @extschema@.alerts a2
            where a2.delivered and a2.raised_at < v_now - interval '30 days'
            order by a2.raised_at limit 10000));

    -- Counter rows of ended sessions and of past generations (slot = a
    -- backend pid + generation * 2^22, _counter_slot(); 0-15 are the
    -- queue's own rows) fold into slot 0, so the table stays as small as
    -- the number of live sessions. A live session keeps its rows of this
    -- generation and the one before; a row it is updating right now is
    -- skipped. A session reusing a pid meanwhile only adds to the row it
    -- finds.
    v_gen := ((txid_current() >> 7) % 511 + 1)::int;
    with gone as (
        delete from @extschema@.queue_counters c
         where c.ctid = any (array(
               select g.ctid from @extschema@.queue_counters g
                where g.slot > 15
                  and (g.slot / 4194304 not in (v_gen, v_gen - 1,
                                                v_gen + 510)
                       or not exists (select 1 from pg_stat_activity a
                                       where a.pid = g.slot % 4194304))
                  for update skip locked))
        returning c.*),
    sums as (
        select g.queue_id, sum(g.acked) as acked, sum(g.retried) as retried,
               sum(g.dead) as dead, sum(g.ignored) as ignored,
               sum(g.expired) as expired, sum(g.requeued) as requeued,
               sum(g.discarded) as discarded, count(*) as n
          from gone g group by g.queue_id)
    insert into @extschema@.queue_counters as c (queue_id, slot, acked,
        retried, dead, ignored, expired, requeued, discarded)
    select s.queue_id, 0, s.acked, s.retried, s.dead, s.ignored, s.expired,
           s.requeued, s.discarded
      from sums s
    on conflict (queue_id, slot) do update
       set acked = c.acked + excluded.acked,
           retried = c.retried + excluded.retried,
           dead = c.dead + excluded.dead,
           ignored = c.ignored + excluded.ignored,
           expired = c.expired + excluded.expired,
           requeued = c.requeued + excluded.requeued,
           discarded = c.discarded + excluded.discarded;
    get diagnostics n_counters = row_count;

    -- A queue's waiting flag goes off once no registration is pending
    -- (_wake_pending), so its sends stop calling _wake. A queue a
    -- wait_begin is registering on right now holds its advisory lock
    -- (shared, to wait_begin's commit): skipped, not waited for. Last, as
    -- the lock taken here is held to commit. The counters are read as they
    -- are now, so the re-check after the lock sees a registration made
    -- meanwhile.
    for v_qid in
        select qq.queue_id from @extschema@.queues qq
         where qq.waiting and @extschema@._wake_pending(qq) = 0
    loop
        if pg_try_advisory_xact_lock(@extschema@._waiting_lock_key(),
                                     v_qid) then
            update @extschema@.queues qq set waiting = false
             where qq.queue_id = v_qid
               and @extschema@._wake_pending(qq) = 0;
            get diagnostics v_n = row_count;
            n_unflagged := n_unflagged + v_n;
        end if;
    end loop;

    -- The storage rotation, last: a truncate holds its lock to commit.
    v_storage := @extschema@._rotate(v_now);
    -- The counters' storage, when a held snapshot let it grow: truncated
    -- too, after the rest (its lock, held to commit, stops acks).
    v_compacted := @extschema@._compact_counters();

    return jsonb_build_object('rescued', n_rescued, 'expired', n_expired,
        'archive_pruned', n_archive, 'dedup_pruned', n_dedup,
        'waiting_cleared', n_unflagged, 'counters_folded', n_counters,
        'scheduled', n_scheduled,
        'counters_compacted', v_compacted, 'storage', v_storage);
end
$$;
