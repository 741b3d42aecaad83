#!/usr/bin/env bash
# deb_check.sh SOURCE_DIR PROJECT_VERSION - build the Debian packages from a
# copy of the source tree (dpkg-buildpackage -b -us -uc, as README.md's
# Install section says), install them with apt-get, and use what they
# installed against the test database (TXQ_TEST_DSN): /usr/bin/txq migrates
# a schema of its own, sends and receives; /usr/bin/txq-worker checks a
# configuration and drains a queue through an sql: handler, then exits 0
# on SIGTERM; the man pages, the bash completion, the systemd unit (verified
# by systemd-analyze), the txq user and /etc/txq are there; a C program
# builds against libtxq-dev with pkg-config (shared and static) and with
# CMake's find_package(txq). Then the packages are purged, and the machine
# is left as it was (the txq user removed if this run created it). Needs
# root; fails, never skips, when anything is missing.
set -euo pipefail

src=$1 version=$2
dsn=${TXQ_TEST_DSN:?TXQ_TEST_DSN is not set: run through ctest (fixture pg)}
pkgs=(txq libtxq1 libtxq-dev)
schema=txq_deb_$$
app=txq_deb_app_$$
tmp= worker_pid= installed=0 user_existed=1

say() {
    echo "deb_check: $*"
}
die() {
    echo "deb_check: FAILED: $*" >&2
    exit 1
}
pkg_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}
apt_get() {
    DEBIAN_FRONTEND=noninteractive apt-get -q -y \
        -o DPkg::Lock::Timeout=300 "$@"
}
psql_q() {
    psql -X -q -At -v ON_ERROR_STOP=1 "$dsn" "$@"
}

cleanup() {
    local rc=$?
    set +e
    [[ -n $worker_pid ]] && kill -KILL "$worker_pid" 2>/dev/null
    psql_q -c "drop schema if exists $schema cascade" \
        -c "drop schema if exists $app cascade" >/dev/null 2>&1
    if [[ $installed -eq 1 ]]; then
        apt_get purge "${pkgs[@]}" >"$tmp/purge.log" 2>&1 ||
            { echo "deb_check: apt-get purge failed" >&2 && rc=1; }
    fi
    [[ $user_existed -eq 0 ]] && getent passwd txq >/dev/null &&
        { userdel txq 2>/dev/null; getent group txq >/dev/null && groupdel txq; }
    [[ -n $tmp ]] && rm -rf "$tmp"
    exit "$rc"
}

# --- what the test needs --------------------------------------------------
[[ $(id -u) -eq 0 ]] || die "needs root (apt-get install of the packages)"
for t in dpkg-buildpackage dpkg-checkbuilddeps apt-get psql git cc \
    pkg-config cmake man systemd-analyze; do
    command -v "$t" >/dev/null || die "$t is not installed (./run installs it)"
done
for p in "${pkgs[@]}"; do
    if pkg_installed "$p"; then
        die "package $p is already installed: this test installs and" \
            "purges it (apt-get purge ${pkgs[*]})"
    fi
done
getent passwd txq >/dev/null || user_existed=0
tmp=$(mktemp -d /tmp/txq-deb-check.XXXXXX)
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- build ----------------------------------------------------------------
# The tree as it is (tracked files, and new files not ignored), without
# build directories, in a directory named as dpkg expects.
tree=$tmp/txq-$version
mkdir "$tree"
(cd "$src" && git ls-files -z --cached --others --exclude-standard |
    xargs -0 -r sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh |
    tar --null -T - -cf -) | tar -xf - -C "$tree" ||
    die "cannot copy the source tree"
(cd "$tree" && dpkg-checkbuilddeps) >"$tmp/deps.log" 2>&1 ||
    die "build dependencies missing: $(cat "$tmp/deps.log")"
# The README's apt-get line, which a newcomer runs before building,
# names every build dependency of debian/control.
readme=$(sed -n '/^### From the Debian packages/,/^deb=/p' "$src/README.md" |
    sed -e ':a' -e '/\\$/N; s/\\\n//; ta' | grep 'apt-get install' || true)
[[ -n $readme ]] || die "README.md has no apt-get line under 'From the Debian packages'"
while read -r dep; do
    [[ " $readme " == *" $dep "* ]] ||
        die "README.md's apt-get line lacks the build dependency $dep"
done < <(sed -n '/^Build-Depends:/,/^[A-Z]/p' "$src/debian/control" |
    sed -e 's/^Build-Depends://' -e '/^[A-Z]/d' | tr ',' '\n' |
    sed -e 's/(.*)//' -e 's/[[:space:]]//g' -e 's/^debhelper-compat$/debhelper/' |
    grep -v '^$')
