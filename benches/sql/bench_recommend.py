"""Recommenders: pg_insight's ALS (insight.train in the database) against the `implicit` package's
ALS (0.7.3: rows fetched with psycopg2, a scipy CSR matrix, its multi-threaded CPU fit), on the
same generated interactions and the same held-out split; and popularity as the floor.

The data (numpy, seeded): customers with planted tastes. Items belong to one of 40 taste
groups; every customer has a main taste and, one in three, a second one; each interaction comes
from the main taste (75%), the second (10%) or the whole catalogue (15%), Zipf-weighted within
each, with a quantity of 1 + Poisson(0.5). Duplicate (customer, item) pairs are summed by both
sides. Each customer's distinct items are split at random: 20% held out (at least one kept).

Quality: precision@10, recall@10, NDCG@10 and MAP@10 of the top 10 (each customer's training
items left out) over the held-out items, computed by one Python function for every arm (and
checked against insight.evaluate_recommender for ours). Speed: interleaved rounds of the whole
train (ours: insight.train from the table; implicit: fetch + CSR + fit) and the fit alone; the
top 10 for every test customer in one query (CROSS JOIN LATERAL insight.recommend).

Run: target/bench-venv/bin/python benches/sql/bench_recommend.py [interactions (default 100000)]
[rounds (default 5)] (scripts/bench runs it; needs insight_bench with pg_insight).
"""
import io
import math
import statistics
import sys
import time

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

import implicit
from implicit.als import AlternatingLeastSquares

from benchlib import cur, q

N = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 5
K = 10


