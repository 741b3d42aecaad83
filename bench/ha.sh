#!/usr/bin/env bash
# bench/ha.sh - what replication costs a producer: W1 (txq-bench send1,
# libtxq's send, one message per transaction, 4 clients) against a primary
# alone, with an asynchronous standby, and with a synchronous one.
#
#   bench/ha.sh [--runs N] [--messages N]
#
# Each run starts, in turn, tests/pg_ha.sh's set-ups on this machine
# (durable: fsync and synchronous_commit on; the standby on the same disk,
# so a synchronous COMMIT waits for a second fsync of the same WAL):
#   alone  the asynchronous set-up with its standby stopped
#   async  primary and asynchronous standby
#   sync   primary and synchronous standby (synchronous_standby_names)
# and sends N messages (default 20,000) through the multi-host conninfo.
# Per run: bench/out/ha.tsv; medians and ratios to `alone`: bench/out/ha.txt.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${TXQ_BUILD_DIR:-$ROOT/build}
TOOL=$BUILD/txq-bench
OUT=$ROOT/bench/out
HA=$ROOT/tests/pg_ha.sh
KEY=$BUILD/ha-bench

runs=3 n=20000
while [[ $# -gt 0 ]]; do
    case $1 in
    --runs | --messages)
        [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || {
            echo "ha.sh: $1 needs a positive number" >&2
            exit 2
        }
        if [[ $1 == --runs ]]; then runs=$2; else n=$2; fi
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
    echo "ha.sh: error: $*" >&2
    exit 1
}

[[ -x $TOOL ]] || die "$TOOL not built (./run build, or ./run bench)"
trap 'bash "$HA" stop "$KEY" >/dev/null 2>&1 || true' EXIT
mkdir -p "$OUT"
printf 'run\tsetup\tmessages\tseconds\tmsgs_per_s\n' >"$OUT/ha.tsv"

measure() { # RUN SETUP
    local run=$1 setup=$2 line
    case $setup in
    alone | async) bash "$HA" start "$KEY" --async >/dev/null ;;
    sync) bash "$HA" start "$KEY" >/dev/null ;;
    esac
    eval "$(bash "$HA" env "$KEY")"
    if [[ $setup == alone ]]; then
        runuser -u postgres -- "$(ls -d /usr/lib/postgresql/*/bin | sort -V |
            tail -n 1)/pg_ctl" stop -D "$TXQ_HA_DIR/node2" -m fast >/dev/null
    fi
    "$TOOL" -d "$TXQ_HA_DSN" setup >/dev/null || die "txq-bench setup failed"
    line=$("$TOOL" -d "$TXQ_HA_DSN" -c 4 -j 2 send1 "$n") ||
        die "txq-bench send1 failed ($setup)"
    [[ $line =~ seconds=([0-9.]+)\ msgs_per_s=([0-9]+) ]] ||
        die "txq-bench send1: unexpected output: $line"
    printf '%s\t%s\t%s\t%s\t%s\n' "$run" "$setup" "$n" \
        "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}" >>"$OUT/ha.tsv"
    say "run $run $setup: ${BASH_REMATCH[2]} msgs/s"
    bash "$HA" stop "$KEY" >/dev/null
}

for ((r = 1; r <= runs; r++)); do
    # The order turns each run, so that no set-up always goes first.
    case $((r % 3)) in
    1) order="alone async sync" ;;
    2) order="async sync alone" ;;
    0) order="sync alone async" ;;
    esac
    for s in $order; do
        measure "$r" "$s"
    done
done

awk -F'\t' 'NR > 1 { v[$2] = v[$2] " " $5 }
function median(s,   a, n, i, j, t) {
    n = split(s, a, " ")
    for (i = 1; i <= n; i++)
        for (j = i + 1; j <= n; j++)
            if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
END {
    base = median(v["alone"])
    printf "W1 send1, 4 clients, msgs/s (median of runs; per run)\n"
    split("alone async sync", s, " ")
    for (i = 1; i <= 3; i++) {
        m = median(v[s[i]])
        printf "%-6s %8.0f  %.2f of alone  [%s ]\n", s[i], m, m / base, v[s[i]]
    }
}' "$OUT/ha.tsv" | tee "$OUT/ha.txt"
