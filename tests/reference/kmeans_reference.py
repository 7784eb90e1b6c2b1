#!/usr/bin/python3
"""Reference values for src/ml/algorithms/kmeans.rs, computed with apt's scikit-learn:
/usr/bin/python3 tests/reference/kmeans_reference.py

The data set is regenerated exactly by the Rust test `reference_blobs`: 600 rows, 3 columns,
three planted blobs (row i belongs to blob i % 3) with deterministic noise."""
import math
import numpy as np
import sklearn
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, silhouette_score, davies_bouldin_score, calinski_harabasz_score

CENTERS = [(0.0, 0.0, 0.0), (4.0, 4.0, 0.0), (0.0, 4.0, 4.0)]
rows, truth = [], []
for i in range(600):
    c = CENTERS[i % 3]
    rows.append([c[j] + 1.3 * math.sin((i + 1) * (j + 2) * 0.37) * math.cos((i + 3) * 0.11 * (j + 1)) for j in range(3)])
    truth.append(i % 3)
X = np.array(rows)
print("scikit-learn", sklearn.__version__)
for k in (3, 5):
    km = KMeans(n_clusters=k, n_init=10, random_state=0).fit(X)
    print(f"k={k} inertia={km.inertia_:.10f}")
    if k == 3:
        print(f"k=3 ari={adjusted_rand_score(truth, km.labels_):.10f}")
        print(f"k=3 silhouette={silhouette_score(X, km.labels_):.10f}")
        print(f"k=3 davies_bouldin={davies_bouldin_score(X, km.labels_):.10f}")
        print(f"k=3 calinski_harabasz={calinski_harabasz_score(X, km.labels_):.10f}")
# metric references on a fixed labelling (the planted one) of the same data
print(f"truth silhouette={silhouette_score(X, truth):.10f}")
print(f"truth davies_bouldin={davies_bouldin_score(X, truth):.10f}")
print(f"truth calinski_harabasz={calinski_harabasz_score(X, truth):.10f}")
print(f"ari([0,0,1,1,2,2],[1,1,0,0,2,2])={adjusted_rand_score([0,0,1,1,2,2],[1,1,0,0,2,2]):.10f}")
print(f"ari([0,0,1,1,2,2],[0,1,0,1,2,2])={adjusted_rand_score([0,0,1,1,2,2],[0,1,0,1,2,2]):.10f}")
