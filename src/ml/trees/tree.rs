//! A regression tree stored flat, as scoring walks it: parallel arrays of split nodes (input,
//! threshold, where missing values go, children) and of leaves, no pointers. A child index of
//! 0 or more is a split node (always after its parent, so a stored tree has no cycles); a
//! negative one is the leaf `!index`. A tree without splits is one leaf.

use serde::{Deserialize, Serialize};

/// The deepest tree a model may hold: growth makes at most max_leaves - 1 (4095) splits, and
/// TreeSHAP recurses once per level.
pub const MAX_DEPTH: usize = 4096;

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Tree {
    pub input: Vec<u32>,
    /// A value <= threshold goes left.
    pub threshold: Vec<f64>,
    /// Where a missing value (NaN) goes.
    pub missing_left: Vec<bool>,
    pub left: Vec<i32>,
    pub right: Vec<i32>,
    /// The loss reduction of each split (gain-based importance).
    pub gain: Vec<f64>,
    /// Training rows that reached each split node and each leaf: what TreeSHAP weighs the
    /// paths by (as LightGBM's and scikit-learn's trees count them).
    pub node_cover: Vec<f64>,
    pub leaf_value: Vec<f64>,
    pub leaf_cover: Vec<f64>,
}

impl Tree {
    pub fn leaf(value: f64, cover: f64) -> Tree {
        Tree {
            input: vec![],
            threshold: vec![],
            missing_left: vec![],
            left: vec![],
            right: vec![],
            gain: vec![],
            node_cover: vec![],
            leaf_value: vec![value],
            leaf_cover: vec![cover],
        }
    }

    pub fn splits(&self) -> usize {
        self.input.len()
    }

    /// The leaf a row of encoded inputs lands in.
    #[inline]
    pub fn leaf_of(&self, x: &[f64]) -> usize {
        if self.input.is_empty() {
            return 0;
        }
        let mut node = 0usize;
        loop {
            let v = x[self.input[node] as usize];
            let go_left = if v.is_nan() {
                self.missing_left[node]
            } else {
                v <= self.threshold[node]
            };
            let next = if go_left {
                self.left[node]
            } else {
                self.right[node]
            };
            if next < 0 {
                return !next as usize;
            }
            node = next as usize;
        }
    }

    #[inline]
    pub fn predict(&self, x: &[f64]) -> f64 {
        self.leaf_value[self.leaf_of(x)]
    }

    /// Checks a decoded tree: arrays of one length, children in range and after their parent
    /// (no cycles, every walk ends), inputs below `width`, finite numbers, every leaf reached
    /// once.
    pub fn check(&self, width: usize) -> Result<(), String> {
        let n = self.input.len();
        let leaves = self.leaf_value.len();
        if [
            self.threshold.len(),
            self.missing_left.len(),
            self.left.len(),
            self.right.len(),
            self.gain.len(),
            self.node_cover.len(),
        ]
        .iter()
        .any(|&l| l != n)
            || self.leaf_cover.len() != leaves
            || leaves != n + 1
        {
            return Err(format!(
                "a tree has {n} splits and {leaves} leaves in arrays of unequal length"
            ));
        }
        let mut leaf_seen = vec![false; leaves];
        // depth of each split node (its parent comes first): TreeSHAP recurses this deep
        let mut depth = vec![0usize; n];
        for i in 0..n {
            if depth[i] > MAX_DEPTH {
                return Err(format!("a tree is deeper than {MAX_DEPTH} splits"));
            }
            if self.input[i] as usize >= width || !self.threshold[i].is_finite() {
                return Err(format!(
                    "a tree splits on input {} of {width}, or at a non-finite threshold",
                    self.input[i]
                ));
            }
            for c in [self.left[i], self.right[i]] {
                if c >= 0 {
                    if c as usize <= i || c as usize >= n {
                        return Err("a tree's child comes before its parent".into());
                    }
                    depth[c as usize] = depth[i] + 1;
                } else {
                    let l = !c as usize;
                    if l >= leaves || std::mem::replace(&mut leaf_seen[l], true) {
                        return Err("a tree's leaf is out of range or reached twice".into());
                    }
                }
            }
        }
        if n == 0 {
            leaf_seen[0] = true;
        }
        if leaf_seen.iter().any(|s| !s)
            || self.leaf_value.iter().any(|v| !v.is_finite())
            || self
                .leaf_cover
                .iter()
                .chain(&self.node_cover)
                .chain(&self.gain)
                .any(|v| !v.is_finite())
        {
            return Err("a tree has an unreached leaf or a non-finite value".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stump() -> Tree {
        Tree {
            input: vec![1, 0],
            threshold: vec![0.5, 2.0],
            missing_left: vec![false, true],
            left: vec![1, !2],
            right: vec![!0, !1],
            gain: vec![1.0, 0.5],
            node_cover: vec![10.0, 6.0],
            leaf_value: vec![1.0, 2.0, 3.0],
            leaf_cover: vec![4.0, 3.0, 3.0],
        }
    }

    #[test]
    fn rows_walk_to_their_leaf_missing_values_follow_the_learned_side() {
        let t = stump();
        assert!(t.check(2).is_ok());
        assert_eq!(t.predict(&[0.0, 0.7]), 1.0);
        assert_eq!(t.predict(&[3.0, 0.2]), 2.0);
        assert_eq!(t.predict(&[1.0, 0.5]), 3.0);
        assert_eq!(t.predict(&[f64::NAN, 0.2]), 3.0);
        assert_eq!(t.predict(&[0.0, f64::NAN]), 1.0);
        assert_eq!(Tree::leaf(7.0, 1.0).predict(&[]), 7.0);
    }

    #[test]
    fn damaged_trees_are_refused() {
        let mut t = stump();
        t.left[1] = 0; // a cycle
        assert!(t.check(2).is_err());
        let mut t = stump();
        t.right[1] = !2; // leaf 2 twice, leaf 1 never
        assert!(t.check(2).is_err());
        let mut t = stump();
        t.input[0] = 9;
        assert!(t.check(2).is_err());
        let mut t = stump();
        t.leaf_value.pop();
        assert!(t.check(2).is_err());
        // a chain deeper than MAX_DEPTH (a crafted row: explain would recurse that deep)
        let n = MAX_DEPTH + 2;
        let chain = Tree {
            input: vec![0; n],
            threshold: vec![0.0; n],
            missing_left: vec![false; n],
            left: (0..n)
                .map(|i| if i + 1 < n { i as i32 + 1 } else { !(n as i32) })
                .collect(),
            right: (0..n).map(|i| !(i as i32)).collect(),
            gain: vec![0.0; n],
            node_cover: vec![1.0; n],
            leaf_value: vec![0.0; n + 1],
            leaf_cover: vec![1.0; n + 1],
        };
        assert!(chain.check(1).unwrap_err().contains("deeper"));
    }
}
