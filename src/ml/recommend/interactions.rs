//! Customer-item interactions as a sparse matrix, stored both ways (CSR by customer and by
//! item): what the recommenders fit on and what a recommendation excludes. Duplicate
//! (customer, item) pairs are summed; pairs whose strength sums to zero or less are no
//! interaction (a purchase refunded in full).

use serde::{Deserialize, Serialize};

/// One direction of the matrix: row r's entries are `cols[ptr[r]..ptr[r + 1]]` (ascending)
/// with their `values`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct Csr {
    pub ptr: Vec<u64>,
    pub cols: Vec<u32>,
    pub values: Vec<f32>,
}

impl Csr {
    pub fn rows(&self) -> usize {
        self.ptr.len().saturating_sub(1)
    }

    pub fn nnz(&self) -> usize {
        self.cols.len()
    }

    #[inline]
    pub fn range(&self, r: usize) -> std::ops::Range<usize> {
        self.ptr[r] as usize..self.ptr[r + 1] as usize
    }

    /// Row r's (column, value) pairs.
    #[inline]
    pub fn row(&self, r: usize) -> impl Iterator<Item = (usize, f32)> + '_ {
        let range = self.range(r);
        self.cols[range.clone()]
            .iter()
            .zip(&self.values[range])
            .map(|(&c, &v)| (c as usize, v))
    }

    /// Whether row r holds column c (binary search: columns ascend).
    pub fn contains(&self, r: usize, c: usize) -> bool {
        self.cols[self.range(r)].binary_search(&(c as u32)).is_ok()
    }

    /// The matrix with rows and columns swapped (`n_cols` columns).
    pub fn transpose(&self, n_cols: usize) -> Csr {
        let mut counts = vec![0u64; n_cols + 1];
        for &c in &self.cols {
            counts[c as usize + 1] += 1;
        }
        for i in 0..n_cols {
            counts[i + 1] += counts[i];
        }
        let mut next = counts.clone();
        let mut cols = vec![0u32; self.nnz()];
        let mut values = vec![0f32; self.nnz()];
        // rows in order: each transposed row's columns come out ascending
        for r in 0..self.rows() {
            for (c, v) in self.row(r) {
                let at = next[c] as usize;
                cols[at] = r as u32;
                values[at] = v;
                next[c] += 1;
            }
        }
        Csr {
            ptr: counts,
            cols,
            values,
        }
    }

    /// Checks a decoded matrix of `rows` x `n_cols`: pointers ascend from 0 to the entry
    /// count, columns ascend within a row and stay below `n_cols`, values are finite and
    /// positive.
    pub fn check(&self, rows: usize, n_cols: usize) -> Result<(), String> {
        if self.ptr.len() != rows + 1
            || self.ptr[0] != 0
            || self.ptr[rows] as usize != self.cols.len()
            || self.values.len() != self.cols.len()
            || self.ptr.windows(2).any(|w| w[0] > w[1])
        {
            return Err(format!(
                "an interaction matrix of {rows} rows has inconsistent row pointers"
            ));
        }
        for r in 0..rows {
            let cols = &self.cols[self.range(r)];
            if cols.windows(2).any(|w| w[0] >= w[1])
                || cols.last().is_some_and(|&c| c as usize >= n_cols)
            {
                return Err(
                    "an interaction matrix has columns out of order or out of range".into(),
                );
            }
        }
        if self.values.iter().any(|v| !(v.is_finite() && *v > 0.0)) {
            return Err(
                "an interaction matrix holds a value that is not positive and finite".into(),
            );
        }
        Ok(())
    }
}

/// The interactions of `n_users` customers with `n_items` items.
#[derive(Clone, Debug)]
pub struct Interactions {
    pub n_users: usize,
    pub n_items: usize,
    pub by_user: Csr,
    pub by_item: Csr,
}

impl Interactions {
    /// From (customer, item, strength) triples: duplicates summed, non-positive sums dropped.
    pub fn from_triples(
        n_users: usize,
        n_items: usize,
        users: &[u32],
        items: &[u32],
        strength: &[f32],
    ) -> Interactions {
        // counting sort by customer, then each customer's items sorted and merged
        let mut ptr = vec![0u64; n_users + 1];
        for &u in users {
            ptr[u as usize + 1] += 1;
        }
        for i in 0..n_users {
            ptr[i + 1] += ptr[i];
        }
        let mut next = ptr.clone();
        let mut pairs = vec![(0u32, 0f32); users.len()];
        for ((&u, &i), &s) in users.iter().zip(items).zip(strength) {
            let at = &mut next[u as usize];
            pairs[*at as usize] = (i, s);
            *at += 1;
        }
        let mut out = Csr {
            ptr: Vec::with_capacity(n_users + 1),
            cols: Vec::with_capacity(users.len()),
            values: Vec::with_capacity(users.len()),
        };
        out.ptr.push(0);
        for u in 0..n_users {
            let row = &mut pairs[ptr[u] as usize..ptr[u + 1] as usize];
            row.sort_unstable_by_key(|p| p.0);
            let mut k = 0;
            while k < row.len() {
                let item = row[k].0;
                let mut sum = 0f64;
                while k < row.len() && row[k].0 == item {
                    sum += f64::from(row[k].1);
                    k += 1;
                }
                if sum > 0.0 {
                    out.cols.push(item);
                    out.values.push(sum as f32);
                }
            }
            out.ptr.push(out.cols.len() as u64);
        }
        let by_item = out.transpose(n_items);
        Interactions {
            n_users,
            n_items,
            by_user: out,
            by_item,
        }
    }

