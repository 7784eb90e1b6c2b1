//! insight.retrain: the recipe of the version deployed now (relation, target, columns, options,
//! split) trained again on today's rows as a new version, which replaces the deployed one only
//! if it does not fall behind it: supervised models are compared on the new test rows (the
//! deployed version scores them too), the others by their stored metrics. Both versions' test
//! metrics go to insight.evaluations (sources retrain and champion), so a chart of the deployed
//! model's quality over time needs nothing but scheduled retrains. With `when_drift_above`, the
//! new rows are first compared with the training distributions (insight.drift, recorded in
//! insight.drift_history), and nothing is trained unless some PSI reaches the threshold.

use super::{run, Champion, Request};
use crate::error::{required, InsightError, OrRaise, Result};
use crate::store::{cache, catalog};
use pgrx::prelude::*;
use pgrx::JsonB;
use serde_json::{json, Map, Value};

/// The stored recipe of a version.
struct Recipe {
    id: i64,
    version: i32,
    relation: String,
    target: Option<String>,
    algorithm: String,
    task: String,
    features: Value,
    options: Value,
    metrics: Value,
}

/// The deployed version of `name`, or its newest when none is deployed, and whether it is
/// deployed.
fn recipe_of(name: &str) -> Result<(Recipe, bool)> {
    Spi::connect(|client| {
        let rows = client
            .select(
                "SELECT m.id, m.version, m.relation, m.target, m.algorithm, m.task, m.features, m.options, m.metrics,
                        d.model_id IS NOT NULL
                   FROM insight.models m
                   LEFT JOIN LATERAL (SELECT c.model_id FROM insight.deployments c
                                       WHERE c.name OPERATOR(pg_catalog.=) $1 ORDER BY c.id DESC LIMIT 1) d
                          ON d.model_id OPERATOR(pg_catalog.=) m.id
                  WHERE m.name OPERATOR(pg_catalog.=) $1
                  ORDER BY d.model_id IS NOT NULL DESC, m.version DESC LIMIT 1",
                None,
                &[name.into()],
            )
            .map_err(|e| InsightError::data(e.to_string(), "Retry."))?;
        if let Some(r) = rows.into_iter().next() {
            let json = |i: usize| -> Value {
                r.get::<JsonB>(i)
                    .ok()
                    .flatten()
                    .map_or(Value::Null, |j| j.0)
            };
            return Ok((
                Recipe {
                    id: r.get::<i64>(1).ok().flatten().unwrap_or_default(),
                    version: r.get::<i32>(2).ok().flatten().unwrap_or_default(),
                    relation: r.get::<String>(3).ok().flatten().unwrap_or_default(),
                    target: r.get::<String>(4).ok().flatten(),
                    algorithm: r.get::<String>(5).ok().flatten().unwrap_or_default(),
                    task: r.get::<String>(6).ok().flatten().unwrap_or_default(),
                    features: json(7),
                    options: json(8),
                    metrics: json(9),
                },
                r.get::<bool>(10).ok().flatten().unwrap_or(false),
            ));
        }
        Err(InsightError::undefined_object(
            format!("model \"{name}\" does not exist"),
            "Train it with insight.train(...); SELECT name FROM insight.model_registry lists existing models.",
        ))
    })
}

/// Trains `name` again with the recipe of its deployed version (or its newest) on the rows its
/// relation holds now: a new version, deployed only if its key metric is not below the deployed
/// version's by more than `tolerance` (why either way: metrics->'retrain'). Same row as train.
/// With `when_drift_above`, only when the largest PSI of the inputs and scores on the relation's
/// rows now reaches it; otherwise the row of the version that stays, with metrics->'retrain'
/// saying why nothing was trained.
#[pg_extern(volatile, parallel_unsafe)]
fn retrain(
    name: Option<&str>,
    tolerance: default!(Option<f64>, 0.0),
    when_drift_above: default!(Option<f64>, "NULL"),
) -> TableIterator<
    'static,
    (
        name!(model_id, i64),
        name!(name, String),
        name!(version, i32),
        name!(algorithm, String),
        name!(deployed, bool),
        name!(metrics, JsonB),
    ),
