#!/usr/bin/env bash
# The bash completion completes what the programs accept: it registers itself for
# gcscim and gcscim-emulator; every command of `gcscim --help` completes from its
# prefix; each command offers the options its help names and the global ones; option
# values, sub-commands and files complete; and every long option the command line's
# parser declares (src/cli/*.c) is offered somewhere, so that an option missing from
# the help (and so from the completion and the man pages) fails here.
#   completion.sh GCSCIM GCSCIM_EMULATOR COMPLETION_FILE SRC_CLI_DIR
set -euo pipefail
gcscim=$1 emulator=$2 completion=$3 cli_src=$4
fail=0
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
touch "$tmp/plan.json" "$tmp/profile.yaml"

# complete WORD... : what bash would offer for the last word, sorted, on one line
complete_words() {
    bash --norc --noprofile -c '
        source "$1"; shift
        COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
        spec=$(complete -p "$1") || exit 1
        func=${spec#*-F }; func=${func%% *}
        "$func" "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]:-}"
        printf "%s\n" "${COMPREPLY[@]}" | sort | tr "\n" " " | sed "s/ $//"' \
        completion "$completion" "$@"
}

expect() { # EXPECTED WORD...
    local want=$1; shift
    local got
    got=$(cd "$tmp" && complete_words "$@") || { echo "completing '$*' failed"; fail=1; return; }
    if [ "$got" != "$want" ]; then
        echo "completing '$*': expected '$want', got '$got'"; fail=1
    fi
}
includes() { # WORD-EXPECTED WORD...
    local want=$1; shift
    local got
    got=$(cd "$tmp" && complete_words "$@")
    [[ " $got " == *" $want "* ]] || { echo "completing '$*' does not offer $want (got '$got')"; fail=1; }
}

# It registers itself.
registered=$(bash --norc --noprofile -c 'source "$1"; complete -p gcscim gcscim-emulator' x "$completion")
grep -q -- '-F _gcscim gcscim$' <<<"$registered" || { echo "not registered for gcscim: $registered"; fail=1; }
grep -q -- '-F _gcscim_emulator gcscim-emulator$' <<<"$registered" || { echo "not registered for gcscim-emulator"; fail=1; }

# Every command, from a prefix; each command's own options and the global ones.
commands=$("$gcscim" --help | awk '/^Commands:$/ {on = 1; next} on && /^$/ {exit} on {print $1}')
for c in $commands; do
    includes "$c" gcscim "${c:0:2}"
    for opt in $("$gcscim" help "$c" | sed '/^Global options/,$d' | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u); do
        includes "$opt" gcscim "$c" "${opt:0:4}"
    done
    includes --client-secret-file gcscim "$c" --client-s
done
for opt in $("$emulator" --help | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u); do
    includes "$opt" gcscim-emulator "${opt:0:4}"
done

# Values, sub-commands, operands, and the command found after global options.
expect "plan" gcscim pl
expect "--source" gcscim plan --so
expect "csv json ndjson" gcscim plan --format ""
expect "jsonl" gcscim receipts export --format js
expect "export list show verify" gcscim receipts ""
expect "dead done dropped" gcscim jobs list --state d
expect "show" gcscim config ""
expect "plan.json profile.yaml" gcscim apply ""
expect "profile.yaml" gcscim sync --source plan.json --profile pro
expect "" gcscim plan --target ""
expect "apply" gcscim help ap
expect "receipts" gcscim --db sqlite:x.db --log-level debug re
expect "debug" gcscim --log-level de
expect "" gcscim receipts list ""
expect "text" gcscim-emulator --log-format t
expect "plan.json" gcscim-emulator --seed pl

# Every long option the parser declares is offered for some command (or everywhere).
offered=$(for c in $commands; do complete_words gcscim "$c" --; echo; done | tr ' ' '\n' | sort -u)
declared=$(grep -ohE '\{"[a-z][a-z0-9-]*", *(no|required|optional)_argument' "$cli_src"/*.c |
           sed -E 's/^\{"([^"]*)".*/--\1/' | sort -u)
[ -n "$declared" ] || { echo "no option declarations found in $cli_src"; fail=1; }
for opt in $declared; do
    grep -qx -- "$opt" <<<"$offered" || { echo "$opt is declared in $cli_src but no command's help names it"; fail=1; }
done

[ $fail = 0 ] && echo "completion: $(wc -w <<<"$commands") commands, $(wc -l <<<"$offered") options, $(wc -w <<<"$declared") declared options offered"
exit $fail
