#!/usr/bin/python3
"""What users do today: fetch the rows with psycopg2 and fit scikit-learn's MLPClassifier with the
same shape as pg_insight's bench model: (64, 32) ReLU, Adam, batch 32, 5 epochs, alpha 1e-4."""
import time
import warnings
import numpy as np
import psycopg2
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

warnings.filterwarnings("ignore")
t0 = time.time()
conn = psycopg2.connect(dbname="insight_bench", user="postgres")
cur = conn.cursor()
cur.execute("SELECT " + ", ".join(f"f{i}" for i in range(1, 21)) + ", label FROM bench_customers")
data = np.array(cur.fetchall(), dtype=float)
t1 = time.time()
X, y = StandardScaler().fit_transform(data[:, :20]), data[:, 20]
n_train = int(len(y) * 0.8)
MLPClassifier(hidden_layer_sizes=(64, 32), batch_size=32, max_iter=5, alpha=1e-4,
              random_state=42).fit(X[:n_train], y[:n_train])
t2 = time.time()
print(f"psycopg2 fetch {t1 - t0:.2f}s; scikit-learn MLPClassifier fit, 5 epochs on {n_train} rows: {t2 - t1:.2f}s")
