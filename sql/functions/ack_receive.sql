-- The signature before its integer arguments became bigint (a value
-- past 2^31 then met no function at all, not a range error).
drop function if exists @extschema@.ack_receive(bigint[],int[],text,int,interval);
create or replace function @extschema@.ack_receive(
    i_ids                 bigint[],
    i_attempts            bigint[],
    i_queue               text,
    i_max                 bigint default 1,
    i_visibility_timeout  interval default null)
returns setof @extschema@.message
language plpgsql security definer
set search_path = pg_catalog, pg_temp
set plan_cache_mode = force_generic_plan
as $$
-- ----------------------------------------------------------------------
-- Function: ack_receive(i_ids, i_attempts, i_queue, i_max,
--                       i_visibility_timeout)
--
--      ack(i_ids, i_attempts), then receive(i_queue, i_max,
--      i_visibility_timeout) unless i_max is 0, in the caller's
--      transaction: a consumer acks the message it handled and claims its
--      next ones in the transaction that commits the handler's work, so
--      each message costs one commit while every attempt is still durable
--      before its handler runs.
--      Unlike ack, a message not held by its attempt is an error (TQ003),
--      so a caller that sends COMMIT right behind this call (pipelined)
--      never commits a handler's work whose claim had lapsed.
--
-- Returns:
--      the claimed messages, as receive.
--      Errors: TQ003 not every message was held by its attempt; those of
--      ack and receive.
-- ----------------------------------------------------------------------
declare
    n int;
begin
    n := @extschema@.ack(i_ids, i_attempts);
    if n < coalesce(cardinality(i_ids), 0) then
        raise exception '% of % messages were not held by their attempt '
            '(already acked, failed, or claimed again)',
            cardinality(i_ids) - n, cardinality(i_ids)
            using errcode = 'TQ003';
    end if;
    if i_max = 0 then
        return;  -- ack only: the consumer has more messages in hand
    end if;
    return query select * from @extschema@.receive(i_queue, i_max,
                                                   i_visibility_timeout);
end
$$;
