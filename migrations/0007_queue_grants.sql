-- 0007_queue_grants: who may do what, queue by queue, in this schema.
--
-- The four txq_* roles are cluster-wide: a member of txq_consumer could
-- receive from and ack on every queue of every txq schema of the cluster.
-- Now every call checks a grant of this schema (txq.grant(), the
-- txq.grants view): a privilege on one queue, or on every queue ('*', a
-- null queue_id here). The roles keep what they had, as grants on '*' of
-- this schema, so nothing an existing deployment does stops working; an
-- admin revokes them to hand out narrower grants.
--
-- Applied once, in its own transaction, under an advisory lock, by
-- txq_migrate() / `txq migrate`. @extschema@ is replaced by the quoted schema
-- name. Forward-only: never edit a released migration, add a new one.

create table @extschema@.queue_grants (
    -- null: every queue of this schema, present and future
    queue_id    int references @extschema@.queues (queue_id)
                    on delete cascade,
    -- regrole: pg_dump writes the name, so a restore finds the role again
    role        regrole not null,
    privilege   text not null
                    check (privilege in ('send', 'receive', 'operate',
                                         'monitor', 'admin')),
    granted_by  text not null default
                    coalesce(nullif(pg_catalog.current_setting('role'),
                                    'none'), session_user::text),
    granted_at  timestamptz not null default now(),
    -- admin is the schema's: create and drop queues, topics, grants
    check (privilege <> 'admin' or queue_id is null),
    unique nulls not distinct (queue_id, role, privilege)
);
create index queue_grants_role_idx
    on @extschema@.queue_grants (role, privilege);

insert into @extschema@.queue_grants (queue_id, role, privilege,
                                      granted_by)
select null, r::regrole, p, 'txq migrate'
  from (values ('txq_producer', 'send'), ('txq_producer', 'monitor'),
               ('txq_consumer', 'send'), ('txq_consumer', 'receive'),
               ('txq_consumer', 'monitor'), ('txq_operator', 'operate'),
               ('txq_admin', 'admin')) as d(r, p);

-- The direct send's policy now also checks the grant: made again, under
-- another name, by the definitions that follow (zz_privileges.sql).
drop policy if exists producer_send on @extschema@.messages;

-- Replaced by _may() and _need(): the operator's check is per queue now.
drop function if exists @extschema@._need_attempt(text);
drop function if exists @extschema@._may_operate();
