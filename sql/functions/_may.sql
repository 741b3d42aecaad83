create or replace function @extschema@._may(i_queue_id int,
                                            i_privilege text)
returns boolean
language plpgsql stable security definer
set search_path = pg_catalog, pg_temp
as $$
-- ----------------------------------------------------------------------
-- Function: _may(i_queue_id, i_privilege)
--
--      Whether the caller (_caller()) holds i_privilege on the queue
--      (internal), by a grant of this schema (queue_grants) to a role it
--      is a member of (with inherit, or taken by SET ROLE): on that queue
--      or on every queue ('*'). A null queue asks for '*' itself. admin
--      holds every privilege; operate holds monitor. The schema's owner
--      and superusers hold everything.
--
--      plpgsql, not sql: its plan is kept for the session (a sql function
--      called from plpgsql is planned again in every transaction). A
--      security definer so that row security (the direct send's policy)
--      and the views can ask it as the caller; granted to public (it
--      answers about the caller only).
-- ----------------------------------------------------------------------
declare
    -- _caller(), inlined: this runs on every call of the API.
    v_caller name := coalesce(nullif(current_setting('role'), 'none'),
                              session_user::text)::name;
begin
    if pg_has_role(v_caller, current_user, 'usage') then
        return true;
    end if;
    return exists (
        select 1 from @extschema@.queue_grants g
         where (g.queue_id = i_queue_id or g.queue_id is null)
           and (g.privilege = i_privilege or g.privilege = 'admin'
                or (g.privilege = 'operate' and i_privilege = 'monitor'))
           -- false, not an error, for a role dropped since
           and pg_has_role(v_caller, g.role::oid, 'usage'));
end
$$;
