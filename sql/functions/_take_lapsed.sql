create or replace function @extschema@._take_lapsed(
    q @extschema@.queues, i_id bigint, i_attempts int, i_now timestamptz)
returns boolean
language plpgsql
as $$
-- ----------------------------------------------------------------------
-- Function: _take_lapsed(q, i_id, i_attempts, i_now)
--
--      take() locked message i_id (stored attempts i_attempts) whose last
--      claim lapsed (internal): records that attempt as failed (_lapsed);
--      past max_attempts the message is buried, and counted for
--      _take_buried(); else its claim is cleared so that the take holds
--      it as any other.
--
-- Returns:
--      true when the message is to be delivered, false when buried.
-- ----------------------------------------------------------------------
begin
    if @extschema@._lapsed(q, i_id, i_attempts + 1, i_now) then
        perform pg_catalog.set_config('txq.take_buried',
            (@extschema@._take_buried() + 1)::text, true);
        return false;
    end if;
    update @extschema@.messages set claimed_at = null, claimed_by = null
     where id = i_id;
    return true;
end
$$;
