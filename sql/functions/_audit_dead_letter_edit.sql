create or replace function @extschema@._audit_dead_letter_edit()
returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
-- ----------------------------------------------------------------------
-- Function: _audit_dead_letter_edit()
--
--      Trigger on dead_letter_messages: an operator's UPDATE of a dead
--      letter's body, headers or priority (usually through the
--      dead_letters view, before txq.requeue) is recorded in audit_log
--      with who did it and what changed, so the trail shows edits too.
-- ----------------------------------------------------------------------
declare
    v_what text[] := '{}';
begin
    if new.body is distinct from old.body then
        v_what := v_what || format('body (%s -> %s bytes)',
            octet_length(old.body), octet_length(new.body));
    end if;
    if new.headers is distinct from old.headers then
        v_what := v_what || format('headers (%s -> %s)',
            left(old.headers::text, 200), left(new.headers::text, 200));
    end if;
    if new.priority is distinct from old.priority then
        v_what := v_what || format('priority (%s -> %s)', old.priority,
                                   new.priority);
    end if;
    if cardinality(v_what) > 0 then
        insert into @extschema@.audit_log (action, queue, message_id, detail)
        select 'edit', q.name, new.id, array_to_string(v_what, ', ')
          from @extschema@.queues q where q.queue_id = new.queue_id;
    end if;
    return new;
end
$$;