    pub fn nnz(&self) -> usize {
        self.by_user.nnz()
    }

    /// Holds out about `test_size` of every customer's items (seeded; rounded at random so the
    /// shares add up), keeping at least one in training: customers with one item keep it.
    /// Returns the training interactions and each customer's held-out items.
    pub fn hold_out(&self, test_size: f64, seed: u64) -> (Interactions, Vec<Vec<u32>>) {
        use rand::seq::SliceRandom;
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0x5EC0_11AB);
        let mut held = vec![Vec::new(); self.n_users];
        let (mut us, mut is, mut ss) = (vec![], vec![], vec![]);
        for (u, held_u) in held.iter_mut().enumerate() {
            let mut row: Vec<(usize, f32)> = self.by_user.row(u).collect();
            let n = row.len();
            let want = test_size * n as f64;
            let mut k = want.floor() as usize + usize::from(rng.gen::<f64>() < want.fract());
            k = k.min(n.saturating_sub(1));
            row.shuffle(&mut rng);
            for (pos, &(i, s)) in row.iter().enumerate() {
                if pos < k {
                    held_u.push(i as u32);
                } else {
                    us.push(u as u32);
                    is.push(i as u32);
                    ss.push(s);
                }
            }
            held_u.sort_unstable();
        }
        (
            Interactions::from_triples(self.n_users, self.n_items, &us, &is, &ss),
            held,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_are_summed_refunds_cancel_and_both_directions_agree() {
        // customer 0 buys item 2 twice and item 1 once; customer 2 buys item 0 and returns it
        let r = Interactions::from_triples(
            3,
            3,
            &[0, 0, 0, 2, 2, 1],
            &[2, 1, 2, 0, 0, 2],
            &[1.0, 1.0, 2.0, 1.0, -1.0, 5.0],
        );
        assert_eq!(r.by_user.ptr, vec![0, 2, 3, 3]);
        assert_eq!(r.by_user.cols, vec![1, 2, 2]);
        assert_eq!(r.by_user.values, vec![1.0, 3.0, 5.0]);
        assert_eq!(r.by_item.ptr, vec![0, 0, 1, 3]);
        assert_eq!(r.by_item.cols, vec![0, 0, 1]);
        assert_eq!(r.by_item.values, vec![1.0, 3.0, 5.0]);
        assert!(r.by_user.contains(0, 2) && !r.by_user.contains(2, 0));
        assert!(r.by_user.check(3, 3).is_ok() && r.by_item.check(3, 3).is_ok());
        let mut bad = r.by_user.clone();
        bad.cols[0] = 7;
        assert!(bad.check(3, 3).is_err());
        bad = r.by_user.clone();
        bad.ptr[1] = 9;
        assert!(bad.check(3, 3).is_err());
    }

    #[test]
    fn holding_out_keeps_one_item_per_customer_and_loses_nothing() {
        let n = 50;
        let (mut us, mut is) = (vec![], vec![]);
        for u in 0..n {
            for i in 0..(u % 7) {
                us.push(u as u32);
                is.push(i as u32);
            }
        }
        let r = Interactions::from_triples(n, 7, &us, &is, &vec![1.0; us.len()]);
        let (train, held) = r.hold_out(0.3, 1);
        let held_total: usize = held.iter().map(Vec::len).sum();
        assert_eq!(train.nnz() + held_total, r.nnz());
        for (u, held_u) in held.iter().enumerate() {
            let had = r.by_user.range(u).len();
            assert_eq!(train.by_user.range(u).len() + held_u.len(), had);
            if had > 0 {
                assert!(
                    !train.by_user.range(u).is_empty(),
                    "customer {u} lost every item"
                );
            }
            for &i in held_u {
                assert!(!train.by_user.contains(u, i as usize));
            }
        }
        // about 30% of what could be held out
        let share = held_total as f64 / r.nnz() as f64;
        assert!((0.2..0.35).contains(&share), "{share}");
        // seeded
        assert_eq!(r.hold_out(0.3, 1).1, held);
    }
}
