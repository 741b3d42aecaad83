create or replace function @extschema@._caller()
returns name
language sql stable
set search_path = pg_catalog, pg_temp
as $$
-- ----------------------------------------------------------------------
-- Function: _caller()
--
--      The role the session acts as (internal): the one taken by SET ROLE
--      (the setting "role", which a security-definer function does not
--      change), else the session's user. Inside the API's definer
--      functions current_user is their owner, so this is who called.
-- ----------------------------------------------------------------------
select coalesce(nullif(current_setting('role'), 'none'),
                session_user::text)::name
$$;
