#!/usr/bin/env bash
# pg_ha.sh - a primary and a streaming standby on one machine, for txq's
# high-availability tests and for trying failover by hand (./run ha).
#
#   tests/pg_ha.sh start KEY [--async | --auto]
#   tests/pg_ha.sh stop|status|env|failover|rejoin|wait KEY
#
# KEY (a build directory, say) names the set-up: everything lives in
# /tmp/txq-ha-<first 8 hex of md5(KEY)>, owned by the server's user, and the
# ports are BASE, BASE + 1 (the two data nodes) and BASE + 2 (the monitor
# of --auto), BASE = 23000 + 3 * ((hex digits 9-12 of that md5) mod 1000):
# below Linux's ephemeral range, apart from the other fixtures'. Every
# server listens on 127.0.0.1 only (and a unix socket in the directory).
#
#   start     wipe any old set-up of KEY; initdb node1, start it as the
#             primary, clone node2 from it with pg_basebackup and start it
#             as a streaming standby. Synchronous by default
#             (synchronous_standby_names names node2: a COMMIT returns once
#             node2 has the WAL); --async leaves the standby asynchronous.
#             --auto: the same two nodes under pg_auto_failover instead (a
#             monitor and a keeper per node, pg_autoctl run), which makes
#             the replication synchronous and promotes node2 by itself when
#             node1 dies.
#   stop      stop everything (immediate) and remove the directory
#   status    each node: port, up or down, primary or standby; the
#             primary's standbys with their sync state and replay lag
#   env       `export` lines: TXQ_HA_DSN (both nodes,
#             target_session_attrs=read-write: libpq finds the primary),
#             TXQ_HA_NODE1_DSN, TXQ_HA_NODE2_DSN, TXQ_HA_MODE, TXQ_HA_DIR
#   failover  kill the primary as a machine dies (pg_ctl stop -m
#             immediate; under --auto its keeper too, with kill -9) and
#             make the standby the primary: pg_ctl promote, and it stops
#             waiting for a synchronous standby it no longer has; under
#             --auto, wait for pg_auto_failover to promote it. Prints the
#             seconds from the kill to a writable primary.
#   rejoin    the old primary back as the new one's standby: pg_rewind
#             (crash recovery first, as pg_rewind does; a new clone with
#             pg_basebackup when the WAL it needs is gone), then started as
#             a standby, synchronous again unless --async. Not under --auto
#             (there its keeper does it when started again).
#   wait      wait (up to 60 s) until the set-up has a writable primary
#
# Any failure exits non-zero with a message: a test is never skipped.
set -euo pipefail

die() {
    echo "pg_ha: error: $*" >&2
    exit 1
}

usage() {
    echo "usage: $0 start KEY [--async | --auto]" >&2
    echo "       $0 stop|status|env|failover|rejoin|wait KEY" >&2
    exit 2
}

