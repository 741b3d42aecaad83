#!/usr/bin/env bash
# completion_check.sh SOURCE_DIR TXQ - source contrib/bash-completion/txq in
# a plain bash and check what it completes: fixed cases, then that every
# command of `txq --help` and every option of each `txq COMMAND --help` (of
# the txq program given) is offered. Fails on any difference.
set -euo pipefail

src=$1 txq=$2
fails=0
die() {
    echo "completion_check: $*" >&2
    exit 1
}
[[ -x $txq ]] || die "no txq program at $txq"
# shellcheck source=../contrib/bash-completion/txq
source "$src/contrib/bash-completion/txq"
complete -p txq | grep -q -- '-F _txq' || die "txq has no completion function"

# complete WORD... : what completing the last word offers, sorted, one line.
complete_line() {
    COMP_WORDS=("$@")
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    COMP_LINE="$*"
    COMP_POINT=${#COMP_LINE}
    COMPREPLY=()
    _txq txq "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
    printf '%s\n' "${COMPREPLY[@]}" | sort | xargs
}

expect() {
    local want=$1 got
    shift
    got=$(complete_line "$@")
    if [[ $got != "$want" ]]; then
        echo "completion_check: '$*' completes to '$got', expected '$want'" >&2
        fails=$((fails + 1))
    fi
}

expect "pause" txq pa
expect "add list remove" txq schedule ""
expect "publish purge" txq pu
expect "create drop list route subscribe unroute unsubscribe" txq topic ""
expect "alter create drop list" txq --db "dbname=x" queue ""
expect "--pooler" txq --po
expect "auto none transaction" txq --pooler ""
expect "auto none transaction" txq send q --pooler ""
expect "--on-exhausted" txq queue create q --on
expect "ignore notify review" txq queue create q --on-exhausted ""
expect "--fifo" txq queue create q --fi
expect "--no-encrypt" txq queue alter q --no
expect "send,receive" txq grant q role send,re
expect "monitor" txq revoke '*' role mon
expect "--catch-up --cron" txq schedule add tick --c
expect "--all" txq dead requeue --a
expect "" txq send q --priority ""
expect "--attempt" txq ack 12 --at
# Words as bash splits them at COMP_WORDBREAKS' = and :.
expect "pause" txq --db dbname = app pa
expect "pause" txq --db = dbname = app pa
expect "alter create drop list" txq --db "'host=/run port=5432'" queue ""
expect "" txq send q --header type = ""
[[ $(_txq_unquote "'a b'") == "a b" && $(_txq_unquote '"a b"') == "a b" &&
    $(_txq_unquote '"$(false)"') == '"$(false)"' ]] ||
    die "_txq_unquote does not unquote plainly quoted words only"

# Every command the program lists.
mapfile -t cmds < <("$txq" --help |
    sed -n '/^Commands:/,/^$/s/^  \([a-z][a-z|]*\) .*/\1/p' | tr '|' '\n')
[[ ${#cmds[@]} -ge 20 ]] || die "read only ${#cmds[@]} commands from txq --help"
offered=" $(complete_line txq "") "
for c in "${cmds[@]}"; do
    [[ $offered == *" $c "* ]] || {
        echo "completion_check: command $c is not completed" >&2
        fails=$((fails + 1))
    }
done

# Every option of each command's help, offered by the command (or one of
# its sub-commands; ack/fail/extend and grant/revoke/grants share a help).
declare -A subs=([queue]="create alter drop list"
    [topic]="create subscribe unsubscribe route unroute list drop"
    [dead]="list show requeue discard" [schedule]="list add remove")
declare -A group=([ack]="ack fail extend" [fail]="ack fail extend"
    [extend]="ack fail extend" [grant]="grant revoke grants"
    [revoke]="grant revoke grants" [grants]="grant revoke grants")
for c in "${cmds[@]}"; do
    union=" "
    for g in ${group[$c]:-$c}; do # word splitting meant
        if [[ -n ${subs[$g]:-} ]]; then
            for s in ${subs[$g]}; do
                union+="$(complete_line txq "$g" "$s" -) "
            done
        else
            union+="$(complete_line txq "$g" -) "
        fi
    done
    # queue's help names txq send's --key-file, topic's txq send's --header.
    mapfile -t opts < <("$txq" "$c" --help | grep -o -- '--[a-z][a-z-]*' |
        sort -u)
    for o in "${opts[@]}"; do
        [[ $c/$o == queue/--key-file || $c/$o == topic/--header ]] && continue
        [[ $union == *" $o "* ]] || {
            echo "completion_check: txq $c: option $o is not completed" >&2
            fails=$((fails + 1))
        }
    done
done

[[ $fails -eq 0 ]] || die "$fails difference(s)"
echo "completion_check: ${#cmds[@]} commands and their options complete"
