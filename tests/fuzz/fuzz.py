#!/usr/bin/python3
"""Calls every function, procedure and aggregate of schema insight with generated arguments from
several sessions at once, and checks what a DBA needs to trust an extension:

- every call succeeds or fails with an ERROR whose SQLSTATE is not XX000 (internal error: a
  panic text, a pgrx conversion failure, an elog);
- the server never restarts (pg_postmaster_start_time() is unchanged; scripts/fuzz also reads
  the server log for "terminated by signal");
- a failed call writes no model and no deployment: training calls use a fresh model name each,
  and after a failed one no row of that name may exist.

Arguments come from pools per SQL type: NULLs, NaN and +-Infinity, empty, huge and
multi-dimensional arrays, rows of the wrong type, malformed and deeply nested jsonb, absurd
options (hidden [4096 x 8], epochs 1e9, k 1e9), hostile identifiers, models that do not exist
or belong to another session, mutated model bytes. Each call runs under statement_timeout (absurd
options end as 57014, which is fine). The seed fixes every session's sequence of calls.

Usage: fuzz.py CALLS [SESSIONS (4)] [SEED (1)]; connects to database insight_fuzz with the
environment's PGHOST/PGPORT as user postgres (scripts/fuzz sets it up). Exit status 1 on any
finding, with the calls that caused it.
"""
import collections
import json
import random
import sys
import threading
import time

import psycopg2

CALLS = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
SESSIONS = int(sys.argv[2]) if len(sys.argv) > 2 else 4
SEED = int(sys.argv[3]) if len(sys.argv) > 3 else 1
DB = "insight_fuzz"


def connect():
    c = psycopg2.connect(dbname=DB, user="postgres")
    c.autocommit = True
    return c


# --- the fixture: tables and models every session can use -----------------------------------
SETUP = """
DROP SCHEMA IF EXISTS fz CASCADE;
CREATE SCHEMA fz;
SET search_path = fz, public;
CREATE TABLE fz.customers AS SELECT * FROM insight.demo_customers(300, 1);
CREATE TABLE fz.reviews AS SELECT r.*, c.support_tickets FROM insight.demo_reviews(300, 1) r JOIN fz.customers c USING (customer_id);
CREATE TABLE fz.orders AS SELECT * FROM insight.demo_orders(100, 1);
CREATE TABLE fz.interactions AS SELECT * FROM insight.demo_interactions(100, 1);
CREATE TABLE fz.history AS SELECT customer_id, (insight.clv_summary(order_date, amount, '2026-03-31', 'week')).*
  FROM fz.orders GROUP BY customer_id;
DELETE FROM fz.history WHERE frequency IS NULL;
CREATE TABLE fz.empty (x int, y bool);
CREATE TABLE fz.odd (n name, c char(3), a int[], j jsonb, t text);
INSERT INTO fz.odd VALUES ('a', 'b', '{1,2}', '{}', 'x'), (NULL, NULL, NULL, NULL, NULL);
SELECT insight.train('fz_logistic', 'fz.customers', 'purchased');
SELECT insight.train('fz_linear', 'fz.customers', 'avg_order_value', algorithm => 'linear');
SELECT insight.train('fz_kmeans', 'fz.customers', algorithm => 'kmeans', exclude => ARRAY['purchased']);
SELECT insight.train('fz_gbdt', 'fz.customers', 'region', algorithm => 'gbdt', options => '{"rounds": 10}');
SELECT insight.train('fz_mlp', 'fz.customers', 'purchased', algorithm => 'mlp', options => '{"epochs": 3}');
SELECT insight.train('fz_text', 'fz.reviews', 'satisfied', algorithm => 'text_logistic', features => ARRAY['review']);
SELECT insight.train('fz_als', 'fz.interactions', algorithm => 'als', options => '{"item": "product_id", "strength": "quantity", "factors": 4}');
SELECT insight.train('fz_bgnbd', 'fz.history', algorithm => 'bgnbd');
"""

