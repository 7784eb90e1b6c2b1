//! insight.evaluate / roc_curve / lift / model_info: scoring a labelled relation and describing
//! a model version.

use crate::api::regclass::RegClass;
use crate::data::columns;
use crate::data::reader::{self, ReadSpec, TargetColumn, TargetRead};
use crate::error::{ident, InsightError, OrRaise, Result};
use crate::ml::metrics;
use crate::ml::model::{Model, Task};
use crate::store::{cache, catalog};
use pgrx::prelude::*;
use pgrx::JsonB;
use serde_json::{json, Value};
use std::rc::Rc;

pub(crate) struct Scored {
    /// The insight.models row of the version that scored.
    pub id: i64,
    pub model: Rc<Model>,
    pub outputs: Vec<f64>,
    pub target: TargetColumn,
}

fn target_name(id: i64) -> Option<String> {
    crate::spi::select_one::<String>(
        "SELECT target FROM insight.models WHERE id OPERATOR(pg_catalog.=) $1",
        &[id.into()],
    )
}

/// The model's input columns as they are read from `relation`, checked for existence and type
/// by the scorers' rule (ValueKind::takes), each read as its own kind: a boolean column feeding a
/// number feature reads as 0/1, a timestamp feeding a date as days, as a scored row does.
pub(crate) fn feature_inputs(
    model: &Model,
    cols: &[columns::ColumnInfo],
    relation: &str,
    model_ref: &str,
) -> Result<Vec<(String, crate::ml::preprocess::ValueKind)>> {
    let mut inputs = Vec::new();
    for f in &model.preprocessor.features {
        let c = columns::find(cols, &f.name, relation, "feature")?;
        let Some(kind) = c.kind.filter(|&k| f.kind.takes(k)) else {
            return Err(InsightError::datatype_mismatch(
                format!(
                    "column {} of {relation} has type {}, but model \"{model_ref}\" was trained on it as {}",
                    ident(&c.name),
                    c.sql_type,
                    columns::kind_name(f.kind)
                ),
                "Use a relation with the training table's column types.",
            ));
        };
        inputs.push((f.name.clone(), kind));
    }
    Ok(inputs)
}

/// The relation's name and its rows' model inputs (no target), as drift, review_topics and
/// report read them.
pub(crate) fn read_features(
    model: &Model,
    relid: pg_sys::Oid,
    model_ref: &str,
) -> Result<(String, reader::Frame)> {
    let relation = columns::relation_name(relid);
    let cols = columns::relation_columns(relid);
    let inputs = feature_inputs(model, &cols, &relation, model_ref)?;
    let frame = reader::read(&ReadSpec {
        relation: &relation,
        inputs: &inputs,
        target: None,
        keys: false,
        text_budget: None,
        ordered: false,
    })?;
    Ok((relation, frame))
}

/// Reads the model's features and target from `relid` and scores every row.
pub(crate) fn score_relation(model_ref: &str, relid: pg_sys::Oid) -> Result<Scored> {
    let stored = catalog::resolve(&catalog::parse_ref(model_ref)?)?;
    let (id, model) = (stored.id, cache::load(stored)?);
    crate::api::predict::refuse_recommender(model_ref, &model)?;
    if model.task == Task::LifetimeValue {
        return Err(InsightError::not_supported(
            format!("model \"{model_ref}\" is a lifetime-value model: it has no target to evaluate against"),
            "Its fit (log-likelihood, parameters) is in insight.model_info(model)->'metrics'; insight.p_alive and insight.expected_purchases score customers.",
        ));
    }
    if model.task == Task::Segmentation {
        return Err(InsightError::not_supported(
            format!("model \"{model_ref}\" is a segmentation model: it has no target to evaluate against"),
            "Its metrics (silhouette, Davies-Bouldin, Calinski-Harabasz, sizes) are in insight.model_info(model)->'metrics'.",
        ));
    }
    let relation = columns::relation_name(relid);
    let cols = columns::relation_columns(relid);
    let target = target_name(id).unwrap_or_default();
    let tcol = columns::find(&cols, &target, &relation, "target")?;
    let inputs = feature_inputs(&model, &cols, &relation, model_ref)?;
    let how = if model.task == Task::Regression {
        TargetRead::Number
    } else {
        TargetRead::Text
    };
    if how == TargetRead::Number && tcol.kind != Some(crate::ml::preprocess::ValueKind::Number) {
        return Err(InsightError::datatype_mismatch(
            format!(
                "target column {} of {relation} is not numeric",
                ident(&target)
            ),
            "A regression model is evaluated against a numeric target.",
        ));
    }
    let frame = reader::read(&ReadSpec {
        relation: &relation,
        inputs: &inputs,
        target: Some((&target, how)),
        keys: false,
        text_budget: None,
        ordered: false,
    })?;
    if frame.n_rows == 0 {
        return Err(InsightError::data(
            format!(
                "relation {relation} has no rows with a non-NULL {}",
                ident(&target)
            ),
            "Evaluate on labelled rows.",
        ));
    }
    let k = model.outputs();
    let mut x = vec![0.0; model.preprocessor.width];
    let mut out = vec![0.0; k];
    let mut outputs = Vec::with_capacity(frame.n_rows * k);
    for r in 0..frame.n_rows {
        if r % 10_000 == 0 {
            pgrx::check_for_interrupts!();
        }
        model
            .preprocessor
            .encode_row(&frame.columns, r, &mut x)
            .map_err(|e| {
                InsightError::data(
                    format!("row {} cannot be scored: {e:?}", r + 1),
                    "Check the column values.",
                )
            })?;
        model.predict_encoded(&x, &mut out);
        crate::api::predict::finite_outputs(model_ref, &out).map_err(|e| {
            InsightError::data(
                format!("row {} of {relation}: {}", r + 1, e.message),
                e.hint.unwrap_or_default(),
            )
        })?;
        outputs.extend_from_slice(&out);
    }
    Ok(Scored {
        id,
        model,
        outputs,
        target: frame.target.unwrap(),
    })
}

