//! `algorithm => 'bgnbd'` (and, with the same recipe, 'pareto_nbd'): the BG/NBD buy-till-you-die
//! model (ml::clv::bgnbd; Pareto/NBD: ml::clv::pareto_nbd) over a relation of
//! customers' purchase histories: columns frequency, recency and t (as insight.clv_summary gives
//! them; other names through options), read as they are (no scaling, NULL is an error).

use super::{Algorithm, FitContext, Fitted, Learns, Recipe, RecipeContext, TrainingData};
use crate::ml::clv::bgnbd::{customer_of, fit};
use crate::ml::model::Estimator;
use crate::ml::options::Options;
use crate::ml::problem::Problem;
use serde_json::{json, Value};

pub static ALGORITHM: Algorithm = Algorithm {
    name: "bgnbd",
    learns: &[Learns::Histories],
    default_for: None,
    options: &["penalizer", "frequency", "recency", "t"],
    native_inputs: false,
    all_text_is_free: false,
    recipe: read_recipe,
};

/// The history columns a BG/NBD relation is read from, in the model's input order, with the
/// defaults insight.clv_summary's columns have.
pub const HISTORY_COLUMNS: [(&str, &str); 3] = [
    ("frequency", "frequency"),
    ("recency", "recency"),
    ("t", "t"),
];

/// Which transaction model a history recipe fits.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Transactions {
    BgNbd,
    ParetoNbd,
}

impl Transactions {
    fn name(self) -> &'static str {
        match self {
            Transactions::BgNbd => "BG/NBD",
            Transactions::ParetoNbd => "Pareto/NBD",
        }
    }
}

/// A transaction model fitted on (frequency, recency, t): BG/NBD or Pareto/NBD.
pub(super) struct HistoryRecipe {
    model: Transactions,
    penalizer: f64,
    columns: [String; 3],
}

fn read_recipe(o: &Options, _: &RecipeContext) -> Result<Box<dyn Recipe>, Problem> {
    read_history_recipe(o, Transactions::BgNbd)
}

pub(super) fn read_history_recipe(
    o: &Options,
    model: Transactions,
) -> Result<Box<dyn Recipe>, Problem> {
    let mut columns: [String; 3] = Default::default();
    for (slot, (key, default)) in columns.iter_mut().zip(HISTORY_COLUMNS) {
        *slot = o.string(key)?.unwrap_or_else(|| default.to_string());
    }
    Ok(Box::new(HistoryRecipe {
        model,
        penalizer: o.f64_in(
            "penalizer",
            0.0,
            0.0,
            1e6,
            "a number >= 0 (lifetimes' penalizer_coef)",
        )?,
        columns,
    }))
}

impl Recipe for HistoryRecipe {
    fn fit(&self, data: &TrainingData, ctx: &FitContext) -> Result<Fitted, Problem> {
        let x = data.x;
        if x.cols != 3 {
            return Err(Problem::data(
                format!("{} inputs where frequency, recency and t are 3", x.cols),
                "Name three different columns.",
            ));
        }
        let mut customers = Vec::with_capacity(x.rows);
        for i in 0..x.rows {
            let c = customer_of(x.row(i)).map_err(|why| {
                Problem::data(
                    format!("a customer with {why}"),
                    "Summarise orders with insight.clv_summary, which gives whole frequencies and recency <= t.",
                )
            })?;
            customers.push(c);
        }
        if customers.iter().all(|c| c.x == 0.0) {
            return Err(Problem::data(
                format!(
                    "no customer has a repeat purchase: {} cannot be fitted",
                    self.model.name()
                ),
                "Use a longer calibration period, or more customers.",
            ));
        }
        let (estimator, params, log_likelihood, iterations, converged) = match self.model {
            Transactions::BgNbd => {
                let f = fit(&customers, self.penalizer, ctx.monitor);
                let m = f.model;
                let params = json!({ "r": m.r, "alpha": m.alpha, "a": m.a, "b": m.b });
                (
                    Estimator::BgNbd(m),
                    params,
                    f.log_likelihood,
                    f.iterations,
                    f.converged,
                )
            }
            Transactions::ParetoNbd => {
                let f = crate::ml::clv::pareto_nbd::fit(
                    &customers,
                    self.penalizer,
                    ctx.par,
                    ctx.monitor,
                );
                let m = f.model;
                let params = json!({ "r": m.r, "alpha": m.alpha, "s": m.s, "beta": m.beta });
                (
                    Estimator::ParetoNbd(m),
                    params,
                    f.log_likelihood,
                    f.iterations,
                    f.converged,
                )
            }
        };
        if !converged || !log_likelihood.is_finite() {
            return Err(Problem::data(
                format!(
                    "the {} fit did not converge in {iterations} iterations",
                    self.model.name()
                ),
                "Add a small penalizer, e.g. options => '{\"penalizer\": 0.001}'.",
            ));
        }
        let n = customers.len() as f64;
        let mut info = serde_json::Map::new();
        info.insert("params".into(), params);
        info.insert("log_likelihood".into(), json!(log_likelihood));
        info.insert("mean_log_likelihood".into(), json!(log_likelihood / n));
        info.insert("iterations".into(), json!(iterations));
        info.insert("converged".into(), json!(converged));
        info.insert("customers".into(), json!(customers.len()));
        info.insert(
            "repeat_customers".into(),
            json!(customers.iter().filter(|c| c.x > 0.0).count()),
        );
        Ok(Fitted { estimator, info })
    }

    fn options(&self) -> Value {
        json!({
            "penalizer": self.penalizer,
            "frequency": self.columns[0],
            "recency": self.columns[1],
            "t": self.columns[2],
        })
    }
}
