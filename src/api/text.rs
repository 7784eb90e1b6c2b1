//! insight.top_terms: why a text model scores reviews as it does, as the n-grams that push its
//! free-text columns' scores most towards each class; insight.review_topics: what the reviews of
//! a relation are about, topic by topic, and how satisfied each topic's customers are predicted.

use crate::api::monitor::PgMonitor;
use crate::api::regclass::RegClass;
use crate::error::{required, InsightError, OrRaise, Result};
use crate::ml::model::Task;
use crate::ml::parallel::Parallel;
use crate::ml::preprocess::{Encoding, RawColumn, NULL_CODE};
use crate::ml::text::embedded::EmbeddedText;
use crate::ml::text::sparse::Csr;
use crate::ml::text::tfidf::{Scratch, SparseRow, TextOptions, TfIdf};
use crate::store::{cache, catalog};
use pgrx::prelude::*;
use std::collections::HashMap;

fn no_text(model_ref: &str) -> InsightError {
    InsightError::not_supported(
        format!("model \"{model_ref}\" has no free-text columns"),
        "Train a text model first: algorithm => 'text_logistic', or options => '{\"text\": [\"review\"]}'.",
    )
}

/// For each free-text column of `model` and each class, the `n` n-grams of largest weight
/// towards that class (for two classes: the positive class's largest weights, and the negative
/// class's most negative ones, shown as positive weights towards it).
#[pg_extern(stable, parallel_safe)]
#[allow(clippy::type_complexity)]
fn top_terms(
    model: Option<&str>,
    n: default!(Option<i32>, 20),
) -> TableIterator<
    'static,
    (
        name!(feature, String),
        name!(class, String),
        name!(term, String),
        name!(weight, f64),
    ),
> {
    let run = || -> Result<Vec<(String, String, String, f64)>> {
        let model_ref = required(model, "model", "Name a model, e.g. 'satisfaction'.")?;
        let n = required(n, "n", "Leave it out for 20.")?;
        if !(1..=1000).contains(&n) {
            return Err(InsightError::invalid_parameter(
                format!("n must be from 1 to 1000, got {n}"),
                "The number of n-grams per class and column, e.g. 20.",
            ));
        }
        let m = cache::load(catalog::resolve(&catalog::parse_ref(model_ref)?)?)?;
        let mut out = Vec::new();
        for f in &m.preprocessor.features {
            let Encoding::Text(t) = &f.encoding else {
                continue;
            };
            let mut push = |class: &str, terms: Vec<(String, f64)>| {
                for (term, w) in terms.into_iter().take(n as usize) {
                    out.push((f.name.clone(), class.to_string(), term, w));
                }
            };
            if m.task == Task::Binary {
                let top = t.top_terms(0);
                let against: Vec<(String, f64)> =
                    top.iter().rev().map(|(g, w)| (g.clone(), -w)).collect();
                push(&m.classes[1], top);
                push(&m.classes[0], against);
            } else {
                for (c, class) in m.classes.iter().enumerate() {
                    push(class, t.top_terms(c));
                }
            }
        }
        if out.is_empty() {
            if m.preprocessor.sentence_model().is_some() {
                return Err(InsightError::not_supported(
                    format!("model \"{model_ref}\" embeds its text with a sentence model: it weighs no n-grams"),
                    "insight.review_topics(model, relation) names what its reviews are about; top_terms needs an n-gram text model (options.text_vectors 'ngrams', the default).",
                ));
            }
            return Err(no_text(model_ref));
        }
        Ok(out)
    };
    TableIterator::new(run().or_raise())
}

/// Why customers are unhappy, as a table: the reviews of `relation` in `k` topics (spherical
/// k-means over the tf-idf rows of the model's first free-text column, or over their sentence
/// embeddings where the model embeds its text; ml::text::topics), each
/// with its size, its mean predicted satisfaction (P(positive class) for two classes; for more,
/// the probability of the last class, e.g. the best rating), the n-grams that set it apart and
/// the review nearest its centre. Empty texts belong to no topic.
#[pg_extern(stable, parallel_restricted)]
#[allow(clippy::type_complexity)]
fn review_topics(
    model: Option<&str>,
    relation: Option<RegClass>,
    k: default!(Option<i32>, 8),
) -> TableIterator<
    'static,
    (
        name!(topic, i32),
        name!(reviews, i64),
        name!(share, f64),
        name!(satisfaction, Option<f64>),
        name!(terms, Vec<String>),
        name!(example, Option<String>),
    ),
