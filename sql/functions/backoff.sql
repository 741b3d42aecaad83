-- The signature before its integer arguments became bigint (a value
-- past 2^31 then met no function at all, not a range error).
drop function if exists @extschema@.backoff(int,interval,interval,double precision,double precision);
create or replace function @extschema@.backoff(
    i_attempt  bigint,
    i_base     interval,
    i_cap      interval,
    i_jitter   double precision default 0,
    i_random   double precision default null)
returns interval
language sql
set search_path = pg_catalog, pg_temp
as $$
-- ----------------------------------------------------------------------
-- Function: backoff(i_attempt, i_base, i_cap, i_jitter, i_random)
--
--      The retry delay after failed attempt i_attempt (1-based): d =
--      min(base * 2^(attempt-1), cap), spread at random over a range i_jitter
--      * d wide: [d, d * (1 + i_jitter)], moved down as far as it takes to
--      stay under the cap (at the cap: [cap * (1 - i_jitter), cap]). So
--      the cap is never passed and retries at the cap still spread.
--      i_random in [0, 1) replaces random() (tests).
--
-- Returns:
--      the delay.
-- ----------------------------------------------------------------------
    select least(d * (1 + j), i_cap) - d * j
           + d * j * coalesce(i_random, random())
      from (select least(i_base * power(2, least(greatest(i_attempt, 1) - 1,
                                                   40)),
                         i_cap) as d,
                   coalesce(i_jitter, 0) as j) s;
$$;
