#!/usr/bin/env bash
# bench/w7.sh - W7: the queue under a held snapshot, txq next to the ideal
# and PgQ.
#
#   bench/w7.sh [--hold-minutes N] [--rate R] [--after-minutes N]
#               [--burst N] [--pgq-rotation-seconds N] [--only txq|ideal|pgq]
#
# For each system (txq, then the ideal SKIP LOCKED queue, then PgQ), on its
# own freshly emptied tables:
#   1. a producer sends R msgs/s (default 800; pgbench -R, 2 clients, one
#      message per transaction: select txq.send(...) / the ideal's INSERT /
#      select pgq.insert_event('w7', 'order.created', ...)) and a consumer
#      drains with a handler that writes (one INSERT per message into a
#      business table, with the message's send-to-handler latency):
#      txq-worker -n 2 with a sql: handler / pgbench -c 2 calling a plpgsql
#      function that deletes the oldest message SKIP LOCKED and inserts the
#      same row, sleeping 10 ms when the queue is empty / for PgQ, pgbench
#      -c 1 calling a plpgsql function that takes the consumer's next batch
#      (pgq.next_batch), inserts the row for each of its events
#      (pgq.get_batch_events; latency from ev_time, the insert_event
#      transaction's now(), as enqueued_at is for the others) and
#      finish_batch, all in one transaction, sleeping 10 ms when there is no
#      batch. One consumer, not two: in core PgQ every registered consumer
#      gets every event (two would each handle all of them), and a
#      consumer's batches are one serial stream; sharing a consumer's events
#      takes pgq_coop, which Debian does not package. PgQ's batches are its
#      answer to throughput (docs/performance.md: its W3 drain, one consumer).
#      PgQ's ticker is pgqd (Debian's pgqd) on the bench database, checking
#      every 0.1 s (ticker_period; its default is 1 s) with the queue's
#      ticker_max_lag at 100 ms (default 3 s), so a batch closes every
#      ~0.1-0.2 s (or at 500 events, ticker_max_count); its maintenance
#      (maint_period 10 s) rotates the queue's 3 event tables, truncating
#      the oldest, every --pgq-rotation-seconds (default 30, txq's
#      rotate_after; PgQ's own default is 2 hours, which a run of minutes
#      would never reach) once the consumer has passed the last rotation,
#      and vacuums PgQ's tables;
#   2. after 30 s, the drain capacity without a snapshot: a burst of N
#      messages (default 20,000) sent at once on top of the stream, and the
#      rate at which the consumer handles messages until the backlog is back
#      under R/10 (at most 180 s);
#   3. another session opens BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT
#      txid_current(); and stays idle in that transaction for the hold
#      (default 10 minutes), as pg_dump, a report or a forgotten session do;
#   4. a minute before the end of the hold, still holding it, the drain
#      capacity again; the hold ends when that measurement does;
#   5. the snapshot is released and the stream goes on (default 3 minutes):
#      how long until the queue's storage is back to its size before the
#      hold (within 20% of the largest sample of the minute before it).
# Every 10 s one row: sent, handled, backlog, p50/p99/max latency of what
# was handled in those 10 s, the queue's storage (txq and PgQ: every table
# of the schema txq / pgq, indexes included (PgQ: its event tables, ticks,
# subscriptions); ideal: its table; not the business table, the same for
# all), the dead tuples of those tables (PgQ's event tables are insert-only
# and truncated, so its dead tuples are in pgq.tick and pgq.subscription).
# Raw rows: bench/out/w7.tsv; summary: bench/out/w7.txt.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${TXQ_BUILD_DIR:-$ROOT/build}
TOOL=$BUILD/txq-bench
WORKER=${TXQ_WORKER:-$BUILD/txq-worker}
OUT=$ROOT/bench/out
PAYLOAD='{"type":"order.created","order_id":123456,"customer_id":"c-000042","amount_cents":4999,"currency":"EUR"}'

