#!/usr/bin/env bash
# The Debian package. Three steps, each a ctest of its own:
#   package.sh build BUILD_DIR   cpack -G DEB into BUILD_DIR/packaging/deb; checks its
#                                control data (Depends from dpkg-shlibdeps, conffiles)
#                                and that it holds every file it should
#   package.sh install BUILD_DIR installs it for real as root (dpkg -i), when gcscim is
#                                not already installed from elsewhere, and runs the
#                                installed programs, man, the completion, the example
#                                configuration and systemd-analyze verify of the units,
#                                then purges it; otherwise (not root, or
#                                GCS_PACKAGE_INSTALL=0) runs them from dpkg-deb -x
#   package.sh lintian BUILD_DIR lintian finds no error or warning
set -euo pipefail
step=$1 build=$(cd "$2" && pwd)
debdir=$build/packaging/deb
fail=0
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

the_deb() {
    local debs=("$debdir"/gcscim_*.deb)
    [ -f "${debs[0]}" ] || { echo "no package in $debdir: run the package.build test first" >&2; exit 1; }
    echo "${debs[0]}"
}

commands() { # the commands of a gcscim, from its help
    "$1" --help | awk '/^Commands:$/ {on = 1; next} on && /^$/ {exit} on {print $1}'
}

# Runs the programs of an installed tree (ROOT is / or an extracted package).
check_installed() { # ROOT
    local root=$1 bin=$1/usr/bin
    local v
    v=$("$bin/gcscim" version) && [[ $v =~ ^gcscim\ [0-9] ]] || { echo "installed gcscim version: '$v'"; fail=1; }
    v=$("$bin/gcscim-emulator" --version) && [[ $v =~ ^gcscim-emulator\ [0-9] ]] || { echo "installed gcscim-emulator --version: '$v'"; fail=1; }
    # The example configuration is one gcscim accepts, and it holds no secret.
    if ! v=$(cd "$tmp" && env -u GENESYSCLOUD_OAUTHCLIENT_SECRET "$bin/gcscim" config show --config "$root/etc/gcscim/config.json" 2>&1); then
        echo "the example configuration is refused: $v"; fail=1
    fi
    grep -q '^GCSCIM_SYNC_SOURCE=' "$root/etc/gcscim/sync.env" || { echo "sync.env names no source"; fail=1; }
    if [ "$root" = / ]; then
        for c in $(commands "$bin/gcscim") ; do
            man -w "gcscim-$c" >/dev/null 2>&1 || { echo "man gcscim-$c: no page installed"; fail=1; }
        done
        man -w gcscim-emulator >/dev/null 2>&1 || { echo "man gcscim-emulator: no page installed"; fail=1; }
        bash --norc -c 'source /usr/share/bash-completion/completions/gcscim && complete -p gcscim' >/dev/null ||
            { echo "the installed completion does not register"; fail=1; }
        # The units as installed, with the installed program and manual pages.
        local out
        if ! out=$(cd /lib/systemd/system && systemd-analyze verify gcscim.service gcscim-sync.service \
                   gcscim-sync.timer 2>&1) || [ -n "$out" ]; then
            echo "systemd-analyze verify of the installed units: $out"; fail=1
        fi
    fi
}

