#!/usr/bin/env bash
# bench/run.sh - txq's throughput benchmark, each figure next to the ideal.
#
#   bench/run.sh [--quick] [--runs N] [--only L] [--diag] [--w6]
#   bench/run.sh --w5 [--w5-minutes N] [--w5-rate R] [--w5-hold M]
#   bench/run.sh --w7 [W7 OPTIONS]
#   bench/run.sh --w8 [W8 OPTIONS]
#   bench/run.sh --ha [HA OPTIONS]
#   bench/run.sh --sqs [SQS OPTIONS]
#
#   --quick   1 run of 2,000 messages per workload (a smoke test, seconds)
#   --runs N  runs per workload (default 5; W2 and W3b, which last under a
#             second, 3 pairs per run); the table shows medians
#   --only L  only these workloads, e.g. --only W1,W1n (of W1, W1n, W2,
#             W3, W3w, W3b, W4; and W1e, W3e, encrypted queues, which run
#             only when named)
#   --diag    also run more SQL-level variants (pgbench) that split txq's cost
#             into plpgsql, table shape, counter update and round trips
#   --w6      also W6: txq-worker's peak RSS (VmHWM of the supervisor and
#             of each child) draining a 10,000 and a 1,000,000 backlog
#             for 20 s each (bench/out/w6.tsv)
#   --w5      only W5, the sustained run: txq-worker (no-op sql: handler
#             that records its latency, concurrency 4) and a rate-limited
#             producer (pgbench -R, 4 clients, txq.send, 1 message per
#             transaction) at 70% of the worker's peak (measured first: 15 s
#             of draining a backlog) for N minutes (--w5-minutes, default
#             10), sampled every 10 s (bench/out/w5.tsv); --w5-rate R skips
#             the peak measurement and sends R msgs/s; --w5-hold M holds
#             a snapshot (REPEATABLE READ, idle in transaction) for the
#             middle M minutes of the run
#   --w7      only W7, the queue under a held snapshot: bench/w7.sh with the
#             options that follow (bench/w7.sh --help)
#   --w8      only W8, publish to ten queues against one send: bench/w8.sh
#             with the options that follow (bench/w8.sh --help)
#   --ha      only W1 against a primary alone, with an asynchronous and
#             with a synchronous standby: bench/ha.sh with the options that
#             follow (bench/ha.sh --help)
#   --sqs     only the SQS endpoint against libtxq's direct calls:
#             bench/sqs.sh with the options that follow (bench/sqs.sh --help)
#
# Starts a private PostgreSQL 15 (defaults, durable; unix socket only) in a
# /tmp scratch directory, installs the txq schema with txq_migrate (through
# build/txq-bench setup) and the ideal SKIP LOCKED table, then for each run
# measures every workload, ideal first, with a CHECKPOINT before each
# measurement. Raw rows: bench/out/results.tsv; pgbench logs: bench/out/log/.
# `./run bench` builds everything first and calls this script.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${TXQ_BUILD_DIR:-$ROOT/build}
TOOL=$BUILD/txq-bench
WORKER=${TXQ_WORKER:-$BUILD/txq-worker}
OUT=$ROOT/bench/out
RESULTS=$OUT/results.tsv
PAYLOAD='{"type":"order.created","order_id":123456,"customer_id":"c-000042","amount_cents":4999,"currency":"EUR"}'
CLIENTS=4

if [[ ${1:-} == --w7 ]]; then
    shift
    exec bash "$ROOT/bench/w7.sh" "$@"
fi
if [[ ${1:-} == --w8 ]]; then
    shift
    exec bash "$ROOT/bench/w8.sh" "$@"
fi
if [[ ${1:-} == --ha ]]; then
    shift
    exec bash "$ROOT/bench/ha.sh" "$@"
fi
if [[ ${1:-} == --sqs ]]; then
    shift
    exec bash "$ROOT/bench/sqs.sh" "$@"
fi

runs=5 quick=0 diag=0 w6=0 w5=0 w5_minutes=10 w5_rate= w5_hold=0 only=
while [[ $# -gt 0 ]]; do
    case $1 in
    --quick) quick=1 runs=1 ;;
    --runs)
        [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || {
            echo "run.sh: --runs needs a positive number" >&2
            exit 2
        }
        runs=$2
        shift
        ;;
    --diag) diag=1 ;;
    --only)
        [[ ${2:-} =~ ^(W1|W1n|W2|W3|W3w|W3b|W4|W1e|W3e)(,(W1|W1n|W2|W3|W3w|W3b|W4|W1e|W3e))*$ ]] || {
            echo "run.sh: --only needs workloads from W1,W1n,W2,W3,W3w,W3b,W4,W1e,W3e" \
                "joined by commas (got \"${2:-}\")" >&2
            exit 2
        }
        only=$2
        shift
        ;;
    --w6) w6=1 ;;
    --w5) w5=1 ;;
    --w5-minutes | --w5-rate | --w5-hold)
        [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || {
            echo "run.sh: $1 needs a positive number" >&2
            exit 2
        }
        case $1 in
        --w5-minutes) w5_minutes=$2 ;;
        --w5-rate) w5_rate=$2 ;;
        *) w5_hold=$2 ;;
        esac
        shift
        ;;
    *)
        sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'
        exit 2
        ;;
    esac
    shift
done
if [[ $quick -eq 1 ]]; then
    N=2000 SETTLE=0.5 SHORT=1
else
    N=100000 SETTLE=2 SHORT=3
fi

# Whether workload $1 is to run (--only).
want() {
    [[ -z $only || ",$only," == *",$1,"* ]]
}

