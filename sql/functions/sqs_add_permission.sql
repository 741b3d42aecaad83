create or replace function @extschema@.sqs_add_permission(
    i_queue       text,
    i_label       text,
    i_roles       name[],
    i_privileges  text[])
returns int
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
-- ----------------------------------------------------------------------
-- Function: sqs_add_permission(i_queue, i_label, i_roles, i_privileges)
--
--      SQS's AddPermission on txq's grants (txq-sqs maps the accounts
--      and actions to roles and privileges, docs/sqs.md): grants every
--      privilege to every role on the queue, through grant() (admin, as
--      grant() requires; audited), and records under the label which of
--      those grants it made and which were held already, so that
--      sqs_remove_permission() takes back exactly what it added. A label
--      is unique per queue.
--
-- Returns:
--      how many grants were made. Errors: 42501 no admin, TQ002 unknown
--      queue, 42704 unknown role, 22023 a bad or existing label, no roles
--      or privileges, a bad privilege.
-- ----------------------------------------------------------------------
declare
    q @extschema@.queues;
    v_role name;
    v_priv text;
    v_made boolean;
    v_at timestamptz;
    n int := 0;
begin
    if not @extschema@._may(null, 'admin') then
        perform @extschema@._deny(null, 'admin');
    end if;
    if i_label is null or i_label !~ '^[A-Za-z0-9_-]{1,80}$' then
        raise exception 'Value % for parameter Label is invalid. Reason: '
                        'up to 80 alphanumeric characters, hyphens and '
                        'underscores.', coalesce(left(i_label, 100), 'null')
            using errcode = '22023';
    end if;
    if coalesce(cardinality(i_roles), 0) = 0
       or coalesce(cardinality(i_privileges), 0) = 0 then
        raise exception 'a permission needs roles and privileges'
            using errcode = '22023';
    end if;
    q := @extschema@._queue(i_queue);
    -- One change of the queue's labels at a time.
    perform 1 from @extschema@.queues where queue_id = q.queue_id
       for update;
    if exists (select 1 from @extschema@.sqs_permissions p
                where p.queue_id = q.queue_id and p.label = i_label) then
        raise exception 'Value % for parameter Label is invalid. Reason: '
                        'Already exists.', i_label
            using errcode = '22023';
    end if;
    foreach v_role in array i_roles loop
        foreach v_priv in array i_privileges loop
            v_made := @extschema@.grant(q.name, v_role, array[v_priv]) > 0;
            select g.granted_at into v_at from @extschema@.queue_grants g
             where g.queue_id = q.queue_id
               and g.role = @extschema@._role(v_role)
               and g.privilege = v_priv;
            insert into @extschema@.sqs_permissions
                   (queue_id, label, role, privilege, made, granted_at)
            values (q.queue_id, i_label, @extschema@._role(v_role), v_priv,
                    v_made, v_at)
            on conflict do nothing;
            n := n + v_made::int;
        end loop;
    end loop;
    return n;
end
$$;
