#!/usr/bin/env bash
# Sessions scoring while another retrains, deploys and rolls back: four sessions score every row
# of a table in a loop for as long as a fifth keeps changing what serves predictions (retrain,
# train with deploy always, rollback, deploy by number). No scoring call may fail or see a model
# that is not one of the versions stored; the server must not restart. Also: a train inside a
# rolled-back transaction leaves nothing, and two concurrent trains of one name get distinct
# versions; under REPEATABLE READ a table newer than the snapshot is named in the error. Runs against the cluster scripts/test started (PGHOST, PGPORT, PGUSER set).
set -euo pipefail
db=insight_concurrency
export PGOPTIONS="-c client_min_messages=warning"
q() { psql -qXAt -v ON_ERROR_STOP=1 "$@"; }
fail() { echo "concurrency: $*"; exit 1; }
q -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
q -d $db >/dev/null <<'SQL'
CREATE EXTENSION pg_insight;
CREATE TABLE c AS SELECT * FROM insight.demo_customers(3000, 7);
SELECT version FROM insight.train('m', 'c', target => 'purchased');
SQL
started=$(q -d $db -c "SELECT pg_postmaster_start_time()")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# the changer: about 12 changes of the deployed version, then it stops the scorers
(
  for round in 1 2 3; do
    q -d $db -c "SELECT version FROM insight.retrain('m', tolerance => 1)" >/dev/null
    q -d $db -c "SELECT version FROM insight.train('m', 'c', target => 'purchased', options => '{\"l2\": $round}', deploy => 'always')" >/dev/null
    q -d $db -c "SELECT insight.deploy('m', strategy => 'rollback')" >/dev/null
    q -d $db -c "SELECT insight.deploy('m', 1)" >/dev/null
  done
  touch "$work/stop"
) > "$work/changer.out" 2>&1 &
changer=$!

# four scorers: whole-table scoring in a loop, row form and array form, until the changer stops
for s in 1 2 3 4; do
  (
    n=0
    while [ ! -e "$work/stop" ]; do
      q -d $db -c "SELECT count(*), sum(insight.predict_proba('m', c)), sum(insight.predict_purchase('m', c)) FROM c" >/dev/null
      n=$((n + 1))
    done
    echo "$n" > "$work/scorer$s.rounds"
  ) > "$work/scorer$s.out" 2>&1 &
done
wait $changer || fail "the changer failed: $(cat "$work/changer.out")"
wait
for s in 1 2 3 4; do
  [ -s "$work/scorer$s.out" ] && fail "scorer $s failed: $(head -5 "$work/scorer$s.out")"
  [ "$(cat "$work/scorer$s.rounds")" -gt 0 ] || fail "scorer $s never finished a round"
done
rounds=$(cat "$work"/scorer*.rounds | awk '{ s += $1 } END { print s }')

# a train inside a rolled-back transaction leaves no version and no deployment
before=$(q -d $db -c "SELECT count(*) || ' ' || (SELECT count(*) FROM insight.deployments) FROM insight.models")
q -d $db >/dev/null <<'SQL'
BEGIN;
SELECT version FROM insight.train('m', 'c', target => 'purchased', deploy => 'always');
ROLLBACK;
SQL
after=$(q -d $db -c "SELECT count(*) || ' ' || (SELECT count(*) FROM insight.deployments) FROM insight.models")
[ "$before" = "$after" ] || fail "a rolled-back train left rows: (models deployments) '$before' before, '$after' after"

# two concurrent trains of one name: distinct versions, neither fails
q -d $db -c "SELECT version FROM insight.train('twin', 'c', target => 'purchased')" > "$work/twin1" 2>&1 &
a=$!
q -d $db -c "SELECT version FROM insight.train('twin', 'c', target => 'purchased')" > "$work/twin2" 2>&1 &
b=$!
wait $a || fail "the first of two concurrent trains failed: $(cat "$work/twin1")"
wait $b || fail "the second of two concurrent trains failed: $(cat "$work/twin2")"
versions=$(cat "$work/twin1" "$work/twin2" | sort | paste -sd' ')
[ "$versions" = "1 2" ] || fail "two concurrent trains made versions '$versions', expected '1 2'"

# a table created by another session after a REPEATABLE READ transaction's snapshot: the
# transaction cannot read its columns; the error names the table and says why (not an OID)
rr=$(psql -qXAt -d $db 2>&1 <<SQL || true
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT 1;
\\! psql -qXAt -d $db -c "CREATE TABLE rr_new AS SELECT * FROM c"
SELECT insight.evaluate('m', 'rr_new');
SQL
)
[[ "$rr" == *"relation public.rr_new has no columns this transaction can see"* ]] || fail "REPEATABLE READ and a newer table: $rr"

[ "$(q -d $db -c "SELECT pg_postmaster_start_time()")" = "$started" ] || fail "the server restarted"
q -c "DROP DATABASE $db"
echo "concurrency: 4 sessions scored 3,000 rows $rounds times while retrain, deploy and rollback ran 12 times; no error; a rolled-back train left nothing; concurrent trains got versions $versions"