hold=10 rate=800 after=3 burst=20000 rotation=30 only=
while [[ $# -gt 0 ]]; do
    case $1 in
    --hold-minutes | --rate | --after-minutes | --burst | --pgq-rotation-seconds)
        [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || {
            echo "w7.sh: $1 needs a positive number" >&2
            exit 2
        }
        case $1 in
        --hold-minutes) hold=$2 ;;
        --rate) rate=$2 ;;
        --after-minutes) after=$2 ;;
        --burst) burst=$2 ;;
        --pgq-rotation-seconds) rotation=$2 ;;
        esac
        shift
        ;;
    --only)
        [[ ${2:-} =~ ^(txq|ideal|pgq)$ ]] || {
            echo "w7.sh: --only needs txq, ideal or pgq" >&2
            exit 2
        }
        only=$2
        shift
        ;;
    *)
        sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'
        exit 2
        ;;
    esac
    shift
done

say() {
    printf '==> %s\n' "$*" >&2
}

die() {
    echo "w7.sh: error: $*" >&2
    exit 1
}

[[ -x $TOOL ]] || die "$TOOL not built (./run build, or ./run bench)"
[[ -x $WORKER ]] || die "$WORKER not built (./run build, or ./run bench)"
PGQD=${W7_PGQD:-pgqd}
if [[ -z $only || $only == pgq ]]; then
    command -v "$PGQD" >/dev/null ||
        die "pgqd not found (apt-get install pgqd postgresql-15-pgq3)"
