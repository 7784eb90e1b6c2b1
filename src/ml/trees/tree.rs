//! A regression tree stored flat, as scoring walks it: an array of split nodes (input,
//! threshold or set of categories, where missing values go, children: 24 bytes, what a row's
//! walk reads, nothing else) and arrays of leaves, no pointers. A child index of 0 or more is a split node (always
//! after its parent, so a stored tree has no cycles); a negative one is the leaf `!index`. A
//! tree without splits is one leaf. What only training and explanations read (gains, covers)
//! lies apart.

use serde::{Deserialize, Serialize};

/// The deepest tree a model may hold: growth makes at most max_leaves - 1 (4095) splits, and
/// TreeSHAP recurses once per level.
pub const MAX_DEPTH: usize = 4096;

/// A split node.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
pub struct Split {
    /// A value <= threshold goes left (a split on a number).
    pub threshold: f64,
    pub input: u32,
    pub left: i32,
    pub right: i32,
    /// Where a missing value (NaN) goes.
    pub missing_left: bool,
    /// 0: a split on a number; i > 0: a split on a coded category, the codes in the tree's
    /// `category_sets[i - 1]` going left, every other code right.
    pub category_set: u16,
}

// what a walk reads per node: keep it at 24 bytes
const _: () = assert!(std::mem::size_of::<Split>() == 24);

/// A set of category codes (0..=255), a bit each.
pub type CategorySet = [u64; 4];

