#!/usr/bin/env bash
# console_test.sh - test_console: `txq console` against the ctest fixture's
# PostgreSQL (TXQ_TEST_DSN), with curl and in headless Chromium.
#
#   console_test.sh BUILD_DIR SOURCE_DIR
#
# Migrates a schema of its own and makes two login roles that need their
# passwords (members of txq_password_auth, see tests/pg_fixture.sh): an
# operator (txq_operator) and a role with no grant at all. A queue whose
# sql: handler fails for good on a body without "fixed" (on_exhausted
# notify: a dead letter and an alert), served by a txq-worker; one
# message whose body holds <script>. Then:
#   - curl: the login (bad password, a role the server lets in without
#     one, a foreign Origin), Host checks, POSTs without a form token, with
#     a wrong one, without an Origin, from another Origin: each refused
#     and nothing changed; the same POST with all of it changes the queue;
#     the markup escapes <script>; the role without rights sees no queues
#     and its action POST is refused (403) with nothing changed; a role
#     with monitor on one queue sees only it, and txq refuses its purge;
#   - a session expires after --idle-timeout despite the page's refreshes;
#   - Chromium (Debian's /usr/bin/chromium, driven by playwright-core,
#     installed with npm into BUILD_DIR/console-node on first use):
#     console_browser.cjs logs in, finds the dead letter, fixes its body,
#     requeues it, watches the worker process it on the queue page, and
#     takes the screenshots BUILD_DIR/console-shots/*.png.
# A missing Chromium, node, npm or playwright-core fails the test: it
# never skips.
set -euo pipefail

build=${1:?build dir}
src=${2:?source dir}
dsn=${TXQ_TEST_DSN:?TXQ_TEST_DSN is not set: run through ctest (fixture pg_start)}
# Under ./run test --valgrind, the memcheck command line the programs
# started here run under (TXQ_VALGRIND in CMakeLists.txt); empty otherwise.
read -r -a launch <<<"${TXQ_TEST_LAUNCH:-}"

fail() {
    echo "test_console: FAIL: $*" >&2
    exit 1
}

chromium=${TXQ_CHROMIUM:-/usr/bin/chromium}
[[ -x $chromium ]] ||
    fail "$chromium is missing (Debian's chromium); ./run build installs it"
for t in node npm curl psql; do
    command -v "$t" >/dev/null 2>&1 || fail "$t is missing; ./run build installs it"
done
(($(node -p 'process.versions.node.split(".")[0]') >= 20)) ||
    fail "node $(node --version) is too old for playwright-core (node >= 20)"

tag=$$
schema=con_t_$tag
op=con_op_$tag
nobody=con_none_$tag
op_pw="op-pw-$tag-$RANDOM$RANDOM"
nobody_pw="none-pw-$tag-$RANDOM$RANDOM"
work=$(mktemp -d "${TMPDIR:-/tmp}/txq-console-test.XXXXXX")
shots=$build/console-shots
console_pid=
worker_pid=

psql_q() {
    psql "$dsn" -X -q -v ON_ERROR_STOP=1 -At "$@"
}

cleanup() {
    local rc=$?
    for p in "$console_pid" "$worker_pid"; do
        if [[ -n $p ]] && kill -0 "$p" 2>/dev/null; then
            kill -TERM "$p" 2>/dev/null || true
            for _ in $(seq 1 50); do
                kill -0 "$p" 2>/dev/null || break
                sleep 0.1
            done
            kill -KILL "$p" 2>/dev/null || true
        fi
    done
    psql_q -c "set client_min_messages = warning;
        drop schema if exists $schema cascade;
        drop role if exists $op; drop role if exists $nobody;
        drop role if exists con_mon_$tag;" \
        >/dev/null 2>&1 || true
    if [[ $rc -ne 0 ]]; then
        for f in console.log worker.log; do
            [[ -f $work/$f ]] || continue
            echo "--- $f (last 40 lines) ---" >&2
            tail -n 40 "$work/$f" >&2
        done
    fi
    [[ -n ${TXQ_CONSOLE_KEEP:-} ]] || rm -rf "$work"
    exit $rc
}
trap cleanup EXIT

