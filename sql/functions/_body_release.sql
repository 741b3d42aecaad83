create or replace function @extschema@._body_release()
returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
-- ----------------------------------------------------------------------
-- Function: _body_release()
--
--      Trigger (internal), at the commit of a transaction that deleted a
--      messages row referring to a shared body (body_id): that body has
--      one copy fewer, and goes with its last. At commit, not at once, so
--      what moves the copy elsewhere in the same transaction (dead
--      letters, archive) can still read the body after the delete. The
--      update before the delete: two copies deleted at once take turns on
--      the body's row lock, and the second sees the first's count.
-- ----------------------------------------------------------------------
declare
    v_refs int;
begin
    update @extschema@.bodies b set refs = b.refs - 1
     where b.id = old.body_id
    returning b.refs into v_refs;
    if v_refs = 0 then
        delete from @extschema@.bodies b where b.id = old.body_id;
    end if;
    return null;
end
$$;

-- Made only when missing: CREATE TRIGGER locks messages against writers,
-- and migrate runs on live queues. Only rows with a shared body fire it.
do $trg$
begin
    if not exists (select 1 from pg_catalog.pg_trigger t
                    where t.tgrelid = '@extschema@.messages'::regclass
                      and t.tgname = 'messages_body_release') then
        create constraint trigger messages_body_release
            after delete on @extschema@.messages
            deferrable initially deferred
            for each row when (old.body_id is not null)
            execute function @extschema@._body_release();
    end if;
end
$trg$;
