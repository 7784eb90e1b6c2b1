-- Review text: text_logistic over English and Chinese reviews (demo_reviews: planted causes of
-- satisfaction, many exact duplicates), free text in other models, top_terms, odd text, errors.
CREATE TABLE reviews AS
SELECT r.customer_id, r.language, r.review, c.support_tickets, r.satisfied
  FROM insight.demo_reviews(20000, 42) r JOIN insight.demo_customers(20000, 42) c USING (customer_id);
SELECT language, count(*) AS reviews, count(DISTINCT review) AS distinct_texts, round(avg(satisfied::int), 2) AS satisfied
  FROM reviews GROUP BY language ORDER BY language;

-- The reference split: identical texts on one side (a review copied into both sides would
-- inflate the test figures). scikit-learn 1.2.1 on the same rows (benches/sql/bench_text.py):
-- TfidfVectorizer(analyzer='char', ngram_range=(1, 3), sublinear_tf=True, NFKC + lower case)
-- + LogisticRegression(C=1) reaches ROC AUC 0.9333 on the test rows (with word 1-2 n-grams too,
-- 0.9346).
CREATE VIEW reviews_train AS SELECT review, satisfied FROM reviews WHERE abs(hashtext(review)::bigint) % 5 <> 0;
CREATE VIEW reviews_test AS SELECT review, satisfied FROM reviews WHERE abs(hashtext(review)::bigint) % 5 = 0;
SELECT model_id AS id FROM insight.train('satisfaction', 'reviews_train', target => 'satisfied',
                                          algorithm => 'text_logistic', test_size => 0.1, deploy => 'always') \gset
SELECT name, algorithm, (metrics->>'roc_auc')::float8 > 0.85 AS learnt, options->'text' AS text_columns,
       options->'ngram_range' AS ngram_range, options->'word_ngram_range' AS word_ngram_range,
       options->'hash_bits' AS hash_bits, options->'text_folds' AS text_folds
  FROM insight.models WHERE id = :id;
SELECT insight.evaluate('satisfaction', 'reviews_test') AS e \gset
SELECT (:'e'::jsonb->>'roc_auc')::float8 >= 0.9333 - 0.005 AS matches_scikit_learn,
       (:'e'::jsonb->>'n_rows')::int AS test_rows;

-- the split insight.train makes itself keeps duplicates on one side too
SELECT (metrics->>'n_train')::int + (metrics->>'n_test')::int AS rows, (metrics->>'roc_auc')::float8 > 0.9 AS learnt
  FROM insight.train('satisfaction_all', 'reviews', target => 'satisfied', algorithm => 'text_logistic',
                     features => ARRAY['review']);

-- text and the customer's support tickets in one model beat the text alone (planted: each
-- ticket costs satisfaction)
SELECT a.auc_text_and_tickets > t.auc_text + 0.01 AS tickets_help
  FROM (SELECT (metrics->>'roc_auc')::float8 AS auc_text_and_tickets
          FROM insight.train('satisfaction_mixed', 'reviews', target => 'satisfied', algorithm => 'text_logistic',
                             exclude => ARRAY['customer_id', 'language'])) a,
       (SELECT (metrics->>'roc_auc')::float8 AS auc_text FROM insight.models WHERE name = 'satisfaction_all') t;
SELECT feature, round(value::numeric, 2) AS value, contribution > 0 AS raises_satisfaction
  FROM insight.explain('satisfaction_mixed', (SELECT r FROM reviews r WHERE customer_id = 5)) ORDER BY feature;
-- logistic and mlp find free text by its look (long, mostly distinct values); trees take it too
SELECT model_id AS id FROM insight.train('satisfaction_logistic', 'reviews', target => 'satisfied',
                                          exclude => ARRAY['customer_id', 'language']) \gset
SELECT name, algorithm, options->'text' AS text_columns, (metrics->>'roc_auc')::float8 > 0.9 AS learnt
  FROM insight.models WHERE id = :id;
