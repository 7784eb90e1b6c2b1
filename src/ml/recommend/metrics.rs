//! Ranking metrics of top-k recommendations against held-out interactions, averaged over the
//! customers who have held-out items:
//!
//! - precision@k: hits / k
//! - recall@k: hits / (held-out items)
//! - NDCG@k: sum over hits at rank r (1-based) of 1 / log2(r + 1), divided by the same sum for
//!   min(k, held-out items) hits at the top
//! - MAP@k: the mean over hits of precision at the hit's rank, divided by min(k, held-out items)
//! - coverage: distinct items recommended to anyone / items the model knows

use serde::Serialize;
use std::collections::HashSet;

#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct RankingMetrics {
    pub k: usize,
    pub customers: usize,
    pub precision_at_k: f64,
    pub recall_at_k: f64,
    pub ndcg_at_k: f64,
    pub map_at_k: f64,
    pub coverage: f64,
}

/// Accumulates one customer at a time.
pub struct RankingAccumulator {
    k: usize,
    n_items: usize,
    customers: usize,
    precision: f64,
    recall: f64,
    ndcg: f64,
    map: f64,
    recommended: HashSet<usize>,
}

impl RankingAccumulator {
    pub fn new(k: usize, n_items: usize) -> Self {
        RankingAccumulator {
            k,
            n_items,
            customers: 0,
            precision: 0.0,
            recall: 0.0,
            ndcg: 0.0,
            map: 0.0,
            recommended: HashSet::new(),
        }
    }

    /// A customer's recommendations (best first, at most k) against their held-out items (not
    /// empty; distinct).
    pub fn add(&mut self, recommended: &[usize], held_out: &HashSet<usize>) {
        if held_out.is_empty() {
            return;
        }
        let k = self.k;
        let (mut hits, mut dcg, mut ap) = (0usize, 0.0, 0.0);
        for (rank, i) in recommended.iter().take(k).enumerate() {
            self.recommended.insert(*i);
            if held_out.contains(i) {
                hits += 1;
                dcg += 1.0 / ((rank + 2) as f64).log2();
                ap += hits as f64 / (rank + 1) as f64;
            }
        }
        let ideal_hits = held_out.len().min(k);
        let idcg: f64 = (0..ideal_hits).map(|r| 1.0 / ((r + 2) as f64).log2()).sum();
        self.customers += 1;
        self.precision += hits as f64 / k as f64;
        self.recall += hits as f64 / held_out.len() as f64;
        self.ndcg += dcg / idcg;
        self.map += ap / ideal_hits as f64;
    }

    pub fn finish(&self) -> RankingMetrics {
        let n = self.customers.max(1) as f64;
        RankingMetrics {
            k: self.k,
            customers: self.customers,
            precision_at_k: self.precision / n,
            recall_at_k: self.recall / n,
            ndcg_at_k: self.ndcg / n,
            map_at_k: self.map / n,
            coverage: self.recommended.len() as f64 / self.n_items.max(1) as f64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_by_hand() {
        let mut a = RankingAccumulator::new(3, 10);
        // hits at ranks 1 and 3 of 3, two of four held-out items
        a.add(&[1, 2, 3], &[1, 3, 7, 8].into_iter().collect());
        // no hit
        a.add(&[4, 5, 6], &[9].into_iter().collect());
        let m = a.finish();
        assert_eq!(m.customers, 2);
        assert!((m.precision_at_k - (2.0 / 3.0) / 2.0).abs() < 1e-12);
        assert!((m.recall_at_k - 0.5 / 2.0).abs() < 1e-12);
        let dcg = 1.0 + 1.0 / 4f64.log2();
        let idcg = 1.0 + 1.0 / 3f64.log2() + 1.0 / 4f64.log2();
        assert!((m.ndcg_at_k - dcg / idcg / 2.0).abs() < 1e-12);
        let ap = (1.0 + 2.0 / 3.0) / 3.0;
        assert!((m.map_at_k - ap / 2.0).abs() < 1e-12);
        assert!((m.coverage - 0.6).abs() < 1e-12);
    }
}
