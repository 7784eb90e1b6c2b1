#!/usr/bin/python3
"""End-to-end SQL benchmarks, run by scripts/bench against its throwaway cluster (PGHOST, PGPORT
in the environment; database insight_bench with pg_insight and benches/sql/setup.sql loaded).

Every comparison runs as interleaved rounds (A, B, A, B, ...), so the machine's noise hits each
side alike, and is reported as the median of the per-round ratios with their spread (min-max),
never as the fastest run alone. Sides: the floor (the same arithmetic as a plain SQL expression),
pg_insight, and what users do today (PL/Python + scikit-learn per row, or psycopg2 fetch +
scikit-learn). Usage: bench.py [rounds] (default 5)."""
import sys
import time
import warnings

import numpy as np
import psycopg2

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 5
FEATURES = ", ".join(f"f{i}" for i in range(1, 21))
warnings.filterwarnings("ignore")
from benchlib import cur, q, sql_arm, timed  # noqa: F401  (timed: the Ward arms)
from benchlib import interleave as _interleave, report


def interleave(arms, rounds=ROUNDS):
    return _interleave(arms, rounds)


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

# ---------------------------------------------------------------------------------------------
# Segmentation: k-means with k = 8 on bench_segments (eight planted segments, see setup.sql)
SEG_FEATURES_ARRAY = ", ".join(f"'f{i}'" for i in range(1, 21))
seg_quality = {}


fit_seconds = {}


def insight_kmeans(name, method, keep=False):
    def run():
        r = q(f"SELECT metrics->>'inertia', (metrics->>'fit_seconds')::float8"
              f" FROM insight.train('{name}', 'bench_segments', algorithm => 'kmeans',"
              f" features => ARRAY[{SEG_FEATURES_ARRAY}], options => '{{\"k\": 8, \"method\": \"{method}\"}}', deploy => 'always')")
        fit_seconds.setdefault(f"insight.train, method {method}: metrics->'fit_seconds'", []).append(r[0][1])
        if keep:
            labels = q(f"SELECT insight.segment('{name}', b), planted FROM bench_segments b ORDER BY id")
            seg_quality[f"insight.train, method {method}"] = (float(r[0][0]), labels)
    return run


def sklearn_kmeans(kind, keep=False):
    def run():
        from sklearn.cluster import KMeans, MiniBatchKMeans
        from sklearn.preprocessing import StandardScaler
        cur.execute(f"SELECT {FEATURES}, planted FROM bench_segments ORDER BY id")
        data = np.array(cur.fetchall(), dtype=float)
        x = StandardScaler().fit_transform(data[:, :20])
        t = time.perf_counter()
        km = (MiniBatchKMeans(n_clusters=8, batch_size=1024, n_init=10, random_state=0) if kind == "minibatch"
              else KMeans(n_clusters=8, n_init=10, random_state=0)).fit(x)
        fit_seconds.setdefault(f"scikit-learn {type(km).__name__}.fit", []).append(time.perf_counter() - t)
        if keep:
            seg_quality[f"scikit-learn {type(km).__name__}"] = (km.inertia_, list(zip(km.labels_, data[:, 20].astype(int))))
    return run


report("Training k-means (k = 8, n_init = 10) on bench_segments, mini-batch: pg_insight's default from 500,000 rows", interleave([
    ("insight.train(algorithm => 'kmeans'), method auto = minibatch, batch 1024", insight_kmeans("bench_seg", "minibatch")),
    ("psycopg2 fetch + scikit-learn StandardScaler + MiniBatchKMeans(batch_size=1024)", sklearn_kmeans("minibatch")),
]), base="insight.train(algorithm => 'kmeans'), method auto = minibatch, batch 1024")
report("Training k-means (k = 8, n_init = 10) on bench_segments, full Lloyd iterations", interleave([
    ("insight.train(algorithm => 'kmeans'), method full", insight_kmeans("bench_seg_full", "full")),
    ("psycopg2 fetch + scikit-learn StandardScaler + KMeans", sklearn_kmeans("full")),
]), base="insight.train(algorithm => 'kmeans'), method full")

print("\n| k-means fit alone, same rounds | median | min-max |\n|---|---|---|")
for name, ts in fit_seconds.items():
    print(f"| {name} | {statistics.median(ts) * 1000:,.0f} ms | {min(ts) * 1000:,.0f}-{max(ts) * 1000:,.0f} ms |")