# --- planted interactions ---------------------------------------------------------------------
rng = np.random.default_rng(20261201)
per_customer = 10 if N <= 1_000_000 else 20
n_customers = max(N // per_customer, 100)
n_items = int(min(max(n_customers // 5, 500), 20_000))
groups = 40
item_group = rng.integers(0, groups, n_items)
members = [np.flatnonzero(item_group == g) for g in range(groups)]


def zipf_weights(n, s=1.0):
    w = 1.0 / np.arange(1, n + 1) ** s
    return w / w.sum()


global_order = rng.permutation(n_items)
global_w = zipf_weights(n_items, 0.9)
main = rng.integers(0, groups, n_customers)
second = np.where(rng.random(n_customers) < 1 / 3, rng.integers(0, groups, n_customers), -1)
counts = rng.poisson(per_customer - 1, n_customers) + 1
cust = np.repeat(np.arange(n_customers), counts)
source = rng.random(cust.size)
items = np.empty(cust.size, dtype=np.int64)
# the catalogue
pick = (source >= 0.85) | ((source >= 0.75) & (second[cust] < 0))
items[pick] = global_order[rng.choice(n_items, pick.sum(), p=global_w)]
# a taste: Zipf within the group's items
for taste, mask in ((main, source < 0.75), (second, (source >= 0.75) & (source < 0.85) & (second[cust] >= 0))):
    g_of = taste[cust[mask]]
    drawn = np.empty(mask.sum(), dtype=np.int64)
    for g in range(groups):
        at = np.flatnonzero(g_of == g)
        if at.size and members[g].size:
            drawn[at] = members[g][rng.choice(members[g].size, at.size, p=zipf_weights(members[g].size))]
    items[mask] = drawn
quantity = rng.poisson(0.5, cust.size) + 1
# distinct pairs (quantities summed), split per customer
pairs = sp.coo_matrix((quantity.astype(np.float64), (cust, items)), shape=(n_customers, n_items)).tocsr()
pairs.sum_duplicates()
test_mask = np.zeros(pairs.nnz, dtype=bool)
for u in range(n_customers):
    lo, hi = pairs.indptr[u], pairs.indptr[u + 1]
    n_u = hi - lo
    k = min(int(0.2 * n_u + rng.random()), n_u - 1)
    if k > 0:
        test_mask[lo + rng.choice(n_u, k, replace=False)] = True
rows = np.repeat(np.arange(n_customers), np.diff(pairs.indptr))
train = (rows[~test_mask], pairs.indices[~test_mask], pairs.data[~test_mask])
test = (rows[test_mask], pairs.indices[test_mask])


def load(table, cols, data):
    q(f"DROP TABLE IF EXISTS {table} CASCADE")
    q(f"CREATE TABLE {table} (customer_id bigint, item_id text{', quantity int' if len(data) == 3 else ''})")
    buf = io.StringIO()
    for rec in zip(*data):
        buf.write(f"{rec[0]}\titem{rec[1]}" + (f"\t{int(rec[2])}" if len(rec) == 3 else "") + "\n")
    buf.seek(0)
    cur.copy_expert(f"COPY {table} ({cols}) FROM STDIN", buf)
    q(f"ANALYZE {table}")


load("rec_train", "customer_id, item_id, quantity", train)
load("rec_test", "customer_id, item_id", test)
held = {}
for u, i in zip(*test):
    held.setdefault(int(u), set()).add(f"item{i}")
# quality over at most 20,000 customers with held-out items (evenly spread): the top 10 of every
# one of 400,000 would take both sides minutes without changing the figures
all_test = sorted(held)
test_customers = all_test[:: max(1, math.ceil(len(all_test) / 20_000))]
q("DROP TABLE IF EXISTS rec_quality")
q("CREATE TABLE rec_quality AS SELECT unnest(%s::bigint[]) AS customer_id", test_customers)
print(f"\n## Recommenders: {int(pairs.nnz):,} distinct interactions ({cust.size:,} drawn) of {n_customers:,} customers "
      f"with {n_items:,} items; {len(train[0]):,} to train, {len(test[0]):,} held out from {len(all_test):,} "
      f"customers; implicit {implicit.__version__}, 2 threads")


def metrics(recs):
    """recs: {customer: [item, ...] best first}; the formulas of ml::recommend::metrics."""
    p = r = n = m = 0.0
    covered = set()
    for u in test_customers:
        top = recs.get(u, [])[:K]
        covered.update(top)
        truth = held[u]
        hits, dcg, ap = 0, 0.0, 0.0
        for rank, item in enumerate(top):
            if item in truth:
                hits += 1
                dcg += 1 / math.log2(rank + 2)
                ap += hits / (rank + 1)
        ideal = min(K, len(truth))
        p += hits / K
        r += hits / len(truth)
        n += dcg / sum(1 / math.log2(i + 2) for i in range(ideal))
        m += ap / ideal
    c = len(test_customers)
    return {"precision": p / c, "recall": r / c, "ndcg": n / c, "map": m / c, "coverage": len(covered) / n_items}


# --- arms -------------------------------------------------------------------------------------
def ours_train(name, algorithm):
    # deploy always: recommend and evaluate_recommender must score this version (if_better would
    # keep a version trained on another run's data deployed)
    q("SELECT * FROM insight.train(%s, 'rec_train', algorithm => %s, options => '{\"strength\": \"quantity\"}', "
      "test_size => 0.01, deploy => 'always')", name, algorithm)


def ours_recs(name):
    out = {}
    for u, item in q(f"SELECT t.customer_id, r.item FROM rec_quality t "
                     f"CROSS JOIN LATERAL insight.recommend('{name}', t.customer_id, {K}) r"):
        out.setdefault(int(u), []).append(item)
    return out


fitted = {}


def implicit_train(label, **params):
    """psycopg2 fetch, CSR, fit: what a user does today."""
    def run():
        cur.execute("SELECT customer_id, item_id, quantity FROM rec_train")
        got = cur.fetchall()
        us = np.fromiter((g[0] for g in got), dtype=np.int64, count=len(got))
        keys, inv = np.unique(np.array([g[1] for g in got]), return_inverse=True)
        qty = np.fromiter((g[2] for g in got), dtype=np.float32, count=len(got))
        user_items = sp.csr_matrix((qty, (us, inv)), shape=(n_customers, keys.size))
        t = time.perf_counter()
        model = AlternatingLeastSquares(random_state=42, **params)
        model.fit(user_items, show_progress=False)
        fitted[label] = (model, user_items, keys, time.perf_counter() - t)
    return run


def implicit_recs(label):
    model, user_items, keys, _ = fitted[label]
    ids = np.array(test_customers)
    top, _ = model.recommend(ids, user_items[ids], N=K, filter_already_liked_items=True)
    return {int(u): [keys[i] for i in row if i >= 0] for u, row in zip(ids, top)}


arms = [
    ("pg_insight als (defaults: 64 factors, alpha 10, regularization 1, 15 iterations)",
     lambda: ours_train("bench_als", "als")),
    ("implicit ALS (its defaults: 100 factors, alpha 1, regularization 0.01, 15 iterations)",
     implicit_train("implicit_default")),
    ("implicit ALS, 64 factors, alpha 10, regularization 1",
     implicit_train("implicit_matched", factors=64, alpha=10.0, regularization=1.0)),
]
times = {name: [] for name, _ in arms}
with threadpool_limits(1, "blas"):
    for _ in range(ROUNDS):
        for name, fn in arms:
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
ours_train("bench_pop", "popularity")
((fit_s,),) = q("SELECT (metrics->>'fit_seconds')::float8 FROM insight.models WHERE name = 'bench_als' ORDER BY version DESC LIMIT 1")

recs_ours = ours_recs("bench_als")
# the top 10 for up to 100,000 customers in one query, twice (the first call of a backend
# decodes the model)
q("DROP TABLE IF EXISTS rec_some")
# (every customer keeps training rows; SELECT DISTINCT over millions of sorted rows hits a slow
# hash-aggregate path in PostgreSQL 15, so the ids come from here)
q("CREATE TABLE rec_some AS SELECT unnest(%s::bigint[]) AS customer_id", list(range(min(n_customers, 100_000))))
((n_some,),) = q("SELECT count(*) FROM rec_some")
lateral = []
for _ in range(2):
    t = time.perf_counter()
    q(f"SELECT count(*) FROM rec_some t CROSS JOIN LATERAL insight.recommend('bench_als', t.customer_id, {K}) r")
    lateral.append(time.perf_counter() - t)
lateral_s = lateral[-1]
quality = [
    ("pg_insight als", metrics(recs_ours)),
    ("implicit ALS, its defaults", metrics(implicit_recs("implicit_default"))),
    ("implicit ALS, 64 factors, alpha 10, regularization 1", metrics(implicit_recs("implicit_matched"))),
    ("pg_insight popularity", metrics(ours_recs("bench_pop"))),
]
if len(test_customers) == len(all_test):
    ((ev,),) = q(f"SELECT insight.evaluate_recommender('bench_als', 'rec_test', {K})")
    assert abs(ev["precision_at_k"] - quality[0][1]["precision"]) < 1e-9, (ev, quality[0])
    assert abs(ev["ndcg_at_k"] - quality[0][1]["ndcg"]) < 1e-9, (ev, quality[0])

print(f"\n### Held-out quality at k = {K} ({len(test_customers):,} customers; insight.evaluate_recommender "
      "gives pg_insight's figures to 1e-9)")
print("| arm | precision@10 | recall@10 | NDCG@10 | MAP@10 | coverage |")
print("|---|---|---|---|---|---|")
for name, m in quality:
    print(f"| {name} | {m['precision']:.4f} | {m['recall']:.4f} | {m['ndcg']:.4f} | {m['map']:.4f} | {m['coverage']:.3f} |")

base = arms[0][0]
print(f"\n### Training, end to end ({ROUNDS} interleaved rounds; ours: insight.train reading the table; implicit: "
      "psycopg2 fetch + CSR + fit)")
print(f"| arm | median | min-max | vs pg_insight (median, min-max) |")
print("|---|---|---|---|")
for name, ts in times.items():
    ratio = [a / b for a, b in zip(ts, times[base])]
    print(f"| {name} | {statistics.median(ts):.2f} s | {min(ts):.2f}-{max(ts):.2f} s | "
          f"{statistics.median(ratio):.2f}x ({min(ratio):.2f}-{max(ratio):.2f}) |")
print(f"\nFit alone, last round: pg_insight {fit_s:.2f} s; implicit defaults {fitted['implicit_default'][3]:.2f} s; "
      f"implicit matched {fitted['implicit_matched'][3]:.2f} s.")
print(f"Top {K} for {n_some:,} customers in one query (CROSS JOIN LATERAL insight.recommend, second run; first "
      f"{lateral[0]:.2f} s): {lateral_s:.2f} s, {1000 * lateral_s / n_some:.3f} ms a customer.")
