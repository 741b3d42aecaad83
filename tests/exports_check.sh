#!/usr/bin/env bash
# exports_check.sh LIBRARY INCLUDE_DIR EXPORTS_FILE - the ABI's symbol list:
# the functions the shared library exports (nm -D --defined-only) and the
# TXQ_API functions the public headers declare must both be exactly the
# names in EXPORTS_FILE (abi/exports.txt: one a line, sorted with
# LC_ALL=C). Fails with what differs, so that no export appears or
# disappears unnoticed. A unit test: no database.
set -euo pipefail
export LC_ALL=C

lib=$1 incdir=$2 exports=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

[[ -f $lib ]] || {
    echo "exports_check: no library at $lib" >&2
    exit 1
}
[[ -f $exports ]] || {
    echo "exports_check: no exports file at $exports" >&2
    exit 1
}
# Every defined dynamic symbol, whatever its kind (functions, data, weak).
nm -D --defined-only "$lib" | awk 'NF == 3 { print $3 }' | sort -u \
    >"$tmp/library"
# "TXQ_API <type> <name>(" at the start of a line, in every public header.
cat "$incdir"/*.h |
    sed -n -E 's/^TXQ_API[^(]*[^A-Za-z0-9_(]([A-Za-z_][A-Za-z0-9_]*)\(.*/\1/p' |
    sort -u >"$tmp/headers"
grep -v -e '^#' -e '^[[:space:]]*$' "$exports" >"$tmp/file"
if ! sort -c "$tmp/file" 2>/dev/null || [[ -n $(uniq -d "$tmp/file") ]]; then
    echo "exports_check: $exports is not sorted (LC_ALL=C sort) or has" \
        "duplicates" >&2
    exit 1
fi

rc=0
# compare WHAT FILE: print what WHAT has that the exports file has not, and
# the reverse.
compare() {
    local what=$1 file=$2 added removed
    added=$(comm -13 "$tmp/file" "$file")
    removed=$(comm -23 "$tmp/file" "$file")
    if [[ -n $added || -n $removed ]]; then
        rc=1
        echo "exports_check: the $what differ from $exports:" >&2
        [[ -z $added ]] || printf '  + %s (not in the exports file)\n' \
            $added >&2
        [[ -z $removed ]] || printf '  - %s (in the exports file, not here)\n' \
            $removed >&2
    fi
}
compare "symbols exported by ${lib##*/}" "$tmp/library"
compare "TXQ_API functions of $incdir/*.h" "$tmp/headers"

if [[ $rc -ne 0 ]]; then
    cat >&2 <<MSG

The exports file is the ABI's list of names: change it on purpose only.
  + a new function: declare it TXQ_API in the header, add its name to
    $exports (LC_ALL=C sort), and raise the minor version in CMakeLists.txt.
  - a removed or renamed function breaks every program built against the
    library: only with a new major version (the soname, libtxq.so.MAJOR),
    see docs/api.md. A symbol exported without TXQ_API is a leak: make it
    static, or txq__-prefixed and hidden (the default visibility is hidden).
MSG
    exit 1
fi
echo "exports_check: $(wc -l <"$tmp/file") exports agree (${lib##*/}," \
    "headers, ${exports##*/})"
