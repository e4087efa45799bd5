# Options: spelled in full, secrets never echoed, missing values and ranges named.
run() { "$@"; echo "[exit $?]"; }
# A secret given as an option is refused without printing it, in either form;
# an abbreviation of the secret-file option is not taken for it.
run $GCSCIM config show --client-secret s3cr3t-on-the-line
run $GCSCIM config show --client-secret=s3cr3t-on-the-line
run $GCSCIM config show --client-secret-fi s3cr3t-on-the-line
run $GCSCIM --client-secret-f=s3cr3t-on-the-line config show
run $GCSCIM config show --max-in 3
run $GCSCIM config show --bogus=s3cr3t-on-the-line
run $GCSCIM plan --passwords-o out.csv
# Missing values name the option.
run $GCSCIM config show --timeout
run $GCSCIM config show --region --json
run $GCSCIM config show --region=
run $GCSCIM config show --json=yes
# Numbers out of range, from a flag, the environment and a config file.
run $GCSCIM config show --max-in-flight 99999999999999999999
run $GCSCIM config show --max-in-flight 0
run $GCSCIM config show --timeout 0
run $GCSCIM config show --max-rps -1
GCSCIM_TIMEOUT=0 run $GCSCIM config show
GCSCIM_MAX_IN_FLIGHT=1e30 run $GCSCIM config show
printf '{"max_in_flight": 100000}' > range.json
run $GCSCIM --config range.json config show
# A config file holding a secret must be private, as a secret file must.
printf '{"client_secret":"file-s3cr3t-000"}' > open.json
chmod 644 open.json
run $GCSCIM --config open.json config show
printf '{"db":"postgresql://gcscim:db-s3cr3t@db.example/gcscim"}' > db.json
chmod 640 db.json
run $GCSCIM --config db.json config show
chmod 600 open.json
$GCSCIM --config open.json config show | grep -c file-s3cr3t
# serve's settings are serve's flags: another command refuses them, before or after it.
run $GCSCIM plan --listen 127.0.0.1:9
run $GCSCIM --listen 127.0.0.1:9 config show
run $GCSCIM serve --workers 0
run $GCSCIM serve --bogus
