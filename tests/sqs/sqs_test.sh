#!/usr/bin/env bash
# sqs_test.sh - test_sqs: txq-sqs driven by real SQS clients against the
# ctest fixture's PostgreSQL (TXQ_TEST_DSN).
#
#   sqs_test.sh BUILD_DIR SOURCE_DIR
#
# Migrates a schema of its own, makes the roles (a gateway login that is
# a member of the keys' roles and nothing else; a role with admin on every
# queue; a role with no grant at all), writes a 0600 credentials file and
# starts txq-sqs on a free loopback port. Then:
#   - Debian's python3-boto3 (/usr/bin/python3, query protocol),
#   - Debian's awscli (/usr/bin/aws, query protocol),
#   - @aws-sdk/client-sqs under node (JSON protocol; the version below,
#     installed with npm into BUILD_DIR/sqs-node on first use),
#   - and, when the python3 on PATH has a boto3 that speaks JSON (1.34.90
#     or later), the boto3 suite again through it.
# A missing client fails the test: it never skips. The long polls run with
# --poll-interval 60, longer than any wait, so a fast wake-up can only be
# a notification.
set -euo pipefail

build=${1:?build dir}
src=${2:?source dir}
dsn=${TXQ_TEST_DSN:?TXQ_TEST_DSN is not set: run through ctest (fixture pg_start)}
# Under ./run test --valgrind, the memcheck command line the programs
# started here run under (TXQ_VALGRIND in CMakeLists.txt); empty otherwise.
read -r -a launch <<<"${TXQ_TEST_LAUNCH:-}"

fail() {
    echo "test_sqs: FAIL: $*" >&2
    exit 1
}

need() {
    command -v "$1" >/dev/null 2>&1 || [[ -x $1 ]] ||
        fail "$1 is missing (${2}); ./run build installs it"
}
need /usr/bin/python3 "Debian python3"
/usr/bin/python3 -c 'import boto3' 2>/dev/null ||
    fail "Debian's python3-boto3 is missing; ./run build installs it"
need /usr/bin/aws "Debian's awscli"
need node "nodejs"
need npm "npm"
need psql "postgresql-client"
# @aws-sdk/client-sqs 3.1178.0 (below) declares node >= 20; Debian 12's own
# nodejs is 18, NodeSource's 20 is what this was tested with.
(($(node -p 'process.versions.node.split(".")[0]') >= 20)) ||
    fail "node $(node --version) is too old for @aws-sdk/client-sqs 3.1178.0 (node >= 20)"

tag=$$
schema=sqs_t_$tag
gw=sqs_gw_$tag
app=sqs_app_$tag
none=sqs_none_$tag
billing=sqs_billing_$tag
work=$(mktemp -d "${TMPDIR:-/tmp}/txq-sqs-test.XXXXXX")
pid=
mpid=
rpid=

psql_q() {
    psql "$dsn" -X -q -v ON_ERROR_STOP=1 -At "$@"
}

cleanup() {
    local rc=$?
    if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null || true
    fi
    if [[ -n $mpid ]] && kill -0 "$mpid" 2>/dev/null; then
        kill -KILL "$mpid" 2>/dev/null || true
    fi
    if [[ -n $rpid ]] && kill -0 "$rpid" 2>/dev/null; then
        kill -KILL "$rpid" 2>/dev/null || true
    fi
    # A lock of the move task test's, should it fail holding one.
    psql_q -c "select pg_terminate_backend(pid) from pg_stat_activity
        where application_name = 'txq_sqs_test_lock_$tag'" \
        >/dev/null 2>&1 || true
    psql_q -c "set client_min_messages = warning;
        drop schema if exists $schema cascade;
        drop role if exists $gw; drop role if exists $app;
        drop role if exists $none; drop role if exists $billing;" \
        >/dev/null 2>&1 || true
    if [[ $rc -ne 0 && -f $work/sqs.log ]]; then
        echo "--- txq-sqs log (last 60 lines) ---" >&2
        tail -n 60 "$work/sqs.log" >&2
    fi
    if [[ $rc -ne 0 && -f $work/metrics.log ]]; then
        echo "--- txq-sqs --metrics-listen log (last 60 lines) ---" >&2
        tail -n 60 "$work/metrics.log" >&2
    fi
    if [[ $rc -ne 0 ]]; then
        for f in "$work"/restart-*.log; do
            [[ -f $f ]] || continue
            echo "--- txq-sqs ${f##*/} (last 30 lines) ---" >&2
            tail -n 30 "$f" >&2
        done
    fi
    [[ -n ${TXQ_SQS_KEEP:-} ]] || rm -rf "$work"
    exit $rc
}
trap cleanup EXIT

