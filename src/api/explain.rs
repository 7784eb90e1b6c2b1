//! insight.explain: what each input contributed to a score.

use crate::api::predict::{scores, CallSite};
use crate::error::InsightError;
use crate::ml::metrics::argmax;
use crate::ml::model::Task;
use pgrx::prelude::*;
use pgrx::AnyElement;

/// Additive explanation of a score: one row per encoded input plus a base row, and the class
/// explained (the positive class of a binary classifier; for multiclass `class`, or the
/// predicted class; NULL for regression).
/// Linear models: coefficient x scaled value, plus `(intercept)`; the rows sum to the log-odds
/// (binary), the class's softmax score (multiclass) or the predicted value (regression). Text
/// columns' coefficients are centred on the training rows (Estimator::center_categories), so a
/// category's contribution is its difference from an average row.
/// Boosted trees: exact TreeSHAP values, plus `(baseline)` = the expected raw score over the
/// training rows; the rows sum to the raw score (log-odds, class score or value) exactly.
/// Networks: integrated gradients from the mean training row, plus `(baseline)` = the output at
/// that row; the rows sum to the prediction (probability or value) up to 0.1%, and where the
/// integration misses more than that (inputs far outside the training range), an
/// `(unexplained)` row holds the rest.
/// The TreeSHAP work one explained row may take (steps: leaves x (depth + 1)^2 over the trees;
/// a second or so). pg_insight's own trees stay far below: 100 trees of 31 leaves need 4e5.
const MAX_SHAP_COST: f64 = 1e9;

#[pg_extern(stable, parallel_safe)]
#[allow(clippy::type_complexity)]
fn explain(
    model: Option<&str>,
    row_or_array: Option<AnyElement>,
    class: default!(Option<&str>, "NULL"),
) -> TableIterator<
    'static,
    (
        name!(feature, String),
        name!(value, Option<f64>),
        name!(contribution, f64),
        name!(class, Option<String>),
    ),
> {
    let (Some(model), Some(row)) = (model, row_or_array) else {
        return TableIterator::new(Vec::new()); // a NULL row has no explanation
    };
    // a set-returning function: fn_extra belongs to the SRF machinery, so no call-site state
    let (inputs, contrib, base, linear, explained, unexplained) = scores(
        &mut CallSite::default(),
        model,
        &row,
        true,
        |m, x, out| {
            if m.task == Task::LifetimeValue {
                return Err(InsightError::not_supported(
                    format!("model \"{model}\" is a lifetime-value model: P(alive) is not an additive score"),
                    "insight.model_info(model)->'params' shows its parameters; insight.p_alive and insight.expected_purchases score a customer.",
                ));
            }
            if m.task == Task::Segmentation {
                return Err(InsightError::not_supported(
                format!("model \"{model}\" is a segmentation model: a segment is not an additive score"),
                "insight.model_info(model)->'parameters' shows each segment's centre; insight.segment_distance how far a row is from it.",
            ));
            }
            let (k, explained) = match (m.task, class) {
                (
                    Task::Regression
                    | Task::Segmentation
                    | Task::LifetimeValue
                    | Task::Recommendation,
                    None,
                ) => (0, None),
                (Task::Binary, None) => (0, Some(m.classes[1].clone())),
                (Task::Multiclass, None) => (argmax(out), Some(m.classes[argmax(out)].clone())),
                (Task::Binary, Some(c)) if c == m.classes[1] => (0, Some(c.to_string())),
                (Task::Multiclass, Some(c)) if m.classes.iter().any(|l| l == c) => (
                    m.classes.iter().position(|l| l == c).unwrap(),
                    Some(c.to_string()),
                ),
                (_, Some(c)) => {
                    return Err(InsightError::invalid_parameter(
                        format!("model \"{model}\" cannot explain class \"{c}\""),
                        match m.task {
                            Task::Regression
                            | Task::Segmentation
                            | Task::LifetimeValue
                            | Task::Recommendation => {
                                "A regression model has no classes: leave class out.".to_string()
                            }
                            Task::Binary => format!(
                                "A binary classifier is explained for its positive class, \"{}\".",
                                m.classes[1]
                            ),
                            Task::Multiclass => format!("Classes: {}.", m.classes.join(", ")),
                        },
                    ))
                }
            };
            // a model row made by hand can hold trees no training grows (4,096 leaves in a
            // chain): TreeSHAP would run for minutes per row, deaf to cancel
            if let crate::ml::model::Estimator::Boosted(t)
            | crate::ml::model::Estimator::Forest(t) = &m.estimator
            {
                let cost = t.shap_cost();
                if cost > MAX_SHAP_COST {
                    return Err(InsightError::program_limit(
                        format!("explaining a row of model \"{model}\" takes {cost:.3e} TreeSHAP steps, more than the {MAX_SHAP_COST:.0e} a call may take"),
                        "Train with fewer or shallower trees (options max_leaves, max_depth, rounds, trees); insight.model_info(model)->'parameters'->'gain_importance' ranks the inputs without explaining rows.",
                    ));
                }
            }
            let (c, b) = m
                .explain(x, k)
                .expect("every model but segmentation explains");
            use crate::ml::model::Estimator;
            let linear = matches!(m.estimator, Estimator::Linear { .. });
            // linear models and trees explain the raw score exactly; integrated gradients follow
            // the path from the baseline in 1024 steps, and far outside the training range the
            // network saturates within the first step and the path misses the change: whatever
            // the contributions do not reach is shown, never dropped
            let unexplained =
                if linear || matches!(m.estimator, Estimator::Boosted(_) | Estimator::Forest(_)) {
                    0.0
                } else {
                    out[k] - b - c.iter().sum::<f64>()
                };
            let unexplained =
                (unexplained.abs() > 1e-3 * out[k].abs().max(1.0)).then_some(unexplained);
            Ok((
                m.preprocessor.describe_inputs(x),
                c,
                b,
                linear,
                explained,
                unexplained,
            ))
        },
    );
    // + 0.0 turns -0 into 0
    let mut out: Vec<(String, Option<f64>, f64, Option<String>)> = inputs
        .into_iter()
        .zip(contrib)
        .map(|((n, v), c)| (n, v.map(|v| v + 0.0), c + 0.0, explained.clone()))
        .collect();
    out.push((
        if linear { "(intercept)" } else { "(baseline)" }.to_string(),
        None,
        base + 0.0,
        explained.clone(),
    ));
    if let Some(gap) = unexplained {
        out.push(("(unexplained)".to_string(), None, gap, explained));
    }
    TableIterator::new(out)
}
