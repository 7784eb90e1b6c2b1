#!/usr/bin/env bash
# pg_dump of a database with models, restored into a new database: the models, their
# deployments, the monitoring history and the id sequences come back, with the privileges (PUBLIC
# reads every column of insight.models but the weights), scores are the same, and training goes on.
# Runs against the cluster scripts/test started (PGHOST, PGPORT, PGUSER set).
set -euo pipefail
src=insight_dump_src dst=insight_dump_dst
export PGOPTIONS="-c client_min_messages=warning"
q() { psql -qXAt -v ON_ERROR_STOP=1 "$@"; }
q -c "DROP DATABASE IF EXISTS $src" -c "DROP DATABASE IF EXISTS $dst" -c "CREATE DATABASE $src" -c "CREATE DATABASE $dst"
q -d $src >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION pg_insight;
CREATE TABLE c AS SELECT * FROM insight.demo_customers(2000, 5);
SELECT version FROM insight.train('m', 'c', target => 'purchased');
SELECT version FROM insight.train('m', 'c', target => 'purchased', features => ARRAY['age', 'region'], deploy => 'never');
SELECT insight.deploy('m', 2);
SELECT insight.evaluate('m', 'c', record => true);
SELECT count(*) FROM insight.drift('m', 'c', record => true);
SELECT version FROM insight.retrain('m', tolerance => 1);
SQL
pg_dump -d $src | q -d $dst >/dev/null
fail() { echo "dump/restore: $*"; exit 1; }
same() { # same query, same answer in both databases
  local a b
  a=$(q -d $src -c "$1"); b=$(q -d $dst -c "$1")
  [ "$a" = "$b" ] || fail "$2: '$a' before, '$b' after the restore"
}
same "SELECT string_agg(id || ' ' || name || '@' || version || ' ' || md5(weights), ', ' ORDER BY id) FROM insight.models" "model rows"
same "SELECT string_agg(name || ' ' || model_id || ' ' || cause, ', ' ORDER BY id) FROM insight.deployments" "deployments"
same "SELECT string_agg(id || ' ' || model_id || ' ' || source || ' ' || md5(metrics::text), ', ' ORDER BY id) FROM insight.evaluations" "evaluations"
same "SELECT string_agg(id || ' ' || feature || ' ' || psi, ', ' ORDER BY id) FROM insight.drift_history" "drift history"
same "SELECT has_column_privilege('public', 'insight.models', 'weights', 'SELECT') || ' ' || has_column_privilege('public', 'insight.models', 'metrics', 'SELECT')" "privileges"
same "SELECT sum(insight.predict('m', c)) || ' ' || sum(insight.predict('m@1', c)) FROM c" "scores"
after=$(q -d $dst -c "SET client_min_messages = warning" -c "SELECT model_id || ' ' || version FROM insight.train('m', 'c', target => 'purchased')")
[ "$after" = "4 4" ] || fail "training after the restore gave (model_id version) = '$after', expected '4 4'"
deployed=$(q -d $dst -c "SELECT insight.deploy('m', 4)")
[ "$deployed" = "4" ] || fail "deploying version 4 gave model id '$deployed'"
recorded=$(q -d $dst -c "SELECT insight.evaluate('m', 'c', record => true) IS NOT NULL" -c "SELECT max(id) FROM insight.evaluations")
[ "$recorded" = "$(printf 't\n4')" ] || fail "recording an evaluation after the restore gave '$recorded', expected id 4"
q -c "DROP DATABASE $src" -c "DROP DATABASE $dst"
echo "dump/restore: models, deployments, history, privileges and sequences restored; training, deploying and recording go on"
