#!/usr/bin/python3
"""Reference predictions for pg_insight's gradient-boosted trees, computed with scikit-learn's
HistGradientBoostingClassifier / Regressor (Debian bookworm's python3-sklearn 1.2.1).

Run from the repository root:
    /usr/bin/python3 tests/reference/gbdt_reference.py
writes tests/reference/data/gbdt_reference.csv: 1,500 rows of five inputs (x5 missing on 8% of
the rows), a binary label, a three-class label and a value, drawn once with numpy's seeded
generator, and scikit-learn's predictions for each:
  p_binary  = HistGradientBoostingClassifier(...).predict_proba(X)[:, 1]
  p_class0, p_class1, p_class2 = the three-class classifier's predict_proba(X)
  value_hat = HistGradientBoostingRegressor(...).predict(X)
all with max_iter=30, learning_rate=0.1, max_leaf_nodes=31, min_samples_leaf=20,
l2_regularization=0, max_bins=255, early_stopping=False, fitted on all 1,500 rows. Inputs are
rounded to 2 decimals (at most 201 distinct values), so both sides bin them identically (midpoints
between distinct values). scikit-learn keeps gradients in float32: predictions agree to about
1e-8, not to the last bit (the pure test ml::algorithms::gbdt::tests compares at 1e-6).
"""
import csv
import sys

import numpy as np
import sklearn
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

rng = np.random.default_rng(20261201)
n = 1500
X = np.round(rng.uniform(-1, 1, size=(n, 5)), 2)
X[rng.uniform(size=n) < 0.08, 4] = np.nan
x5 = np.nan_to_num(X[:, 4], nan=0.9)  # missing x5 behaves like a high value
# an interaction, a threshold and a smooth term: what trees find and a linear model does not
z = 2.0 * (X[:, 0] > 0.2) * (X[:, 1] < 0) - 1.5 * X[:, 2] ** 2 + np.sin(3 * X[:, 3]) + 1.2 * x5
y_bin = (rng.uniform(size=n) < 1 / (1 + np.exp(-2 * z))).astype(int)
y_multi = np.digitize(z + rng.normal(0, 0.5, n), [-0.5, 0.8])
y_val = 3 * z + rng.normal(0, 0.3, n)

params = dict(max_iter=30, learning_rate=0.1, max_leaf_nodes=31, min_samples_leaf=20,
              l2_regularization=0.0, max_bins=255, early_stopping=False)
p_bin = HistGradientBoostingClassifier(**params).fit(X, y_bin).predict_proba(X)[:, 1]
p_multi = HistGradientBoostingClassifier(**params).fit(X, y_multi).predict_proba(X)
v_hat = HistGradientBoostingRegressor(**params).fit(X, y_val).predict(X)

out = "tests/reference/data/gbdt_reference.csv"
with open(out, "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["x1", "x2", "x3", "x4", "x5", "y_binary", "y_class", "y_value",
                "p_binary", "p_class0", "p_class1", "p_class2", "value_hat"])
    for i in range(n):
        w.writerow([*("" if np.isnan(v) else f"{v:.2f}" for v in X[i]), y_bin[i], y_multi[i], repr(float(y_val[i])),
                    repr(float(p_bin[i])), *(repr(float(p)) for p in p_multi[i]), repr(float(v_hat[i]))])
print(f"scikit-learn {sklearn.__version__}: wrote {out}; positives {y_bin.mean():.3f}, "
      f"classes {np.bincount(y_multi)}, value sd {y_val.std():.3f}", file=sys.stderr)
