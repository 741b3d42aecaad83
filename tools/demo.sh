#!/usr/bin/env bash
# demo.sh - txq's main job, end to end: one txq-worker runs a demo workload
# over five queues that use every handler kind and every failure policy,
# with a progress line, an operator fixing and requeueing a dead letter,
# a graceful SIGTERM drain and a closing summary.
#
# `./run demo` builds, starts a private PostgreSQL, exports PG*,
# TXQ_BUILD_DIR and TXQ_SOURCE_DIR, and runs this. It also runs against
# any database the PG* variables (and TXQ_SCHEMA) point at, but it drops
# and recreates the queues demo_* and the schema demo, so it can run again.
#
#   queue            handler                       on_exhausted
#   demo_orders      sql:demo.handle_order (x2)    review  (dead letter)
#   demo_thumbnails  so:...txq_demo_handler.so     review
#   demo_emails      exec:examples/demo_exec.sh    review
#   demo_logs        sql:demo.handle_log           ignore  (dropped, counted)
#   demo_payments    sql:demo.handle_payment       notify  (dead letter + alert)
#
# The handlers and the business tables are in examples/. The worker's log
# goes to $TXQ_BUILD_DIR/demo/worker.log. Exit 0 when everything happened
# as expected, 1 otherwise (DEMO_TIMEOUT, default 60 s, bounds the wait).
set -euo pipefail

