"""Categories in gradient-boosted trees: native categorical splits (pg_insight's gbdt default,
options.categories 'native') against one-hot encoding (options.categories 'one_hot'), and both
against scikit-learn's HistGradientBoosting (one-hot, and native with categorical_features) on
the same rows: fit time and test ROC AUC, one run.

The data: 60,000 seeded customers (numpy), 80% to train and 20% to test. Four numbers, a
`region` (8 levels, which changes the slope of x1), a `city` (200 levels, Zipf-distributed counts,
an effect of its own drawn from N(0, 0.8) per city) and a `channel` (4 levels). The label is
Bernoulli(sigmoid(log-odds)); the true log-odds score the test rows at the ceiling AUC printed.

Arms (all 100 rounds, 31 leaves, learning rate 0.1, 20 rows a leaf, 255 bins, no early
stopping):
  pg_insight gbdt, native categorical splits (the default), in SQL from the table
  pg_insight gbdt, one-hot, max_categories 20 (one-hot's default: top 20 + other) and 200
  scikit-learn one-hot, top 20 + other (pg_insight's encoding), and every level
  scikit-learn native categorical splits (ordinal codes + categorical_features)

Run: /usr/bin/python3 benches/sql/bench_categories.py (needs insight_bench with pg_insight; the
bench cluster of scripts/bench). Prints a Markdown table.
"""
import io
import time

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score

from benchlib import conn, cur, q

N, SEED = 60_000, 20261201
rng = np.random.default_rng(SEED)
x = rng.normal(size=(N, 4))
region = rng.integers(0, 8, N)
zipf = 1.0 / np.arange(1, 201) ** 0.8
city = rng.choice(200, N, p=zipf / zipf.sum())
channel = rng.integers(0, 4, N)
city_effect = rng.normal(0, 0.8, 200)
region_slope = np.linspace(-1.0, 1.0, 8)
channel_effect = np.array([0.3, -0.2, 0.0, 0.4])
logit = (0.6 * x[:, 0] * region_slope[region] + 0.5 * x[:, 1] - 0.4 * x[:, 2] + 0.2 * x[:, 3]
         + city_effect[city] + channel_effect[channel] - 0.3)
y = rng.random(N) < 1 / (1 + np.exp(-logit))
n_train = N * 4 // 5
train, test = slice(0, n_train), slice(n_train, N)
ceiling = roc_auc_score(y[test], logit[test])


def names(prefix, codes):
    return np.array([f"{prefix}{c:03d}" for c in codes])


region_s, city_s, channel_s = names("r", region), names("c", city), names("ch", channel)

# the same rows as two tables in insight_bench
for table, part in (("cat_train", train), ("cat_test", test)):
    q(f"DROP TABLE IF EXISTS {table}")
    q(f"CREATE TABLE {table} (x1 float8, x2 float8, x3 float8, x4 float8, region text, city text, "
      "channel text, bought boolean)")
    buf = io.StringIO()
    for i in range(N)[part]:
        buf.write(f"{x[i,0]!r}\t{x[i,1]!r}\t{x[i,2]!r}\t{x[i,3]!r}\t{region_s[i]}\t{city_s[i]}\t"
                  f"{channel_s[i]}\t{'t' if y[i] else 'f'}\n")
    buf.seek(0)
    cur.copy_expert(f"COPY {table} FROM STDIN", buf)
q("ANALYZE cat_train")
q("ANALYZE cat_test")

rows = []
for name, label, options in (
        ("cat_native", "native categorical splits (the default)", '{"early_stopping": false}'),
        ("cat_onehot_20", "one-hot, max_categories 20",
         '{"categories": "one_hot", "max_categories": 20, "early_stopping": false}'),
        ("cat_onehot_200", "one-hot, max_categories 200 (every city)",
         '{"categories": "one_hot", "max_categories": 200, "early_stopping": false}')):
    t = time.perf_counter()
    q("SELECT * FROM insight.train(%s, 'cat_train', target => 'bought', algorithm => 'gbdt', "
      "options => %s::jsonb)", name, options)
    fit = time.perf_counter() - t
    ((trees,),) = q("SELECT (metrics->>'fit_seconds')::float8 FROM insight.models WHERE name = %s "
                    "ORDER BY version DESC LIMIT 1", name)
    scores = [s for (s,) in q(f"SELECT insight.predict_proba('{name}', t) FROM cat_test t")]
    rows.append((f"pg_insight gbdt, {label}", fit, trees, roc_auc_score(y[test], scores)))


def one_hot(codes, keep):
    """Columns for the `keep` most frequent training codes plus an "other" column."""
    top = np.argsort(-np.bincount(codes[train], minlength=codes.max() + 1), kind="stable")[:keep]
    cols = [(codes == c).astype(float) for c in top]
    cols.append((~np.isin(codes, top)).astype(float))
    return np.column_stack(cols)


def sklearn_arm(name, features, categorical=None):
    model = HistGradientBoostingClassifier(max_iter=100, max_leaf_nodes=31, learning_rate=0.1,
                                           min_samples_leaf=20, max_bins=255, early_stopping=False,
                                           categorical_features=categorical, random_state=0)
    t = time.perf_counter()
    model.fit(features[train], y[train])
    fit = time.perf_counter() - t
    rows.append((name, fit, fit, roc_auc_score(y[test], model.predict_proba(features[test])[:, 1])))


for keep, label in ((20, "top 20 + other (pg_insight's encoding)"), (200, "every level")):
    sklearn_arm(f"scikit-learn one-hot, {label}",
                np.column_stack([x, one_hot(region, keep), one_hot(city, keep), one_hot(channel, keep)]))
sklearn_arm("scikit-learn native categorical splits",
            np.column_stack([x, region, city, channel]),
            categorical=[False] * 4 + [True] * 3)

print(f"\n### Categories in gbdt: native categorical splits vs one-hot ({n_train:,} training rows, "
      f"{N - n_train:,} test rows, {100 * y.mean():.1f}% positive; one run)")
print("pg_insight's arms are whole insight.train calls: reading the table, holding out 20% of it (the "
      "trees see 38,400 rows), test metrics and permutation importance; 'trees' is the fit alone.")
print("| arm | whole call | trees | test ROC AUC |")
print("|---|---|---|---|")
for name, whole, trees, auc in rows:
    print(f"| {name} | {whole:.2f} s | {trees:.2f} s | {auc:.4f} |")
print(f"\nCeiling: the true log-odds score the test rows at ROC AUC {ceiling:.4f}.")
