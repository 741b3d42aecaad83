#!/usr/bin/env bash
# systemd_check.sh BUILD_DIR - install the build under a throwaway DESTDIR
# and check what it installs for running txq-worker as a service:
# txq-worker@.service passes `systemd-analyze verify` (its ExecStart moved
# to the DESTDIR's txq-worker, man pages looked up there) and scores at most
# 2.5 in `systemd-analyze security`; the example worker.ini, read by the
# installed txq-worker --check-config, parses (it then fails only on the
# connection, exit 1, never on the file, exit 2). Fails on any step.
set -euo pipefail

build=$1
die() {
    echo "systemd_check: $*" >&2
    exit 1
}
command -v systemd-analyze >/dev/null || die "systemd-analyze is not installed"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

DESTDIR=$tmp/root cmake --install "$build" >"$tmp/install.log" 2>&1 ||
    die "cmake --install failed: $(tail -3 "$tmp/install.log")"
unit=$(find "$tmp/root" -path '*/systemd/system/txq-worker@.service' -print -quit)
[[ -n $unit ]] || die "no txq-worker@.service installed"
ini=$(find "$tmp/root" -path '*/doc/txq/examples/worker.ini' -print -quit)
[[ -n $ini ]] || die "no doc/txq/examples/worker.ini installed"
worker=$(find "$tmp/root" -path '*/bin/txq-worker' -print -quit)
[[ -x $worker ]] || die "no bin/txq-worker installed"
man=$(find "$tmp/root" -path '*/man1/txq-worker.1' -print -quit)

exec_start=$(sed -n 's/^ExecStart=\([^ ]*\) .*/\1/p' "$unit")
[[ $exec_start == /* && $tmp/root$exec_start -ef $worker ]] ||
    die "ExecStart=$exec_start is not the installed txq-worker"
grep -q '^Type=notify$' "$unit" || die "the unit is not Type=notify"
grep -q '^WatchdogSec=' "$unit" || die "the unit has no WatchdogSec="
grep -q '^User=txq$' "$unit" || die "the unit does not run as txq"

mkdir "$tmp/unit"
sed "s|^ExecStart=$exec_start|ExecStart=$worker|" "$unit" \
    >"$tmp/unit/txq-worker@.service"
manpath=
[[ -n $man ]] && manpath=${man%/man1/*}
MANPATH=$manpath systemd-analyze verify "$tmp/unit/txq-worker@.service" \
    >"$tmp/verify.log" 2>&1 || {
    cat "$tmp/verify.log" >&2
    die "systemd-analyze verify failed"
}
[[ -s $tmp/verify.log ]] && {
    cat "$tmp/verify.log" >&2
    die "systemd-analyze verify complained"
}
systemd-analyze security --offline=yes --threshold=25 \
    "$tmp/unit/txq-worker@.service" >"$tmp/security.log" 2>&1 || {
    tail -5 "$tmp/security.log" >&2
    die "systemd-analyze security: exposure above 2.5"
}

set +e
LD_LIBRARY_PATH=$(dirname "$(find "$tmp/root" -name 'libtxq.so.*' -print -quit)") \
    "$worker" --config "$ini" --check-config --db "host=$tmp/nowhere" \
    --startup-timeout 1 >"$tmp/check.out" 2>"$tmp/check.err"
rc=$?
set -e
[[ $rc -eq 1 ]] && grep -q '^\[queue\.orders\]$' "$tmp/check.out" &&
    grep -q 'cannot connect' "$tmp/check.err" || {
    cat "$tmp/check.out" "$tmp/check.err" >&2
    die "the example worker.ini does not parse (exit $rc)"
}
echo "systemd_check: txq-worker@.service verifies" \
    "($(tail -1 "$tmp/security.log" | sed 's/.*level for [^:]*: //'))," \
    "the example worker.ini parses"