/// Class index of each label; labels the model never saw are an error.
pub(crate) fn class_indices(model: &Model, labels: &[String]) -> Result<Vec<usize>> {
    labels
        .iter()
        .map(|l| {
            model.classes.iter().position(|c| c == l).ok_or_else(|| {
                InsightError::data(
                    format!("target value \"{l}\" was not a class when the model was trained"),
                    format!("Known classes: {}.", model.classes.join(", ")),
                )
            })
        })
        .collect()
}

fn binary_parts(s: &Scored, model_ref: &str) -> Result<(Vec<f64>, Vec<bool>)> {
    if s.model.task != Task::Binary {
        return Err(InsightError::not_supported(
            format!("model \"{model_ref}\" is a {} model; ROC curves and lift tables need a binary classifier", s.model.task.as_str()),
            "Use insight.evaluate for its metrics.",
        ));
    }
    let TargetColumn::Text(labels) = &s.target else {
        unreachable!()
    };
    let idx = class_indices(&s.model, labels)?;
    Ok((s.outputs.clone(), idx.iter().map(|&c| c == 1).collect()))
}

/// Metrics of a model on every labelled row of a relation: the test-metric keys training reports
/// (binary: accuracy, precision, recall, f1, roc_auc, log_loss, positive_rate; multiclass: the
/// same but positive_rate, macro-averaged; regression: rmse, mae, r2) and n_rows. With `record`,
/// also appended to insight.evaluations (source 'evaluate') for charts over time (so it is
/// PARALLEL UNSAFE: a parallel query cannot write).
#[pg_extern(volatile, parallel_unsafe)]
fn evaluate(model: &str, relation: RegClass, record: default!(bool, false)) -> JsonB {
    let relid = relation.oid().or_raise();
    let run = || -> Result<Value> {
        if record {
            catalog::check_can_write(&["insight.evaluations"])?;
        }
        let s = score_relation(model, relid)?;
        let mut metrics = match (&s.target, s.model.task) {
            (TargetColumn::Text(labels), Task::Binary) => {
                let truth: Vec<bool> = class_indices(&s.model, labels)?
                    .iter()
                    .map(|&c| c == 1)
                    .collect();
                metrics::binary(&s.outputs, &truth, s.model.threshold).to_json()
            }
            (TargetColumn::Text(labels), Task::Multiclass) => {
                let idx = class_indices(&s.model, labels)?;
                metrics::multiclass(&s.outputs, s.model.classes.len(), &idx).to_json()
            }
            (TargetColumn::Number(y), _) => metrics::regression(&s.outputs, y).to_json(),
            _ => unreachable!(),
        };
        // every labelled row of the relation is scored: there is no test split here
        if let Value::Object(m) = &mut metrics {
            if let Some(n) = m.remove("n_test") {
                m.insert("n_rows".into(), n);
            }
        }
        if record {
            catalog::record_evaluation(s.id, &columns::relation_name(relid), &metrics, "evaluate");
        }
        Ok(metrics)
    };
    JsonB(run().or_raise())
}

/// The ROC curve of a binary classifier on a labelled relation, one row per distinct score.
#[pg_extern(stable, parallel_restricted)]
fn roc_curve(
    model: &str,
    relation: RegClass,
) -> TableIterator<'static, (name!(threshold, f64), name!(tpr, f64), name!(fpr, f64))> {
    let relid = relation.oid().or_raise();
    let (scores, truth) = score_relation(model, relid)
        .and_then(|s| binary_parts(&s, model))
        .or_raise();
    let pts = metrics::roc_curve(&scores, &truth);
    TableIterator::new(pts.into_iter().map(|p| (p.threshold, p.tpr, p.fpr)))
}

