//! The Pareto/NBD model (Schmittlein, Morrison and Colombo 1987), the model BG/NBD simplifies:
//! while alive a customer buys as a Poisson process with rate lambda ~ Gamma(r, alpha); its
//! lifetime is exponential with rate mu ~ Gamma(s, beta), so it can drop out at any time, not
//! only after a purchase. The likelihood (Fader, Hardie and Lee 2005, "A note on implementing
//! the Pareto/NBD model in MATLAB") needs the Gauss hypergeometric function, computed in log
//! space as lifetimes does; the fit runs L-BFGS on the log-parameters with a central-difference
//! gradient (the 2F1 terms have no cheap analytic derivative).

use super::bgnbd::Customer;
use crate::ml::monitor::Monitor;
use crate::ml::special::{ln_gamma, ln_hyp2f1};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
pub struct ParetoNbd {
    pub r: f64,
    pub alpha: f64,
    pub s: f64,
    pub beta: f64,
}

pub type Fit = super::Fit<ParetoNbd>;

/// ln(e^a - e^b) for a >= b.
fn log_sub(a: f64, b: f64) -> f64 {
    if b == f64::NEG_INFINITY {
        return a;
    }
    a + (-(b - a).exp()).ln_1p()
}

impl ParetoNbd {
    /// ln A0 of the likelihood (lifetimes' _log_A_0).
    fn ln_a0(&self, c: &Customer) -> f64 {
        let ParetoNbd { r, alpha, s, beta } = *self;
        let (small, large, t) = if alpha < beta {
            (alpha, beta, r + c.x)
        } else {
            (beta, alpha, s + 1.0)
        };
        let gap = large - small;
        let rsf = r + s + c.x;
        let (q1, q2) = (large + c.t_x, large + c.t);
        let ln_p1 = ln_hyp2f1(rsf, t, rsf + 1.0, gap / q1);
        let ln_p2 = ln_hyp2f1(rsf, t, rsf + 1.0, gap / q2);
        // p1 / q1^rsf - p2 / q2^rsf, the first the larger (recency <= T)
        log_sub(ln_p1 - rsf * q1.ln(), ln_p2 - rsf * q2.ln())
    }

    pub fn log_likelihood(&self, c: &Customer) -> f64 {
        let ParetoNbd { r, alpha, s, beta } = *self;
        let x = c.x;
        let a1 = ln_gamma(r + x) - ln_gamma(r) + r * alpha.ln() + s * beta.ln();
        let alive = -(r + x) * (alpha + c.t).ln() - s * (beta + c.t).ln();
        let died = s.ln() + self.ln_a0(c) - (r + s + x).ln();
        let m = alive.max(died);
        a1 + m + ((alive - m).exp() + (died - m).exp()).ln()
    }

    pub fn p_alive(&self, c: &Customer) -> f64 {
        let ParetoNbd { r, alpha, s, beta } = *self;
        let ln_ratio = (s / (r + s + c.x)).ln()
            + (r + c.x) * (alpha + c.t).ln()
            + s * (beta + c.t).ln()
            + self.ln_a0(c);
        1.0 / (1.0 + ln_ratio.exp())
    }

    /// Expected purchases in the next `horizon` units of a customer with this history.
    pub fn expected_purchases(&self, c: &Customer, horizon: f64) -> f64 {
        let ParetoNbd { r, alpha, s, beta } = *self;
        let x = c.x;
        let first = ln_gamma(r + x) - ln_gamma(r) + r * alpha.ln() + s * beta.ln()
            - (r + x) * (alpha + c.t).ln()
            - s * (beta + c.t).ln();
        let second = (r + x).ln() + (beta + c.t).ln() - (alpha + c.t).ln();
        let third =
            ((1.0 - ((beta + c.t) / (beta + c.t + horizon)).powf(s - 1.0)) / (s - 1.0)).ln();
        (first + second + third - self.log_likelihood(c)).exp()
    }
}

