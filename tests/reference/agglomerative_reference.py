#!/usr/bin/python3
"""Reference values for src/ml/algorithms/agglomerative, computed with apt's scipy and
scikit-learn: /usr/bin/python3 tests/reference/agglomerative_reference.py

The data set is the Rust test `reference_blobs` (600 rows, 3 columns, three planted blobs), as in
kmeans_reference.py. For each linkage: scipy's linkage matrix (sum of heights, the last five
merges) and the ARI between scikit-learn's AgglomerativeClustering labels and the planted blobs,
and between scikit-learn's labels and a cut of scipy's tree (they are the same tree)."""
import math
import numpy as np
import scipy
import sklearn
from scipy.cluster.hierarchy import linkage, fcluster
from sklearn.cluster import AgglomerativeClustering
from sklearn.metrics import adjusted_rand_score

CENTERS = [(0.0, 0.0, 0.0), (4.0, 4.0, 0.0), (0.0, 4.0, 4.0)]
rows, truth = [], []
for i in range(600):
    c = CENTERS[i % 3]
    rows.append([c[j] + 1.3 * math.sin((i + 1) * (j + 2) * 0.37) * math.cos((i + 3) * 0.11 * (j + 1)) for j in range(3)])
    truth.append(i % 3)
X = np.array(rows)
print("scipy", scipy.__version__, "scikit-learn", sklearn.__version__)
for method in ("ward", "average", "complete", "single"):
    Z = linkage(X, method=method)
    print(f"{method}: sum of heights {Z[:, 2].sum():.10f}")
    for a, b, h, s in Z[-5:]:
        print(f"    ({int(a)}, {int(b)}, {h:.10f}, {int(s)}),")
    for k in (3, 5):
        sk = AgglomerativeClustering(n_clusters=k, linkage=method).fit(X).labels_
        cut = fcluster(Z, k, criterion="maxclust")
        print(f"  k={k}: ARI(sklearn, planted) {adjusted_rand_score(truth, sk):.10f}  ARI(sklearn, scipy cut) {adjusted_rand_score(sk, cut):.10f}  sizes {sorted(np.bincount(sk).tolist(), reverse=True)}")
