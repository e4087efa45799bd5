# Sourced by bench/bench_vs_sdk.sh and bench/bench_plan_load.sh: the initial
# load's working directory, profile and emulator, the same in both so that
# their figures compare. The caller sets `emulator` (its binary) first.
#   load_bench_begin PREFIX   makes $dir (removed on exit, with the emulator)
#   start_emulator            an empty emulator, limit off; sets $api, $emu_pid
#   stop_emulator

load_bench_begin() {
    dir=$(mktemp -d "/tmp/$1-XXXXXX")
    emu_pid=
    trap load_bench_cleanup EXIT
    cat >"$dir/profile.yaml" <<'YAML'
version: 1
match: [userName]
attributes:
  userName: {from: email, required: true}
  displayName: {template: "{first} {last}", required: true}
  title: title
  department: dept
YAML
}

load_bench_cleanup() {
    [ -n "$emu_pid" ] && kill "$emu_pid" 2>/dev/null && wait "$emu_pid" 2>/dev/null
    rm -rf "$dir"
}

start_emulator() {
    rm -f "$dir/ready.json"
    "$emulator" --listen 127.0.0.1:0 --ready-file "$dir/ready.json" --rate-limit 0 \
        --log-level warn >"$dir/emulator.log" 2>&1 &
    emu_pid=$!
    for _ in $(seq 1 300); do
        [ -s "$dir/ready.json" ] && break
        sleep 0.05
    done
    api=$(sed -n 's/.*"api_url" *: *"\([^"]*\)".*/\1/p' "$dir/ready.json")
}

stop_emulator() {
    kill "$emu_pid" && wait "$emu_pid" 2>/dev/null || true
    emu_pid=
}
