#!/usr/bin/env bash
# bench/claim_wal.sh [N] - the WAL a consumed message writes, by the shape
# of its claim: a design measurement, not a txq workload (bench/README.md,
# "Claim designs").
#
# One session consumes N (default 20,000) preloaded messages the way
# txq-worker does with a handler that writes: each transaction inserts the
# message in hand into `done` (the handler), deletes it (the ack), and
# claims the next one (FOR UPDATE SKIP LOCKED, then the claim's write)
# before it commits, so every attempt is durable before its handler runs.
# The messages live in a table with txq's row and indexes (m). The claim's
# write is, in turn:
#
#   visible_at     an UPDATE of attempts, visible_at, claimed_at, claimed_by
#                  (txq's claim: visible_at is in the ready index, so the
#                  update is not HOT and adds an entry to every index)
#   claimed_until  the same UPDATE with the claim's end in a column no
#                  index holds (a HOT update), the ready probe filtering
#                  on it
#   claimrec       no UPDATE: a row in a claims table with an index on the
#                  message id
#
# each with and without the per-ack counter update that txq's statistics
# make. The ideal, on its own table q: the DELETE ... SKIP LOCKED and the
# same INSERT in one statement per transaction. Prints WAL bytes per
# message (pg_current_wal_insert_lsn before and after, from a checkpoint).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
N=${1:-20000}
[[ $N =~ ^[1-9][0-9]*$ ]] || {
    echo "usage: bench/claim_wal.sh [N]" >&2
    exit 2
}
say() {
    printf '==> %s\n' "$*" >&2
}
die() {
    echo "claim_wal.sh: error: $*" >&2
    exit 1
}
# shellcheck source=bench/server.sh
. "$ROOT/bench/server.sh"

psql <<'EOF'
create table done (id bigint not null, body bytea not null);
create table q (id bigserial primary key, payload jsonb not null);
create table cnt (slot int primary key, acked bigint not null default 0)
    with (fillfactor = 50);
insert into cnt values (1, 0);
-- txq's row (one column more: claimed_until) and its indexes, one table.
create table m (
    id bigint generated always as identity, queue_id int not null,
    priority smallint not null default 0, visible_at timestamptz not null,
    attempts int not null default 0, enqueued_at timestamptz not null,
    expires_at timestamptz, group_key text, dedup_id text,
    correlation_id text, reply_to text, last_error text,
    claimed_at timestamptz, claimed_by int, claimed_until timestamptz,
    headers jsonb not null default '{}', body bytea, body_id bigint,
    part smallint not null default 0,
    primary key (id, part)) with (fillfactor = 85);
create index m_ready on m (queue_id, priority desc, visible_at, id);
create index m_group on m (queue_id, group_key, id)
    where group_key is not null;
create index m_exp on m (queue_id, expires_at) where expires_at is not null;
create table claims (msg_id bigint not null, attempt int not null,
    until timestamptz not null, by int);
create index claims_msg on claims (msg_id);
EOF

P='{"type":"order.created","order_id":12345,"customer":"acme","amount":99.95,"currency":"EUR","items":3}'
load() {
    psql -c 'truncate m, q, done, claims' -c 'update cnt set acked = 0' \
        -c 'vacuum full cnt' >/dev/null
    psql -c "insert into m (queue_id, visible_at, enqueued_at, body)
             select 1, now() - interval '1 hour', now(),
                    convert_to('$P', 'UTF8') from generate_series(1, $N)" \
        -c "insert into q (payload)
            select '$P'::jsonb from generate_series(1, $N)" >/dev/null
    psql -c 'vacuum analyze m' -c 'vacuum analyze q' -c checkpoint >/dev/null
}
measure() { # label, DO block
    local a b
    load
    a=$(sql 'select pg_current_wal_insert_lsn()')
    psql -c "$2" >/dev/null
    b=$(sql 'select pg_current_wal_insert_lsn()')
    [[ $(sql 'select count(distinct id) from done') -eq $N ]] ||
        die "$1: not every message was handled once"
    printf '%-26s %5d B/msg\n' "$1" \
        "$(sql "select round(pg_wal_lsn_diff('$b', '$a') / $N)")"
}

measure ideal "do \$\$ begin for i in 1 .. $N loop
    with d as (delete from q where id = (select id from q order by id
               for update skip locked limit 1) returning id, payload)
    insert into done select id, convert_to(payload::text, 'UTF8') from d;
    commit; end loop; end \$\$"

for shape in visible_at claimed_until claimrec; do
    filter=
    case $shape in
    visible_at)
        claim="update m set attempts = attempts + 1,
               visible_at = now() + interval '30 s', claimed_at = now(),
               claimed_by = 1 where id = c;" ;;
    claimed_until)
        claim="update m set attempts = attempts + 1,
               claimed_until = now() + interval '30 s', claimed_at = now(),
               claimed_by = 1 where id = c;"
        filter="and (claimed_until is null or claimed_until <= now())" ;;
    claimrec)
        claim="insert into claims values (c, 1, now() + interval '30 s', 1);" ;;
    esac
    next="select id into c from m where queue_id = 1 and visible_at <= now()
          $filter order by priority desc, visible_at, id
          for update skip locked limit 1;"
    for counted in 1 0; do
        count=
        [[ $counted -eq 1 ]] &&
            count='update cnt set acked = acked + 1 where slot = 1;'
        measure "$shape counter=$counted" "do \$\$
        declare c bigint; b bytea;
        begin
            $next $claim commit;
            for i in 1 .. $N loop
                select body into b from m where id = c;
                insert into done values (c, b);
                delete from m where id = c;
                $count
                if i < $N then $next $claim end if;
                commit;
            end loop;
        end \$\$"
    done
done
