#!/usr/bin/python3
"""Free-text classification: pg_insight's text_logistic (insight.train in the database) against
scikit-learn 1.2's TfidfVectorizer + LogisticRegression (rows fetched with psycopg2), on the same
demo reviews and the same duplicate-aware split.

The data: bench_reviews = insight.demo_reviews(rows, 42) joined with insight.demo_customers(rows,
42) on customer_id: review (English or Chinese, many exact duplicates), support_tickets and
satisfied. The split is computed in SQL and used by both sides: a review is a test row when
abs(hashtext(review)) % 5 = 0, so identical texts always fall on the same side (views
bench_reviews_train and bench_reviews_test).

1. Accuracy on the test rows (ROC AUC, and accuracy at each model's own threshold: pg_insight's
   stored threshold, scikit-learn's predict, i.e. 0.5):
   - text only: insight.train(algorithm => 'text_logistic', features => ['review'], test_size =>
     0.1) then insight.evaluate; scikit-learn (a) char 1-3 grams tf-idf (sublinear, NFKC + lower
     case) + LogisticRegression(C=1), (b) the same with a FeatureUnion of that and word 1-2 grams;
   - review + support_tickets: text_logistic against a ColumnTransformer (char tf-idf on review,
     StandardScaler on support_tickets) + LogisticRegression(C=1).
2. Speed, interleaved rounds: training end to end (ours: the insight.train call; theirs: psycopg2
   fetch of the training rows + fit of (a)), and scoring every row (ours: sum of
   insight.predict_proba in one query; theirs: psycopg2 fetch of every row + predict_proba).

Usage: bench_text.py [rows (default 20000)] [rounds (default 5)]; needs insight_bench with
pg_insight (PGHOST/PGPORT as scripts/bench sets them).
"""
import statistics
import sys
import time
import unicodedata
import warnings

import numpy as np

warnings.filterwarnings("ignore")
import sklearn
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import StandardScaler

from benchlib import cur, interleave, q

ROWS = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 5
TEST = "abs(hashtext(review)::bigint) % 5 = 0"  # ::bigint: abs(-2^31) overflows int4


# --- data and the split -----------------------------------------------------------------------
q("DROP TABLE IF EXISTS bench_reviews CASCADE")
q("CREATE TABLE bench_reviews AS SELECT r.review, c.support_tickets, r.satisfied "
  "FROM insight.demo_reviews(%s, 42) r JOIN insight.demo_customers(%s, 42) c USING (customer_id)", ROWS, ROWS)
q("ANALYZE bench_reviews")
q(f"CREATE VIEW bench_reviews_train AS SELECT * FROM bench_reviews WHERE NOT ({TEST})")
q(f"CREATE VIEW bench_reviews_test AS SELECT * FROM bench_reviews WHERE {TEST}")
((n_all, n_distinct, pos),) = q("SELECT count(*), count(DISTINCT review), avg(satisfied::int)::float8 FROM bench_reviews")
((n_train,),) = q("SELECT count(*) FROM bench_reviews_train")
((n_test,),) = q("SELECT count(*) FROM bench_reviews_test")
((lang,),) = q("SELECT string_agg(language || ' ' || n, ', ' ORDER BY language) FROM "
               "(SELECT language, count(*) n FROM insight.demo_reviews(%s, 42) GROUP BY 1) x", ROWS)


def fetch(view, cols):
    cur.execute(f"SELECT {cols} FROM {view}")
    return cur.fetchall()


def prep(s):
    return unicodedata.normalize("NFKC", s).lower()


def char_tfidf():
    return TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, preprocessor=prep)


def word_tfidf():
    return TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True, preprocessor=prep)


def pipeline_char():
    return Pipeline([("tfidf", char_tfidf()), ("lr", LogisticRegression(C=1, max_iter=1000))])


def pipeline_char_word():
    return Pipeline([("tfidf", FeatureUnion([("char", char_tfidf()), ("word", word_tfidf())])),
                     ("lr", LogisticRegression(C=1, max_iter=1000))])


def pipeline_mixed():
    return Pipeline([("cols", ColumnTransformer([("review", char_tfidf(), 0), ("tickets", StandardScaler(), [1])])),
                     ("lr", LogisticRegression(C=1, max_iter=1000))])


def ours_train(name, features=None):
    feat = ", features => ARRAY['review']" if features else ""
    ((m,),) = q(f"SELECT metrics FROM insight.train(%s, 'bench_reviews_train', target => 'satisfied', "
                f"algorithm => 'text_logistic'{feat}, test_size => 0.1, deploy => 'always')", name)
    return m


def ours_eval(name):
    ((m,),) = q("SELECT insight.evaluate(%s, 'bench_reviews_test')", name)
    return m


# --- 1. accuracy on the same split ------------------------------------------------------------
quality = []
own = {}
own["text"] = ours_train("bench_text", features=True)
ev = ours_eval("bench_text")
quality.append(("pg_insight text_logistic, review", ev["roc_auc"], ev["accuracy"]))