fi
# shellcheck source=bench/server.sh
. "$ROOT/bench/server.sh"
# pgqd, when it runs, is stopped before the server (it would retry forever).
PGQD_PID=
stop_pgqd() {
    if [[ -n $PGQD_PID ]]; then
        kill -INT "$PGQD_PID" 2>/dev/null || true
        wait "$PGQD_PID" 2>/dev/null || true
        PGQD_PID=
    fi
}
trap 'stop_pgqd; stop_server' EXIT
if [[ -z $only || $only == pgq ]]; then
    [[ $(sql "select count(*) from pg_available_extensions
               where name = 'pgq'") == 1 ]] ||
        die "the pgq extension is not installed (apt-get install postgresql-15-pgq3)"
fi
"$TOOL" setup || die "txq-bench setup (txq_migrate) failed"
mkdir -p "$OUT/log"
S=$SCRATCH/sql
mkdir -p "$S"

psql <<EOF
create table q7 (id bigserial primary key, payload jsonb not null,
                 enqueued_at timestamptz not null default now());
-- The business table both handlers write: one row per message handled.
create table w7_done (n bigint generated always as identity primary key,
                      id bigint not null, ms float8 not null,
                      t timestamptz not null);
create function w7_handle(m txq.message) returns void language sql as
    'insert into w7_done (id, ms, t) values (m.id,
        extract(epoch from clock_timestamp() - m.enqueued_at) * 1000,
        clock_timestamp())';
create function w7_ideal_consume() returns int language plpgsql as \$\$
declare
    r record;
begin
    delete from q7 where id = (select id from q7 order by id
                                  for update skip locked limit 1)
    returning id, enqueued_at into r;
    if not found then
        return 0;
    end if;
    insert into w7_done (id, ms, t) values (r.id,
        extract(epoch from clock_timestamp() - r.enqueued_at) * 1000,
        clock_timestamp());
    return 1;
end
\$\$;
EOF
printf "select txq.send('bench', '%s'::bytea);\n" "$PAYLOAD" >"$S/txq_send.sql"
printf "select pgq.insert_event('w7', 'order.created', '%s');\n" "$PAYLOAD" \
    >"$S/pgq_send.sql"
printf "insert into q7 (payload) values ('%s');\n" "$PAYLOAD" >"$S/ideal_send.sql"
cat >"$S/ideal_consume.sql" <<'EOF'
select w7_ideal_consume() as n \gset
\if :n = 0
\sleep 10 ms
\endif
EOF
sed 's/w7_ideal_consume/w7_pgq_consume/' "$S/ideal_consume.sql" \
    >"$S/pgq_consume.sql"

# PgQ: the extension, the queue w7 and its one consumer, and the consumer's
# loop body (one batch per transaction: the business rows and finish_batch
# commit together).
pgq_setup() {
    psql -o /dev/null <<EOF
create extension pgq;
select pgq.create_queue('w7');
select pgq.set_queue_config('w7', 'ticker_max_lag', '100 milliseconds');
select pgq.set_queue_config('w7', 'rotation_period', '$rotation seconds');
select pgq.register_consumer('w7', 'w7_consumer');
create function w7_pgq_consume() returns int language plpgsql as \$\$
declare
    bid bigint;
    ev record;
begin
    bid := pgq.next_batch('w7', 'w7_consumer');
    if bid is null then
        return 0;
    end if;
    for ev in select ev_id, ev_time from pgq.get_batch_events(bid) loop
        insert into w7_done (id, ms, t) values (ev.ev_id,
            extract(epoch from clock_timestamp() - ev.ev_time) * 1000,
            clock_timestamp());
    end loop;
    perform pgq.finish_batch(bid);
    return 1;
end
\$\$;
EOF
    PGQ_SEQ=$(sql "select queue_event_seq from pgq.queue
                    where queue_name = 'w7'")
    cat >"$SCRATCH/pgqd.ini" <<EOF
[pgqd]
logfile = $OUT/log/w7_pgqd.log
pidfile = $SCRATCH/pgqd.pid
base_connstr = host=$PGHOST port=$PGPORT user=$PGUSER
initial_database = $PGDATABASE
database_list = $PGDATABASE
ticker_period = 0.1
maint_period = 10
EOF
}
if [[ -z $only || $only == pgq ]]; then
    pgq_setup
fi

TSV=$OUT/w7.tsv
TXT=$OUT/w7.txt
printf 'system\tsec\tphase\tsent\thandled\tbacklog\tp50_ms\tp99_ms\tmax_ms\tstorage_B\tdead\tload1\n' >"$TSV"
: >"$TXT"

# Per system: what is sent, how big the queue's storage is, its dead tuples.
sent_sql() {
    case $SYS in
    txq) echo "(select last_value from txq.messages_id_seq) - $SEQ0" ;;
    ideal) echo "(select last_value from q7_id_seq) - $SEQ0" ;;
    pgq) echo "(select case when is_called then last_value else 0 end
                  from $PGQ_SEQ)" ;;
    esac
}
storage_sql() {
    case $SYS in
    txq) echo "(select sum(pg_total_relation_size(c.oid))::bigint
                  from pg_class c join pg_namespace n on n.oid = c.relnamespace
                 where n.nspname = 'txq' and c.relkind in ('r', 'p'))" ;;
    ideal) echo "pg_total_relation_size('q7')" ;;
    pgq) echo "(select sum(pg_total_relation_size(c.oid))::bigint
                  from pg_class c join pg_namespace n on n.oid = c.relnamespace
                 where n.nspname = 'pgq' and c.relkind in ('r', 'p'))" ;;
    esac
}
dead_sql() {
    case $SYS in
    txq) echo "(select sum(n_dead_tup) from pg_stat_user_tables
                 where schemaname = 'txq')" ;;
    ideal) echo "(select n_dead_tup from pg_stat_user_tables
                  where relid = 'q7'::regclass)" ;;
    pgq) echo "(select sum(n_dead_tup) from pg_stat_user_tables
                 where schemaname = 'pgq')" ;;
    esac
}
handled() {
    sql "select coalesce((select last_value from w7_done_n_seq
                           where is_called), 0)"
}
backlog() {
    sql "select $(sent_sql) - coalesce((select last_value from w7_done_n_seq
                                          where is_called), 0)"
}