/// The maximum-likelihood fit (lifetimes' objective: mean negative log-likelihood plus
/// `penalizer` x the sum of the squared parameters).
/// The 9 likelihoods of one objective evaluation (the point and the central differences of
/// its gradient) run on `par`'s threads, each summed in customer order (the same fit whatever
/// the thread count).
pub fn fit(
    customers: &[Customer],
    penalizer: f64,
    par: &crate::ml::parallel::Parallel,
    monitor: &dyn Monitor,
) -> Fit {
    let n = customers.len().max(1) as f64;
    let f = |theta: &[f64]| -> f64 {
        let m = ParetoNbd {
            r: theta[0].exp(),
            alpha: theta[1].exp(),
            s: theta[2].exp(),
            beta: theta[3].exp(),
        };
        let ll: f64 = customers.iter().map(|c| m.log_likelihood(c)).sum();
        let penalty: f64 = [m.r, m.alpha, m.s, m.beta]
            .iter()
            .map(|v| v * v)
            .sum::<f64>()
            * penalizer;
        let v = -ll / n + penalty;
        if v.is_finite() {
            v
        } else {
            f64::INFINITY
        }
    };
    let objective = |theta: &[f64], g: &mut [f64]| -> f64 {
        let h = 1e-6;
        let mut points = vec![theta.to_vec()];
        for j in 0..4 {
            for step in [h, -h] {
                let mut t = theta.to_vec();
                t[j] += step;
                points.push(t);
            }
        }
        let values = par.map(&points, |t| f(t));
        for j in 0..4 {
            g[j] = (values[1 + 2 * j] - values[2 + 2 * j]) / (2.0 * h);
        }
        values[0]
    };
    let (p, iterations, converged) = super::fit_log_params(4, objective, 500, 1e-8, monitor);
    let model = ParetoNbd {
        r: p[0],
        alpha: p[1],
        s: p[2],
        beta: p[3],
    };
    let log_likelihood = customers.iter().map(|c| model.log_likelihood(c)).sum();
    Fit {
        model,
        log_likelihood,
        iterations,
        converged,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ml::clv::bgnbd::tests::cdnow;

    #[test]
    fn cdnow_equals_lifetimes() {
        // lifetimes 0.11.3 ParetoNBDFitter(penalizer_coef=0) on the CDNOW summary, restarted to
        // tolerance 1e-12 (tests/reference/clv_reference.out): r 0.5532770426525457,
        // alpha 10.577683329623952, s 0.6062400207989389, beta 11.668736982279665,
        // LL -9594.976178939543; published (Fader, Hardie and Lee 2005): 0.55, 10.58, 0.61, 11.67,
        // LL -9595.0. The likelihood is flat along s and beta: parameters to 1e-3.
        let f = fit(
            &cdnow(),
            0.0,
            &crate::ml::parallel::Parallel::new(2),
            &crate::ml::monitor::Silent,
        );
        let m = f.model;
        let want = [
            0.5532770426525457,
            10.577683329623952,
            0.6062400207989389,
            11.668736982279665,
        ];
        for (got, w) in [m.r, m.alpha, m.s, m.beta].iter().zip(want) {
            assert!((got / w - 1.0).abs() < 1e-3, "{m:?}");
        }
        assert!(
            (f.log_likelihood + 9594.976178939543).abs() < 1e-4,
            "{}",
            f.log_likelihood
        );
        // predictions with lifetimes' tightened parameters: E[X(39) | history] and P(alive)
        let lt = ParetoNbd {
            r: want[0],
            alpha: want[1],
            s: want[2],
            beta: want[3],
        };
        let cases = [
            ((0.0, 0.0, 38.86), 0.1070588687138199, 0.29509581319194084),
            ((1.0, 30.43, 38.86), 0.8964847885433238, 0.8801912553833839),
            ((2.0, 1.57, 38.86), 0.10756941613610838, 0.06425011644771102),
            ((7.0, 29.43, 35.29), 4.596858256643976, 0.8708206743421758),
            ((25.0, 37.0, 38.0), 16.734269814817658, 0.9838809802428261),
            (
                (200.0, 35.0, 38.0),
                0.12232313726089013,
                0.0009163497166330858,
            ),
        ];
        for ((x, t_x, t), e39, alive) in cases {
            let c = Customer { x, t_x, t };
            let (e, a) = (lt.expected_purchases(&c, 39.0), lt.p_alive(&c));
            assert!((e / e39 - 1.0).abs() < 1e-8, "{c:?}: {e} vs {e39}");
            assert!((a / alive - 1.0).abs() < 1e-8, "{c:?}: {a} vs {alive}");
        }
    }
}
