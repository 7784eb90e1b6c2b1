//! insight.embed / embed_many: sentence embeddings of texts with the model in
//! `insight.embedding_model_path` (ml::embed, feature `candle`), cached per backend. A build
//! without the feature has the functions too, and they say how to get it.

use crate::error::{required, InsightError, OrRaise, Result};
use pgrx::prelude::*;

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

#[cfg(not(feature = "candle"))]
fn run(_: &[&str]) -> Result<Vec<Vec<f32>>> {
    Err(InsightError::not_supported(
        "this pg_insight was built without the candle feature, which insight.embed needs",
        "Build and install it with: cargo pgrx install --release --features candle (README \"Build options\"); then point insight.embedding_model_path at a sentence-embedding model.",
    ))
}

#[cfg(feature = "candle")]
fn run(texts: &[&str]) -> Result<Vec<Vec<f32>>> {
    use crate::ml::embed::Embedder;
    use std::cell::RefCell;
    use std::rc::Rc;
    thread_local! {
        static LOADED: RefCell<Option<(String, Rc<Embedder>)>> = const { RefCell::new(None) };
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
            let e = Rc::new(Embedder::load(std::path::Path::new(&path), device).map_err(|e| {
                InsightError::invalid_parameter(
                    format!("the model in insight.embedding_model_path ({path}) cannot be used: {e}"),
                    "It must hold a BERT-family sentence model: config.json, tokenizer.json and model.safetensors (README \"Review text\").",
                )
            })?);
            LOADED.with(|l| *l.borrow_mut() = Some((path.clone(), e.clone())));
            e
        }
    };
    embedder.embed(texts).map_err(|e| {
        InsightError::data(
            format!("embedding failed: {e}"),
            "Check the model directory in insight.embedding_model_path.",
        )
    })
}
