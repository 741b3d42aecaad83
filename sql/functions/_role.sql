create or replace function @extschema@._role(i_role name)
returns regrole
language plpgsql stable
set search_path = pg_catalog, pg_temp
as $$
-- ----------------------------------------------------------------------
-- Function: _role(i_role)
--
--      The role of that name (internal, for grant() and revoke()), looked
--      up in pg_roles, never parsed as an identifier. Errors: 42704 no
--      such role.
-- ----------------------------------------------------------------------
declare
    v_role regrole;
begin
    select r.oid::regrole into v_role from pg_roles r
     where r.rolname = i_role;
    if not found then
        raise exception 'role "%" does not exist', left(i_role, 100)
            using errcode = '42704';
    end if;
    return v_role;
end
$$;
