//! Customer lifetime value: the per-customer summary of raw orders that the buy-till-you-die
//! models take (summary.rs), RFM (rfm.rs), and the models: BG/NBD (bgnbd.rs), Pareto/NBD
//! (pareto_nbd.rs) and Gamma-Gamma (gamma_gamma.rs).

pub mod bgnbd;
pub mod gamma_gamma;
pub mod pareto_nbd;
pub mod rfm;
pub mod summary;

use crate::ml::monitor::Monitor;
use crate::ml::optim::{minimize, LbfgsOptions};
use bgnbd::{BgNbd, Customer};

/// A maximum-likelihood fit: the model, the sum of the log-likelihoods at the optimum, and how
/// the optimiser ended.
pub struct Fit<M> {
    pub model: M,
    pub log_likelihood: f64,
    pub iterations: usize,
    pub converged: bool,
}

/// Maximum likelihood on log-parameters (so they stay positive), from all ones: minimises
/// `objective` (value, and its gradient in the log-parameters) with L-BFGS, a non-finite value
/// or gradient counting as infinitely bad. Returns the parameters, iterations and convergence.
pub(crate) fn fit_log_params(
    n: usize,
    mut objective: impl FnMut(&[f64], &mut [f64]) -> f64,
    max_iter: usize,
    gtol: f64,
    monitor: &dyn Monitor,
) -> (Vec<f64>, usize, bool) {
    let guarded = |theta: &[f64], g: &mut [f64]| -> f64 {
        let f = objective(theta, g);
        if f.is_finite() && g.iter().all(|v| v.is_finite()) {
            f
        } else {
            f64::INFINITY
        }
    };
    let r = minimize(
        vec![0.0; n],
        guarded,
        &LbfgsOptions {
            max_iter,
            gtol,
            memory: 10,
        },
        monitor,
        |_, _, _| {},
    );
    (
        r.x.iter().map(|v| v.exp()).collect(),
        r.iterations,
        r.converged,
    )
}
use pareto_nbd::ParetoNbd;
use serde::{Deserialize, Serialize};

/// A model of when customers buy and drop out: what P(alive) and expected purchases come from,
/// and what a Gamma-Gamma model counts transactions with when it values customers.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
pub enum Transactions {
    BgNbd(BgNbd),
    ParetoNbd(ParetoNbd),
}

impl Transactions {
    pub fn p_alive(self, c: &Customer) -> f64 {
        match self {
            Transactions::BgNbd(m) => m.p_alive(c),
            Transactions::ParetoNbd(m) => m.p_alive(c),
        }
    }

    pub fn expected_purchases(self, c: &Customer, horizon: f64) -> f64 {
        match self {
            Transactions::BgNbd(m) => m.expected_purchases(c, horizon),
            Transactions::ParetoNbd(m) => m.expected_purchases(c, horizon),
        }
    }

    /// The algorithm's name in insight.train.
    pub fn algorithm(self) -> &'static str {
        match self {
            Transactions::BgNbd(_) => "bgnbd",
            Transactions::ParetoNbd(_) => "pareto_nbd",
        }
    }

    /// The parameters by name, as model_info shows them.
    pub fn params(self) -> serde_json::Value {
        match self {
            Transactions::BgNbd(m) => {
                serde_json::json!({ "r": m.r, "alpha": m.alpha, "a": m.a, "b": m.b })
            }
            Transactions::ParetoNbd(m) => {
                serde_json::json!({ "r": m.r, "alpha": m.alpha, "s": m.s, "beta": m.beta })
            }
        }
    }

    /// `{"algorithm": ..., "params": {...}}`: how a paired model is stored in options and shown.
    pub fn to_json(self) -> serde_json::Value {
        serde_json::json!({ "algorithm": self.algorithm(), "params": self.params() })
    }

    /// The inverse of `to_json`; None unless every parameter is there, finite and positive.
    pub fn from_json(v: &serde_json::Value) -> Option<Transactions> {
        let params = v.get("params")?;
        let get = |k: &str| {
            params
                .get(k)
                .and_then(serde_json::Value::as_f64)
                .filter(|v| v.is_finite() && *v > 0.0)
        };
        match v.get("algorithm")?.as_str()? {
            "bgnbd" => Some(Transactions::BgNbd(BgNbd {
                r: get("r")?,
                alpha: get("alpha")?,
                a: get("a")?,
                b: get("b")?,
            })),
            "pareto_nbd" => Some(Transactions::ParetoNbd(ParetoNbd {
                r: get("r")?,
                alpha: get("alpha")?,
                s: get("s")?,
                beta: get("beta")?,
            })),
            _ => None,
        }
    }

    /// Every parameter finite and positive (a decoded model is checked with this).
    pub fn is_valid(self) -> bool {
        Transactions::from_json(&self.to_json()).is_some()
    }
}
