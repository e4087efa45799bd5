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
# A config file that does not parse is named with the line and column of the
# fault, never the text near it: that may be a secret (an unterminated value).
printf '{"client_secret": "unterminated-secret-77}' > broken.json
chmod 600 broken.json
$GCSCIM --config broken.json config show; echo "[exit $?]"
printf '{"client_secret": "ctl-secret-\001-88"}' > control.json
chmod 600 control.json
$GCSCIM --config control.json config show 2>&1 | grep -c -e unterminated-secret -e ctl-secret
# A byte order mark (Windows editors write one) is not a fault.
printf '\357\273\277{"timeout": 7}' > bom.json
$GCSCIM --config bom.json config show | grep '^timeout'
GCSCIM_QUEUE_MAX=0 $GCSCIM config show; echo "[exit $?]"
