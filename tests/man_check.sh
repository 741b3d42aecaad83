#!/usr/bin/env bash
# man_check.sh BUILD_DIR - the man pages the build made from docs/man/*.scd:
# each renders without a warning from man/groff, and they cover the
# programs as built: every command and option of `txq --help` and of each
# `txq COMMAND --help` is in txq(1), every option of `txq-worker --help`
# in txq-worker(1). Fails on anything missing.
set -euo pipefail

build=$1
fails=0
die() {
    echo "man_check: $*" >&2
    exit 1
}
miss() {
    echo "man_check: $*" >&2
    fails=$((fails + 1))
}
command -v man >/dev/null || die "man is not installed (Debian: man-db)"

# render PAGE: the page as text on one long line per paragraph, so that no
# option is hyphenated or broken.
render() {
    local err
    err=$(mktemp)
    MANWIDTH=2000 MAN_KEEP_FORMATTING= man --warnings=all -l "$1" \
        2>"$err" | col -b
    if [[ -s $err ]]; then
        miss "$1 renders with warnings: $(head -5 "$err")"
    fi
    rm -f "$err"
}

pages=(txq.1 txq-worker.1 txq.7)
for p in "${pages[@]}"; do
    [[ -s $build/man/$p ]] || die "$build/man/$p was not built"
done
txq1=$(render "$build/man/txq.1")
worker1=$(render "$build/man/txq-worker.1")
txq7=$(render "$build/man/txq.7")
[[ $txq1 == *"txq - manage"* ]] || miss "txq.1 has no NAME line"
[[ $txq7 == *"SQL API"* ]] || miss "txq.7 has no SQL API section"

txq=$build/txq worker=$build/txq-worker
mapfile -t cmds < <("$txq" --help |
    sed -n '/^Commands:/,/^$/s/^  \([a-z][a-z|]*\) .*/\1/p' | tr '|' '\n')
[[ ${#cmds[@]} -ge 20 ]] || die "read only ${#cmds[@]} commands from txq --help"
for c in "${cmds[@]}"; do
    grep -q -E "^ +(\\S+ )*$c( |$)" <<<"$txq1" ||
        miss "txq.1 does not describe the command $c"
    while read -r o; do
        [[ $txq1 == *"$o"* ]] || miss "txq.1 lacks $o (txq $c --help)"
    done < <("$txq" "$c" --help | grep -o -- '--[a-z][a-z-]*' | sort -u)
done
while read -r o; do
    [[ $txq1 == *"$o"* ]] || miss "txq.1 lacks $o (txq --help)"
done < <("$txq" --help | grep -o -- '--[a-z][a-z-]*' | sort -u)
while read -r o; do
    [[ $worker1 == *"$o"* ]] || miss "txq-worker.1 lacks $o (txq-worker --help)"
done < <("$worker" --help | grep -o -- '--[a-z][a-z-]*' | sort -u)
# The worker's [worker] keys, as --check-config prints them.
while read -r k; do
    [[ $worker1 == *"$k"* ]] || miss "txq-worker.1 lacks the key $k"
done < <("$worker" --check-config --handle q=sql:f --db "host=/nonexistent" \
    2>/dev/null | sed -n '/^\[worker\]/,/^$/s/^\([a-z_]*\) =.*/\1/p')

[[ $fails -eq 0 ]] || die "$fails problem(s)"
echo "man_check: ${pages[*]} render cleanly and cover ${#cmds[@]} commands"
