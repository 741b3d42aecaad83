#!/usr/bin/env bash
# pg_fixture.sh - a throwaway PostgreSQL cluster for txq's tests.
#
#   tests/pg_fixture.sh start|stop|env|crash|halt|resume BUILD_DIR [PORT]
#
# BUILD_DIR only names the cluster: it lives in /tmp/txq-pg-<first 8 hex of
# md5(BUILD_DIR)>, which the postgres user can reach even when BUILD_DIR sits
# inside a 0700 mktemp directory. CMakeLists.txt computes the same name with
# string(MD5) from the same string. PORT defaults to 55000 + (hex digits 9-12
# of that md5) mod 1000, again as CMake does. The server listens only on a
# unix socket in that directory, so the port never clashes with anything.
#
#   start  wipe any old cluster there, initdb, start it, check it answers
#   stop   stop it (fast) and remove the directory
#   env    print `export PG...=` lines (and TXQ_TEST_DSN) for a shell
#   crash  stop it with -m immediate (a crash: recovery at the next start),
#          keeping its data; the fault suite (tests/faults) uses these three
#   halt   stop it (fast), keeping its data
#   resume start the cluster that is there again
#
# The DSN is "host=/tmp/txq-pg-XXXXXXXX port=PORT user=postgres dbname=postgres".
# Every role logs in without a password (trust), but the members of the role
# txq_password_auth, which start makes: they need theirs (scram-sha-256).
# As root the server runs as the postgres user (runuser); otherwise as the
# current user. initdb -U postgres makes the superuser "postgres" either way.
# Any failure exits non-zero with a message: a database test is never skipped.
set -euo pipefail

die() {
    echo "pg_fixture: error: $*" >&2
    exit 1
}

usage() {
    echo "usage: $0 start|stop|env|crash|halt|resume BUILD_DIR [PORT]" >&2
    exit 2
}

[[ $# -ge 2 && $# -le 3 ]] || usage
cmd=$1
build_dir=$2
[[ -n $build_dir ]] || usage

hash=$(printf '%s' "$build_dir" | md5sum | cut -c1-32)
pgdir=/tmp/txq-pg-${hash:0:8}
port=${3:-$((55000 + 16#${hash:8:4} % 1000))}
[[ $port =~ ^[0-9]+$ ]] || die "PORT must be a number, got '$port'"
datadir=$pgdir/data
logfile=$pgdir/postgres.log

# find_bindir, require_server, as_owner, initdb_locale
# shellcheck source=tests/pg_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/pg_common.sh"

print_env() {
    cat <<EOF
export PGHOST=$pgdir
export PGPORT=$port
export PGUSER=postgres
export PGDATABASE=postgres
export TXQ_TEST_DSN='host=$pgdir port=$port user=postgres dbname=postgres'
EOF
}

# Stop whatever runs in $datadir (if anything) and remove $pgdir.
stop_cluster() {
    local mode=$1
    if [[ -f $datadir/PG_VERSION ]]; then
        if as_owner "$bindir/pg_ctl" status -D "$datadir" >/dev/null 2>&1; then
            as_owner "$bindir/pg_ctl" stop -D "$datadir" -m "$mode" -w -t 60 \
                >/dev/null ||
                die "pg_ctl stop failed for $datadir (log: $logfile)"
        fi
    fi
    if [[ -e $pgdir || -L $pgdir ]]; then
        rm -rf "$pgdir" || die "cannot remove $pgdir"
    fi
}

case $cmd in
env)
    print_env
    exit 0
    ;;
start | stop | crash | halt | resume) ;;
*) usage ;;
esac

require_server

# The postgres user may not be able to enter the caller's directory.
cd /

start_server() {
    if ! as_owner "$bindir/pg_ctl" start -D "$datadir" -l "$logfile" -w -t 60 \
        >/dev/null; then
        tail -n 50 "$logfile" >&2 || true
        die "PostgreSQL did not start (data $datadir, log $logfile)"
    fi
}

case $cmd in
crash | halt)
    [[ -f $datadir/PG_VERSION ]] || die "no cluster in $datadir"
    as_owner "$bindir/pg_ctl" stop -D "$datadir" -w -t 60 \
        -m "$([[ $cmd == crash ]] && echo immediate || echo fast)" \
        >/dev/null || die "pg_ctl stop failed for $datadir (log: $logfile)"
    ;;
resume)
    [[ -f $datadir/PG_VERSION ]] || die "no cluster in $datadir"
    start_server
    ;;
stop)
    stop_cluster fast
    echo "pg_fixture: stopped and removed $pgdir"
    ;;
start)
    stop_cluster immediate
    mkdir -m 0700 "$pgdir" || die "cannot create $pgdir"
    if [[ $(id -u) -eq 0 ]]; then
        chown postgres:postgres "$pgdir" || die "cannot chown $pgdir to postgres"
    fi

    if ! as_owner "$bindir/initdb" -D "$datadir" --auth=trust -U postgres \
        --encoding=UTF8 --locale="$(initdb_locale)" >"$pgdir/initdb.log" 2>&1; then
        cat "$pgdir/initdb.log" >&2 || true
        die "initdb failed in $datadir"
    fi

    cat >>"$datadir/postgresql.conf" <<EOF

# txq test fixture (tests/pg_fixture.sh)
listen_addresses = ''
unix_socket_directories = '$pgdir'
port = $port
fsync = off
max_connections = 200
shared_buffers = 128MB
log_min_messages = warning
EOF

    # Members of txq_password_auth log in with a password (scram), every
    # other role without: for tests of password logins (test_console).
    {
        echo 'local all +txq_password_auth scram-sha-256'
        cat "$datadir/pg_hba.conf"
    } >"$pgdir/pg_hba.conf.new" && as_owner cp "$pgdir/pg_hba.conf.new" \
        "$datadir/pg_hba.conf" && rm -f "$pgdir/pg_hba.conf.new" ||
        die "cannot write $datadir/pg_hba.conf"

    start_server
    if ! out=$(as_owner "$bindir/psql" -X -q -At -h "$pgdir" -p "$port" \
        -U postgres -d postgres -c 'create role txq_password_auth nologin;
        select 1' 2>&1) || [[ $out != 1 ]]; then
        echo "$out" >&2
        tail -n 50 "$logfile" >&2 || true
        die "PostgreSQL started but does not answer on $pgdir port $port"
    fi
    echo "pg_fixture: PostgreSQL $("$bindir/pg_ctl" --version | awk '{print $3}')" \
        "up: host=$pgdir port=$port user=postgres dbname=postgres"
    ;;
esac
