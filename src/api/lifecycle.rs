//! insight.deploy: choose which version of a model name serves predictions.

use crate::api::train::key_metric;
use crate::error::{required, InsightError, OrRaise, Result};
use crate::ml::model::Task;
use crate::store::catalog;
use pgrx::prelude::*;

/// Deploys `version` of `name`, or with version NULL the best (strategy 'best', by the task's key
/// metric) or newest (strategy 'latest') version. Returns the deployed model id.
#[pg_extern(volatile, parallel_unsafe)]
fn deploy(name: Option<&str>, version: default!(Option<i32>, "NULL"), strategy: default!(Option<&str>, "'best'")) -> i64 {
    let run = || -> Result<i64> {
        let name = required(name, "name", "Name the model to deploy.")?;
        let strategy = required(strategy, "strategy", "Use 'best' (the default) or 'latest', or pass a version.")?;
        catalog::validate_name(name)?;
        if catalog::latest_version(name).is_none() {
            return Err(InsightError::undefined_object(
                format!("model \"{name}\" does not exist"),
                "Train it with insight.train(...); SELECT name FROM insight.model_registry lists existing models.",
            ));
        }
        let (id, strategy, reason) = match version {
            Some(v) => {
                let id = catalog::resolve(&catalog::ModelRef { name, version: Some(v) })?.id;
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
                    .unwrap();
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
                    let key = key_metric(if task == "regression" { Task::Regression } else { Task::Binary });
                    let id = Spi::get_one_with_args::<i64>(
                        "SELECT id FROM insight.models WHERE name OPERATOR(pg_catalog.=) $1
                          ORDER BY (metrics OPERATOR(pg_catalog.->>) $2)::pg_catalog.float8 DESC NULLS LAST,
                                   version DESC LIMIT 1",
                        &[name.into(), key.into()],
                    )
                    .ok()
                    .flatten()
                    .unwrap();
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
