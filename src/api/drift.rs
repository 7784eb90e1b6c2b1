//! insight.drift: how far each input column and the model's scores have moved on a relation
//! from the distributions training kept (ml::drift), in one scan.

use crate::api::evaluate::read_features;
use crate::api::regclass::RegClass;
use crate::data::columns;
use crate::error::{required, InsightError, OrRaise, Result};
use crate::ml::drift::{score_of, status, Reference};
use crate::ml::preprocess::{RawColumn, Value as Cell};
use crate::store::{cache, catalog};
use pgrx::prelude::*;
use pgrx::JsonB;

/// The population stability index of every input column of `model` on `relation`, and of the
/// model's scores (the row named `(score)`), against the training distributions, with status
/// ok (< 0.1), watch or alert (>= 0.25). With `record`, also appended to insight.drift_history.
#[pg_extern(volatile, parallel_unsafe)]
fn drift(
    model: Option<&str>,
    relation: Option<RegClass>,
    record: default!(Option<bool>, false),
) -> TableIterator<
    'static,
    (
        name!(feature, String),
        name!(psi, f64),
        name!(status, String),
    ),
> {
    let run = || -> Result<Vec<(String, f64, String)>> {
        let model_ref = required(model, "model", "Name a model, e.g. 'churn'.")?;
        let rel = required(relation, "relation", "Name the table or view of new rows.")?;
        let relid = rel.oid()?;
        let record = required(record, "record", "Leave it out for false.")?;
        if record {
            catalog::check_can_write(&["insight.drift_history"])?;
        }
        let (id, rows) = measure(model_ref, relid)?;
        if record {
            catalog::record_drift(id, &columns::relation_name(relid), &rows);
        }
        Ok(rows)
    };
    TableIterator::new(run().or_raise())
}

/// The drift rows of `model_ref` on relation `relid`, and the insight.models id of the version.
pub(crate) fn measure(
    model_ref: &str,
    relid: pg_sys::Oid,
) -> Result<(i64, Vec<(String, f64, String)>)> {
    let stored = catalog::resolve(&catalog::parse_ref(model_ref)?)?;
    let m = cache::load(stored)?;
    crate::api::predict::refuse_recommender(model_ref, &m)?;
    let features = crate::spi::select_one::<JsonB>(
        "SELECT features FROM insight.models WHERE id OPERATOR(pg_catalog.=) $1",
        &[stored.id.into()],
    )
    .map(|j| j.0)
    .unwrap_or(serde_json::Value::Null);
    let reference: Reference = features
            .get("reference")
            .and_then(|r| serde_json::from_value(r.clone()).ok())
            .filter(|r: &Reference| {
                r.score.is_valid()
                    && r.columns.len() == m.preprocessor.features.len()
                    && r.columns.iter().all(|(_, d)| d.is_valid())
            })
            .ok_or_else(|| {
                InsightError::not_supported(
                    format!("model \"{model_ref}\" has no training distributions to compare with"),
                    "A model trained before drift references were kept has none: insight.retrain trains one that has; models of insight.fit_agg keep none (no training relation).",
                )
            })?;
    let (relation, frame) = read_features(&m, relid, model_ref)?;
    if frame.n_rows == 0 {
        return Err(InsightError::data(
            format!("relation {relation} has no rows to compare"),
            "Point drift at the new rows, e.g. this month's customers.",
        ));
    }
    let mut out = Vec::new();
    for ((name, d), col) in reference.columns.iter().zip(&frame.columns) {
        let psi = match col {
            RawColumn::Number(v) => d.psi_numeric(v),
            RawColumn::Text { .. } => {
                d.psi_categorical((0..frame.n_rows).map(|r| match col.value(r) {
                    Cell::Text(t) => Some(t),
                    _ => None,
                }))
            }
        };
        if let Some(p) = psi {
            out.push((name.clone(), p, status(p).to_string()));
        }
    }
    // the scores: every row the model can score
    let mut x = vec![0.0; m.preprocessor.width];
    let mut o = vec![0.0; m.outputs()];
    let mut scores = Vec::with_capacity(frame.n_rows);
    for r in 0..frame.n_rows {
        if r % 10_000 == 0 {
            pgrx::check_for_interrupts!();
        }
        if m.preprocessor.encode_row(&frame.columns, r, &mut x).is_ok() {
            m.predict_encoded(&x, &mut o);
            scores.push(score_of(&m, &o));
        }
    }
    let p = reference.score.psi_scores(&scores);
    out.push(("(score)".to_string(), p, status(p).to_string()));
    Ok((stored.id, out))
}
