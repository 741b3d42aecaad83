-- The signature before its integer arguments became bigint (a value
-- past 2^31 then met no function at all, not a range error).
drop function if exists @extschema@.publish(text,bytea,jsonb,interval,int,text,text,text,text,timestamptz);
create or replace function @extschema@.publish(
    i_topic           text,
    i_body            bytea,
    i_headers         jsonb default null,
    i_delay           interval default null,
    i_priority        bigint default null,
    i_group           text default null,
    i_dedup_id        text default null,
    i_correlation_id  text default null,
    i_reply_to        text default null,
    i_now             timestamptz default null)
returns bigint[]
language plpgsql security definer
set search_path = pg_catalog, pg_temp
-- Generic plans: a custom plan is re-made on every call, which costs more
-- than these statements take to run; their plans do not depend on values.
set plan_cache_mode = force_generic_plan
as $$
-- ----------------------------------------------------------------------
-- Function: publish(i_topic, i_body, ...)
--
--      Publishes a message to a topic in the caller's transaction (same
--      arguments as send). Fanout: a copy goes to every subscribed queue
--      whose filter the headers contain; no match is counted in
--      topics.unmatched, not an error. With more than one copy the body
--      is stored once (bodies) and each copy refers to it; each is still
--      claimed, acked, failed and dead-lettered on its own, as send()'s.
--      Route: the first rule (by position) whose filter the headers
--      contain, else the default queue; when neither exists it is an
--      error and nothing is written. Publishing takes send on every
--      queue the message reaches (topics have no grants of their own):
--      one queue refused and nothing is written. A topic cannot reach
--      an encrypted queue (TQ005): each copy would need a seal of its
--      own, made by the client for that queue and id.
--
-- Returns:
--      the ids of the copies, one per queue (ordered by queue name for
--      fanout). Errors: TQ002 unknown topic, TQ004 no route, and send's.
-- ----------------------------------------------------------------------
declare
    t @extschema@.topics;
    q @extschema@.queues;
    v_headers jsonb := coalesce(i_headers, '{}');
    v_ids bigint[] := '{}';
    v_queue text;
    v_queues @extschema@.queues[];
    v_now timestamptz := case when i_now is null then now()
                          else @extschema@._clock(i_now) end;
    v_body_id bigint;
    v_group text;
    v_id bigint;
    v_made int := 0;
    v_opts boolean;
    v_fifo boolean := false;
