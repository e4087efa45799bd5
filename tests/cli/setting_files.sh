# Files named by settings: a FIFO nobody writes to, a directory or a terminal never
# hang a command (each would block a plain open or read); a pipe with a writer
# (process substitution) is a fine secret file.
export GENESYSCLOUD_OAUTHCLIENT_ID=client-1
export GENESYSCLOUD_REGION=eu-west-1
mkfifo -m600 fifo
printf 'version: 1\nattributes:\n  userName: {from: email}\n' > p.yaml
printf 'email\n' > people.csv
GCSCIM_NOTIFY_FILE=fifo timeout 20 $GCSCIM plan --profile p.yaml --source people.csv; echo "[exit $?]"
timeout 20 $GCSCIM --config fifo config show; echo "[exit $?]"
timeout 20 $GCSCIM --client-secret-file fifo config show; echo "[exit $?]"
timeout 20 $GCSCIM --client-secret-file . config show; echo "[exit $?]"
timeout 20 $GCSCIM --client-secret-file <(sleep 0.2; echo from-a-pipe) config show | grep -c -e from-a-pipe -e 'client_secret.*--client-secret-file'
echo "[exit ${PIPESTATUS[0]}]"
