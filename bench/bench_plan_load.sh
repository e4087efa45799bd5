#!/usr/bin/env bash
# CPU, peak memory and instructions of `gcscim plan` for an initial load: an
# export of ROWS new people (every row a create, the side-by-side benchmark's
# export and profile) against an empty emulator (limit off), the plan saved
# and printed. Prints the figures, then one JSON object as its last line.
#
#   bench/bench_plan_load.sh [ROWS] [BUILD_DIR] [CALLGRIND_ROWS]
#       (default 100000, build/, 5000; CALLGRIND_ROWS 0 skips callgrind)
#
# CPU is user + system of the gcscim process (/usr/bin/time); instructions
# are callgrind's count for a plan of CALLGRIND_ROWS rows, whole process, a
# figure that does not move with the machine's load (needs valgrind).
# CALLGRIND_OUT=FILE keeps callgrind's profile (callgrind_annotate --inclusive=yes FILE).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rows=${1:-100000}
build=${2:-$root/build}
cg_rows=${3:-5000}
gcscim=$build/gcscim
emulator=$build/gcscim-emulator
if [ ! -x "$gcscim" ] || [ ! -x "$emulator" ]; then
    echo "bench_plan_load: build gcscim first (scripts/build): no $gcscim" >&2
    exit 1
fi
[ -x /usr/bin/time ] || { echo "bench_plan_load: /usr/bin/time is needed (apt-get install time)" >&2; exit 1; }

. "$root/bench/support/load_bench.sh"
load_bench_begin gcscim-bench-plan

export_of() { # rows, file
    awk -v n="$1" 'BEGIN {
        print "email,first,last,title,dept"
        for (i = 0; i < n; i++) printf "person%06d@example.com,Person,%d,Agent,Support\n", i, i
    }' >"$2"
}

plan() { # source, then a command to run gcscim under (may be empty)
    local source=$1
    shift
    start_emulator
    env GENESYSCLOUD_API_URL="$api" GENESYSCLOUD_OAUTHCLIENT_ID=gcscim-emulator \
        GENESYSCLOUD_OAUTHCLIENT_SECRET=gcscim-emulator-secret GCSCIM_DB="sqlite:$dir/gcscim.db" \
        "$@" "$gcscim" --log-level warn plan --profile "$dir/profile.yaml" --source "$source" \
        --out "$dir/plan.json" >"$dir/printed.txt" 2>"$dir/err" || {
        echo "bench_plan_load: gcscim plan failed" >&2
        tail -n 5 "$dir/err" >&2
        exit 1
    }
    stop_emulator
}

load=$(cut -d' ' -f1 /proc/loadavg)
export_of "$rows" "$dir/load.csv"
plan "$dir/load.csv" /usr/bin/time -f "%U %S %M" -o "$dir/time"
read -r user sys rss <"$dir/time"
cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
per_row=$(awk -v c="$cpu" -v n="$rows" 'BEGIN { printf "%.1f", c * 1e6 / n }')
printf 'rows %s, load average %s at the start\n' "$rows" "$load"
printf 'cpu %s s (user %s, sys %s), %s us a row, peak RSS %.1f MiB\n' "$cpu" "$user" "$sys" \
    "$per_row" "$(awk -v k="$rss" 'BEGIN { print k / 1024 }')"

instructions=null
if [ "$cg_rows" -gt 0 ] && command -v valgrind >/dev/null; then
    export_of "$cg_rows" "$dir/cg.csv"
    plan "$dir/cg.csv" valgrind --tool=callgrind --callgrind-out-file="$dir/callgrind.out"
    total=$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$dir/err" | tail -n 1)
    instructions=$(awk -v t="$total" -v n="$cg_rows" 'BEGIN { printf "%.0f", t / n }')
    [ -z "${CALLGRIND_OUT:-}" ] || cp "$dir/callgrind.out" "$CALLGRIND_OUT"
    printf 'callgrind: %s instructions for %s rows, %s a row\n' "$total" "$cg_rows" "$instructions"
elif [ "$cg_rows" -gt 0 ]; then
    echo "callgrind: skipped (no valgrind)"
fi
echo "{\"rows\":$rows,\"load_avg\":$load,\"cpu_s\":$cpu,\"cpu_us_per_row\":$per_row,\"peak_rss_kib\":$rss,\"callgrind_rows\":$cg_rows,\"instructions_per_row\":$instructions}"