"${launch[@]}" "$build/txq" --db "$dsn" --schema "$schema" migrate >/dev/null ||
    fail "txq migrate"
"${launch[@]}" "$build/txq" --db "$dsn" --schema "$schema" queue create orders \
    --on-exhausted notify --max-attempts 3 >/dev/null || fail "queue create"
"${launch[@]}" "$build/txq" --db "$dsn" --schema "$schema" queue create emails \
    >/dev/null || fail "queue create"
psql_q >/dev/null <<SQL
set client_min_messages = warning;
create role $op login password '$op_pw' in role txq_operator, txq_password_auth;
create role $nobody login password '$nobody_pw' in role txq_password_auth;
create table $schema.processed (id bigint, body text);
create function $schema.handle_order(m $schema.message) returns void
language plpgsql as \$\$
declare
    p jsonb := convert_from(m.body, 'UTF8')::jsonb;
begin
    if not coalesce((p->>'fixed')::boolean, false) then
        raise exception 'order %: currency <script>alert("err")</script> unknown',
            p->>'n' using errcode = 'TQ001';
    end if;
    insert into $schema.processed values (m.id, convert_from(m.body, 'UTF8'));
end
\$\$;
SQL
for i in 1 2 3; do
    "${launch[@]}" "$build/txq" --db "$dsn" --schema "$schema" send emails "mail $i" \
        >/dev/null || fail "send"
done

"${launch[@]}" "$build/txq-worker" --db "$dsn" --schema "$schema" \
    --handle "orders=sql:$schema.handle_order" --poll-interval 0.2 \
    2>"$work/worker.log" &
worker_pid=$!
dead_id=$("${launch[@]}" "$build/txq" --db "$dsn" --schema "$schema" send orders \
    "{\"n\":7,\"note\":\"<script>alert('body')</script>\"}") || fail "send"
for _ in $(seq 1 600); do
    [[ $(psql_q -c "select count(*) from $schema.dead_letters") == 1 ]] && break
    sleep 0.1
done
[[ $(psql_q -c "select id from $schema.dead_letters") == "$dead_id" ]] ||
    fail "message $dead_id did not become a dead letter"
echo "test_console: dead letter $dead_id (the handler's permanent failure)"

"${launch[@]}" "$build/txq" --db "$dsn" --schema "$schema" console --listen 127.0.0.1:0 \
    --log-level debug 2>"$work/console.log" &
console_pid=$!
port=
for _ in $(seq 1 600); do
    port=$(sed -n 's/.*msg=listening .*port=\([0-9]*\).*/\1/p' "$work/console.log")
    [[ -n $port ]] && break
    kill -0 "$console_pid" 2>/dev/null || fail "txq console exited at start"
    sleep 0.05
done
[[ -n $port ]] || fail "txq console did not start listening"
base=http://127.0.0.1:$port
origin="Origin: $base"
echo "test_console: txq console at $base (schema $schema)"

# code METHOD-ARGS...: the HTTP status of a curl request.
code() {
    curl -s -o "$work/last.html" -w '%{http_code}' "$@"
}
expect() {
    local want=$1 what=$2 got
    shift 2
    got=$(code "$@") || fail "$what: curl failed"
    [[ $got == "$want" ]] || fail "$what: HTTP $got, expected $want"
    echo "test_console: ok: $what (HTTP $got)"
}
paused() {
    psql_q -c "select paused from $schema.queue_stats where queue = 'emails'"
}

# --- login ---
expect 303 "a page without a session goes to the login" "$base/"
expect 401 "a bad password is refused" -H "$origin" \
    --data-urlencode "role=$op" --data-urlencode "password=wrong" "$base/login"
