#!/usr/bin/env bash
# migrations_check.sh MIGRATIONS_DIR - released migrations are frozen: each
# migrations/NNNN_*.sql must match its SHA-256 in MIGRATIONS_DIR/CHECKSUMS
# (sha256sum's format), and every migration must be listed there. A
# database applies a migration once and records only its version: a
# changed one would leave databases that ran the old text and databases
# that ran the new one apart, without a trace. A unit test: no database.
set -euo pipefail
export LC_ALL=C

dir=$1
sums=$dir/CHECKSUMS
[[ -f $sums ]] || {
    echo "migrations_check: no $sums" >&2
    exit 1
}
rc=0
declare -A listed=()
while read -r sum name; do
    [[ -z $sum || $sum == \#* ]] && continue
    listed[$name]=1
    if [[ ! -f $dir/$name ]]; then
        echo "migrations_check: $name is listed in CHECKSUMS but missing:" \
            "a released migration is never removed" >&2
        rc=1
        continue
    fi
    have=$(sha256sum "$dir/$name" | cut -d' ' -f1)
    if [[ $have != "$sum" ]]; then
        echo "migrations_check: $name has changed (sha256 $have, released" \
            "as $sum). A released migration must never change: databases" \
            "that applied it keep the old text. Restore it (git checkout" \
            "-- migrations/$name) and put the change in a new migration." >&2
        rc=1
    fi
done <"$sums"
for f in "$dir"/[0-9][0-9][0-9][0-9]_*.sql; do
    name=${f##*/}
    if [[ -z ${listed[$name]:-} ]]; then
        echo "migrations_check: $name is not in CHECKSUMS. A new migration" \
            "is frozen once released: add it with" \
            "(cd migrations && sha256sum $name >>CHECKSUMS)." >&2
        rc=1
    fi
done
[[ $rc -ne 0 ]] || echo "migrations_check: ${#listed[@]} migrations, unchanged"
exit $rc
