create or replace function @extschema@._pooled(i_value anyelement)
returns anyelement
language plpgsql volatile
as $$
-- ----------------------------------------------------------------------
-- Function: _pooled(i_value)
--
--      Marks the current transaction as one of a client behind a
--      transaction pooler (internal): libtxq passes a parameter of its
--      claiming statements through it in that mode (sql_text.h, the
--      *_POOLED statements), so the claims they make record no backend
--      pid (_claimant()). A transaction-local setting: it ends with the
--      transaction, on whichever server connection the pooler gave it.
--      Granted to public: it only changes what the caller's own claims
--      record.
--
-- Returns:
--      i_value, unchanged.
-- ----------------------------------------------------------------------
begin
    perform pg_catalog.set_config('txq.pooled', 'on', true);
    return i_value;
end
$$;
