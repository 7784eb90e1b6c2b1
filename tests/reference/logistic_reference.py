#!/usr/bin/python3
"""Reference values for src/ml/logistic.rs and src/ml/linear.rs tests.

Run with Debian bookworm's python3 + python3-sklearn (scikit-learn 1.2.1):
    /usr/bin/python3 tests/reference/logistic_reference.py
The data sets are defined by closed formulas so the Rust tests rebuild them exactly.
"""
import math
import numpy as np
from sklearn.linear_model import LogisticRegression, LinearRegression, Ridge


def frac_noise(i, k):
    v = math.sin(i * k) * 43758.5453
    return v - math.floor(v) - 0.5


def reference_binary():
    X, y = [], []
    for i in range(200):
        r = [math.sin((i + 1) * (j + 2) * 0.37) * (j + 1) for j in range(3)]
        s = 1.5 * r[0] - 0.8 * r[1] + 0.3 * r[2] + 2.0 * frac_noise(i, 12.9898)
        y.append(1 if s > 0.2 else 0)
        X.append(r)
    return np.array(X), np.array(y)


def reference_multiclass():
    X, y = [], []
    for i in range(300):
        r = [math.cos((i + 1) * (j + 3) * 0.23) * (j + 1) for j in range(2)]
        s = r[0] + 0.5 * r[1] + 1.5 * frac_noise(i, 78.233)
        y.append(0 if s < -0.5 else (1 if s < 0.6 else 2))
        X.append(r)
    return np.array(X), np.array(y)


def reference_regression():
    X, y = [], []
    for i in range(150):
        r = [math.sin((i + 1) * 0.11) * 3.0, math.cos((i + 1) * 0.07) * 2.0, (i % 7) - 3.0]
        y.append(4.0 + 2.5 * r[0] - 1.25 * r[1] + 0.5 * r[2] + frac_noise(i, 4.1414))
        X.append(r)
    return np.array(X), np.array(y)


def fmt(a):
    return ", ".join("%.10f" % v for v in np.ravel(a))


X, y = reference_binary()
m = LogisticRegression(C=1.0, tol=1e-12, max_iter=10000).fit(X, y)
print("binary coef", fmt(m.coef_), "intercept", fmt(m.intercept_))
m = LogisticRegression(C=0.5, class_weight="balanced", tol=1e-12, max_iter=10000).fit(X, y)
print("balanced coef", fmt(m.coef_), "intercept", fmt(m.intercept_))
X, y = reference_multiclass()
m = LogisticRegression(C=1.0, multi_class="multinomial", tol=1e-12, max_iter=10000).fit(X, y)
print("multinomial coef", fmt(m.coef_), "intercept", fmt(m.intercept_))
X, y = reference_regression()
m = LinearRegression().fit(X, y)
print("ols coef", fmt(m.coef_), "intercept", fmt([m.intercept_]))
m = Ridge(alpha=10.0).fit(X, y)
print("ridge coef", fmt(m.coef_), "intercept", fmt([m.intercept_]))
