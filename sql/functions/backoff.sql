create or replace function @extschema@.backoff(
    i_attempt  int,
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
--      The retry delay after failed attempt i_attempt (1-based):
--      min(base * 2^(attempt-1), cap), plus up to i_jitter of itself at
--      random. i_random in [0, 1) replaces random() (tests).
--
-- Returns:
--      the delay.
-- ----------------------------------------------------------------------
    select d + d * coalesce(i_jitter, 0) * coalesce(i_random, random())
      from (select least(i_base * power(2, least(greatest(i_attempt, 1) - 1,
                                                   40)),
                         i_cap) as d) s;
$$;
