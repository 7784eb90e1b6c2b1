#!/usr/bin/python3
"""What users do today: fetch the rows with psycopg2, fit scikit-learn's LogisticRegression.
Run by scripts/bench against the bench cluster (PGHOST/PGPORT in the environment)."""
import time
import numpy as np
import psycopg2
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

t0 = time.time()
conn = psycopg2.connect(dbname="insight_bench", user="postgres")
cur = conn.cursor()
cols = ", ".join(f"f{i}" for i in range(1, 21))
cur.execute(f"SELECT {cols}, label FROM bench_customers")
rows = cur.fetchall()
t1 = time.time()
data = np.array(rows, dtype=float)
X, y = data[:, :20], data[:, 20]
X = StandardScaler().fit_transform(X)
LogisticRegression(C=1.0).fit(X, y)
t2 = time.time()
print(f"psycopg2 fetch {t1 - t0:.2f}s + numpy/scikit-learn fit {t2 - t1:.2f}s = {t2 - t0:.2f}s total")
