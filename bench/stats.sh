#!/usr/bin/env bash
# bench/stats.sh - what `txq stats` (the queue_stats view) costs as the
# backlog grows: 10,000 and 1,000,000 messages queued (in two queues of
# four, 90% / 10%, a few in flight and delayed), each timed five times
# (median, milliseconds, server-side execution) with the counts it gave.
#
#   bench/stats.sh [--sizes N,N,...]
#
# Results: bench/out/stats.tsv and bench/out/stats.txt.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${TXQ_BUILD_DIR:-$ROOT/build}
TOOL=$BUILD/txq-bench
OUT=$ROOT/bench/out
sizes=10000,1000000
while [[ $# -gt 0 ]]; do
    case $1 in
    --sizes)
        [[ ${2:-} =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]] || {
            echo "stats.sh: --sizes needs numbers joined by commas" >&2
            exit 2
        }
        sizes=$2
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
    echo "stats.sh: error: $*" >&2
    exit 1
}

[[ -x $TOOL ]] || die "$TOOL not built (./run build, or ./run bench)"
# shellcheck source=bench/server.sh
. "$ROOT/bench/server.sh"
"$TOOL" setup >/dev/null || die "txq-bench setup (txq_migrate) failed"
mkdir -p "$OUT"
printf 'queued\trun\tms\tdepth_total\testimated\n' >"$OUT/stats.tsv"

for q in s1 s2 s3 s4; do
    sql "select txq.create_queue('$q')" >/dev/null
done

load() { # N: top the queues up to N messages in all
    local n=$1 have
    have=$(sql "select count(*) from txq.messages")
    while ((have < n)); do
        local k=$((n - have > 50000 ? 50000 : n - have))
        sql "select count(*) from txq.send_batch(case when random() < 0.9
                then 's1' else 's2' end,
                array(select convert_to('{\"order\": ' || i || '}', 'UTF8')
                        from generate_series(1, $k) i))" >/dev/null
        have=$((have + k))
    done
    sql "select count(*) from txq.send('s3', 'later', i_delay => '1 hour')" >/dev/null
    sql "select count(*) from txq.receive('s1', 100)" >/dev/null
    sql "vacuum analyze" >/dev/null
}

IFS=, read -r -a list <<<"$sizes"
for n in "${list[@]}"; do
    say "loading $n messages"
    load "$n"
    for r in 1 2 3 4 5; do
        line=$(psql -At -F $'\t' -c "explain (analyze, format json)
            select * from txq.queue_stats" |
            grep -o '"Execution Time": [0-9.]*' | grep -o '[0-9.]*$')
        tot=$(sql "select sum(depth) || E'\t' || bool_or(coalesce(
            (to_jsonb(s) ->> 'estimated')::boolean, false))
            from txq.queue_stats s")
        printf '%s\t%s\t%s\t%s\n' "$n" "$r" "$line" "$tot" >>"$OUT/stats.tsv"
    done
    [[ -n ${STATS_EXPLAIN:-} ]] &&
        psql -c "explain (analyze, buffers) select * from txq.queue_stats" >&2
    say "$n: $(awk -F'\t' -v n="$n" '$1 == n { print $3 }' "$OUT/stats.tsv" |
        sort -n | sed -n 3p) ms (median of 5)"
done

awk -F'\t' 'NR > 1 { t[$1] = t[$1] " " $3; d[$1] = $4; e[$1] = $5 }
END {
    printf "queue_stats, milliseconds (server execution; median of 5)\n"
    for (n in t) {
        k = split(t[n], a, " ")
        for (i = 1; i <= k; i++)
            for (j = i + 1; j <= k; j++)
                if (a[j] + 0 < a[i] + 0) { x = a[i]; a[i] = a[j]; a[j] = x }
        printf "%9d queued: %8.2f ms  [%s ]  depth %s%s\n", n, a[3], t[n],
            d[n], e[n] == "true" ? " (estimated)" : ""
    }
}' "$OUT/stats.tsv" | tee "$OUT/stats.txt"
