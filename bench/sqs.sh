#!/usr/bin/env bash
# bench/sqs.sh - txq-sqs against libtxq's direct calls on the same server.
#
#   bench/sqs.sh [--runs N] [--messages N] [--wakes K] [--client c|node]
#                [--procs P]
#
# A private PostgreSQL (bench/server.sh), the queue bench, and txq-sqs on
# a loopback port with an access key whose role holds admin on every
# queue. Each run, in alternating order, moves N messages (default 60,000)
# four ways, with 4 clients each and the queue emptied between:
#   direct send   txq-bench -b 10 -c 4 send100: txq_send_batch of 10 per
#                 transaction
#   direct drain  txq-bench -b 10 -c 4 claim100: txq_claim of 10 (commits),
#                 then txq_ack_batch in a second transaction, as an SQS
#                 consumer's receive and delete are two requests
#   sqs send      SendMessageBatch of 10 entries
#   sqs drain     ReceiveMessage of up to 10, then DeleteMessageBatch
# The SQS side's client (--client): c (default), txq-sqs-load
# (bench/sqsload/), 4 threads on libcurl, whose own SigV4 signs; or node,
# @aws-sdk/client-sqs (bench/sqs_load.cjs) in P processes (--procs,
# default 2) of 4/P clients each, released together. The Node SDK takes
# about a core at these rates, which the server then lacks on a small
# machine. The direct side runs as the same role as the key. Then K
# (default 200) long-poll wake-ups in turn, with the same client: a
# ReceiveMessage waiting 20 s, a SendMessage from another connection, the
# time from the send's reply to the receive's (txq-sqs looks again only
# every 60 s: a wake-up well within the wait is the notification).
# Per run: bench/out/sqs.tsv; medians and ratios (sqs / direct; target >=
# 0.5 for batches of 10; the wake-up's p99 <= 5 ms): bench/out/sqs.txt.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${TXQ_BUILD_DIR:-$ROOT/build}
TOOL=$BUILD/txq-bench
SQS=$BUILD/txq-sqs
LOAD=$BUILD/txq-sqs-load
OUT=$ROOT/bench/out
SDK=3.1178.0

runs=3 msgs=60000 wakes=200 procs=2 client=c
while [[ $# -gt 0 ]]; do
    case $1 in
    --client)
        [[ ${2:-} == c || ${2:-} == node ]] || {
            echo "sqs.sh: --client is c or node" >&2
            exit 2
        }
        client=$2
        shift
        ;;
    --runs | --messages | --wakes | --procs)
        [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || {
            echo "sqs.sh: $1 needs a positive number" >&2
            exit 2
        }
        case $1 in
        --runs) runs=$2 ;;
        --messages) msgs=$2 ;;
        --wakes) wakes=$2 ;;
        --procs) procs=$2 ;;
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
((4 % procs == 0)) || {
    echo "sqs.sh: --procs must divide the 4 clients (1, 2 or 4)" >&2
    exit 2
}

say() {
    printf '==> %s\n' "$*" >&2
}

die() {
    echo "sqs.sh: error: $*" >&2
    exit 1
}

[[ -x $TOOL && -x $SQS && -x $LOAD ]] ||
    die "txq-bench, txq-sqs or txq-sqs-load not built (./run bench)"
NODEDIR=$BUILD/sqs-node
if [[ $client == node ]]; then
    command -v node >/dev/null && command -v npm >/dev/null ||
        die "node and npm are needed (./run build installs them)"
    if ! [[ $(node -p "require('$NODEDIR/node_modules/@aws-sdk/client-sqs/package.json').version" 2>/dev/null) == "$SDK" ]]; then
        mkdir -p "$NODEDIR"
        npm install --prefix "$NODEDIR" --no-audit --no-fund --loglevel=error \
            "@aws-sdk/client-sqs@$SDK" >/dev/null || die "npm install @aws-sdk/client-sqs@$SDK"
    fi
fi
export NODE_PATH=$NODEDIR/node_modules AWS_SDK_JS_SUPPRESS_NODE_VERSION_WARNING=1
export NODE_NO_WARNINGS=1 AWS_EC2_METADATA_DISABLED=true
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null

