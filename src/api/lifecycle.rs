//! insight.deploy: choose which version of a model name serves predictions (and go back to the
//! one before); insight.prune: drop old versions nobody serves.

use crate::error::{required, InsightError, OrRaise, Result};
use crate::ml::model::Task;
use crate::store::catalog;
use pgrx::prelude::*;
use serde_json::Value;

/// Deploys `version` of `name`, or with version NULL the best (strategy 'best', by the task's key
/// metric), the newest (strategy 'latest') or the previously deployed (strategy 'rollback')
/// version. Returns the deployed model id.
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
                "rollback" => {
                    // the newest deployment of another version than the one serving now
                    let id = Spi::get_one_with_args::<i64>(
                        "SELECT d.model_id FROM insight.deployments d
                          WHERE d.name OPERATOR(pg_catalog.=) $1
                            AND d.model_id OPERATOR(pg_catalog.<>) (SELECT c.model_id FROM insight.deployments c
                                  WHERE c.name OPERATOR(pg_catalog.=) $1 ORDER BY c.id DESC LIMIT 1)
                          ORDER BY d.id DESC LIMIT 1",
                        &[name.into()],
                    )
                    .ok()
                    .flatten()
                    .ok_or_else(|| {
                        InsightError::undefined_object(
                            format!("model \"{name}\" has no earlier deployment to roll back to"),
                            "SELECT * FROM insight.deployments WHERE name = '...' ORDER BY id shows its history; deploy a version by number.",
                        )
                    })?;
                    let v = Spi::get_one_with_args::<i32>(
                        "SELECT version FROM insight.models WHERE id OPERATOR(pg_catalog.=) $1",
                        &[id.into()],
                    )
                    .ok()
                    .flatten()
                    .unwrap_or_default();
                    (id, "rollback", format!("back to version {v}"))
                }
                other => {
                    return Err(InsightError::invalid_parameter(
                        format!("unknown deploy strategy \"{other}\""),
                        "Use 'best' (highest test metric), 'latest', 'rollback' (the version deployed before), or pass a version number.",
                    ))
                }
            },
        };
        let cause = if strategy == "rollback" {
            catalog::Cause::Rollback
        } else {
            catalog::Cause::Manual
        };
        catalog::deploy(name, id, strategy, &reason, cause);
        Ok(id)
    };
    run().or_raise()
}

/// Deletes the versions of `name` that are neither deployed nor among the `keep` newest, with
/// their deployment history (the rows of insight.deployments that name them). Returns how many
/// versions were deleted.
#[pg_extern(volatile, parallel_unsafe)]
fn prune(name: Option<&str>, keep: default!(Option<i32>, 3)) -> i64 {
    let run = || -> Result<i64> {
        let name = required(name, "name", "Name the model whose old versions to drop.")?;
        let keep = required(keep, "keep", "Leave it out to keep the 3 newest versions.")?;
        catalog::validate_name(name)?;
        if keep < 0 {
            return Err(InsightError::invalid_parameter(
                format!("keep must be 0 or more, got {keep}"),
                "keep counts the newest versions kept besides the deployed one.",
            ));
        }
        if catalog::latest_version(name).is_none() {
            return Err(InsightError::undefined_object(
                format!("model \"{name}\" does not exist"),
                "SELECT name FROM insight.model_registry lists existing models.",
            ));
        }
        // DELETE on insight.models (deployments go with their models: ON DELETE CASCADE)
        let may = crate::spi::select_one::<bool>(
            "SELECT pg_catalog.has_table_privilege('insight.models', 'DELETE')",
            &[],
        );
        if may != Some(true) {
            return Err(InsightError::insufficient_privilege(
                "permission denied to delete from insight.models: pruning versions needs DELETE on it",
                "GRANT DELETE ON insight.models TO the role that prunes.",
            ));
        }
        Ok(Spi::get_one_with_args::<i64>(
            "WITH gone AS (
               DELETE FROM insight.models m
                WHERE m.name OPERATOR(pg_catalog.=) $1
                  AND m.id OPERATOR(pg_catalog.<>) ALL (ARRAY(
                        SELECT d.model_id FROM insight.deployments d WHERE d.name OPERATOR(pg_catalog.=) $1
                         ORDER BY d.id DESC LIMIT 1))
                  AND m.id OPERATOR(pg_catalog.<>) ALL (ARRAY(
                        SELECT n.id FROM insight.models n WHERE n.name OPERATOR(pg_catalog.=) $1
                         ORDER BY n.version DESC LIMIT $2))
               RETURNING 1)
             SELECT pg_catalog.count(*) FROM gone",
            &[name.into(), keep.into()],
        )
        .ok()
        .flatten()
        .unwrap_or(0))
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

pub fn decide_deploy(
    name: &str,
    policy: &str,
    task: Task,
    metrics: &Value,
    id: i64,
    cause: catalog::Cause,
) -> bool {
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
        catalog::deploy(name, id, policy, &reason, cause);
    }
    deploy
}
