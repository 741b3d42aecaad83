create or replace function @extschema@._claimant()
returns int
language sql stable parallel safe
as $$
-- ----------------------------------------------------------------------
-- Function: _claimant()
--
--      What a claim records as its holder (messages.claimed_by, internal):
--      this backend's pid, so that maintain() can give back the claims
--      of a session that died; null when the client said it comes
--      through a transaction pooler (_pooled()): the backend then serves
--      other clients and outlives this one, or ends while this client
--      still runs, so its pid says nothing about the claim's holder. A
--      claim without a holder is never rescued early: it lapses with its
--      visibility timeout (docs/operator-guide.md, "Connection poolers").
--
-- Returns:
--      pg_backend_pid(), or null.
-- ----------------------------------------------------------------------
select case when pg_catalog.current_setting('txq.pooled', true) = 'on'
            then null
            else pg_catalog.pg_backend_pid() end
$$;