# One sample row: everything handled since the last sample.
PREV_N=0
sample() { # PHASE
    local line now
    now=$(($(date +%s) - T0))
    line=$(psql -At -F $'\t' -c "select $(sent_sql),
        coalesce((select last_value from w7_done_n_seq where is_called), 0),
        $(sent_sql) - coalesce((select last_value from w7_done_n_seq
                                 where is_called), 0),
        round(percentile_cont(0.5) within group (order by ms)::numeric, 1),
        round(percentile_cont(0.99) within group (order by ms)::numeric, 1),
        round(max(ms)::numeric, 1), $(storage_sql), $(dead_sql)
        from w7_done where n > $PREV_N")
    printf '%s\t%s\t%s\t%s\t%s\n' "$SYS" "$now" "$1" "$line" \
        "$(cut -d' ' -f1 /proc/loadavg)" >>"$TSV"
    PREV_N=$(cut -f2 <<<"$line")
    printf '  %-5s %4ss %-7s %s\n' "$SYS" "$now" "$1" "$line" >&2
}

# Sample every 10 s for SECONDS seconds.
sample_for() { # PHASE SECONDS
    local end=$(($(date +%s) + $2)) next
    while (($(date +%s) < end)); do
        next=$(($(date +%s) + 10))
        while (($(date +%s) < next)); do sleep 1; done
        sample "$1"
    done
}

# Drain capacity: a burst on top of the stream; msgs/s handled until the
# backlog is back under rate/10 (or 180 s passed).
capacity() { # LABEL
    local h0 t0 t1 h1 left
    case $SYS in
    txq) psql -c "select count(*) from txq.send_batch('bench',
                  array_fill('$PAYLOAD'::bytea, array[$burst]))" >/dev/null ;;
    ideal) psql -c "insert into q7 (payload) select '$PAYLOAD'
                    from generate_series(1, $burst)" ;;
    pgq) psql -c "select count(pgq.insert_event('w7', 'order.created',
                  '$PAYLOAD')) from generate_series(1, $burst)" >/dev/null ;;
    esac
    h0=$(handled)
    t0=$(date +%s%N)
    while :; do
        sleep 0.25
        left=$(backlog)
        t1=$(date +%s%N)
        ((left > rate / 10)) || break
        (((t1 - t0) / 1000000000 < 180)) || break
    done
    h1=$(handled)
    CAP=$(awk -v n=$((h1 - h0)) -v d=$((t1 - t0)) 'BEGIN { printf "%.0f", n * 1e9 / d }')
    printf '%s\t%s\t%s\t%s\n' "$SYS" "$1" "$CAP" "$left" >>"$OUT/w7_capacity.tsv"
    say "$SYS $1: drain capacity $CAP msgs/s (backlog left $left)"
}

