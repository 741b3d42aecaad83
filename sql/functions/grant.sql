create or replace function @extschema@.grant(
    i_queue       text,
    i_role        name,
    i_privileges  text[])
returns int
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
-- ----------------------------------------------------------------------
-- Function: grant(i_queue, i_role, i_privileges)
--
--      Gives a role privileges on a queue of this schema, or on every
--      queue of it, present and future, with '*':
--        send     send, send_batch, publish (to every queue the message
--                 reaches), reply (to the reply queue)
--        receive  receive, take, pop, ack, fail, set_visibility, long
--                 polls, the worker's alerts
--        operate  dead letters (read, edit, requeue, discard), cancel,
--                 purge, alter_queue, ack and fail without the attempt;
--                 also monitor
--        monitor  queue_stats, peek (read without claiming)
--        admin    ('*' only) everything, and create and drop queues and
--                 topics, grant and revoke
--      Members of the role (with inherit, or by SET ROLE) hold them. The
--      role also gets what calling the API takes (USAGE on the schema,
--      EXECUTE on its functions, SELECT on its views), which gives
--      nothing by itself: every call checks the grants. Audited.
--      Granting what is held already changes nothing.
--
-- Returns:
--      how many privileges were added. Errors: 42501 the caller is no
--      admin, TQ002 unknown queue, 42704 unknown role, 22023 bad
--      privilege.
-- ----------------------------------------------------------------------
declare
    v_queue_id int;
    v_role regrole;
    n int;
begin
    if not @extschema@._may(null, 'admin') then
        perform @extschema@._deny(null, 'admin');
    end if;
    v_queue_id := @extschema@._grant_target(i_queue, i_privileges);
    v_role := @extschema@._role(i_role);
    with a as (
        insert into @extschema@.queue_grants (queue_id, role, privilege)
        select v_queue_id, v_role, p
          from (select distinct unnest(i_privileges) as p) x
        on conflict do nothing
        returning privilege)
    select count(*) into n from a;
    perform @extschema@._grant_access(v_role, true);
    insert into @extschema@.audit_log (action, queue, detail)
    values ('grant', i_queue,
            format('%s to %s (%s new)', array_to_string(i_privileges, ','),
                   v_role, n));
    return n;
end
$$;
