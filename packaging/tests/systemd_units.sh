#!/usr/bin/env bash
# The systemd units, as `cmake --install --prefix /usr` (the Debian package) writes
# them: systemd-analyze verify finds nothing wrong (the units parse, the timer's
# service exists, the man pages they name exist, the program they start is
# executable); each service keeps the sandbox it promises (docs/deploy.md) and stays
# under an exposure of 2.0 in `systemd-analyze security --offline=yes`; and every
# credential a unit reads (%d/NAME) is one it loads (LoadCredential=NAME:...).
#   systemd_units.sh BUILD_DIR
set -euo pipefail
build=$1
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

[ $fail = 0 ] && echo "systemd units verified; exposure: ${exposure[*]}"
exit $fail