grep -q 'login failed' "$work/last.html" || fail "no login failure shown"
expect 401 "a role the server lets in without a password is refused" \
    -H "$origin" --data 'role=postgres&password=anything' "$base/login"
expect 403 "a login from another Origin is refused" \
    -H 'Origin: http://evil.example' --data-urlencode "role=$op" \
    --data-urlencode "password=$op_pw" "$base/login"
expect 421 "another Host name (DNS rebinding) is refused" \
    -H "Host: evil.example:$port" "$base/login"
grep -q "$op_pw" "$work/console.log" && fail "the password was logged"

jar=$work/op.jar
expect 303 "the operator logs in" -c "$jar" -H "$origin" \
    --data-urlencode "role=$op" --data-urlencode "password=$op_pw" "$base/login"
grep -q 'txq_console' "$jar" || fail "no session cookie"
curl -s -D "$work/h.txt" -o /dev/null -H "$origin" --data-urlencode "role=$op" \
    --data-urlencode "password=$op_pw" "$base/login"
grep -i '^set-cookie:' "$work/h.txt" | grep -q 'HttpOnly' &&
    grep -i '^set-cookie:' "$work/h.txt" | grep -q 'SameSite=Strict' ||
    fail "the cookie lacks HttpOnly or SameSite=Strict: $(grep -i set-cookie "$work/h.txt")"
expect 200 "the queues page" -b "$jar" "$base/"
grep -q '>orders<' "$work/last.html" && grep -q '>emails<' "$work/last.html" ||
    fail "the queues page does not list both queues"
