create or replace function @extschema@.privileges(i_queue text)
returns text[]
language plpgsql stable security definer
set search_path = pg_catalog, pg_temp
as $$
-- ----------------------------------------------------------------------
-- Function: privileges(i_queue)
--
--      The privileges the caller holds on a queue of this schema, or on
--      every queue with '*' (what the schema-wide calls, maintain() among
--      them, need): by grants to it or to a role it is a member of, as
--      _may() decides (admin holds every privilege, operate holds
--      monitor; the schema's owner and superusers hold everything). It
--      answers about the caller only: txq-worker asks it at start, and
--      so can a client before it calls.
--
-- Parameters:
--      i_queue - queue name, or '*'
--
-- Returns:
--      the privileges held, in the order send, receive, operate,
--      monitor, admin; empty when none. Errors: TQ002 unknown queue (as
--      every call on a queue), 22023 null.
-- ----------------------------------------------------------------------
declare
    v_queue_id int;
begin
    if i_queue is null then
        raise exception 'queue name is null' using errcode = '22023';
    end if;
    if i_queue <> '*' then
        v_queue_id := (@extschema@._queue(i_queue)).queue_id;
    end if;
    return array(select p from unnest(array['send', 'receive', 'operate',
                                            'monitor', 'admin'])
                               with ordinality as u(p, n)
                  where @extschema@._may(v_queue_id, p)
                  order by n);
end
$$;
