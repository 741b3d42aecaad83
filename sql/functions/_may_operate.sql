create or replace function @extschema@._may_operate()
returns boolean
language sql stable
set search_path = pg_catalog, pg_temp
as $$
-- ----------------------------------------------------------------------
-- Function: _may_operate()
--
--      Whether the caller (_caller()) may act on messages it does not
--      hold (internal): a member of txq_operator or txq_admin, or of the
--      schema's owner (the role the definer functions run as). Called
--      from those functions only; granted to no one.
-- ----------------------------------------------------------------------
select pg_has_role(@extschema@._caller(), current_user, 'usage')
    or pg_has_role(@extschema@._caller(), 'txq_operator', 'usage')
    or pg_has_role(@extschema@._caller(), 'txq_admin', 'usage')
$$;
