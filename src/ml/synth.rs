//! Seeded synthetic customers and orders with planted, known structure, for the demo and for
//! tests that check models recover the truth.
//!
//! Purchase labels are drawn from a known logistic model over latent standard-normal drivers;
//! the observed columns are near-linear, clipped/rounded transforms of those drivers, so a model
//! trained on standardised columns should find coefficients close to [`PURCHASE_TRUTH`] with the
//! same signs, and near-zero weights for the noise columns.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Intercept and per-driver log-odds effects of the planted purchase model.
pub const PURCHASE_INTERCEPT: f64 = -1.2;
pub const PURCHASE_TRUTH: &[(&str, f64)] = &[
    ("visits_30d", 1.0),
    ("email_opens_30d", 0.6),
    ("days_since_last_purchase", -0.8),
    ("support_tickets", -0.5),
    ("is_member", 0.7),
];
/// Effect of each channel on the log-odds (relative to web).
pub const CHANNEL_EFFECT: &[(&str, f64)] =
    &[("web", 0.0), ("store", -0.4), ("app", 0.8), ("email", 0.3)];
/// Columns with no effect on purchases.
pub const NOISE_FEATURES: &[&str] = &["age", "region", "tenure_days", "avg_order_value"];

const REGIONS: &[&str] = &["north", "south", "east", "west", "central"];
const CHANNEL_WEIGHTS: &[f64] = &[0.4, 0.25, 0.25, 0.1];
/// The data set's "today": signup dates and orders end here.
pub const AS_OF_DAYS: i32 = 20634; // 2026-06-30 as days since 1970-01-01

#[derive(Clone, Debug, PartialEq)]
pub struct Customer {
    pub customer_id: i64,
    pub age: Option<i32>,
    pub region: &'static str,
    pub channel: &'static str,
    pub tenure_days: i32,
    pub visits_30d: i32,
    pub email_opens_30d: Option<i32>,
    pub support_tickets: i32,
    pub avg_order_value: Option<f64>,
    pub days_since_last_purchase: i32,
    pub is_member: bool,
    /// days since 1970-01-01
    pub signup_date: i32,
    pub purchased: bool,
}

fn normal(rng: &mut ChaCha8Rng) -> f64 {
    normal_draw(rng)
}

/// One standard-normal draw (Box-Muller), for the other generators.
pub fn normal_draw(rng: &mut ChaCha8Rng) -> f64 {
    // Box-Muller; one draw per call keeps the stream simple to reason about
    let u1: f64 = rng.gen::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rng.gen();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

fn pick(rng: &mut ChaCha8Rng, weights: &[f64]) -> usize {
    let mut u: f64 = rng.gen();
    for (i, w) in weights.iter().enumerate() {
        if u < *w {
            return i;
        }
        u -= w;
    }
    weights.len() - 1
}

fn truth(name: &str) -> f64 {
    PURCHASE_TRUTH
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| *v)
        .unwrap()
}

