#!/usr/bin/env bash
# Crash safety: a backend killed with SIGKILL in the middle of training, and in the middle of
# score_table, leaves the catalog consistent after crash recovery: no half-written model or
# deployment row (the models, versions and deployments are those of before), the next training of
# that name is version 1 and scores; a score_table into a new table leaves no table, one with
# mode 'replace' leaves the rows of before (one transaction: nothing of the killed call is
# committed). Runs its own throwaway cluster (the crash restarts every backend of a server, and
# the server log of the other tests must stay free of "terminated by signal").
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/pg.sh
pg_start crash
trap 'pg_stop crash' EXIT
db=insight_crash
export PGOPTIONS="-c client_min_messages=warning"
q() { psql -qXAt -v ON_ERROR_STOP=1 -d $db "$@"; }
fail() { echo "crash: $*"; exit 1; }
psql -qX -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
q >/dev/null <<'SQL'
CREATE EXTENSION pg_insight;
CREATE TABLE c AS SELECT * FROM insight.demo_customers(200000, 11);
SELECT version FROM insight.train('m', 'c', target => 'purchased', features => ARRAY['age', 'visits_30d']);
-- scoring long enough to be killed in the middle: 2M rows
CREATE VIEW big AS SELECT c.* FROM c, generate_series(1, 10);
CALL insight.score_table('m', 'c', 'kept_scores', 'customer_id');
SQL
catalog() { q -c "SELECT (SELECT string_agg(name || '@' || version, ',' ORDER BY id) FROM insight.models) || ' | ' || (SELECT string_agg(name || '@' || model_id, ',' ORDER BY id) FROM insight.deployments)"; }
before=$(catalog)
kept=$(q -c "SELECT count(*) || ':' || sum(score::numeric) FROM kept_scores")

# kill_during SQL PATTERN: runs SQL in the background, waits until a backend has been running a
# query matching PATTERN for a second, kills that backend with SIGKILL, waits for recovery
kill_during() {
  (psql -qXAt -d $db -c "$1" >/dev/null 2>&1 || true) &
  local client=$! pid="" waited=0
  while [ -z "$pid" ]; do
    sleep 0.2
    waited=$((waited + 1))
    [ $waited -gt 300 ] && fail "no backend ran: $1"
    pid=$(psql -qXAt -d $db -c "SELECT pid FROM pg_stat_activity WHERE state = 'active' AND backend_type = 'client backend' AND query LIKE '$2' AND pid <> pg_backend_pid() LIMIT 1" || true)
  done
  sleep 1
  psql -qXAt -d $db -c "SELECT 1 FROM pg_stat_activity WHERE pid = $pid AND state = 'active'" | grep -q 1 \
    || fail "the call ended before it could be killed: $1"
  local log_size
  log_size=$(stat -c %s target/pg-crash/log)
  kill -9 "$pid"
  wait $client || true
  for _ in $(seq 1 300); do
    psql -qXAt -d $db -c "SELECT 1" >/dev/null 2>&1 && break
    sleep 0.2
  done
  psql -qXAt -d $db -c "SELECT 1" >/dev/null 2>&1 || fail "the server did not recover within 60 s"
  # this kill, in this run's part of the log
  tail -c +"$((log_size + 1))" target/pg-crash/log | grep -q "terminated by signal 9" || fail "no backend was killed: $1"
}

kill_during "SELECT * FROM insight.train('victim', 'c', target => 'purchased', algorithm => 'mlp', options => '{\"epochs\": 500}')" '%insight.train(%victim%'
[ "$(catalog)" = "$before" ] || fail "the catalog changed: $before -> $(catalog)"
kill_during "CALL insight.score_table('m', 'big', 'new_scores', 'customer_id')" '%score_table(%new_scores%'
[ "$(q -c "SELECT to_regclass('new_scores') IS NULL")" = t ] || fail "a killed score_table left its new table"
kill_during "CALL insight.score_table('m', 'big', 'kept_scores', 'customer_id', mode => 'replace')" '%score_table(%kept_scores%'
[ "$(q -c "SELECT count(*) || ':' || sum(score::numeric) FROM kept_scores")" = "$kept" ] || fail "a killed replace changed the target: $kept -> $(q -c "SELECT count(*) || ':' || sum(score::numeric) FROM kept_scores")"
[ "$(catalog)" = "$before" ] || fail "the catalog changed: $before -> $(catalog)"
# a catalog that works on
[ "$(q -c "SELECT version FROM insight.train('victim', 'c', target => 'purchased', features => ARRAY['age'])")" = 1 ] \
  || fail "training after the crash is not version 1"
q -c "SELECT count(insight.predict_proba('victim', c)) FROM c" >/dev/null
echo "crash: killed training and score_table (twice) with SIGKILL: catalog, target tables and the next training as before"