run_system() {
    local total pp cp hp size0 size t_rel back cap0 cap1 i
    SYS=$1
    psql -c 'truncate q7, w7_done restart identity' \
        -c 'truncate txq.messages, txq.bodies, txq.queue_counters' \
        -c 'vacuum analyze q7, w7_done, txq.messages, txq.queue_counters'
    psql -c checkpoint
    case $SYS in
    txq) SEQ0=$(sql "select last_value from txq.messages_id_seq") ;;
    ideal) SEQ0=$(sql "select last_value from q7_id_seq") ;;
    pgq) SEQ0=0 ;; # the queue (and its event sequence) is new
    esac
    PREV_N=0
    T0=$(date +%s)
    total=$((60 * (hold + after) + 600))
    case $SYS in
    txq)
        "$WORKER" -H bench=sql:public.w7_handle -n 2 --log-level warn \
            2>"$OUT/log/w7_worker.log" &
        cp=$!
        ;;
    ideal)
        "$PGBIN/pgbench" -n -c 2 -j 2 -T "$total" -f "$S/ideal_consume.sql" \
            bench >"$OUT/log/w7_${SYS}_consume.log" 2>&1 &
        cp=$!
        ;;
    pgq)
        # (-q: no console; libevent's own warnings go to the log too)
        "$PGQD" -q "$SCRATCH/pgqd.ini" 2>>"$OUT/log/w7_pgqd.log" &
        PGQD_PID=$!
        "$PGBIN/pgbench" -n -c 1 -j 1 -T "$total" -f "$S/pgq_consume.sql" \
            bench >"$OUT/log/w7_${SYS}_consume.log" 2>&1 &
        cp=$!
        ;;
    esac
    # The producer, the same for each: its statement is the system's.
    "$PGBIN/pgbench" -n -c 2 -j 2 -R "$rate" -T "$total" \
        -f "$S/${SYS}_send.sql" bench >"$OUT/log/w7_${SYS}_send.log" 2>&1 &
    pp=$!
    sample_for warmup 30
    capacity no_snapshot
    cap0=$CAP
    # The size before the hold: the largest sample of a minute of the
    # stream, which covers two rotations (txq's storage swings with them:
    # a partition is emptied every rotate_after, 30 s by default).
    sample_for settle 60
    size0=$(awk -F'\t' -v s="$SYS" '$1 == s && $3 == "settle" &&
        $10 + 0 > m { m = $10 + 0 } END { printf "%d", m }' "$TSV")
    say "$SYS: holding a snapshot for $hold min (storage now $size0 B)"
    rm -f "$SCRATCH/release"
    { echo 'begin isolation level repeatable read;'
      echo 'select txid_current();'
      while [[ ! -f $SCRATCH/release ]]; do sleep 0.2; done
      echo 'commit;'; } | psql -o /dev/null &
    hp=$!
    sample_for hold $((hold * 60 - 60))
    capacity held_snapshot
    cap1=$CAP
    touch "$SCRATCH/release"
    wait "$hp"
    t_rel=$(date +%s)
    say "$SYS: snapshot released"
    back=
    for ((i = 0; i < after * 6; i++)); do
        sample after
        size=$(sql "select $(storage_sql)")
        if [[ -z $back ]] && ((size * 10 <= size0 * 12)); then
            back=$(($(date +%s) - t_rel))
        fi
        sleep 9
    done
    kill -TERM "$pp" "$cp" 2>/dev/null || true
    wait "$pp" "$cp" 2>/dev/null || true
    stop_pgqd
    awk -F'\t' -v sys="$SYS" -v c0="$cap0" -v c1="$cap1" -v s0="$size0" \
        -v back="${back:-never}" -v after="$after" '
        $1 == sys && $3 == "hold" { n++; if ($6 > maxb) maxb = $6
            if ($8 + 0 > maxp) maxp = $8 + 0; if ($10 > maxs) maxs = $10
            if ($11 > maxd) maxd = $11 }
        $1 == sys && $3 == "after" { last = $10 }
        END {
            printf "%s: capacity %s msgs/s without a snapshot, %s at the end of the hold: %.2f\n",
                sys, c0, c1, c1 / c0
            printf "%s: during the hold: max backlog %d, max p99 %.1f ms (per 10 s), max storage %.0f kB (%.1fx the %.0f kB before), max dead tuples %d\n",
                sys, maxb, maxp, maxs / 1024, maxs / s0, s0 / 1024, maxd
            printf "%s: storage back within 20%% of its pre-hold size (the largest of the minute before) %s s after the release (last sample %.0f kB, %d min after)\n",
                sys, back, last / 1024, after
        }' "$TSV" | tee -a "$TXT"
}

printf 'system\tphase\tmsgs_per_s\tbacklog_left\n' >"$OUT/w7_capacity.tsv"
say "W7: $rate msgs/s, hold $hold min, burst $burst, then $after min"
for sys in txq ideal pgq; do
    [[ -z $only || $only == "$sys" ]] || continue
    run_system "$sys"
done
echo "raw rows: $TSV; summary: $TXT"
