"""Customer-value benchmarks, run by scripts/bench (with its Python venv: lifetimes 0.11.3, pandas,
psycopg2) against its throwaway cluster; database insight_bench with pg_insight and
benches/sql/setup_clv.sql loaded.

1. Summaries of raw orders (bench_orders, ~10M rows): insight.clv_summary and insight.rfm grouped by
   customer, serial and with 2 parallel workers, into a table (where an analyst's next step, training,
   reads them); the floor is plain SQL aggregates of the same group-by into a table; what users do
   today is fetching the orders with psycopg2 (COPY, the fastest way it has) and summarising with
   lifetimes' summary_data_from_transaction_data or a pandas groupby.
2. Model fits on 100,000 customers' histories (bench_histories): insight.train with bgnbd,
   pareto_nbd and gamma_gamma vs psycopg2 fetch + lifetimes' fitters, with the fitted parameters of
   both printed side by side.

Every comparison is interleaved rounds reported as the median of per-round ratios and their
spread (as bench.py). Usage: bench_clv.py [rounds] [parts] (default 5, "summaries,fits")."""
import io
import sys
import warnings

import pandas as pd

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 5
PARTS = (sys.argv[2] if len(sys.argv) > 2 else "summaries,fits").split(",")
AS_OF = "2026-06-30"
warnings.filterwarnings("ignore")
from benchlib import cur, interleave as _interleave, q, report, sql_arm as _sql_arm


def interleave(arms, rounds=ROUNDS):
    return _interleave(arms, rounds)


def sql_arm(sql, settings):
    return _sql_arm(sql, settings)


SERIAL = "SET max_parallel_workers_per_gather = 0"
PARALLEL = ("SET max_parallel_workers_per_gather = 2; SET parallel_setup_cost = 0; "
            "SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0")


def into_table(select):
    return f"DROP TABLE IF EXISTS bench_out; CREATE UNLOGGED TABLE bench_out AS {select}"


def fetch_orders():
    """The orders as a DataFrame, the fastest way psycopg2 has: COPY to CSV in memory, read_csv."""
    buf = io.StringIO()
    cur.copy_expert("COPY (SELECT customer_id, order_date, amount::float8 AS amount FROM bench_orders) TO STDOUT WITH CSV HEADER", buf)
    buf.seek(0)
    return pd.read_csv(buf, parse_dates=["order_date"])


def lifetimes_summary():
    from lifetimes.utils import summary_data_from_transaction_data
    df = fetch_orders()
    return summary_data_from_transaction_data(df, "customer_id", "order_date", "amount",
                                              observation_period_end=AS_OF, freq="D", freq_multiplier=7)


def pandas_rfm():
    df = fetch_orders()
    g = df.groupby("customer_id").agg(last=("order_date", "max"), frequency=("order_date", "size"),
                                      monetary=("amount", "sum"))
    g["recency_days"] = (pd.Timestamp(AS_OF) - g["last"]).dt.days
    return g


n_orders, n_customers = q("SELECT count(*), count(DISTINCT customer_id) FROM bench_orders")[0]
print(f"## pg_insight customer-value benchmarks: {n_orders:,} orders of {n_customers:,} customers, "
      f"PostgreSQL {q('SHOW server_version')[0][0]}")

clv_sql = into_table(f"SELECT customer_id, (s).* FROM (SELECT customer_id, insight.clv_summary(order_date, amount, "
                     f"'{AS_OF}', 'week') AS s FROM bench_orders GROUP BY customer_id) q")
clv_floor = into_table(f"SELECT customer_id, count(DISTINCT order_date) - 1 AS frequency, "
                       f"(max(order_date) - min(order_date)) / 7.0 AS recency, ('{AS_OF}'::date - min(order_date)) / 7.0 AS t, "
                       f"sum(amount) AS amount FROM bench_orders GROUP BY customer_id")
rfm_sql = into_table(f"SELECT customer_id, (s).* FROM (SELECT customer_id, insight.rfm(order_date, amount, '{AS_OF}') AS s "
                     f"FROM bench_orders GROUP BY customer_id) q")
rfm_floor = into_table(f"SELECT customer_id, '{AS_OF}'::date - max(order_date) AS recency_days, count(*) AS frequency, "
                       f"sum(amount) AS monetary FROM bench_orders GROUP BY customer_id")

