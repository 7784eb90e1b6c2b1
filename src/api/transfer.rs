//! Moving a model between databases: insight.export_model writes a version as one jsonb
//! document (the catalog row, the weights in base64 with their SHA-256); insight.import_model
//! stores such a document as a new version of the name it carries, after checking that it is a
//! pg_insight document, that the weights are the ones exported (checksum) and that they decode
//! into a model of the task the document states.

use crate::ml::report_data::ReportData;
use crate::api::lifecycle::{check_deploy_policy, decide_deploy};
use crate::error::{required, InsightError, OrRaise, Result};
use crate::ml::model::{CodecError, Estimator, Model, FORMAT_VERSION};
use crate::spi::select_one;
use crate::store::catalog;
use pgrx::prelude::*;
use pgrx::JsonB;
use serde_json::{json, Value};

/// What a document's "format" says.
const FORMAT: &str = "pg_insight model";

/// The version `model` names (`'name'`: the deployed one, `'name@3'`) as one jsonb document:
/// everything `insight.models` holds for it, the weights as base64 and their SHA-256.
#[pg_extern(stable, parallel_safe)]
fn export_model(model: Option<&str>) -> JsonB {
    let run = || -> Result<Value> {
        let model = required(model, "model", "Name a model, e.g. 'churn' or 'churn@3'.")?;
        let stored = catalog::resolve(&catalog::parse_ref(model)?)?;
        if !catalog::may_read_weights() {
            return Err(InsightError::insufficient_privilege(
                "permission denied to export a model: its document holds the weights, and this role may not read insight.models.weights",
                "Scoring needs no such right; to move models, the extension's owner can run GRANT SELECT ON insight.models TO <role>.",
            ));
        }
        let report_data = catalog::report_data_expression();
        let doc = select_one::<JsonB>(
            &format!("SELECT pg_catalog.jsonb_build_object(
                      'name', m.name, 'version', m.version, 'task', m.task, 'algorithm', m.algorithm,
                      'relation', m.relation, 'target', m.target, 'features', m.features,
                      'options', m.options, 'metrics', m.metrics, 'n_rows', m.n_rows,
                      'train_seconds', m.train_seconds, 'created_at', m.created_at,
                      'created_by', m.created_by, 'report_data', {report_data},
                      'weights', pg_catalog.encode(m.weights, 'base64'),
                      'weights_sha256', pg_catalog.encode(pg_catalog.sha256(m.weights), 'hex'))
               FROM insight.models m WHERE m.id OPERATOR(pg_catalog.=) $1"),
            &[stored.id.into()],
        )
        .ok_or_else(|| {
            InsightError::undefined_object(
                format!("model \"{model}\" was deleted while it was exported"),
                "Export it again.",
            )
        })?;
        let mut doc = doc.0;
        doc["format"] = json!(FORMAT);
        doc["format_version"] = json!(FORMAT_VERSION);
        doc["extension_version"] = json!(env!("CARGO_PKG_VERSION"));
        Ok(doc)
    };
    JsonB(run().or_raise())
}

fn foreign(why: impl Into<String>) -> InsightError {
    InsightError::invalid_parameter(
        format!("not a pg_insight model document: {}", why.into()),
        "Import what insight.export_model returned; only its \"name\" may be edited.",
    )
}

/// The algorithm names whose weights decode into this model.
fn algorithms_of(model: &Model) -> Vec<&'static str> {
    match &model.estimator {
        Estimator::Linear { .. } => vec!["logistic", "linear", "text_logistic"],
        Estimator::Mlp(_) => vec!["mlp"],
        Estimator::KMeans { .. } => vec!["kmeans"],
        Estimator::Agglomerative { .. } => vec!["agglomerative"],
        Estimator::BgNbd(_) => vec!["bgnbd"],
        Estimator::ParetoNbd(_) => vec!["pareto_nbd"],
        Estimator::GammaGamma { .. } => vec!["gamma_gamma"],
        Estimator::Boosted(_) => vec!["gbdt"],
        Estimator::Forest(_) => vec!["random_forest"],
        Estimator::Recommender(r) => vec![r.algorithm()],
    }
}

/// The features description of an imported version: rebuilt from its weights (the document's
/// copy could describe other columns than the weights read), with the document's split and
/// drift reference where they read as such. A recommender's (its key columns) is kept, if small.
fn imported_features(doc: &Value, model: &Model) -> Result<Value> {
    let given = &doc["features"];
    if matches!(model.estimator, Estimator::Recommender(_)) {
        if given.to_string().len() > 65_536 {
            return Err(foreign("\"features\" is larger than a recommender's description"));
        }
        return Ok(given.clone());
    }
    let split = &given["split"];
    let test_size = split["test_size"].as_f64().filter(|t| (0.0..1.0).contains(t));
    let seed = split["seed"].as_i64();
    let (Some(test_size), Some(seed)) = (test_size, seed) else {
        return Err(foreign("\"features\".\"split\" is not a test_size in [0, 1) and a seed"));
    };
    let mut features = crate::api::train::features_json(model, test_size, seed);
    if let Some(r) = given.get("reference") {
        if serde_json::from_value::<crate::ml::drift::Reference>(r.clone()).is_ok() {
            features["reference"] = r.clone();
        }
    }
    Ok(features)
}

fn text_field<'a>(doc: &'a Value, key: &str) -> Result<&'a str> {
    doc.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| foreign(format!("\"{key}\" is missing or not a string")))
}

