#!/usr/bin/python3
"""Reference accuracy for pg_insight's random forests: scikit-learn 1.2.1's (python3-sklearn of
Debian bookworm) RandomForestClassifier / RandomForestRegressor with their defaults
(n_estimators=100, max_features sqrt for classes and all inputs for values, trees grown fully)
on tests/reference/data/gbdt_reference.csv, trained on rows 0-999 and scored on rows 1000-1499,
over random_state 0..9 (a forest is random: the spread is part of the reference).

Run from the repository root: /usr/bin/python3 tests/reference/forest_reference.py
Output (copied into ml::algorithms::random_forest's tests):
    binary AUC: mean 0.8849 min 0.8817 max 0.8889
    3-class accuracy: mean 0.7580 min 0.7380 max 0.7740
    regression R2: mean 0.9180 min 0.9150 max 0.9197
scikit-learn 1.2's forests take no missing values: x5's NaN are imputed with its training mean
(pg_insight's forests keep them missing).
"""
import csv, numpy as np
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.metrics import roc_auc_score, r2_score, accuracy_score
from sklearn.impute import SimpleImputer
rows=list(csv.DictReader(open('tests/reference/data/gbdt_reference.csv')))
X=np.array([[float(r[f'x{j}']) if r[f'x{j}'] else np.nan for j in range(1,6)] for r in rows])
yb=np.array([int(r['y_binary']) for r in rows]); yc=np.array([int(r['y_class']) for r in rows]); yv=np.array([float(r['y_value']) for r in rows])
tr, te = slice(0,1000), slice(1000,1500)
# scikit-learn 1.2's forests take no NaN: impute x5's NaN with its training mean
imp=SimpleImputer().fit(X[tr]); Xi=imp.transform(X)
aucs=[roc_auc_score(yb[te], RandomForestClassifier(n_estimators=100, random_state=s).fit(Xi[tr], yb[tr]).predict_proba(Xi[te])[:,1]) for s in range(10)]
accs=[accuracy_score(yc[te], RandomForestClassifier(n_estimators=100, random_state=s).fit(Xi[tr], yc[tr]).predict(Xi[te])) for s in range(10)]
r2s=[r2_score(yv[te], RandomForestRegressor(n_estimators=100, random_state=s).fit(Xi[tr], yv[tr]).predict(Xi[te])) for s in range(10)]
for name, v in [("binary AUC", aucs), ("3-class accuracy", accs), ("regression R2", r2s)]:
    print(f"{name}: mean {np.mean(v):.4f} min {np.min(v):.4f} max {np.max(v):.4f}")
