//! The steps of fitting a lifetime-value model on customers' purchase histories: the columns
//! read as they are (no scaling; NULL is an error), the algorithm's recipe, its fit statistics.
//! There is no held-out split: the model describes the customers it was fitted on.

use super::supervised::{object, Inputs, Trained};
use crate::error::Result;
use crate::ml::model::{Model, Task};
use crate::ml::report_data;
use serde_json::json;

pub fn fit(inp: &Inputs) -> Result<Trained> {
    let n = inp.frame.n_rows;
    let (pre, x, fitted) = super::segments::fit_all_rows(inp)?;
    let model = Model {
        task: Task::LifetimeValue,
        classes: vec![],
        threshold: 0.5,
        preprocessor: pre,
        estimator: fitted.estimator,
    };
    let mut metrics = object(json!({ "n_rows": n }));
    metrics.extend(fitted.info);
    let mut options = object(inp.recipe.options());
    options.extend(object(inp.prep.to_json()));
    // the summary's unit (a Gamma-Gamma model stores it; insight.clv_summary's default else)
    let unit = options.get("unit").and_then(|u| u.as_str()).unwrap_or("week").to_string();
    let report = report_data::value_distributions(&model, &x, report_data::year_in(&unit), &unit)
        .map(report_data::ReportData::Value);
    Ok(Trained {
        model,
        metrics,
        options,
        report,
    })
}
