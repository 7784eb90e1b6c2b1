//! The Gamma-Gamma model of spend per transaction (Fader, Hardie and Lee 2005, "RFM and CLV:
//! using iso-value curves for customer base analysis"; Colombo and Jiang 1999): a customer's
//! transaction values are Gamma(p, nu) with nu ~ Gamma(q, v) across customers. Fitted on repeat
//! customers' (frequency x, mean repeat amount m) by maximum likelihood over log-parameters, with
//! lifetimes' objective (mean negative log-likelihood + penalizer x sum of squared parameters).
//!
//! Customer lifetime value pairs it with a transaction model (BG/NBD or Pareto/NBD), as
//! lifetimes' GammaGammaFitter.customer_lifetime_value does: the expected spend per transaction
//! times the expected transactions of each month, each month discounted once at its end.

use super::bgnbd::Customer;
use super::Transactions;
use crate::ml::monitor::Monitor;
use crate::ml::special::{digamma, ln_gamma};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
pub struct GammaGamma {
    pub p: f64,
    pub q: f64,
    pub v: f64,
}

pub type Fit = super::Fit<GammaGamma>;

impl GammaGamma {
    /// One repeat customer's log-likelihood and its gradient in (p, q, v).
    pub fn log_likelihood(&self, x: f64, m: f64, grad: Option<&mut [f64; 3]>) -> f64 {
        let GammaGamma { p, q, v } = *self;
        let px = p * x;
        let ll = ln_gamma(px + q) - ln_gamma(px) - ln_gamma(q)
            + q * v.ln()
            + (px - 1.0) * m.ln()
            + px * x.ln()
            - (px + q) * (x * m + v).ln();
        if let Some(g) = grad {
            g[0] = x * (digamma(px + q) - digamma(px) + m.ln() + x.ln() - (x * m + v).ln());
            g[1] = digamma(px + q) - digamma(q) + v.ln() - (x * m + v).ln();
            g[2] = q / v - (px + q) / (x * m + v);
        }
        ll
    }

    /// The expected spend per transaction of a customer with `x` repeat purchases of mean `m`
    /// (lifetimes' conditional_expected_average_profit); the population mean for x = 0.
    pub fn expected_spend(&self, x: f64, m: f64) -> f64 {
        let GammaGamma { p, q, v } = *self;
        let population = p * v / (q - 1.0);
        let w = p * x / (p * x + q - 1.0);
        (1.0 - w) * population + w * m
    }

    /// Customer lifetime value over `months` months (a whole number) with a monthly
    /// `discount_rate`, from a transaction model in units of which `per_month` make a month (4.345
    /// for weeks, 30 for days, 1 for months: lifetimes' freq 'W', 'D', 'M').
    pub fn clv(
        &self,
        transactions: &Transactions,
        c: &Customer,
        m: f64,
        months: u32,
        discount_rate: f64,
        per_month: f64,
    ) -> f64 {
        let spend = self.expected_spend(c.x, m);
        let mut total = 0.0;
        let mut before = 0.0;
        for k in 1..=months {
            let until = transactions.expected_purchases(c, k as f64 * per_month);
            total += spend * (until - before) / (1.0 + discount_rate).powi(k as i32);
            before = until;
        }
        total
    }
}

