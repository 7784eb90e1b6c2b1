#!/usr/bin/env bash
# The README's Quick start runs as written: its sql block, in a fresh database, stopping at the
# first error. Runs against the cluster scripts/test started (PGHOST, PGPORT, PGUSER set).
set -euo pipefail
db=insight_quickstart
export PGOPTIONS="-c client_min_messages=warning"
sql=$(awk '/^## Quick start/ {q = 1} q && /^```sql/ {s = 1; next} s && /^```/ {exit} s {print}' README.md)
[ -n "$sql" ] || { echo "readme quickstart: no sql block under ## Quick start in README.md"; exit 1; }
psql -qX -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
if ! out=$(printf '%s\n' "$sql" | psql -qX -v ON_ERROR_STOP=1 -d $db 2>&1); then
  printf '%s\n' "$out" | tail -20
  echo "readme quickstart: FAILED"
  exit 1
fi
psql -qX -c "DROP DATABASE $db"
echo "readme quickstart: $(printf '%s\n' "$sql" | grep -cE ';[[:space:]]*(--.*)?$') statements ran"
