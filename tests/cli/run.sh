#!/usr/bin/env bash
# Golden command-line tests (jo's tests/jo.NN.sh and .exp): runs NAME.sh with
# $GCSCIM and $EMULATOR set, in a clean environment and a temporary directory,
# and compares what it prints (stdout and stderr, merged, with the exit code of
# each command as the script prints it) with NAME.exp.
# GCS_UPDATE_GOLDEN=1 rewrites the .exp file instead.
set -u
name=$1
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
actual="$work/actual"
(cd "$work" && env -i PATH="$PATH" HOME="$work" TMPDIR="$work" LC_ALL=C \
    GCSCIM="$2" EMULATOR="$3" XDG_CONFIG_HOME="$work/config" \
    timeout 100 bash "$here/$name.sh") >"$actual" 2>&1
if [ "${GCS_UPDATE_GOLDEN:-}" = 1 ]; then
    cp "$actual" "$here/$name.exp"
    exit 0
fi
if ! diff -u "$here/$name.exp" "$actual"; then
    echo "cli test $name: output differs from $name.exp (see diff above)"
    exit 1
fi