/// Fits on repeat customers: `(frequency, mean repeat amount)` with frequency > 0, amount > 0.
pub fn fit(customers: &[(f64, f64)], penalizer: f64, monitor: &dyn Monitor) -> Fit {
    let n = customers.len().max(1) as f64;
    let objective = |theta: &[f64], g: &mut [f64]| -> f64 {
        let model = GammaGamma {
            p: theta[0].exp(),
            q: theta[1].exp(),
            v: theta[2].exp(),
        };
        let params = [model.p, model.q, model.v];
        let mut sum = 0.0;
        let mut grad = [0.0; 3];
        for &(x, m) in customers {
            let mut gi = [0.0; 3];
            sum += model.log_likelihood(x, m, Some(&mut gi));
            for (s, v) in grad.iter_mut().zip(gi) {
                *s += v;
            }
        }
        for j in 0..3 {
            g[j] = -(grad[j] / n) * params[j] + 2.0 * penalizer * params[j] * params[j];
        }
        -sum / n + penalizer * params.iter().map(|v| v * v).sum::<f64>()
    };
    let (p, iterations, converged) = super::fit_log_params(3, objective, 1000, 1e-10, monitor);
    let model = GammaGamma {
        p: p[0],
        q: p[1],
        v: p[2],
    };
    let log_likelihood = customers
        .iter()
        .map(|&(x, m)| model.log_likelihood(x, m, None))
        .sum();
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
    use crate::ml::clv::bgnbd::tests::cdnow_summary;
    use crate::ml::clv::bgnbd::BgNbd;

    #[test]
    fn the_gradient_is_the_derivative() {
        let m = GammaGamma {
            p: 6.0,
            q: 3.5,
            v: 15.0,
        };
        for (x, amount) in [(1.0, 30.0), (7.0, 12.5), (40.0, 80.0)] {
            let mut g = [0.0; 3];
            m.log_likelihood(x, amount, Some(&mut g));
            for j in 0..3 {
                let shift = |d: f64| {
                    let mut p = [m.p, m.q, m.v];
                    p[j] += d;
                    GammaGamma {
                        p: p[0],
                        q: p[1],
                        v: p[2],
                    }
                    .log_likelihood(x, amount, None)
                };
                let numeric = (shift(1e-6) - shift(-1e-6)) / 2e-6;
                assert!(
                    (numeric - g[j]).abs() < 1e-5 * numeric.abs().max(1.0),
                    "{j}: {numeric} vs {}",
                    g[j]
                );
            }
        }
    }

    #[test]
    fn cdnow_equals_lifetimes() {
        // lifetimes 0.11.3 GammaGammaFitter(penalizer_coef=0) on the 946 repeat customers of the
        // CDNOW summary (tests/reference/clv_reference.out): p 6.249572277637132,
        // q 3.744224674758082, v 15.44352101835793, LL -4055.917694801871; Fader and Hardie's
        // note 025 reports p 6.25, q 3.74, v 15.44
        let repeat: Vec<(f64, f64)> = cdnow_summary()
            .into_iter()
            .filter(|(c, _)| c.x > 0.0)
            .map(|(c, m)| (c.x, m))
            .collect();
        assert_eq!(repeat.len(), 946);
        let f = fit(&repeat, 0.0, &crate::ml::monitor::Silent);
        let g = f.model;
        for (got, want) in [
            (g.p, 6.249572277637132),
            (g.q, 3.744224674758082),
            (g.v, 15.44352101835793),
        ] {
            assert!((got / want - 1.0).abs() < 1e-5, "{g:?}");
        }
        assert!(
            (f.log_likelihood + 4055.917694801871).abs() < 1e-6,
            "{}",
            f.log_likelihood
        );
        // with lifetimes' parameters: expected spend and CLV (time 12 months, discount 0.01 a
        // month, freq 'W') paired with its BG/NBD fit
        let lt = GammaGamma {
            p: 6.249572277637132,
            q: 3.744224674758082,
            v: 15.44352101835793,
        };
        for ((x, m), want) in [
            ((1.0, 30.0), 31.57760517140816),
            ((5.0, 50.0), 48.802785070704076),
            ((20.0, 25.5), 25.707754588611316),
        ] {
            assert!((lt.expected_spend(x, m) / want - 1.0).abs() < 1e-12);
        }
        let bg = BgNbd {
            r: 0.24259454342106715,
            alpha: 4.413602716077379,
            a: 0.7929218333480146,
            b: 2.4259057287223023,
        };
        for ((x, t_x, t, m), want) in [
            ((2.0, 30.43, 38.86, 22.35), 36.277485611146574),
            ((7.0, 29.43, 35.29, 40.0), 202.0650110203626),
            ((25.0, 37.0, 38.0, 15.0), 307.7818194562581),
        ] {
            let got = lt.clv(
                &Transactions::BgNbd(bg),
                &Customer { x, t_x, t },
                m,
                12,
                0.01,
                4.345,
            );
            assert!((got / want - 1.0).abs() < 1e-9, "{got} vs {want}");
        }
        // paired with lifetimes' refined Pareto/NBD fit instead (clv_reference.out, section (e))
        let pareto = crate::ml::clv::pareto_nbd::ParetoNbd {
            r: 0.5532770426525457,
            alpha: 10.577683329623952,
            s: 0.6062400207989389,
            beta: 11.668736982279665,
        };
        for ((x, t_x, t, m), want) in [
            ((2.0, 30.43, 38.86, 22.35), 43.07854234869536),
            ((7.0, 29.43, 35.29, 40.0), 218.76123209421536),
            ((25.0, 37.0, 38.0, 15.0), 308.2298031073649),
        ] {
            let c = Customer { x, t_x, t };
            let got = lt.clv(&Transactions::ParetoNbd(pareto), &c, m, 12, 0.01, 4.345);
            assert!((got / want - 1.0).abs() < 1e-8, "{got} vs {want}");
        }
    }
}