"${launch[@]}" "$build/txq" --db "$dsn" --schema "$schema" migrate >/dev/null ||
    fail "txq migrate"
psql_q >/dev/null <<SQL
set client_min_messages = warning;
create role $app nologin;
create role $none nologin;
create role $billing nologin;
create role $gw login noinherit;
grant $app, $none, $billing to $gw;
grant usage on schema $schema to $gw;
grant select on $schema.queues to $gw;
select $schema.grant('*', '$app', array['admin']);
-- The README's example: its key's role may send and receive on orders.
select from $schema.create_queue('orders');
select $schema.grant('orders', '$billing', array['send', 'receive']);
SQL


creds=$work/credentials
cat >"$creds" <<EOF
# test keys: ACCESS_KEY_ID SECRET ROLE [ACCOUNT_ID]
AKIDAPP0000000000001 app-secret-0000000000000000000000000000 $app 111111111111
AKIDNONE000000000002 none-secret-000000000000000000000000000 $none 222222222222
AKIABILLING0000000001 wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY $billing
EOF
chmod 600 "$creds"
head -c 48 /dev/urandom >"$work/receipt.key"
chmod 600 "$work/receipt.key"

# --check-config: the effective settings (flags over the file), the
# conninfo's password masked.
printf '[sqs]\npool_size = 3\nregion = eu-west-1\nmetrics_listen = 9100\n' >"$work/sqs.ini"
out=$("${launch[@]}" "$build/txq-sqs" --config "$work/sqs.ini" --pool-size 5 \
    --db "$dsn password=hunter2" --credentials "$creds" --check-config 2>/dev/null) ||
    fail "--check-config"
grep -qx 'pool_size=5' <<<"$out" && grep -qx 'region=eu-west-1' <<<"$out" &&
    grep -qx 'metrics_listen=9100' <<<"$out" &&
    ! grep -q hunter2 <<<"$out" || fail "--check-config printed: $out"
# metrics_listen: "" (the flag over the file) turns it off; a bad value is
# refused (exit 2).
out=$("${launch[@]}" "$build/txq-sqs" --config "$work/sqs.ini" \
    --metrics-listen "" --credentials "$creds" --check-config 2>/dev/null) ||
    fail "--check-config --metrics-listen ''"
grep -qx 'metrics_listen=(off)' <<<"$out" ||
    fail "--metrics-listen '' over the file printed: $out"
set +e
"${launch[@]}" "$build/txq-sqs" --credentials "$creds" \
    --metrics-listen 127.0.0.1:99999 --check-config >/dev/null 2>"$work/bad.log"
rc=$?
set -e
[[ $rc -eq 2 ]] && grep -q metrics_listen "$work/bad.log" ||
    fail "--metrics-listen 127.0.0.1:99999 was not refused (exit $rc)"

# A credentials file others may read is refused (exit 2).
chmod 644 "$creds"
set +e
"${launch[@]}" "$build/txq-sqs" --db "$dsn user=$gw" --schema "$schema" \
    --credentials "$creds" --listen 127.0.0.1:0 2>"$work/refused.log"
rc=$?
set -e
[[ $rc -eq 2 ]] && grep -q 'chmod 600' "$work/refused.log" ||
    fail "a 0644 credentials file was not refused (exit $rc)"
chmod 600 "$creds"