say() {
    printf '==> %s\n' "$*" >&2
}

die() {
    echo "run.sh: error: $*" >&2
    exit 1
}

# ------------------------------------------------------------- server --
[[ -x $TOOL ]] || die "$TOOL not built (./run build, or ./run bench)"
[[ -x $WORKER ]] || die "$WORKER not built (./run build, or ./run bench)"
SO_HANDLER=$BUILD/bench/txq_bench_handler.so
[[ -f $SO_HANDLER ]] || die "$SO_HANDLER not built (./run bench)"
# shellcheck source=bench/server.sh
. "$ROOT/bench/server.sh"
"$TOOL" setup || die "txq-bench setup (txq_migrate) failed"
# W1e, W3e: an encrypted queue and its key file.
KEYS=$SCRATCH/bench.keys
printf 'b1 %s\n' "$(head -c 32 /dev/urandom | base64)" >"$KEYS"
chmod 600 "$KEYS"
psql -c "select txq.create_queue('bench_enc', i_encrypt => true)" >/dev/null
psql -c 'create table q (id bigserial primary key, payload jsonb not null)'
# txq-worker handlers: W3's no-op, W4's wake-up clock.
psql <<'EOF'
create function bench_noop(m txq.message) returns void
    language plpgsql as 'begin end';
create table bench_lat (id bigint, t timestamptz);
create table bench_sent (id bigint, t float8);
create function bench_lat(m txq.message) returns void language sql
    as 'insert into bench_lat values (m.id, clock_timestamp())';
create table bench_w5 (t timestamptz not null, ms float8 not null);
-- W3w: the business write of a handler, and of the ideal's consume
-- statement (plpgsql: its INSERT's plan is cached, as a handler's should be).
create table w3w_done (id bigint not null, body bytea not null);
create function bench_write(m txq.message) returns void language plpgsql
    as 'begin insert into public.w3w_done (id, body) values (m.id, m.body); end';
create function bench_w5(m txq.message) returns void language sql
    as 'insert into bench_w5 select clock_timestamp(),
        extract(epoch from clock_timestamp() - m.enqueued_at) * 1000';
EOF
# The application's role, as production runs txq: not the schema's owner
# (whose every grant check is one membership test) but a member of the
# roles an existing deployment grants, checked against txq.grants. The
# variants named *_app act as it (AS=bench_app: pgbench logs in as it,
# txq-bench's connections SET ROLE to it and its worker logs in as it).
psql -c "do \$\$ begin if not exists (select from pg_roles
         where rolname = 'bench_app') then create role bench_app login;
         end if; end \$\$"
psql -c 'grant txq_producer, txq_consumer, txq_operator to bench_app'
QID=$(sql "select queue_id from txq.queues where name = 'bench'")

# --------------------------------------------------------- scripts --
# pgbench scripts, written for this run. Ideal: the hand-written SKIP LOCKED
# queue; txq-sql: the same SQL functions the library calls; raw-*: txq's
# table without the plpgsql functions.
S=$SCRATCH/sql
mkdir -p "$S" "$OUT/log"
rows() { # N SQL-ROW: "ROW,ROW,...", N times
    local i out=$2
    for ((i = 1; i < $1; i++)); do out+=",$2"; done
    printf '%s' "$out"
}
P="'$PAYLOAD'"
READY="queue_id = $QID and visible_at <= now()
 order by priority desc, visible_at, id"
CLAIM="with c as (select id from txq.messages where $READY limit 1
 for update skip locked) update txq.messages m set attempts = m.attempts + 1,
 visible_at = now() + '30 s', claimed_at = now(), claimed_by = pg_backend_pid()
 from c where m.id = c.id returning m.id"
COUNTER="insert into txq.queue_counters (queue_id, slot, acked)
 values ($QID, pg_backend_pid(), 1) on conflict (queue_id, slot)
 do update set acked = txq.queue_counters.acked + 1;"
oneline() { # pgbench reads one statement per line
    tr '\n' ' ' <<<"$1"
    echo
}
printf 'insert into q (payload) values (%s);\n' "$P" >"$S/enq1.sql"
printf 'insert into q (payload) values %s;\n' "$(rows 100 "($P)")" >"$S/enq100.sql"
oneline 'delete from q where id = (select id from q order by id
 for update skip locked limit 1) returning *;' >"$S/deq1.sql"
oneline 'delete from q where id = any(array(select id from q order by id
 for update skip locked limit 100)) returning *;' >"$S/deq100.sql"
{
    echo 'begin;'
    echo 'select id from q order by id for update skip locked limit 1 \gset'
    echo 'delete from q where id = :id returning *;'
    echo 'commit;'
} >"$S/deq1_4rt.sql"
printf "select txq.send('bench', %s::bytea);\n" "$P" >"$S/sql_send1.sql"
printf "select count(*) from txq.send_batch('bench', array_fill(%s::bytea, array[100]));\n" \
    "$P" >"$S/sql_send100.sql"
echo "select * from txq.pop('bench', 100);" >"$S/sql_pop100.sql"
# W3w: the ideal's dequeue and the handler's INSERT in one statement.
printf '%s\n' "with d as (delete from q where id = (select id from q order by id\
 for update skip locked limit 1) returning id, payload)\
 insert into public.w3w_done (id, body)\
 select id, convert_to(payload::text, 'UTF8') from d;" >"$S/deq1_write.sql"
printf 'insert into txq.messages (queue_id, visible_at, enqueued_at, body) values (%s);\n' \
    "$QID, now(), now(), $P::bytea" >"$S/raw_insert1.sql"