[[ $# -ge 2 ]] || usage
cmd=$1
key=$2
shift 2
opt_mode=sync
while [[ $# -gt 0 ]]; do
    case $1 in
    --async) opt_mode=async ;;
    --auto) opt_mode=auto ;;
    *) usage ;;
    esac
    shift
done

hash=$(printf '%s' "$key" | md5sum | cut -c1-32)
dir=/tmp/txq-ha-${hash:0:8}
base=$((23000 + 3 * (16#${hash:8:4} % 1000)))
port1=$base
port2=$((base + 1))
port_mon=$((base + 2))
standby_name=txq_standby

node_port() {
    if [[ $1 == node1 ]]; then echo "$port1"; else echo "$port2"; fi
}

node_dsn() {
    echo "host=127.0.0.1 port=$(node_port "$1") user=postgres dbname=postgres"
}

mode() {
    cat "$dir/mode" 2>/dev/null || echo none
}

print_env() {
    cat <<EOF
export TXQ_HA_DSN='host=127.0.0.1,127.0.0.1 port=$port1,$port2 user=postgres dbname=postgres target_session_attrs=read-write connect_timeout=2'
export TXQ_HA_NODE1_DSN='$(node_dsn node1)'
export TXQ_HA_NODE2_DSN='$(node_dsn node2)'
export TXQ_HA_MODE=$(mode)
export TXQ_HA_DIR=$dir
EOF
}

if [[ $cmd == env ]]; then
    print_env
    exit 0
fi

# find_bindir, require_server, as_owner, initdb_locale
# shellcheck source=tests/pg_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/pg_common.sh"
require_server

# The postgres user may not be able to enter the caller's directory.
cd /

# psql as the superuser on a node; prints the value, fails when it is down.
q() {
    local node=$1
    shift
    "$bindir/psql" -X -q -At -h 127.0.0.1 -p "$(node_port "$node")" \
        -U postgres -d postgres --set ON_ERROR_STOP=1 -c "$*" 2>/dev/null
}

is_up() {
    q "$1" "select 1" >/dev/null
}

is_primary() {
    [[ $(q "$1" "select pg_is_in_recovery()" || true) == f ]]
}

# pg_autoctl as the server's user, its state kept in the directory.
autoctl() {
    as_owner env XDG_CONFIG_HOME="$dir/xdg/config" \
        XDG_DATA_HOME="$dir/xdg/data" XDG_RUNTIME_DIR="$dir/xdg/run" \
        PATH="$bindir:$PATH" pg_autoctl "$@"
}

# Start `pg_autoctl run` for a node in a session of its own, whose leader
# writes its pid (the process group to kill whole) to NODE.keeper.
keeper_start() {
    local node=$1
    as_owner setsid --fork bash -c 'echo $$ >"$1"; shift; exec "$@"' \
        keeper "$dir/$node.keeper" env XDG_CONFIG_HOME="$dir/xdg/config" \
        XDG_DATA_HOME="$dir/xdg/data" XDG_RUNTIME_DIR="$dir/xdg/run" \
        PATH="$bindir:$PATH" pg_autoctl run --pgdata "$dir/$node" \
        >>"$dir/$node.keeper.log" 2>&1 </dev/null
    local i
    for ((i = 0; i < 50; i++)); do
        [[ -s $dir/$node.keeper ]] && return 0
        sleep 0.1
    done
    die "the keeper of $node did not start (see $dir/$node.keeper.log)"
}

keeper_kill() {
    local pidfile=$dir/$1.keeper pid
    [[ -f $pidfile ]] || return 0
    pid=$(cat "$pidfile")
    kill -9 -- "-$pid" 2>/dev/null || true
    rm -f "$pidfile"
}

# The monitor's view: "NAME REPORTED ASSIGNED" per node (auto only).
monitor_states() {
    autoctl show state --pgdata "$dir/monitor" 2>/dev/null |
        awk -F'|' 'NR > 2 { gsub(/ /, ""); print $1, $6, $7 }'
}

pg_stop() {
    local data=$dir/$1
    if [[ -f $data/postmaster.pid ]]; then
        as_owner "$bindir/pg_ctl" stop -D "$data" -m immediate -w -t 30 \
            >/dev/null 2>&1 || true
    fi
}

# pg_autoctl's services (its "start/stop postgres" process among them)
# leave the keeper's process group: find them by the state directory in
# their environment.
autoctl_kill_all() {
    local e pid
    for e in /proc/[0-9]*/environ; do
        if grep -qsF "$dir/xdg" "$e" 2>/dev/null; then
            pid=${e#/proc/}
            pid=${pid%/environ}
            kill -9 "$pid" 2>/dev/null || true
        fi
    done
}

stop_all() {
    local n
    for n in node1 node2 monitor; do
        keeper_kill "$n"
    done
    autoctl_kill_all
    for n in node1 node2 monitor; do
        pg_stop "$n"
    done
    if [[ -e $dir || -L $dir ]]; then
        rm -rf "$dir" || die "cannot remove $dir"
    fi
}

# Wait up to $1 seconds for a writable primary; prints its name. Under
# --auto, the monitor must have made it primary too: a promoted node
# whose monitor still waits for the old primary's demotion blocks every
# COMMIT (synchronous, with no standby).
wait_primary() {
    local limit=$1 i n auto=0
    [[ $(mode) == auto ]] && auto=1
    for ((i = 0; i < limit * 5; i++)); do
        for n in node1 node2; do
            if is_primary "$n" &&
                [[ $(q "$n" "show transaction_read_only") == off ]] &&
                { ((auto == 0)) || monitor_states |
                    grep -Eq "^$n (single|wait_primary|primary) (single|wait_primary|primary)\$"; }; then
                echo "$n"
                return 0
            fi
        done
        sleep 0.2
    done
    return 1
}

settings() {
    cat <<EOF
listen_addresses = '127.0.0.1'
max_connections = 200
shared_buffers = 128MB
wal_level = replica
max_wal_senders = 10
max_replication_slots = 10
hot_standby = on
wal_log_hints = on
wal_keep_size = '256MB'
log_min_messages = warning
EOF
}

# node_settings NODE: what differs between the nodes, in postgresql.auto.conf
# (pg_basebackup copies the rest).
node_settings() {
    local node=$1 data=$dir/$1
    as_owner mkdir -p "$dir/sock-$node"
    as_owner bash -c "cat >>'$data/postgresql.auto.conf'" <<EOF
port = $(node_port "$node")
unix_socket_directories = '$dir/sock-$node'
EOF
}

hba() {
    cat <<EOF
local all all trust
host all all 127.0.0.1/32 trust
host replication all 127.0.0.1/32 trust
EOF
}

pg_start() {
    local node=$1
    as_owner "$bindir/pg_ctl" start -D "$dir/$node" -w -t 60 \
        -l "$dir/$node.log" >/dev/null ||
        die "$node did not start (see $dir/$node.log)"
}

# make_standby NODE PRIMARY: NODE follows PRIMARY (standby.signal and
# primary_conninfo; its application name is the synchronous name).
make_standby() {
    local node=$1 primary=$2
    as_owner touch "$dir/$node/standby.signal"
    as_owner bash -c "cat >>'$dir/$node/postgresql.auto.conf'" <<EOF
primary_conninfo = 'host=127.0.0.1 port=$(node_port "$primary") user=postgres application_name=$standby_name'
EOF
}

set_sync() {
    local node=$1 names=$2
    q "$node" "alter system set synchronous_standby_names = '$names'" \
        >/dev/null && q "$node" "select pg_reload_conf()" >/dev/null ||
        die "cannot set synchronous_standby_names on $node"
}

# Wait until PRIMARY lists a streaming standby (sync when asked).
wait_streaming() {
    local primary=$1 want=$2 i
    for ((i = 0; i < 300; i++)); do
        if [[ -n $(q "$primary" "select 1 from pg_stat_replication
                where state = 'streaming' and sync_state = '$want'" ||
            true) ]]; then
            return 0
        fi
        sleep 0.2
    done
    die "no $want standby streams from $primary (see $dir/*.log)"
}

start_streaming() {
    as_owner "$bindir/initdb" -D "$dir/node1" -U postgres --auth=trust \
        --locale="$(initdb_locale)" -E UTF8 >"$dir/initdb.log" 2>&1 ||
        die "initdb failed (see $dir/initdb.log)"
    settings | as_owner bash -c "cat >>'$dir/node1/postgresql.conf'"
    hba | as_owner bash -c "cat >'$dir/node1/pg_hba.conf'"
    node_settings node1
    pg_start node1
    as_owner "$bindir/pg_basebackup" -h 127.0.0.1 -p "$port1" -U postgres \
        -D "$dir/node2" -X stream -c fast >"$dir/basebackup.log" 2>&1 ||
        die "pg_basebackup failed (see $dir/basebackup.log)"
    node_settings node2
    make_standby node2 node1
    pg_start node2
    if [[ $opt_mode == sync ]]; then
        set_sync node1 "$standby_name"
        wait_streaming node1 sync
    else
        wait_streaming node1 async
    fi
}

start_auto() {
    command -v pg_autoctl >/dev/null 2>&1 ||
        die "pg_autoctl not found (install pg-auto-failover-cli and postgresql-15-auto-failover)"
    as_owner mkdir -p "$dir/xdg/config" "$dir/xdg/data" "$dir/xdg/run"
    autoctl create monitor --pgdata "$dir/monitor" --pgport "$port_mon" \
        --hostname 127.0.0.1 --listen 127.0.0.1 --auth trust --no-ssl \
        >"$dir/monitor.create.log" 2>&1 ||
        die "pg_autoctl create monitor failed (see $dir/monitor.create.log)"
    keeper_start monitor
    # Faster than the defaults, for tests on one machine: a dead node is
    # noticed in about 5 s, and the old primary's demotion waited for
    # 10 s (its keeper demotes itself after 5 s without the monitor and
    # its standby, timeout.network_partition_timeout below).
    local i
    for ((i = 0; i < 100; i++)); do
        "$bindir/psql" -X -q -h 127.0.0.1 -p "$port_mon" -U postgres \
            -d pg_auto_failover -c "alter system set
                pgautofailover.health_check_period = 1000" \
            -c "alter system set pgautofailover.health_check_timeout = 1000" \
            -c "alter system set pgautofailover.health_check_max_retries = 1" \
            -c "alter system set
                pgautofailover.node_considered_unhealthy_timeout = 5000" \
            -c "alter system set pgautofailover.primary_demote_timeout = 10000" \
            -c "select pg_reload_conf()" >/dev/null 2>&1 && break
        sleep 0.3
    done
    ((i < 100)) || die "cannot configure the monitor (see $dir/monitor.keeper.log)"
    local uri="postgres://autoctl_node@127.0.0.1:$port_mon/pg_auto_failover?sslmode=disable"
    local n
    for n in node1 node2; do
        for ((i = 0; i < 100; i++)); do
            autoctl create postgres --pgdata "$dir/$n" \
                --pgport "$(node_port "$n")" --hostname 127.0.0.1 \
                --listen 127.0.0.1 --name "$n" --auth trust --no-ssl \
                --monitor "$uri" >>"$dir/$n.create.log" 2>&1 && break
            sleep 0.3 # the monitor is still starting
        done
        [[ -f $dir/$n/PG_VERSION ]] ||
            die "pg_autoctl create postgres $n failed (see $dir/$n.create.log)"
        autoctl config set --pgdata "$dir/$n" \
            timeout.network_partition_timeout 5 >/dev/null ||
            die "pg_autoctl config set failed for $n"
        keeper_start "$n"
        if [[ $n == node1 ]]; then
            wait_primary 60 >/dev/null ||
                die "node1 did not become primary (see $dir/node1.keeper.log)"
        fi
    done
    for ((i = 0; i < 300; i++)); do
        if monitor_states | grep -q "^node2 secondary secondary$"; then
            break
        fi
        sleep 0.2
    done
    ((i < 300)) || die "node2 did not become secondary (see $dir/node2.keeper.log)"
    wait_streaming node1 quorum
}

failover() {
    local m old new t0 t1
    m=$(mode)
    [[ $m != none ]] || die "no set-up at $dir (start it first)"
    old=$(wait_primary 5) || die "no primary to fail over from"
    if [[ $old == node1 ]]; then new=node2; else new=node1; fi
    is_up "$new" || die "$new, the standby, is down: nothing to promote"
    t0=$(date +%s.%N)
    if [[ $m == auto ]]; then
        keeper_kill "$old"
    fi
    pg_stop "$old"
    if [[ $m != auto ]]; then
        as_owner "$bindir/pg_ctl" promote -D "$dir/$new" -w -t 60 \
            >/dev/null || die "pg_ctl promote $new failed"
        # Alone now: a synchronous primary without its standby would wait
        # at every COMMIT. Before the reload, commits already wait.
        set_sync "$new" ""
        echo "$new" >"$dir/primary"
    fi
    wait_primary 120 >/dev/null || die "no writable primary after the failover"
    t1=$(date +%s.%N)
    echo "failover: $old killed, $new primary after $(awk \
        "BEGIN { printf \"%.2f\", $t1 - $t0 }") s"
}

rejoin() {
    local m new old
    m=$(mode)
    [[ $m == sync || $m == async ]] || die "rejoin is for the streaming set-up"
    new=$(wait_primary 5) || die "no primary to rejoin"
    if [[ $new == node1 ]]; then old=node2; else old=node1; fi
    ! is_up "$old" || die "$old is running: stop it before a rejoin"
    # pg_rewind reads the new timeline from the control file, which the
    # promotion's first checkpoint writes: force it.
    q "$new" "checkpoint" >/dev/null || die "checkpoint on $new failed"
    if ! as_owner "$bindir/pg_rewind" --target-pgdata "$dir/$old" \
        --source-server "$(node_dsn "$new")" >"$dir/rewind.log" 2>&1; then
        # The WAL it needs is gone: clone the node again instead.
        echo "rejoin: pg_rewind failed (see $dir/rewind.log): cloning $old"
        rm -rf "${dir:?}/$old"
        as_owner "$bindir/pg_basebackup" -h 127.0.0.1 \
            -p "$(node_port "$new")" -U postgres -D "$dir/$old" -X stream \
            -c fast >"$dir/basebackup.log" 2>&1 ||
            die "pg_basebackup failed (see $dir/basebackup.log)"
    fi
    node_settings "$old"
    make_standby "$old" "$new"
    pg_start "$old"
    if [[ $m == sync ]]; then
        set_sync "$new" "$standby_name"
        wait_streaming "$new" sync
    else
        wait_streaming "$new" async
    fi
    echo "rejoin: $old follows $new"
}

status() {
    local n role
    echo "set-up: $(mode), $dir"
    for n in node1 node2; do
        if ! is_up "$n"; then
            role=down
        elif is_primary "$n"; then
            role=primary
        else
            role=standby
        fi
        printf '%s  127.0.0.1:%s  %s\n' "$n" "$(node_port "$n")" "$role"
        if [[ $role == primary ]]; then
            q "$n" "select '  standby ' || application_name || ' ' || state
                || ' ' || sync_state || ' replay_lag '
                || coalesce(replay_lag::text, '0')
                from pg_stat_replication" || true
        fi
    done
    if [[ $(mode) == auto ]]; then
        autoctl show state --pgdata "$dir/monitor" 2>/dev/null || true
    fi
}

case $cmd in
start)
    stop_all
    if [[ $(id -u) -eq 0 ]]; then
        install -d -m 0700 -o postgres -g postgres "$dir" ||
            die "cannot create $dir"
    else
        install -d -m 0700 "$dir" || die "cannot create $dir"
    fi
    as_owner bash -c "echo $opt_mode >'$dir/mode'"
    if [[ $opt_mode == auto ]]; then
        start_auto
    else
        start_streaming
    fi
    echo "up: $opt_mode, node1 primary on 127.0.0.1:$port1, node2 standby on 127.0.0.1:$port2"
    ;;
stop) stop_all ;;
status) status ;;
failover) failover ;;
rejoin) rejoin ;;
wait) wait_primary 60 >/dev/null || die "no writable primary" ;;
*) usage ;;
esac
