#!/usr/bin/env python3
"""TreeSHAP reference for pg_insight's gradient-boosted trees: the `shap` package's TreeExplainer
on scikit-learn's HistGradientBoostingClassifier fitted exactly as tests/reference/gbdt_reference.py
fits it (binary target, 30 rounds of 31 leaves, all 1,500 rows), for the first 20 rows.

pg_insight grows the same trees (ml::algorithms::gbdt::tests), so its TreeSHAP values of the
same rows must be the same (path-dependent TreeSHAP weighted by the training rows per node).

Set-up (scikit-learn 1.2.1's wheels need numpy < 2; shap 0.51 imports with numpy 1.26):
    python3 -m venv /tmp/shap-venv
    /tmp/shap-venv/bin/pip install scikit-learn==1.2.1 shap "numpy<2" "pandas<2.3"
    /tmp/shap-venv/bin/python tests/reference/shap_reference.py
writes tests/reference/data/shap_reference.csv: row, expected value, shap values of x1..x5 (log-odds).
"""
import csv

import numpy as np
import shap
import sklearn
from sklearn.ensemble import HistGradientBoostingClassifier

rows = list(csv.DictReader(open("tests/reference/data/gbdt_reference.csv")))
X = np.array([[float(r[f"x{j}"]) if r[f"x{j}"] else np.nan for j in range(1, 6)] for r in rows])
y = np.array([int(r["y_binary"]) for r in rows])
m = HistGradientBoostingClassifier(max_iter=30, learning_rate=0.1, max_leaf_nodes=31, min_samples_leaf=20,
                                   l2_regularization=0.0, max_bins=255, early_stopping=False).fit(X, y)
e = shap.TreeExplainer(m)
values = e.shap_values(X[:20])
base = float(np.ravel(e.expected_value)[0])
raw = m.decision_function(X[:20])
print(f"shap {shap.__version__}, scikit-learn {sklearn.__version__}: max |expected + sum - raw| = "
      f"{np.max(np.abs(base + values.sum(axis=1) - raw)):.2e}")
with open("tests/reference/data/shap_reference.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["row", "expected", "x1", "x2", "x3", "x4", "x5"])
    for i in range(20):
        w.writerow([i, repr(base), *(repr(float(v)) for v in values[i])])