begin
    t := @extschema@._topic(i_topic);
    if jsonb_typeof(v_headers) <> 'object' then
        raise exception 'headers must be a JSON object (got %)',
            jsonb_typeof(v_headers) using errcode = '22023';
    end if;
    if t.mode = 'fanout' then
        select array_agg(qq order by qq.name) into v_queues
          from @extschema@.subscriptions s
          join @extschema@.queues qq using (queue_id)
         where s.topic_id = t.topic_id
           and (s.filter is null or v_headers @> s.filter);
        if v_queues is null then
            update @extschema@.topics set unmatched = unmatched + 1
             where topic_id = t.topic_id;
            return v_ids;
        end if;
        -- Each copy would need a seal of its own (the seal binds the
        -- queue and the id): a topic cannot reach an encrypted queue.
        select qq.name into v_queue from unnest(v_queues) qq
         where qq.encrypt order by qq.name limit 1;
        if found then
            perform @extschema@._refuse_topic(t.name, v_queue);
        end if;
        if cardinality(v_queues) = 1 then
            return array[@extschema@.send(v_queues[1].name, i_body, v_headers,
                i_delay, i_priority, i_group, i_dedup_id, i_correlation_id,
                i_reply_to, i_now)];
        end if;
        -- Every copy checked against its own queue before anything is
        -- written, as send() would (and, as there, a check runs only when
        -- something is to be checked); then each written as send() writes
        -- it, with the body by reference.
        v_opts := i_delay is not null or i_priority is not null
                  or i_group is not null or i_dedup_id is not null
                  or i_correlation_id is not null or i_reply_to is not null;
        foreach q in array v_queues loop
            if not @extschema@._may(q.queue_id, 'send') then
                perform @extschema@._deny(q.name, 'send');
            end if;
            if i_body is null or octet_length(i_body) > q.max_body_bytes then
                perform @extschema@._check_body(q, i_body);
            end if;
            if v_opts then
                perform @extschema@._check_send(q, v_headers, i_delay,
                    i_priority, i_group, i_dedup_id, i_correlation_id,
                    i_reply_to);
            end if;
            v_fifo := v_fifo or q.kind = 'fifo';
        end loop;
        insert into @extschema@.bodies (refs, body)
        values (cardinality(v_queues), i_body)
        returning id into v_body_id;
        if not v_fifo and i_dedup_id is null then
            -- Standard queues only: every copy in one statement, ids in
            -- queue name order (the order the rows are inserted in).
            with c as (
                insert into @extschema@.messages (queue_id, priority,
                    visible_at, enqueued_at, expires_at, group_key,
                    correlation_id, reply_to, headers, body_id)
                select x.queue_id, coalesce(i_priority, 0),
                       v_now + coalesce(i_delay, x.delay), v_now,
                       v_now + x.expire_after, i_group, i_correlation_id,
                       i_reply_to, v_headers, v_body_id
                  from unnest(v_queues) x
                 order by x.name
                returning id)
            select array_agg(c.id order by c.id) into v_ids from c;
            foreach q in array v_queues loop
                if q.waiting then
                    perform @extschema@._wake(q);
                end if;
            end loop;
            return v_ids;
        end if;
        foreach q in array v_queues loop
            v_group := i_group;
            v_id := null;
            if q.kind = 'fifo' then
                -- As send(): a group's senders take turns to commit.
                v_group := coalesce(i_group, '');
                perform pg_advisory_xact_lock(q.queue_id, hashtext(v_group));
            end if;
            if i_dedup_id is not null then
                -- As send(): a dedup id seen returns the first copy.
                v_id := @extschema@._dedup(q, i_dedup_id, v_now);
            end if;
            if v_id is null then
                insert into @extschema@.messages (queue_id, priority,
                    visible_at, enqueued_at, expires_at, group_key, dedup_id,
                    correlation_id, reply_to, headers, body_id)
                values (q.queue_id, coalesce(i_priority, 0),
                    v_now + coalesce(i_delay, q.delay), v_now,
                    v_now + q.expire_after, v_group, i_dedup_id,
                    i_correlation_id, i_reply_to, v_headers, v_body_id)
                returning id into v_id;
                v_made := v_made + 1;
                if i_dedup_id is not null then
                    update @extschema@.dedup set message_id = v_id
                     where queue_id = q.queue_id and dedup_id = i_dedup_id;
                end if;
                if q.waiting then
                    perform @extschema@._wake(q);
                end if;
            end if;
            v_ids := v_ids || v_id;
        end loop;
        -- Copies a dedup id turned away hold no reference.
        if v_made = 0 then
            delete from @extschema@.bodies where id = v_body_id;
        elsif v_made < cardinality(v_queues) then
            update @extschema@.bodies set refs = v_made where id = v_body_id;
        end if;
        return v_ids;
    end if;

    select qq.name into v_queue
      from @extschema@.routes r join @extschema@.queues qq using (queue_id)
     where r.topic_id = t.topic_id and v_headers @> r.filter
     order by r.position limit 1;
    if not found then
        select qq.name into v_queue from @extschema@.queues qq
         where qq.queue_id = t.default_queue_id;
        if not found then
            raise exception 'no route of topic "%" matches the headers and '
                'it has no default queue', t.name using errcode = 'TQ004';
        end if;
    end if;
    if (select qq.encrypt from @extschema@.queues qq where qq.name = v_queue)
    then
        perform @extschema@._refuse_topic(t.name, v_queue);
    end if;
    return array[@extschema@.send(v_queue, i_body, v_headers, i_delay,
        i_priority, i_group, i_dedup_id, i_correlation_id, i_reply_to,
        i_now)];
end
$$;