from sklearn.metrics import adjusted_rand_score  # noqa: E402
for fn in (insight_kmeans("bench_seg", "minibatch", True), insight_kmeans("bench_seg_full", "full", True),
           sklearn_kmeans("minibatch", True), sklearn_kmeans("full", True)):
    fn()
print("\n| k = 8 on bench_segments | inertia (standardised inputs) | ARI vs the planted segments |\n|---|---|---|")
for name, (inertia, pairs) in seg_quality.items():
    print(f"| {name} | {inertia:,.1f} | {adjusted_rand_score([p for _, p in pairs], [l for l, _ in pairs]):.4f} |")

# scoring: a model on raw units, so that the floor is plain SQL over the columns
q(f"SELECT * FROM insight.train('bench_seg_raw', 'bench_segments', algorithm => 'kmeans', features => ARRAY[{SEG_FEATURES_ARRAY}],"
  " options => '{\"k\": 8, \"scale\": false}', deploy => 'always')")
centers = q("SELECT insight.model_info('bench_seg_raw')->'parameters'->'centers'")[0][0]
dists = [" + ".join(f"(f{i} - ({c['center'][f'f{i}']!r})) * (f{i} - ({c['center'][f'f{i}']!r}))" for i in range(1, 21))
         for c in centers]
floor_seg = (f"SELECT sum(CASE LEAST({', '.join(f'd{j}' for j in range(1, 9))}) "
             + " ".join(f"WHEN d{j} THEN {j}" for j in range(1, 9)) + " END) FROM (SELECT "
             + ", ".join(f"{d} AS d{j + 1}" for j, d in enumerate(dists)) + " FROM bench_segments OFFSET 0) s")
seg_row = "SELECT sum(insight.segment('bench_seg_raw', b)) FROM bench_segments b"
print(f"\nsegment sums (floor, row form): {q(floor_seg)[0][0]}, {q(seg_row)[0][0]}")
report("Scoring, k-means k = 8: nearest centre as plain SQL (the floor) vs insight.segment (serial), and with 2 workers", interleave([
    ("floor: plain SQL, 8 squared distances and LEAST", sql_arm(floor_seg, serial)),
    ("the logistic floor on bench_customers (same row count)", sql_arm(f"SELECT sum({floor}) FROM bench_customers", serial)),
    ("row form `insight.segment('bench_seg_raw', b)`", sql_arm(seg_row, serial)),
    ("row form, 2 parallel workers", sql_arm(seg_row, parallel)),
]), base="floor: plain SQL, 8 squared distances and LEAST")
q(r"""CREATE OR REPLACE FUNCTION bench_sk_segment(x float8[]) RETURNS int LANGUAGE plpython3u STABLE AS $py$
if 'km' not in GD:
    import json, numpy as np
    from sklearn.cluster import KMeans
    c = json.loads(plpy.execute("SELECT insight.model_info('bench_seg_raw')->'parameters'->'centers' AS c")[0]['c'])
    centers = np.array([[s['center'][f'f{i}'] for i in range(1, 21)] for s in c])
    # fitted on its own centres, each centre is one cluster: cluster_centers_ are the model's
    GD['km'] = KMeans(n_clusters=len(centers), init=centers, n_init=1, max_iter=1).fit(centers); GD['np'] = np
return int(GD['km'].predict(GD['np'].array(x).reshape(1, -1))[0]) + 1
$py$""")
report(f"Scoring {plpy_rows:,} rows: insight.segment vs PL/Python + scikit-learn KMeans.predict per row", interleave([
    ("pg_insight row form", sql_arm(f"SELECT sum(insight.segment('bench_seg_raw', b)) FROM bench_segments b WHERE id <= {plpy_rows}", serial)),
    ("PL/Python + scikit-learn", sql_arm(f"SELECT sum(bench_sk_segment(ARRAY[{FEATURES}])) FROM bench_segments WHERE id <= {plpy_rows}", serial)),
]), base="pg_insight row form")

