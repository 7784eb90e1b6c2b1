//! The steps of fitting a lifetime-value model on customers' purchase histories: the columns
//! read as they are (no scaling; NULL is an error), the algorithm's recipe, its fit statistics.
//! There is no held-out split: the model describes the customers it was fitted on.

use super::supervised::{object, prep_error, Inputs, Trained};
use crate::error::Result;
use crate::ml::algorithms::{Target, TrainingData};
use crate::ml::model::{Model, Task};
use crate::ml::preprocess::Preprocessor;
use serde_json::json;

pub fn fit(inp: &Inputs) -> Result<Trained> {
    let n = inp.frame.n_rows;
    let rows: Vec<usize> = (0..n).collect();
    let pre =
        Preprocessor::fit(inp.specs, &inp.frame.columns, &rows, inp.prep).map_err(prep_error)?;
    let x = pre
        .encode_rows(&inp.frame.columns, &rows)
        .map_err(prep_error)?;
    let started = std::time::Instant::now();
    let mut fitted = inp.recipe.fit(
        &TrainingData {
            x: &x,
            target: Target::None,
            weights: &[],
        },
        inp.ctx,
    )?;
    fitted
        .info
        .insert("fit_seconds".into(), json!(started.elapsed().as_secs_f64()));
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
    Ok(Trained {
        model,
        metrics,
        options,
    })
}
