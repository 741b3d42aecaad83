#!/usr/bin/env bash
# pgbouncer_fixture.sh - a PostgreSQL cluster behind two PgBouncers, for
# tests/test_pgbouncer.c.
#
#   tests/pgbouncer_fixture.sh start|stop|env BUILD_DIR [TX_PORT [SESSION_PORT]]
#
# Everything lives in /tmp/txq-pgb-<first 8 hex of md5(BUILD_DIR)>, as in
# tests/pg_fixture.sh; CMakeLists.txt computes the same directory and ports.
# TX_PORT defaults to 26000 + 2 * ((hex digits 9-12 of that md5) mod 1000),
# SESSION_PORT to TX_PORT + 1: below Linux's ephemeral range, and apart from
# the other fixtures' ranges (pg_tls_fixture.sh uses 21000 and up).
#
#   start  wipe any old directory there; initdb and start a cluster that
#          listens on a unix socket in the directory only (trust); start
#          two pgbouncers on 127.0.0.1 in front of it, both with
#          auth_type = scram-sha-256 against a userlist file holding a
#          random password for postgres:
#            TX_PORT       pool_mode = transaction, server_round_robin = 1
#                          (successive transactions of one client land on
#                          different server connections, as on a busy
#                          pool)
#            SESSION_PORT  pool_mode = session
#          and check that each answers a query made with that password
#   stop   stop both pgbouncers and the cluster, remove the directory
#   env    print `export ...=` lines: TXQ_TEST_DSN (the cluster, directly),
#          TXQ_PGB_DSN (transaction pooling), TXQ_PGB_SESSION_DSN (session
#          pooling), TXQ_PGB_DIR
#
# The directory, 0700 and owned by the server's user (postgres when run as
# root, through runuser; the pgbouncers run as that user too):
#   data/ sock/        the cluster's data and socket
#   userlist.txt       pgbouncer's auth_file (0600)
#   pgb-transaction.ini pgb-session.ini, their .log and .pid files
#   client/pgpass      the password for libpq (passfile=, 0600, owned by
#                      the caller)
# Any failure exits non-zero with a message: a missing pgbouncer fails the
# test run, it never skips it.
set -euo pipefail

die() {
    echo "pgbouncer_fixture: error: $*" >&2
    exit 1
}

usage() {
    echo "usage: $0 start|stop|env BUILD_DIR [TX_PORT [SESSION_PORT]]" >&2
    exit 2
}

