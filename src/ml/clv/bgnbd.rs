//! The BG/NBD model (Fader, Hardie and Lee 2005, "Counting your customers the easy way: an
//! alternative to the Pareto/NBD model"): while alive a customer buys as a Poisson process with
//! rate lambda ~ Gamma(r, alpha); after each purchase it drops out with probability
//! p ~ Beta(a, b). A customer is summarised by (x, t_x, T): repeat purchases, the time of the
//! last one and the time observed, all from the first purchase (ml::clv::summary).
//!
//! Fitted by maximum likelihood over the log-parameters (so they stay positive) with L-BFGS and
//! the analytic gradient, every term in log space so large frequencies do not overflow. The
//! objective is that of the `lifetimes` package: the mean negative log-likelihood plus
//! `penalizer` x the sum of the squared parameters.

use crate::ml::monitor::Monitor;
use crate::ml::special::{digamma, ln_gamma, ln_hyp2f1};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
pub struct BgNbd {
    pub r: f64,
    pub alpha: f64,
    pub a: f64,
    pub b: f64,
}

/// One customer: repeat purchases, recency (time of the last purchase) and age T, in units.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Customer {
    pub x: f64,
    pub t_x: f64,
    pub t: f64,
}

impl Customer {
    /// From an encoded row: frequency, recency, T in this order (as the model's inputs are).
    pub fn of(x: &[f64]) -> Customer {
        Customer {
            x: x[0],
            t_x: x[1],
            t: x[2],
        }
    }
}

pub type Fit = super::Fit<BgNbd>;

/// ln(e^u + e^v) without overflow.
fn log_add(u: f64, v: f64) -> f64 {
    let m = u.max(v);
    if m == f64::NEG_INFINITY {
        return m;
    }
    m + ((u - m).exp() + (v - m).exp()).ln()
}

impl BgNbd {
    /// One customer's log-likelihood and its gradient with respect to (r, alpha, a, b).
    pub fn log_likelihood(&self, c: &Customer, grad: Option<&mut [f64; 4]>) -> f64 {
        let BgNbd { r, alpha, a, b } = *self;
        let Customer { x, t_x, t } = *c;
        let a1 = ln_gamma(r + x) - ln_gamma(r) + r * alpha.ln();
        let a2 = ln_gamma(a + b) + ln_gamma(b + x) - ln_gamma(b) - ln_gamma(a + b + x);
        let a3 = -(r + x) * (alpha + t).ln();
        let repeat = x > 0.0;
        let a4 = if repeat {
            a.ln() - (b + x - 1.0).ln() - (r + x) * (alpha + t_x).ln()
        } else {
            f64::NEG_INFINITY
        };
        let tail = log_add(a3, a4);
        if let Some(g) = grad {
            let (w3, w4) = (
                (a3 - tail).exp(),
                if repeat { (a4 - tail).exp() } else { 0.0 },
            );
            let ab = digamma(a + b) - digamma(a + b + x);
            g[0] = digamma(r + x) - digamma(r) + alpha.ln()
                - w3 * (alpha + t).ln()
                - w4 * if repeat { (alpha + t_x).ln() } else { 0.0 };
            g[1] = r / alpha
                - w3 * (r + x) / (alpha + t)
                - w4 * if repeat { (r + x) / (alpha + t_x) } else { 0.0 };
            g[2] = ab + w4 / a;
            g[3] = ab + digamma(b + x)
                - digamma(b)
                - w4 * if repeat { 1.0 / (b + x - 1.0) } else { 0.0 };
        }
        a1 + a2 + tail
    }

    /// P(alive) of a customer with this history.
    pub fn p_alive(&self, c: &Customer) -> f64 {
        if c.x <= 0.0 {
            return 1.0;
        }
        let BgNbd { r, alpha, a, b } = *self;
        let ln_ratio =
            a.ln() - (b + c.x - 1.0).ln() + (r + c.x) * ((alpha + c.t).ln() - (alpha + c.t_x).ln());
        1.0 / (1.0 + ln_ratio.exp())
    }

