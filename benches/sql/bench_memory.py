"""Peak memory of training against pg_insight's own estimate (ml::memory, insight.max_train_memory):
logistic and mlp on ROWS rows x 20 float8 columns and a boolean label, each in a fresh session;
the backend's resident high-water mark (VmHWM in /proc/<pid>/status, shared buffers it touched
included) read after the call, next to the estimate the memory check uses and the smallest
insight.max_train_memory that lets the call through.

Usage: bench_memory.py [rows (default 10000000)]; needs insight_bench (scripts/bench sets PGHOST,
PGPORT) and runs on the database server's machine (it reads /proc).
"""
import sys
import time

import psycopg2

ROWS = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000_000
COLS = 20


def connect():
    c = psycopg2.connect(dbname="insight_bench", user="postgres")
    c.autocommit = True
    return c


def peak_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return -1


setup = connect().cursor()
cols = ", ".join(f"(random() * 10 + {j})::float8 AS x{j}" for j in range(COLS))
setup.execute("DROP TABLE IF EXISTS bench_memory")
t = time.time()
setup.execute(f"CREATE TABLE bench_memory AS SELECT {cols}, random() < 0.3 AS label FROM generate_series(1, {ROWS})")
setup.execute("VACUUM ANALYZE bench_memory")
print(f"## Training memory: {ROWS:,} rows x {COLS} float8 + a boolean label (table made in {time.time() - t:.0f} s)")
# the estimate: 8 bytes a number read, 32 a class label, twice the encoded float64 row, 64 MB fixed
per_row = 8 * COLS + 32 + 2 * 8 * COLS
estimate_mb = (ROWS * per_row + (64 << 20)) / 2**20
print(f"estimate (ml::memory): {per_row} bytes a row + 64 MB = {estimate_mb:,.0f} MB")
print("| algorithm | options | train time | backend peak RSS | peak / estimate |")
print("|---|---|---|---|---|")
for algorithm, options in (("logistic", "{}"), ("mlp", '{"hidden": [32], "epochs": 2}')):
    c = connect()
    cur = c.cursor()
    cur.execute("SELECT pg_backend_pid()")
    (pid,) = cur.fetchone()
    cur.execute(f"SET insight.max_train_memory = '{int(estimate_mb) + 64}MB'")
    t = time.time()
    cur.execute("SELECT version FROM insight.train(%s, 'bench_memory', target => 'label', algorithm => %s, "
                "options => %s::jsonb, deploy => 'always')", (f"bench_memory_{algorithm}", algorithm, options))
    seconds = time.time() - t
    peak = peak_kb(pid) / 1024
    print(f"| {algorithm} | `{options}` | {seconds:.0f} s | {peak:,.0f} MB | {peak / estimate_mb:.2f} |")
    c.close()
# below the estimate the call is refused before it takes the memory
c = connect()
cur = c.cursor()
cur.execute(f"SET insight.max_train_memory = '{int(estimate_mb * 0.5)}MB'")
t = time.time()
try:
    cur.execute("SELECT * FROM insight.train('bench_memory_refused', 'bench_memory', target => 'label')")
    print("with half the estimate as insight.max_train_memory: NOT refused")
except psycopg2.Error as e:
    print(f"with half the estimate as insight.max_train_memory: {e.pgcode} after {time.time() - t:.1f} s: {e.pgerror.splitlines()[0]}")
sys.stdout.flush()
