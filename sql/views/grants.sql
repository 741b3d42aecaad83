-- View: grants
--
--      Who may do what on which queue of this schema (grant(), revoke()):
--      one row per privilege, queue '*' for every queue. A role that was
--      dropped shows as its number: revoke its grants. Each caller sees
--      the rows of the queues it may operate (the '*' rows: operate on
--      every queue).
create or replace view @extschema@.grants with (security_barrier) as
select coalesce(q.name, '*') as queue,
       g.role::text as role,
       g.privilege,
       g.granted_by,
       g.granted_at
  from @extschema@.queue_grants g
  left join @extschema@.queues q on q.queue_id = g.queue_id
 where @extschema@._may(g.queue_id, 'operate');