case $step in
build)
    rm -rf "$debdir"
    cpack --config "$build/CPackConfig.cmake" -G DEB -B "$debdir" >"$tmp/cpack.log" 2>&1 ||
        { cat "$tmp/cpack.log"; exit 1; }
    rm -rf "$debdir/_CPack_Packages"
    deb=$(the_deb)
    depends=$(dpkg-deb -f "$deb" Depends)
    for lib in libc6 libcurl4 libjansson4 libsqlite3-0 libpq5 libmicrohttpd12 libyaml-0-2 libcsv3 libyajl2; do
        grep -qE "(^|, )$lib( |,|$)" <<<"$depends" || { echo "Depends lacks $lib: $depends"; fail=1; }
    done
    dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles > "$tmp/conffiles"
    for f in /etc/gcscim/config.json /etc/gcscim/sync.env; do
        grep -qx "$f" "$tmp/conffiles" || { echo "$f is not a conffile"; fail=1; }
    done
    dpkg-deb -c "$deb" | awk '{print $1, $NF}' | sed 's| \./| /|; s|/$||' > "$tmp/contents"
    want="/usr/bin/gcscim /usr/bin/gcscim-emulator /usr/share/man/man1/gcscim.1.gz
          /usr/share/man/man1/gcscim-emulator.1.gz /lib/systemd/system/gcscim.service
          /lib/systemd/system/gcscim-sync.service /lib/systemd/system/gcscim-sync.timer
          /etc/gcscim/config.json /etc/gcscim/sync.env /etc/gcscim/credentials
          /usr/share/bash-completion/completions/gcscim /usr/share/bash-completion/completions/gcscim-emulator
          /usr/share/gcscim/grafana/gcscim-dashboard.json /usr/share/gcscim/prometheus/gcscim-alerts.yml
          /usr/share/doc/gcscim/copyright /usr/share/doc/gcscim/changelog.Debian.gz /usr/share/doc/gcscim/deploy.md"
    for c in $(commands "$build/gcscim"); do want+=" /usr/share/man/man1/gcscim-$c.1.gz"; done
    for f in $want; do
        grep -q " $f$" "$tmp/contents" || { echo "the package lacks $f"; fail=1; }
    done
    grep -qx 'drwx------ /etc/gcscim/credentials' "$tmp/contents" || { echo "/etc/gcscim/credentials is not mode 0700"; fail=1; }
    [ $fail = 0 ] && echo "built $(basename "$deb"), $(wc -l < "$tmp/contents") entries; Depends: $depends"
    ;;
install)
    deb=$(the_deb)
    if [ "$(id -u)" = 0 ] && [ "${GCS_PACKAGE_INSTALL:-1}" = 1 ] &&
       ! dpkg-query -W -f='${Status}' gcscim 2>/dev/null | grep -q 'installed'; then
        # One install at a time on this machine, and never over a gcscim installed otherwise.
        exec 9>/run/lock/gcscim-package-test.lock; flock -w 300 9
        dpkg-query -W -f='${Status}' gcscim 2>/dev/null | grep -q 'installed' &&
            { echo "gcscim got installed meanwhile; not touching it"; exit 1; }
        trap 'dpkg --purge gcscim >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
        for attempt in $(seq 60); do   # apt or dpkg of someone else may hold dpkg's lock
            if out=$(DEBIAN_FRONTEND=noninteractive dpkg -i "$deb" 2>&1); then break; fi
            grep -q 'lock' <<<"$out" || { echo "dpkg -i failed: $out"; exit 1; }
            sleep 2
        done
        dpkg-query -W -f='${Status}' gcscim | grep -q 'install ok installed' || { echo "dpkg -i: $out"; exit 1; }
        check_installed /
        [ "$(command -v gcscim)" = /usr/bin/gcscim ] || { echo "gcscim is not /usr/bin/gcscim on PATH"; fail=1; }
        dpkg --purge gcscim >/dev/null
        for f in /usr/bin/gcscim /etc/gcscim /lib/systemd/system/gcscim.service; do
            [ ! -e "$f" ] || { echo "$f is still there after dpkg --purge"; fail=1; }
        done
        [ $fail = 0 ] && echo "installed with dpkg -i, ran, purged"
    else
        dpkg-deb -x "$deb" "$tmp/root"
        check_installed "$tmp/root"
        [ $fail = 0 ] && echo "extracted with dpkg-deb -x (not installed: not root, GCS_PACKAGE_INSTALL=0 or gcscim already installed) and ran"
    fi
    ;;
lintian)
    command -v lintian >/dev/null || { echo "lintian is missing: scripts/install-deps installs it"; exit 1; }
    out=$(lintian --fail-on error,warning "$(the_deb)" 2>&1) || fail=1
    grep -v 'running with root privileges' <<<"$out" || true
    [ $fail = 0 ] && echo "lintian: no error, no warning"
    ;;
*) echo "usage: package.sh build|install|lintian BUILD_DIR" >&2; exit 2 ;;
esac
exit $fail
