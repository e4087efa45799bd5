#!/usr/bin/env bash
# Allocation-failure run of one unit test (curl's torture mode):
#   torture.sh PROGRAM
# PROGRAM is a unit test linked with tests/torture/failalloc.c. It is run once
# with no failure, to count its allocations and find its allocation points (a
# point is a distinct call stack, ten frames deep), then once with
# GCS_FAILALLOC=N for each point's first allocation N. Each run may fail its
# assertions (an allocation failed: that is expected), but must not crash, trip
# an assertion of the library, nor leak or misuse memory (ASan, LSan, UBSan).
#
# GCS_TORTURE_MAX_RUNS=M (default 100; 0: no limit) keeps CI's time: with more
# points than M, every ceil(points/M)th point in order of first use is failed.
# GCS_TORTURE_STEP=K sweeps every Kth allocation instead, N = 1, 1+K, 1+2K, ...
# until a run no longer reaches N (K=1: every allocation, as curl's torture
# mode; minutes to hours on the larger tests). A failing run is printed with the
# command that reproduces it.
set -uo pipefail
prog=$(realpath "$1")
name=$(basename "$prog")
step=${GCS_TORTURE_STEP:-}
max_runs=${GCS_TORTURE_MAX_RUNS:-100}
upstream=0
export CMOCKA_TEST_ABORT=1
# ASan must exit (not abort: failalloc turns an abort into an expected exit) and
# report leaks; UBSan stops at the first report.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=86:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=87
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
log=$tmp/run.log

# A run that may not crash, leak, or report anything. Sets $hit and $allocs.
check_run() {
    local n=$1 rc
    mkdir -p "$tmp/t"
    (cd "$tmp" && TMPDIR=$tmp/t GCS_FAILALLOC=$n GCS_FAILALLOC_SITES=$tmp/points "$prog") >"$log" 2>&1
    rc=$?
    local line
    line=$(grep -ao 'failalloc: fail=[0-9]* allocations=[0-9]* hit=[01]' "$log" | tail -n 1)
    hit=$(sed -n 's/.*hit=\([01]\).*/\1/p' <<<"$line")
    allocs=$(sed -n 's/.*allocations=\([0-9]*\).*/\1/p' <<<"$line")
    local why=""
    # jansson 2.14's parser mishandles its own allocation failures (its lexer
    # asserts or reads freed text): its bug, not ours; counted, not failed.
    if grep -aqE '#0 0x[0-9a-f]+ +\(/[^ ]*libjansson' "$log" && grep -aqE ' in json_load' "$log"; then
        upstream=$((upstream + 1))
        hit=1 # it crashed at the failure it was given
        return 0
    fi
    if [ -z "$line" ]; then
        why="no report (crashed or killed, exit $rc)"
    elif grep -aqE 'ERROR: (Address|Leak)Sanitizer|runtime error:|Test failed with exception|Assertion .* failed' "$log" &&
         ! grep -aq "load.c:[0-9]*: lex_scan_string: Assertion \`0' failed" "$log"; then
        # (jansson 2.14's lexer asserts when it could not save a string's text:
        # its bug, in its own allocation failure handling, not ours)
        why="sanitizer report, exception or assertion"
    elif [ "$n" = 0 ] && [ "$rc" != 0 ]; then
        why="fails without any allocation failure (exit $rc)"
    elif [ "$rc" != 0 ] && [ "$rc" != 77 ] && [ "$rc" != 1 ]; then
        # 0: passed; 1: cmocka counted failures; 77: cmocka aborted on one.
        why="unexpected exit $rc"
    fi
    if [ -n "$why" ]; then
        echo "torture: $name: GCS_FAILALLOC=$n: $why" >&2
        echo "  reproduce: GCS_FAILALLOC=$n CMOCKA_TEST_ABORT=1 $prog" >&2
        sed -n '1,200p' "$log" >&2
        return 1
    fi
    return 0
}

check_run 0 || exit 1
total=$allocs
failed=0
runs=0
if [ -n "$step" ]; then
    n=1
    while :; do
        runs=$((runs + 1))
        check_run "$n" || failed=$((failed + 1))
        [ "$hit" = 1 ] || break
        n=$((n + step))
    done
    what="every ${step}th allocation"
else
    points=$(wc -l <"$tmp/points")
    every=1
    if [ "$max_runs" -gt 0 ] && [ "$points" -gt "$max_runs" ]; then
        every=$(((points + max_runs - 1) / max_runs))
    fi
    for n in $(sort -n "$tmp/points" | awk -v k="$every" '(NR - 1) % k == 0'); do
        runs=$((runs + 1))
        check_run "$n" || failed=$((failed + 1))
        [ "$hit" = 1 ] || { echo "torture: $name: allocation $n not reached again" >&2; failed=$((failed + 1)); }
    done
    what="$points allocation points (every ${every})"
fi
echo "torture: $name: $total allocations, $what, $runs runs, $failed failing, $upstream in jansson's parser"
[ "$failed" = 0 ]
