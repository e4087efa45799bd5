# A store that does not exist (a mistyped --db, a deleted database) is named and
# refused by every command that reads one, and nothing is created in its place:
# an empty new store would verify as a chain that holds.
$GCSCIM receipts verify --db sqlite:missing.db; echo "[exit $?]"
$GCSCIM receipts verify --db sqlite:missing.db --anchor 3:$(printf '%064d' 0); echo "[exit $?]"
$GCSCIM receipts list --db missing.db; echo "[exit $?]"
$GCSCIM runs list --db missing.db; echo "[exit $?]"
$GCSCIM jobs list --db missing.db; echo "[exit $?]"
$GCSCIM notifications list --db missing.db; echo "[exit $?]"
ls missing.db*; echo "[exit $?]"
# receipts, runs, jobs on an empty SQLite store: what people see, exit codes.
: >empty.db
$GCSCIM receipts verify --db sqlite:empty.db; echo "[exit $?]"
$GCSCIM receipts verify --db sqlite:empty.db --json; echo "[exit $?]"
$GCSCIM receipts list --db empty.db; echo "[exit $?]"
$GCSCIM receipts list --db empty.db --json; echo "[exit $?]"
$GCSCIM receipts show 7 --db empty.db; echo "[exit $?]"
$GCSCIM receipts show seven --db empty.db; echo "[exit $?]"
$GCSCIM receipts export --db empty.db --format csv; echo "[exit $?]"
$GCSCIM receipts list --since yesterday --db empty.db; echo "[exit $?]"
$GCSCIM receipts list --limit 0 --db empty.db; echo "[exit $?]"
$GCSCIM receipts list --format csv --db empty.db; echo "[exit $?]"
$GCSCIM receipts frobnicate; echo "[exit $?]"
$GCSCIM receipts verify --db mysql://db/x; echo "[exit $?]"
$GCSCIM runs list --db empty.db; echo "[exit $?]"
$GCSCIM runs show nope --db empty.db; echo "[exit $?]"
$GCSCIM jobs list --state dead --db empty.db; echo "[exit $?]"
$GCSCIM jobs list --state sleeping --db empty.db; echo "[exit $?]"
$GCSCIM jobs retry 4 --db empty.db; echo "[exit $?]"
# The default store lives under the state directory, created private (by the
# first command that may create one; doctor checks that it can be).
$GCSCIM receipts verify 2>/dev/null; echo "[exit $?]"
GENESYSCLOUD_OAUTHCLIENT_ID=x GENESYSCLOUD_OAUTHCLIENT_SECRET=y GENESYSCLOUD_API_URL=http://127.0.0.1:9 \
    $GCSCIM doctor 2>/dev/null | grep store-open | sed "s|$HOME|~|"
stat -c '%a %n' .local/state/gcscim
