# Usage errors are clear and exit 2; help and version exit 0.
run() { "$@"; echo "[exit $?]"; }
run $GCSCIM --frobnicate
run $GCSCIM frobnicate
run $GCSCIM config
run $GCSCIM config list
run $GCSCIM config show --no-such-flag
run $GCSCIM config show --region
run $GCSCIM help nosuchcommand
$GCSCIM --help >/dev/null; echo "[help exit $?]"
$GCSCIM help config | head -1; echo "[help config]"
$GCSCIM config --help | head -1
$GCSCIM version | sed 's/[0-9][0-9.]*/X/'
$GCSCIM version --json | sed 's/[0-9][0-9.]*/X/'
run $GCSCIM
