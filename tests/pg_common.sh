# pg_common.sh - what tests/pg_fixture.sh and tests/pg_tls_fixture.sh share:
# finding the server's binaries, running them as the clusters' owner, the
# locale of initdb. Sourced, not run; the caller defines die().

# The server's binaries: TXQ_PG_BINDIR, else the highest version under
# /usr/lib/postgresql/*/bin (Debian), else pg_config --bindir, else PATH.
find_bindir() {
    local d
    if [[ -n ${TXQ_PG_BINDIR:-} ]]; then
        echo "$TXQ_PG_BINDIR"
        return
    fi
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [[ -n $d && -x $d/initdb ]]; then
        echo "$d"
        return
    fi
    if command -v pg_config >/dev/null 2>&1; then
        d=$(pg_config --bindir 2>/dev/null || true)
        if [[ -n $d && -x $d/initdb ]]; then
            echo "$d"
            return
        fi
    fi
    d=$(command -v initdb 2>/dev/null || true)
    if [[ -n $d ]]; then
        dirname "$d"
        return
    fi
    return 1
}

# Set bindir (find_bindir) and check that initdb, pg_ctl and psql are
# there, and, as root, that the postgres user and runuser are.
require_server() {
    local b
    bindir=$(find_bindir) ||
        die "no PostgreSQL server binaries found (install postgresql, or set TXQ_PG_BINDIR)"
    for b in initdb pg_ctl psql; do
        [[ -x $bindir/$b ]] || die "$bindir/$b not found"
    done
    if [[ $(id -u) -eq 0 ]]; then
        id postgres >/dev/null 2>&1 ||
            die "running as root but there is no 'postgres' user to run the server"
        command -v runuser >/dev/null 2>&1 || die "runuser not found (util-linux)"
    fi
}

# Run a command as the cluster's owner: postgres (runuser) when root,
# else the current user.
as_owner() {
    if [[ $(id -u) -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# The locale for initdb: C.UTF-8 where the system has it, else C.
initdb_locale() {
    if locale -a 2>/dev/null | grep -qix 'c\.utf-\?8'; then
        echo C.UTF-8
    else
        echo C
    fi
}
