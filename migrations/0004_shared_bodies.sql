-- 0004_shared_bodies: a body published to several queues is stored once
-- (docs/design.md, "Fan-out stores the body once").
--
-- publish() to a fanout topic that more than one queue receives puts the
-- body in bodies, with refs = the number of copies, and each queue's copy
-- in messages with body_id instead of body. Deleting a copy (ack, pop,
-- dead-lettering, expiry, a dropped queue: a trigger, so no path can
-- forget) takes one from refs and deletes the body with the last. A copy
-- that leaves messages for the dead letters or the archive takes its body
-- along as a value, so those tables never refer to bodies.
--
-- Applied once, in its own transaction, under an advisory lock, by
-- txq_migrate() / `txq migrate`. @extschema@ is replaced by the quoted schema
-- name. Forward-only: never edit a released migration, add a new one.

create table @extschema@.bodies (
    id      bigint generated always as identity
            constraint bodies_pkey primary key,
    refs    int not null constraint bodies_refs_ok check (refs >= 0),
    body    bytea not null
);

-- Adding a nullable column and a constraint NOT VALID rewrites nothing;
-- the validation reads the table under a lock that lets queues run.
alter table @extschema@.messages
    alter column body drop not null,
    add column body_id bigint,
    add constraint messages_one_body
        check ((body is null) <> (body_id is null)) not valid;
alter table @extschema@.messages validate constraint messages_one_body;
