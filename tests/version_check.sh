#!/usr/bin/env bash
# version_check.sh SOURCE_DIR PROJECT_VERSION TXQ - one version everywhere:
# the upstream part of debian/changelog's newest entry, CMake's
# PROJECT_VERSION, and what `txq --version` (the program and the libtxq it
# loads) and the txq-worker beside it print. Fails on any difference.
set -euo pipefail

src=$1 project=$2 txq=$3
die() {
    echo "version_check: $*" >&2
    exit 1
}
command -v dpkg-parsechangelog >/dev/null ||
    die "dpkg-parsechangelog is not installed (Debian: dpkg-dev)"
deb=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version) ||
    die "cannot read $src/debian/changelog"
upstream=${deb#*:}
upstream=${upstream%-*}
[[ $upstream == "$project" ]] ||
    die "debian/changelog says $upstream ($deb), CMake's PROJECT_VERSION $project: add a changelog entry (dch -v $project-1)"

out=$("$txq" --version) || die "$txq --version failed"
[[ $out =~ ^txq\ ([0-9.]+)\ \(libtxq\ ([0-9.]+), ]] ||
    die "unexpected txq --version: $out"
[[ ${BASH_REMATCH[1]} == "$project" && ${BASH_REMATCH[2]} == "$project" ]] ||
    die "txq --version says '$out', CMake's PROJECT_VERSION is $project"
worker=$(dirname "$txq")/txq-worker
if [[ -x $worker ]]; then
    w=$("$worker" --version) || die "$worker --version failed"
    [[ $w == "txq-worker $project" ]] ||
        die "txq-worker --version says '$w', CMake's PROJECT_VERSION is $project"
fi
echo "version_check: $project in CMake, debian/changelog ($deb) and the programs"