MODELS = ["fz_logistic", "fz_linear", "fz_kmeans", "fz_gbdt", "fz_mlp", "fz_text", "fz_als", "fz_bgnbd",
          "fz_logistic@1", "fz_logistic@99", "nope", "", "a@b", "fz_logistic@", "@1", "x" * 300,
          "fz_s0_1", "fz_s1_2", "Robert'); DROP TABLE fz.customers; --", "🚀", "fz_kmeans@0", None]
RELATIONS = ["fz.customers", "fz.reviews", "fz.orders", "fz.interactions", "fz.history", "fz.empty",
             "fz.odd", "insight.models", "insight.models_pkey", "insight.models_id_seq",
             "pg_catalog.pg_class", "0", "4294967295", None]
COLUMNS = ["purchased", "age", "region", "review", "satisfied", "customer_id", "nope", "", "x" * 100,
           "\"quoted\"", "a, b", "n", "c", "a", "j", "order_date", "amount", None]
TEXTS = MODELS + COLUMNS + ["logistic", "linear", "mlp", "kmeans", "gbdt", "random_forest", "als",
                            "item_knn", "popularity", "bgnbd", "gamma_gamma", "text_logistic",
                            "agglomerative", "pareto_nbd", "always", "never", "if_better", "append",
                            "replace", "proba", "class", "days", "weeks", "\x01\x7f", "é" * 1000,
                            "a" * 100_000, "好喝", "NaN"]
INTS = [0, 1, -1, 2, 3, 10, 100, 10_000, 2**31 - 1, -2**31, None]
BIGINTS = INTS + [2**63 - 1, -2**63]
FLOATS = ["0", "1", "-1", "0.5", "1e308", "-1e308", "1e-320", "'NaN'", "'Infinity'", "'-Infinity'", "0.2", None]
JSONS = ["{}", "[]", "null", "\"x\"", "1", "{\"a\":" + "[" * 200 + "]" * 200 + "}",
         "{\"hidden\": [4096, 4096, 4096, 4096, 4096, 4096, 4096, 4096]}",
         "{\"epochs\": 1000000000}", "{\"k\": 1000000000}", "{\"k\": 3}", "{\"rounds\": 1000000000}",
         "{\"trees\": 1000000000}", "{\"factors\": 1000000000}", "{\"seed\": 1e400}",
         "{\"l2\": -1}", "{\"l2\": \"NaN\"}", "{\"text\": [\"review\", null]}", "{\"text\": \"embedding\"}",
         "{\"impute\": \"error\"}", "{\"max_categories\": 0}", "{\"hash_bits\": 64}",
         "{\"threshold\": 2}", "{\"class_weight\": {\"true\": -1}}", "{\"customer\": \"nope\"}",
         "{\"hidden\": []}", "{\"hidden\": [0]}", "{\"batch_size\": 0}", "{\"unknown\": 1}", None]
ARRAYS_TEXT = ["'{}'", "'{NULL}'", "'{\"\", NULL}'", "'{age,region}'", "'{purchased}'", "'{age,age}'",
               "'{{age},{region}}'", "array_fill('age'::text, ARRAY[2000])", None]
ARRAYS_FLOAT = ["'{}'", "'{1,2,3}'", "'{NaN,Infinity}'", "'{{1,2},{3,4}}'", "'{NULL}'",
                "array_fill(1.0::float8, ARRAY[100000])", "array_fill(1e300::float8, ARRAY[20])", None]
ELEMENTS = ["(SELECT c FROM fz.customers c LIMIT 1)", "(SELECT r FROM fz.reviews r LIMIT 1)",
            "(SELECT o FROM fz.odd o LIMIT 1)", "ROW(1, 'a')", "ARRAY[1, 2, 3]::float8[]", "'{}'::float8[]",
            "ARRAY[[1, 2], [3, 4]]::float8[]", "1", "'x'::text", "NULL::int", "'{NaN}'::float8[]",
            "(SELECT array_agg(c) FROM fz.customers c)", "customer_id", "42::bigint",
            "'2024-01-01'::date", "true", "'a'::name", "'b'::char(3)"]
