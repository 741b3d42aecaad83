create or replace function @extschema@._check_dead_letter(
    q @extschema@.queues)
returns void
language plpgsql stable
as $$
-- ----------------------------------------------------------------------
-- Function: _check_dead_letter(q)
--
--      Checks the settings that do not go with a dead-letter queue
--      (internal, from create_queue and alter_queue, once q holds every
--      new setting): on_exhausted ignore (it drops what a dead-letter
--      queue would keep), and encryption of the queue or of its target,
--      or of a queue whose target it is (the seal authenticates the
--      queue and the headers, which a move changes).
-- ----------------------------------------------------------------------
begin
    if q.dead_letter_queue_id is not null then
        if q.on_exhausted = 'ignore' then
            raise exception 'queue "%" has a dead_letter_queue: '
                'on_exhausted ignore would drop what it keeps (use review '
                'or notify, or remove the dead_letter_queue)', q.name
                using errcode = '22023';
        end if;
        if q.encrypt or exists (select 1 from @extschema@.queues t
                                 where t.queue_id = q.dead_letter_queue_id
                                   and t.encrypt) then
            raise exception 'an encrypted queue has no dead_letter_queue '
                'and is none (queue "%"): a body sealed for one queue does '
                'not open in another', q.name using errcode = '22023';
        end if;
    end if;
    if q.encrypt and q.queue_id is not null
       and exists (select 1 from @extschema@.queues s
                    where s.dead_letter_queue_id = q.queue_id) then
        raise exception 'queue "%" is a dead_letter_queue: it cannot be '
            'encrypted (a body sealed for one queue does not open in '
            'another)', q.name using errcode = '22023';
    end if;
end
$$;
