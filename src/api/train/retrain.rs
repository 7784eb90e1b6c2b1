//! insight.retrain: the recipe of the version deployed now (relation, target, columns, options,
//! split) trained again on today's rows as a new version, which replaces the deployed one only
//! if it does not fall behind it: supervised models are compared on the new test rows (the
//! deployed version scores them too), the others by their stored metrics.

use super::{run, Champion, Request};
use crate::error::{required, InsightError, OrRaise, Result};
use crate::store::{cache, catalog};
use pgrx::prelude::*;
use pgrx::JsonB;
use serde_json::Value;

/// The stored recipe of a version.
struct Recipe {
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
#[pg_extern(volatile, parallel_unsafe)]
fn retrain(
    name: Option<&str>,
    tolerance: default!(Option<f64>, 0.0),
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
        let (recipe, deployed) = recipe_of(name)?;
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
        })?;
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
        run(&Request {
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
        })
    })();
    TableIterator::once(result.or_raise())
}