> {
    let run = || -> Result<Vec<(i32, i64, f64, Option<f64>, Vec<String>, Option<String>)>> {
        let model_ref = required(model, "model", "Name a text model, e.g. 'satisfaction'.")?;
        let rel = required(relation, "relation", "Name the table or view of reviews.")?;
        let k = required(k, "k", "Leave it out for 8.")?;
        let relid = rel.oid()?;
        if !(1..=100).contains(&k) {
            return Err(InsightError::invalid_parameter(
                format!("k must be from 1 to 100, got {k}"),
                "The number of topics, e.g. 8.",
            ));
        }
        let m = cache::load(catalog::resolve(&catalog::parse_ref(model_ref)?)?)?;
        // the model's first free-text column: its n-grams, or its sentence model's embeddings
        let (j, encoding) = m
            .preprocessor
            .features
            .iter()
            .enumerate()
            .find(|(_, f)| matches!(f.encoding, Encoding::Text(_) | Encoding::Embedded(_)))
            .map(|(j, f)| (j, &f.encoding))
            .ok_or_else(|| no_text(model_ref))?;
        let (_, frame) = crate::api::evaluate::read_features(&m, relid, model_ref)?;
        let RawColumn::Text { dict, codes } = &frame.columns[j] else {
            unreachable!("a text feature is read as text")
        };
        let texts: Vec<Option<&str>> = codes
            .iter()
            .map(|&c| (c != NULL_CODE).then(|| dict[c as usize].as_str()))
            .collect();
        // topics are named by n-grams: the text model's tf-idf, or for embeddings one learnt on
        // these texts
        let learnt;
        let tfidf = match encoding {
            Encoding::Text(t) => &t.tfidf,
            Encoding::Embedded(e) => {
                learnt = TfIdf::fit(
                    TextOptions {
                        max_chars: e.max_chars,
                        ..TextOptions::default()
                    },
                    texts.iter().copied(),
                );
                &learnt
            }
            _ => unreachable!("found above"),
        };
        let x = tfidf_rows(tfidf, codes, &texts);
        let embedded = match encoding {
            Encoding::Embedded(e) => Some(embedding_rows(e, dict, codes)?),
            _ => None,
        };
        let par = Parallel::new(crate::gucs::threads());
        let monitor = PgMonitor::new();
        // topics on the rows that carry the model's view of the text, named by their n-grams
        let topic_rows = embedded.as_ref().unwrap_or(&x);
        let topics = crate::ml::text::topics::fit(topic_rows, k as usize, 42, 50, &par, &monitor);
        let recentred;
        let named = if embedded.is_some() {
            recentred = topics.recentred(&x);
            &recentred
        } else {
            &topics
        };
        // the satisfaction each row is predicted
        let positive = m.outputs() - 1;
        let mut xr = vec![0.0; m.preprocessor.width];
        let mut o = vec![0.0; m.outputs()];
        let mut satisfaction = vec![f64::NAN; frame.n_rows];
        for (r, s) in satisfaction.iter_mut().enumerate() {
            if r % 10_000 == 0 {
                pgrx::check_for_interrupts!();
            }
            if m.preprocessor
                .encode_row(&frame.columns, r, &mut xr)
                .is_ok()
            {
                m.predict_encoded(&xr, &mut o);
                *s = o[positive];
            }
        }
        let placed = topics
            .assignment
            .iter()
            .filter(|a| a.is_some())
            .count()
            .max(1);
        let mut out = Vec::new();
        for c in 0..topics.k {
            let members = topics.members(c);
            if members.is_empty() {
                continue;
            }
            let scores: Vec<f64> = members
                .iter()
                .map(|&r| satisfaction[r])
                .filter(|v| v.is_finite())
                .collect();
            let mean =
                (!scores.is_empty()).then(|| scores.iter().sum::<f64>() / scores.len() as f64);
            let terms = named.terms(&x, tfidf, &texts, c, 5);
            let example = topics
                .nearest(topic_rows, c)
                .and_then(|r| texts[r].map(String::from));
            out.push((
                0,
                members.len() as i64,
                members.len() as f64 / placed as f64,
                mean,
                terms,
                example,
            ));
        }
        // largest topics first, numbered in that order
        out.sort_by_key(|t| std::cmp::Reverse(t.1));
        for (i, t) in out.iter_mut().enumerate() {
            t.0 = i as i32 + 1;
        }
        Ok(out)
    };
    TableIterator::new(run().or_raise())
}

/// The tf-idf row of each text (each distinct text transformed once).
fn tfidf_rows(tfidf: &TfIdf, codes: &[u32], texts: &[Option<&str>]) -> Csr {
    let mut by_code: HashMap<u32, SparseRow> = HashMap::new();
    let mut scratch = Scratch::default();
    let mut x = Csr::new(tfidf.width());
    for (r, &c) in codes.iter().enumerate() {
        if r % 10_000 == 0 {
            pgrx::check_for_interrupts!();
        }
        let row = by_code.entry(c).or_insert_with(|| {
            pgrx::check_for_interrupts!();
            let mut row = SparseRow::default();
            tfidf.transform(texts[r], &mut scratch, &mut row);
            row
        });
        x.push(row);
    }
    x
}

/// The sentence embedding of each text (each distinct text embedded once, 32 a forward pass); a
/// NULL text is an empty row, in no topic.
fn embedding_rows(e: &EmbeddedText, dict: &[String], codes: &[u32]) -> Result<Csr> {
    let encoder = e.encoder.0.as_ref().ok_or_else(|| {
        crate::api::embed::failed("(review_topics)", "no sentence model is attached")
    })?;
    let mut distinct: Vec<u32> = codes.iter().copied().filter(|&c| c != NULL_CODE).collect();
    distinct.sort_unstable();
    distinct.dedup();
    let mut vectors: HashMap<u32, Vec<f32>> = HashMap::with_capacity(distinct.len());
    for chunk in distinct.chunks(32) {
        pgrx::check_for_interrupts!();
        let texts: Vec<&str> = chunk
            .iter()
            .map(|&c| {
                let t = dict[c as usize].as_str();
                t.char_indices()
                    .nth(e.max_chars)
                    .map_or(t, |(i, _)| &t[..i])
            })
            .collect();
        let out = encoder
            .encode(&texts)
            .map_err(|m| crate::api::embed::failed("(review_topics)", &m))?;
        if out.len() != chunk.len() || out.iter().any(|v| v.len() != e.dims) {
            return Err(crate::api::embed::failed(
                "(review_topics)",
                "the sentence model returned vectors of another count or width",
            ));
        }
        vectors.extend(chunk.iter().copied().zip(out));
    }
    let mut x = Csr::new(e.dims);
    let mut row = SparseRow::default();
    for &c in codes {
        row.columns.clear();
        row.values.clear();
        if let Some(v) = vectors.get(&c) {
            row.columns.extend(0..e.dims as u32);
            row.values.extend(v.iter().map(|&x| x as f64));
        }
        x.push(&row);
    }
    Ok(x)
}
