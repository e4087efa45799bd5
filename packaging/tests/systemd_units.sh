#!/usr/bin/env bash
# The systemd units, as `cmake --install --prefix /usr` (the Debian package) writes
# them: systemd-analyze verify finds nothing wrong (the units parse, the timer's
# service exists, the man pages they name exist, the program they start is
# executable); each service keeps the sandbox it promises (docs/deploy.md) and stays
# under an exposure of 2.0 in `systemd-analyze security --offline=yes`; and every
# credential a unit reads (%d/NAME) is one it loads (LoadCredential=NAME:...); every
# variable gcscim-sync.service's command line uses is set in the installed sync.env.
# Then each unit's command line runs as systemd would run it (its environment, %d
# the credentials, %S the state directory, the installed config.json) against the
# emulator: serve tells systemd READY=1 (Type=notify) once it answers, answers
# /readyz, and on SIGTERM tells STOPPING=1 and exits 0; sync provisions the example
# organisation and exits 0.
#   systemd_units.sh BUILD_DIR SOURCE_DIR NOTIFY_LISTEN
set -euo pipefail
build=$(cd "$1" && pwd) source=$(cd "$2" && pwd) notify_listen=$(realpath "$3")
fail=0
exposure=()
ceiling=20   # systemd-analyze's --threshold is in tenths: 2.0
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

DESTDIR=$tmp/root cmake --install "$build" --prefix /usr >/dev/null
units=$tmp/root/lib/systemd/system
for u in gcscim.service gcscim-sync.service gcscim-sync.timer; do
    [ -f "$units/$u" ] || { echo "$u is not installed in /lib/systemd/system"; exit 1; }
done
grep -q '^ExecStart=/usr/bin/gcscim serve ' "$units/gcscim.service" || { echo "gcscim.service does not start /usr/bin/gcscim serve"; fail=1; }
grep -q '^ExecStart=/usr/bin/gcscim sync ' "$units/gcscim-sync.service" || { echo "gcscim-sync.service does not start /usr/bin/gcscim sync"; fail=1; }

# Verified as installed, except that they start the gcscim of this staging tree.
mkdir -p "$tmp/verify"
for u in gcscim.service gcscim-sync.service gcscim-sync.timer; do
    sed "s|/usr/bin/gcscim|$tmp/root/usr/bin/gcscim|g" "$units/$u" > "$tmp/verify/$u"
done
if ! out=$(cd "$tmp/verify" && MANPATH=$tmp/root/usr/share/man \
           systemd-analyze verify gcscim.service gcscim-sync.service gcscim-sync.timer 2>&1) || [ -n "$out" ]; then
    echo "systemd-analyze verify: $out"; fail=1
fi

for u in gcscim.service gcscim-sync.service; do
    for directive in DynamicUser=yes ProtectSystem=strict NoNewPrivileges=yes PrivateTmp=yes \
                     ProtectHome=yes 'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6' \
                     SystemCallFilter=@system-service StateDirectory=gcscim CapabilityBoundingSet= \
                     'LoadCredential=client_secret:/etc/gcscim/credentials/client_secret'; do
        grep -qx -- "$directive" "$units/$u" || { echo "$u lacks $directive"; fail=1; }
    done
    # Every credential read is one loaded.
    for name in $(grep -oE '%d/[A-Za-z0-9_.-]+' "$units/$u" | cut -d/ -f2 | sort -u); do
        grep -q "^LoadCredential=$name:" "$units/$u" || { echo "$u reads credential $name but does not load it"; fail=1; }
    done
    if ! report=$(systemd-analyze security --offline=yes --threshold=$ceiling "$tmp/verify/$u" 2>&1); then
        echo "$u: exposure above ${ceiling:0:1}.${ceiling:1}:"; grep -E '✗|Overall' <<<"$report"; fail=1
    else
        exposure+=("$u $(grep -oE 'Overall exposure level for [^:]*: [0-9.]+' <<<"$report" | awk "{print \$NF}")")
    fi
done
grep -qx 'Type=notify' "$units/gcscim.service" || { echo "gcscim.service is not Type=notify"; fail=1; }
grep -qx 'Type=oneshot' "$units/gcscim-sync.service" || { echo "gcscim-sync.service is not Type=oneshot"; fail=1; }

# Every variable of gcscim-sync.service's command line comes from sync.env.
for var in $(sed -n 's/^ExecStart=//p' "$units/gcscim-sync.service" | grep -oE '\$\{?[A-Z_]+' | tr -d '${' | sort -u); do
    grep -q "^$var=" "$tmp/root/etc/gcscim/sync.env" || { echo "gcscim-sync.service uses \$$var, which sync.env does not set"; fail=1; }
done
grep -qx 'EnvironmentFile=/etc/gcscim/sync.env' "$units/gcscim-sync.service" || { echo "gcscim-sync.service does not read /etc/gcscim/sync.env"; fail=1; }