# shellcheck source=bench/server.sh
. "$ROOT/bench/server.sh"
"$TOOL" setup || die "txq-bench setup (txq_migrate) failed"
mkdir -p "$OUT/log"
psql -q <<'EOF'
create role bench_sqs login;
create role bench_gw login noinherit;
grant bench_sqs to bench_gw;
grant usage on schema txq to bench_gw;
grant select on txq.queues to bench_gw;
select from txq.grant('*', 'bench_sqs', array['admin']);
select from txq.create_queue('wake');
EOF
KEY=AKIDBENCH00000000001 SECRET=bench-secret-000000000000000000000000000
printf '%s %s bench_sqs\n' "$KEY" "$SECRET" >"$SCRATCH/keys"
head -c 48 /dev/urandom >"$SCRATCH/receipt.key"
chmod 600 "$SCRATCH/keys" "$SCRATCH/receipt.key"
"$SQS" --db "host=$PGHOST port=$PGPORT dbname=bench user=bench_gw" \
    --credentials "$SCRATCH/keys" --receipt-key "$SCRATCH/receipt.key" \
    --listen 127.0.0.1:0 --poll-interval 60 --pool-size 8 \
    2>"$OUT/log/sqs_server.log" &
SQS_PID=$!
trap 'kill "$SQS_PID" 2>/dev/null; stop_server' EXIT
port=
for _ in $(seq 1 200); do
    port=$(sed -n 's/.*msg=listening .*port=\([0-9]*\).*/\1/p' "$OUT/log/sqs_server.log")
    [[ -n $port ]] && break
    sleep 0.05
done
[[ -n $port ]] || die "txq-sqs did not start: $(tail -3 "$OUT/log/sqs_server.log")"
export SQS_ENDPOINT=http://127.0.0.1:$port AWS_ACCESS_KEY_ID=$KEY
export AWS_SECRET_ACCESS_KEY=$SECRET
URL=$SQS_ENDPOINT/000000000000/bench
say "txq-sqs at $SQS_ENDPOINT"

depth() {
    sql "select count(*) from txq.messages m join txq.queues q using (queue_id)
          where q.name = 'bench'"
}

# One timed phase: $1 direct|sqs, $2 send|drain. Appends a row to sqs.tsv.
phase() {
    local how=$1 what=$2 log=$OUT/log/sqs_${1}_$2.log rate go i
    local start end s e
    psql -q -c checkpoint
    if [[ $how == direct ]]; then
        TXQ_BENCH_ROLE=bench_sqs "$TOOL" -b 10 -c 4 \
            "$([[ $what == send ]] && echo send100 || echo claim100)" "$msgs" \
            >"$log" 2>&1 || die "txq-bench $what failed: $(tail -3 "$log")"
        rate=$(sed -n 's/.*msgs_per_s=\([0-9.]*\).*/\1/p' "$log" | tail -1)
    elif [[ $client == c ]]; then
        "$LOAD" "$what" "$URL" "$msgs" 4 >"$log" 2>&1 ||
            die "txq-sqs-load $what failed: $(tail -3 "$log")"
        s=$(sed -n 's/.*start_ms=\([0-9]*\).*/\1/p' "$log")
        e=$(sed -n 's/.*end_ms=\([0-9]*\).*/\1/p' "$log")
        [[ -n $s && -n $e ]] || die "txq-sqs-load $what: $(cat "$log")"
        rate=$(awk -v n="$msgs" -v ms=$((e - s)) 'BEGIN { printf "%.1f", n * 1000 / ms }')
    else
        go=$SCRATCH/go.$RUN.$what
        rm -f "$go"
        : >"$log"
        for ((i = 0; i < procs; i++)); do
            node "$ROOT/bench/sqs_load.cjs" "$what" "$URL" \
                $((msgs / procs + (i < msgs % procs ? 1 : 0))) $((4 / procs)) \
                "$go" >"$log.$i" 2>&1 &
        done
        for ((i = 0; i < procs; i++)); do
            for _ in $(seq 1 600); do
                grep -q '^ready' "$log.$i" 2>/dev/null && break
                sleep 0.05
            done
            grep -q '^ready' "$log.$i" || die "sqs_load $what: $(cat "$log.$i")"
        done
        touch "$go"
        wait $(jobs -p | grep -v "^$SQS_PID$") ||
            die "sqs_load $what failed: $(cat "$log".*)"
        start= end=
        for ((i = 0; i < procs; i++)); do
            cat "$log.$i" >>"$log"
            s=$(sed -n 's/.*start_ms=\([0-9]*\).*/\1/p' "$log.$i")
            e=$(sed -n 's/.*end_ms=\([0-9]*\).*/\1/p' "$log.$i")
            [[ -n $s && -n $e ]] || die "sqs_load $what: $(cat "$log.$i")"
            [[ -z $start || $s -lt $start ]] && start=$s
            [[ -z $end || $e -gt $end ]] && end=$e
            rm -f "$log.$i"
        done
        rate=$(awk -v n="$msgs" -v ms=$((end - start)) 'BEGIN { printf "%.1f", n * 1000 / ms }')
    fi
    [[ -n $rate ]] || die "no rate for $how $what: $(tail -3 "$log")"
    if [[ $what == drain && $(depth) != 0 ]]; then
        die "$how drain left $(depth) messages"
    fi
    if [[ $what == send && $(depth) != "$msgs" ]]; then
        die "$how send: $(depth) messages queued, not $msgs"
    fi
    printf '%s\t%s\t%s\t%s\n' "$RUN" "$how" "$what" "$rate" >>"$OUT/sqs.tsv"
    say "run $RUN $how $what: $rate msgs/s"
}

