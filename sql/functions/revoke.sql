create or replace function @extschema@.revoke(
    i_queue       text,
    i_role        name,
    i_privileges  text[] default null)
returns int
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
-- ----------------------------------------------------------------------
-- Function: revoke(i_queue, i_role, i_privileges)
--
--      Takes back privileges grant() gave on a queue (or on '*'; a grant
--      on '*' and one on the queue are separate rows, revoked
--      separately). No privileges: all of the role's on that queue. A
--      role left with no grant in this schema also loses what calling
--      the API took (not what it holds as a member of the txq_* roles).
--      Audited. Revoking what is not held changes nothing.
--
-- Returns:
--      how many privileges were taken back. Errors: as grant().
-- ----------------------------------------------------------------------
declare
    v_queue_id int;
    v_role regrole;
    n int;
begin
    if not @extschema@._may(null, 'admin') then
        perform @extschema@._deny(null, 'admin');
    end if;
    v_queue_id := @extschema@._grant_target(
        i_queue, coalesce(i_privileges, array['send']));
    v_role := @extschema@._role(i_role);
    with d as (
        delete from @extschema@.queue_grants g
         where g.queue_id is not distinct from v_queue_id
           and g.role = v_role
           and (i_privileges is null or g.privilege = any (i_privileges))
        returning 1)
    select count(*) into n from d;
    if not exists (select 1 from @extschema@.queue_grants g
                    where g.role = v_role) then
        perform @extschema@._grant_access(v_role, false);
    end if;
    insert into @extschema@.audit_log (action, queue, detail)
    values ('revoke', i_queue,
            format('%s from %s (%s taken back)',
                   coalesce(array_to_string(i_privileges, ','), 'all'),
                   v_role, n));
    return n;
end
$$;