    /// Expected purchases in the next `horizon` units of a customer with this history
    /// (equation 10 of the paper), as lifetimes' conditional_expected_number_of_purchases_up_to_time.
    pub fn expected_purchases(&self, c: &Customer, horizon: f64) -> f64 {
        let BgNbd { r, alpha, a, b } = *self;
        let Customer { x, t_x, t } = *c;
        if horizon <= 0.0 {
            return 0.0;
        }
        let (ha, hb, hc) = (r + x, b + x, a + b + x - 1.0);
        let z = horizon / (alpha + t + horizon);
        let ln_hyp = ln_hyp2f1(ha, hb, hc, z);
        let first = (a + b + x - 1.0) / (a - 1.0);
        let second =
            1.0 - (ln_hyp + (r + x) * ((alpha + t).ln() - (alpha + t + horizon).ln())).exp();
        let denominator = if x > 0.0 {
            1.0 + (a.ln() - (b + x - 1.0).ln() + (r + x) * ((alpha + t).ln() - (alpha + t_x).ln()))
                .exp()
        } else {
            1.0
        };
        first * second / denominator
    }

    /// Expected purchases of a new customer in its first `horizon` units (equation 9).
    pub fn expected_purchases_new(&self, horizon: f64) -> f64 {
        let BgNbd { r, alpha, a, b } = *self;
        let z = horizon / (alpha + horizon);
        let ln_hyp = ln_hyp2f1(r, b, a + b - 1.0, z);
        (a + b - 1.0) / (a - 1.0) * (1.0 - (r * (alpha / (alpha + horizon)).ln() + ln_hyp).exp())
    }
}

/// The most repeat purchases a history may have (insight.clv_summary gives at most 36,599):
/// the hypergeometric series of the predictions take about as many terms.
pub const MAX_FREQUENCY: f64 = 100_000.0;

/// Why a customer cannot be fitted: a negative or non-finite value, recency above T, or
/// recency 0 with repeat purchases.
pub fn check(c: &Customer) -> Result<(), &'static str> {
    if !(c.x.is_finite() && c.t_x.is_finite() && c.t.is_finite()) {
        return Err("frequency, recency and T must be finite");
    }
    if c.x < 0.0 || c.t_x < 0.0 || c.t < 0.0 || c.x.fract() != 0.0 {
        return Err("frequency must be a whole number, and frequency, recency and T not negative");
    }
    if c.t_x > c.t {
        return Err("recency must not exceed T");
    }
    if c.x > MAX_FREQUENCY {
        return Err(
            "more than 100,000 repeat purchases is beyond what the models are computed for",
        );
    }
    Ok(())
}

/// The customer of an encoded row (frequency, recency, t), checked: the error names its values
/// and what is wrong with them.
pub fn customer_of(x: &[f64]) -> Result<Customer, String> {
    let c = Customer::of(x);
    check(&c)
        .map(|_| c)
        .map_err(|why| format!("frequency {}, recency {}, t {}: {why}", c.x, c.t_x, c.t))
}

/// Why a mean repeat purchase amount cannot be used.
pub fn check_monetary(m: f64) -> Result<(), String> {
    if m.is_finite() && m >= 0.0 {
        Ok(())
    } else {
        Err(format!(
            "monetary_value {m}: the mean repeat purchase amount must be finite and not negative"
        ))
    }
}

