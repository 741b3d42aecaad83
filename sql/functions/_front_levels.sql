create or replace function @extschema@._front_levels(
    i_queue_id int, i_known int[])
returns int[]
language sql stable
set search_path = pg_catalog, pg_temp
set enable_bitmapscan = off
set enable_seqscan = off
set jit = off
as $$
-- ----------------------------------------------------------------------
-- Function: _front_levels(i_queue_id, i_known)
--
--      The priority levels a claim looks at (internal; docs/design.md,
--      "Claims under a held snapshot"), highest first: those that have a
--      message in the queue now (one probe of messages_ready_idx per
--      level), the ones the session knew (i_known), and 0, the default.
--      Null when there are more than 8: the claim then walks the whole
--      queue in claim order instead of one range per level.
-- ----------------------------------------------------------------------
    with recursive l (p) as (
        (select s.priority::int from @extschema@.messages s
          where s.queue_id = i_queue_id
          order by s.priority desc limit 1)
        union all
        select (select s.priority::int from @extschema@.messages s
                 where s.queue_id = i_queue_id and s.priority < l.p
                 order by s.priority desc limit 1)
          from l where l.p is not null),
    present as (select l.p from l where l.p is not null limit 9),
    lv as (
        select p from present
        union select unnest(coalesce(i_known, '{}'))
        union select 0)
    select case when count(*) > 8 then null
                else array_agg(p order by p desc) end
      from lv
$$;