SELECT name, algorithm, (metrics->>'roc_auc')::float8 > 0.9 AS learnt
  FROM insight.train('satisfaction_gbdt', 'reviews', target => 'satisfied', algorithm => 'gbdt',
                     exclude => ARRAY['customer_id', 'language'], options => '{"text": ["review"], "rounds": 30}');

-- why customers are unhappy: the n-grams behind the text model, each class
SELECT class, string_agg(term, ' | ' ORDER BY weight DESC) AS top_terms
  FROM insight.top_terms('satisfaction', 6) GROUP BY class ORDER BY class;
SELECT count(*) AS rows, bool_and(weight > 0) AS positive_towards_their_class FROM insight.top_terms('satisfaction');

-- what the reviews are about: topics (k-means over their tf-idf rows), the predicted
-- satisfaction of each, the n-grams that set it apart, and its most typical review
SELECT topic, reviews, round(share::numeric, 2) AS share, round(satisfaction::numeric, 2) AS satisfaction,
       array_to_string(terms[1:3], ' | ') AS terms, example
  FROM insight.review_topics('satisfaction_all', 'reviews', 6) ORDER BY topic;
SELECT sum(reviews) AS reviews, round(sum(share)::numeric, 6) AS shares FROM insight.review_topics('satisfaction_all', 'reviews', 6);
-- the least satisfied topic is named by a planted bad wording (ml::synth_reviews)
SELECT array_to_string(terms, ' ') ~ '(stale|bitter|poor|late|waiting|broken|torn|never answered|rude|expensive|overpriced|差|慢|迟到|不好|不新鲜|破|不理人|太贵|不值)' AS names_a_planted_cause
  FROM insight.review_topics('satisfaction_all', 'reviews', 6) ORDER BY satisfaction LIMIT 1;

-- scoring odd text: NULL (an empty review), emoji, mixed scripts, control characters, a very
-- long text (cut at max_chars), full-width letters (NFKC): finite probabilities
SELECT t.label, p BETWEEN 0 AND 1 AS probability
  FROM (VALUES ('null', NULL), ('empty', ''), ('emoji', '☕️👍👍 😡'), ('mixed', 'Tastes great 味道很好 но дорого'),
               ('controls', E'late\u0001\u0007 again\ttoo'), ('long', repeat('stale coffee, ', 20000)),
               ('full width', 'ＴＡＳＴＥＳ ＧＲＥＡＴ')) t(label, review),
       LATERAL (SELECT insight.predict_proba('satisfaction', ROW(t.review)) AS p) s
 ORDER BY t.label;
SELECT insight.predict_proba('satisfaction', ROW('tastes stale, box arrived broken'::text)) < 0.2 AS unhappy,
       insight.predict_proba('satisfaction', ROW('味道很好，物流很快'::text)) > 0.8 AS happy,
       insight.predict_class('satisfaction', ROW('ＴＡＳＴＥＳ ＧＲＥＡＴ, arrived fast'::text)) AS full_width;
-- the same model in another database: export and import score identically
SELECT insight.import_model(jsonb_set(insight.export_model('satisfaction'), '{name}', '"satisfaction_copy"')) > 0 AS imported;
SELECT bool_and(insight.predict_proba('satisfaction_copy', r) = insight.predict_proba('satisfaction', r)) AS same_scores
  FROM reviews_test r;
-- retrain keeps the recipe: text_logistic over the same text column and n-grams
SELECT model_id AS id FROM insight.retrain('satisfaction_all', tolerance => 1) \gset
SELECT version, algorithm, options->'text' AS text_columns, options->'hash_bits' AS hash_bits
  FROM insight.models WHERE id = :id;