say "dpkg-buildpackage -b -us -uc in $tree"
(cd "$tree" && dpkg-buildpackage -b -us -uc) >"$tmp/build.log" 2>&1 || {
    tail -40 "$tmp/build.log" >&2
    die "dpkg-buildpackage failed"
}
debs=()
for p in "${pkgs[@]}"; do
    f=$tmp/${p}_${version}-1_$(dpkg --print-architecture).deb
    [[ -f $f ]] || die "no $f built (debian/changelog not at $version-1?)"
    debs+=("$f")
done

# --- install --------------------------------------------------------------
say "apt-get install ${debs[*]##*/}"
installed=1
apt_get install --no-install-recommends "${debs[@]}" >"$tmp/install.log" 2>&1 || {
    tail -20 "$tmp/install.log" >&2
    die "apt-get install failed"
}
for p in "${pkgs[@]}"; do
    pkg_installed "$p" || die "$p is not installed after apt-get install"
done
hash -r

# --- the files ------------------------------------------------------------
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
for f in /usr/bin/txq /usr/bin/txq-worker \
    "/usr/lib/$multiarch/libtxq.so.1" "/usr/lib/$multiarch/libtxq.so" \
    "/usr/lib/$multiarch/libtxq.a" "/usr/lib/$multiarch/pkgconfig/txq.pc" \
    "/usr/lib/$multiarch/cmake/txq/txqConfig.cmake" /usr/include/txq.h \
    /usr/share/bash-completion/completions/txq \
    /usr/share/doc/txq/examples/worker.ini \
    /lib/systemd/system/txq-worker@.service; do
    [[ -e $f ]] || die "$f is not installed"
done
[[ -d /etc/txq ]] || die "/etc/txq is not there"
getent passwd txq >/dev/null || die "the package made no txq user"
[[ $(readlink -f "$(command -v txq)") == /usr/bin/txq ]] ||
    die "txq on the PATH is not /usr/bin/txq"
# (grep -q on a pipe would end ldd early: SIGPIPE fails the pipeline)
libs=$(ldd /usr/bin/txq)
[[ $libs =~ libtxq\.so\.1\ =\>\ (/usr)?/lib/$multiarch/libtxq\.so\.1\  ]] ||
    die "/usr/bin/txq does not load the packaged libtxq.so.1: $libs"
out=$(/usr/bin/txq --version)
[[ $out == "txq $version (libtxq $version,"* ]] ||
    die "/usr/bin/txq --version: $out"
for page in "1 txq" "1 txq-worker" "7 txq"; do
    m=$(man -w $page 2>&1) || die "man -w $page: $m"
    [[ $m == /usr/share/man/man* ]] || die "man -w $page found $m"
    m=$(man $page 2>&1) && [[ $m == *$'\nNAME\n'* ]] ||
        die "man $page does not render: $m"