printf 'insert into txq.messages (queue_id, visible_at, enqueued_at, body) values %s;\n' \
    "$(rows 100 "($QID, now(), now(), $P::bytea)")" >"$S/raw_insert100.sql"
{
    echo 'begin;'
    echo "select id, attempts from txq.receive('bench', 1) \\gset"
    echo 'select txq.ack(array[:id]::bigint[], array[:attempts]::int[]);'
    echo 'commit;'
} >"$S/sql_recv1.sql"
{
    echo "select id, attempts from txq.receive('bench', 1) \\gset"
    echo 'begin;'
    echo 'select txq.ack(array[:id]::bigint[], array[:attempts]::int[]);'
    echo 'commit;'
} >"$S/sql_claim1.sql"
{
    echo 'begin;'
    oneline "$CLAIM \\gset"
    echo 'delete from txq.messages where id = :id;'
    echo 'commit;'
} >"$S/raw_claim_delete.sql"
{
    echo 'begin;'
    oneline "$CLAIM \\gset"
    echo 'delete from txq.messages where id = :id;'
    oneline "$COUNTER"
    echo 'commit;'
} >"$S/raw_claim_delete_counter.sql"
{
    oneline "$CLAIM \\gset"
    echo 'begin;'
    echo 'delete from txq.messages where id = :id;'
    echo 'commit;'
} >"$S/raw_claim_then_delete.sql"
oneline "delete from txq.messages where id = (select id from txq.messages
 where $READY for update skip locked limit 1) returning *;" >"$S/raw_delete1.sql"
oneline "delete from txq.messages where id = any(array(select id
 from txq.messages where $READY for update skip locked limit 100))
 returning *;" >"$S/raw_delete100.sql"
{
    echo 'begin;'
    oneline "select string_agg(id::text, ',') as ids,
 string_agg(attempts::text, ',') as atts from txq.receive('bench', 100) \\gset"
    echo 'select txq.ack(array[:ids]::bigint[], array[:atts]::int[]);'
    echo 'commit;'
} >"$S/sql_recv100.sql"

# ------------------------------------------------------- measuring --
printf 'run\tworkload\tsystem\tvariant\tref\tclients\tmsgs\tseconds\tmsgs_per_s\twal_B_per_msg\tload1\n' \
    >"$RESULTS"
RUN=0

# Empty both queues; preload N messages into one of them (ideal|txq).
reset() {
    psql -c 'truncate q, w3w_done; truncate txq.messages, txq.bodies'
    case ${1:-} in
    ideal)
        psql -c "insert into q (payload) select '$PAYLOAD'::jsonb
                 from generate_series(1, $N)"
        psql -c 'vacuum analyze q'
        ;;
    txq)
        psql -c "select count(*) from txq.send_batch('bench',
                 array_fill('$PAYLOAD'::bytea, array[$N]))" >/dev/null
        psql -c 'vacuum analyze txq.messages'
        ;;
    esac
}

quiesce() {
    psql -c checkpoint
    sleep "$SETTLE"
}

# record WORKLOAD SYSTEM VARIANT REF SECONDS MSGS_PER_S LSN0
# load1: the machine's 1-minute load average after the measurement (other
# work on the box shows up there; this benchmark alone keeps it near 2).
record() {
    local wal load
    wal=$(sql "select round(pg_wal_lsn_diff(pg_current_wal_lsn(), '$7') / $N)")
    load=$(cut -d' ' -f1 /proc/loadavg)
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$RUN" "$1" "$2" \
        "$3" "${4:--}" "$CLIENTS" "$N" "$5" "$6" "$wal" "$load" >>"$RESULTS"
    printf '  %-4s %-5s %-20s %9s msgs/s %7s s %5s B/msg  load %s\n' "$1" \
        "$2" "$3" "$6" "$5" "$wal" "$load" >&2
}

# pgb WORKLOAD SYSTEM VARIANT REF MSGS_PER_TX SCRIPT [drain: N must be left 0]
pgb() {
    local wl=$1 sys=$2 var=$3 ref=$4 per=$5 script=$6 lsn log tps mps
    local tx=$((N / per / CLIENTS))
    log=$OUT/log/pgbench_${RUN}_${wl}_${var}.log
    quiesce
    lsn=$(sql 'select pg_current_wal_lsn()')
    PGUSER=${AS:-$PGUSER} "$PGBIN/pgbench" -n -c "$CLIENTS" -j 2 -t "$tx" \
        -f "$S/$script" bench \
        >"$log" 2>&1 || die "pgbench $var failed: $(tail -3 "$log")"
    tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$log" | tail -1)
    mps=$(awk -v t="$tps" -v p="$per" 'BEGIN { printf "%.0f", t * p }')
    record "$wl" "$sys" "$var" "$ref" \
        "$(awk -v n="$N" -v r="$mps" 'BEGIN { printf "%.3f", n / r }')" "$mps" "$lsn"
}

# W3 worker: txq-worker (its sql: handler a no-op unless HANDLER is given,
# concurrency CLIENTS) drains the preloaded queue; txq-bench starts it and
# stops it when all are acked.
worker_drain() { # WORKLOAD VARIANT REF [HANDLER]
    local lsn line
    quiesce
    lsn=$(sql 'select pg_current_wal_lsn()')
    line=$(TXQ_BENCH_ROLE=${AS:-} "$TOOL" worker "$N" -- "$WORKER" \
        -H "bench=${4:-sql:public.bench_noop}" -n "$CLIENTS" \
        --log-level warn) || die "txq-bench worker failed"
    [[ $line =~ seconds=([0-9.]+)\ msgs_per_s=([0-9]+) ]] ||
        die "txq-bench worker: unexpected output: $line"
    record "$1" txq "$2" "$3" "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}" "$lsn"
}

