#!/usr/bin/env bash
# demo.sh - a guided tour of txq with the `txq` CLI and plain SQL. `./run
# demo` starts a private PostgreSQL, exports PG* and TXQ_BUILD_DIR, and runs
# this: migrate, one queue per failure policy plus a FIFO one, sends and a
# batch, receive and ack, failures through SQL (retry, dead letter, ignore,
# alert), stats, and a dead letter fixed and requeued. Its queues are named
# demo_*; it drops and recreates them, so it can run again.
set -euo pipefail

TXQ=${TXQ_BUILD_DIR:-build}/txq
SCHEMA=${TXQ_SCHEMA:-txq}
die() {
    echo "demo: $*" >&2
    exit 1
}
[[ -x $TXQ ]] || die "$TXQ not found; build first (./run build)"
command -v psql >/dev/null || die "psql not found"
B='' N=''
[[ -t 1 ]] && B=$'\033[1m' N=$'\033[0m'

step=0
say() {
    step=$((step + 1))
    printf '\n%s[%d] %s%s\n' "$B" "$step" "$*" "$N"
}
run() { # print the command, quoting what needs it, then run it
    local a
    printf '$ txq'
    for a; do
        if [[ $a =~ ^[A-Za-z0-9_./:=@-]+$ ]]; then printf ' %s' "$a"; else
            printf " '%s'" "$a"
        fi
    done
    printf '\n'
    "$TXQ" "$@"
}
sql() {
    printf '$ psql -c "%s"\n' "$1"
    psql -X -q -v ON_ERROR_STOP=1 -P pager=off -c "$1"
}
# Claim up to $4 (default 100) ready messages of queue $1 and fail each
# with error $2 (permanent when $3 is true); prints what the policy did.
fail_all() {
    sql "select m.id, m.attempts, $SCHEMA.fail(m.id, '$2', m.attempts,
           i_permanent => $3) as outcome
           from $SCHEMA.receive('$1', ${4:-100}) m order by m.id"
}
first_dead() { # id of the oldest dead letter of queue $1
    "$TXQ" dead list "$1" --json | sed -n '1s/^{"id":\([0-9]*\).*/\1/p'
}

say "Create (or upgrade) the schema '$SCHEMA'"
run migrate

say "One queue per failure policy, and a FIFO queue"
for q in demo_emails demo_logs demo_payments demo_orders; do
    "$TXQ" queue drop "$q" --force >/dev/null 2>&1 || true
done
run queue create demo_emails --max-attempts 2 --backoff-base 0 \
    --on-exhausted review
run queue create demo_logs --on-exhausted ignore
run queue create demo_payments --on-exhausted notify --max-attempts 3
run queue create demo_orders --fifo --dedup-window 60
run queue list

say "Send messages: text with headers, binary from stdin, a delayed one"
run send demo_emails 'Welcome, Ada!' --header to=ada@example.com \
    --header template=welcome
run send demo_emails 'Welcome, Bob!' --header to=bob@example.com
printf 'PNG\0\x01\x02' | run send demo_emails --header kind=attachment # stdin
run send demo_emails 'reminder' --delay 3600
run send demo_payments '{"amount": 42}' --correlation-id pay-1
run send demo_orders 'order 7 created' --group order-7 --dedup o7-created
run send demo_orders 'order 7 created' --group order-7 --dedup o7-created
echo "(the second FIFO send had the same dedup id: same id, no duplicate)"

say "A batch of 5 log lines in one statement (SQL API: send_batch)"
sql "select count(*) as sent from $SCHEMA.send_batch('demo_logs',
       array['boot','login','click','logout','halt']::bytea[])"

say "Receive two emails and ack them (one JSON object per line)"
run recv demo_emails --max 2 --ack
say "The FIFO queue: one message of group order-7, then ack"
run recv demo_orders --ack
say "A worker fails the remaining email: it is retried (attempt 1 of 2)"
fail_all demo_emails 'smtp timeout' false
say "It fails again: attempts exhausted, policy review -> dead letter"
fail_all demo_emails 'smtp timeout again' false
say "A log line fails for good: policy ignore drops it (counted)"
fail_all demo_logs 'disk full' true 1
run recv demo_logs --max 10 --ack >/dev/null
echo "(the other 4 log lines were received and acked)"
say "A payment fails permanently: policy notify -> dead letter + alert"
fail_all demo_payments 'card declined' true
sql "select queue, message_id, reason, error from $SCHEMA.alerts
       order by id desc limit 1"

say "Queue statistics"
run stats
say "Dead letters waiting for a person"
run dead list
dead_id=$(first_dead demo_emails)
[[ -n $dead_id ]] || die "expected a dead letter in demo_emails"
run dead show "$dead_id"

say "Fix it with SQL, requeue it, and consume it"
sql "update $SCHEMA.dead_letters set headers = headers || '{\"fixed\": true}'
       where id = $dead_id"
run dead requeue "$dead_id"
run recv demo_emails --ack
run dead discard "$(first_dead demo_payments)" --reason 'refunded by hand'

say "Summary"
psql -X -q -At -v ON_ERROR_STOP=1 -F ' ' -c "
  select format('%-14s acked=%s retried=%s dead=%s ignored=%s requeued=%s '
                'discarded=%s waiting=%s', queue, acked, retried,
                dead_lettered, ignored, requeued, discarded, depth)
    from $SCHEMA.queue_stats where queue like 'demo\_%' order by queue"
echo "demo: done. Every outcome above is a row you can query in schema $SCHEMA."
