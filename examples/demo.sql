-- demo.sql - the business side of tools/demo.sh (`./run demo`): a schema
-- `demo` with the tables the handlers write, and the SQL handlers that
-- txq-worker calls as sql:demo.handle_order, sql:demo.handle_log and
-- sql:demo.handle_payment. It drops and recreates schema demo, so it can be
-- run again:
--
--   psql -v ON_ERROR_STOP=1 -f examples/demo.sql              (schema txq)
--   psql -v ON_ERROR_STOP=1 -v txq=myschema -f examples/demo.sql
--
-- A SQL handler takes one txq.message (id, queue, attempts, headers, body,
-- correlation_id, reply_to, priority, group_key, dedup_id, enqueued_at,
-- visible_until) and runs inside the consume transaction: its writes commit
-- with the ack. Returning is success; raising an error is a failure to
-- retry (after the queue's backoff, up to max_attempts), and
-- errcode = 'TQ001' a permanent failure (no retries: straight to the
-- queue's on_exhausted policy). Either way its writes roll back.
\if :{?txq}
\else
\set txq txq
\endif
set client_min_messages = warning;

drop schema if exists demo cascade;
create schema demo;

create table demo.orders (
    order_no    int constraint orders_pkey primary key,
    sku         text not null,
    qty         int not null,
    message_id  bigint not null,
    attempt     int not null,
    created_at  timestamptz not null default now()
);

create table demo.thumbnails (          -- written by examples/demo_handler.c
    message_id  bigint constraint thumbnails_pkey primary key,
    path        text not null,
    attempt     int not null,
    made_at     timestamptz not null default now()
);

create table demo.log_lines (
    message_id  bigint constraint log_lines_pkey primary key,
    line        text not null
);

create table demo.payments (
    payment_no  int constraint payments_pkey primary key,
    amount      numeric(12, 2) not null,
    message_id  bigint not null
);

-- Orders: body {"order": 17, "sku": "...", "qty": 2}. The row goes in
-- first, then the checks may raise: the rollback of a failed attempt takes
-- the row with it, so a retried order is never written twice (the primary
-- key would say so).
create function demo.handle_order(m :"txq".message)
returns void
language plpgsql
as $$
declare
    o jsonb := convert_from(m.body, 'UTF8')::jsonb;
begin
    insert into demo.orders (order_no, sku, qty, message_id, attempt)
    values ((o->>'order')::int, o->>'sku', (o->>'qty')::int, m.id,
            m.attempts);
    if (o->>'qty')::int <= 0 then
        raise exception 'order %: quantity must be positive (got %)',
            o->>'order', o->>'qty'
            using errcode = 'TQ001';            -- permanent: no retries
    end if;
    -- Transient trouble: every tenth order on its first attempt, and now
    -- and then at random. The message is retried after the backoff.
    if (m.attempts = 1 and (o->>'order')::int % 10 = 3) or random() < 0.05
    then
        raise exception 'order %: warehouse busy, try again', o->>'order';
    end if;
end
$$;

-- Log lines: text. A malformed line fails every attempt; its queue's
-- on_exhausted = ignore then drops it (counted as ignored).
create function demo.handle_log(m :"txq".message)
returns void
language plpgsql
as $$
declare
    line text := convert_from(m.body, 'UTF8');
begin
    if line like '%malformed%' then
        raise exception 'cannot parse log line (% bytes)', length(m.body);
    end if;
    insert into demo.log_lines (message_id, line) values (m.id, line);
end
$$;

-- Payments: body {"payment": 4, "amount": 19.90, "card": "..."}. A
-- declined card is permanent; its queue's on_exhausted = notify
-- dead-letters it and raises an alert (txq.alerts, NOTIFY txq_alert, and
-- the worker's --notify-command). A card ending in 0119 times out once.
create function demo.handle_payment(m :"txq".message)
returns void
language plpgsql
as $$
declare
    p jsonb := convert_from(m.body, 'UTF8')::jsonb;
begin
    if p->>'card' like '%0002' then
        raise exception 'payment %: card declined', p->>'payment'
            using errcode = 'TQ001';
    end if;
    if p->>'card' like '%0119' and m.attempts = 1 then
        raise exception 'payment %: gateway timeout', p->>'payment';
    end if;
    insert into demo.payments (payment_no, amount, message_id)
    values ((p->>'payment')::int, (p->>'amount')::numeric, m.id);
end
$$;