/// Lift / gains table: customers ranked by score cut into `bins` equal groups.
#[pg_extern(stable, parallel_restricted)]
#[allow(clippy::type_complexity)]
fn lift(
    model: &str,
    relation: RegClass,
    bins: default!(i32, 10),
) -> TableIterator<
    'static,
    (
        name!(bin, i32),
        name!(customers, i64),
        name!(positives, i64),
        name!(rate, f64),
        name!(lift, f64),
        name!(cumulative_gain, f64),
    ),
> {
    let relid = relation.oid().or_raise();
    if !(1..=1000).contains(&bins) {
        InsightError::invalid_parameter(
            format!("bins must be from 1 to 1000, got {bins}"),
            "Deciles: bins => 10.",
        )
        .raise();
    }
    let (scores, truth) = score_relation(model, relid)
        .and_then(|s| binary_parts(&s, model))
        .or_raise();
    let t = metrics::lift_table(&scores, &truth, bins as usize);
    TableIterator::new(t.into_iter().map(|b| {
        (
            b.bin as i32,
            b.customers as i64,
            b.positives as i64,
            b.rate,
            b.lift,
            b.cumulative_gain,
        )
    }))
}

/// Everything about a model version as jsonb: the catalog row (without weights), whether it is
/// deployed, the classes, and the learned parameters (intercept and coefficient per encoded input).
#[pg_extern(stable, parallel_safe)]
fn model_info(model: &str) -> JsonB {
    let run = || -> Result<Value> {
        let stored = catalog::resolve(&catalog::parse_ref(model)?)?;
        let (id, m) = (stored.id, cache::load(stored)?);
        let row = crate::spi::select_one::<JsonB>(
            // the columns one by one: a whole-row reference would need SELECT on the weights too
            "SELECT pg_catalog.to_jsonb(m) OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('deployed', coalesce(
                        (SELECT d.model_id OPERATOR(pg_catalog.=) m.id FROM insight.deployments d
                          WHERE d.name OPERATOR(pg_catalog.=) m.name ORDER BY d.id DESC LIMIT 1), false))
               FROM (SELECT id, name, version, task, algorithm, relation, target, features, options, metrics,
                            n_rows, train_seconds, created_at, created_by
                       FROM insight.models WHERE id OPERATOR(pg_catalog.=) $1) m",
            &[id.into()],
        )
        .map(|j| j.0)
        .unwrap_or(Value::Null);
        let mut info = row;
        let params = m.parameters();
        if let Value::Object(o) = &mut info {
            o.insert("classes".into(), json!(m.classes));
            o.insert("threshold".into(), json!(m.threshold));
            // the parameters are the weights in another form: only for who may read those
            if catalog::may_read_weights() {
                o.insert("parameters".into(), params);
            }
            o.insert(
                "format_version".into(),
                json!(crate::ml::model::FORMAT_VERSION),
            );
        }
        Ok(info)
    };
    JsonB(run().or_raise())
}

/// Permutation importance of each input column, computed on the test split at training time:
/// the drop of the test ROC AUC (binary), accuracy (multiclass) or R^2 (regression) when the
/// column's values are shuffled (mean of 3 shuffles, at most 20,000 test rows). Largest first.
#[pg_extern(stable, parallel_safe)]
fn feature_importance(
    model: &str,
) -> TableIterator<'static, (name!(feature, String), name!(importance, Option<f64>))> {
    let run = || -> Result<Vec<(String, Option<f64>)>> {
        let id = catalog::resolve(&catalog::parse_ref(model)?)?.id;
        let imp = crate::spi::select_one::<JsonB>(
            "SELECT metrics OPERATOR(pg_catalog.->) 'feature_importance'::pg_catalog.text FROM insight.models
              WHERE id OPERATOR(pg_catalog.=) $1",
            &[id.into()],
        )
        .map(|j| j.0)
        .unwrap_or(Value::Null);
        let Value::Object(map) = imp else {
            return Err(InsightError::not_supported(
                format!("model \"{model}\" has no stored feature importance"),
                "Retrain it: importance is computed at training time by this release.",
            ));
        };
        let mut rows: Vec<(String, Option<f64>)> =
            map.into_iter().map(|(k, v)| (k, v.as_f64())).collect();
        rows.sort_by(|a, b| {
            b.1.unwrap_or(f64::NEG_INFINITY)
                .total_cmp(&a.1.unwrap_or(f64::NEG_INFINITY))
                .then(a.0.cmp(&b.0))
        });
        Ok(rows)
    };
    TableIterator::new(run().or_raise())
}