done
got=$(bash -c 'source /usr/share/bash-completion/completions/txq
    COMP_WORDS=(txq schedule ""); COMP_CWORD=2; _txq
    printf "%s\n" "${COMPREPLY[@]}" | sort | xargs')
[[ $got == "add list remove" ]] || die "completion of 'txq schedule ': $got"
systemd-analyze verify /lib/systemd/system/txq-worker@.service \
    >"$tmp/verify.log" 2>&1 && [[ ! -s $tmp/verify.log ]] || {
    cat "$tmp/verify.log" >&2
    die "systemd-analyze verify of the installed unit"
}
say "files, man pages, completion and unit in place"

# --- the CLI --------------------------------------------------------------
txq=(/usr/bin/txq --db "$dsn" --schema "$schema")
"${txq[@]}" migrate >"$tmp/migrate.out" || die "txq migrate failed"
"${txq[@]}" queue create debq --max-attempts 2 >/dev/null ||
    die "txq queue create failed"
id=$(printf 'hello from the package' | "${txq[@]}" send debq) ||
    die "txq send failed"
[[ $id =~ ^[0-9]+$ ]] || die "txq send printed '$id'"
got=$("${txq[@]}" recv debq --ack) || die "txq recv failed"
[[ $got == *"\"id\":$id"* && $got == *'"body":"hello from the package"'* ]] ||
    die "txq recv printed: $got"
got=$(TXQ_COMPLETE_QUEUES=1 bash -c 'source /usr/share/bash-completion/completions/txq
    COMP_WORDS=(txq --db "$1" --schema "$2" pause ""); COMP_CWORD=6; _txq
    printf "%s\n" "${COMPREPLY[@]}" | xargs' sh "$dsn" "$schema")
[[ $got == debq ]] || die "completion of queue names (TXQ_COMPLETE_QUEUES=1): '$got'"
say "txq migrate, queue create, send, recv --ack, queue names completed: ok"

# --- the worker -----------------------------------------------------------
psql_q >/dev/null <<SQL || die "cannot create the handler"
create schema $app;
create table $app.seen (id bigint primary key, body text);
create function $app.handle(m $schema.message) returns void
language plpgsql as \$\$
begin
    insert into $app.seen values (m.id, convert_from(m.body, 'UTF8'));
end \$\$;
SQL
cat >"$tmp/worker.ini" <<INI
[worker]
db = $dsn
schema = $schema
poll_interval = 200ms
maintain_interval = 1s
drain_timeout = 10s

[queue.debq]
handler = sql:$app.handle
concurrency = 2
INI
chmod 600 "$tmp/worker.ini"
/usr/bin/txq-worker --config "$tmp/worker.ini" --check-config \
    >"$tmp/check.out" 2>&1 || {
    cat "$tmp/check.out" >&2
    die "txq-worker --check-config failed"
}
grep -q "^handler = sql:$app.handle" "$tmp/check.out" ||
    die "txq-worker --check-config did not print the handler"
n=20
for i in $(seq 1 $n); do
    "${txq[@]}" send debq "message $i" >/dev/null || die "txq send $i failed"
done
/usr/bin/txq-worker --config "$tmp/worker.ini" 2>"$tmp/worker.log" &
worker_pid=$!
seen=0
for _ in $(seq 1 150); do
    seen=$(psql_q -c "select count(*) from $app.seen")
    [[ $seen -ge $n ]] && break
    kill -0 "$worker_pid" 2>/dev/null || break
    sleep 0.2
done
kill -TERM "$worker_pid" 2>/dev/null || true
set +e
wait "$worker_pid"
wrc=$?
set -e
worker_pid=
[[ $seen -eq $n ]] || {
    tail -20 "$tmp/worker.log" >&2
    die "the worker handled $seen of $n messages"
}
[[ $wrc -eq 0 ]] || {
    tail -20 "$tmp/worker.log" >&2
    die "txq-worker exited $wrc after SIGTERM"
}
depth=$("${txq[@]}" stats --json | sed -n 's/.*"depth" *: *\([0-9]*\).*/\1/p')
[[ $depth == 0 ]] || die "queue debq still holds $depth messages"
say "txq-worker --check-config, drained $n messages via sql:, exit 0: ok"

# --- libtxq-dev -----------------------------------------------------------
cat >"$tmp/prog.c" <<'PROG'
#include <stdio.h>
#include <string.h>
#include <txq.h>

int
main(void)
{
    txq_client *c = txq_client_new(NULL);

    if (c == NULL)
        return 1;
    printf("%s %d\n", txq_version(), TXQ_SCHEMA_VERSION);
    txq_client_free(c);
    return 0;
}
PROG
# shellcheck disable=SC2046 # pkg-config's words are meant to split
cc $(pkg-config --cflags txq) "$tmp/prog.c" -o "$tmp/prog" \
    $(pkg-config --libs txq) || die "cannot build against libtxq-dev"
out=$("$tmp/prog") || die "the program built with pkg-config failed"
[[ $out == "$version "* ]] || die "the program printed '$out'"
# libtxq.a with the shared libraries it needs (txq.pc's Requires and
# Requires.private; libpq's own private ones have no static archives).
# shellcheck disable=SC2046
cc $(pkg-config --cflags txq) "$tmp/prog.c" -o "$tmp/prog-static" \
    "/usr/lib/$multiarch/libtxq.a" $(pkg-config --libs libpq libsodium) ||
    die "cannot link libtxq.a"
out=$("$tmp/prog-static") || die "the statically linked program failed"
libs=$(ldd "$tmp/prog-static")
if [[ $libs == *libtxq* ]]; then
    die "the statically linked program loads libtxq.so"
fi
mkdir "$tmp/cm"
cp "$tmp/prog.c" "$tmp/cm/"
cat >"$tmp/cm/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.21)
project(deb_check_prog C)
find_package(txq 1 REQUIRED)
add_executable(prog prog.c)
target_link_libraries(prog PRIVATE txq::txq)
CM
(cmake -S "$tmp/cm" -B "$tmp/cm/build" && cmake --build "$tmp/cm/build") \
    >"$tmp/cm.log" 2>&1 || {
    tail -20 "$tmp/cm.log" >&2
    die "cannot build with find_package(txq)"
}
"$tmp/cm/build/prog" >/dev/null || die "the CMake-built program failed"
say "libtxq-dev: pkg-config (shared, static) and find_package(txq): ok"

# --- purge ----------------------------------------------------------------
apt_get purge "${pkgs[@]}" >"$tmp/purge.log" 2>&1 || {
    tail -20 "$tmp/purge.log" >&2
    die "apt-get purge failed"
}
installed=0
for p in "${pkgs[@]}"; do
    if pkg_installed "$p"; then
        die "$p is still installed after the purge"
    fi
done
for f in /usr/bin/txq /usr/bin/txq-worker "/usr/lib/$multiarch/libtxq.so.1" \
    /lib/systemd/system/txq-worker@.service /etc/txq; do
    if [[ -e $f ]]; then
        die "$f is still there after the purge"
    fi
done
say "built, installed, used and purged ${pkgs[*]} $version-1"
