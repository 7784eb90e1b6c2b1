"""Model reports (insight.report): how long a page takes, from the data stored at training and
computed on a held-out relation, next to insight.evaluate on the same relation (the floor: the
report on a relation scores it as evaluate does, then draws). The walkthrough's models in
database insight_bench_report (scripts/bench sets it up: BENCH=report); 7 interleaved rounds after
a warm-up, median and range.

Usage: bench_report.py [rounds (default 7)]
"""
import statistics
import sys
import time

import psycopg2

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 7
conn = psycopg2.connect(dbname="insight_bench_report", user="postgres")
conn.autocommit = True
cur = conn.cursor()
CASES = {
    "report purchase_propensity (stored)": "SELECT length(insight.report('purchase_propensity'))",
    "report purchase_propensity on a 20,000-row holdout": "SELECT length(insight.report('purchase_propensity', 'holdout'))",
    "evaluate purchase_propensity on the same holdout": "SELECT length(insight.evaluate('purchase_propensity', 'holdout')::text)",
    "report behaviour_segments (stored)": "SELECT length(insight.report('behaviour_segments'))",
    "report recommendations (stored)": "SELECT length(insight.report('recommendations'))",
}


def run(q):
    start = time.perf_counter()
    cur.execute(q)
    size = cur.fetchone()[0]
    return (time.perf_counter() - start) * 1000, size


for q in CASES.values():
    run(q)
times = {k: [] for k in CASES}
sizes = {}
for _ in range(ROUNDS):
    for k, q in CASES.items():
        ms, sizes[k] = run(q)
        times[k].append(ms)
for k, v in times.items():
    print(f"{k}: median {statistics.median(v):.1f} ms ({min(v):.1f}-{max(v):.1f}), {sizes[k]} bytes")