> {
    let result = (|| -> Result<_> {
        let name = required(name, "name", "Name the model to train again.")?;
        let tolerance = required(tolerance, "tolerance", "Leave it out for 0.")?;
        catalog::validate_name(name)?;
        if !(tolerance.is_finite() && tolerance >= 0.0) {
            return Err(InsightError::invalid_parameter(
                format!("tolerance must be a number of 0 or more, got {tolerance}"),
                "How far the new version's key metric may fall below the deployed one's, e.g. 0.01.",
            ));
        }
        if let Some(t) = when_drift_above {
            if !(t.is_finite() && t >= 0.0) {
                return Err(InsightError::invalid_parameter(
                    format!("when_drift_above must be a PSI of 0 or more, got {t}"),
                    "0.25 retrains when some input or the scores moved as far as insight.drift calls alert; 0.1 at watch.",
                ));
            }
        }
        // all it may write, in one check, so that the hint gives the whole GRANT: the version,
        // its deployment, both versions' test metrics and the drift that decided
        let mut tables = vec![
            "insight.models",
            "insight.deployments",
            "insight.evaluations",
        ];
        if when_drift_above.is_some() {
            tables.push("insight.drift_history");
        }
        catalog::check_can_write(&tables)?;
        let (recipe, deployed) = recipe_of(name)?;
        // a temporary table lived in the session that trained on it; a later session can have a
        // temporary table of the same schema-qualified name holding anything (pg_temp_N is
        // reused), so its recipe does not carry over (no user schema can start with pg_)
        if recipe.relation.starts_with("pg_temp_") {
            return Err(InsightError::not_supported(
                format!(
                    "model \"{name}\" was trained on a temporary table ({}), which lived only in the session that trained it",
                    recipe.relation
                ),
                "Train a new version with insight.train on the rows it should learn from now.",
            ));
        }
        let relid = crate::spi::select_one::<pg_sys::Oid>(
            "SELECT pg_catalog.to_regclass($1)::pg_catalog.oid",
            &[recipe.relation.as_str().into()],
        )
        .filter(|o| *o != pg_sys::InvalidOid)
        .ok_or_else(|| {
            InsightError::undefined_table(
                format!(
                    "relation {} that model \"{name}\" was trained on does not exist any more",
                    recipe.relation
                ),
                "Train a new model on another relation with insight.train.",
            )
        })
        .and_then(crate::api::regclass::checked)?;
        // the columns by name (supervised and segmentation models); recommenders and
        // lifetime-value models name theirs in the options
        let features: Option<Vec<String>> = match recipe.task.as_str() {
            "recommendation" | "lifetime_value" => None,
            _ => recipe
                .features
                .get("columns")
                .and_then(Value::as_array)
                .map(|cols| {
                    cols.iter()
                        .filter_map(|c| c.get("name").and_then(Value::as_str).map(String::from))
                        .collect()
                }),
        };
        let split = recipe.features.get("split");
        let test_size = split
            .and_then(|s| s.get("test_size"))
            .and_then(Value::as_f64)
            .unwrap_or(0.2);
        let seed = split
            .and_then(|s| s.get("seed"))
            .and_then(Value::as_i64)
            .unwrap_or(42);
        if let Some(threshold) = when_drift_above {
            if matches!(recipe.task.as_str(), "recommendation" | "lifetime_value") {
                return Err(InsightError::not_supported(
                    format!(
                        "model \"{name}\" is a {} model: drift is measured on the input columns of row models, so when_drift_above does not apply",
                        recipe.task.replace('_', "-")
                    ),
                    "Leave when_drift_above out to retrain on a schedule; it applies to classifiers, regressors and segmentations.",
                ));
            }
            let current = format!("{name}@{}", recipe.version);
            let (id, rows) = crate::api::drift::measure(&current, relid)?;
            catalog::record_drift(id, &recipe.relation, &rows);
            let (feature, psi) = rows.iter().map(|(f, p, _)| (f.as_str(), *p)).fold(
                ("", f64::NEG_INFINITY),
                |a, b| if b.1 > a.1 { b } else { a },
            );
            if psi < threshold {
                let reason = format!(
                    "largest drift PSI {psi:.4} ({feature}) is below when_drift_above {threshold}: nothing trained"
                );
                notice!("{name}: {reason}");
                return Ok((
                    recipe.id,
                    name.to_string(),
                    recipe.version,
                    recipe.algorithm,
                    deployed,
                    JsonB(json!({ "retrain": {
                        "trained": false,
                        "reason": reason,
                        "drift": { "feature": feature, "psi": psi },
                    }})),
                ));
            }
        }
        let champion = if deployed {
            Some(Champion {
                model: cache::load(catalog::resolve(&catalog::ModelRef {
                    name,
                    version: Some(recipe.version),
                })?)?,
                version: recipe.version,
                metrics: recipe.metrics.clone(),
                tolerance,
            })
        } else {
            None
        };
        let row = run(&Request {
            name,
            relid,
            target: recipe.target.as_deref(),
            algorithm: Some(&recipe.algorithm),
            features,
            exclude: None,
            options: recipe.options.clone(),
            test_size,
            seed,
            deploy: "if_better",
            champion,
            stored_options: true,
        })?;
        record(
            &row.5 .0,
            row.0,
            deployed.then_some(recipe.id),
            &recipe.relation,
        );
        Ok(row)
    })();
    TableIterator::once(result.or_raise())
}

/// Appends the new version's test metrics (source retrain) and, when they could be compared, the
/// deployed version's on the same test rows (source champion) to insight.evaluations.
fn record(metrics: &Value, new_id: i64, champion_id: Option<i64>, relation: &str) {
    catalog::record_evaluation(new_id, relation, &test_metrics(metrics), "retrain");
    if let (Some(id), Some(c)) = (champion_id, metrics.get("champion")) {
        if c.get("not_comparable").is_none() {
            catalog::record_evaluation(id, relation, &test_metrics(c), "champion");
        }
    }
}

/// The numbers of a metrics object that measure the model (not the timing of its training).
fn test_metrics(metrics: &Value) -> Value {
    let kept: Map<String, Value> = metrics
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, v)| {
            v.is_number() && !matches!(k.as_str(), "train_seconds" | "read_seconds" | "threads")
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Value::Object(kept)
}