if "summaries" in PARTS:
    for name, sql in [("clv_summary", clv_sql), ("rfm", rfm_sql)]:
        plan = q(f"{PARALLEL}; EXPLAIN {sql.split('; ', 1)[1]}")
        print(f"\n{name} with 2 workers, plan: " + " / ".join(r[0].strip() for r in plan if "Aggregate" in r[0] or "Gather" in r[0]))

    # the two sides agree: same customers, same frequencies and recencies
    lt = lifetimes_summary()
    q(clv_sql.replace("bench_out", "bench_clv_check"))
    mine = pd.DataFrame(q("SELECT customer_id, frequency, recency, t, monetary_value::float8 FROM bench_clv_check ORDER BY customer_id"),
                        columns=["customer_id", "frequency", "recency", "T", "monetary_value"]).set_index("customer_id")
    lt = lt.sort_index()
    print(f"\nclv_summary vs lifetimes' summary: {len(mine):,} vs {len(lt):,} customers; max |difference| frequency "
          f"{(mine.frequency - lt.frequency).abs().max():g}, recency {(mine.recency - lt.recency).abs().max():.3g}, "
          f"T {(mine['T'] - lt['T']).abs().max():.3g}, monetary_value {(mine.monetary_value - lt.monetary_value).abs().max():.3g}")
    del lt, mine

    report(f"clv_summary over {n_orders:,} orders into a table: serial, 2 workers, the floor, and psycopg2 + lifetimes", interleave([
        ("insight.clv_summary, serial", sql_arm(clv_sql, SERIAL)),
        ("insight.clv_summary, 2 workers", sql_arm(clv_sql, PARALLEL)),
        ("floor: plain SQL count(DISTINCT), max, min, sum, serial", sql_arm(clv_floor, SERIAL)),
        ("psycopg2 COPY + pandas + lifetimes summary_data_from_transaction_data", lifetimes_summary),
    ]), base="insight.clv_summary, serial")

    report(f"rfm over {n_orders:,} orders into a table: serial, 2 workers, the floor, and psycopg2 + pandas groupby", interleave([
        ("insight.rfm, serial", sql_arm(rfm_sql, SERIAL)),
        ("insight.rfm, 2 workers", sql_arm(rfm_sql, PARALLEL)),
        ("floor: plain SQL max, count, sum, serial", sql_arm(rfm_floor, SERIAL)),
        ("psycopg2 COPY + pandas groupby", pandas_rfm),
    ]), base="insight.rfm, serial")
    q("DROP TABLE IF EXISTS bench_out; DROP TABLE IF EXISTS bench_clv_check")

# ---------------------------------------------------------------------------------------------
# Fits on 100,000 customers' histories
n_hist = q("SELECT count(*) FROM bench_histories")[0][0]


def histories():
    return pd.DataFrame(q("SELECT frequency, recency, t, monetary_value::float8 FROM bench_histories"),
                        columns=["frequency", "recency", "T", "monetary_value"])


def train_arm(algorithm, options="{}"):
    return sql_arm(f"SELECT * FROM insight.train('bench_{algorithm}', 'bench_histories', algorithm => '{algorithm}', "
                   f"options => '{options}', deploy => 'always')", SERIAL)


fitted = {}


def lifetimes_fit(kind):
    def run():
        from lifetimes import BetaGeoFitter, GammaGammaFitter, ParetoNBDFitter
        h = histories()
        if kind == "bgnbd":
            fitted[kind] = BetaGeoFitter().fit(h.frequency, h.recency, h["T"]).params_
        elif kind == "pareto_nbd":
            fitted[kind] = ParetoNBDFitter().fit(h.frequency, h.recency, h["T"]).params_
        else:
            r = h[(h.frequency > 0) & (h.monetary_value > 0)]
            fitted[kind] = GammaGammaFitter().fit(r.frequency, r.monetary_value).params_
    return run


for algorithm, rounds in [("bgnbd", ROUNDS), ("pareto_nbd", min(ROUNDS, 3)), ("gamma_gamma", ROUNDS)] * ("fits" in PARTS):
    report(f"{algorithm} fit on {n_hist:,} customers: insight.train vs psycopg2 fetch + lifetimes", interleave([
        (f"insight.train(algorithm => '{algorithm}')", train_arm(algorithm)),
        ("psycopg2 fetch + lifetimes", lifetimes_fit(algorithm)),
    ], rounds), base=f"insight.train(algorithm => '{algorithm}')", rounds=rounds)
    mine = q(f"SELECT insight.model_info('bench_{algorithm}')->'parameters'->'params'")[0][0]
    theirs = {k: float(v) for k, v in fitted[algorithm].items()}
    print("\nparameters, pg_insight vs lifetimes: " + ", ".join(
        f"{k} {mine[k]:.6g} vs {theirs[k]:.6g}" for k in theirs if k in mine))
    sys.stdout.flush()
