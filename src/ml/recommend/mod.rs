//! Recommenders over customer-item interactions: implicit-feedback ALS (als.rs), item-item
//! cosine neighbours (item_knn.rs) and popularity. A fitted [`Recommender`] keeps the customer
//! and item keys (as text, whatever their SQL type), every customer's own interactions (what a
//! recommendation leaves out, and what it gives as the reason) and the item popularity (what a
//! customer the model has not seen gets).

pub mod als;
pub mod interactions;
pub mod item_knn;
pub mod metrics;

use crate::ml::monitor::Monitor;
use interactions::Csr;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// How a recommender scores items for a customer.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub enum Scorer {
    /// Customer and item factors (f32, row-major, `factors` a row): score = x_u . y_i.
    Als {
        factors: usize,
        alpha: f32,
        regularization: f32,
        user_factors: Vec<f32>,
        item_factors: Vec<f32>,
    },
    /// Each item's nearest items by cosine over the customers who interacted with them (rows
    /// of `neighbours`: item -> similar items with their similarity): score_i = sum over the
    /// customer's items j of strength_j x sim(j, i).
    ItemKnn { neighbours: Csr },
    /// The items most customers interacted with, the same for everyone.
    Popularity,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Recommender {
    pub customers: Vec<String>,
    pub items: Vec<String>,
    /// Every customer's interactions (customers x items), summed strengths.
    pub seen: Csr,
    /// Per item: the customers who interacted with it.
    pub popularity: Vec<u32>,
    pub scorer: Scorer,
    #[serde(skip)]
    customer_index: HashMap<String, u32>,
    #[serde(skip)]
    item_index: HashMap<String, u32>,
    /// ALS: Y^T Y over the item factors (f x f), what every explanation starts from: computed
    /// on the first explanation and kept with the decoded model, not per recommendation
    /// (n_items x f^2: 1.5 ms for 2,000 items of 64 factors, seconds for 1024 factors).
    #[serde(skip)]
    item_gram: std::sync::OnceLock<Vec<f64>>,
}

/// Why an item is recommended.
#[derive(Clone, Debug, PartialEq)]
pub enum Reason {
    /// The customer's own item that contributes most to the score.
    Item(usize),
    /// Among the most popular items (a customer the model has not seen, or the popularity
    /// model).
    Popular,
}

/// One recommended item.
#[derive(Clone, Debug, PartialEq)]
pub struct Recommendation {
    pub item: usize,
    pub score: f64,
    pub reason: Reason,
}

/// The most interactions a model row may claim (what training reads is bounded by memory long
/// before): a damaged row must not make decoding allocate by its numbers.
const MAX_ENTRIES: usize = 1 << 32;

impl Recommender {
    pub fn new(
        customers: Vec<String>,
        items: Vec<String>,
        seen: Csr,
        scorer: Scorer,
    ) -> Recommender {
        let mut popularity = vec![0u32; items.len()];
        for &i in &seen.cols {
            popularity[i as usize] += 1;
        }
        let mut r = Recommender {
            customers,
            items,
            seen,
            popularity,
            scorer,
            customer_index: HashMap::new(),
            item_index: HashMap::new(),
            item_gram: std::sync::OnceLock::new(),
        };
        r.prepare();
        r
    }

    /// Rebuilds the key lookups after decoding (they are not serialised).
    pub fn prepare(&mut self) {
        self.customer_index = index(&self.customers);
        self.item_index = index(&self.items);
    }

    /// Y^T Y of the ALS item factors, computed once (asking `monitor` every 256 items).
    fn item_gram(&self, item_factors: &[f32], f: usize, monitor: &dyn Monitor) -> &[f64] {
        if let Some(g) = self.item_gram.get() {
            return g;
        }
        let mut g = vec![0f64; f * f];
        for (i, y) in item_factors.chunks_exact(f).enumerate() {
            if i % 256 == 255 {
                monitor.checkpoint();
            }
            add_outer(&mut g, y, 1.0);
        }
        self.item_gram.get_or_init(|| g)
    }

    pub fn customer(&self, key: &str) -> Option<usize> {
        self.customer_index.get(key).map(|&c| c as usize)
    }

