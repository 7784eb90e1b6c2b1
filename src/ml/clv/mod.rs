//! Customer lifetime value: the per-customer summary of raw orders that the buy-till-you-die
//! models take (summary.rs), and the models (bgnbd.rs).

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

/// A model of when customers buy and drop out: what P(alive) and expected purchases come from.
pub enum Transactions<'a> {
    BgNbd(&'a BgNbd),
    ParetoNbd(&'a ParetoNbd),
}

impl Transactions<'_> {
    pub fn p_alive(&self, c: &Customer) -> f64 {
        match self {
            Transactions::BgNbd(m) => m.p_alive(c),
            Transactions::ParetoNbd(m) => m.p_alive(c),
        }
    }

    pub fn expected_purchases(&self, c: &Customer, horizon: f64) -> f64 {
        match self {
            Transactions::BgNbd(m) => m.expected_purchases(c, horizon),
            Transactions::ParetoNbd(m) => m.expected_purchases(c, horizon),
        }
    }
}