# After a W3w drain: the handler wrote one row per message, no more.
written() {
    local n
    n=$(sql "select count(distinct id) || ' ' || count(*) from w3w_done")
    [[ $n == "$N $N" ]] || die "w3w_done holds $n rows (distinct, all), not $N"
}

# W4: wake-up latency through txq-worker (concurrency 1), 1 message every
# 10 ms; its rows carry milliseconds in the msgs_per_s column.
latency() { # VARIANT [WORKER FLAGS...]
    local var=$1 line n=$((quick ? 200 : 1000)) load
    shift
    reset
    quiesce
    line=$("$TOOL" latency "$n" 10 -- "$WORKER" -H bench=sql:public.bench_lat \
        -n 1 --log-level warn "$@") || die "txq-bench latency failed"
    [[ $line =~ p50_ms=([0-9.]+)\ p99_ms=([0-9.]+) ]] ||
        die "txq-bench latency: unexpected output: $line"
    load=$(cut -d' ' -f1 /proc/loadavg)
    printf '%s\tW4\ttxq\t%s\t-\t1\t%s\t-\t%s\t0\t%s\n' "$RUN" \
        "${var}_p50_ms" "$n" "${BASH_REMATCH[1]}" "$load" >>"$RESULTS"
    printf '%s\tW4\ttxq\t%s\t-\t1\t%s\t-\t%s\t0\t%s\n' "$RUN" \
        "${var}_p99_ms" "$n" "${BASH_REMATCH[2]}" "$load" >>"$RESULTS"
    printf '  W4   txq   %-20s %s  load %s\n' "$var" "$line" "$load" >&2
}

# tool WORKLOAD VARIANT REF COMMAND [FLAG]: the library through txq-bench
tool() {
    local wl=$1 var=$2 ref=$3 cmd=$4 lsn line
    quiesce
    lsn=$(sql 'select pg_current_wal_lsn()')
    line=$(TXQ_BENCH_ROLE=${AS:-} "$TOOL" -c "$CLIENTS" ${5:-} "$cmd" "$N") ||
        die "txq-bench $cmd failed"
    [[ $line =~ seconds=([0-9.]+)\ msgs_per_s=([0-9]+) ]] ||
        die "txq-bench $cmd: unexpected output: $line"
    record "$wl" "${SYS:-txq}" "$var" "$ref" "${BASH_REMATCH[1]}" \
        "${BASH_REMATCH[2]}" "$lsn"
}

left() { # after a pgbench drain: the table must be empty
    local n
    n=$(sql "select (select count(*) from q) + (select count(*) from txq.messages)")
    [[ $n -eq 0 ]] || die "$n messages left after a drain"
}

# W2's and W3b's measurements last under a second each, so one pair
# swings by 0.1-0.4: each run repeats them (ideal and txq in turn) SHORT
# times, each repetition its own pair with run id RUN.k in results.tsv.
repeat_short() { # FUNCTION
    local run=$RUN k
    for ((k = 1; k <= SHORT; k++)); do
        RUN=$run.$k
        "$1"
    done
    RUN=$run
}

w2() {
    reset
    pgb W2 ideal enq100 '' 100 enq100.sql
    reset
    tool W2 send100 enq100 send100
    reset
    pgb W2 sql send100 enq100 100 sql_send100.sql
    reset
    pgb W2 raw insert100 enq100 100 raw_insert100.sql
}

w3b() {
    reset ideal
    pgb W3b ideal deq100 '' 100 deq100.sql
    left
    reset txq
    tool W3b recv100_ack deq100 recv100
    reset txq
    tool W3b claim100_ack deq100 claim100
    # libtxq's pop in the ideal's shape: 2 processes serving 2 connections
    # each (txq_pop_start/finish; COMMIT and the next BEGIN in one round
    # trip), as pgbench -j 2 serves 4 clients from 2 threads; then 4
    # processes blocking on one connection each (txq_pop).
    reset txq
    tool W3b pop100 deq100 pop100 "-j 2"
    reset txq
    tool W3b pop100_blocking deq100 pop100
    reset txq
    pgb W3b sql pop100 deq100 100 sql_pop100.sql
    left
    reset txq
    pgb W3b raw delete100 deq100 100 raw_delete100.sql
    left
}

