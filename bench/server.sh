# bench/server.sh - sourced by bench/run.sh and bench/w7.sh: a private
# PostgreSQL 15 in a /tmp scratch directory (initdb as postgres when run as
# root; unix socket only), stopped and removed on exit; the psql and sql
# helpers; the database bench. Expects say() and die() of the caller.
PGBIN=${TXQ_PG_BINDIR:-/usr/lib/postgresql/15/bin}
for b in initdb pg_ctl postgres psql pgbench; do
    [[ -x $PGBIN/$b ]] || die "$PGBIN/$b not found (apt-get install postgresql-15)"
done

as_owner() {
    if [[ $(id -u) -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

SCRATCH=$(mktemp -d /tmp/txq-bench.XXXXXX)
DATA=$SCRATCH/data
[[ $(id -u) -eq 0 ]] && chown postgres: "$SCRATCH"
stop_server() {
    if [[ -f $DATA/postmaster.pid ]]; then
        as_owner "$PGBIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$SCRATCH"
}
trap stop_server EXIT
trap 'exit 130' INT TERM

export PGHOST=$SCRATCH PGPORT=5432 PGUSER=postgres PGDATABASE=bench
export PGOPTIONS='-c client_min_messages=warning'
say "PostgreSQL in $SCRATCH"
(cd / && as_owner "$PGBIN/initdb" -D "$DATA" -U postgres --auth=trust \
    -E UTF8 --locale=C.UTF-8 >"$SCRATCH/initdb.log" 2>&1) ||
    die "initdb failed: $(tail -5 "$SCRATCH/initdb.log")"
# The only settings changed: where to listen. Everything else is the
# PostgreSQL default, durable (fsync, synchronous_commit on).
cat >>"$DATA/postgresql.conf" <<EOF
listen_addresses = ''
unix_socket_directories = '$SCRATCH'
port = $PGPORT
EOF
(cd / && as_owner "$PGBIN/pg_ctl" -D "$DATA" -l "$SCRATCH/server.log" -w \
    start >/dev/null) || die "server did not start: $(tail -5 "$SCRATCH/server.log")"

psql() {
    "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 "$@"
}
sql() { # one value
    psql -At -c "$1"
}
psql -d postgres -c 'create database bench'
