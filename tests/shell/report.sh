#!/usr/bin/env bash
# Model reports rendered as a reader sees them: the demo walkthrough's models (and a regression
# and a multiclass model), each report written by scripts/report and loaded in headless
# Chromium (Debian's chromium, installed here when missing). For every report: each chart its
# task calls for is in the rendered DOM with drawn marks, the page loads nothing and logs no
# console error, and the 20,000-customer model's page is under 1 MB. Also a report computed on
# a held-out relation. Run from the repository root, as root; starts its own cluster.
set -euo pipefail
source scripts/pg.sh
fail() { echo "report: $*"; exit 1; }
if ! command -v chromium >/dev/null; then
  echo "report: installing chromium (headless rendering of the reports)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
pg_start report
trap 'pg_stop report' EXIT
export PGDATABASE=insight_report PGOPTIONS="-c client_min_messages=warning"
psql -qX -d postgres -c "DROP DATABASE IF EXISTS insight_report" -c "CREATE DATABASE insight_report"
psql -qX -v ON_ERROR_STOP=1 -f scripts/walkthrough.sql >/dev/null
psql -qX -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
SELECT insight.train('order_value', 'customers', 'avg_order_value', algorithm => 'linear', exclude => ARRAY['purchased']);
SELECT insight.train('channel', 'customers', 'channel', algorithm => 'logistic');
CREATE TABLE holdout AS SELECT * FROM insight.demo_customers(3000, 7);
SQL

out="$(pwd)/target/report-test"
rm -rf "$out" && mkdir -p "$out"
chown postgres "$out"   # chromium runs as postgres: its profile lives here
binary="roc precision-recall gains lift calibration scores confusion importance"
check() {  # check MODEL "CHART ..." [RELATION] [FILE]
  local model=$1 charts=$2 relation=${3:-} file
  file="$out/${4:-$model}.html"
  scripts/report "$model" "" "$relation" "$file" >/dev/null
  # chromium as an unprivileged user (it refuses root without --no-sandbox), its profile in $out
  runuser -u postgres -- chromium --headless --disable-gpu --no-first-run --user-data-dir="$out/profile" \
    --enable-logging=stderr --v=0 --virtual-time-budget=2000 --dump-dom "file://$file" \
    > "$file.dom" 2> "$file.log" || fail "$model: chromium failed: $(tail -3 "$file.log")"
  /usr/bin/python3 - "$file" "$charts" <<'PY' || fail "$model: see above"
import re, sys
path, charts = sys.argv[1], sys.argv[2].split()
html = open(path, encoding="utf-8").read()
dom = open(path + ".dom", encoding="utf-8").read()
log = open(path + ".log", encoding="utf-8", errors="replace").read()
problems = []
for c in charts:
    m = re.search(r'<figure id="chart-%s"[^>]*>(.*?)</figure>' % re.escape(c), dom, re.S)
    if not m:
        problems.append("chart %s is not in the rendered page" % c)
        continue
    fig = m.group(1)
    marks = len(re.findall(r'<polyline[^>]* points="[^"]+"', fig)) + len(re.findall(r"<circle", fig)) \
        + max(0, len(re.findall(r"<rect", fig)) - 1)
    if "<svg" not in fig or marks == 0:
        problems.append("chart %s has no drawn marks" % c)
for bad in ("CONSOLE", "Refused to", "Uncaught"):
    if bad in log:
        problems.append("console: " + next(l for l in log.splitlines() if bad in l))
for bad in ("<script", "src=", "@import", "url("):
    if bad in html:
        problems.append("the page has %r: it must load nothing" % bad)
if "could not be drawn" in html:
    problems.append("a chart could not be drawn")
if len(html.encode()) >= 1_000_000:
    problems.append("page is %d bytes (limit 1 MB)" % len(html.encode()))
if problems:
    print(path + ":\n  " + "\n  ".join(problems))
    sys.exit(1)
print("report: %-28s %7d bytes, %2d charts" % (path.rsplit("/", 1)[1], len(html.encode()), len(charts)))
PY
}
check purchase_propensity "$binary metric-history"
check purchase_propensity "$binary" holdout purchase_propensity_holdout
check satisfaction "$binary"
check order_value "predicted-actual residuals importance"
check channel "confusion class-recall importance"
check behaviour_segments "segment-sizes segment-profiles segment-map k-curve"
check behaviour_tree "segment-sizes segment-profiles segment-map"
check purchases "expected-purchases p-alive value-deciles"
check value "expected-purchases p-alive value-deciles"
check purchases "expected-purchases p-alive value-deciles" histories purchases_histories
check recommendations "precision-at-k recall-at-k coverage-at-k"
check popular_q2 "precision-at-k recall-at-k coverage-at-k"

# what a report refuses: a relation without the model's columns, no such model, NULL
err() { psql -qXAt -c "$1" 2>&1 | head -1; }
[[ "$(err "SELECT insight.report('purchase_propensity', 'histories')")" == *"column"* ]] || fail "a relation without the features is not an error"
[[ "$(err "SELECT insight.report('no_such_model')")" == *"does not exist"* ]] || fail "an unknown model is not an error"
[[ "$(err "SELECT insight.report(NULL)")" == *"must not be NULL"* ]] || fail "NULL model: $(err "SELECT insight.report(NULL)")"
echo "report: all reports rendered in headless Chromium"
