#!/usr/bin/env bash
# Scheduled retraining with pg_cron, as the README's recipe sets it up: a cluster with pg_cron
# preloaded, insight.retrain scheduled with cron.schedule_in_database on '* * * * *', and a new
# version of the model within two minutes, recorded in insight.evaluations. Also a drift-gated
# job: on unchanged rows it trains nothing and records the drift it measured.
# Needs postgresql-15-cron (scripts/setup installs it); starts its own cluster (target/pg-cron),
# since shared_preload_libraries needs a restart. Run from the repository root, as root.
set -euo pipefail
source scripts/pg.sh
fail() { echo "cron: $*"; exit 1; }
root="$(pwd)/target/pg-cron"
[ -f "$($PG_CONFIG --pkglibdir)/pg_cron.so" ] || fail "pg_cron is not installed (apt install postgresql-15-cron; scripts/setup does)"
as_postgres "$PG_BIN/pg_ctl" -D "$root/data" -m immediate stop >/dev/null 2>&1 || true
rm -rf "$root" && mkdir -p "$root" && chown postgres:postgres "$root"
as_postgres "$PG_BIN/initdb" -D "$root/data" -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
port=56432
while (echo >/dev/tcp/127.0.0.1/$port) 2>/dev/null; do port=$((port + 1)); done
# pg_cron runs its jobs in background workers (no connection settings needed); its own catalog
# lives in database postgres, the jobs run in the database each names
as_postgres "$PG_BIN/pg_ctl" -D "$root/data" -l "$root/log" -w -o \
  "-p $port -k $root -c listen_addresses='' -c shared_preload_libraries=pg_cron -c cron.database_name=postgres -c cron.use_background_workers=on -c max_worker_processes=16" \
  start >/dev/null
trap 'as_postgres "$PG_BIN/pg_ctl" -D "$root/data" -m fast stop >/dev/null 2>&1 || true' EXIT
export PGHOST=$root PGPORT=$port PGUSER=postgres PGOPTIONS="-c client_min_messages=warning"
q() { psql -qXAt -v ON_ERROR_STOP=1 "$@"; }

q -d postgres -c "CREATE EXTENSION pg_cron" -c "CREATE DATABASE shop"
q -d shop >/dev/null <<'SQL'
CREATE EXTENSION pg_insight;
CREATE TABLE customers AS SELECT * FROM insight.demo_customers(2000, 7);
SELECT version FROM insight.train('purchase', 'customers', target => 'purchased', exclude => ARRAY['customer_id']);
-- a second model whose job retrains only when its inputs drift
SELECT version FROM insight.train('gated', 'customers', target => 'purchased', exclude => ARRAY['customer_id']);
SQL
q -d postgres >/dev/null <<'SQL'
SELECT cron.schedule_in_database('retrain-purchase', '* * * * *',
                                 $$SELECT version FROM insight.retrain('purchase')$$, 'shop');
SELECT cron.schedule_in_database('retrain-gated', '* * * * *',
                                 $$SELECT version FROM insight.retrain('gated', when_drift_above => 0.25)$$, 'shop');
SQL
echo "cron: scheduled; waiting for a run (pg_cron starts jobs at the top of each minute)"
for i in $(seq 1 150); do
  v=$(q -d shop -c "SELECT max(version) FROM insight.models WHERE name = 'purchase'")
  g=$(q -d shop -c "SELECT count(*) FROM insight.drift_history WHERE name = 'gated'")
  [ "$v" -ge 2 ] && [ "$g" -gt 0 ] && break
  sleep 1
done
runs=$(q -d postgres -c "SELECT string_agg(j.jobname || ': ' || d.status || ' ' || coalesce(d.return_message, ''), '; ')
                           FROM cron.job_run_details d JOIN cron.job j USING (jobid)")
[ "$v" -ge 2 ] || fail "no new version of 'purchase' within 150 s (job runs: ${runs:-none}; log: $root/log)"
[ "$g" -gt 0 ] || fail "the drift-gated job recorded no drift within 150 s (job runs: ${runs:-none})"
who=$(q -d shop -c "SELECT created_by FROM insight.models WHERE name = 'purchase' AND version = 2")
rec=$(q -d shop -c "SELECT string_agg(source, ',' ORDER BY source) FROM insight.evaluations WHERE name = 'purchase' AND version IN (1, 2)")
[ "$rec" = "champion,retrain" ] || fail "the scheduled retrain recorded evaluations '$rec', not champion,retrain"
gated=$(q -d shop -c "SELECT count(*) FROM insight.models WHERE name = 'gated'")
[ "$gated" = "1" ] || fail "the drift-gated job trained on unchanged rows ($gated versions)"
failed=$(q -d postgres -c "SELECT count(*) FROM cron.job_run_details WHERE status = 'failed'")
[ "$failed" = "0" ] || fail "failed job runs: $runs"
q -d postgres -c "SELECT cron.unschedule('retrain-purchase'), cron.unschedule('retrain-gated')" >/dev/null
echo "cron: pg_cron retrained 'purchase' to version $v as $who after ${i}s (evaluations recorded: $rec); the drift-gated job trained nothing on unchanged rows"