/// Whether code `v` (a category's code as preprocess writes it: a whole number from 0 to 254)
/// is in `set`; anything else is in no set.
#[inline]
pub fn in_set(set: &CategorySet, v: f64) -> bool {
    if !(0.0..256.0).contains(&v) {
        return false;
    }
    let c = v as usize;
    (set[c >> 6] >> (c & 63)) & 1 == 1
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Tree {
    pub nodes: Vec<Split>,
    /// The loss reduction of each split (gain-based importance).
    pub gain: Vec<f64>,
    /// Training rows that reached each split node and each leaf: what TreeSHAP weighs the
    /// paths by (as LightGBM's and scikit-learn's trees count them).
    pub node_cover: Vec<f64>,
    pub leaf_value: Vec<f64>,
    pub leaf_cover: Vec<f64>,
    /// The left sets of the splits on categories.
    pub category_sets: Vec<CategorySet>,
}

impl Tree {
    pub fn leaf(value: f64, cover: f64) -> Tree {
        Tree {
            nodes: vec![],
            gain: vec![],
            node_cover: vec![],
            leaf_value: vec![value],
            leaf_cover: vec![cover],
            category_sets: vec![],
        }
    }

    /// Whether a row with value `v` at the split's input goes left.
    #[inline(always)]
    pub fn goes_left(&self, s: &Split, v: f64) -> bool {
        if s.category_set == 0 {
            // NaN compares false: it goes left only where missing values go left
            (v <= s.threshold) | (v.is_nan() & s.missing_left)
        } else if v.is_nan() {
            s.missing_left
        } else {
            in_set(&self.category_sets[s.category_set as usize - 1], v)
        }
    }

    pub fn splits(&self) -> usize {
        self.nodes.len()
    }

    /// The leaf a row of encoded inputs lands in (one walk: ensembles walk several trees at
    /// once with predict_n).
    #[inline]
    pub fn leaf_of(&self, x: &[f64]) -> usize {
        let Some(mut node) = self.nodes.first() else {
            return 0;
        };
        loop {
            let go_left = self.goes_left(node, x[node.input as usize]);
            let next = [node.right, node.left][usize::from(go_left)];
            if next < 0 {
                return !next as usize;
            }
            node = &self.nodes[next as usize];
        }
    }

    /// The longest walk, in splits (0 for a leaf). Children come after their parents, so one
    /// forward pass sees every parent's depth first.
    pub fn depth(&self) -> usize {
        let mut depth = vec![0usize; self.nodes.len()];
        let mut deepest = 0;
        for (i, s) in self.nodes.iter().enumerate() {
            deepest = deepest.max(depth[i] + 1);
            for c in [s.left, s.right] {
                if c > i as i32 {
                    depth[c as usize] = depth[i] + 1;
                }
            }
        }
        deepest
    }

    /// One step of a walk: the next node from split node `node`.
    #[inline(always)]
    fn step(&self, node: usize, x: &[f64]) -> i32 {
        let s = &self.nodes[node];
        let go_left = self.goes_left(s, x[s.input as usize]);
        [s.right, s.left][usize::from(go_left)]
    }

    /// The values of N trees for one row, their walks interleaved: each walk is a chain of
    /// dependent loads, and several chains keep the core busy where one waits.
    #[inline]
    pub fn predict_n<const N: usize>(trees: [&Tree; N], x: &[f64]) -> f64 {
        let mut at = [0i32; N];
        for (a, t) in at.iter_mut().zip(&trees) {
            if t.nodes.is_empty() {
                *a = !0;
            }
        }
        while at.iter().any(|&a| a >= 0) {
            for (a, t) in at.iter_mut().zip(&trees) {
                if *a >= 0 {
                    *a = t.step(*a as usize, x);
                }
            }
        }
        at.iter()
            .zip(&trees)
            .map(|(&a, t)| t.leaf_value[!a as usize])
            .sum()
    }

    #[inline]
    pub fn predict(&self, x: &[f64]) -> f64 {
        self.leaf_value[self.leaf_of(x)]
    }

    /// Checks a decoded tree: arrays of one length, children in range and after their parent
    /// (no cycles, every walk ends), inputs below `width`, finite numbers, every leaf reached
    /// once.
    pub fn check(&self, width: usize) -> Result<(), String> {
        let n = self.nodes.len();
        let leaves = self.leaf_value.len();
        if [self.gain.len(), self.node_cover.len()]
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
            let s = &self.nodes[i];
            if s.input as usize >= width
                || !s.threshold.is_finite()
                || s.category_set as usize > self.category_sets.len()
            {
                return Err(format!(
                    "a tree splits on input {} of {width}, at a non-finite threshold, or on a \
                     set of categories it does not have",
                    s.input
                ));
            }
            for c in [s.left, s.right] {
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

/// Split nodes from parallel lists (tests write trees this way).
#[cfg(test)]
pub(crate) fn splits(
    input: &[u32],
    threshold: &[f64],
    missing_left: &[bool],
    left: &[i32],
    right: &[i32],
) -> Vec<Split> {
    (0..input.len())
        .map(|i| Split {
            threshold: threshold[i],
            input: input[i],
            left: left[i],
            right: right[i],
            missing_left: missing_left[i],
            category_set: 0,
        })
        .collect()
}

/// A chain of `n` splits on input 0, each sending values <= 0 down the chain (tests: the deepest
/// trees a hand-made model row could hold).
#[cfg(test)]
pub(crate) fn chain(n: usize) -> Tree {
    let left: Vec<i32> = (0..n)
        .map(|i| if i + 1 < n { i as i32 + 1 } else { !(n as i32) })
        .collect();
    let right: Vec<i32> = (0..n).map(|i| !(i as i32)).collect();
    Tree {
        nodes: splits(&vec![0; n], &vec![0.0; n], &vec![false; n], &left, &right),
        gain: vec![0.0; n],
        node_cover: vec![1.0; n],
        leaf_value: vec![0.0; n + 1],
        leaf_cover: vec![1.0; n + 1],
        category_sets: vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stump() -> Tree {
        Tree {
            nodes: splits(&[1, 0], &[0.5, 2.0], &[false, true], &[1, !2], &[!0, !1]),
            gain: vec![1.0, 0.5],
            node_cover: vec![10.0, 6.0],
            leaf_value: vec![1.0, 2.0, 3.0],
            leaf_cover: vec![4.0, 3.0, 3.0],
            category_sets: vec![],
        }
    }

    #[test]
    fn categories_go_left_by_set_missing_by_the_flag_and_unknown_codes_right() {
        // split 0 on input 0's codes {1, 3, 200}: left to leaf 0, right to leaf 1
        let mut set = [0u64; 4];
        for c in [1usize, 3, 200] {
            set[c >> 6] |= 1 << (c & 63);
        }
        let mut t = Tree {
            nodes: splits(&[0], &[0.0], &[true], &[!0], &[!1]),
            gain: vec![1.0],
            node_cover: vec![2.0],
            leaf_value: vec![10.0, 20.0],
            leaf_cover: vec![1.0, 1.0],
            category_sets: vec![set],
        };
        t.nodes[0].category_set = 1;
        assert!(t.check(1).is_ok());
        for (v, want) in [
            (1.0, 10.0),
            (3.0, 10.0),
            (200.0, 10.0),
            (0.0, 20.0),
            (2.0, 20.0),
            (254.0, 20.0),
            (f64::NAN, 10.0),
            (-1.0, 20.0),
            (1e300, 20.0),
        ] {
            assert_eq!(t.predict(&[v]), want, "code {v}");
        }
        // a split naming a set the tree lacks is refused
        t.nodes[0].category_set = 2;
        assert!(t.check(1).unwrap_err().contains("categories"));
    }

    #[test]
    fn rows_walk_to_their_leaf_missing_values_follow_the_learned_side() {
        let t = stump();
        assert!(t.check(2).is_ok());
        assert_eq!(t.depth(), 2);
        assert_eq!(Tree::leaf(1.0, 1.0).depth(), 0);
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
        t.nodes[1].left = 0; // a cycle
        assert!(t.check(2).is_err());
        let mut t = stump();
        t.nodes[1].right = !2; // leaf 2 twice, leaf 1 never
        assert!(t.check(2).is_err());
        let mut t = stump();
        t.nodes[0].input = 9;
        assert!(t.check(2).is_err());
        let mut t = stump();
        t.leaf_value.pop();
        assert!(t.check(2).is_err());
        // a chain deeper than MAX_DEPTH (a crafted row: explain would recurse that deep)
        let n = MAX_DEPTH + 2;
        let chain = chain(n);
        assert!(chain.check(1).unwrap_err().contains("deeper"));
        assert_eq!(chain.depth(), n);
    }
}