# --metrics-listen, on a txq-sqs of its own so that only sqs_metrics.py's
# requests are counted: exact counters for them, promtool's check of the
# text, /healthz and /readyz, and /readyz 503 while draining.
"${launch[@]}" "$build/txq-sqs" --db "$dsn user=$gw" --schema "$schema" \
    --credentials "$creds" --listen 127.0.0.1:0 --poll-interval 60 \
    --pool-size 4 --drain-timeout 20 --metrics-listen 127.0.0.1:0 \
    --log-level debug 2>"$work/metrics.log" &
mpid=$!
sport='' mport=''
for _ in $(seq 1 600); do
    sport=$(sed -n 's/.*msg=listening .*port=\([0-9]*\).*/\1/p' "$work/metrics.log")
    mport=$(sed -n 's/.*msg="metrics listening" addr=127.0.0.1:\([0-9]*\).*/\1/p' \
        "$work/metrics.log")
    [[ -n $sport && -n $mport ]] && break
    kill -0 "$mpid" 2>/dev/null || fail "txq-sqs --metrics-listen exited at start"
    sleep 0.05
done
[[ -n $sport && -n $mport ]] ||
    fail "txq-sqs --metrics-listen did not start listening: $(cat "$work/metrics.log")"
murl=http://127.0.0.1:$mport
# get PATH: the status code; the body in $work/get.out.
get() {
    curl -sS --max-time 10 -o "$work/get.out" -w '%{http_code}' "$murl$1" ||
        fail "curl $murl$1"
}
# /readyz turns 200 once the LISTEN connection is up (its own thread).
for _ in $(seq 1 200); do
    [[ $(get /readyz) == 200 ]] && break
    sleep 0.05
done
[[ $(get /readyz) == 200 ]] || fail "/readyz: $(cat "$work/get.out")"
[[ $(get /healthz) == 200 ]] || fail "/healthz: $(cat "$work/get.out")"
[[ $(get /nope) == 404 ]] || fail "/nope is not 404"
SQS_ENDPOINT=http://127.0.0.1:$sport SQS_METRICS=$murl SQS_PREFIX=m$tag \
    SQS_KEY_APP=AKIDAPP0000000000001 \
    SQS_SECRET_APP=app-secret-0000000000000000000000000000 \
    /usr/bin/python3 "$src/tests/sqs/sqs_metrics.py" || fail "sqs_metrics.py"
[[ $(get /metrics) == 200 ]] || fail "/metrics: $(cat "$work/get.out")"
cp "$work/get.out" "$work/metrics.txt"
promtool check metrics <"$work/metrics.txt" >"$work/promtool.out" 2>&1 ||
    fail "promtool check metrics: $(cat "$work/promtool.out")
$(cat "$work/metrics.txt")"
mq=m${tag}m
# Every txq_sqs_requests_total line and every message counter, exactly:
# sqs_metrics.py's requests, nothing more (a missing queue, a wrong
# secret or an unknown action makes no label value of its own).
want=$(
    cat <<WANT
txq_sqs_requests_total{action="CreateQueue",code="ok"} 1
txq_sqs_requests_total{action="DeleteMessage",code="ok"} 2
txq_sqs_requests_total{action="DeleteMessageBatch",code="ok"} 1
txq_sqs_requests_total{action="GetQueueUrl",code="QueueDoesNotExist"} 1
txq_sqs_requests_total{action="ReceiveMessage",code="ok"} 2
txq_sqs_requests_total{action="SendMessage",code="ok"} 1
txq_sqs_requests_total{action="SendMessage",code="QueueDoesNotExist"} 1
txq_sqs_requests_total{action="SendMessageBatch",code="ok"} 1
txq_sqs_requests_total{action="unknown",code="InvalidAction"} 1
txq_sqs_requests_total{action="unknown",code="SignatureDoesNotMatch"} 1
txq_sqs_messages_sent_total{queue="$mq"} 3
txq_sqs_messages_received_total{queue="$mq"} 3
txq_sqs_messages_deleted_total{queue="$mq"} 3
WANT
)
got=$(grep -E '^txq_sqs_(requests_total|messages_[a-z]+_total)' \
    "$work/metrics.txt" | LC_ALL=C sort)