printf 'run\thow\twhat\tmsgs_per_s\n' >"$OUT/sqs.tsv"
for ((RUN = 1; RUN <= runs; RUN++)); do
    if ((RUN % 2)); then order="direct sqs"; else order="sqs direct"; fi
    for how in $order; do
        phase "$how" send
        phase "$how" drain
    done
done

say "long-poll wake-ups: $wakes ($client client)"
if [[ $client == c ]]; then
    "$LOAD" wake "$SQS_ENDPOINT/000000000000/wake" "$wakes" \
        >"$OUT/log/sqs_wake.log" 2>&1
else
    node "$ROOT/bench/sqs_load.cjs" wake "$SQS_ENDPOINT/000000000000/wake" \
        "$wakes" >"$OUT/log/sqs_wake.log" 2>&1
fi || die "wake-ups failed: $(tail -3 "$OUT/log/sqs_wake.log")"
wake=$(tail -1 "$OUT/log/sqs_wake.log")

awk -F'\t' -v wake="$wake" -v wakes="$wakes" -v client="$client" '
function median(list,    a, n, i, j, t) {
    n = split(list, a, " ")
    for (i = 2; i <= n; i++)
        for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) {
            t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
        }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
NR > 1 { r[$2 " " $3] = r[$2 " " $3] " " $4; rate[$1, $2, $3] = $4; runs = $1 }
END {
    printf "| batches of 10, 4 clients | direct (libtxq) msgs/s | txq-sqs msgs/s (%s client) | ratio, median [per run] |\n", client
    printf "|---|---|---|---|\n"
    split("send drain", w, " ")
    for (k = 1; k <= 2; k++) {
        per = ""
        for (i = 1; i <= runs; i++) {
            x = rate[i, "sqs", w[k]] / rate[i, "direct", w[k]]
            per = per (i > 1 ? ", " : "") sprintf("%.2f", x)
            ratios = ratios " " x
        }
        printf "| %s | %.0f | %.0f | **%.2f** [%s] |\n", w[k],
            median(r["direct " w[k]]), median(r["sqs " w[k]]),
            median(substr(ratios, 1)), per
        ratios = ""
    }
    printf "\nlong-poll wake-ups (%s in turn; txq-sqs polls every 60 s): %s\n",
        wakes, wake
}' "$OUT/sqs.tsv" | tee "$OUT/sqs.txt"
