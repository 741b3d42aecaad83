create or replace function @extschema@.schema_version()
returns int
language sql stable security definer
set search_path = pg_catalog, pg_temp
as $$
-- ----------------------------------------------------------------------
-- Function: schema_version()
--
--      The highest migration applied to this schema.
-- ----------------------------------------------------------------------
    select max(version) from @extschema@.schema_migrations;
$$;