# ---------------------------------------------------------------------------------------------
# Training aggregate: kmeans_agg over all of bench_segments (k = 8, the default 100,000-row
# sample), serial and with 2 parallel workers (Partial / Finalize Aggregate). The sample, and so
# the model, is the same either way; scanning and sampling the rows is what the workers share.
# Floor: the same scan as plain SQL (the sum of the 20 columns).
agg_sql = f"SELECT length(insight.kmeans_agg(ARRAY[{FEATURES}], 8)) FROM bench_segments"
floor_scan = f"SELECT sum({' + '.join(f'f{i}' for i in range(1, 21))}) FROM bench_segments"
parallel = ("SET max_parallel_workers_per_gather = 2; SET parallel_setup_cost = 0; "
            "SET min_parallel_table_scan_size = 0")
report("kmeans_agg (k = 8) over 1M rows: serial vs 2 parallel workers, and the scan alone", interleave([
    ("insight.kmeans_agg, serial", sql_arm(agg_sql, serial)),
    ("insight.kmeans_agg, 2 workers", sql_arm(agg_sql, parallel)),
    ("floor: the same scan summing the 20 columns, serial", sql_arm(floor_scan, serial)),
]), base="insight.kmeans_agg, serial")
# the scan-and-sample phase alone: a 1,000-row sample makes the fit negligible
agg_small = agg_sql.replace(", 8)", ", 8, '{\"sample_size\": 1000}')")
report("kmeans_agg (k = 8, sample_size 1,000) over 1M rows: the scan and sampling, serial vs 2 workers", interleave([
    ("insight.kmeans_agg sample_size 1000, serial", sql_arm(agg_small, serial)),
    ("insight.kmeans_agg sample_size 1000, 2 workers", sql_arm(agg_small, parallel)),
]), base="insight.kmeans_agg sample_size 1000, serial")
q("RESET parallel_setup_cost; RESET min_parallel_table_scan_size; RESET max_parallel_workers_per_gather")

# ---------------------------------------------------------------------------------------------
# Hierarchical segmentation: Ward on the first 20,000 and 50,000 rows of bench_segments, each
# training in a fresh backend so that its peak resident memory (VmHWM) is the training's
for n in (20_000, 50_000):
    q(f"DROP TABLE IF EXISTS bench_ward_{n}")
    q(f"CREATE TABLE bench_ward_{n} AS SELECT * FROM bench_segments WHERE id <= {n}")
    q(f"ANALYZE bench_ward_{n}")
print("\n| Ward, k = 8, 20 inputs | rows | time | backend peak RSS | ARI vs planted |\n|---|---|---|---|---|")
for n in (20_000, 50_000):
    t, mb = in_fresh_backend(
        f"SELECT * FROM insight.train('bench_ward_{n}', 'bench_ward_{n}', algorithm => 'agglomerative',"
        f" features => ARRAY[{SEG_FEATURES_ARRAY}], options => '{{\"k\": 8, \"sample_limit\": {n}}}', deploy => 'always')")
    labels = q(f"SELECT insight.segment('bench_ward_{n}', b), planted FROM bench_ward_{n} b ORDER BY id")
    from sklearn.metrics import adjusted_rand_score
    ari = adjusted_rand_score([p for _, p in labels], [s for s, _ in labels])
    print(f"| insight.train(algorithm => 'agglomerative') | {n:,} | {t:.2f} s | {mb:,} MB | {ari:.4f} |")
    sys.stdout.flush()


def sklearn_ward(n):
    import resource
    from sklearn.cluster import AgglomerativeClustering
    from sklearn.metrics import adjusted_rand_score
    from sklearn.preprocessing import StandardScaler
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    t = time.perf_counter()
    cur.execute(f"SELECT {FEATURES}, planted FROM bench_ward_{n} ORDER BY id")
    data = np.array(cur.fetchall(), dtype=float)
    labels = AgglomerativeClustering(n_clusters=8, linkage="ward").fit_predict(StandardScaler().fit_transform(data[:, :20]))
    t = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    ari = adjusted_rand_score(data[:, 20].astype(int), labels)
    print(f"| psycopg2 fetch + scikit-learn AgglomerativeClustering(linkage='ward') | {n:,} | {t:.2f} s | {peak:,} MB (client; {before:,} MB before) | {ari:.4f} |")
    sys.stdout.flush()


# scikit-learn's Ward goes through scipy's condensed matrix: 1.6 GB at 20,000 rows, 10 GB at 50,000
sklearn_ward(20_000)