\pset tuples_only on
\pset format unaligned
SELECT try_sql($$SELECT * FROM insight.train('x', 'reviews', target => 'satisfied', algorithm => 'text_logistic', options => '{"text": ["support_tickets"]}')$$);
SELECT try_sql($$SELECT * FROM insight.train('x', 'reviews', target => 'satisfied', algorithm => 'text_logistic', options => '{"text": ["nope"]}')$$);
SELECT try_sql($$SELECT * FROM insight.train('x', 'reviews', target => 'satisfied', algorithm => 'text_logistic', options => '{"text": "review"}')$$);
SELECT try_sql($$SELECT * FROM insight.train('x', 'reviews', target => 'satisfied', algorithm => 'text_logistic', options => '{"hash_bits": 30}')$$);
SELECT try_sql($$SELECT * FROM insight.train('x', 'reviews', target => 'satisfied', algorithm => 'text_logistic', options => '{"ngram_range": [3, 1]}')$$);
SELECT try_sql($$SELECT * FROM insight.train('x', 'reviews', target => 'satisfied', algorithm => 'text_logistic', options => '{"ngram_range": [0, 0], "word_ngram_range": [0, 0]}')$$);
CREATE VIEW reviews_scored AS SELECT review, support_tickets * 1.5 + 0.25 AS score FROM reviews;
SELECT try_sql($$SELECT * FROM insight.train('x', 'reviews_scored', target => 'score', algorithm => 'mlp', options => '{"text": ["review"]}')$$);
SELECT try_sql($$SELECT * FROM insight.train('x', 'reviews', algorithm => 'kmeans', features => ARRAY['review', 'support_tickets'], options => '{"text": ["review"]}')$$);
SELECT try_sql($$SELECT insight.predict('satisfaction', ARRAY[1, 2])$$);
SELECT try_sql($$SELECT * FROM insight.top_terms('purchase')$$);
SELECT try_sql($$SELECT * FROM insight.top_terms('satisfaction', 0)$$);
SELECT try_sql($$SELECT * FROM insight.top_terms(NULL)$$);
SELECT try_sql($$SELECT * FROM insight.review_topics('purchase', 'customers')$$);
SELECT try_sql($$SELECT * FROM insight.review_topics('satisfaction', 'reviews', 0)$$);
SELECT try_sql($$SELECT * FROM insight.review_topics('satisfaction', 'customers')$$);
SELECT try_sql($$SELECT * FROM insight.review_topics('satisfaction', NULL)$$);
-- (the tests' build has no candle feature: embeddings say how to get them; scripts/test checks
-- them against sentence-transformers, and text models over them through SQL, in the tests with
-- candle)
SELECT try_sql($$SELECT insight.embed('great coffee')$$);
SELECT try_sql($$SELECT * FROM insight.train('x', 'reviews', target => 'satisfied', algorithm => 'text_logistic', options => '{"text": "embedding"}')$$);
SELECT try_sql($$SELECT * FROM insight.train('x', 'reviews', target => 'satisfied', algorithm => 'logistic', options => '{"text": ["review"], "text_vectors": "embedding"}')$$);
SELECT try_sql($$SELECT * FROM insight.train('x', 'reviews', target => 'satisfied', algorithm => 'text_logistic', options => '{"text": "embedding", "text_vectors": "ngrams"}')$$);
SELECT try_sql($$SELECT * FROM insight.train('x', 'reviews', target => 'satisfied', algorithm => 'text_logistic', options => '{"text": "embedding", "hash_bits": 18}')$$);
SELECT try_sql($$SELECT * FROM insight.train('x', 'reviews', target => 'satisfied', algorithm => 'text_logistic', options => '{"text_vectors": "bert"}')$$);
SELECT try_sql($$SELECT * FROM insight.embed_many(ARRAY['a', NULL])$$);
SELECT try_sql($$SELECT * FROM insight.embed_many(NULL)$$);
SELECT insight.embed(NULL) IS NULL AS null_text_null_embedding;
SELECT try_sql($$SET insight.embedding_model_path = '/tmp'$$) AS superuser_may;
CREATE ROLE text_outsider;
GRANT EXECUTE ON FUNCTION try_sql(text) TO text_outsider;
SET ROLE text_outsider;
SELECT try_sql($$SET insight.embedding_model_path = '/etc'$$);
RESET ROLE;
DROP OWNED BY text_outsider;
DROP ROLE text_outsider;
RESET insight.embedding_model_path;
\pset tuples_only off
\pset format aligned
SELECT count(*) AS models_named_x FROM insight.models WHERE name = 'x';
