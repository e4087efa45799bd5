#!/usr/bin/env bash
# The man pages say what the help says: every command `gcscim --help` lists has its
# page gcscim-COMMAND(1), there is no page for a command that does not exist, every
# line of each help text is in its rendered page (its words, one after the other,
# case and punctuation aside; "Usage:" is the SYNOPSIS, the version before the
# summary is the page's footer), and man's own checker finds nothing to warn about.
#   man_pages.sh GCSCIM GCSCIM_EMULATOR MANDIR
set -euo pipefail
gcscim=$1 emulator=$2 mandir=$3
fail=0

words() { tr 'A-Z' 'a-z' | tr -c 'a-z0-9\n' ' ' | tr -s ' ' | sed 's/^ *//; s/ *$//'; }

# Prints the first help line (number: words) whose words are not together in the page.
first_missing() { # HELPLINES PAGELINES
    awk 'FILENAME == ARGV[1] { page = page " " $0; next }
         FNR == 1 { page = page " " }
         $0 != "" && !index(page, " " $0 " ") { print FNR ": " $0; exit }' "$2" "$1"
}

check() { # PAGE HELP-COMMAND...
    local name=$1; shift
    local file=$mandir/$name.1.gz
    if [ ! -s "$file" ]; then echo "no man page $name(1) ($file)"; fail=1; return; fi
    "$@" | sed -E 's/^Usage: //; 1s/^([^ ]+) [0-9][^ ]* - /\1 - /' | words > "$tmp/help"
    MANWIDTH=200 man --nh --nj -l "$file" 2>/dev/null | col -b | words > "$tmp/page"
    local missing
    missing=$(first_missing "$tmp/help" "$tmp/page")
    if [ -n "$missing" ]; then
        echo "$name(1) disagrees with '$*': help line $missing is not in the page"
        fail=1
    fi
    local warnings
    warnings=$(LC_ALL=C.UTF-8 man --warnings -E UTF-8 -l -Tutf8 -Z "$file" 2>&1 >/dev/null || true)
    if [ -n "$warnings" ]; then echo "$name(1): man warns: $warnings"; fail=1; fi
}

tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
commands=$("$gcscim" --help | awk '/^Commands:$/ {on = 1; next} on && /^$/ {exit} on {print $1}')
[ -n "$commands" ] || { echo "no commands in gcscim --help"; exit 1; }

check gcscim "$gcscim" --help
check gcscim-emulator "$emulator" --help
for c in $commands; do check "gcscim-$c" "$gcscim" help "$c"; done

# A page for a command that is gone is a page that lies.
for f in "$mandir"/gcscim-*.1.gz; do
    name=$(basename "$f" .1.gz)
    [ "$name" = gcscim-emulator ] && continue
    grep -qx "${name#gcscim-}" <<<"$commands" || { echo "$name(1) documents no command"; fail=1; }
done
n=$(wc -w <<<"$commands")
[ $fail = 0 ] && echo "man pages: gcscim(1), gcscim-emulator(1) and $n command pages agree with the help"
exit $fail
