#!/usr/bin/env bash
# The alert rules and the dashboard hold: promtool accepts the rules and their tests
# pass (gcscim-alerts.test.yml shows each alert firing and each staying quiet, and
# this script checks that no alert goes without both); the dashboard is valid JSON
# with unique panel ids, each of its queries is valid PromQL (promtool checks them
# as recording rules); and both use only the metrics of metrics.txt, every one of
# which the dashboard shows; and every metric family serve declares (src/service/,
# with its type) is in metrics.txt, so that a new metric is not forgotten here.
#   monitoring.sh MONITORING_DIR SRC_SERVICE_DIR
set -euo pipefail
dir=$1 service_src=$2
fail=0
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
command -v promtool >/dev/null || { echo "promtool is missing: scripts/install-deps installs it (Debian package prometheus)"; exit 1; }
command -v jq >/dev/null || { echo "jq is missing: scripts/install-deps installs it"; exit 1; }

promtool check rules "$dir/gcscim-alerts.yml" || fail=1
(cd "$dir" && promtool test rules gcscim-alerts.test.yml) || fail=1

# Each alert is tested both ways: one evaluation expects it, another expects nothing.
alerts=$(sed -n 's/^ *- alert: *//p' "$dir/gcscim-alerts.yml")
for a in $alerts; do
    awk -v a="$a" '
        /- eval_time:/ { if (name == a) { if (expects) fired = 1; else quiet = 1 } name = ""; expects = 0 }
        /alertname:/ { name = $2 }
        /exp_alerts:/ { expects = 1 }
        END { if (name == a) { if (expects) fired = 1; else quiet = 1 }
              if (!fired) print a " is never tested firing"
              if (!quiet) print a " is never tested staying quiet"
              exit !(fired && quiet) }' "$dir/gcscim-alerts.test.yml" || fail=1
done

dash=$dir/gcscim-dashboard.json
jq -e '.title and .uid and (.panels | length > 0)' "$dash" >/dev/null || { echo "$dash: not a dashboard"; fail=1; }
dups=$(jq -r '[.panels[].id] | group_by(.) | map(select(length > 1) | .[0]) | .[]' "$dash")
[ -z "$dups" ] || { echo "$dash: panel ids used twice: $dups"; fail=1; }
jq -r '.panels[] | select(.type != "row") | select((.targets // []) | length == 0) | .title' "$dash" |
    while read -r t; do echo "$dash: panel '$t' has no query"; exit 1; done || fail=1

# The dashboard's queries, with Grafana's variables given values, as recording rules.
{
    echo "groups:"; echo "  - name: dashboard"; echo "    rules:"
    jq -r '.panels[].targets[]?.expr' "$dash" | sed 's/\$__rate_interval/5m/g; s/\$instance/.*/g' |
        awk '{ gsub(/\\/, "\\\\"); gsub(/"/, "\\\""); printf "      - record: dashboard:query%d\n        expr: \"%s\"\n", NR, $0 }'
} > "$tmp/dashboard-rules.yml"
promtool check rules "$tmp/dashboard-rules.yml" >/dev/null || { echo "$dash: a query is not valid PromQL:"; promtool check rules "$tmp/dashboard-rules.yml"; fail=1; }

known=$(grep -v '^#' "$dir/metrics.txt" | awk 'NF { print $1; if ($2 == "histogram") { print $1 "_bucket"; print $1 "_sum"; print $1 "_count" } }')
used() { grep -ohE 'gcscim_[a-z_]+' "$@" | sort -u; }
for m in $(used "$dir/gcscim-alerts.yml" "$dash"); do
    grep -qx "$m" <<<"$known" || { echo "$m is used but is not a metric of gcscim serve (metrics.txt)"; fail=1; }
done
for m in $(grep -v '^#' "$dir/metrics.txt" | awk 'NF { print $1 }'); do
    grep -qE "\\b${m}(_bucket|_sum|_count)?\\b" "$dash" || { echo "the dashboard does not show $m"; fail=1; }
done
# serve's metric families: head(out, "NAME", "TYPE", ...) in its exposition code.
served=$(cat "$service_src"/*.c | tr -s ' \n' ' ' | grep -oE 'head\(out, "gcscim_[a-z_]+", "[a-z]+"' |
         sed -E 's/^head\(out, "([^"]+)", "([^"]+)"$/\1 \2/' | sort -u)
[ -n "$served" ] || { echo "no metric family found in $service_src (head(out, NAME, TYPE, HELP))"; fail=1; }
while read -r name type; do
    [ -z "$name" ] && continue
    grep -qE "^$name +$type( |$)" "$dir/metrics.txt" ||
        { echo "serve declares $name ($type), which metrics.txt does not list as such"; fail=1; }
done <<<"$served"

[ $fail = 0 ] && echo "monitoring: $(wc -l <<<"$served") metric families of serve listed, $(wc -w <<<"$alerts") alerts tested both ways, $(jq '[.panels[] | select(.type != "row")] | length' "$dash") dashboard panels, every metric shown"
exit $fail