train_rows = fetch("bench_reviews_train", "review, support_tickets, satisfied")
test_rows = fetch("bench_reviews_test", "review, support_tickets, satisfied")
x_tr = [r[0] for r in train_rows]
y_tr = np.array([r[2] for r in train_rows])
x_te = [r[0] for r in test_rows]
y_te = np.array([r[2] for r in test_rows])
for label, make in (("scikit-learn (a) char 1-3 tf-idf + LR, review", pipeline_char),
                    ("scikit-learn (b) char 1-3 + word 1-2 tf-idf + LR, review", pipeline_char_word)):
    m = make().fit(x_tr, y_tr)
    quality.append((label, roc_auc_score(y_te, m.predict_proba(x_te)[:, 1]), accuracy_score(y_te, m.predict(x_te))))

own["mixed"] = ours_train("bench_text_mixed")
ev = ours_eval("bench_text_mixed")
quality.append(("pg_insight text_logistic, review + support_tickets", ev["roc_auc"], ev["accuracy"]))
xm_tr = np.array([(r[0], r[1]) for r in train_rows], dtype=object)
xm_te = np.array([(r[0], r[1]) for r in test_rows], dtype=object)
m = pipeline_mixed().fit(xm_tr, y_tr)
quality.append(("scikit-learn char tf-idf + scaled support_tickets + LR", roc_auc_score(y_te, m.predict_proba(xm_te)[:, 1]),
                accuracy_score(y_te, m.predict(xm_te))))

# --- 2. speed ---------------------------------------------------------------------------------
fitted = {}


def sk_train():
    rows = fetch("bench_reviews_train", "review, satisfied")
    fitted["a"] = pipeline_char().fit([r[0] for r in rows], [r[1] for r in rows])


def sk_score():
    rows = fetch("bench_reviews", "review")
    sum(fitted["a"].predict_proba([r[0] for r in rows])[:, 1])


def ours_score():
    q("SELECT sum(insight.predict_proba('bench_text', r)) FROM bench_reviews r")


OURS_T, SK_T = "pg_insight: insight.train", "scikit-learn: psycopg2 fetch + fit (a)"
OURS_S, SK_S = "pg_insight: sum(insight.predict_proba) over the table", "scikit-learn: psycopg2 fetch + predict_proba (a)"
train_times = interleave([(OURS_T, lambda: own.__setitem__("last", ours_train("bench_text", features=True))),
                          (SK_T, sk_train)], ROUNDS)
ours_score()  # the first call of a backend decodes the model
score_times = interleave([(OURS_S, ours_score), (SK_S, sk_score)], ROUNDS)

# --- report -----------------------------------------------------------------------------------
((version,),) = q("SHOW server_version")
print(f"\n## Free text: pg_insight text_logistic vs scikit-learn {sklearn.__version__}, PostgreSQL {version}")
print(f"{n_all:,} reviews ({lang}), {n_distinct:,} distinct texts, {pos:.1%} satisfied; split in SQL on "
      f"{TEST}: {n_train:,} train, {n_test:,} test; pg_insight test_size 0.1 (its own held-out part of the "
      f"train rows), C = 1 both sides; {ROUNDS} interleaved rounds")
print("\n### Test rows (identical texts on one side); accuracy at each model's own threshold")
print("| model | ROC AUC | accuracy |")
print("|---|---|---|")
for label, auc, acc in quality:
    print(f"| {label} | {auc:.4f} | {acc:.4f} |")
t = own["text"]
print(f"\npg_insight's own 10% split (text only): ROC AUC {t['roc_auc']:.4f}, accuracy {t['accuracy']:.4f}; "
      f"train {t['train_seconds']:.2f} s = read {t['read_seconds']:.2f} s + fit {t['fit_seconds']:.2f} s + rest")


def speed(title, times, ours, theirs, n):
    print(f"\n### {title} ({len(times[ours])} interleaved rounds)")
    print("| arm | median | min-max | reviews/s (median) |")
    print("|---|---|---|---|")
    for name in (ours, theirs):
        ts = times[name]
        print(f"| {name} | {statistics.median(ts) * 1000:,.0f} ms | {min(ts) * 1000:,.0f}-{max(ts) * 1000:,.0f} ms | "
              f"{n / statistics.median(ts):,.0f} |")
    r = [a / b for a, b in zip(times[ours], times[theirs])]
    print(f"time ours/theirs per round: {', '.join(f'{x:.2f}' for x in r)}; median {statistics.median(r):.2f}x "
          f"({min(r):.2f}-{max(r):.2f})")


speed(f"Training on {n_train:,} reviews, end to end", train_times, OURS_T, SK_T, n_train)
speed(f"Scoring all {n_all:,} reviews", score_times, OURS_S, SK_S, n_all)
sys.stdout.flush()