csrf=$(sed -n 's/.*name="csrf" value="\([0-9a-f]*\)".*/\1/p' "$work/last.html" | head -n 1)
[[ ${#csrf} == 64 ]] || fail "no form token on the page"

# --- escaping ---
expect 200 "the dead letter's page" -b "$jar" "$base/dead?id=$dead_id"
grep -q '<script>alert' "$work/last.html" && fail "unescaped <script> in the page"
grep -q '&lt;script&gt;alert(&#39;body&#39;)&lt;/script&gt;' "$work/last.html" ||
    fail "the body is not shown escaped"
grep -q '&lt;script&gt;alert(&quot;err&quot;)&lt;/script&gt;' "$work/last.html" ||
    fail "the error history is not shown escaped"

# --- CSRF: each of these changes nothing ---
[[ $(paused) == f ]] || fail "emails paused before the test"
expect 403 "a POST without a form token is refused" -b "$jar" -H "$origin" \
    --data 'name=emails' "$base/action/pause"
expect 403 "a POST with a wrong form token is refused" -b "$jar" -H "$origin" \
    --data "name=emails&csrf=${csrf:0:63}$([[ ${csrf:63} == 0 ]] && echo 1 || echo 0)" \
    "$base/action/pause"
expect 403 "a POST with the token but no Origin or Referer is refused" \
    -b "$jar" --data "name=emails&csrf=$csrf" "$base/action/pause"
expect 403 "a POST with the token from another Origin is refused" -b "$jar" \
    -H 'Origin: http://evil.example' --data "name=emails&csrf=$csrf" \
    "$base/action/pause"
expect 403 "a POST with another site's Referer is refused" -b "$jar" \
    -H 'Referer: http://evil.example/' --data "name=emails&csrf=$csrf" \
    "$base/action/pause"
expect 403 "a POST without the session cookie is refused" -H "$origin" \
    --data "name=emails&csrf=$csrf" "$base/action/pause"
[[ $(paused) == f ]] || fail "a refused POST paused the queue"
expect 303 "the same POST with token and Origin pauses" -b "$jar" \
    -H "$origin" --data "name=emails&csrf=$csrf&reason=test" \
    "$base/action/pause"
[[ $(paused) == t ]] || fail "the pause did not take"
expect 303 "and with the Referer instead of the Origin resumes" -b "$jar" \
    -H "Referer: $base/queue?name=emails" --data "name=emails&csrf=$csrf" \
    "$base/action/resume"
[[ $(paused) == f ]] || fail "the resume did not take"
expect 400 "a purge without a reason is refused" -b "$jar" -H "$origin" \
    --data "name=emails&csrf=$csrf&reason=" "$base/action/purge"
[[ $(psql_q -c "select depth from $schema.queue_stats where queue = 'emails'") == 3 ]] ||
    fail "the refused purge changed the queue"

# --- a role without rights ---
njar=$work/none.jar
expect 303 "the role without rights logs in" -c "$njar" -H "$origin" \
    --data-urlencode "role=$nobody" --data-urlencode "password=$nobody_pw" \
    "$base/login"
expect 200 "its queues page" -b "$njar" "$base/"
grep -q 'may see no queues' "$work/last.html" || fail "it was shown queues"
grep -q '>orders<' "$work/last.html" && fail "it sees the queue orders"
ncsrf=$(sed -n 's/.*name="csrf" value="\([0-9a-f]*\)".*/\1/p' "$work/last.html" | head -n 1)
expect 403 "its purge is refused (42501)" -b "$njar" -H "$origin" \
    --data "name=emails&csrf=$ncsrf&reason=not+mine" "$base/action/purge"
grep -qi 'permission denied' "$work/last.html" || fail "no refusal shown"
expect 403 "its requeue is refused (42501)" -b "$njar" -H "$origin" \
    --data "id=$dead_id&queue=orders&csrf=$ncsrf" "$base/action/requeue"
expect 404 "it cannot see the dead letter" -b "$njar" "$base/dead?id=$dead_id"
expect 403 "the operator's token is no good in its session" -b "$njar" \
    -H "$origin" --data "name=emails&csrf=$csrf&reason=x" "$base/action/purge"
[[ $(psql_q -c "select depth from $schema.queue_stats where queue = 'emails'") == 3 &&
    $(psql_q -c "select count(*) from $schema.dead_letters") == 1 ]] ||
    fail "a refused action of the role without rights changed something"
expect 303 "it logs out" -b "$njar" -H "$origin" --data "csrf=$ncsrf" \
    "$base/logout"
expect 303 "its session is gone" -b "$njar" "$base/"

# --- a role with monitor on emails only: txq's own grant checks refuse ---
mon=con_mon_$tag
mon_pw="mon-pw-$tag-$RANDOM$RANDOM"
psql_q -c "create role $mon login password '$mon_pw' in role txq_password_auth;
    select $schema.grant('emails', '$mon', array['monitor'])" >/dev/null
mjar=$work/mon.jar
expect 303 "a role with monitor on emails logs in" -c "$mjar" -H "$origin" \
    --data-urlencode "role=$mon" --data-urlencode "password=$mon_pw" \
    "$base/login"
expect 200 "its queues page" -b "$mjar" "$base/"
grep -q '>emails<' "$work/last.html" && ! grep -q '>orders<' "$work/last.html" ||
    fail "it does not see exactly emails"
mcsrf=$(sed -n 's/.*name="csrf" value="\([0-9a-f]*\)".*/\1/p' "$work/last.html" | head -n 1)
expect 403 "its purge of emails is refused by txq (lacks operate)" -b "$mjar" \
    -H "$origin" --data "name=emails&csrf=$mcsrf&reason=x" "$base/action/purge"
grep -q 'lacks &quot;operate&quot;' "$work/last.html" ||
    fail "not txq's refusal: $(grep -o 'flash error[^<]*<*[^<]*' "$work/last.html")"
expect 403 "its requeue of an orders dead letter is refused" -b "$mjar" \
    -H "$origin" --data "id=$dead_id&queue=orders&csrf=$mcsrf" \
    "$base/action/requeue"
[[ $(psql_q -c "select depth from $schema.queue_stats where queue = 'emails'") == 3 &&
    $(psql_q -c "select count(*) from $schema.dead_letters") == 1 ]] ||
    fail "a refused action of the monitor changed something"
psql_q -c "select $schema.revoke('emails', '$mon'); drop role $mon" >/dev/null

# --- the idle timeout: a second console that forgets a session after 1 s;
# the pages' own refreshes do not keep it alive ---
"${launch[@]}" "$build/txq" --db "$dsn" --schema "$schema" console --listen 127.0.0.1:0 \
    --idle-timeout 1 2>"$work/idle.log" &
idle_pid=$!
iport=
for _ in $(seq 1 600); do
    iport=$(sed -n 's/.*msg=listening .*port=\([0-9]*\).*/\1/p' "$work/idle.log")
    [[ -n $iport ]] && break
    sleep 0.05
done
[[ -n $iport ]] || fail "the second console did not start listening"
ijar=$work/idle.jar
expect 303 "a login to the second console" -c "$ijar" \
    -H "Origin: http://127.0.0.1:$iport" --data-urlencode "role=$op" \
    --data-urlencode "password=$op_pw" "http://127.0.0.1:$iport/login"
expect 200 "its session works" -b "$ijar" "http://127.0.0.1:$iport/"
for _ in 1 2 3; do
    sleep 0.8
    code -b "$ijar" "http://127.0.0.1:$iport/fragment/queues" >/dev/null
done
expect 303 "after 2.4 s of refreshes only, the session has expired" -b "$ijar" \
    "http://127.0.0.1:$iport/"
grep -q 'msg="session expired"' "$work/idle.log" || fail "no expiry logged"
kill -TERM "$idle_pid"
wait "$idle_pid" || fail "the second console did not exit 0 on SIGTERM"

# --- in the browser ---
nodedir=$build/console-node
pw_version=1.65.2
if ! [[ $(node -p "require('$nodedir/node_modules/playwright-core/package.json').version" 2>/dev/null) == "$pw_version" ]]; then
    mkdir -p "$nodedir"
    npm install --prefix "$nodedir" --no-audit --no-fund --loglevel=error \
        "playwright-core@$pw_version" >/dev/null ||
        fail "npm install playwright-core@$pw_version"
fi
mkdir -p "$shots"
echo "test_console: == Chromium $("$chromium" --version 2>/dev/null | awk '{print $2}'), playwright-core $pw_version"
NODE_PATH=$nodedir/node_modules CONSOLE_URL=$base CHROMIUM=$chromium \
    CONSOLE_SHOTS=$shots CONSOLE_OP=$op CONSOLE_OP_PW=$op_pw \
    CONSOLE_NOBODY=$nobody CONSOLE_NOBODY_PW=$nobody_pw \
    CONSOLE_DEAD_ID=$dead_id CONSOLE_WORK=$work \
    node "$src/tests/console/console_browser.cjs" || fail "the browser test"
got=$(psql_q -c "select body from $schema.processed where id = $dead_id")
[[ $got == *'"fixed": true'* || $got == *'"fixed":true'* ]] ||
    fail "the worker did not process the fixed body (processed: '$got')"
echo "test_console: ok: the worker processed the fixed body: $got"
[[ $(psql_q -c "select string_agg(action || ':' || actor, ',' order by id)
                from $schema.audit_log where message_id = $dead_id") == "edit:$op,requeue:$op" ]] ||
    fail "the audit log does not name $op for the edit and the requeue"
grep -q "$op_pw\|$nobody_pw" "$work/console.log" && fail "a password was logged"

kill -TERM "$console_pid"
wait "$console_pid" || fail "txq console did not exit 0 on SIGTERM"
console_pid=
echo "test_console: screenshots: $shots/queues.png $shots/dead-letter.png $shots/queue-after.png $shots/refused.png"
echo "test_console: PASS"
