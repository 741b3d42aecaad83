create or replace function @extschema@._front_save(
    i_key text, i_sweep boolean, i_state text[], i_t0 timestamptz,
    i_all boolean, i_levels int[], i_from timestamptz[], i_from_id bigint[])
returns void
language plpgsql
as $$
-- ----------------------------------------------------------------------
-- Function: _front_save(i_key, i_sweep, i_state, i_t0, i_all, i_levels,
--                       i_from, i_from_id)
--
--      Stores this session's claim frontier on a queue in the session
--      setting i_key (internal; docs/design.md, "Claims under a held
--      snapshot"): {time of the last sweep, its seconds, then per level:
--      priority, visible_at, id} (or 'all' for a queue of many levels).
--      Set for the session, so a transaction that rolls back its claims
--      rolls their frontier back with them.
-- ----------------------------------------------------------------------
declare
    v text[];
begin
    if i_sweep then
        v := array[i_t0::text,
                   extract(epoch from clock_timestamp() - i_t0)::text];
    else
        v := i_state[1:2];
    end if;
    if i_all then
        v := v || 'all'::text;
    else
        for i in 1 .. coalesce(cardinality(i_levels), 0) loop
            v := v || array[i_levels[i]::text, i_from[i]::text,
                             i_from_id[i]::text];
        end loop;
    end if;
    perform pg_catalog.set_config(i_key, v::text, false);
end
$$;
