create or replace function @extschema@._grant_access(i_role regrole,
                                                     i_on boolean)
returns void
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
-- ----------------------------------------------------------------------
-- Function: _grant_access(i_role, i_on)
--
--      Gives (i_on) or takes back what calling the API takes (internal,
--      from grant() and revoke()): USAGE on the schema, EXECUTE on its
--      functions (not the internal ones, whose names begin with _) and
--      SELECT on its views, UPDATE of the dead letters' editable columns.
--      None of it gives anything by itself: every function checks the
--      grants (_may) and every view shows only the queues it may see.
--      The txq_* roles keep theirs (sql/views/zz_privileges.sql).
--      GRANT takes no parameters: the role is written as regrole's own
--      output, the name of a role that exists, quoted.
-- ----------------------------------------------------------------------
declare
    v_fn regprocedure;
    v_verb text := case when i_on then 'grant' else 'revoke' end;
    v_to text := case when i_on then 'to' else 'from' end;
begin
    if i_role::text in ('txq_producer', 'txq_consumer', 'txq_operator',
                        'txq_admin') then
        return;
    end if;
    execute format('%s usage on schema %s %s %s', v_verb, '@extschema@',
                   v_to, i_role);
    for v_fn in
        select p.oid::regprocedure from pg_proc p
         where p.pronamespace = '@extschema@'::regnamespace
           and p.proname !~ '^_'
    loop
        execute format('%s execute on function %s %s %s', v_verb, v_fn,
                       v_to, i_role);
    end loop;
    execute format('%s select on %s.queue_stats, %s.grants, %s.schedules '
                   '%s %s', v_verb, '@extschema@', '@extschema@',
                   '@extschema@', v_to, i_role);
    execute format('%s select, update (headers, body, priority) on '
                   '%s.dead_letters %s %s', v_verb, '@extschema@', v_to,
                   i_role);
end
$$;
