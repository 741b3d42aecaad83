-- 0008_sealed: queues whose bodies are sealed by the client (encrypted
-- queues; docs/security.md, "Encrypted queues").
--
-- A queue with encrypt = true takes only bodies sealed by libtxq
-- (XChaCha20-Poly1305, keys held by the clients): send_sealed() stores
-- them under ids reserved beforehand with seal_prepare(), because the id
-- is part of what the seal authenticates. Every plaintext path (send,
-- send_batch, publish, reply, the direct send) refuses such a queue. The
-- server never holds a key: it checks only the envelope's shape.
--
-- Applied once, in its own transaction, under an advisory lock, by
-- txq_migrate() / `txq migrate`. @extschema@ is replaced by the quoted schema
-- name. Forward-only: never edit a released migration, add a new one.

-- A new column with a constant default rewrites nothing. A fifo queue
-- cannot be encrypted (its dedup and requeue paths may give a message
-- another id than the one its body was sealed with).
alter table @extschema@.queues
    add column encrypt boolean not null default false,
    add constraint queues_encrypt_ok check (not (encrypt and kind = 'fifo'));

-- Ids handed out by seal_prepare() and not yet used by send_sealed(): only
-- the session that reserved an id may send with it, once. Unlogged: a
-- reservation is worth nothing after a crash (its session is gone), and
-- maintain() drops those of sessions that ended.
create unlogged table @extschema@.id_reservations (
    id           bigint constraint id_reservations_pkey primary key,
    backend_pid  int not null,
    reserved_at  timestamptz not null default now()
);
create index id_reservations_pid_idx
    on @extschema@.id_reservations (backend_pid);

-- The direct send's policy now also refuses encrypted queues: made again,
-- under another name, by the definitions that follow (zz_privileges.sql).
drop policy if exists producer_send_granted on @extschema@.messages;

-- The signatures before i_encrypt was added (create_queue.sql and
-- alter_queue.sql make the new ones).
drop function if exists @extschema@.create_queue(text, text, interval, int,
    interval, interval, double precision, text, int, interval, interval,
    interval, interval);
drop function if exists @extschema@.alter_queue(text, interval, int, interval,
    interval, double precision, text, int, interval, interval, interval,
    boolean, boolean, interval);
