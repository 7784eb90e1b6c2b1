#!/usr/bin/python3
"""End-to-end SQL benchmarks, run by scripts/bench against its throwaway cluster (PGHOST, PGPORT
in the environment; database insight_bench with pg_insight and benches/sql/setup.sql loaded).

Every comparison runs as interleaved rounds (A, B, A, B, ...), so the machine's noise hits each
side alike, and is reported as the median of the per-round ratios with their spread (min-max),
never as the fastest run alone. Sides: the floor (the same arithmetic as a plain SQL expression),
pg_insight, and what users do today (PL/Python + scikit-learn per row, or psycopg2 fetch +
scikit-learn). Usage: bench.py [rounds] (default 5)."""
import statistics
import sys
import time
import warnings

import numpy as np
import psycopg2

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 5
FEATURES = ", ".join(f"f{i}" for i in range(1, 21))
warnings.filterwarnings("ignore")
conn = psycopg2.connect(dbname="insight_bench", user="postgres")
conn.autocommit = True
cur = conn.cursor()


def q(sql, *args):
    cur.execute(sql, args or None)
    return cur.fetchall() if cur.description else None


def timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def sql_arm(sql, settings=""):
    def run():
        if settings:
            cur.execute(settings)
        cur.execute(sql)
        cur.fetchall()
    return run


def interleave(arms, rounds=ROUNDS):
    """arms: [(name, fn)]; returns {name: [seconds per round]}."""
    times = {name: [] for name, _ in arms}
    for _ in range(rounds):
        for name, fn in arms:
            times[name].append(timed(fn))
    return times


def report(title, times, base=None):
    print(f"\n### {title} ({ROUNDS} interleaved rounds)")
    print("| what | median | min-max | " + (f"per round vs {base} | median ratio (min-max) |" if base else "|"))
    print("|---|---|---|" + ("---|---|" if base else ""))
    for name, ts in times.items():
        line = f"| {name} | {statistics.median(ts) * 1000:,.0f} ms | {min(ts) * 1000:,.0f}-{max(ts) * 1000:,.0f} ms |"
        if base:
            r = [a / b for a, b in zip(ts, times[base])]
            line += f" {', '.join(f'{x:.2f}' for x in r)} | {statistics.median(r):.2f}x ({min(r):.2f}-{max(r):.2f}) |"
        print(line)
    sys.stdout.flush()


def in_fresh_backend(sql):
    """Runs `sql` in a new session: (seconds, the backend's peak resident MB, shared buffers included)."""
    c = psycopg2.connect(dbname="insight_bench", user="postgres")
    c.autocommit = True
    k = c.cursor()
    t = time.perf_counter()
    k.execute(sql)
    t = time.perf_counter() - t
    k.execute(r"SELECT substring(pg_read_file('/proc/self/status') from 'VmHWM:\s+(\d+)')::bigint / 1024")
    mb = k.fetchone()[0]
    c.close()
    return t, mb


def fetch_all():
    cur.execute(f"SELECT {FEATURES}, label FROM bench_customers")
    return np.array(cur.fetchall(), dtype=float)


# ---------------------------------------------------------------------------------------------
n_rows = q("SELECT count(*) FROM bench_customers")[0][0]
print(f"## pg_insight SQL benchmarks: {n_rows:,} rows x 20 float8, PostgreSQL {q('SHOW server_version')[0][0]}")
q("SET max_parallel_workers_per_gather = 0")
q("SELECT * FROM insight.train('bench', 'bench_customers', target => 'label', exclude => ARRAY['id'], deploy => 'always')")
floor = q(open("benches/sql/floor_expr.sql").read().replace("\\gset", ""))[0][0]
row_form = "SELECT sum(insight.predict_purchase('bench', b)) FROM bench_customers b"
array_form = f"SELECT sum(insight.predict_purchase('bench', ARRAY[{FEATURES}])) FROM bench_customers"
sums = {n: q(s)[0][0] for n, s in [("floor", f"SELECT sum({floor}) FROM bench_customers"), ("row", row_form), ("array", array_form)]}
print("\nsums over all rows (the same model three ways): " + ", ".join(f"{k} {v:.14g}" for k, v in sums.items()))
serial = "SET max_parallel_workers_per_gather = 0"
parallel = "SET max_parallel_workers_per_gather = 2; SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0"
report("Scoring, logistic: floor vs row form vs array form (serial), and the row form with 2 workers", interleave([
    ("floor: plain SQL logistic expression", sql_arm(f"SELECT sum({floor}) FROM bench_customers", serial)),
    ("row form `predict_purchase('bench', b)`", sql_arm(row_form, serial)),
    ("array form `predict_purchase('bench', ARRAY[f1..f20])`", sql_arm(array_form, serial)),
    ("row form, 2 parallel workers", sql_arm(row_form, parallel)),
]), base="floor: plain SQL logistic expression")