[[ $got == "$(LC_ALL=C sort <<<"$want")" ]] ||
    fail "the counters differ; want:
$want
got:
$got"
for line in \
    'txq_sqs_request_duration_seconds_count{action="ReceiveMessage"} 2' \
    'txq_sqs_request_duration_seconds_bucket{action="ReceiveMessage",le="+Inf"} 2' \
    'txq_sqs_request_duration_seconds_count{action="unknown"} 2' \
    'txq_sqs_build_info{version="0.1.0"} 1' \
    'txq_sqs_ready 1' 'txq_sqs_draining 0' \
    'txq_sqs_long_polls_waiting 0' 'txq_sqs_db_pool_size 4' \
    'txq_sqs_db_connected 1' 'txq_sqs_move_tasks_running 0'; do
    grep -qxF "$line" "$work/metrics.txt" ||
        fail "/metrics lacks '$line':
$(cat "$work/metrics.txt")"
done
# The long poll (2 s) is in a bucket above 1 s, the rest below.
grep -qxF 'txq_sqs_request_duration_seconds_bucket{action="ReceiveMessage",le="1"} 1' \
    "$work/metrics.txt" || fail "the long poll's duration is not above 1 s"
grep -qE '^txq_sqs_db_pool_in_use [0-4]$' "$work/metrics.txt" ||
    fail "no txq_sqs_db_pool_in_use between 0 and 4"
! grep -q "NoSuchAction\|nosuchqueue" "$work/metrics.txt" ||
    fail "a name the caller made up became a label value"
echo "test_sqs: --metrics-listen: exact counters, promtool accepts /metrics," \
    "/healthz and /readyz 200"

# Draining: a request in flight (its body never finished) holds the drain
# open; /readyz says 503 draining meanwhile, /healthz stays 200.
exec 3<>"/dev/tcp/127.0.0.1/$sport"
printf 'POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nAction=' >&3
for _ in $(seq 1 200); do
    get /metrics >/dev/null
    grep -qx 'txq_sqs_requests_in_flight 1' "$work/get.out" && break
    sleep 0.05
done
grep -qx 'txq_sqs_requests_in_flight 1' "$work/get.out" ||
    fail "the unfinished request is not in flight"
kill -TERM "$mpid"
for _ in $(seq 1 200); do
    [[ $(get /readyz) == 503 ]] && break
    sleep 0.05
done
[[ $(get /readyz) == 503 ]] && grep -q draining "$work/get.out" ||
    fail "/readyz while draining: $(cat "$work/get.out")"
[[ $(get /healthz) == 200 ]] || fail "/healthz while draining"
get /metrics >/dev/null
grep -qx 'txq_sqs_draining 1' "$work/get.out" &&
    grep -qx 'txq_sqs_ready 0' "$work/get.out" ||
    fail "/metrics while draining: $(cat "$work/get.out")"
exec 3>&-
set +e
wait "$mpid"
rc=$?
set -e
mpid=
[[ $rc -eq 0 ]] || fail "txq-sqs --metrics-listen exited $rc after SIGTERM"
echo "test_sqs: --metrics-listen: /readyz 503 draining during the drain," \
    "/healthz 200; exit 0"

