#!/usr/bin/env bash
# Benchmark of gcscim-emulator: GET of one user and PATCH of one user with wrk,
# keep-alive connections, rate limit off, on loopback. Uses the release build
# (scripts/build, build/) unless $GCSCIM_EMULATOR names another binary.
#   bench/emulator.sh [SECONDS=10] [CONNECTIONS=16] [EMULATOR_THREADS=4 (0 = one per connection)]
#                     [USERS=1 (N > 1: N - 1 synthetic users besides the bench user)]
# Prints one JSON object as its last line: {"get_rps":…,"patch_rps":…,…}.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
emu=${GCSCIM_EMULATOR:-$root/build/gcscim-emulator}
secs=${1:-10}
conns=${2:-16}
threads=${3:-4}
users=${4:-1}
[ -x "$emu" ] || "$root/scripts/build"
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)" >&2; exit 1; }

work=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

cat >"$work/seed.json" <<'JSON'
{"roles":[{"name":"Agent"}],"divisions":[{"name":"Home"}],"skills":[{"name":"Billing"}],
 "users":[{"id":"5b0f8a52-8a6c-4c1e-9d43-1c7e5e0b7a01","userName":"bench@example.com","displayName":"Bench",
  "title":"Agent","roles":[{"value":"Agent"}],"emails":[{"type":"work","value":"bench@example.com","primary":true}],
  "phoneNumbers":[{"type":"work","value":"+15555550100"}],
  "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"division":"Home","department":"Ops"},
  "urn:ietf:params:scim:schemas:extension:genesys:purecloud:2.0:User":{"routingSkills":[{"name":"Billing","proficiency":3}]}}]}
JSON
"$emu" --listen 127.0.0.1:0 --ready-file "$work/ready.json" --seed "$work/seed.json" \
    --client bench:bench-secret --rate-limit 0 --threads "$threads" --log-level warn \
    --synthetic-users $((users - 1)) &
pid=$!
# A million synthetic users take about half a minute to build.
for _ in $(seq 1800); do [ -s "$work/ready.json" ] && break; sleep 0.05; done
url=$(sed 's/.*"api_url":"\([^"]*\)".*/\1/' "$work/ready.json")
token=$(curl -s -u bench:bench-secret -d grant_type=client_credentials "$url/oauth/token" |
        sed 's/.*"access_token":"\([^"]*\)".*/\1/')
user="$url/api/v2/scim/v2/users/5b0f8a52-8a6c-4c1e-9d43-1c7e5e0b7a01"

cat >"$work/get.lua" <<LUA
wrk.method = "GET"
wrk.headers["Authorization"] = "Bearer $token"
done = function(summary, latency, requests)
  io.write(string.format("non2xx=%d\\n", summary.errors.status))
end
LUA
cat >"$work/patch.lua" <<LUA
wrk.method = "PATCH"
wrk.headers["Authorization"] = "Bearer $token"
wrk.headers["Content-Type"] = "application/scim+json"
wrk.body = '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"title","value":"Lead"},{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department","value":"Sales"}]}'
done = function(summary, latency, requests)
  io.write(string.format("non2xx=%d\\n", summary.errors.status))
end
LUA

run() { # name script
    local out
    out=$(wrk -t1 -c"$conns" -d"${secs}s" --latency -s "$2" "$user")
    echo "$out" >&2
    local rps p99 errs
    rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
    errs=$(echo "$out" | awk -F= '/non2xx=/ {print $2}')
    echo "\"${1}_rps\":${rps},\"${1}_p99\":\"${p99}\",\"${1}_non2xx\":${errs:-0}"
}
get=$(run get "$work/get.lua")
patch=$(run patch "$work/patch.lua")

echo "{\"bench\":\"emulator\",\"seconds\":$secs,\"connections\":$conns,\"emulator_threads\":$threads,\"users\":$users,$get,$patch}"
