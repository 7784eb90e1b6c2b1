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

# Mini-batch k-means (src/ml/algorithms/kmeans/minibatch.rs): the Rust test `reference_big_blobs`,
# 50,000 rows, 5 columns, six blobs: blob b sits at 6 on axis b (b < 5); blob 5 at (6,-6,-6,-6,-6).
from sklearn.cluster import MiniBatchKMeans
rows, truth = [], []
for i in range(50_000):
    b = i % 6
    rows.append([(6.0 if j == b % 5 else 0.0) + (-6.0 if b == 5 else 0.0)
                 + 1.5 * math.sin((i + 1) * (j + 2) * 0.37) * math.cos((i + 3) * 0.11 * (j + 1)) for j in range(5)])
    truth.append(b)
X = np.array(rows)
full = KMeans(n_clusters=6, n_init=10, random_state=0).fit(X)
print(f"big k=6 full inertia={full.inertia_:.6f} ari={adjusted_rand_score(truth, full.labels_):.10f}")
for seed in range(3):
    mb = MiniBatchKMeans(n_clusters=6, batch_size=1024, n_init=10, random_state=seed).fit(X)
    print(f"big k=6 minibatch(random_state={seed}) inertia={mb.inertia_:.6f} ari={adjusted_rand_score(truth, mb.labels_):.10f} steps={mb.n_steps_}")
