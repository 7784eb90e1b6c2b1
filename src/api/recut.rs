//! insight.recut: another k for a hierarchical segmentation, as a new version, from the merge
//! tree stored with the model (no data is read; see ml::algorithms::agglomerative::recut).

use crate::api::lifecycle::decide_deploy;
use crate::error::{required, InsightError, OrRaise, Result};
use crate::ml::algorithms::agglomerative;
use crate::store::{cache, catalog};
use pgrx::prelude::*;
use pgrx::JsonB;
use serde_json::json;
use std::time::Instant;

/// A new version of an agglomerative model (named `model`, or `model@version`) cut into `k`
/// segments. `deploy` as for insight.train; by default the new version waits for insight.deploy.
#[pg_extern(volatile, parallel_unsafe)]
fn recut(
    model: Option<&str>,
    k: Option<i32>,
    deploy: default!(Option<&str>, "'never'"),
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
    let run = || -> Result<_> {
        let model = required(
            model,
            "model",
            "Name the agglomerative model to cut again, e.g. 'segments' or 'segments@2'.",
        )?;
        let k = required(k, "k", "Pass the number of segments, e.g. k => 6.")?;
        let deploy = required(
            deploy,
            "deploy",
            "Use 'never' (the default), 'always' or 'if_better'.",
        )?;
        crate::api::lifecycle::check_deploy_policy(deploy)?;
        let started = Instant::now();
        let r = catalog::parse_ref(model)?;
        let stored = catalog::resolve(&r)?;
        let m = cache::load(stored)?;
        let Some(recut) = agglomerative::recut(&m, k as i64) else {
            return Err(InsightError::not_supported(
                format!("insight.recut needs an agglomerative model, but model \"{model}\" is not one"),
                "Only hierarchical clustering keeps a merge tree to cut again; for another k of a k-means model, train again with options.k.",
            ));
        };
        let (new_model, info) = recut?;
        // what is stored must load again (the source passed its checks; this guards the cut)
        new_model.check().map_err(|why| {
            InsightError::corrupt(
                format!("model \"{model}\" cannot be cut into {k} segments: {why}"),
                "Retrain the model.",
            )
        })?;
        let src = catalog::row(stored.id).ok_or_else(|| {
            InsightError::undefined_object(
                format!("model \"{model}\" was dropped while it was being cut"),
                "Run insight.recut again.",
            )
        })?;
        let mut options = src.options.clone();
        if let Some(o) = options.as_object_mut() {
            o.remove("k_range");
            o.insert("k".into(), json!(k));
        }
        let mut metrics = info;
        for key in ["n_rows", "linkage", "sampled"] {
            if let Some(v) = src.metrics.get(key) {
                metrics[key] = v.clone();
            }
        }
        metrics["recut_from"] = json!({ "version": src.version, "k": src.metrics.get("k") });
        let seconds = started.elapsed().as_secs_f64();
        metrics["train_seconds"] = json!(seconds);
        let (id, version) = catalog::insert(catalog::NewModel {
            name: &src.name,
            task: new_model.task.as_str(),
            algorithm: &src.algorithm,
            relation: &src.relation,
            target: src.target.as_deref(),
            features: src.features,
            options,
            metrics: metrics.clone(),
            weights: new_model.encode(),
            n_rows: src.n_rows,
            train_seconds: seconds,
            report_data: None,
        });
        let deployed = decide_deploy(
            &src.name,
            deploy,
            new_model.task,
            &metrics,
            id,
            crate::store::catalog::Cause::Train,
        );
        Ok((
            id,
            src.name,
            version,
            src.algorithm,
            deployed,
            JsonB(metrics),
        ))
    };
    TableIterator::once(run().or_raise())
}
