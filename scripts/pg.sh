# Helpers for a throwaway PostgreSQL 15 cluster under target/ (sourced by scripts/demo, test, bench).
# Works as root: the cluster runs as user postgres.

PG_BIN=/usr/lib/postgresql/15/bin
PG_CONFIG=$PG_BIN/pg_config
export PATH="$HOME/.cargo/bin:$PATH"

as_postgres() { runuser -u postgres -- "$@"; }

# pg_start NAME: starts (or reuses) the cluster target/pg-NAME; sets PGHOST, PGPORT, PGUSER.
pg_start() {
  local name=$1 root
  root="$(pwd)/target/pg-$name"
  mkdir -p "$root"
  chown postgres:postgres "$root"
  chmod 755 "$(pwd)/target" "$root"
  export PGHOST="$root" PGUSER=postgres PGDATABASE=postgres
  if [ -f "$root/port" ] && as_postgres "$PG_BIN/pg_ctl" -D "$root/data" status >/dev/null 2>&1; then
    export PGPORT=$(cat "$root/port")
    return 0
  fi
  if [ ! -f "$root/data/PG_VERSION" ]; then
    as_postgres "$PG_BIN/initdb" -D "$root/data" -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
  fi
  local port=55432
  while (echo >/dev/tcp/127.0.0.1/$port) 2>/dev/null; do port=$((port + 1)); done
  echo $port > "$root/port"; chown postgres "$root/port"
  export PGPORT=$port
  # no Rust backtraces in error details: users' servers do not have them either
  env -u RUST_BACKTRACE -u RUST_LIB_BACKTRACE runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$root/data" -l "$root/log" -w -o \
    "-p $port -k $root -c listen_addresses='' -c shared_preload_libraries='' -c max_parallel_workers_per_gather=2" start >/dev/null
}

pg_stop() {
  local root
  root="$(pwd)/target/pg-$1"
  [ -d "$root/data" ] && as_postgres "$PG_BIN/pg_ctl" -D "$root/data" -m fast stop >/dev/null 2>&1 || true
}

# install_extension [--release]
install_extension() {
  cargo pgrx install --pg-config "$PG_CONFIG" "$@" >/dev/null
}