# A move task outlives its txq-sqs: a task under way when its txq-sqs is
# killed (SIGKILL; SIGTERM; SIGKILL within a batch, each with a task of
# its own) is left RUNNING as its last commit has it, and the next
# txq-sqs on the database finishes it, every message moved exactly once
# and the task's count exact. These run on txq-sqs processes of their
# own, with no other txq-sqs on the schema, so no other runner takes the
# task.
# restart_sqs NAME: starts one (log $work/restart-NAME.log), sets rpid
# and rendpoint.
restart_sqs() {
    local log=$work/restart-$1.log rport=
    "${launch[@]}" "$build/txq-sqs" --db "$dsn user=$gw" --schema "$schema" \
        --credentials "$creds" --listen 127.0.0.1:0 --poll-interval 60 \
        --pool-size 2 --log-level debug 2>"$log" &
    rpid=$!
    for _ in $(seq 1 600); do
        rport=$(sed -n 's/.*msg=listening .*port=\([0-9]*\).*/\1/p' "$log")
        [[ -n $rport ]] && break
        kill -0 "$rpid" 2>/dev/null || fail "txq-sqs ($1) exited at start"
        sleep 0.05
    done
    [[ -n $rport ]] || fail "txq-sqs ($1) did not start listening"
    rendpoint=http://127.0.0.1:$rport
}
# restart_py STEP ROUND: sqs_movetask_restart.py's step against rendpoint.
restart_py() {
    SQS_ENDPOINT=$rendpoint SQS_PREFIX=r$2$tag \
        SQS_KEY_APP=AKIDAPP0000000000001 \
        SQS_SECRET_APP=app-secret-0000000000000000000000000000 \
        /usr/bin/python3 "$src/tests/sqs/sqs_movetask_restart.py" "$1" \
        "$work/restart-$2.json" || fail "sqs_movetask_restart.py $1 ($2)"
}
# gw_sessions [WAIT_EVENT_TYPE]: the gateway login's sessions (in that wait).
gw_sessions() {
    psql_q -c "select count(*) from pg_stat_activity where usename = '$gw'
        and ('${1:-}' = '' or wait_event_type = '${1:-}')"
}
lockapp=txq_sqs_test_lock_$tag
restart_sqs first
# The third round kills txq-sqs with a batch in its transaction: the
# messages table locked (EXCLUSIVE) holds the batch, which must roll back.
for round in KILL TERM BATCH; do
    sig=${round/BATCH/KILL}
    restart_py start "$round"
    handle=$(/usr/bin/python3 -c 'import json, sys
print(json.load(open(sys.argv[1]))["handle"])' "$work/restart-$round.json")
    if [[ $round == BATCH ]]; then
        PGAPPNAME=$lockapp psql_q -c "begin;
            lock table $schema.messages in exclusive mode;
            select pg_sleep(600)" >/dev/null 2>&1 &
        lockpid=$!
        for _ in $(seq 1 600); do
            [[ $(gw_sessions Lock) -ge 1 ]] && break
            sleep 0.05
        done
        [[ $(gw_sessions Lock) -ge 1 ]] ||
            fail "no move task batch waits on the locked messages table"
    fi
    kill "-$sig" "$rpid"
    set +e
    wait "$rpid"
    rc=$?
    set -e
    rpid=
    if [[ $sig == KILL ]]; then
        [[ $rc -eq 137 ]] || fail "txq-sqs exited $rc after SIGKILL"
    else
        [[ $rc -eq 0 ]] || fail "txq-sqs exited $rc after SIGTERM"
    fi
    if [[ $round == BATCH ]]; then
        # The held batch goes on once the lock goes, finds its client gone
        # and rolls back.
        psql_q -c "select pg_terminate_backend(pid) from pg_stat_activity
            where application_name = '$lockapp'" >/dev/null
        wait "$lockpid" || true
        for _ in $(seq 1 600); do
            [[ $(gw_sessions) -eq 0 ]] && break
            sleep 0.05
        done
        [[ $(gw_sessions) -eq 0 ]] ||
            fail "the killed txq-sqs's sessions outlive it"
    fi
    # What the dead txq-sqs left: the task running, part of its 30
    # (sqs_movetask_restart.py's N) moved, and the rest still in the
    # dead-letter queue.
    row=$(psql_q -c "select t.status, t.moved, t.to_move,
        (select count(*) from $schema.messages m
          where m.queue_id = t.source_queue_id)
        from $schema.move_tasks t where t.task_id = $handle")
    if ! [[ $row =~ ^RUNNING\|([0-9]+)\|30\|([0-9]+)$ ]] ||
        ((BASH_REMATCH[1] == 0 || BASH_REMATCH[1] >= 30 ||
            BASH_REMATCH[1] + BASH_REMATCH[2] != 30)); then
        fail "after SIG$sig the task is not part-way: $row"
    fi
    echo "test_sqs: move task $handle: SIG$sig$([[ $round == BATCH ]] &&
        echo ' in a batch') with $row (status|moved|to_move|left)"
    restart_sqs "after-$round"
    restart_py finish "$round"
    echo "test_sqs: move task $handle: finished by the next txq-sqs," \
        "every message once"
done
kill -TERM "$rpid"
set +e
wait "$rpid"
rc=$?
set -e
rpid=
[[ $rc -eq 0 ]] || fail "the last restarted txq-sqs exited $rc after SIGTERM"

"${launch[@]}" "$build/txq-sqs" --db "$dsn user=$gw" --schema "$schema" \
    --credentials "$creds" --receipt-key "$work/receipt.key" \
    --listen 127.0.0.1:0 --poll-interval 60 --pool-size 4 \
    --log-level debug 2>"$work/sqs.log" &
pid=$!
port=
for _ in $(seq 1 600); do
    port=$(sed -n 's/.*msg=listening .*port=\([0-9]*\).*/\1/p' "$work/sqs.log")
    [[ -n $port ]] && break
    kill -0 "$pid" 2>/dev/null || fail "txq-sqs exited at start"
    sleep 0.05
done
[[ -n $port ]] || fail "txq-sqs did not start listening"
endpoint=http://127.0.0.1:$port
echo "test_sqs: txq-sqs at $endpoint (schema $schema)"

export SQS_ENDPOINT=$endpoint SQS_LOG=$work/sqs.log SQS_PREFIX=t$tag
export SQS_KEY_APP=AKIDAPP0000000000001
export SQS_SECRET_APP=app-secret-0000000000000000000000000000
export SQS_KEY_NONE=AKIDNONE000000000002
export SQS_SECRET_NONE=none-secret-000000000000000000000000000
# AddPermission names the second key's account; the clients' suites check
# headers and grants with SQL.
export SQS_ACCOUNT_NONE=222222222222 SQS_ROLE_NONE=$none
export SQS_DSN=$dsn SQS_SCHEMA=$schema
export AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null
export AWS_SHARED_CREDENTIALS_FILE=/dev/null

echo "test_sqs: == boto3 $(/usr/bin/python3 -c 'import boto3; print(boto3.__version__)') (Debian, query protocol)"
/usr/bin/python3 "$src/tests/sqs/sqs_boto3.py" query || fail "boto3 (query)"
SQS_PREFIX=dq$tag /usr/bin/python3 "$src/tests/sqs/sqs_dlq_boto3.py" query ||
    fail "dead-letter queues, boto3 (query)"

echo "test_sqs: == aws CLI $(/usr/bin/aws --version 2>&1 | cut -d' ' -f1) (Debian, query protocol)"
SQS_PREFIX=c$tag bash "$src/tests/sqs/sqs_awscli.sh" /usr/bin/aws ||
    fail "aws CLI (query)"

echo "test_sqs: == @aws-sdk/client-sqs (node $(node --version), JSON protocol)"
nodedir=$build/sqs-node
sdk_version=3.1178.0
if ! [[ $(node -p "require('$nodedir/node_modules/@aws-sdk/client-sqs/package.json').version" 2>/dev/null) == "$sdk_version" ]]; then
    mkdir -p "$nodedir"
    npm install --prefix "$nodedir" --no-audit --no-fund --loglevel=error \
        "@aws-sdk/client-sqs@$sdk_version" >/dev/null ||
        fail "npm install @aws-sdk/client-sqs@$sdk_version"
fi
export AWS_SDK_JS_SUPPRESS_NODE_VERSION_WARNING=1 NODE_NO_WARNINGS=1
NODE_PATH=$nodedir/node_modules SQS_PREFIX=n$tag \
    node "$src/tests/sqs/sqs_node.cjs" || fail "@aws-sdk/client-sqs (JSON)"
NODE_PATH=$nodedir/node_modules SQS_PREFIX=nd$tag \
    node "$src/tests/sqs/sqs_dlq_node.cjs" ||
    fail "dead-letter queues, @aws-sdk/client-sqs (JSON)"

# A boto3 that speaks JSON 1.0, when the python3 on PATH has one.
pyjson=$(command -v python3 || true)
if [[ -n $pyjson && $(readlink -f "$pyjson") != $(readlink -f /usr/bin/python3) ]] &&
    "$pyjson" -c 'import boto3, sys; v = tuple(int(x) for x in boto3.__version__.split(".")[:3]); sys.exit(0 if v >= (1, 34, 90) else 1)' 2>/dev/null; then
    echo "test_sqs: == boto3 $("$pyjson" -c 'import boto3; print(boto3.__version__)') ($pyjson, JSON protocol)"
    SQS_PREFIX=j$tag "$pyjson" "$src/tests/sqs/sqs_boto3.py" json ||
        fail "boto3 (JSON)"
    SQS_PREFIX=jd$tag "$pyjson" "$src/tests/sqs/sqs_dlq_boto3.py" json ||
        fail "dead-letter queues, boto3 (JSON)"
else
    echo "test_sqs: (no JSON-speaking boto3 on PATH besides Debian's: JSON is covered by node)"
fi

# The aws CLI on PATH too, when it is another one (it may speak JSON).
awsjson=$(command -v aws || true)
if [[ -n $awsjson && $(readlink -f "$awsjson") != /usr/bin/aws ]]; then
    echo "test_sqs: == aws CLI $("$awsjson" --version 2>&1 | cut -d' ' -f1) ($awsjson)"
    SQS_PREFIX=k$tag bash "$src/tests/sqs/sqs_awscli.sh" "$awsjson" ||
        fail "aws CLI ($awsjson)"
fi

# The README's boto3 example, as it stands there but for the port.
readme_py=$(awk '/^## Use txq from any language/ { s = 1 }
    s && /^```python$/ { p = 1; next } p && /^```$/ { exit } p' "$src/README.md")
[[ -n $readme_py ]] ||
    fail "README.md has no python block under 'Use txq from any language'"
out=$(sed "s|http://127.0.0.1:9324|$endpoint|" <<<"$readme_py" |
    /usr/bin/python3 - 2>&1) || fail "the README's boto3 example failed: $out"
[[ $out == '{"order": 42}' ]] ||
    fail "the README's boto3 example printed '$out', not '{\"order\": 42}'"
echo "test_sqs: the README's boto3 example works as written"

# SQL and HTTP share the queue: a send rolled back in SQL is never
# received over HTTP; one inside an open transaction is invisible until
# its commit, which wakes the HTTP long poll that was waiting.
export AWS_ACCESS_KEY_ID=$SQS_KEY_APP AWS_SECRET_ACCESS_KEY=$SQS_SECRET_APP
export AWS_DEFAULT_REGION=us-east-1
xq=$(/usr/bin/aws --endpoint-url "$endpoint" --output text sqs create-queue \
    --queue-name "x$tag")
# Rolled back before the poll starts: a sender that rolls back has taken
# the registrations it saw (txq._wake), leaving those waiters to their
# poll interval.
psql_q -c "begin; select $schema.send('x$tag', convert_to('rolled back', 'UTF8'));
    rollback;" >/dev/null
(
    /usr/bin/aws --endpoint-url "$endpoint" --output text sqs receive-message \
        --queue-url "$xq" --wait-time-seconds 15 --max-number-of-messages 10 \
        --query 'Messages[].Body' >"$work/x.out" 2>&1
    date +%s%N >"$work/x.end"
) &
xpoll=$!
for _ in $(seq 1 200); do
    grep -q "long poll waiting.*queue=x$tag" "$work/sqs.log" && break
    sleep 0.05
done
t0=$(date +%s%N)
psql_q -c "begin; select $schema.send('x$tag', convert_to('from sql', 'UTF8'));
    select pg_sleep(1.5); commit;" >/dev/null
tc=$(date +%s%N)
wait "$xpoll" || fail "the long poll failed: $(cat "$work/x.out")"
te=$(cat "$work/x.end")
[[ $(cat "$work/x.out") == "from sql" ]] ||
    fail "SQL send over HTTP: got '$(cat "$work/x.out")'"
(((te - t0) / 1000000 >= 1400)) ||
    fail "a send not yet committed was received"
# The aws CLI's own exit is in this figure (the clients' suites measure
# the wake-up itself); a poll would take 60 s, the wait ends at 15 s.
(((te - tc) / 1000000 < 10000)) ||
    fail "the commit did not wake the long poll ($(((te - tc) / 1000000)) ms)"
echo "test_sqs: SQL send in a transaction: received over HTTP" \
    "$(((te - tc) / 1000000)) ms after its commit (aws CLI exit included)," \
    "the rolled-back one never"

# An outage: the database refuses txq-sqs's login for 6 s and ends its
# sessions. It tries again after a growing pause (0.1 s up to 2 s), never
# in a loop, and serves again once the login works.
before=$(grep -c 'cannot connect to the database' "$work/sqs.log" || true)
psql_q >/dev/null <<SQL
alter role $gw nologin;
select count(pg_terminate_backend(pid)) from pg_stat_activity
 where usename = '$gw';
SQL
sleep 6
psql_q -c "alter role $gw login" >/dev/null
tries=$(($(grep -c 'cannot connect to the database' "$work/sqs.log") - before))
((tries >= 3 && tries <= 30)) ||
    fail "6 s of refused logins: $tries connection attempts (want 3-30)"
/usr/bin/aws --endpoint-url "$endpoint" sqs list-queues >/dev/null ||
    fail "txq-sqs did not serve again after the outage"
echo "test_sqs: an outage of 6 s: $tries connection attempts, then served again"

# SIGHUP reloads the credentials: a key added to the file works after it.
echo "AKIDNEW0000000000003 new-secret-0000000000000000000000000000 $app" >>"$creds"
kill -HUP "$pid"
for _ in $(seq 1 600); do
    grep -q 'credentials reloaded' "$work/sqs.log" && break
    sleep 0.05
done
AWS_ACCESS_KEY_ID=AKIDNEW0000000000003 \
    AWS_SECRET_ACCESS_KEY=new-secret-0000000000000000000000000000 \
    /usr/bin/aws --endpoint-url "$endpoint" sqs list-queues >/dev/null ||
    fail "a key added before SIGHUP is refused"
echo "test_sqs: SIGHUP: a new key works"

# SIGTERM drains: a long poll in flight is answered at once (empty), and
# the process exits 0.
export AWS_ACCESS_KEY_ID=$SQS_KEY_APP AWS_SECRET_ACCESS_KEY=$SQS_SECRET_APP
drainq=$(/usr/bin/aws --endpoint-url "$endpoint" --output text sqs \
    create-queue --queue-name "d$tag")
/usr/bin/aws --endpoint-url "$endpoint" sqs receive-message \
    --queue-url "$drainq" --wait-time-seconds 20 >"$work/drain.out" 2>&1 &
poller=$!
for _ in $(seq 1 200); do
    grep -q "long poll waiting.*queue=d$tag" "$work/sqs.log" && break
    sleep 0.05
done
grep -q "long poll waiting.*queue=d$tag" "$work/sqs.log" ||
    fail "the long poll did not start"
t0=$(date +%s%N)
kill -TERM "$pid"
wait "$poller" || fail "the long poll in flight failed at SIGTERM: $(cat "$work/drain.out")"
for _ in $(seq 1 600); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
done
set +e
wait "$pid"
rc=$?
set -e
pid=
[[ $rc -eq 0 ]] || fail "txq-sqs exited $rc after SIGTERM"
took=$((($(date +%s%N) - t0) / 1000000))
# Well before the long poll's 20 s: it was answered, not waited out.
((took < 10000)) || fail "drain took $took ms"
echo "test_sqs: SIGTERM: drained in $took ms, exit 0"
grep -q 'msg=stopped' "$work/sqs.log" || fail "no 'stopped' line after SIGTERM"
echo "test_sqs: all passed"
