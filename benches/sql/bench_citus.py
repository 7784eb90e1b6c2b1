#!/usr/bin/python3
"""pg_insight on Citus (scripts/bench with BENCH=citus): a coordinator and two workers on this one
machine (scripts/citus start), database insight_citus. The same rows twice: distributed by
customer_id over 32 shards, and as a plain table on the coordinator's server (one node). Every case
runs as interleaved rounds, one node then the cluster, reported as medians with their spread and
the per-round ratio cluster / one node. With 2 cores, the point is the plan and its overhead,
not a speed-up: three servers share the two cores that one node has to itself.

Usage: bench_citus.py [customers (default 4,000,000)] [rounds (default 5)]"""
import sys

from benchlib import interleave, q, report, sql_arm, timed

N = int(sys.argv[1]) if len(sys.argv) > 1 else 4_000_000
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 5
ORDER_CUSTOMERS = N // 5  # about 4.8 orders a customer: as many order rows as customers

q("SET client_min_messages = warning")
loaded = q("SELECT to_regclass('cust_local') IS NOT NULL AND to_regclass('bench_loaded') IS NOT NULL")[0][0]
if not loaded or q("SELECT count(*) FROM cust_local")[0][0] != N:
    print(f"loading {N:,} customers and the orders of {ORDER_CUSTOMERS:,}")
    q("DROP TABLE IF EXISTS cust, cust_local, orders, orders_local, bench_loaded CASCADE")
    q(f"CREATE TABLE cust_local AS SELECT * FROM insight.demo_customers({N}, 7)")
    q("CREATE TABLE cust AS SELECT * FROM cust_local")
    q("SELECT create_distributed_table('cust', 'customer_id')")
    q("SELECT truncate_local_data_after_distributing_table('cust')")
    q(f"CREATE TABLE orders_local AS SELECT * FROM insight.demo_orders({ORDER_CUSTOMERS}, 7)")
    q("CREATE TABLE orders AS SELECT * FROM orders_local")
    q("SELECT create_distributed_table('orders', 'customer_id')")
    q("SELECT truncate_local_data_after_distributing_table('orders')")
    q("VACUUM ANALYZE cust_local, orders_local, cust, orders")
    q("SELECT insight.distribute_catalog()")
    q("CREATE TABLE bench_loaded ()")
# the extension as this build defines it (the data stay; a node's old definition would not match
# the library just installed), its catalog distributed again
q("DROP EXTENSION IF EXISTS pg_insight CASCADE")
q("CREATE EXTENSION pg_insight")
q("SELECT insight.distribute_catalog()")
numeric = ["age", "tenure_days", "visits_30d", "email_opens_30d", "support_tickets", "avg_order_value",
           "days_since_last_purchase"]
q("SELECT * FROM insight.train('bench', 'cust_local', 'purchased', 'logistic', features => %s, deploy => 'always')",
  numeric)
floor = q(open("benches/sql/floor_expr.sql").read().replace("\\gset", ""))[0][0]
n_orders = q("SELECT count(*) FROM orders_local")[0][0]
print(f"## pg_insight on Citus: {N:,} customers, {n_orders:,} orders; coordinator + 2 workers on "
      f"one machine vs one node (PostgreSQL {q('SHOW server_version')[0][0]}, Citus "
      f"{q('SELECT extversion FROM pg_extension WHERE extname = %s', 'citus')[0][0]})")
sums = {t: q(f"SELECT sum(insight.predict_purchase('bench', c)) FROM {t} c")[0][0] for t in ["cust_local", "cust"]}
print(f"\nsum of the scores: one node {sums['cust_local']:.12f}, cluster {sums['cust']:.12f}")


def pair(title, sql):
    """sql holds {t} for the table (cust / orders): one node vs the cluster."""
    local = sql.replace("{t}", "cust_local").replace("{o}", "orders_local")
    dist = sql.replace("{t}", "cust").replace("{o}", "orders")
    report(title, interleave([("one node", sql_arm(local)), ("coordinator + 2 workers", sql_arm(dist))], ROUNDS),
           base="one node")


pair(f"count(*) of {N:,} customers (what Citus itself costs)", "SELECT count(*) FROM {t}")
pair(f"floor: the 'bench' logistic model as a plain SQL expression over {N:,} customers",
     f"SELECT sum({floor}) FROM {{t}}")
pair(f"insight.predict_purchase('bench', c) over {N:,} customers", "SELECT sum(insight.predict_purchase('bench', c)) FROM {t} c")
pair(f"insight.rfm per customer over {n_orders:,} orders (grouped by the distribution column: whole on the workers)",
     "SELECT count(*) FROM (SELECT customer_id, insight.rfm(order_date, amount, '2026-07-01') FROM {o} GROUP BY customer_id) x")
pair(f"insight.clv_summary per customer over {n_orders:,} orders (whole on the workers)",
     "SELECT count(*) FROM (SELECT customer_id, insight.clv_summary(order_date, amount, '2026-03-31') FROM {o} GROUP BY customer_id) x")
pair(f"insight.rfm per order month over {n_orders:,} orders (not the distribution column: partial states on the workers, combined on the coordinator)",
     "SELECT count(*) FROM (SELECT date_trunc('month', order_date), insight.rfm(order_date, amount, '2026-07-01') FROM {o} GROUP BY 1) x")
pair(f"insight.kmeans_agg per region over {N:,} customers (partial samples on the workers, combined and trained on the coordinator)",
     "SELECT region, length(insight.kmeans_agg(ARRAY[age, visits_30d, tenure_days]::float8[], 4)) FROM {t} GROUP BY region")
pair(f"insight.fit_agg('logistic') per channel over {N:,} customers (partial samples on the workers)",
     "SELECT channel, length(insight.fit_agg('logistic', ARRAY[age, visits_30d, tenure_days]::float8[], purchased)) FROM {t} GROUP BY channel")
# training reads through the coordinator: the read (in a fixed order on Citus), then the same fit
train = {}
for _ in range(3):
    for t in ["cust_local", "cust"]:
        m = q("SELECT metrics FROM insight.train('bench_t', %s, 'purchased', 'logistic', features => %s, deploy => 'never')", t, numeric)[0][0]
        train.setdefault(t, []).append((m["read_seconds"], m["fit_seconds"]))
print(f"\n### insight.train('logistic') over {N:,} customers, 3 interleaved rounds: read and fit seconds")
for t, name in [("cust_local", "one node"), ("cust", "coordinator + 2 workers")]:
    print(f"| {name} | read {', '.join(f'{r:.1f}' for r, _ in train[t])} s | fit {', '.join(f'{f:.1f}' for _, f in train[t])} s |")
