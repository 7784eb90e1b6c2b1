#!/usr/bin/python3
"""Reference predictions for pg_insight's gradient-boosted trees on coded categories (options
`categories: native`), computed with scikit-learn's HistGradientBoostingClassifier / Regressor
and its native categorical splits (Debian bookworm's python3-sklearn 1.2.1).

Run from the repository root:
    /usr/bin/python3 tests/reference/gbdt_categorical_reference.py
writes tests/reference/data/gbdt_categorical_reference.csv: 2,000 rows drawn once with numpy's
seeded generator: two numbers (2 decimals), `plan` (12 categories, two of them rare: 4 and 6
rows, below the 10 rows a category needs to be sorted into a split) and `city` (40 categories,
missing on 6% of the rows), given as the codes pg_insight's preprocessing writes (0 .. levels - 1,
every code present); a binary label and a value, and scikit-learn's predictions for each:
  p_binary  = HistGradientBoostingClassifier(categorical_features=[2, 3], ...).predict_proba(X)[:, 1]
  value_hat = HistGradientBoostingRegressor(categorical_features=[2, 3], ...).predict(X)
both with max_iter=30, learning_rate=0.1, max_leaf_nodes=31, min_samples_leaf=20,
l2_regularization=0, max_bins=255, early_stopping=False, fitted on all 2,000 rows. scikit-learn
keeps gradients in float32: predictions agree to about 1e-8, not to the last bit.
"""
import csv
import sys

import numpy as np
import sklearn
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

rng = np.random.default_rng(20261202)
n = 2000
x = np.round(rng.uniform(-1, 1, size=(n, 2)), 2)
# plan: 10 common categories and two rare ones (codes 10 and 11)
plan = rng.integers(0, 10, n)
plan[:4] = 10
plan[4:10] = 11
city = rng.integers(0, 40, n).astype(float)
city[rng.uniform(size=n) < 0.06] = np.nan
plan_effect = rng.normal(0, 1.0, 12)
city_effect = rng.normal(0, 0.7, 40)
city_part = np.where(np.isnan(city), 0.8, city_effect[np.nan_to_num(city, nan=0).astype(int)])
z = 1.2 * x[:, 0] - 0.8 * (x[:, 1] > 0.3) + plan_effect[plan] + city_part
y_bin = (rng.uniform(size=n) < 1 / (1 + np.exp(-z))).astype(int)
y_val = 2 * z + rng.normal(0, 0.3, n)
X = np.column_stack([x, plan, city])

params = dict(max_iter=30, learning_rate=0.1, max_leaf_nodes=31, min_samples_leaf=20,
              l2_regularization=0.0, max_bins=255, early_stopping=False,
              categorical_features=[2, 3])
p_bin = HistGradientBoostingClassifier(**params).fit(X, y_bin).predict_proba(X)[:, 1]
v_hat = HistGradientBoostingRegressor(**params).fit(X, y_val).predict(X)

out = "tests/reference/data/gbdt_categorical_reference.csv"
with open(out, "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["x1", "x2", "plan", "city", "y_binary", "y_value", "p_binary", "value_hat"])
    for i in range(n):
        w.writerow([f"{x[i, 0]:.2f}", f"{x[i, 1]:.2f}", int(plan[i]),
                    "" if np.isnan(city[i]) else int(city[i]), y_bin[i], repr(float(y_val[i])),
                    repr(float(p_bin[i])), repr(float(v_hat[i]))])
print(f"scikit-learn {sklearn.__version__}: wrote {out}; positives {y_bin.mean():.3f}, "
      f"plan counts {np.bincount(plan)}, value sd {y_val.std():.3f}", file=sys.stderr)
