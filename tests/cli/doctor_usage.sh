# gcscim doctor: usage errors exit 2; without credentials the text report says
# what to do, skips what needs a token (nothing leaves this machine) and exits 1.
run() { "$@"; echo "[exit $?]"; }
run $GCSCIM doctor --source hr.csv
run $GCSCIM doctor --profile p.yaml
run $GCSCIM doctor stray
run $GCSCIM doctor --format xml
run $GCSCIM doctor --anchor 12
$GCSCIM doctor --help | head -1; echo "[help exit ${PIPESTATUS[0]}]"
$GCSCIM doctor | sed "s|$HOME|~|g"; echo "[exit ${PIPESTATUS[0]}]"
