//! `algorithm => 'gamma_gamma'`: spend per transaction (ml::clv::gamma_gamma) over customers'
//! frequency and monetary_value, as insight.clv_summary gives them, fitted on the repeat
//! customers (frequency > 0 and monetary_value > 0). Paired with a transaction model (option
//! `transactions`, or its older name `bgnbd`: the name of a BG/NBD or Pareto/NBD model, whose
//! parameters insight.train copies in as `transactions_params`) it also values customers:
//! insight.predict_clv.

use super::{Algorithm, FitContext, Fitted, Learns, Recipe, RecipeContext, TrainingData};
use crate::ml::clv::bgnbd::{check_monetary, customer_of};
use crate::ml::clv::gamma_gamma::fit;
use crate::ml::clv::Transactions;
use crate::ml::model::Estimator;
use crate::ml::options::Options;
use crate::ml::problem::Problem;
use serde_json::{json, Value};

pub static ALGORITHM: Algorithm = Algorithm {
    name: "gamma_gamma",
    learns: &[Learns::Histories],
    default_for: None,
    options: &[
        "penalizer",
        "frequency",
        "recency",
        "t",
        "monetary_value",
        "transactions",
        "bgnbd",
        "transactions_params",
        "unit",
    ],
    native_inputs: false,
    all_text_is_free: false,
    recipe: read_recipe,
};

/// The columns, in the model's input order, and their defaults (insight.clv_summary's names).
pub const COLUMNS: [(&str, &str); 4] = [
    ("frequency", "frequency"),
    ("recency", "recency"),
    ("t", "t"),
    ("monetary_value", "monetary_value"),
];

struct GammaGammaRecipe {
    penalizer: f64,
    columns: Vec<String>,
    /// The paired model's name as given, and its parameters.
    transactions_name: Option<String>,
    transactions: Option<Transactions>,
    unit: &'static str,
}

/// Units per month of a summary unit, as lifetimes' customer_lifetime_value counts them.
pub fn per_month(unit: &str) -> f64 {
    match unit {
        "day" => 30.0,
        "month" => 1.0,
        _ => 4.345,
    }
}

fn read_recipe(o: &Options, _: &RecipeContext) -> Result<Box<dyn Recipe>, Problem> {
    let columns = COLUMNS
        .iter()
        .map(|(key, default)| {
            o.string(key)
                .map(|v| v.unwrap_or_else(|| default.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let transactions = match o.object("transactions_params")? {
        None => None,
        Some(m) => Some(
            Transactions::from_json(&Value::Object(m.clone())).ok_or_else(|| {
                Problem::option(
                    "option \"transactions_params\" of algorithm gamma_gamma must hold the algorithm (bgnbd or pareto_nbd) and its positive parameters",
                    "Name the model instead: {\"transactions\": \"my_bgnbd_model\"}.",
                )
            })?,
        ),
    };
    let transactions_name = match (o.string("transactions")?, o.string("bgnbd")?) {
        (Some(_), Some(_)) => return Err(Problem::option(
            "options \"transactions\" and \"bgnbd\" of algorithm gamma_gamma name the same thing",
            "Give only \"transactions\".",
        )),
        (a, b) => a.or(b),
    };
    Ok(Box::new(GammaGammaRecipe {
        penalizer: o.f64_in(
            "penalizer",
            0.0,
            0.0,
            1e6,
            "a number >= 0 (lifetimes' penalizer_coef)",
        )?,
        columns,
        transactions_name,
        transactions,
        unit: o.choice("unit", "week", &["day", "week", "month"])?,
    }))
}

impl Recipe for GammaGammaRecipe {
    fn fit(&self, data: &TrainingData, ctx: &FitContext) -> Result<Fitted, Problem> {
        let x = data.x;
        if x.cols != 4 {
            return Err(Problem::data(
                format!(
                    "{} inputs where frequency, recency, t and monetary_value are 4",
                    x.cols
                ),
                "Name four different columns.",
            ));
        }
        let mut repeat = Vec::new();
        for i in 0..x.rows {
            let r = x.row(i);
            let c = customer_of(r)
                .and_then(|c| check_monetary(r[3]).map(|_| c))
                .map_err(|why| {
                    Problem::data(
                        format!("a customer with {why}"),
                        "Summarise orders with insight.clv_summary.",
                    )
                })?;
            if c.x > 0.0 && r[3] > 0.0 {
                repeat.push((c.x, r[3]));
            }
        }
        if repeat.len() < 2 {
            return Err(Problem::data(
                format!(
                    "{} customers with a repeat purchase of positive value: Gamma-Gamma needs more",
                    repeat.len()
                ),
                "Use a longer calibration period, or more customers.",
            ));
        }
        let f = fit(&repeat, self.penalizer, ctx.monitor);
        let g = f.model;
        if !f.converged || !f.log_likelihood.is_finite() || g.q <= 1.0 {
            return Err(Problem::data(
                format!("the Gamma-Gamma fit did not converge to a finite mean spend (q = {:.4} after {} iterations)", g.q, f.iterations),
                "Add a small penalizer, e.g. options => '{\"penalizer\": 0.001}'.",
            ));
        }
        let mut info = serde_json::Map::new();
        info.insert("params".into(), json!({ "p": g.p, "q": g.q, "v": g.v }));
        info.insert("log_likelihood".into(), json!(f.log_likelihood));
        info.insert(
            "mean_log_likelihood".into(),
            json!(f.log_likelihood / repeat.len() as f64),
        );
        info.insert(
            "population_mean_spend".into(),
            json!(g.p * g.v / (g.q - 1.0)),
        );
        info.insert("repeat_customers".into(), json!(repeat.len()));
        info.insert("customers".into(), json!(x.rows));
        info.insert("iterations".into(), json!(f.iterations));
        info.insert("converged".into(), json!(f.converged));
        if let Some(t) = &self.transactions {
            info.insert("transactions".into(), t.to_json());
        }
        Ok(Fitted {
            estimator: Estimator::GammaGamma {
                model: g,
                transactions: self.transactions,
                per_month: per_month(self.unit),
            },
            info,
        })
    }

    fn options(&self) -> Value {
        let mut v = json!({
            "penalizer": self.penalizer,
            "frequency": self.columns[0],
            "recency": self.columns[1],
            "t": self.columns[2],
            "monetary_value": self.columns[3],
            "unit": self.unit,
        });
        if let Some(name) = &self.transactions_name {
            v["transactions"] = json!(name);
        }
        if let Some(t) = &self.transactions {
            v["transactions_params"] = t.to_json();
        }
        v
    }
}