# ==== The command lines, run as systemd would run them ====
creds=$tmp/credentials state=$tmp/state
mkdir -p "$creds" "$state/gcscim"
client=00000000-0000-0000-0000-000000000000   # the example config.json's client_id
printf 'emulator-secret\n' > "$creds/client_secret"
printf 'whsec_%s\n' "$(head -c 32 /dev/urandom | base64)" > "$creds/event_secrets"
printf 'ops events,provision,read sha256:%s\n' "$(printf key | sha256sum | cut -d' ' -f1)" > "$creds/api_keys"
chmod 0400 "$creds"/*
# The mapping profile config.json names, put in place as docs/deploy.md says.
cp "$source/examples/profile.yaml" "$tmp/root/etc/gcscim/profile.yaml"
# ... and config.json names it where the test root has it (serve reads it at start).
sed -i "s|\"/etc/gcscim/|\"$tmp/root/etc/gcscim/|g" "$tmp/root/etc/gcscim/config.json"

specifiers() { sed "s|%d|$creds|g; s|%S|$state|g; s|/usr/bin/gcscim|$tmp/root/usr/bin/gcscim|g; s|/etc/gcscim/|$tmp/root/etc/gcscim/|g"; }
exec_start() { sed -e ':a' -e '/\\$/N; s/\\\n//; ta' "$units/$1" | sed -n 's/^ExecStart=//p' | specifiers; }
environment() { sed -n 's/^Environment=//p' "$units/$1" | specifiers; }

"$build/gcscim-emulator" --listen 127.0.0.1:0 --ready-file "$tmp/emulator.json" --log-level warn \
    --client "$client:emulator-secret" --seed "$source/examples/org.json" >"$tmp/emulator.log" 2>&1 &
emulator=$!
trap 'kill $emulator 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$tmp"' EXIT
for _ in $(seq 200); do [ -s "$tmp/emulator.json" ] && break; sleep 0.05; done
api=$(sed -n 's/.*"api_url":"\([^"]*\)".*/\1/p' "$tmp/emulator.json")
[ -n "$api" ] || { echo "the emulator did not start"; cat "$tmp/emulator.log"; exit 1; }
at_emulator="--api-url $api --login-url $api"

cd "$tmp"
# What systemd would hear from serve on $NOTIFY_SOCKET.
"$notify_listen" "$tmp/notify.sock" 60 > "$tmp/notify.log" &
listener=$!
for _ in $(seq 100); do [ -S "$tmp/notify.sock" ] && break; sleep 0.05; done
# serve, from gcscim.service, on a free port instead of 8080 ($! is serve itself: env and
# bash exec it)
NOTIFY_SOCKET=$tmp/notify.sock env $(environment gcscim.service) bash -c \
    "exec $(exec_start gcscim.service) $at_emulator --listen 127.0.0.1:0 --ready-file $tmp/serve.json" \
    >"$tmp/serve.log" 2>&1 &
serve=$!
trap 'kill $emulator $serve $listener 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$tmp"' EXIT
for _ in $(seq 300); do [ -s "$tmp/serve.json" ] && break; kill -0 $serve 2>/dev/null || break; sleep 0.05; done
url=$(sed -n 's/.*"url":"\([^"]*\)".*/\1/p' "$tmp/serve.json" 2>/dev/null || true)
if [ -z "$url" ]; then
    echo "gcscim.service's command line did not start serve:"; cat "$tmp/serve.log"; fail=1
else
    ready=$(curl -s -o /dev/null -w '%{http_code}' "$url/readyz")
    [ "$ready" = 200 ] || { echo "serve from gcscim.service: /readyz answers $ready"; fail=1; }
    for _ in $(seq 100); do grep -qx 'READY=1' "$tmp/notify.log" && break; sleep 0.05; done
    grep -qx 'READY=1' "$tmp/notify.log" || { echo "serve did not notify READY=1 (Type=notify would time out): $(cat "$tmp/notify.log")"; fail=1; }
    kill -TERM $serve
    code=0; wait $serve || code=$?
    [ $code = 0 ] || { echo "serve from gcscim.service exited $code on SIGTERM:"; tail -5 "$tmp/serve.log"; fail=1; }
    wait $listener || { echo "serve did not notify STOPPING=1 on SIGTERM: $(cat "$tmp/notify.log")"; fail=1; }
    [ -s "$state/gcscim/gcscim.db" ] || { echo "serve kept no store in the state directory"; fail=1; }
fi

# sync, from gcscim-sync.service, with a sync.env naming the example export
cat > "$tmp/sync.env" <<ENV
GCSCIM_SYNC_SOURCE=$source/examples/hr-export.csv
GCSCIM_SYNC_PROFILE=$source/examples/profile.yaml
GCSCIM_SYNC_OPTIONS=--approve adopt=1
ENV
# systemd reads an EnvironmentFile line as KEY=the rest of the line
sync_env=()
while IFS= read -r line; do
    [[ $line =~ ^[A-Z_]+= ]] && sync_env+=("$line")
done < "$tmp/sync.env"
code=0
env "${sync_env[@]}" $(environment gcscim-sync.service) bash -c \
    "exec $(exec_start gcscim-sync.service) $at_emulator" >"$tmp/sync.log" 2>&1 || code=$?
[ $code = 0 ] || { echo "gcscim-sync.service's command line exited $code:"; tail -5 "$tmp/sync.log"; fail=1; }

[ $fail = 0 ] && echo "systemd units verified, their command lines run; exposure: ${exposure[*]}"
exit $fail
