#!/usr/bin/env bash
# bench/w8.sh - W8: publish to a fanout topic of 10 queues against one send.
#
#   bench/w8.sh [--runs N] [--seconds S]
#
# For a 1 KiB and a 1 MiB body (md5 output, which no compression shrinks),
# each run times, in alternating order, pgbench -c 4 -j 2 -T S (default 10)
# with one statement per transaction, the body read from a table on the
# server so that no client sends it:
#   send     select txq.send('w8_one', <body>)        one queue
#   publish  select txq.publish('w8_ten', <body>)     ten subscribed queues
# Before each, the queues are emptied (truncate) and a checkpoint taken;
# after, per transaction: WAL bytes (pg_current_wal_lsn) and storage added
# (messages and bodies with their TOAST and indexes). Nothing consumes: the
# copies stay, as an idle subscriber's do.
# Per run: bench/out/w8.tsv; medians and ratios (publish against send:
# throughput, WAL and storage; target: publish costs <= 2x a send, i.e. a
# throughput ratio >= 0.5, and the storage of one body): bench/out/w8.txt.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${TXQ_BUILD_DIR:-$ROOT/build}
TOOL=$BUILD/txq-bench
OUT=$ROOT/bench/out

runs=3 secs=10
while [[ $# -gt 0 ]]; do
    case $1 in
    --runs | --seconds)
        [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || {
            echo "w8.sh: $1 needs a positive number" >&2
            exit 2
        }
        if [[ $1 == --runs ]]; then runs=$2; else secs=$2; fi
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
    echo "w8.sh: error: $*" >&2
    exit 1
}

[[ -x $TOOL ]] || die "$TOOL not built (./run build, or ./run bench)"
# shellcheck source=bench/server.sh
. "$ROOT/bench/server.sh"
"$TOOL" setup || die "txq-bench setup (txq_migrate) failed"
mkdir -p "$OUT/log"
S=$SCRATCH/sql
mkdir -p "$S"

psql <<'EOF'
create table w8_body (k text primary key, b bytea not null);
insert into w8_body
select 'kib', decode(string_agg(md5(i::text), '' order by i), 'hex')
  from generate_series(1, 64) i;
insert into w8_body
select 'mib', decode(string_agg(md5(i::text), '' order by i), 'hex')
  from generate_series(1, 65536) i;
select txq.create_queue('w8_one', i_max_body_bytes => 2097152);
select txq.create_topic('w8_ten');
select txq.create_queue('w8_s' || i, i_max_body_bytes => 2097152),
       txq.subscribe('w8_ten', 'w8_s' || i)
  from generate_series(0, 9) i;
EOF
for size in kib mib; do
    printf "select txq.send('w8_one', (select b from w8_body where k = '%s'));\n" \
        "$size" >"$S/send_$size.sql"
    printf "select txq.publish('w8_ten', (select b from w8_body where k = '%s'));\n" \
        "$size" >"$S/publish_$size.sql"
done

STORE="(select sum(pg_total_relation_size(relid)) from pg_partition_tree('txq.messages')) + pg_total_relation_size('txq.bodies')"

# One timed phase: $1 send|publish, $2 kib|mib. Appends a row to w8.tsv.
phase() {
    local what=$1 size=$2 lsn0 store0 log tps n wal store
    psql -c 'truncate txq.messages, txq.bodies' -c checkpoint
    lsn0=$(sql 'select pg_current_wal_lsn()')
    store0=$(sql "select $STORE")
    log=$OUT/log/w8_${what}_$size.log
    "$PGBIN/pgbench" -n -c 4 -j 2 -T "$secs" -f "$S/${what}_$size.sql" bench \
        >"$log" 2>&1 || die "pgbench ($what $size) failed: $(tail -3 "$log")"
    tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$log" | tail -1)
    n=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$log")
    wal=$(sql "select round((pg_current_wal_lsn() - '$lsn0') / $n)")
    store=$(sql "select round(($STORE - $store0) / $n::numeric)")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$RUN" "$size" "$what" "$tps" "$n" \
        "$wal" "$store" >>"$OUT/w8.tsv"
    say "run $RUN $size $what: $tps tps, $wal B WAL and $store B stored per transaction"
}

printf 'run\tbody\twhat\ttps\ttransactions\twal_B\tstored_B\n' >"$OUT/w8.tsv"
for ((RUN = 1; RUN <= runs; RUN++)); do
    for size in kib mib; do
        if ((RUN % 2)); then
            phase send "$size"
            phase publish "$size"
        else
            phase publish "$size"
            phase send "$size"
        fi
    done
done

# Medians per body and statement, then publish against send.
awk -F'\t' '
function median(list,    a, n, i, j, t) {
    n = split(list, a, " ")
    for (i = 2; i <= n; i++)
        for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) {
            t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
        }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
NR > 1 { k = $2 SUBSEP $3; tps[k] = tps[k] " " $4; wal[k] = wal[k] " " $6
         st[k] = st[k] " " $7
         if ($3 == "send") sendrun[$1, $2] = $4; else pubrun[$1, $2] = $4
         runs[$1] = 1 }
END {
    printf "%-4s %-8s %10s %12s %12s\n", "body", "what", "tps", "WAL B/txn", "stored B/txn"
    for (b = 0; b < 2; b++) {
        size = b ? "mib" : "kib"
        for (w = 0; w < 2; w++) {
            what = w ? "publish" : "send"; k = size SUBSEP what
            printf "%-4s %-8s %10.1f %12.0f %12.0f\n", size, what,
                median(tps[k]), median(wal[k]), median(st[k])
        }
        ratios = ""
        for (r in runs) ratios = ratios " " pubrun[r, size] / sendrun[r, size]
        ks = size SUBSEP "send"; kp = size SUBSEP "publish"
        printf "%s: publish to 10 / send throughput %.2f (median of per-run ratios%s; target >= 0.5); WAL %.2fx, storage %.2fx a send\n",
            size, median(ratios), ratios, median(wal[kp]) / median(wal[ks]),
            median(st[kp]) / median(st[ks])
    }
}' "$OUT/w8.tsv" | tee "$OUT/w8.txt"
