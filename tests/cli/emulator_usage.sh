# gcscim-emulator's command line: help exits 0, usage errors are clear and exit 2,
# a bad seed exits 1 with a message naming the file.
run() { "$@"; echo "[exit $?]"; }
$EMULATOR --help | head -2; echo "[help exit ${PIPESTATUS[0]}]"
$EMULATOR --version | sed 's/[0-9][0-9.]*/X/'
run $EMULATOR --frobnicate
run $EMULATOR stray
run $EMULATOR --listen
run $EMULATOR --listen nowhere
run $EMULATOR --listen 127.0.0.1:70000
run $EMULATOR --client nocolon
run $EMULATOR --token-ttl 0
run $EMULATOR --client-scopes nobody
run $EMULATOR --client a:b --client-scopes c=scim
run $EMULATOR --rate-limit ten
run $EMULATOR --rate-limit 10/0
run $EMULATOR --version-conflict-status 401
run $EMULATOR --fault-rate 2
run $EMULATOR --fault-kinds 500,418
run $EMULATOR --fault-seed x
run $EMULATOR --latency fast
run $EMULATOR --concurrent-writer -1
run $EMULATOR --threads 99
echo '{"users":[' > bad.json
$EMULATOR --seed bad.json 2>&1 | sed 's/^[0-9T:.-]*Z //'; echo "[exit ${PIPESTATUS[0]}]"
$EMULATOR --seed missing.json 2>&1 | sed 's/^[0-9T:.-]*Z //'; echo "[exit ${PIPESTATUS[0]}]"
# It starts, writes its ready file, answers, and stops on SIGTERM with 0.
$EMULATOR --ready-file ready.json --log-level warn &
pid=$!
for i in $(seq 600); do [ -s ready.json ] && break; sleep 0.05; done # 30 s at most
sed 's/[0-9][0-9]*/N/g' ready.json
kill -TERM $pid; wait $pid; echo "[stopped exit $?]"