one_run() {
    if want W1; then
        reset
        pgb W1 ideal enq1 '' 1 enq1.sql
        # libtxq in the ideal's shape: 2 processes serving 2 connections
        # each through txq_send_start/finish, as pgbench -j 2 serves its 4
        # clients from 2 threads; then 4 processes blocking on txq_send.
        reset
        tool W1 send1 enq1 send1 "-j 2"
        # The same as the application's role (grant checks on the path).
        reset
        AS=bench_app tool W1 send1_app enq1 send1 "-j 2"
        reset
        tool W1 send1_blocking enq1 send1
        # The ideal's INSERT through txq-bench's own blocking client (4
        # processes, one connection each): send1_blocking against it
        # compares the SQL alone, the driver being the same.
        reset
        SYS=ideal tool W1 enq1_c '' ideal1
        reset
        tool W1 send1_vs_c enq1_c send1
        # txq's SQL API through the ideal's own driver (pgbench, 2 threads
        # for 4 clients), as pgmq and PgQ were measured.
        reset
        pgb W1 sql send1 enq1 1 sql_send1.sql
        reset
        AS=bench_app pgb W1 sql send1_app enq1 1 sql_send1.sql
        # txq's table itself: the ideal's statement on txq.messages, no
        # txq code (the limit of the table's shape; see the summary).
        reset
        pgb W1 raw insert1 enq1 1 raw_insert1.sql
    fi

    # NOTIFY must not serialise commits: 8 producers, without and with a
    # session waiting on the queue (woken, it waits again at once).
    if want W1n; then
        reset
        CLIENTS=8 tool W1n send1_8p_nowait '' send1
        reset
        CLIENTS=8 tool W1n send1_8p_waiter send1_8p_nowait send1 -w
    fi

    if want W2; then
        repeat_short w2
    fi

    if want W3; then
        reset ideal
        pgb W3 ideal deq1 '' 1 deq1.sql
        left
        reset txq
        tool W3 recv1_ack deq1 recv1
        reset txq
        tool W3 claim1_ack deq1 claim1
        reset txq
        AS=bench_app tool W3 claim1_ack_app deq1 claim1
        reset txq
        tool W3 pop1 deq1 pop1
        reset txq
        worker_drain W3 worker_noop deq1
        reset txq
        AS=bench_app worker_drain W3 worker_noop_app deq1
    fi
    # W3w: the same drains with a handler that writes one row per message,
    # against the ideal doing that INSERT in its consume statement.
    if want W3w; then
        reset ideal
        pgb W3w ideal deq1_write '' 1 deq1_write.sql
        left
        written
        reset txq
        worker_drain W3w worker_sql_write deq1_write sql:public.bench_write
        written
        reset txq
        worker_drain W3w worker_so_write deq1_write \
            "so:$SO_HANDLER:bench_write"
        written
        reset txq
        worker_drain W3w worker_so_pipelined deq1_write \
            "so:$SO_HANDLER:bench_write_pipe"
        written
        reset txq
        worker_drain W3w worker_so_prepared deq1_write \
            "so:$SO_HANDLER:bench_write_prep"
        written
    fi
    if want W3 && [[ $diag -eq 1 ]]; then
        reset ideal
        pgb W3 ideal deq1_4rt deq1 1 deq1_4rt.sql
        left
        reset txq
        pgb W3 sql recv1_ack deq1 1 sql_recv1.sql
        left
        reset txq
        pgb W3 sql claim1_ack deq1 1 sql_claim1.sql
        left
        reset txq
        pgb W3 raw delete1 deq1 1 raw_delete1.sql
        left
        reset txq
        pgb W3 raw claim_delete deq1 1 raw_claim_delete.sql
        left
        reset txq
        pgb W3 raw claim_delete_ctr deq1 1 raw_claim_delete_counter.sql
        left
        reset txq
        pgb W3 raw claim_then_delete deq1 1 raw_claim_then_delete.sql
        left
    fi

    if want W3b; then
        repeat_short w3b
    fi

    if want W4; then
        latency listen
        latency poll_1s --no-listen
    fi
    if want W3b && [[ $diag -eq 1 ]]; then
        reset txq
        pgb W3b sql recv100_ack deq100 100 sql_recv100.sql
        left
    fi

    # Encrypted queues (only when named: --only W1e,W3e): the blocking
    # send and the 100-message receive, plain and sealed, in turn.
    if named W1e; then
        reset
        tool W1e send1_blocking enq1 send1
        reset
        tool W1e send1_blocking_sealed enq1 send1 "-q bench_enc -k $KEYS"
    fi
    if named W3e; then
        repeat_short w3e
    fi
}

# Whether workload $1 was named by --only (the opt-in ones).
named() {
    [[ ",$only," == *",$1,"* ]]
}

# W3e: the drain of 100 per transaction, plain then sealed (the backlog
# sent sealed by txq-bench, untimed).
w3e() {
    reset txq
    tool W3e recv100_ack deq100 recv100
    reset
    "$TOOL" -c "$CLIENTS" -q bench_enc -k "$KEYS" send100 "$N" >/dev/null ||
        die "txq-bench: sealed preload failed"
    psql -c 'vacuum analyze txq.messages'
    tool W3e recv100_ack_sealed deq100 recv100 "-q bench_enc -k $KEYS"
}

# C1 (--diag): server cost per message, apart from the commit flush: one
# session, a plpgsql loop of N/5 iterations committing after each one, with
# synchronous_commit off for that session only. msgs/s here is 1 / (CPU and
# WAL-insert time per message), so shapes that are commit-bound in W1/W3
# still show what each statement costs.
cpu() { # VARIANT REF PRELOAD(ideal|txq|-) DECLARE BODY
    local n=$((N / 5)) lsn t0 t1 mps
    reset "${3#-}"
    quiesce
    lsn=$(sql 'select pg_current_wal_lsn()')
    t0=$(date +%s%N)
    psql -c 'set synchronous_commit = off' -c "do \$\$ declare $4
        begin for i in 1 .. $n loop $5; commit; end loop; end \$\$"
    t1=$(date +%s%N)
    mps=$(awk -v n="$n" -v d=$((t1 - t0)) 'BEGIN { printf "%.0f", n * 1e9 / d }')
    CLIENTS=1 N=$n record C1 cpu "$1" "$2" \
        "$(awk -v d=$((t1 - t0)) 'BEGIN { printf "%.3f", d / 1e9 }')" "$mps" "$lsn"
}

