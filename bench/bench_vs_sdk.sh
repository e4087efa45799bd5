#!/usr/bin/env bash
# gcscim side by side with a plain script on the official Genesys Cloud
# JavaScript SDK (bench/sdk/sync.js): the same initial load of N users, then the
# same update of 1% of their titles, each tool against an emulator of its own
# (limit off, empty at the start). Prints wall time, peak RSS and requests of
# both and their ratios, then one JSON object as its last line.
#
#   bench/bench_vs_sdk.sh [USERS] [BUILD_DIR]     (default 10000 and build/)
#
# Needs node and npm (Debian: apt-get install nodejs npm); installs the SDK into
# bench/sdk/node_modules on first use. Skips, saying why, when either is missing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
users=${1:-10000}
build=${2:-$root/build}
gcscim=$build/gcscim
emulator=$build/gcscim-emulator

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "bench_vs_sdk: skipped: node and npm are needed (apt-get install nodejs npm)"
    exit 0
fi
if [ ! -x "$gcscim" ] || [ ! -x "$emulator" ]; then
    echo "bench_vs_sdk: build gcscim first (scripts/build): no $gcscim" >&2
    exit 1
fi
if [ ! -d "$root/bench/sdk/node_modules/purecloud-platform-client-v2" ]; then
    if ! npm install --prefix "$root/bench/sdk" --no-audit --no-fund >/dev/null 2>&1; then
        echo "bench_vs_sdk: skipped: cannot install purecloud-platform-client-v2 from npm"
        exit 0
    fi
fi

. "$root/bench/support/load_bench.sh"
load_bench_begin gcscim-bench-sdk

# The export, and the same with every hundredth title changed.
awk -v n="$users" 'BEGIN {
    print "email,first,last,title,dept" > "'"$dir"'/load.csv"
    print "email,first,last,title,dept" > "'"$dir"'/update.csv"
    for (i = 0; i < n; i++) {
        line = sprintf("person%06d@example.com,Person,%d,", i, i)
        print line "Agent,Support" > "'"$dir"'/load.csv"
        print line (i % 100 == 0 ? "Senior Agent" : "Agent") ",Support" > "'"$dir"'/update.csv"
    }
}'

# API requests the emulator answered (token and admin routes aside).
requests() {
    curl -s "$api/_emulator/stats" | node -e '
        let t = ""; process.stdin.on("data", (d) => (t += d)).on("end", () => {
            let n = 0;
            for (const [route, by] of Object.entries(JSON.parse(t).routes || {}))
                if (!route.includes("/oauth/") && !route.includes("/_emulator"))
                    for (const c of Object.values(by)) n += c;
            console.log(n);
        });'
}

# Runs a command under /usr/bin/time: sets wall (s) and rss (KiB).
timed() {
    /usr/bin/time -f "%e %M" -o "$dir/time" "$@" >"$dir/out" 2>"$dir/err" || {
        echo "bench_vs_sdk: failed: $*" >&2
        tail -n 5 "$dir/err" "$dir/out" >&2
        exit 1
    }
    read -r wall rss <"$dir/time"
}

# The emulator's CPU (user + system) in seconds: it shares the machine with
# the client, so what it spends is taken from both tools alike.
emulator_cpu() {
    awk -v t="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / t }' "/proc/$emu_pid/stat"
}

declare -A R
run_tool() { # name, then the command for one source (the source path is appended)
    local name=$1 c0 c1
    start_emulator
    c0=$(emulator_cpu)
    timed $(command_of "$name") "$dir/load.csv"
    c1=$(emulator_cpu)
    R[$name.load.wall]=$wall R[$name.load.rss]=$rss R[$name.load.req]=$(requests)
    R[$name.load.emu]=$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.2f", b - a }')
    c0=$(emulator_cpu)
    timed $(command_of "$name") "$dir/update.csv"
    c1=$(emulator_cpu)
    R[$name.update.wall]=$wall R[$name.update.rss]=$rss
    R[$name.update.req]=$(($(requests) - R[$name.load.req]))
    R[$name.update.emu]=$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.2f", b - a }')
    stop_emulator
}

# The command of each tool (word-split: no spaces in these paths), before the source.
command_of() {
    if [ "$1" = gcscim ]; then
        echo env GENESYSCLOUD_API_URL=$api GENESYSCLOUD_OAUTHCLIENT_ID=gcscim-emulator \
            GENESYSCLOUD_OAUTHCLIENT_SECRET=gcscim-emulator-secret GCSCIM_DB=sqlite:$dir/gcscim.db \
            "$gcscim" --log-level warn sync --profile "$dir/profile.yaml" \
            --approve "change:title=$users" --source
    else
        echo node "$root/bench/sdk/sync.js" "$api" gcscim-emulator gcscim-emulator-secret 16
    fi
}

load=$(cut -d' ' -f1 /proc/loadavg)
run_tool gcscim
run_tool sdk

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
printf 'users %s, load average %s at the start\n' "$users" "$load"
printf '%-8s %-8s %10s %12s %10s %14s\n' phase tool wall_s peak_rss_mib requests emulator_cpu_s
for phase in load update; do
    for tool in gcscim sdk; do
        printf '%-8s %-8s %10s %12.1f %10s %14s\n' "$phase" "$tool" "${R[$tool.$phase.wall]}" \
            "$(awk -v k="${R[$tool.$phase.rss]}" 'BEGIN { print k / 1024 }')" "${R[$tool.$phase.req]}" \
            "${R[$tool.$phase.emu]}"
    done
    printf '%-8s %-8s %10s %12s %10s\n' "$phase" "ratio" \
        "$(ratio "${R[gcscim.$phase.wall]}" "${R[sdk.$phase.wall]}")" \
        "$(ratio "${R[gcscim.$phase.rss]}" "${R[sdk.$phase.rss]}")" \
        "$(ratio "${R[gcscim.$phase.req]}" "${R[sdk.$phase.req]}")"
done
json='{"users":'$users',"load_avg":'$load
for phase in load update; do
    json+=',"'$phase'":{'
    for tool in gcscim sdk; do
        json+='"'$tool'":{"wall_s":'${R[$tool.$phase.wall]}',"peak_rss_kib":'${R[$tool.$phase.rss]}
        json+=',"requests":'${R[$tool.$phase.req]}',"emulator_cpu_s":'${R[$tool.$phase.emu]}'},'
    done
    json+='"ratio":{"wall":'$(ratio "${R[gcscim.$phase.wall]}" "${R[sdk.$phase.wall]}")
    json+=',"peak_rss":'$(ratio "${R[gcscim.$phase.rss]}" "${R[sdk.$phase.rss]}")
    json+=',"requests":'$(ratio "${R[gcscim.$phase.req]}" "${R[sdk.$phase.req]}")'}}'
done
echo "$json}"