SRC=${TXQ_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
BUILD=${TXQ_BUILD_DIR:-$SRC/build}
SCHEMA=${TXQ_SCHEMA:-txq}
TIMEOUT=${DEMO_TIMEOUT:-60}
QUEUES=(demo_orders demo_thumbnails demo_emails demo_logs demo_payments)

die() {
    printf '\ndemo: %s\n' "$*" >&2
    exit 1
}
[[ $SCHEMA =~ ^[a-z_][a-z0-9_]{0,62}$ ]] || die "bad TXQ_SCHEMA '$SCHEMA'"
[[ $TIMEOUT =~ ^[0-9]+$ ]] || die "DEMO_TIMEOUT must be whole seconds"
BUILD=$(cd "$BUILD" 2>/dev/null && pwd) || die "no build directory $BUILD"
cd "$SRC"
TXQ=$BUILD/txq
WORKER=$BUILD/txq-worker
SO=$BUILD/examples/txq_demo_handler.so
for f in "$TXQ" "$WORKER" "$SO"; do
    [[ -e $f ]] || die "$f not found; build first (./run build)"
done
command -v psql >/dev/null || die "psql not found"

WORK=$BUILD/demo
LOG=$WORK/worker.log
ALERT_LOG=$WORK/alerts.log
INI=$WORK/worker.ini
mkdir -p "$WORK"
: >"$LOG"
: >"$ALERT_LOG"

# Paths as shown (and as given to the worker): relative to the source tree
# when inside it, which is the worker's working directory.
rel() {
    case $1 in
    "$SRC"/*) printf '%s' "${1#"$SRC"/}" ;;
    *) printf '%s' "$1" ;;
    esac
}

B='' D='' N='' TTY=0
if [[ -t 1 ]]; then
    TTY=1 B=$'\033[1m' D=$'\033[2m' N=$'\033[0m'
fi
step=0
say() {
    step=$((step + 1))
    printf '\n%s[%d] %s%s\n' "$B" "$step" "$*" "$N"
}
show() { # print a command line as run from the source tree
    local a out='$'
    for a; do
        if [[ $a =~ ^[A-Za-z0-9_./:=@,+-]+$ ]]; then
            out+=" $a"
        elif [[ $a != *"'"* ]]; then
            out+=" '$a'"
        else
            a=${a//\\/\\\\} a=${a//\"/\\\"} a=${a//\$/\\\$} a=${a//\`/\\\`}
            out+=" \"$a\""
        fi
    done
    printf '%s%s%s\n' "$D" "$out" "$N"
}
txq() {
    show txq "$@"
    "$TXQ" "$@"
}
# q SQL: run one statement, unaligned output without headers.
q() {
    psql -X -q -At -v ON_ERROR_STOP=1 -F ' ' -c "$1"
}

worker_pid='' interrupted=0
# On exit, stop the worker if it still runs. After a Ctrl-C it got SIGINT
# too (same process group) and is draining: give it a moment, since a
# second signal makes it exit at once.
cleanup() {
    local i
    [[ -n $worker_pid ]] || return 0
    for ((i = 0; i < 30 * interrupted; i++)); do
        kill -0 "$worker_pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$worker_pid" 2>/dev/null; then
        kill -TERM "$worker_pid" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do
            kill -0 "$worker_pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$worker_pid" 2>/dev/null || true
    fi
    wait "$worker_pid" 2>/dev/null || true
}
trap cleanup EXIT
trap 'interrupted=1; exit 130' INT
trap 'exit 143' TERM

usec() { # the time in microseconds
    local t=$EPOCHREALTIME
    printf '%s' "${t/[.,]/}"
}
elapsed() { # seconds since $1 (from usec), with one decimal
    local d=$(($(usec) - $1))
    printf '%d.%d' $((d / 1000000)) $((d / 100000 % 10))
}
t0=$(usec)

# ---------------------------------------------------------------------------
say "Schema '$SCHEMA', the business tables and the SQL handlers"
txq migrate
show psql -f examples/demo.sql
psql -X -q -v ON_ERROR_STOP=1 -v txq="$SCHEMA" -f examples/demo.sql
alert0=$(q "select coalesce(max(id), 0) from $SCHEMA.alerts")

say "Five queues: retries after 0.05-0.2 s, then each queue's policy"
for qn in "${QUEUES[@]}"; do
    "$TXQ" queue drop "$qn" --force >/dev/null 2>&1 || true
done
backoff=(--backoff-base 0.05 --backoff-cap 0.2)
txq queue create demo_orders --max-attempts 4 "${backoff[@]}"
txq queue create demo_thumbnails --max-attempts 3 "${backoff[@]}"
txq queue create demo_emails --max-attempts 3 "${backoff[@]}"
txq queue create demo_logs --max-attempts 2 "${backoff[@]}" \
    --on-exhausted ignore
txq queue create demo_payments --max-attempts 3 "${backoff[@]}" \
    --on-exhausted notify

say "Send 450 messages: 449 with send_batch (a statement per queue), 1 by CLI"
# Which messages fail is written into them; see examples/ for the rules.
q "
select 'demo_orders', count(*) from $SCHEMA.send_batch('demo_orders',
  array(select convert_to(jsonb_build_object('order', n,
          'sku', 'SKU-' || (n % 17), 'qty', case when n % 50 = 0 then 0
          else 1 + n % 3 end)::text, 'UTF8')
          from generate_series(1, 200) n))
union all
select 'demo_thumbnails', count(*) from $SCHEMA.send_batch('demo_thumbnails',
  array(select convert_to(format('photos/%s%s', lpad(n::text, 4, '0'),
          case when n % 25 = 0 then '.tiff' when n % 8 = 0 then '-large.jpg'
          else '.jpg' end), 'UTF8')
          from generate_series(1, 100) n))
union all
select 'demo_emails', count(*) from $SCHEMA.send_batch('demo_emails',
  array(select convert_to(format(E'To: %s\nSubject: order %s shipped\n\n'
          'Hello!', case when n % 20 = 7 then 'user' || n
          when n % 20 = 11 then format('user%s@down.example', n)
          when n % 6 = 0 then format('user%s@greylist.example', n)
          else format('user%s@example.com', n) end, n), 'UTF8')
          from generate_series(1, 59) n))
union all
select 'demo_logs', count(*) from $SCHEMA.send_batch('demo_logs',
  array(select convert_to(case when n % 10 = 0
          then format('malformed line %s', n)
          else format('level=info msg=\"request served\" n=%s', n) end,
          'UTF8') from generate_series(1, 60) n))
union all
select 'demo_payments', count(*) from $SCHEMA.send_batch('demo_payments',
  array(select convert_to(jsonb_build_object('payment', n,
          'amount', 10 + n * 1.5, 'card', case when n % 10 = 4
          then '4000-0000-0000-0002' when n % 7 = 0
          then '4000-0000-0000-0119' else '4242-4242-4242-4242' end)::text,
          'UTF8') from generate_series(1, 30) n))" >"$WORK/sent"
sent=1
while read -r qn n; do
    printf '  %-16s %4d messages\n' "$qn" "$n"
    sent=$((sent + n))
done <"$WORK/sent"
txq send demo_emails $'To: ada@example.com\nSubject: welcome\n\nHi Ada!' \
    --header template=welcome >/dev/null

say "Start one worker for all five queues (logs: $(rel "$LOG"))"
cat >"$INI" <<'EOF'
; written by tools/demo.sh: a queue's own settings live in [queue.NAME]
[worker]
poll_interval = 0.2

[queue.demo_orders]
concurrency = 2
EOF
cmd=(txq-worker --config "$(rel "$INI")"
    --handle demo_orders=sql:demo.handle_order
    --handle "demo_thumbnails=so:$(rel "$SO"):demo_thumbnail"
    --handle demo_emails=exec:examples/demo_exec.sh
    --handle demo_logs=sql:demo.handle_log
    --handle demo_payments=sql:demo.handle_payment
    --notify-command examples/notify.sh --notify-interval 2)
printf '%s%s:\n' "$D" "$(rel "$INI")"
sed 's/^/    /' "$INI"
printf '%s' "$N"
show "${cmd[@]}"
DEMO_ALERT_LOG=$ALERT_LOG "$WORKER" "${cmd[@]:1}" >>"$LOG" 2>&1 &
worker_pid=$!
printf '  worker pid %d: 6 consumer processes (2 for demo_orders), one\n' \
    "$worker_pid"
printf '  LISTEN connection; notify command examples/notify.sh\n'

# wait_drained LABEL: show progress until every demo queue is empty (no
# ready, delayed, in-flight or retrying message) and every alert of this run
# went to the notify command; die at the deadline or if the worker exits.
deadline=$((SECONDS + TIMEOUT))
stats_sql="
select coalesce(sum(ready + delayed + in_flight + retrying), 0),
       coalesce(sum(acked), 0), coalesce(sum(retried), 0),
       coalesce(sum(dead_lettered), 0), coalesce(sum(ignored), 0),
       (select count(*) from $SCHEMA.alerts where id > $alert0),
       (select count(*) from $SCHEMA.alerts where id > $alert0
           and delivered)
  from $SCHEMA.queue_stats
 where queue in ('${QUEUES[0]}', '${QUEUES[1]}', '${QUEUES[2]}',
                 '${QUEUES[3]}', '${QUEUES[4]}')"
wait_drained() {
    local start last=-1 left acked retried dead ignored
    local alerts delivered line
    start=$(usec)
    while :; do
        read -r left acked retried dead ignored alerts delivered \
            < <(q "$stats_sql")
        line=$(printf '  %5ss  waiting %3d  acked %3d  retried %3d  dead %2d  ignored %2d  alerts %d (%d sent)' \
            "$(elapsed "$start")" "$left" "$acked" "$retried" "$dead" \
            "$ignored" "$alerts" "$delivered")
        if [[ $TTY -eq 1 ]]; then
            printf '\r%s' "$line"
        elif [[ $SECONDS -ne $last || $left -eq 0 ]]; then
            printf '%s\n' "$line"
            last=$SECONDS
        fi
        if [[ $left -eq 0 && $delivered -eq $alerts ]]; then
            [[ $TTY -eq 1 ]] && printf '\n'
            return 0
        fi
        if ! kill -0 "$worker_pid" 2>/dev/null; then
            printf '\n'
            tail -n 20 "$LOG" >&2
            die "the worker exited early; its log is $LOG"
        fi
        if [[ $SECONDS -ge $deadline ]]; then
            printf '\n'
            tail -n 20 "$LOG" >&2
            die "$1 did not finish within ${TIMEOUT} s (DEMO_TIMEOUT);" \
                "worker log: $LOG"
        fi
        sleep 0.2
    done
}

say "Progress, until the queues are drained"
wait_drained "the workload"

say "Dead letters wait for a person"
txq dead list
dead_id=$(q "select id from $SCHEMA.dead_letters where queue = 'demo_emails'
              and reason = 'exhausted' order by id limit 1")
[[ -n $dead_id ]] || die "expected an exhausted dead letter in demo_emails"
txq dead show "$dead_id"

say "The operator fixes the address and requeues it; the worker sends it"
sql="update $SCHEMA.dead_letters set body = convert_to(replace(
       convert_from(body, 'UTF8'), '@down.example', '@example.com'), 'UTF8'),
       headers = headers || '{\"fixed_by\": \"ops\"}' where id = $dead_id"
show psql -c "$sql"
q "$sql"
txq dead requeue "$dead_id"
wait_drained "the requeued message"
if [[ $(q "select count(*) from $SCHEMA.dead_letters where id = $dead_id") \
    -ne 0 ]]; then
    die "message $dead_id failed again"
fi
echo "  message $dead_id was delivered and acked"

say "SIGTERM: the worker finishes what it holds and exits"
show kill -TERM "$worker_pid"
kill -TERM "$worker_pid"
rc=0
wait "$worker_pid" || rc=$?
worker_pid=''
[[ $rc -eq 0 ]] || die "the worker exited with status $rc; see $LOG"
grep -E 'msg=(draining|"drained)' "$LOG" | sed 's/^/  /' || true
echo "  exit status 0"

say "Summary"
printf '  %-16s %-28s %6s %7s %5s %7s  %s\n' queue handler acked retried \
    dead ignored 'business rows'
declare -A handler=(
    [demo_orders]='sql:demo.handle_order (x2)'
    [demo_thumbnails]='so:...:demo_thumbnail'
    [demo_emails]='exec:examples/demo_exec.sh'
    [demo_logs]='sql:demo.handle_log'
    [demo_payments]='sql:demo.handle_payment'
)
declare -A table=(
    [demo_orders]=demo.orders
    [demo_thumbnails]=demo.thumbnails
    [demo_logs]=demo.log_lines
    [demo_payments]=demo.payments
)
tot=(0 0 0 0)
mismatch=''
for qn in "${QUEUES[@]}"; do
    read -r a r d i < <(q "select acked, retried, dead_lettered, ignored
                             from $SCHEMA.queue_stats where queue = '$qn'")
    rows='-'
    if [[ -n ${table[$qn]:-} ]]; then
        rows=$(q "select count(*) from ${table[$qn]}")
        [[ $rows -eq $a ]] || mismatch+=" ${table[$qn]}"
        rows="$rows in ${table[$qn]}"
    fi
    printf '  %-16s %-28s %6d %7d %5d %7d  %s\n' "$qn" "${handler[$qn]}" \
        "$a" "$r" "$d" "$i" "$rows"
    tot=($((tot[0] + a)) $((tot[1] + r)) $((tot[2] + d)) $((tot[3] + i)))
done
printf '  %-16s %-28s %6d %7d %5d %7d\n' total '' "${tot[@]}"
read -r waiting dead_now < <(q "select coalesce(sum(depth), 0),
    coalesce(sum(dead), 0) from $SCHEMA.queue_stats where queue in
    ('${QUEUES[0]}', '${QUEUES[1]}', '${QUEUES[2]}', '${QUEUES[3]}',
     '${QUEUES[4]}')")
read -r alerts undelivered < <(q "select count(*), count(*) filter (where
    not delivered) from $SCHEMA.alerts where id > $alert0")
runs=$(wc -l <"$ALERT_LOG")
echo
printf '  processed %d of %d messages (acked); %d ignored by policy; %d dead\n' \
    "${tot[0]}" "$sent" "${tot[3]}" "$dead_now"
printf '            letters wait for review (1 more was fixed and requeued);\n'
printf '            %d still queued\n' "$waiting"
printf '  business  every handler write committed with its ack: rows = acked\n'
printf '            (an exec: handler has no transaction to write in)\n'
printf '  alerts    %d rows in %s.alerts; examples/notify.sh ran %d times\n' \
    "$alerts" "$SCHEMA" "$runs"
printf '            (at most once per queue per 2 s) and wrote %s:\n' \
    "$(rel "$ALERT_LOG")"
sed 's/^/              /' "$ALERT_LOG"
printf '  worker    drained on SIGTERM, exit 0; log %s (%d lines), e.g.\n' \
    "$(rel "$LOG")" "$(wc -l <"$LOG")"
{
    grep -m 1 'will retry' "$LOG" || true
    grep -m 1 'action=dead' "$LOG" || true
} | awk '{ print "              " (length > 130 ? substr($0, 1, 129) "..." : $0) }'
printf '  time      %s s in all\n' "$(elapsed "$t0")"

[[ -z $mismatch ]] || die "business rows differ from acks in:$mismatch"
[[ $alerts -gt 0 && $undelivered -eq 0 && $runs -gt 0 ]] ||
    die "expected alerts delivered by examples/notify.sh"
[[ ${tot[0]} -gt 0 && ${tot[1]} -gt 0 && ${tot[2]} -gt 0 &&
    ${tot[3]} -gt 0 && $waiting -eq 0 ]] ||
    die "expected every outcome at least once and nothing left"
printf '\ndemo: done. Every number above is a row you can query in schema %s;\n' \
    "$SCHEMA"
echo "the handlers are in examples/; README.md (txq-worker) explains them."
