#!/usr/bin/env bash
# ALTER EXTENSION pg_insight UPDATE from every archived release reaches the same SQL objects as a
# fresh CREATE EXTENSION of this one, and keeps the models: trained before the update, they score
# the same after it, and training goes on. The archived install scripts (sql/archive) are what
# each release's `cargo pgrx install` wrote; the upgrade scripts are sql/pg_insight--A--B.sql.
# Runs against the cluster scripts/test started (PGHOST, PGPORT, PGUSER set), as root.
set -euo pipefail
export PGOPTIONS="-c client_min_messages=warning"
extdir="$(pg_config --sharedir)/extension"
current=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
q() { psql -qXAt -v ON_ERROR_STOP=1 "$@"; }
# every object of the extension, described so that two databases can be compared line by line
describe() {
  q -d "$1" <<'SQL'
SELECT 'function ' || p.oid::regprocedure || ' -> ' || pg_get_function_result(p.oid)
       || ' ' || p.provolatile::text || p.proparallel::text || CASE WHEN p.proisstrict THEN 's' ELSE '' END
       || ' [' || pg_get_function_arguments(p.oid) || '] ' || coalesce(p.prosrc, '')
       || coalesce(' support ' || nullif(p.prosupport, 0)::regproc::text, '')
       || coalesce(' set ' || array_to_string(p.proconfig, ','), '')
       || coalesce(' -- ' || obj_description(p.oid, 'pg_proc'), '')
  FROM pg_proc p WHERE p.pronamespace = 'insight'::regnamespace
UNION ALL
SELECT 'relation ' || c.oid::regclass || ' ' || c.relkind::text || ' ' ||
       coalesce(pg_get_viewdef(c.oid), (SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
                                                          || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END, ', ' ORDER BY a.attnum)
                                          FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped))
       || coalesce(' -- ' || obj_description(c.oid, 'pg_class'), '')
  FROM pg_class c WHERE c.relnamespace = 'insight'::regnamespace
UNION ALL
SELECT 'dumped ' || unnest(extconfig)::regclass FROM pg_extension WHERE extname = 'pg_insight'
UNION ALL
SELECT 'grant ' || c.relname || ' ' || coalesce(array_to_string(c.relacl, ','), '') FROM pg_class c
 WHERE c.relnamespace = 'insight'::regnamespace
UNION ALL
SELECT 'column grant ' || c.relname || '.' || a.attname || ' ' || array_to_string(a.attacl, ',')
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
 WHERE c.relnamespace = 'insight'::regnamespace AND a.attacl IS NOT NULL
UNION ALL
SELECT 'constraint ' || conrelid::regclass || ' ' || pg_get_constraintdef(oid) FROM pg_constraint
 WHERE connamespace = 'insight'::regnamespace
ORDER BY 1;
SQL
}
fail() { echo "upgrade: $*"; exit 1; }
q -c "DROP DATABASE IF EXISTS insight_fresh" -c "CREATE DATABASE insight_fresh"
q -d insight_fresh -c "CREATE EXTENSION pg_insight"
describe insight_fresh > target/upgrade_fresh.txt
n=0
for archived in sql/archive/pg_insight--*.sql; do
  from=$(basename "$archived" .sql); from=${from#pg_insight--}
  cp "$archived" "$extdir/"
  db=insight_from_${from//./_}
  q -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
  q -d $db >/dev/null <<SQL
CREATE EXTENSION pg_insight VERSION '$from';
CREATE TABLE c AS SELECT * FROM insight.demo_customers(1000, 3);
SELECT version FROM insight.train('up', 'c', target => 'purchased', features => ARRAY['age', 'region', 'visits_30d']);
CREATE TABLE before AS SELECT customer_id, insight.predict('up', c) AS score FROM c;
SQL
  q -d $db -c "ALTER EXTENSION pg_insight UPDATE TO '$current'"
  [ "$(q -d $db -c "SELECT extversion FROM pg_extension WHERE extname = 'pg_insight'")" = "$current" ] || fail "$from: version after update"
  describe $db > target/upgrade_from_$from.txt
  diff -u target/upgrade_fresh.txt target/upgrade_from_$from.txt || fail "$from -> $current differs from a fresh $current (diff above)"
  same=$(q -d $db -c "SELECT bool_and(b.score = insight.predict('up', c)) FROM before b JOIN c USING (customer_id)")
  [ "$same" = "t" ] || fail "$from: a model trained before the update scores differently after it"
  v=$(q -d $db -c "SELECT version FROM insight.train('up', 'c', target => 'purchased')")
  [ "$v" = "2" ] || fail "$from: training after the update gave version '$v'"
  v=$(q -d $db -c "SELECT version FROM insight.retrain('up', tolerance => 1)")
  [ "$v" = "3" ] || fail "$from: retraining after the update gave version '$v'"
  cause=$(q -d $db -c "SELECT d.cause FROM insight.deployments d JOIN insight.models m ON m.id = d.model_id WHERE m.version = 1")
  [ "$cause" = "train" ] || fail "$from: the deployment made by training before the update says cause '$cause'"
  q -c "DROP DATABASE $db"
  rm -f "$extdir/pg_insight--$from.sql"
  n=$((n + 1))
done
q -c "DROP DATABASE insight_fresh"
echo "upgrade: $n archived release(s) updated to $current: same objects as a fresh install; models kept, training and retraining go on"
