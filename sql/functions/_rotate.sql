create or replace function @extschema@._rotate(
    i_now timestamptz,
    i_period interval default null)
returns jsonb
language plpgsql security definer
set search_path = pg_catalog, pg_temp
set enable_seqscan = on
set jit = off
as $$
-- ----------------------------------------------------------------------
-- Function: _rotate(i_now, i_period)
--
--      One step of the storage rotation (internal; maintain() calls it
--      last, docs/design.md "Storage that a held snapshot cannot bloat").
--      Messages are sent to the current rotating partition (part =
--      messages_gen % 2). Once the other one has had a period to drain,
--      what is left there and not held by a live claim moves to the
--      current one, or to part 2 if it becomes ready more than two
--      periods from now; part 2 gives back what becomes ready within a
--      period. When the other partition holds no row, it is truncated
--      (TRUNCATE frees its storage whatever snapshots are held) and, once
--      the current one is a period old and has held rows, becomes the
--      current one.
--
--      The period is i_period, else the setting txq.rotate_after, else
--      30 seconds. Nothing is done outside READ COMMITTED: the emptiness
--      check must see every commit made before the truncate's lock.
--      Moves take rows with SKIP LOCKED and keep id, attempts and claim
--      order; the truncate waits at most 50 ms for its lock and is
--      otherwise left to the next call.
--
-- Returns:
--      {"moved": n, "truncated": bool, "rotated": bool, "busy": bool}
-- ----------------------------------------------------------------------
declare
    v_period interval := i_period;
    v_gen bigint := pg_sequence_last_value('@extschema@.messages_gen');
    v_cur smallint;
    v_old smallint;
    v_rel regclass;
    v_cur_rel regclass;
    v_started timestamptz;
    v_moved int := 0;
    v_truncated boolean := false;
    v_rotated boolean := false;
    v_busy boolean := false;
    v_timeout text := current_setting('lock_timeout');
begin
    if current_setting('transaction_isolation') <> 'read committed' then
        return jsonb_build_object('moved', 0, 'truncated', false,
                                  'rotated', false, 'busy', false);
    end if;
    if v_period is null then
        begin
            v_period := coalesce(nullif(current_setting('txq.rotate_after',
                                                        true), ''),
                                 '30 seconds')::interval;
        exception when others then
            raise exception 'txq.rotate_after must be an interval (got "%")',
                current_setting('txq.rotate_after', true)
                using errcode = '22023';
        end;
    end if;
    perform @extschema@._check_interval('txq.rotate_after', v_period,
                                        '1 second', '1 day');
    v_cur := (v_gen % 2)::smallint;
    v_old := 1 - v_cur;
    v_rel := case v_old when 0 then '@extschema@.messages_0'::regclass
                        else '@extschema@.messages_1'::regclass end;
    v_cur_rel := case v_cur when 0 then '@extschema@.messages_0'::regclass
                            else '@extschema@.messages_1'::regclass end;
    select r.started_at into v_started
      from @extschema@.rotations r where r.gen = v_gen;
    if not found then
        -- The step that advanced messages_gen rolled back after it.
        insert into @extschema@.rotations values (v_gen, i_now)
            on conflict (gen) do nothing;
        v_started := i_now;
    end if;

    -- Part 2 gives back what becomes ready within a period.
    v_moved := v_moved + @extschema@._rotate_move(2::smallint, v_cur,
        i_now + v_period, i_now + 2 * v_period, i_now - v_period);

    -- The other partition, after a period to drain: what is left there
    -- that no live claim holds, unless it is a backlog still being worked
    -- through (then moving it would only add writes).
    if i_now >= v_started + v_period
       and (select count(*) from (select 1 from @extschema@.messages m
                                   where m.part = v_old limit 50001) x)
           <= 50000
    then
        v_moved := v_moved + @extschema@._rotate_move(v_old, v_cur,
            'infinity', i_now + 2 * v_period, i_now - v_period);
    end if;

    if not exists (select 1 from @extschema@.messages m
                    where m.part = v_old) then
        if pg_relation_size(v_rel) > 0 then
            -- The moves' deletes fire their body counts now: a table
            -- with trigger events pending cannot be truncated.
            set constraints @extschema@.messages_body_release immediate;
            begin
                perform set_config('lock_timeout', '50ms', true);
                execute format('lock table %s in access exclusive mode',
                               v_rel);
                -- Under the lock no transaction can be adding a row
                -- there: one that did has committed and is seen here.
                if not exists (select 1 from @extschema@.messages m
                                where m.part = v_old) then
                    execute format('truncate %s', v_rel);
                    v_truncated := true;
                end if;
            exception when lock_not_available then
                v_busy := true;
            end;
            perform set_config('lock_timeout', v_timeout, true);
            set constraints @extschema@.messages_body_release deferred;
        end if;
        -- A current partition that never held a row stays current.
        if not v_busy and pg_relation_size(v_rel) = 0
           and i_now >= v_started + v_period
           and pg_relation_size(v_cur_rel) > 0
        then
            insert into @extschema@.rotations values (v_gen + 1, i_now)
                on conflict (gen) do update set started_at = i_now;
            delete from @extschema@.rotations r where r.gen < v_gen;
            -- Last: sends read it at once, and wait for this commit on the
            -- truncated partition's lock.
            perform setval('@extschema@.messages_gen', v_gen + 1);
            v_rotated := true;
        end if;
    end if;
    return jsonb_build_object('moved', v_moved, 'truncated', v_truncated,
                              'rotated', v_rotated, 'busy', v_busy);
end
$$;
