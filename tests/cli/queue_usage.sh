# jobs and notifications: usage errors name the command and what is wrong, exit 2.
run() { "$@"; echo "[exit $?]"; }
for cmd in jobs notifications; do
    run $GCSCIM $cmd
    run $GCSCIM $cmd frobnicate
    run $GCSCIM $cmd list 7
    run $GCSCIM $cmd show
    run $GCSCIM $cmd retry 1 2
    run $GCSCIM $cmd drop x
    run $GCSCIM $cmd drop 0
    run $GCSCIM $cmd show 12abc
    run $GCSCIM $cmd show 3 --state pending
    run $GCSCIM $cmd list --state nosuchstate
done
run $GCSCIM jobs approve
run $GCSCIM jobs retry 4 --approve user=1
