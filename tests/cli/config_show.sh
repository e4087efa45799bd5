# config show: sources are named, secrets never appear, URLs are derived.
export GENESYSCLOUD_OAUTHCLIENT_ID=client-1
export GENESYSCLOUD_OAUTHCLIENT_SECRET=very-secret-value-42
export GENESYSCLOUD_REGION=eu-west-1
export XDG_STATE_HOME=/srv/state
$GCSCIM config show; echo "[exit $?]"
$GCSCIM config show --json | grep -c very-secret-value-42
$GCSCIM config show --json --region mypurecloud.de | grep -A1 '"api_url"'
mkdir -p config/gcscim
printf '{"region":"ap-northeast-1","client_secret":"file-secret-999"}' > config/gcscim/config.json
chmod 600 config/gcscim/config.json
$GCSCIM config show --api-url http://127.0.0.1:9/ --log-level debug | sed "s|$HOME|HOME|"
$GCSCIM config show --log-level loud; echo "[exit $?]"
$GCSCIM config show --region atlantis-1; echo "[exit $?]"
$GCSCIM --config nonexistent.json config show; echo "[exit $?]"
$GCSCIM config show --log-format json --log-level debug 2>&1 | grep -c -e very-secret -e file-secret
$GCSCIM config show --max-in-flight many; echo "[exit $?]"