[[ $# -ge 2 && $# -le 4 ]] || usage
cmd=$1
build_dir=$2
[[ -n $build_dir ]] || usage

hash=$(printf '%s' "$build_dir" | md5sum | cut -c1-32)
dir=/tmp/txq-pgb-${hash:0:8}
port=${3:-$((26000 + 2 * (16#${hash:8:4} % 1000)))}
session_port=${4:-$((port + 1))}
[[ $port =~ ^[0-9]+$ ]] || die "TX_PORT must be a number, got '$port'"
[[ $session_port =~ ^[0-9]+$ ]] ||
    die "SESSION_PORT must be a number, got '$session_port'"

pooled_dsn() {
    printf '%s' "host=127.0.0.1 port=$1 user=postgres dbname=postgres" \
        " passfile=$dir/client/pgpass"
}

print_env() {
    cat <<EOF
export TXQ_TEST_DSN='host=$dir/sock port=$port user=postgres dbname=postgres'
export TXQ_PGB_DSN='$(pooled_dsn "$port")'
export TXQ_PGB_SESSION_DSN='$(pooled_dsn "$session_port")'
export TXQ_PGB_DIR=$dir
EOF
}

case $cmd in
env)
    print_env
    exit 0
    ;;
start | stop) ;;
*) usage ;;
esac

# find_bindir, require_server, as_owner, initdb_locale
# shellcheck source=tests/pg_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/pg_common.sh"

require_server
pgbouncer=$(command -v pgbouncer 2>/dev/null || true)
if [[ -z $pgbouncer && -x /usr/sbin/pgbouncer ]]; then
    pgbouncer=/usr/sbin/pgbouncer
fi
[[ -n $pgbouncer ]] || die "pgbouncer not found (install the pgbouncer package)"

# The postgres user may not be able to enter the caller's directory.
cd /

# stop_bouncer MODE: end the pgbouncer of MODE (immediate shutdown).
stop_bouncer() {
    local pidfile=$dir/pgb-$1.pid pid i
    [[ -f $pidfile ]] || return 0
    pid=$(cat "$pidfile" 2>/dev/null || true)
    [[ $pid =~ ^[0-9]+$ ]] || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
}

stop_all() {
    local mode=$1
    stop_bouncer transaction
    stop_bouncer session
    if [[ -f $dir/data/PG_VERSION ]] &&
        as_owner "$bindir/pg_ctl" status -D "$dir/data" >/dev/null 2>&1; then
        as_owner "$bindir/pg_ctl" stop -D "$dir/data" -m "$mode" -w -t 60 \
            >/dev/null || die "pg_ctl stop failed for $dir/data"
    fi
    if [[ -e $dir || -L $dir ]]; then
        rm -rf "$dir" || die "cannot remove $dir"
    fi
}

# start_bouncer MODE PORT
start_bouncer() {
    local mode=$1 p=$2 ini=$dir/pgb-$1.ini out
    cat >"$ini" <<EOF
; txq test fixture (tests/pgbouncer_fixture.sh): $mode pooling
[databases]
postgres = host=$dir/sock port=$port dbname=postgres

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $p
unix_socket_dir =
auth_type = scram-sha-256
auth_file = $dir/userlist.txt
admin_users = postgres
pool_mode = $mode
default_pool_size = 8
max_client_conn = 200
server_round_robin = 1
logfile = $dir/pgb-$mode.log
pidfile = $dir/pgb-$mode.pid
EOF
    [[ $(id -u) -ne 0 ]] || chown postgres:postgres "$ini" ||
        die "cannot chown $ini"
    if ! out=$(as_owner "$pgbouncer" -d -q "$ini" 2>&1); then
        echo "$out" >&2
        tail -n 30 "$dir/pgb-$mode.log" >&2 2>/dev/null || true
        die "pgbouncer ($mode pooling) did not start on 127.0.0.1:$p"
    fi
}

# check_bouncer MODE PORT: a query through it, with the password.
check_bouncer() {
    local mode=$1 p=$2 out i
    for ((i = 0; i < 50; i++)); do
        if out=$("$bindir/psql" -X -q -At -v ON_ERROR_STOP=1 \
            "$(pooled_dsn "$p")" -c 'select 1' 2>&1) && [[ $out == 1 ]]; then
            return 0
        fi
        sleep 0.1
    done
    echo "$out" >&2
    tail -n 30 "$dir/pgb-$mode.log" >&2 2>/dev/null || true
    die "pgbouncer ($mode pooling) does not answer on 127.0.0.1:$p"
}

case $cmd in
stop)
    stop_all fast
    echo "pgbouncer_fixture: stopped and removed $dir"
    ;;
start)
    stop_all immediate
    mkdir -m 0700 "$dir" "$dir/sock" "$dir/client" ||
        die "cannot create $dir"
    if [[ $(id -u) -eq 0 ]]; then
        chown postgres:postgres "$dir" "$dir/sock" ||
            die "cannot chown $dir to postgres"
    fi
    if ! as_owner "$bindir/initdb" -D "$dir/data" --auth=trust -U postgres \
        --encoding=UTF8 --locale="$(initdb_locale)" >"$dir/initdb.log" 2>&1; then
        cat "$dir/initdb.log" >&2 || true
        die "initdb failed in $dir/data"
    fi
    cat >>"$dir/data/postgresql.conf" <<EOF

# txq PgBouncer test fixture (tests/pgbouncer_fixture.sh)
listen_addresses = ''
unix_socket_directories = '$dir/sock'
port = $port
fsync = off
max_connections = 100
shared_buffers = 32MB
log_min_messages = warning
EOF
    if ! as_owner "$bindir/pg_ctl" start -D "$dir/data" -l "$dir/postgres.log" \
        -w -t 60 >/dev/null; then
        tail -n 50 "$dir/postgres.log" >&2 || true
        die "PostgreSQL did not start (data $dir/data)"
    fi

    pw=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
    [[ ${#pw} -eq 32 ]] || die "cannot read /dev/urandom"
    (umask 077 && printf '"postgres" "%s"\n' "$pw" >"$dir/userlist.txt" &&
        printf '127.0.0.1:*:*:postgres:%s\n' "$pw" >"$dir/client/pgpass") ||
        die "cannot write the password files"
    if [[ $(id -u) -eq 0 ]]; then
        chown postgres:postgres "$dir/userlist.txt" ||
            die "cannot chown $dir/userlist.txt"
    fi

    start_bouncer transaction "$port"
    start_bouncer session "$session_port"
    check_bouncer transaction "$port"
    check_bouncer session "$session_port"
    echo "pgbouncer_fixture: PostgreSQL" \
        "$("$bindir/pg_ctl" --version | awk '{print $3}') in $dir behind" \
        "$("$pgbouncer" --version | head -n 1): transaction pooling on" \
        "127.0.0.1:$port, session pooling on 127.0.0.1:$session_port"
    ;;
esac