/// The i-th customer (0-based) of the data set with this seed: independent of how many are made.
pub fn customer(seed: u64, i: u64) -> Customer {
    let mut rng = ChaCha8Rng::seed_from_u64(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ i);
    let z_visits = normal(&mut rng);
    let z_email = normal(&mut rng);
    let z_recency = normal(&mut rng);
    let z_tickets = normal(&mut rng);
    let member = rng.gen::<f64>() < 0.35;
    let channel_idx = pick(&mut rng, CHANNEL_WEIGHTS);
    let channel = CHANNEL_EFFECT[channel_idx].0;
    let region = REGIONS[rng.gen_range(0..REGIONS.len())];
    let age_raw = (42.0 + 13.0 * normal(&mut rng)).round().clamp(18.0, 90.0) as i32;
    let age = if rng.gen::<f64>() < 0.05 {
        None
    } else {
        Some(age_raw)
    };
    let tenure_days = rng.gen_range(30..2000);
    let aov = (3.8 + 0.5 * normal(&mut rng)).exp();
    let avg_order_value = if rng.gen::<f64>() < 0.03 {
        None
    } else {
        Some((aov * 100.0).round() / 100.0)
    };
    let email_missing = rng.gen::<f64>() < 0.10;

    let logit = PURCHASE_INTERCEPT
        + truth("visits_30d") * z_visits
        + truth("email_opens_30d") * z_email
        + truth("days_since_last_purchase") * z_recency
        + truth("support_tickets") * z_tickets
        + truth("is_member") * if member { 1.0 } else { 0.0 }
        + CHANNEL_EFFECT[channel_idx].1;
    let p = 1.0 / (1.0 + (-logit).exp());
    let purchased = rng.gen::<f64>() < p;

    Customer {
        customer_id: i as i64 + 1,
        age,
        region,
        channel,
        tenure_days,
        visits_30d: (6.0 + 2.5 * z_visits).round().max(0.0) as i32,
        email_opens_30d: if email_missing {
            None
        } else {
            Some((5.0 + 3.0 * z_email).round().max(0.0) as i32)
        },
        support_tickets: (2.0 + 1.2 * z_tickets).round().max(0.0) as i32,
        avg_order_value,
        days_since_last_purchase: (60.0 + 25.0 * z_recency).round().max(0.0) as i32,
        is_member: member,
        signup_date: AS_OF_DAYS - tenure_days,
        purchased,
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Order {
    pub order_id: i64,
    pub customer_id: i64,
    /// days since 1970-01-01
    pub order_date: i32,
    pub amount: f64,
}

/// The true BG/NBD process behind the demo orders (time in weeks): purchase rate
/// lambda ~ Gamma(shape r, rate alpha) a week while alive; after each repeat purchase the
/// customer drops out with probability p ~ Beta(a, b). The first order is on the signup day.
pub const ORDERS_BGNBD: (f64, f64, f64, f64) = (0.75, 10.0, 0.8, 2.5);
/// The true Gamma-Gamma spend behind the demo orders: an order's amount ~ Gamma(shape p, rate
/// nu) with the customer's nu ~ Gamma(shape q, rate v): mean p v / (q - 1) = 30.
pub const ORDERS_GAMMA_GAMMA: (f64, f64, f64) = (6.0, 4.0, 15.0);

/// A Gamma(shape, rate = 1) variate (Marsaglia and Tsang; shapes below 1 boosted by U^(1/shape)).
fn gamma(rng: &mut ChaCha8Rng, shape: f64) -> f64 {
    if shape < 1.0 {
        let u: f64 = rng.gen::<f64>().max(f64::MIN_POSITIVE);
        return gamma(rng, shape + 1.0) * u.powf(1.0 / shape);
    }
    let d = shape - 1.0 / 3.0;
    let c = 1.0 / (9.0 * d).sqrt();
    loop {
        let x = normal(rng);
        let v = (1.0 + c * x).powi(3);
        if v <= 0.0 {
            continue;
        }
        let u: f64 = rng.gen::<f64>().max(f64::MIN_POSITIVE);
        if u.ln() < 0.5 * x * x + d - d * v + d * v.ln() {
            return d * v;
        }
    }
}

/// Orders of customer `c`, drawn from the true BG/NBD process (ORDERS_BGNBD) from the signup day
/// (the first order) to AS_OF_DAYS, with amounts from the true Gamma-Gamma model
/// (ORDERS_GAMMA_GAMMA). `order_id`s are unique across customers.
pub fn orders_of(seed: u64, c: &Customer) -> Vec<Order> {
    let mut rng =
        ChaCha8Rng::seed_from_u64(seed.wrapping_mul(0xD1B5_4A32_D192_ED03) ^ c.customer_id as u64);
    let (r, alpha, a, b) = ORDERS_BGNBD;
    let (p, q, v) = ORDERS_GAMMA_GAMMA;
    let rate_per_day = gamma(&mut rng, r) / alpha / 7.0;
    let (ga, gb) = (gamma(&mut rng, a), gamma(&mut rng, b));
    let drop_out = ga / (ga + gb);
    let nu = gamma(&mut rng, q) / v;
    let mut out = Vec::new();
    let mut t = c.signup_date as f64;
    loop {
        let amount = (gamma(&mut rng, p) / nu * 100.0).round() / 100.0;
        out.push(Order {
            order_id: c.customer_id * 1000 + out.len() as i64,
            customer_id: c.customer_id,
            order_date: t as i32,
            amount: amount.max(0.01),
        });
        // BG/NBD: a customer may drop out after each repeat purchase (not after the first)
        if out.len() >= 999 || (out.len() > 1 && rng.gen::<f64>() < drop_out) {
            break;
        }
        let u: f64 = rng.gen::<f64>().max(f64::MIN_POSITIVE);
        t += -u.ln() / rate_per_day.max(1e-12);
        if t >= AS_OF_DAYS as f64 {
            break;
        }
    }
    out
}

/// The demo shop's product categories: a customer's planted tastes are one or two of them.
pub const CATEGORIES: &[&str] = &[
    "books", "coffee", "garden", "kitchen", "outdoor", "pets", "toys", "wellness",
];
/// Products per category: `coffee-07` is the 8th coffee product.
pub const PRODUCTS_PER_CATEGORY: usize = 25;

/// One product interaction of a demo customer (demo_interactions).
pub struct Interaction {
    pub customer_id: i64,
    pub product: String,
    pub quantity: i32,
    /// days since 1970-01-01, within the year before AS_OF_DAYS
    pub day: i32,
}

/// A demo customer's main taste (a category) and, for one in three, a second one.
pub fn tastes_of(seed: u64, customer_id: i64) -> (usize, Option<usize>) {
    let mut rng =
        ChaCha8Rng::seed_from_u64(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ customer_id as u64);
    let main = rng.gen_range(0..CATEGORIES.len());
    let second = (rng.gen::<f64>() < 1.0 / 3.0).then(|| rng.gen_range(0..CATEGORIES.len()));
    (main, second)
}

/// A demo customer's product interactions from planted tastes: 3 to 15 of them, each from the
/// main taste (75%), the second (10%; else the main) or any category (15%), products
/// Zipf-weighted within a category (the first ones sell most), quantities 1 + Poisson-like.
pub fn interactions_of(seed: u64, customer_id: i64) -> Vec<Interaction> {
    let (main, second) = tastes_of(seed, customer_id);
    let mut rng =
        ChaCha8Rng::seed_from_u64(seed.wrapping_mul(0xA24B_AED4_963E_E407) ^ customer_id as u64);
    let n = rng.gen_range(3..=15);
    let weights: Vec<f64> = (1..=PRODUCTS_PER_CATEGORY)
        .map(|r| 1.0 / r as f64)
        .collect();
    let total: f64 = weights.iter().sum();
    (0..n)
        .map(|_| {
            let u: f64 = rng.gen();
            let category = if u < 0.75 {
                main
            } else if u < 0.85 {
                second.unwrap_or(main)
            } else {
                rng.gen_range(0..CATEGORIES.len())
            };
            let mut pick = rng.gen::<f64>() * total;
            let mut product = 0;
            while product + 1 < PRODUCTS_PER_CATEGORY && pick >= weights[product] {
                pick -= weights[product];
                product += 1;
            }
            let mut quantity = 1;
            while quantity < 5 && rng.gen::<f64>() < 0.3 {
                quantity += 1;
            }
            Interaction {
                customer_id,
                product: format!("{}-{:02}", CATEGORIES[category], product + 1),
                quantity,
                day: AS_OF_DAYS - rng.gen_range(0..365),
            }
        })
        .collect()
}

/// Planted behavioural segments of the demo customers (demo_behaviour): each segment's share
/// and the centre of its behaviour; a customer's columns scatter around its segment's centre
/// (normal noise of BEHAVIOUR_SPREAD x each column's spread across the centres), so the
/// segments are well separated once the columns are standardised.
pub const BEHAVIOUR_COLUMNS: &[&str] = &[
    "sessions_30d",
    "minutes_per_session",
    "orders_12m",
    "spend_12m",
    "discount_share",
];
pub const SEGMENTS: &[(&str, f64, [f64; 5])] = &[
    ("bargain hunters", 0.25, [12.0, 6.0, 8.0, 400.0, 0.70]),
    ("loyal regulars", 0.25, [15.0, 9.0, 14.0, 1400.0, 0.15]),
    ("big spenders", 0.10, [6.0, 12.0, 5.0, 3000.0, 0.05]),
    ("window shoppers", 0.25, [18.0, 14.0, 1.0, 60.0, 0.20]),
    ("dormant", 0.15, [1.0, 3.0, 1.0, 80.0, 0.30]),
];
const BEHAVIOUR_SPREAD: f64 = 0.08;

#[derive(Clone, Debug, PartialEq)]
pub struct Behaviour {
    pub customer_id: i64,
    pub sessions_30d: i32,
    pub minutes_per_session: f64,
    pub orders_12m: i32,
    pub spend_12m: f64,
    pub discount_share: f64,
    /// index into SEGMENTS
    pub segment: usize,
}

/// The behaviour of the i-th demo customer of this seed (independent of how many are made).
pub fn behaviour(seed: u64, i: u64) -> Behaviour {
    let mut rng = ChaCha8Rng::seed_from_u64(seed.wrapping_mul(0xA24B_AED4_963E_E407) ^ i);
    let shares: Vec<f64> = SEGMENTS.iter().map(|s| s.1).collect();
    let segment = pick(&mut rng, &shares);
    let centre = SEGMENTS[segment].2;
    let mut v = [0.0; 5];
    for (j, x) in v.iter_mut().enumerate() {
        let (lo, hi) = SEGMENTS
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), s| {
                (l.min(s.2[j]), h.max(s.2[j]))
            });
        *x = centre[j] + BEHAVIOUR_SPREAD * (hi - lo) * normal(&mut rng);
    }
    Behaviour {
        customer_id: i as i64 + 1,
        sessions_30d: v[0].round().max(0.0) as i32,
        minutes_per_session: (v[1].max(0.5) * 10.0).round() / 10.0,
        orders_12m: v[2].round().max(0.0) as i32,
        spend_12m: (v[3].max(0.0) * 100.0).round() / 100.0,
        discount_share: (v[4].clamp(0.0, 1.0) * 1000.0).round() / 1000.0,
        segment,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interactions_follow_the_planted_tastes() {
        let (mut in_main, mut total) = (0usize, 0usize);
        for c in 1..=2000 {
            let (main, _) = tastes_of(42, c);
            let xs = interactions_of(42, c);
            assert!((3..=15).contains(&xs.len()));
            total += xs.len();
            in_main += xs
                .iter()
                .filter(|x| x.product.starts_with(CATEGORIES[main]))
                .count();
            assert!(xs
                .iter()
                .all(|x| (1..=5).contains(&x.quantity) && x.day <= AS_OF_DAYS));
        }
        // 75% main taste, 10% second (the main one for two in three), 15% any (1/8 of it main)
        let share = in_main as f64 / total as f64;
        assert!((0.78..0.86).contains(&share), "{share}");
        // seeded
        assert_eq!(interactions_of(42, 7).len(), interactions_of(42, 7).len());
        assert_eq!(
            interactions_of(42, 7)[0].product,
            interactions_of(42, 7)[0].product
        );
    }

    #[test]
    fn customers_are_seeded_and_independent_of_count() {
        assert_eq!(customer(42, 17), customer(42, 17));
        assert_ne!(customer(42, 17), customer(43, 17));
        assert_eq!(customer(42, 0).customer_id, 1);
    }

    #[test]
    fn planted_drivers_show_in_raw_rates() {
        let cs: Vec<Customer> = (0..20000).map(|i| customer(7, i)).collect();
        let rate = |f: &dyn Fn(&Customer) -> bool| {
            let sel: Vec<&Customer> = cs.iter().filter(|c| f(c)).collect();
            sel.iter().filter(|c| c.purchased).count() as f64 / sel.len() as f64
        };
        assert!(rate(&|c| c.visits_30d >= 8) > rate(&|c| c.visits_30d <= 4) + 0.15);
        assert!(rate(&|c| c.is_member) > rate(&|c| !c.is_member) + 0.05);
        assert!(rate(&|c| c.channel == "app") > rate(&|c| c.channel == "store") + 0.1);
        let overall = rate(&|_| true);
        assert!(overall > 0.2 && overall < 0.5, "{overall}");
        let nulls = cs.iter().filter(|c| c.email_opens_30d.is_none()).count();
        assert!((1500..2500).contains(&nulls));
    }

    #[test]
    fn planted_segments_are_found_by_kmeans_and_ward() {
        use crate::ml::algorithms::agglomerative::linkage::{cut, linkage, Linkage};
        use crate::ml::algorithms::kmeans::{self, KMeansOptions};
        use crate::ml::linalg::Matrix;
        use crate::ml::metrics::adjusted_rand;
        use crate::ml::monitor::Silent;
        use crate::ml::parallel::Parallel;
        let bs: Vec<Behaviour> = (0..3000).map(|i| behaviour(42, i)).collect();
        let rows: Vec<Vec<f64>> = bs
            .iter()
            .map(|b| {
                vec![
                    b.sessions_30d as f64,
                    b.minutes_per_session,
                    b.orders_12m as f64,
                    b.spend_12m,
                    b.discount_share,
                ]
            })
            .collect();
        // standardised, as insight.train prepares numbers
        let mut x = Matrix::from_rows(&rows);
        for j in 0..5 {
            let mean = (0..x.rows).map(|i| x.row(i)[j]).sum::<f64>() / x.rows as f64;
            let sd = ((0..x.rows)
                .map(|i| (x.row(i)[j] - mean).powi(2))
                .sum::<f64>()
                / x.rows as f64)
                .sqrt();
            for i in 0..x.rows {
                x.data[i * 5 + j] = (x.data[i * 5 + j] - mean) / sd;
            }
        }
        let truth: Vec<usize> = bs.iter().map(|b| b.segment).collect();
        let shares: Vec<usize> = (0..5)
            .map(|s| truth.iter().filter(|&&t| t == s).count())
            .collect();
        assert!(shares.iter().all(|&n| n > 200), "{shares:?}");
        let f = kmeans::fit(
            &x,
            &KMeansOptions {
                k: 5,
                ..Default::default()
            },
            &Parallel::serial(),
            &Silent,
        );
        let labels: Vec<usize> = f.labels.iter().map(|&l| l as usize).collect();
        let ari = adjusted_rand(&labels, &truth);
        assert!(ari >= 0.95, "k-means ARI {ari}");
        let tree = linkage(&x, Linkage::Ward, &Parallel::serial(), &Silent);
        let ari = adjusted_rand(&cut(&tree, x.rows, 5), &truth);
        assert!(ari >= 0.95, "Ward ARI {ari}");
    }

    #[test]
    fn the_true_orders_process_is_recovered_within_its_sampling_error() {
        use crate::ml::clv::bgnbd::{self, BgNbd, Customer as History};
        use crate::ml::clv::summary::{Purchases, Unit};
        // 20,000 customers' orders summarised in weeks up to the data set's end
        let summaries: Vec<(History, f64)> = (0..20_000)
            .filter_map(|i| {
                let c = customer(11, i);
                let mut p = Purchases::new(AS_OF_DAYS, Unit::Week);
                for o in orders_of(11, &c) {
                    p.add(o.order_date, o.amount);
                }
                p.stats().map(|s| {
                    (
                        History {
                            x: s.frequency as f64,
                            t_x: s.recency,
                            t: s.t,
                        },
                        s.monetary_value,
                    )
                })
            })
            .collect();
        let histories: Vec<History> = summaries.iter().map(|(h, _)| *h).collect();
        let f = bgnbd::fit(&histories, 0.0, &crate::ml::monitor::Silent);
        let m = f.model;
        // standard errors from the observed information (the Hessian of the log-likelihood, by
        // differences of its analytic gradient)
        let theta = [m.r, m.alpha, m.a, m.b];
        let grad = |p: [f64; 4]| {
            let model = BgNbd {
                r: p[0],
                alpha: p[1],
                a: p[2],
                b: p[3],
            };
            let mut total = [0.0; 4];
            for h in &histories {
                let mut g = [0.0; 4];
                model.log_likelihood(h, Some(&mut g));
                for k in 0..4 {
                    total[k] += g[k];
                }
            }
            total
        };
        let mut info = vec![0.0; 16];
        for j in 0..4 {
            let h = theta[j] * 1e-5;
            let (mut up, mut down) = (theta, theta);
            up[j] += h;
            down[j] -= h;
            let (gu, gd) = (grad(up), grad(down));
            for i in 0..4 {
                info[i * 4 + j] = -(gu[i] - gd[i]) / (2.0 * h);
            }
        }
        let truth = [
            ORDERS_BGNBD.0,
            ORDERS_BGNBD.1,
            ORDERS_BGNBD.2,
            ORDERS_BGNBD.3,
        ];
        for j in 0..4 {
            let mut e = [0.0; 4];
            e[j] = 1.0;
            assert!(
                crate::ml::linalg::cholesky_solve(&info, 4, &mut e),
                "information not positive definite"
            );
            let se = e[j].sqrt();
            assert!(
                (theta[j] - truth[j]).abs() < 3.0 * se,
                "parameter {j}: {} vs true {} (se {se})",
                theta[j],
                truth[j]
            );
            assert!(
                se < 0.2 * truth[j],
                "parameter {j}: se {se} too wide to test anything"
            );
        }
        // Gamma-Gamma on the repeat customers, the same way
        use crate::ml::clv::gamma_gamma::{self, GammaGamma};
        let repeat: Vec<(f64, f64)> = summaries
            .iter()
            .filter(|(h, m)| h.x > 0.0 && *m > 0.0)
            .map(|(h, m)| (h.x, *m))
            .collect();
        let g = gamma_gamma::fit(&repeat, 0.0, &crate::ml::monitor::Silent).model;
        let theta = [g.p, g.q, g.v];
        let grad = |p: [f64; 3]| {
            let model = GammaGamma {
                p: p[0],
                q: p[1],
                v: p[2],
            };
            let mut total = [0.0; 3];
            for &(x, m) in &repeat {
                let mut gi = [0.0; 3];
                model.log_likelihood(x, m, Some(&mut gi));
                for k in 0..3 {
                    total[k] += gi[k];
                }
            }
            total
        };
        let mut info = vec![0.0; 9];
        for j in 0..3 {
            let h = theta[j] * 1e-5;
            let (mut up, mut down) = (theta, theta);
            up[j] += h;
            down[j] -= h;
            let (gu, gd) = (grad(up), grad(down));
            for i in 0..3 {
                info[i * 3 + j] = -(gu[i] - gd[i]) / (2.0 * h);
            }
        }
        let truth = [
            ORDERS_GAMMA_GAMMA.0,
            ORDERS_GAMMA_GAMMA.1,
            ORDERS_GAMMA_GAMMA.2,
        ];
        for j in 0..3 {
            let mut e = [0.0; 3];
            e[j] = 1.0;
            assert!(crate::ml::linalg::cholesky_solve(&info, 3, &mut e));
            let se = e[j].sqrt();
            assert!(
                (theta[j] - truth[j]).abs() < 3.0 * se,
                "gamma-gamma parameter {j}: {} vs true {} (se {se})",
                theta[j],
                truth[j]
            );
        }
    }

    #[test]
    fn orders_fall_between_signup_and_as_of() {
        let c = customer(1, 3);
        let os = orders_of(1, &c);
        assert!(os
            .iter()
            .all(|o| o.order_date >= c.signup_date && o.order_date < AS_OF_DAYS));
        assert_eq!(os, orders_of(1, &c));
    }
}