/// Stores a document from insight.export_model as the next version of its `name` (edit the
/// name to import under another), deployed by `deploy` as insight.train would deploy it.
/// Returns the new model id.
#[pg_extern(volatile, parallel_unsafe)]
fn import_model(
    doc: Option<crate::api::json_arg::JsonArg>,
    deploy: default!(Option<&str>, "'if_better'"),
) -> i64 {
    let run = || -> Result<i64> {
        // read without pgrx's JsonB, which panics (XX000) on documents nested deeper than 128
        let doc = required(doc, "doc", "Pass what insight.export_model returned.")?.parse("doc")?;
        let deploy = required(
            deploy,
            "deploy",
            "Use 'always', 'if_better' (the default) or 'never'.",
        )?;
        if doc.get("format").and_then(Value::as_str) != Some(FORMAT) {
            return Err(foreign("its \"format\" is not \"pg_insight model\""));
        }
        match doc.get("format_version").and_then(Value::as_u64) {
            Some(v) if (1..=FORMAT_VERSION as u64).contains(&v) => {}
            Some(v) if v > FORMAT_VERSION as u64 => {
                return Err(InsightError::not_supported(
                    format!("the model document is in model format {v}, which this pg_insight release (format {FORMAT_VERSION}) cannot read"),
                    "Import it into a database with the pg_insight release that exported it, or a newer one.",
                ))
            }
            _ => return Err(foreign("\"format_version\" is not a model format number")),
        }
        let name = text_field(&doc, "name")?;
        catalog::validate_name(name)?;
        check_deploy_policy(deploy)?;
        let (task, algorithm, relation) = (
            text_field(&doc, "task")?,
            text_field(&doc, "algorithm")?,
            text_field(&doc, "relation")?,
        );
        let target = match doc.get("target") {
            None | Some(Value::Null) => None,
            Some(Value::String(t)) => Some(t.as_str()),
            Some(_) => return Err(foreign("\"target\" is not a string or null")),
        };
        for key in ["features", "options", "metrics"] {
            if !doc.get(key).is_some_and(Value::is_object) {
                return Err(foreign(format!("\"{key}\" is not an object")));
            }
        }
        let n_rows = doc
            .get("n_rows")
            .and_then(Value::as_i64)
            .filter(|n| *n >= 0)
            .ok_or_else(|| foreign("\"n_rows\" is not a count"))?;
        let train_seconds = doc
            .get("train_seconds")
            .and_then(Value::as_f64)
            .filter(|s| s.is_finite() && *s >= 0.0)
            .ok_or_else(|| foreign("\"train_seconds\" is not a duration"))?;
        // the weights: base64 decoded and their checksum compared by PostgreSQL itself
        let (weights, sha) = (
            text_field(&doc, "weights")?,
            text_field(&doc, "weights_sha256")?,
        );
        let decoded = crate::spi::select_one::<Vec<u8>>(
            "SELECT pg_catalog.decode($1, 'base64')",
            &[weights.into()],
        )
        .ok_or_else(|| foreign("\"weights\" is not base64"))?;
        let matches = select_one::<bool>(
            "SELECT pg_catalog.encode(pg_catalog.sha256($1), 'hex') OPERATOR(pg_catalog.=) $2",
            &[decoded.as_slice().into(), sha.into()],
        );
        if matches != Some(true) {
            return Err(InsightError::data(
                "the model document's weights do not match their SHA-256: it was edited or damaged",
                "Export the model again; only its \"name\" may be edited.",
            ));
        }
        let model = Model::decode(&decoded).map_err(|e| match e {
            CodecError::UnsupportedVersion(v) => InsightError::not_supported(
                format!("the model document holds weights in model format {v}, which this pg_insight release cannot read"),
                "Import it into a database with the pg_insight release that exported it, or a newer one.",
            ),
            CodecError::NotAModel => InsightError::data(
                "the model document's weights are not a pg_insight model (no model header)",
                "Export the model again.",
            ),
            CodecError::Corrupt(why) => InsightError::data(
                format!("the model document's weights are not a whole model: {why}"),
                "Export the model again.",
            ),
        })?;
        let algorithms = algorithms_of(&model);
        if model.task.as_str() != task || !algorithms.contains(&algorithm) {
            return Err(foreign(format!(
                "it says task {task} and algorithm {algorithm}, but its weights hold a {} model of algorithm {}",
                model.task.as_str(),
                algorithms.join(" or ")
            )));
        }
        // where the version came from, next to its training metrics
        let mut metrics = doc["metrics"].clone();
        metrics["imported_from"] = json!({
            "version": doc.get("version"),
            "created_at": doc.get("created_at"), "created_by": doc.get("created_by"),
            "extension_version": doc.get("extension_version"),
        });
        let (id, _) = catalog::insert(catalog::NewModel {
            name,
            task,
            algorithm,
            relation,
            target,
            features: imported_features(&doc, &model)?,
            options: doc["options"].clone(),
            metrics: metrics.clone(),
            weights: decoded,
            n_rows,
            train_seconds,
            // the charts' numbers travel with the model when they read as such
            report_data: doc
                .get("report_data")
                .filter(|v| ReportData::from_json(v).is_some_and(|d| d.bounded()))
                .cloned(),
        });
        decide_deploy(
            name,
            deploy,
            model.task,
            &metrics,
            id,
            crate::store::catalog::Cause::Import,
        );
        Ok(id)
    };
    run().or_raise()
}
