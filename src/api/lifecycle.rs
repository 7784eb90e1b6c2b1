//! insight.deploy: choose which version of a model name serves predictions.

use crate::error::{required, InsightError, OrRaise, Result};
use crate::ml::model::Task;
use crate::store::catalog;
use pgrx::prelude::*;
use serde_json::Value;

/// Deploys `version` of `name`, or with version NULL the best (strategy 'best', by the task's key
/// metric) or newest (strategy 'latest') version. Returns the deployed model id.
#[pg_extern(volatile, parallel_unsafe)]
fn deploy(
    name: Option<&str>,
    version: default!(Option<i32>, "NULL"),
    strategy: default!(Option<&str>, "'best'"),
) -> i64 {
    let run = || -> Result<i64> {
        let name = required(name, "name", "Name the model to deploy.")?;
        let strategy = required(
            strategy,
            "strategy",
            "Use 'best' (the default) or 'latest', or pass a version.",
        )?;
        catalog::validate_name(name)?;
        catalog::check_can_write(&["insight.deployments"])?;
        if catalog::latest_version(name).is_none() {
            return Err(InsightError::undefined_object(
                format!("model \"{name}\" does not exist"),
                "Train it with insight.train(...); SELECT name FROM insight.model_registry lists existing models.",
            ));
        }
        let (id, strategy, reason) = match version {
            Some(v) => {
                let id = catalog::resolve(&catalog::ModelRef {
                    name,
                    version: Some(v),
                })?
                .id;
                (id, "manual", format!("version {v} chosen by hand"))
            }
            None => match strategy {
                "latest" => {
                    let id = Spi::get_one_with_args::<i64>(
                        "SELECT id FROM insight.models WHERE name OPERATOR(pg_catalog.=) $1 ORDER BY version DESC LIMIT 1",
                        &[name.into()],
                    )
                    .ok()
                    .flatten()
                    .ok_or_else(|| gone(name))?;
                    (id, "latest", "newest version".to_string())
                }
                "best" => {
                    let task = Spi::get_one_with_args::<String>(
                        "SELECT task FROM insight.models WHERE name OPERATOR(pg_catalog.=) $1 ORDER BY version DESC LIMIT 1",
                        &[name.into()],
                    )
                    .ok()
                    .flatten()
                    .unwrap_or_default();
                    let key = key_metric(match task.as_str() {
                        "regression" => Task::Regression,
                        "segmentation" => Task::Segmentation,
                        "lifetime_value" => Task::LifetimeValue,
                        "recommendation" => Task::Recommendation,
                        _ => Task::Binary,
                    });
                    let id = Spi::get_one_with_args::<i64>(
                        "SELECT id FROM insight.models WHERE name OPERATOR(pg_catalog.=) $1
                          ORDER BY (metrics OPERATOR(pg_catalog.->>) $2)::pg_catalog.float8 DESC NULLS LAST,
                                   version DESC LIMIT 1",
                        &[name.into(), key.into()],
                    )
                    .ok()
                    .flatten()
                    .ok_or_else(|| gone(name))?;
                    (id, "best", format!("highest {key}"))
                }
                other => {
                    return Err(InsightError::invalid_parameter(
                        format!("unknown deploy strategy \"{other}\""),
                        "Use 'best' (highest test metric), 'latest', or pass a version number.",
                    ))
                }
            },
        };
        catalog::deploy(name, id, strategy, &reason);
        Ok(id)
    };
    run().or_raise()
}

/// The versions of `name` vanished between two statements (a concurrent DELETE).
fn gone(name: &str) -> InsightError {
    InsightError::undefined_object(
        format!("model \"{name}\" has no versions any more"),
        "Another session deleted them; train again.",
    )
}

/// The metric that decides "better": ROC AUC for classifiers, R^2 for regression, the
/// silhouette for segmentation.
pub fn key_metric(task: Task) -> &'static str {
    match task {
        Task::Binary | Task::Multiclass => "roc_auc",
        Task::Regression => "r2",
        Task::Segmentation => "silhouette",
        Task::LifetimeValue => "log_likelihood",
        Task::Recommendation => "ndcg_at_k",
    }
}

/// Checks a `deploy` argument (always, if_better or never) and that the caller may write what
/// storing a version with it writes.
pub fn check_deploy_policy(deploy: &str) -> Result<()> {
    if !["always", "if_better", "never"].contains(&deploy) {
        return Err(InsightError::invalid_parameter(
            format!("deploy must be always, if_better or never, got \"{deploy}\""),
            "if_better deploys the new version when its test metric beats the deployed one; never stores it for insight.deploy.",
        ));
    }
    catalog::check_can_write(if deploy == "never" {
        &["insight.models"]
    } else {
        &["insight.models", "insight.deployments"]
    })
}

pub fn decide_deploy(name: &str, policy: &str, task: Task, metrics: &Value, id: i64) -> bool {
    let key = key_metric(task);
    let (deploy, reason) = match policy {
        "always" => (true, "deploy => always".to_string()),
        "never" => (false, String::new()),
        _ => match catalog::deployed_metrics(name) {
            None => (true, "first deployed version".to_string()),
            Some((_, old)) => {
                let new_v = metrics.get(key).and_then(Value::as_f64);
                let old_v = old.get(key).and_then(Value::as_f64);
                match (new_v, old_v) {
                    (Some(n), Some(o)) if n > o => (true, format!("{key} {n:.4} > {o:.4}")),
                    (Some(_), None) => (true, format!("deployed version has no {key}")),
                    _ => (false, String::new()),
                }
            }
        },
    };
    if deploy {
        catalog::deploy(name, id, policy, &reason);
    }
    deploy
}
