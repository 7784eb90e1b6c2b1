//! Item-item neighbours: the cosine between two items' columns of the interaction matrix (one
//! entry per customer, the summed strength), the `neighbours` most similar kept per item. A
//! customer's score for an item is the sum over their own items of strength x similarity (as
//! `implicit`'s CosineRecommender). Cost: one pass over every customer's pairs of items, the sum
//! over customers of (their items)^2.

use super::interactions::Csr;
use crate::ml::monitor::Monitor;
use crate::ml::parallel::Parallel;

/// Items whose neighbours are found per job.
const BLOCK: usize = 256;

/// Each item's `k` most similar other items (similarity > 0), as rows of a CSR matrix
/// (columns ascending), from `by_user` (customers x items) and `by_item` (its transpose).
pub fn fit(by_user: &Csr, by_item: &Csr, k: usize, par: &Parallel, monitor: &dyn Monitor) -> Csr {
    let n_items = by_item.rows();
    let norms: Vec<f64> = (0..n_items)
        .map(|i| {
            by_item
                .row(i)
                .map(|(_, v)| f64::from(v) * f64::from(v))
                .sum::<f64>()
                .sqrt()
        })
        .collect();
    let mut rows: Vec<Vec<(u32, f32)>> = Vec::with_capacity(n_items);
    par.fold_blocks(
        n_items,
        BLOCK,
        monitor,
        &mut rows,
        |block| {
            let mut acc = vec![0f64; n_items];
            let mut touched: Vec<usize> = Vec::new();
            let mut out = Vec::with_capacity(block.len());
            for i in block {
                for (u, rui) in by_item.row(i) {
                    for (j, ruj) in by_user.row(u) {
                        if j != i {
                            if acc[j] == 0.0 {
                                touched.push(j);
                            }
                            acc[j] += f64::from(rui) * f64::from(ruj);
                        }
                    }
                }
                let sims: Vec<f64> = touched
                    .iter()
                    .map(|&j| acc[j] / (norms[i] * norms[j]))
                    .collect();
                let best = super::top_k(&sims, k, |t| sims[t].is_nan() || sims[t] <= 0.0);
                let mut row: Vec<(u32, f32)> = best
                    .iter()
                    .map(|&t| (touched[t] as u32, sims[t].min(1.0) as f32))
                    .collect();
                row.sort_unstable_by_key(|p| p.0);
                for &j in &touched {
                    acc[j] = 0.0;
                }
                touched.clear();
                out.push(row);
            }
            out
        },
        |acc: &mut Vec<Vec<(u32, f32)>>, part| acc.extend(part),
    );
    let mut csr = Csr {
        ptr: vec![0],
        cols: Vec::new(),
        values: Vec::new(),
    };
    for row in rows {
        for (j, s) in row {
            csr.cols.push(j);
            csr.values.push(s);
        }
        csr.ptr.push(csr.cols.len() as u64);
    }
    csr
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ml::monitor::Silent;
    use crate::ml::recommend::interactions::Interactions;

    #[test]
    fn cosine_of_item_columns_by_hand() {
        // customers x items:      i0 i1 i2
        //                     u0:  1  1  .
        //                     u1:  2  .  1
        //                     u2:  .  1  .
        let r = Interactions::from_triples(
            3,
            3,
            &[0, 0, 1, 1, 2],
            &[0, 1, 0, 2, 1],
            &[1.0, 1.0, 2.0, 1.0, 1.0],
        );
        let n = fit(&r.by_user, &r.by_item, 10, &Parallel::new(2), &Silent);
        // cos(i0, i1) = 1 / (sqrt 5 sqrt 2); cos(i0, i2) = 2 / sqrt 5; cos(i1, i2) = 0
        let c01 = (1.0 / (5f64.sqrt() * 2f64.sqrt())) as f32;
        let c02 = (2.0 / 5f64.sqrt()) as f32;
        assert_eq!(n.ptr, vec![0, 2, 3, 4]);
        assert_eq!(n.cols, vec![1, 2, 0, 0]);
        for (got, want) in n.values.iter().zip([c01, c02, c01, c02]) {
            assert!((got - want).abs() < 1e-6);
        }
        // k = 1 keeps each item's nearest only
        let n1 = fit(&r.by_user, &r.by_item, 1, &Parallel::serial(), &Silent);
        assert_eq!(n1.cols, vec![2, 0, 0]);
    }
}