cpu_rows() {
    local ins="insert into q (payload) values ('$PAYLOAD')"
    local claim="${CLAIM//$'\n'/ } into v"
    cpu ideal_insert '' - 'v bigint;' "$ins"
    cpu raw_insert ideal_insert - 'v bigint;' "insert into txq.messages
        (queue_id, visible_at, enqueued_at, body) values ($QID, now(), now(),
        '$PAYLOAD')"
    cpu txq_send ideal_insert - 'v bigint;' \
        "perform txq.send('bench', '$PAYLOAD'::bytea)"
    cpu ideal_delete '' ideal 'r record;' "delete from q where id = (select id
        from q order by id for update skip locked limit 1) returning * into r"
    cpu raw_claim_delete ideal_delete txq 'v bigint;' "$claim;
        delete from txq.messages where id = v"
    cpu raw_claim_delete_ctr ideal_delete txq 'v bigint;' "$claim;
        delete from txq.messages where id = v; ${COUNTER%;}"
    cpu txq_receive_ack ideal_delete txq 'r record;' "select * into r
        from txq.receive('bench', 1); perform txq.ack(array[r.id],
        array[r.attempts])"
}

# W5 (--w5): sustained send and drain at ~70% of their peak together. The
# peak of the pair: the send rate S alone (15 s, unthrottled, 4 clients) and
# the drain rate D alone (15 s, the worker over a 60,000 backlog) share the
# same two cores and WAL, so together they sustain P = 1 / (1/S + 1/D)
# messages per second each way; the run offers 0.7 P.
# The
# worker's handler (bench_w5) records enqueued_at -> handler latency; every
# 10 s one query samples what was handled (rows of bench_w5 up to 1 s ago, so
# no handler transaction is still open on them), what was sent (the identity
# sequence of txq.messages), sizes, live/dead tuples and (auto)vacuum counts.
w5_run() {
    local secs=$((w5_minutes * 60)) rate=$w5_rate wpid ppid left peak sent
    local tsv=$OUT/w5.tsv t0 seq0 prev now i line start wait_s held=0 hp=
    local hold_from=$(((w5_minutes - w5_hold) * 30)) release=$OUT/w5_release
    ((w5_hold < w5_minutes)) || die "--w5-hold must be shorter than the run"
    reset
    if [[ -z $rate ]]; then
        psql -c "select count(*) from txq.send_batch('bench',
                 array_fill('$PAYLOAD'::bytea, array[60000]))" >/dev/null
        psql -c 'vacuum analyze txq.messages'
        quiesce
        "$WORKER" -H bench=sql:public.bench_w5 -n "$CLIENTS" --log-level warn &
        wpid=$!
        sleep 15
        kill -TERM "$wpid"
        wait "$wpid" || true
        left=$(sql 'select count(*) from txq.messages')
        peak=$(((60000 - left) / 15))
        reset
        quiesce
        "$PGBIN/pgbench" -n -c "$CLIENTS" -j 2 -T 15 -f "$S/sql_send1.sql" \
            bench >"$OUT/log/pgbench_w5_peak.log" 2>&1 ||
            die "pgbench (W5 send peak) failed"
        sent=$(sql 'select count(*) from txq.messages')
        sent=$((sent / 15))
        rate=$((7 * sent * peak / (10 * (sent + peak))))
        say "W5 peak: send $sent msgs/s, drain $peak msgs/s (bench_w5 handler); together $((sent * peak / (sent + peak))); rate $rate msgs/s"
    fi
    reset
    psql -c 'truncate bench_w5' -c 'vacuum analyze txq.messages'
    # messages is partitioned: its storage and counts are its partitions'.
    W5_STORAGE="(select sum(pg_total_relation_size(t.relid)) as total,
        sum(pg_relation_size(t.relid)) as heap,
        sum(pg_indexes_size(t.relid)) as idx, sum(t.n_live_tup) as n_live_tup,
        sum(t.n_dead_tup) as n_dead_tup,
        sum(t.autovacuum_count) as autovacuum_count,
        sum(t.autoanalyze_count) as autoanalyze_count
        from pg_stat_user_tables t where t.relid in
            (select relid from pg_partition_tree('txq.messages')))"
    quiesce
    seq0=$(sql "select last_value from txq.messages_id_seq")
    t0=$(sql 'select clock_timestamp() - interval $$1 s$$')
    prev=$t0
    start=$(date +%s)
    "$WORKER" -H bench=sql:public.bench_w5 -n "$CLIENTS" --log-level warn &
    wpid=$!
    "$PGBIN/pgbench" -n -c "$CLIENTS" -j 2 -R "$rate" -T "$secs" \
        -f "$S/sql_send1.sql" bench >"$OUT/log/pgbench_w5.log" 2>&1 &
    ppid=$!
    printf 'sec\tsent\thandled\tp50_ms\tp99_ms\tmax_ms\ttotal_B\theap_B\tindexes_B\tlive\tdead\tautovacuum\tautoanalyze\tload1\theld\n' >"$tsv"
    for ((i = 1; i <= secs / 10; i++)); do
        wait_s=$((start + 10 * i - $(date +%s)))
        ((wait_s <= 0)) || sleep "$wait_s"
        # The snapshot (--w5-hold): taken at the start of the sample that
        # begins at hold_from, released after w5_hold minutes.
        if ((w5_hold > 0 && 10 * (i - 1) == hold_from)); then
            rm -f "$release"
            { echo 'begin isolation level repeatable read;'
              echo 'select txid_current();'
              while [[ ! -f $release ]]; do sleep 0.2; done
              echo 'commit;'; } | psql -o /dev/null &
            hp=$! held=1
        elif ((held && 10 * (i - 1) == hold_from + 60 * w5_hold)); then
            touch "$release"
            wait "$hp"
            held=0
        fi
        now=$(sql 'select clock_timestamp() - interval $$1 s$$')
        # s is read once (materialized): as the inner side of a join it
        # was read again for every handled row, and the sizes, which
        # change meanwhile, split the sample into thousands of groups.
        line=$(psql -At -F $'\t' -c "with s as materialized (select * from $W5_STORAGE x)
            select
            (select last_value from txq.messages_id_seq) - $seq0,
            count(*), round(percentile_cont(0.5) within group (order by ms)::numeric, 1),
            round(percentile_cont(0.99) within group (order by ms)::numeric, 1),
            round(max(ms)::numeric, 1),
            s.total, s.heap, s.idx, s.n_live_tup, s.n_dead_tup,
            s.autovacuum_count, s.autoanalyze_count
            from bench_w5, s
            where t > '$prev' and t <= '$now'
            group by s.total, s.heap, s.idx, s.n_live_tup, s.n_dead_tup,
                     s.autovacuum_count, s.autoanalyze_count")
        [[ -n $line ]] || line=$(psql -At -F $'\t' -c "select
            (select last_value from txq.messages_id_seq) - $seq0, 0, '', '', '',
            s.total, s.heap, s.idx, s.n_live_tup, s.n_dead_tup,
            s.autovacuum_count, s.autoanalyze_count
            from $W5_STORAGE s")
        prev=$now
        printf '%s\t%s\t%s\t%s\n' $((i * 10)) "$line" \
            "$(cut -d' ' -f1 /proc/loadavg)" "$held" >>"$tsv"
    done
    if ((held)); then
        touch "$release"
        wait "$hp"
    fi
    wait "$ppid" || die "pgbench (W5 producer) failed: $(tail -3 "$OUT/log/pgbench_w5.log")"
    kill -TERM "$wpid"
    wait "$wpid" || true
    say "W5: $w5_minutes min at $rate msgs/s, snapshot held $w5_hold min; samples in $tsv"
    awk -F'\t' 'NR > 1 && NF != 15 { bad = 1 } END { exit bad }' "$tsv" ||
        die "W5: a sample of $tsv does not have its 15 fields"
    # p99 of each whole minute, over that minute's handled messages
    psql -At -F $'\t' -c "select floor(extract(epoch from t - '$t0') / 60)::int + 1,
        round(percentile_cont(0.99) within group (order by ms)::numeric, 1)
        from bench_w5 group by 1 order by 1" >"$OUT/w5_p99.tsv"
    # Per minute: sent/s (sequence delta), handled/s, p99 of the minute, max
    # total size, heap and index size, dead tuples and autovacuum count at the
    # minute's end; then the verdict.
    awk -F'\t' -v rate="$rate" -v mins="$w5_minutes" '
    FNR == NR { p99[$1] = $2; next }
    FNR == 1 { next }
    { m = int(($1 - 1) / 60) + 1; hsum += $3; backlog[m] = $2 - hsum
      handled[m] += $3; sentend[m] = $2; size[m] = ($7 > size[m] ? $7 : size[m])
      heap[m] = $8; idx[m] = $9; dead[m] = $11; av[m] = $12
      load[m] = $14; if ($15 == 1) held[m] = 1 }
    END {
        printf "%-4s %9s %9s %8s %9s %9s %9s %9s %9s %4s %5s %4s\n", "min",
            "sent/s", "handled/s", "backlog", "p99_ms", "total_kB", "heap_kB",
            "index_kB", "dead", "av", "load", "held"
        hmin = 0; hp99 = 0; nheld = 0
        for (m = 1; m <= mins; m++) {
            s = (sentend[m] - sentend[m - 1]) / 60
            printf "%-4d %9.0f %9.0f %8d %9.1f %9.0f %9.0f %9.0f %9d %4d %5s %4s\n",
                m, s, handled[m] / 60, backlog[m], p99[m], size[m] / 1024, heap[m] / 1024,
                idx[m] / 1024, dead[m], av[m], load[m], (held[m] ? "*" : "")
            if (held[m]) {
                nheld++
                if (nheld == 1 || handled[m] < hmin) hmin = handled[m]
                if (p99[m] > hp99) hp99 = p99[m]
            }
        }
        if (nheld)
            printf "minutes with the snapshot held (in whole or part): %d; the slowest handled %.0f msgs/s = %.2f of the offered rate; worst p99 %.1f ms\n",
                nheld, hmin / 60, hmin / 60 / rate, hp99
        third = int(mins / 3); mid = 0; last = 0
        for (m = third + 1; m <= 2 * third; m++) if (size[m] > mid) mid = size[m]
        for (m = 2 * third + 1; m <= mins; m++) if (size[m] > last) last = size[m]
        r = handled[mins] / handled[1]
        printf "target rate %d msgs/s; last/first minute handled: %.3f (%s 0.90)\n",
            rate, r, (r >= 0.9 ? ">=" : "<")
        printf "max size last third %.0f kB vs middle third %.0f kB: %.2fx (%s)\n",
            last / 1024, mid / 1024, (mid ? last / mid : 0),
            (mid && last <= 1.2 * mid ? "plateau" : "GROWING")
        printf "last minute handled %.0f msgs/s = %.2f of the offered rate\n",
            handled[mins] / 60, handled[mins] / 60 / rate
        printf "W5 verdict: %s\n", (r >= 0.9 && mid && last <= 1.2 * mid ? "PASS" : "FAIL")
    }' "$OUT/w5_p99.tsv" "$tsv" | tee "$OUT/w5.txt"
}

if [[ $w5 -eq 1 ]]; then
    w5_run
    exit 0
fi

say "$runs run(s), $N messages per workload, $CLIENTS clients"
for ((RUN = 1; RUN <= runs; RUN++)); do
    say "run $RUN/$runs"
    one_run
    if [[ $diag -eq 1 ]]; then
        cpu_rows
    fi
done

# W6 (--w6): txq-worker's memory must not grow with the backlog. Preload
# BACKLOG (in batches of 100,000), let txq-worker (no-op sql: handler,
# CLIENTS children) drain for 20 s, then read the peak RSS (VmHWM) of the
# supervisor and of each child before stopping it.
w6() { # BACKLOG
    local left=$1 n pid c sup kids=() drained
    reset
    while ((left > 0)); do
        n=$((left > 100000 ? 100000 : left))
        psql -c "select count(*) from txq.send_batch('bench',
                 array_fill('$PAYLOAD'::bytea, array[$n]))" >/dev/null
        left=$((left - n))
    done
    psql -c 'vacuum analyze txq.messages'
    quiesce
    "$WORKER" -H bench=sql:public.bench_noop -n "$CLIENTS" --log-level warn &
    pid=$!
    sleep 20
    sup=$(awk '/^VmHWM/ { print $2 }' "/proc/$pid/status")
    for c in $(cat /proc/"$pid"/task/*/children); do
        kids+=("$(awk '/^VmHWM/ { print $2 }' "/proc/$c/status")")
    done
    kill -TERM "$pid"
    wait "$pid" || true
    drained=$(($1 - $(sql 'select count(*) from txq.messages')))
    printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$drained" "$sup" \
        "$(printf '%s ' "${kids[@]}")" "$(cut -d' ' -f1 /proc/loadavg)" \
        >>"$OUT/w6.tsv"
    say "W6 backlog $1: drained $drained in 20 s, VmHWM supervisor $sup kB," \
        "children ${kids[*]} kB"
}

if [[ $w6 -eq 1 ]]; then
    printf 'backlog\tdrained_20s\tsupervisor_hwm_kb\tchildren_hwm_kb\tload1\n' \
        >"$OUT/w6.tsv"
    w6 10000
    w6 1000000
fi

# ---------------------------------------------------------- summary --
# Medians over the runs. ratio = median of the per-run ratios txq/ideal (each
# against the ideal measured in the same run), which cancels most of the
# machine's noise.
awk -F'\t' '
function median(s,    a, n, i, j, t) {
    n = split(s, a, " ")
    for (i = 2; i <= n; i++)
        for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) {
            t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
        }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
NR == 1 { next }
{ loads = loads " " $11; if ($11 + 0 > maxload) maxload = $11 + 0 }
$5 == "-" { ideal[$1, $4] = $9; iwal[$1, $4] = $10 }
$3 == "raw" { raw[$1, $4] = $9 }
{ key = $2 " " $3 " " $4
  if (!(key in seen)) { seen[key] = 1; order[++k] = key; ref[key] = $5 }
  mps[key] = mps[key] " " $9; wal[key] = wal[key] " " $10; run[key] = run[key] " " $1 }
END {
    printf "%-28s %-6s %11s %11s %7s %9s %6s\n", "workload", "system",
        "msgs/s", "ideal", "ratio", "WAL B/msg", "WAL x"
    for (i = 1; i <= k; i++) {
        key = order[i]; split(key, f, " ")
        r = ""; iv = ""; wr = ""
        if (ref[key] != "-") {
            n = split(run[key], rs, " "); split(mps[key], ms, " ")
            split(wal[key], ws, " ")
            for (j = 1; j <= n; j++) {
                r = r " " ms[j] / ideal[rs[j], ref[key]]
                iv = iv " " ideal[rs[j], ref[key]]
                if (iwal[rs[j], ref[key]] > 0)
                    wr = wr " " ws[j] / iwal[rs[j], ref[key]]
            }
        }
        # WAL x: WAL per message over the ideal WAL, same run.
        printf "%-28s %-6s %11s %11s %7s %9.0f %6s\n", f[1] " " f[3], f[2],
            sprintf(f[1] == "W4" ? "%.2f" : "%.0f", median(mps[key])),
            iv == "" ? "" : sprintf("%.0f", median(iv)),
            r == "" ? "" : sprintf("%.2f", median(r)), median(wal[key]),
            wr == "" ? "" : sprintf("%.2f", median(wr))
    }
    # txq against the ideal statement run on txq.messages in the same run
    # (raw rows): what txq adds over its own table.
    lim["W1 txq send1"] = "insert1"; lim["W2 txq send100"] = "insert100"
    lim["W3b txq pop100"] = "delete100"
    printf "txq / raw (the ideal statement on txq.messages, same run):"
    for (i = 1; i <= k; i++) {
        key = order[i]
        if (!(key in lim)) continue
        n = split(run[key], rs, " "); split(mps[key], ms, " "); r = ""
        for (j = 1; j <= n; j++)
            if ((rs[j], lim[key]) in raw)
                r = r " " ms[j] / raw[rs[j], lim[key]]
        if (r != "") {
            split(key, f, " ")
            printf " %s %s %.2f;", f[1], f[3], median(r)
        }
    }
    printf "\n"
    printf "load average (1 min) after each measurement: median %s, max %s\n",
        median(loads), maxload
}' "$RESULTS"
echo "raw results: $RESULTS"