    pub fn item(&self, key: &str) -> Option<usize> {
        self.item_index.get(key).map(|&i| i as usize)
    }

    pub fn algorithm(&self) -> &'static str {
        match self.scorer {
            Scorer::Als { .. } => "als",
            Scorer::ItemKnn { .. } => "item_knn",
            Scorer::Popularity => "popularity",
        }
    }

    /// Checks a decoded model: keys distinct, the interactions and the scorer's arrays shaped
    /// by the key counts, numbers finite.
    pub fn check(&self) -> Result<(), String> {
        let (nu, ni) = (self.customers.len(), self.items.len());
        if nu == 0 || ni == 0 || self.seen.nnz() > MAX_ENTRIES {
            return Err(format!("a recommender with {nu} customers and {ni} items"));
        }
        if index(&self.customers).len() != nu || index(&self.items).len() != ni {
            return Err("a recommender lists a customer or an item twice".into());
        }
        self.seen.check(nu, ni)?;
        let mut counts = vec![0u32; ni];
        for &i in &self.seen.cols {
            counts[i as usize] += 1;
        }
        if counts != self.popularity {
            return Err("a recommender's item popularity does not match its interactions".into());
        }
        match &self.scorer {
            Scorer::Als {
                factors,
                alpha,
                regularization,
                user_factors,
                item_factors,
            } => {
                let f = *factors;
                if f == 0
                    || f > als::MAX_FACTORS
                    || user_factors.len() != nu.saturating_mul(f)
                    || item_factors.len() != ni.saturating_mul(f)
                    || !(alpha.is_finite() && *alpha >= 0.0)
                    || !(regularization.is_finite() && *regularization >= 0.0)
                    || !user_factors
                        .iter()
                        .chain(item_factors)
                        .all(|v| v.is_finite())
                {
                    return Err(format!(
                        "ALS factors that do not fit {nu} customers and {ni} items, or are not finite"
                    ));
                }
                Ok(())
            }
            Scorer::ItemKnn { neighbours } => {
                neighbours.check(ni, ni)?;
                if neighbours.values.iter().any(|&s| s > 1.0 + 1e-4) {
                    return Err("an item similarity above 1".into());
                }
                Ok(())
            }
            Scorer::Popularity => Ok(()),
        }
    }

    /// Every item's score for customer `u` (None: a customer the model has not seen, scored by
    /// popularity), with the reason an item would be recommended computed later for the few
    /// recommended.
    pub fn scores(&self, u: Option<usize>) -> Vec<f64> {
        match (&self.scorer, u) {
            (
                Scorer::Als {
                    factors,
                    user_factors,
                    item_factors,
                    ..
                },
                Some(u),
            ) => {
                let f = *factors;
                let xu = &user_factors[u * f..(u + 1) * f];
                item_factors
                    .chunks_exact(f)
                    .map(|y| f64::from(als::dot(xu, y)))
                    .collect()
            }
            (Scorer::ItemKnn { neighbours }, Some(u)) => {
                let mut s = vec![0.0; self.items.len()];
                for (j, r) in self.seen.row(u) {
                    for (i, sim) in neighbours.row(j) {
                        s[i] += f64::from(r) * f64::from(sim);
                    }
                }
                s
            }
            _ => self.popularity_scores(),
        }
    }

    /// Popularity as a score: the share of customers who interacted with the item.
    fn popularity_scores(&self) -> Vec<f64> {
        let n = self.customers.len() as f64;
        self.popularity.iter().map(|&c| f64::from(c) / n).collect()
    }

    /// The top `k` items for customer `u` (None: not in the model), best first (ties: the
    /// lower item index), leaving out the customer's own items when `exclude_seen`; `monitor`
    /// is asked between blocks of the explanations' work.
    pub fn recommend(
        &self,
        u: Option<usize>,
        k: usize,
        exclude_seen: bool,
        monitor: &dyn Monitor,
    ) -> Vec<Recommendation> {
        let scores = self.scores(u);
        let top = self.top_items(u, &scores, k, exclude_seen);
        let reasons = match (u, &self.scorer) {
            (Some(u), Scorer::Als { .. } | Scorer::ItemKnn { .. }) => {
                self.reasons(u, &top, monitor)
            }
            _ => vec![Reason::Popular; top.len()],
        };
        top.into_iter()
            .zip(reasons)
            .map(|(item, reason)| Recommendation {
                item,
                score: scores[item],
                reason,
            })
            .collect()
    }

    fn top_items(
        &self,
        u: Option<usize>,
        scores: &[f64],
        k: usize,
        exclude_seen: bool,
    ) -> Vec<usize> {
        let skip = |i: usize| exclude_seen && u.is_some_and(|u| self.seen.contains(u, i));
        top_k(scores, k.min(self.items.len()), skip)
    }

    /// Ranking metrics (metrics.rs) of the top `k` for customers with held-out items (`held`,
    /// indexed by customer), each leaving out the customer's items in `self.seen`: at most
    /// `max_customers` of them, evenly spread, scored on every thread.
    pub fn evaluate(
        &self,
        held: &[Vec<u32>],
        k: usize,
        max_customers: usize,
        par: &crate::ml::parallel::Parallel,
        monitor: &dyn crate::ml::monitor::Monitor,
    ) -> metrics::RankingMetrics {
        self.evaluate_at(held, &[k], max_customers, par, monitor)
            .remove(0)
    }

    /// As `evaluate`, at each list length of `ks` (not empty) from one ranking per customer.
    pub fn evaluate_at(
        &self,
        held: &[Vec<u32>],
        ks: &[usize],
        max_customers: usize,
        par: &crate::ml::parallel::Parallel,
        monitor: &dyn crate::ml::monitor::Monitor,
    ) -> Vec<metrics::RankingMetrics> {
        let with: Vec<usize> = (0..held.len()).filter(|&u| !held[u].is_empty()).collect();
        let step = with.len().div_ceil(max_customers.max(1)).max(1);
        let tests: Vec<(Option<usize>, Vec<usize>)> = with
            .into_iter()
            .step_by(step)
            .map(|u| (Some(u), held[u].iter().map(|&i| i as usize).collect()))
            .collect();
        self.evaluate_customers_at(&tests, ks, par, monitor)
    }

    /// Ranking metrics of the top `k` (each customer's own items left out) against each
    /// customer's test items: (customer, or None for one the model has not seen, who then gets
    /// the popular items; item indices, `usize::MAX` for an item the model does not know, which
    /// counts as missed).
    pub fn evaluate_customers(
        &self,
        tests: &[(Option<usize>, Vec<usize>)],
        k: usize,
        par: &crate::ml::parallel::Parallel,
        monitor: &dyn crate::ml::monitor::Monitor,
    ) -> metrics::RankingMetrics {
        self.evaluate_customers_at(tests, &[k], par, monitor)
            .remove(0)
    }

    /// As `evaluate_customers` at each list length of `ks`: one ranking of the longest list
    /// per customer, its first k items for each k (top_k orders ties the same way at any k).
    pub fn evaluate_customers_at(
        &self,
        tests: &[(Option<usize>, Vec<usize>)],
        ks: &[usize],
        par: &crate::ml::parallel::Parallel,
        monitor: &dyn crate::ml::monitor::Monitor,
    ) -> Vec<metrics::RankingMetrics> {
        let longest = ks.iter().copied().max().unwrap_or(1);
        // small blocks: a customer costs a pass over every item, and cancel is asked between
        // rounds of blocks
        let mut tops: Vec<Vec<usize>> = Vec::with_capacity(tests.len());
        par.fold_blocks(
            tests.len(),
            64,
            monitor,
            &mut tops,
            |block| {
                tests[block]
                    .iter()
                    .map(|(u, _)| self.top_items(*u, &self.scores(*u), longest, true))
                    .collect::<Vec<_>>()
            },
            |acc, part| acc.extend(part),
        );
        let mut accs: Vec<metrics::RankingAccumulator> = ks
            .iter()
            .map(|&k| metrics::RankingAccumulator::new(k, self.items.len()))
            .collect();
        for ((_, items), top) in tests.iter().zip(tops) {
            let truth: std::collections::HashSet<usize> = items.iter().copied().collect();
            for (acc, &k) in accs.iter_mut().zip(ks) {
                acc.add(&top[..k.min(top.len())], &truth);
            }
        }
        accs.iter().map(|a| a.finish()).collect()
    }

    /// For each recommended item, the customer's own item that contributes most to its score.
    /// ALS: Hu, Koren and Volinsky's explanation (section 5 of the paper): with
    /// W_u = (Y^T C_u Y + reg I)^-1, x_u = sum over the customer's items j of
    /// c_uj W_u y_j, so item i's score splits into c_uj (y_i^T W_u y_j), one term per own item.
    /// With z_j = c_uj W_u y_j solved once per own item, a term is y_i . z_j: n_own f per item.
    /// item_knn: the term strength_j x sim(j, i) of the score.
    fn reasons(&self, u: usize, items: &[usize], monitor: &dyn Monitor) -> Vec<Reason> {
        let own: Vec<(usize, f32)> = self.seen.row(u).collect();
        if own.is_empty() {
            return vec![Reason::Popular; items.len()];
        }
        let best = |terms: &mut dyn Iterator<Item = (usize, f64)>| {
            terms
                .fold(None, |b: Option<(usize, f64)>, (j, t)| match b {
                    Some((_, bt)) if bt >= t => b,
                    _ => Some((j, t)),
                })
                .map_or(Reason::Popular, |(j, _)| Reason::Item(j))
        };
        match &self.scorer {
            Scorer::Als {
                factors,
                alpha,
                regularization,
                item_factors,
                ..
            } => {
                let f = *factors;
                let y = |i: usize| &item_factors[i * f..(i + 1) * f];
                // Y^T C_u Y + reg I = Y^T Y + sum over own items (c - 1) y y^T + reg I
                let mut a = self.item_gram(item_factors, f, monitor).to_vec();
                for &(j, s) in &own {
                    add_outer(&mut a, y(j), f64::from(alpha * s));
                }
                // the customer's penalty, weighted by their interactions as in the fit
                let reg = f64::from(*regularization) * own.len() as f64;
                for d in 0..f {
                    a[d * f + d] += reg;
                }
                let Some(l) = crate::ml::linalg::cholesky(&a, f, monitor) else {
                    return vec![Reason::Popular; items.len()];
                };
                let z: Vec<Vec<f64>> = own
                    .iter()
                    .enumerate()
                    .map(|(n, &(j, s))| {
                        if n % 64 == 63 {
                            monitor.checkpoint();
                        }
                        let c = 1.0 + f64::from(alpha * s);
                        let mut w: Vec<f64> = y(j).iter().map(|&v| c * f64::from(v)).collect();
                        crate::ml::linalg::cholesky_solve_factored(&l, f, &mut w);
                        w
                    })
                    .collect();
                items
                    .iter()
                    .enumerate()
                    .map(|(n, &i)| {
                        if n % 256 == 255 {
                            monitor.checkpoint();
                        }
                        let yi = y(i);
                        best(&mut own.iter().zip(&z).map(|(&(j, _), zj)| {
                            (j, zj.iter().zip(yi).map(|(a, &b)| a * f64::from(b)).sum())
                        }))
                    })
                    .collect()
            }
            Scorer::ItemKnn { neighbours } => items
                .iter()
                .map(|&i| {
                    best(&mut own.iter().filter_map(|&(j, s)| {
                        let r = neighbours.range(j);
                        let at = neighbours.cols[r.clone()].binary_search(&(i as u32)).ok()?;
                        Some((j, f64::from(s) * f64::from(neighbours.values[r.start + at])))
                    }))
                })
                .collect(),
            Scorer::Popularity => vec![Reason::Popular; items.len()],
        }
    }

    /// The `k` items most similar to item `i` (itself left out), with their similarity: cosine
    /// on the item factors (ALS) or the stored neighbours (item_knn). None for popularity.
    pub fn similar_items(&self, i: usize, k: usize) -> Option<Vec<(usize, f64)>> {
        match &self.scorer {
            Scorer::Als {
                factors,
                item_factors,
                ..
            } => {
                let sims = cosines(item_factors, *factors, i);
                let top = top_k(&sims, k, |j| j == i);
                Some(top.into_iter().map(|j| (j, sims[j])).collect())
            }
            Scorer::ItemKnn { neighbours } => {
                let mut sims = vec![f64::NEG_INFINITY; self.items.len()];
                for (j, s) in neighbours.row(i) {
                    sims[j] = f64::from(s);
                }
                let top = top_k(&sims, k, |j| j == i || sims[j] == f64::NEG_INFINITY);
                Some(top.into_iter().map(|j| (j, sims[j])).collect())
            }
            Scorer::Popularity => None,
        }
    }

    /// The `k` customers most similar to customer `u` by cosine on the customer factors (ALS);
    /// None for the other recommenders.
    pub fn similar_customers(&self, u: usize, k: usize) -> Option<Vec<(usize, f64)>> {
        match &self.scorer {
            Scorer::Als {
                factors,
                user_factors,
                ..
            } => {
                let sims = cosines(user_factors, *factors, u);
                let top = top_k(&sims, k, |v| v == u);
                Some(top.into_iter().map(|v| (v, sims[v])).collect())
            }
            _ => None,
        }
    }

    /// What model_info shows.
    pub fn describe(&self) -> serde_json::Value {
        let mut v = serde_json::json!({
            "customers": self.customers.len(),
            "items": self.items.len(),
            "interactions": self.seen.nnz(),
        });
        match &self.scorer {
            Scorer::Als {
                factors,
                alpha,
                regularization,
                ..
            } => {
                v["factors"] = (*factors).into();
                v["alpha"] = f64::from(*alpha).into();
                v["regularization"] = f64::from(*regularization).into();
            }
            Scorer::ItemKnn { neighbours } => {
                v["similarities"] = neighbours.nnz().into();
            }
            Scorer::Popularity => {}
        }
        let mut order: Vec<usize> = (0..self.items.len()).collect();
        order.sort_by(|&a, &b| self.popularity[b].cmp(&self.popularity[a]).then(a.cmp(&b)));
        v["most_popular"] = order
            .iter()
            .take(10)
            .map(|&i| serde_json::json!({"item": self.items[i], "customers": self.popularity[i]}))
            .collect();
        v
    }
}