# PL/Python + scikit-learn per row, on the first 100k rows
plpy_rows = min(n_rows, 100_000)
q("CREATE EXTENSION IF NOT EXISTS plpython3u")
q(open("benches/sql/plpython_predict.sql").read())
report(f"Scoring {plpy_rows:,} rows: pg_insight vs PL/Python + scikit-learn predict_proba per row", interleave([
    ("pg_insight row form", sql_arm(f"SELECT sum(insight.predict_purchase('bench', b)) FROM bench_customers b WHERE id <= {plpy_rows}", serial)),
    ("PL/Python + scikit-learn", sql_arm(f"SELECT sum(bench_sk_predict(ARRAY[{FEATURES}])) FROM bench_customers WHERE id <= {plpy_rows}", serial)),
]), base="pg_insight row form")


def sklearn_logistic():
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler
    data = fetch_all()
    LogisticRegression(C=1.0).fit(StandardScaler().fit_transform(data[:, :20]), data[:, 20])


report("Training logistic regression on all rows (pg_insight: read, fit, evaluate on 20%, store)", interleave([
    ("insight.train", sql_arm("SELECT * FROM insight.train('bench_t', 'bench_customers', target => 'label', exclude => ARRAY['id'], deploy => 'never')")),
    ("psycopg2 fetch + scikit-learn StandardScaler + LogisticRegression", sklearn_logistic),
]), base="insight.train")

# ---------------------------------------------------------------------------------------------
t, mb = in_fresh_backend(
    "SELECT * FROM insight.train('bench_mlp', 'bench_customers', target => 'label', algorithm => 'mlp', exclude => ARRAY['id'],"
    " options => '{\"epochs\": 5, \"early_stopping\": false}', deploy => 'always')")
print(f"\nMLP(64, 32), 5 epochs on all rows (read, warm start, train on 80%, evaluate, importance, store): {t:.1f} s, "
      f"training backend peak {mb} MB")
mlp_row = "SELECT sum(insight.predict_purchase('bench_mlp', b)) FROM bench_customers b"
report("Scoring, MLP(64, 32): logistic floor vs MLP row form (serial) and with 2 workers", interleave([
    ("floor: plain SQL logistic expression", sql_arm(f"SELECT sum({floor}) FROM bench_customers", serial)),
    ("MLP row form", sql_arm(mlp_row, serial)),
    ("MLP row form, 2 parallel workers", sql_arm(mlp_row, parallel)),
]), base="floor: plain SQL logistic expression")

q("DROP TABLE IF EXISTS bench_scores")
t, mb = in_fresh_backend("CALL insight.score_table('bench_mlp', 'bench_customers', 'bench_scores', 'id')")
print(f"\nscore_table, MLP, all rows into a new table: {t:.2f} s, {n_rows / t:,.0f} rows/s, backend peak {mb} MB")

# MLP training on a 200k-row sample: 5 epochs of scikit-learn's MLPClassifier on 1M rows take
# minutes, too long to repeat; the ratio is what matters
q("DROP TABLE IF EXISTS bench_mlp_rows; CREATE TABLE bench_mlp_rows AS SELECT * FROM bench_customers WHERE id <= 200000")


def sklearn_mlp():
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import StandardScaler
    cur.execute(f"SELECT {FEATURES}, label FROM bench_mlp_rows")
    data = np.array(cur.fetchall(), dtype=float)
    n_train = int(len(data) * 0.8)
    MLPClassifier(hidden_layer_sizes=(64, 32), batch_size=32, max_iter=5, alpha=1e-4, random_state=42).fit(
        StandardScaler().fit_transform(data[:n_train, :20]), data[:n_train, 20])


report("Training MLP(64, 32), 5 epochs, batch 32, Adam, on 200,000 rows", interleave([
    ("insight.train(algorithm => 'mlp')", sql_arm(
        "SELECT * FROM insight.train('bench_mlp_t', 'bench_mlp_rows', target => 'label', algorithm => 'mlp', exclude => ARRAY['id'],"
        " options => '{\"epochs\": 5, \"early_stopping\": false}', deploy => 'never')")),
    ("psycopg2 fetch + scikit-learn MLPClassifier", sklearn_mlp),
]), base="insight.train(algorithm => 'mlp')")
