#!/usr/bin/env bash
# install_check.sh BUILD_DIR CC [SANITIZE] - install the build under a
# throwaway prefix chosen at install time (cmake --install --prefix, not the
# configured one) and build and run a program against it with pkg-config
# alone, as a user of the installed library would. Fails on any step.
set -euo pipefail

build=$1 cc=$2 sanitize=${3:-}
die() {
    echo "install_check: $*" >&2
    exit 1
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cmake --install "$build" --prefix "$tmp/prefix" >"$tmp/install.log" 2>&1 ||
    die "cmake --install failed: $(tail -3 "$tmp/install.log")"
pc=$(find "$tmp/prefix" -name txq.pc -print -quit)
[[ -n $pc ]] || die "no txq.pc installed under the prefix"
export PKG_CONFIG_PATH=${pc%/*}
# Every path in it must follow the prefix it was installed under.
libdir=$(pkg-config --variable=libdir txq)
incdir=$(pkg-config --variable=includedir txq)
[[ $(realpath "$libdir") == "$(realpath "$tmp/prefix")"/* ]] ||
    die "txq.pc's libdir $libdir is not under the install prefix"
[[ -f $incdir/txq.h ]] || die "txq.pc's includedir $incdir holds no txq.h"

cat >"$tmp/prog.c" <<'PROG'
#include <stdio.h>
#include <txq.h>

int
main(void)
{
    txq_client *c = txq_client_new(NULL);

    if (c == NULL)
        return 1;
    /* The library and the headers it was installed with agree. */
    if (txq_version_number() != TXQ_VERSION_NUMBER)
        return 2;
    printf("%s %d\n", txq_version(), TXQ_SCHEMA_VERSION);
    txq_client_free(c);
    return 0;
}
PROG
flags=()
[[ -n $sanitize ]] && flags+=("-fsanitize=$sanitize")
# shellcheck disable=SC2046 # pkg-config's words are meant to split
"$cc" "${flags[@]}" $(pkg-config --cflags txq) "$tmp/prog.c" -o "$tmp/prog" \
    $(pkg-config --libs txq) -Wl,-rpath,"$libdir" ||
    die "the program did not build against the installed txq"
out=$("$tmp/prog") || die "the program failed (txq_version_number() is not" \
    "the headers' TXQ_VERSION_NUMBER?)"
[[ $out =~ ^[0-9]+\.[0-9]+\.[0-9]+\ [0-9]+$ ]] ||
    die "unexpected output: $out"
# One version everywhere: txq.pc, the library, and its soname (the major).
version=${out%% *}
[[ $(pkg-config --modversion txq) == "$version" ]] ||
    die "txq.pc says $(pkg-config --modversion txq), the library $version"
if [[ -f $libdir/libtxq.so ]]; then
    soname=$(objdump -p "$libdir/libtxq.so" | awk '$1 == "SONAME" { print $2 }')
    [[ $soname == "libtxq.so.${version%%.*}" ]] ||
        die "soname $soname, not libtxq.so.${version%%.*}"
    [[ -e $libdir/$soname ]] || die "no $soname installed"
fi
echo "install_check: built and ran against $tmp/prefix: $out"