BYTEAS = ["'\\x'::bytea", "'\\x5047494d'::bytea", "'\\x504749420100'::bytea",
          "(SELECT weights FROM insight.models ORDER BY random() LIMIT 1)",
          "(SELECT overlay(weights PLACING '\\xffffffffffffff7f'::bytea FROM 7 + (random() * (length(weights) - 14))::int) FROM insight.models ORDER BY random() LIMIT 1)",
          "(SELECT substring(weights FROM 1 FOR (random() * length(weights))::int) FROM insight.models ORDER BY random() LIMIT 1)",
          "decode(repeat('ff', 1000), 'hex')", None]
DATES = ["'2024-01-01'::date", "'infinity'::date", "'-infinity'::date", "'4713-01-01 BC'::date", "NULL::date"]


def lit(v, cast):
    if v is None:
        return f"NULL::{cast}"
    if isinstance(v, int):
        return f"{v}::{cast}"
    return "'" + str(v).replace("'", "''") + f"'::{cast}"


LIVE_MODELS = [m for m in MODELS if m and m.startswith("fz_") and "@" not in m and "_s" not in m]


def argument(rng, typ, session, name=""):
    """A SQL expression of (about) type `typ`, for the argument called `name`."""
    if typ == "text" and name in ("model", "name") and rng.random() < 0.7:
        return lit(rng.choice(LIVE_MODELS), "text")
    if typ == "text" and name in ("target", "key", "column") and rng.random() < 0.7:
        return lit(rng.choice(COLUMNS), "text")
    if typ in ("text", "character varying", "name"):
        v = rng.choice(TEXTS)
        if v == "fz_s0_1":
            v = f"fz_s{rng.randrange(SESSIONS)}_{rng.randrange(50)}"
        return lit(v, "text")
    if typ == "regclass":
        v = rng.choice(RELATIONS)
        return lit(v, "oid") + "::regclass" if v is not None and v.isdigit() else lit(v, "regclass")
    if typ == "integer":
        return lit(rng.choice(INTS), "int")
    if typ == "bigint":
        return lit(rng.choice(BIGINTS), "bigint")
    if typ in ("double precision", "real", "numeric"):
        v = rng.choice(FLOATS)
        return f"NULL::{typ}" if v is None else f"{v}::{typ}"
    if typ == "boolean":
        return rng.choice(["true", "false", "NULL::bool"])
    if typ == "jsonb":
        v = rng.choice(JSONS)
        return "NULL::jsonb" if v is None else lit(v, "jsonb")
    if typ == "text[]":
        v = rng.choice(ARRAYS_TEXT)
        return "NULL::text[]" if v is None else f"{v}::text[]"
    if typ in ("double precision[]", "real[]"):
        v = rng.choice(ARRAYS_FLOAT)
        return f"NULL::{typ}" if v is None else f"{v}::{typ}"
    if typ in ("anyelement", "anycompatible", "anyarray", "record"):
        return rng.choice(ELEMENTS)
    if typ == "bytea":
        v = rng.choice(BYTEAS)
        return "NULL::bytea" if v is None else v
    if typ == "date":
        return rng.choice(DATES)
    if typ.startswith("timestamp"):
        return rng.choice(["now()", "'infinity'::timestamptz", "NULL::timestamptz"])
    if typ == "interval":
        return rng.choice(["'1 day'::interval", "'-1 year'::interval", "NULL::interval"])
    return f"NULL::{typ}"


def routines(cur):
    """(name, kind, [argument types], required count) of every routine of schema insight that SQL
    can call (internal-typed arguments cannot be passed from SQL)."""
    cur.execute("""
        SELECT p.proname, p.prokind::text,
               coalesce(array(SELECT pg_catalog.format_type(t, NULL) FROM unnest(p.proargtypes) t), '{}'),
               p.pronargs - p.pronargdefaults,
               coalesce(p.proargnames[1:p.pronargs], '{}')
          FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
         WHERE n.nspname = 'insight'
           AND NOT 'internal'::regtype = ANY (p.proargtypes)
           AND p.prorettype <> 'internal'::regtype""")
    return cur.fetchall()