/// The maximum-likelihood fit (or the penalised one) on these customers.
pub fn fit(customers: &[Customer], penalizer: f64, monitor: &dyn Monitor) -> Fit {
    let n = customers.len().max(1) as f64;
    // lifetimes fits in time scaled by 1 / max(T) and penalises alpha in those units: the same
    // penalty here makes the penalised fits agree
    let alpha_unit = 1.0
        / customers
            .iter()
            .fold(0.0f64, |m, c| m.max(c.t))
            .max(f64::MIN_POSITIVE);
    let objective = |theta: &[f64], g: &mut [f64]| -> f64 {
        let p = BgNbd {
            r: theta[0].exp(),
            alpha: theta[1].exp(),
            a: theta[2].exp(),
            b: theta[3].exp(),
        };
        let mut sum = 0.0;
        let mut grad = [0.0; 4];
        for c in customers {
            let mut gi = [0.0; 4];
            sum += p.log_likelihood(c, Some(&mut gi));
            for (s, v) in grad.iter_mut().zip(gi) {
                *s += v;
            }
        }
        let params = [p.r, p.alpha, p.a, p.b];
        let penalised = [p.r, p.alpha * alpha_unit, p.a, p.b];
        let penalty: f64 = penalised.iter().map(|v| v * v).sum::<f64>() * penalizer;
        // d/d theta = param x d/d param; the penalty's: 2 penalizer x penalised^2
        for j in 0..4 {
            g[j] = -(grad[j] / n) * params[j] + 2.0 * penalizer * penalised[j] * penalised[j];
        }
        -sum / n + penalty
    };
    let (p, iterations, converged) = super::fit_log_params(4, objective, 500, 1e-9, monitor);
    let model = BgNbd {
        r: p[0],
        alpha: p[1],
        a: p[2],
        b: p[3],
    };
    let log_likelihood = customers
        .iter()
        .map(|c| model.log_likelihood(c, None))
        .sum();
    Fit {
        model,
        log_likelihood,
        iterations,
        converged,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn the_gradient_is_the_derivative() {
        let m = BgNbd {
            r: 0.7,
            alpha: 3.0,
            a: 0.9,
            b: 2.5,
        };
        for c in [
            Customer {
                x: 0.0,
                t_x: 0.0,
                t: 30.0,
            },
            Customer {
                x: 3.0,
                t_x: 20.0,
                t: 35.0,
            },
            Customer {
                x: 150.0,
                t_x: 34.0,
                t: 36.0,
            },
        ] {
            let mut g = [0.0; 4];
            m.log_likelihood(&c, Some(&mut g));
            let h = 1e-6;
            for j in 0..4 {
                let shift = |d: f64| {
                    let mut p = [m.r, m.alpha, m.a, m.b];
                    p[j] += d;
                    BgNbd {
                        r: p[0],
                        alpha: p[1],
                        a: p[2],
                        b: p[3],
                    }
                    .log_likelihood(&c, None)
                };
                let numeric = (shift(h) - shift(-h)) / (2.0 * h);
                assert!(
                    (numeric - g[j]).abs() < 1e-5 * numeric.abs().max(1.0),
                    "{c:?} param {j}: {numeric} vs {}",
                    g[j]
                );
            }
        }
    }

    /// Days since 1970-01-01 of an ISO date (proleptic Gregorian, Howard Hinnant's algorithm).
    fn days(iso: &str) -> i32 {
        let p: Vec<i64> = iso.split('-').map(|v| v.parse().unwrap()).collect();
        let (y, m, d) = (if p[1] <= 2 { p[0] - 1 } else { p[0] }, p[1], p[2]);
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        (era * 146097 + doe - 719468) as i32
    }

    /// The CDNOW sample that ships with lifetimes (tests/reference/data), summarised in weeks
    /// up to 1997-09-30 as lifetimes does.
    pub(crate) fn cdnow() -> Vec<Customer> {
        cdnow_summary().into_iter().map(|(c, _)| c).collect()
    }

    /// As `cdnow`, with each customer's monetary value.
    pub(crate) fn cdnow_summary() -> Vec<(Customer, f64)> {
        use crate::ml::clv::summary::{Purchases, Unit};
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/reference/data/cdnow_sample_transactions.csv"
        ))
        .unwrap();
        let end = days("1997-09-30");
        let mut by: std::collections::BTreeMap<i64, Purchases> = Default::default();
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split(',').collect();
            by.entry(f[0].parse().unwrap())
                .or_insert_with(|| Purchases::new(end, Unit::Week))
                .add(days(f[1]), f[2].parse().unwrap());
        }
        by.values()
            .filter_map(|p| p.stats())
            .map(|s| {
                let c = Customer {
                    x: s.frequency as f64,
                    t_x: s.recency,
                    t: s.t,
                };
                (c, s.monetary_value)
            })
            .collect()
    }

    #[test]
    fn cdnow_gives_the_published_parameters() {
        let data = cdnow();
        assert_eq!(data.len(), 2357);
        let f = fit(&data, 0.0, &crate::ml::monitor::Silent);
        // Fader, Hardie and Lee (2005), "Counting your customers the easy way", CDNOW sample:
        // r = 0.243, alpha = 4.414, a = 0.793, b = 2.426, LL = -9582.4
        let m = f.model;
        for (got, want) in [(m.r, 0.243), (m.alpha, 4.414), (m.a, 0.793), (m.b, 2.426)] {
            assert!((got / want - 1.0).abs() < 0.01, "{m:?}");
        }
        assert!(
            (f.log_likelihood + 9582.4).abs() < 1.0,
            "{}",
            f.log_likelihood
        );
        assert!(f.converged);
    }

    #[test]
    fn cdnow_equals_lifetimes() {
        // lifetimes 0.11.3 BetaGeoFitter(penalizer_coef=0).fit on the same summary
        // (tests/reference/clv_reference.py, its output in clv_reference.out)
        let f = fit(&cdnow(), 0.0, &crate::ml::monitor::Silent);
        let m = f.model;
        let want = [
            0.24259454342106715,
            4.413602716077379,
            0.7929218333480146,
            2.4259057287223023,
        ];
        for (got, w) in [m.r, m.alpha, m.a, m.b].iter().zip(want) {
            assert!((got / w - 1.0).abs() < 1e-5, "{m:?}");
        }
        assert!(
            (f.log_likelihood + 9582.429206673934).abs() < 1e-6,
            "{}",
            f.log_likelihood
        );
        // predictions with lifetimes' parameters: conditional expected purchases in 39 and 10
        // weeks and P(alive), per (frequency, recency, T)
        let lt = BgNbd {
            r: want[0],
            alpha: want[1],
            a: want[2],
            b: want[3],
        };
        let cases = [
            (
                (0.0, 0.0, 38.86),
                0.19478204751907122,
                0.05421039255173159,
                1.0,
            ),
            (
                (1.0, 30.43, 38.86),
                0.670732839336513,
                0.19207060107373708,
                0.700357028753308,
            ),
            (
                (2.0, 1.57, 38.86),
                0.08204984219018947,
                0.023889330285970393,
                0.04863189070557629,
            ),
            (
                (7.0, 29.43, 35.29),
                4.291891781679001,
                1.3032568468350336,
                0.7697247474863027,
            ),
            (
                (25.0, 37.0, 38.0),
                16.966871344749677,
                5.207796610333364,
                0.948048438978529,
            ),
            (
                (200.0, 35.0, 38.0),
                0.014849711069630199,
                0.004596877623246087,
                0.00010599959323263622,
            ),
        ];
        for ((x, t_x, t), e39, e10, alive) in cases {
            let c = Customer { x, t_x, t };
            for (got, w) in [
                (lt.expected_purchases(&c, 39.0), e39),
                (lt.expected_purchases(&c, 10.0), e10),
                (lt.p_alive(&c), alive),
            ] {
                assert!((got / w - 1.0).abs() < 1e-9, "{c:?}: {got} vs {w}");
            }
        }
        assert!((lt.expected_purchases_new(39.0) / 1.1950099744790117 - 1.0).abs() < 1e-9);
        // BetaGeoFitter(penalizer_coef=0.1): the penalty on (r, alpha / max T, a, b)
        let p = fit(&cdnow(), 0.1, &crate::ml::monitor::Silent).model;
        let want = [
            0.23094783705482186,
            4.219324226024534,
            0.12865625166459002,
            0.26712957819142,
        ];
        for (got, w) in [p.r, p.alpha, p.a, p.b].iter().zip(want) {
            assert!((got / w - 1.0).abs() < 1e-4, "{p:?}");
        }
        assert!((lt.expected_purchases_new(10.0) / 0.4317586685918213 - 1.0).abs() < 1e-9);
    }

    #[test]
    fn large_frequencies_do_not_overflow() {
        let m = BgNbd {
            r: 0.24,
            alpha: 4.4,
            a: 0.79,
            b: 2.4,
        };
        let c = Customer {
            x: 5000.0,
            t_x: 37.9,
            t: 38.0,
        };
        assert!(m.log_likelihood(&c, None).is_finite());
        assert!(m.p_alive(&c) > 0.0 && m.p_alive(&c) <= 1.0);
        let e = m.expected_purchases(&c, 39.0);
        assert!(e.is_finite() && e > 0.0, "{e}");
    }
}