fn index(keys: &[String]) -> HashMap<String, u32> {
    keys.iter()
        .enumerate()
        .map(|(i, k)| (k.clone(), i as u32))
        .collect()
}

fn add_outer(a: &mut [f64], v: &[f32], w: f64) {
    let f = v.len();
    for (r, &vr) in v.iter().enumerate() {
        let wr = w * f64::from(vr);
        for (c, &vc) in v.iter().enumerate() {
            a[r * f + c] += wr * f64::from(vc);
        }
    }
}

/// Cosine of row `of` of the f-wide rows of `m` with every row (0 where a row is all zeros).
fn cosines(m: &[f32], f: usize, of: usize) -> Vec<f64> {
    let norm = |r: &[f32]| f64::from(als::dot(r, r)).sqrt();
    let v = &m[of * f..(of + 1) * f];
    let nv = norm(v);
    m.chunks_exact(f)
        .map(|r| {
            let d = nv * norm(r);
            if d > 0.0 {
                // f32 rounding can put a cosine a hair past 1
                (f64::from(als::dot(v, r)) / d).clamp(-1.0, 1.0)
            } else {
                0.0
            }
        })
        .collect()
}

/// The indices of the `k` highest scores (NaN never; ties: the lower index first), best first,
/// leaving out those `skip` names.
pub fn top_k(scores: &[f64], k: usize, skip: impl Fn(usize) -> bool) -> Vec<usize> {
    use std::cmp::Ordering;
    use std::collections::BinaryHeap;
    // a min-heap of the best k so far: (score, reversed index) ordered so the worst is on top
    #[derive(PartialEq)]
    struct Entry(f64, usize);
    impl Eq for Entry {}
    impl PartialOrd for Entry {
        fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
            Some(self.cmp(o))
        }
    }
    impl Ord for Entry {
        // "greater" = worse: a lower score, or an equal score at a higher index
        fn cmp(&self, o: &Self) -> Ordering {
            o.0.total_cmp(&self.0).then(self.1.cmp(&o.1))
        }
    }
    if k == 0 {
        return Vec::new();
    }
    let mut heap = BinaryHeap::with_capacity(k + 1);
    for (i, &s) in scores.iter().enumerate() {
        if s.is_nan() || skip(i) {
            continue;
        }
        if heap.len() < k {
            heap.push(Entry(s, i));
        } else if let Some(worst) = heap.peek() {
            if Entry(s, i) < *worst {
                heap.pop();
                heap.push(Entry(s, i));
            }
        }
    }
    let mut out: Vec<Entry> = heap.into_vec();
    out.sort();
    out.into_iter().map(|e| e.1).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn als_reasons_are_the_largest_hkv_terms() {
        use crate::ml::monitor::Silent;
        use rand::{Rng, SeedableRng};
        let (nu, ni, f) = (30, 40, 5);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let (mut us, mut is, mut ss) = (vec![], vec![], vec![]);
        for u in 0..nu {
            for _ in 0..6 {
                us.push(u as u32);
                is.push(rng.gen_range(0..ni) as u32);
                ss.push(rng.gen_range(1.0..3.0));
            }
        }
        let r = interactions::Interactions::from_triples(nu, ni, &us, &is, &ss);
        let (alpha, regularization) = (2.0f32, 0.5f32);
        let user_factors: Vec<f32> = (0..nu * f).map(|_| rng.gen_range(-1.0..1.0)).collect();
        let item_factors: Vec<f32> = (0..ni * f).map(|_| rng.gen_range(-1.0..1.0)).collect();
        let rec = Recommender::new(
            (0..nu).map(|u| u.to_string()).collect(),
            (0..ni).map(|i| i.to_string()).collect(),
            r.by_user.clone(),
            Scorer::Als {
                factors: f,
                alpha,
                regularization,
                user_factors,
                item_factors: item_factors.clone(),
            },
        );
        let y = |i: usize| -> Vec<f64> {
            item_factors[i * f..(i + 1) * f]
                .iter()
                .map(|&v| f64::from(v))
                .collect()
        };
        for u in 0..nu {
            let own: Vec<(usize, f32)> = r.by_user.row(u).collect();
            // A = Y^T Y + sum over own items (c - 1) y y^T + reg n_u I, solved per item directly
            let mut a = vec![0f64; f * f];
            for i in 0..ni {
                let v = y(i);
                let w = 1.0
                    + own
                        .iter()
                        .find(|p| p.0 == i)
                        .map_or(0.0, |p| f64::from(alpha * p.1));
                for p in 0..f {
                    for q in 0..f {
                        a[p * f + q] += w * v[p] * v[q];
                    }
                }
            }
            for d in 0..f {
                a[d * f + d] += f64::from(regularization) * own.len() as f64;
            }
            for got in rec.recommend(Some(u), 5, true, &Silent) {
                let mut w = y(got.item);
                assert!(crate::ml::linalg::cholesky_solve(&a, f, &mut w));
                let terms: Vec<(usize, f64)> = own
                    .iter()
                    .map(|&(j, s)| {
                        let c = 1.0 + f64::from(alpha * s);
                        (j, c * w.iter().zip(y(j)).map(|(a, b)| a * b).sum::<f64>())
                    })
                    .collect();
                let best = terms
                    .iter()
                    .fold(terms[0], |b, &t| if t.1 > b.1 { t } else { b });
                assert_eq!(got.reason, Reason::Item(best.0), "customer {u}: {terms:?}");
            }
        }
    }

    #[test]
    fn top_k_keeps_the_best_in_order_and_skips() {
        let s = [0.5, 2.0, f64::NAN, 2.0, -1.0, 3.0];
        assert_eq!(top_k(&s, 3, |_| false), vec![5, 1, 3]);
        assert_eq!(top_k(&s, 3, |i| i == 5), vec![1, 3, 0]);
        assert_eq!(top_k(&s, 10, |_| false), vec![5, 1, 3, 0, 4]);
        assert!(top_k(&s, 0, |_| false).is_empty());
    }
}