def statement(rng, routine, session, i):
    name, kind, types, required, names = routine
    n = rng.randint(required, len(types)) if rng.random() < 0.5 else len(types)
    names = list(names) + [""] * len(types)
    args = [argument(rng, t, session, names[j]) for j, t in enumerate(types[:n])]
    trains = name in ("train", "save_model", "import_model", "retrain")
    fresh = f"fz_new_{session}_{i}"
    if trains and args and rng.random() < 0.8:
        args[0] = lit(fresh, "text")
    call = f"insight.{name}({', '.join(args)})"
    if kind == "p":
        return f"CALL {call}", fresh if trains else None
    if kind == "a":
        return f"SELECT {call} FROM fz.customers", fresh if trains else None
    return f"SELECT * FROM {call}" if rng.random() < 0.5 else f"SELECT {call}", fresh if trains else None


findings = []
states = collections.Counter()
lock = threading.Lock()


def session(s, calls, routine_list):
    try:
        run_session(s, calls, routine_list)
    except Exception as e:  # the harness itself failed: a finding too
        with lock:
            findings.append(("harness", f"session {s}", repr(e)))


def run_session(s, calls, routine_list):
    rng = random.Random(SEED * 1000 + s)
    conn = connect()
    cur = conn.cursor()
    cur.execute("SET statement_timeout = '3s'; SET search_path = fz, public; SET client_min_messages = error")
    for i in range(calls):
        sql, fresh = statement(rng, rng.choice(routine_list), s, i)
        state = "ok"
        try:
            cur.execute(sql)
            if cur.description:
                cur.fetchmany(10)
        except psycopg2.Error as e:
            state = e.pgcode or "client"
            if conn.closed:  # the connection is gone: the backend died
                state = "connection"
            if state in ("XX000", "connection"):
                with lock:
                    findings.append((state, sql[:500], str(e).strip()[:300]))
            if conn.closed:
                conn = connect()
                cur = conn.cursor()
                cur.execute("SET statement_timeout = '3s'; SET search_path = fz, public")
            if fresh and state != "connection":
                cur.execute("SELECT (SELECT count(*) FROM insight.models WHERE name = %s) + "
                            "(SELECT count(*) FROM insight.deployments WHERE name = %s)", (fresh, fresh))
                (left,) = cur.fetchone()
                if left:
                    with lock:
                        findings.append(("written", sql[:500], f"a failed call left {left} rows named {fresh}"))
        with lock:
            states[state] += 1
    conn.close()


def main():
    conn = connect()
    cur = conn.cursor()
    cur.execute("SET client_min_messages = warning")
    cur.execute(SETUP)
    cur.execute("SELECT pg_postmaster_start_time()")
    (started,) = cur.fetchone()
    routine_list = routines(cur)
    t = time.time()
    threads = [threading.Thread(target=session, args=(s, CALLS // SESSIONS, routine_list)) for s in range(SESSIONS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    seconds = time.time() - t
    conn = connect()
    cur = conn.cursor()
    cur.execute("SELECT pg_postmaster_start_time()")
    (now,) = cur.fetchone()
    if now != started:
        findings.append(("restart", "", f"the postmaster restarted: {started} -> {now}"))
    total = sum(states.values())
    print(f"fuzz: {total} calls of {len(routine_list)} routines from {SESSIONS} sessions, seed {SEED}, "
          f"{seconds:.0f} s ({total / seconds:.0f} calls/s)")
    print("outcomes: " + ", ".join(f"{k} {v}" for k, v in states.most_common()))
    for kind, sql, msg in findings[:50]:
        print(f"FINDING {kind}: {msg}\n    {sql}")
    if findings:
        print(f"fuzz: {len(findings)} findings")
        sys.exit(1)
    print("fuzz: no internal error, no restart, nothing written by a failed call")


if __name__ == "__main__":
    main()
