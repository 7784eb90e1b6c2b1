//! insight.top_terms: why a text model scores reviews as it does, as the n-grams that push its
//! free-text columns' scores most towards each class.

use crate::error::{required, InsightError, OrRaise, Result};
use crate::ml::model::Task;
use crate::ml::preprocess::Encoding;
use crate::store::{cache, catalog};
use pgrx::prelude::*;

/// For each free-text column of `model` and each class, the `n` n-grams of largest weight
/// towards that class (for two classes: the positive class's largest weights, and the negative
/// class's most negative ones, shown as positive weights towards it).
#[pg_extern(stable, parallel_safe)]
#[allow(clippy::type_complexity)]
fn top_terms(
    model: Option<&str>,
    n: default!(Option<i32>, 20),
) -> TableIterator<
    'static,
    (
        name!(feature, String),
        name!(class, String),
        name!(term, String),
        name!(weight, f64),
    ),
> {
    let run = || -> Result<Vec<(String, String, String, f64)>> {
        let model_ref = required(model, "model", "Name a model, e.g. 'satisfaction'.")?;
        let n = required(n, "n", "Leave it out for 20.")?;
        if !(1..=1000).contains(&n) {
            return Err(InsightError::invalid_parameter(
                format!("n must be from 1 to 1000, got {n}"),
                "The number of n-grams per class and column, e.g. 20.",
            ));
        }
        let m = cache::load(catalog::resolve(&catalog::parse_ref(model_ref)?)?)?;
        let mut out = Vec::new();
        for f in &m.preprocessor.features {
            let Encoding::Text(t) = &f.encoding else {
                continue;
            };
            let mut push = |class: &str, terms: Vec<(String, f64)>| {
                for (term, w) in terms.into_iter().take(n as usize) {
                    out.push((f.name.clone(), class.to_string(), term, w));
                }
            };
            if m.task == Task::Binary {
                let top = t.top_terms(0);
                let against: Vec<(String, f64)> =
                    top.iter().rev().map(|(g, w)| (g.clone(), -w)).collect();
                push(&m.classes[1], top);
                push(&m.classes[0], against);
            } else {
                for (c, class) in m.classes.iter().enumerate() {
                    push(class, t.top_terms(c));
                }
            }
        }
        if out.is_empty() {
            return Err(InsightError::not_supported(
                format!("model \"{model_ref}\" has no free-text columns"),
                "top_terms explains text models: train with algorithm => 'text_logistic', or options => '{\"text\": [\"review\"]}'.",
            ));
        }
        Ok(out)
    };
    TableIterator::new(run().or_raise())
}
