"""What every SQL benchmark script here shares: a connection to insight_bench, timing, interleaved
rounds (A, B, A, B, ...: the machine's noise hits each side alike) and the report as a Markdown
table of medians, spreads and per-round ratios against a base arm (never the fastest run alone)."""
import os
import statistics
import sys
import time

import psycopg2

# BENCH_DB: bench_citus.py runs against the Citus coordinator's database
conn = psycopg2.connect(dbname=os.environ.get("BENCH_DB", "insight_bench"), user="postgres")
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
    """An arm that runs `settings` (if any), then `sql`, and fetches what it returns."""
    def run():
        if settings:
            cur.execute(settings)
        cur.execute(sql)
        if cur.description:
            cur.fetchall()
    return run


def interleave(arms, rounds):
    """arms: [(name, fn)]; returns {name: [seconds per round]}."""
    times = {name: [] for name, _ in arms}
    for _ in range(rounds):
        for name, fn in arms:
            times[name].append(timed(fn))
    return times


def report(title, times, base=None):
    rounds = len(next(iter(times.values())))
    print(f"\n### {title} ({rounds} interleaved rounds)")
    print("| what | median | min-max | " + (f"per round vs {base} | median ratio (min-max) |" if base else "|"))
    print("|---|---|---|" + ("---|---|" if base else ""))
    for name, ts in times.items():
        line = f"| {name} | {statistics.median(ts) * 1000:,.0f} ms | {min(ts) * 1000:,.0f}-{max(ts) * 1000:,.0f} ms |"
        if base:
            r = [a / b for a, b in zip(ts, times[base])]
            line += f" {', '.join(f'{x:.2f}' for x in r)} | {statistics.median(r):.2f}x ({min(r):.2f}-{max(r):.2f}) |"
        print(line)
    sys.stdout.flush()
