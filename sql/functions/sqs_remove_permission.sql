create or replace function @extschema@.sqs_remove_permission(
    i_queue  text,
    i_label  text)
returns int
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
-- ----------------------------------------------------------------------
-- Function: sqs_remove_permission(i_queue, i_label)
--
--      SQS's RemovePermission: forgets the label and revokes (through
--      revoke(): admin; audited) the grants it made, unless another
--      label of the queue still names one (that label then owns it).
--      Grants the label found held already, and a grant revoked and made
--      again since by other means, stay.
--
-- Returns:
--      how many grants were revoked. Errors: 42501 no admin, TQ002
--      unknown queue, 22023 no such label.
-- ----------------------------------------------------------------------
declare
    q @extschema@.queues;
    p record;
    v_name name;
    n int := 0;
begin
    if not @extschema@._may(null, 'admin') then
        perform @extschema@._deny(null, 'admin');
    end if;
    q := @extschema@._queue(i_queue);
    perform 1 from @extschema@.queues where queue_id = q.queue_id
       for update;
    if not exists (select 1 from @extschema@.sqs_permissions s
                    where s.queue_id = q.queue_id and s.label = i_label) then
        raise exception 'Value % for parameter Label is invalid. Reason: '
                        'can''t find label on existing policy.',
                        coalesce(left(i_label, 100), 'null')
            using errcode = '22023';
    end if;
    for p in
        delete from @extschema@.sqs_permissions s
         where s.queue_id = q.queue_id and s.label = i_label
        returning s.role, s.privilege, s.made, s.granted_at
    loop
        if not p.made then
            continue;
        end if;
        -- Another label naming the same grant now owns it.
        update @extschema@.sqs_permissions s set made = true
         where (s.queue_id, s.label, s.role, s.privilege) =
               (select o.queue_id, o.label, o.role, o.privilege
                  from @extschema@.sqs_permissions o
                 where o.queue_id = q.queue_id and o.role = p.role
                   and o.privilege = p.privilege
                 order by o.label limit 1);
        if found then
            continue;
        end if;
        select r.rolname into v_name from pg_catalog.pg_roles r
         where r.oid = p.role
           and exists (select 1 from @extschema@.queue_grants g
                        where g.queue_id = q.queue_id and g.role = p.role
                          and g.privilege = p.privilege
                          and g.granted_at = p.granted_at);
        if found then
            n := n + @extschema@.revoke(q.name, v_name, array[p.privilege]);
        end if;
    end loop;
    return n;
end
$$;
