//! Growing one tree on gradients and hessians, leaf-wise (best-first, as LightGBM and
//! scikit-learn's HistGradientBoosting grow them): the leaf whose best split reduces the loss
//! most is split next, until `max_leaves`, `max_depth` or no split gains. A split is found from
//! per-input histograms of (gradient, hessian, rows) over the bins; a child's histogram is built
//! from its rows only for the smaller child, the larger one's is the parent's minus it. A coded
//! category splits as scikit-learn's HistGradientBoosting splits one: its categories sorted by
//! mean gradient, the best prefix (from either end) to the left.

use super::bins::{Binned, MISSING};
use super::tree::{CategorySet, Tree};
use crate::ml::monitor::Monitor;
use crate::ml::parallel::Parallel;

#[derive(Clone, Copy)]
pub struct GrowOptions {
    pub max_leaves: usize,
    /// 0: unlimited.
    pub max_depth: usize,
    pub min_samples_leaf: usize,
    pub l2: f64,
    pub learning_rate: f64,
    /// Inputs each split may choose from, drawn afresh per node among the allowed ones (random
    /// forests' max_features); 0: all of them.
    pub node_inputs: usize,
    /// Seeds the per-node draws (with the node's number in growth order).
    pub seed: u64,
}

/// scikit-learn's HistGradientBoosting defaults (gbdt's too): 31 leaves, no depth limit, 20
/// rows a leaf, no L2, shrinkage 0.1, every input at every split.
impl Default for GrowOptions {
    fn default() -> Self {
        GrowOptions {
            max_leaves: 31,
            max_depth: 0,
            min_samples_leaf: 20,
            l2: 0.0,
            learning_rate: 0.1,
            node_inputs: 0,
            seed: 0,
        }
    }
}

/// scikit-learn's min_hessian_to_split: a child with less curvature than this is not split off.
const MIN_HESSIAN: f64 = 1e-3;
/// Below this many rows a histogram is built on one thread (handing out work costs more).
const PARALLEL_ROWS: usize = 4096;
/// A category with less hessian (rows, for constant hessians) than this in a node is not sorted
/// into a split's left set, and it smooths the sort key (scikit-learn's MIN_CAT_SUPPORT,
/// LightGBM's cat_smooth).
const MIN_CATEGORY_SUPPORT: f64 = 10.0;

/// Leaves a tree of these options can have on `rows` rows.
fn max_leaves_on(rows: usize, o: &GrowOptions) -> usize {
    let by_depth = if o.max_depth == 0 || o.max_depth >= 32 {
        usize::MAX
    } else {
        1 << o.max_depth
    };
    o.max_leaves
        .max(1)
        .min(by_depth)
        .min((rows / o.min_samples_leaf.max(1)).max(1))
}

/// Bytes growing one tree holds at its peak beyond the binned rows and the gradients: a
/// histogram (gradient, hessian, rows: 24 bytes a bin; at most max_bins value bins and the
/// missing bin an input) for every leaf that may still split (at most the tree's leaves, and one
/// per 2 x min_samples_leaf rows), a partial histogram per input being counted, and the rows'
/// order and partition scratch (4 bytes a row each).
pub fn growth_bytes(
    rows: usize,
    inputs: usize,
    max_bins: usize,
    o: &GrowOptions,
    threads: usize,
) -> u64 {
    use crate::ml::memory::bytes;
    let layout = bytes(inputs, 24 * (max_bins.min(rows.max(1)) + 1));
    let splittable = max_leaves_on(rows, o)
        .min(rows / (2 * o.min_samples_leaf.max(1)))
        .max(1)
        + 1;
    layout
        .saturating_mul(splittable as u64)
        .saturating_add(bytes(threads.max(1), 24 * 257))
        .saturating_add(bytes(rows, 8))
}

/// Bytes of one grown tree: per leaf its value and cover, per split node the node, its gain and
/// its cover.
pub fn tree_bytes(rows: usize, o: &GrowOptions) -> u64 {
    crate::ml::memory::bytes(max_leaves_on(rows, o), 16 + 24 + 16)
}

/// (sum of gradients, sum of hessians, rows) of a bin or a node.
#[derive(Clone, Copy, Default, Debug)]
struct Stats {
    g: f64,
    h: f64,
    n: f64,
}

impl Stats {
    fn add(&mut self, o: Stats) {
        self.g += o.g;
        self.h += o.h;
        self.n += o.n;
    }

    fn minus(self, o: Stats) -> Stats {
        Stats {
            g: self.g - o.g,
            h: self.h - o.h,
            n: self.n - o.n,
        }
    }

    fn score(self, l2: f64) -> f64 {
        self.g * self.g / (self.h + l2)
    }
}

#[derive(Clone, Copy, Debug)]
struct Split {
    input: usize,
    /// Bins <= bin go left (a number).
    bin: u8,
    /// Bins in the set go left (a coded category; the missing bin's place is `missing_left`).
    left_set: Option<CategorySet>,
    missing_left: bool,
    gain: f64,
    left: Stats,
}

impl Split {
    fn goes_left(&self, code: u8) -> bool {
        if code == MISSING {
            self.missing_left
        } else if let Some(set) = &self.left_set {
            (set[usize::from(code) >> 6] >> (code & 63)) & 1 == 1
        } else {
            code <= self.bin
        }
    }
}

/// Where a leaf's histograms start for each input: bins of input j are
/// hist[offsets[j]..offsets[j + 1]], the last of them the missing bin.
struct Layout {
    offsets: Vec<usize>,
}

impl Layout {
    fn new(b: &Binned) -> Layout {
        let mut offsets = vec![0];
        for ib in &b.inputs {
            offsets.push(offsets.last().unwrap() + ib.value_bins() + 1);
        }
        Layout { offsets }
    }

    fn size(&self) -> usize {
        *self.offsets.last().unwrap()
    }
}

struct Leaf {
    start: usize,
    end: usize,
    depth: usize,
    total: Stats,
    hist: Vec<Stats>,
    best: Option<Split>,
    /// The split node that points here, and on which side; None for the root.
    parent: Option<(usize, bool)>,
}

/// A grown tree, and for each of its leaves the training rows (indices into the binned rows)
/// that landed there: what the caller adds the leaf's value to.
pub struct Grown {
    pub tree: Tree,
    pub leaf_rows: Vec<Vec<u32>>,
}

/// Grows a tree on `rows` (indices into `binned`) of gradients `g` and hessians `h` (indexed
/// by binned row), splitting only on the inputs marked in `allowed`.
#[allow(clippy::too_many_arguments)]
pub fn grow(
    binned: &Binned,
    g: &[f64],
    h: &[f64],
    rows: Vec<u32>,
    allowed: &[bool],
    o: &GrowOptions,
    par: &Parallel,
    monitor: &dyn Monitor,
) -> Grown {
    let layout = Layout::new(binned);
    let mut order = rows;
    let n = order.len();
    let hist = histogram(binned, &layout, g, h, &order, allowed, par);
    let total = node_total(&hist, &layout, allowed, g, h, &order);
    let mut leaves = vec![Leaf {
        start: 0,
        end: n,
        depth: 0,
        total,
        hist,
        best: None,
        parent: None,
    }];
    // nodes numbered in the order their splits are looked for: the same draws every time
    let mut nodes_seen = 1u64;
    let here = draw_inputs(allowed, o, nodes_seen);
    leaves[0].best = best_split(&leaves[0], binned, &layout, &here, o);
    let mut tree = Tree::leaf(0.0, 0.0);
    tree.leaf_value.clear();
    tree.leaf_cover.clear();
    let mut scratch: Vec<u32> = Vec::with_capacity(n);
    while leaves.len() < o.max_leaves.max(1) {
        let Some((pick, split)) = leaves
            .iter()
            .enumerate()
            .filter_map(|(i, l)| l.best.map(|s| (i, s)))
            .max_by(|a, b| a.1.gain.total_cmp(&b.1.gain).then(b.0.cmp(&a.0)))
        else {
            break;
        };
        monitor.checkpoint();
        let leaf = leaves.swap_remove(pick);
        // the new split node
        let node = tree.nodes.len();
        let category_set = match split.left_set {
            Some(set) => {
                tree.category_sets.push(set);
                // at most max_leaves - 1 (4095) splits a tree
                tree.category_sets.len() as u16
            }
            None => 0,
        };
        tree.nodes.push(super::tree::Split {
            // bin = the last value bin: every value left, missing right
            threshold: if category_set > 0 {
                0.0
            } else {
                binned.inputs[split.input]
                    .thresholds
                    .get(split.bin as usize)
                    .copied()
                    .unwrap_or(f64::MAX)
            },
            input: split.input as u32,
            left: 0,
            right: 0,
            missing_left: split.missing_left,
            category_set,
        });
        tree.gain.push(split.gain);
        tree.node_cover.push(leaf.total.n);
        if let Some((p, is_left)) = leaf.parent {
            if is_left {
                tree.nodes[p].left = node as i32;
            } else {
                tree.nodes[p].right = node as i32;
            }
        }
        // partition the leaf's rows: left first, order kept
        let codes = binned.input(split.input);
        let goes_left = |r: u32| split.goes_left(codes[r as usize]);
        scratch.clear();
        let mut w = leaf.start;
        for i in leaf.start..leaf.end {
            let r = order[i];
            if goes_left(r) {
                order[w] = r;
                w += 1;
            } else {
                scratch.push(r);
            }
        }
        order[w..leaf.end].copy_from_slice(&scratch);
        let (ls, le, rs, re) = (leaf.start, w, w, leaf.end);
        // the smaller child's histogram from its rows, the other's by subtraction; a child that
        // cannot split needs none, and a child with fewer rows x inputs than there are bins is
        // cheaper to count than to subtract (deep trees: most nodes are small, and subtracting
        // touches every bin of every input)
        let left_smaller = le - ls <= re - rs;
        let ((s0, s1), (l0, l1)) = if left_smaller {
            ((ls, le), (rs, re))
        } else {
            ((rs, re), (ls, le))
        };
        let depth = leaf.depth + 1;
        let splittable = |rows: usize| {
            rows >= 2 * o.min_samples_leaf.max(1) && (o.max_depth == 0 || depth < o.max_depth)
        };
        let inputs = allowed.iter().filter(|&&a| a).count();
        let count_large = (l1 - l0) * inputs < layout.size();
        let small = if splittable(s1 - s0) || (splittable(l1 - l0) && !count_large) {
            histogram(binned, &layout, g, h, &order[s0..s1], allowed, par)
        } else {
            Vec::new()
        };
        let large = if !splittable(l1 - l0) {
            Vec::new()
        } else if count_large {
            histogram(binned, &layout, g, h, &order[l0..l1], allowed, par)
        } else {
            let mut large = leaf.hist;
            for (a, b) in large.iter_mut().zip(&small) {
                *a = a.minus(*b);
            }
            large
        };
        let (lh, rh) = if left_smaller {
            (small, large)
        } else {
            (large, small)
        };
        let right_total = leaf.total.minus(split.left);
        for (start, end, total, hist, is_left) in [
            (ls, le, split.left, lh, true),
            (rs, re, right_total, rh, false),
        ] {
            let mut child = Leaf {
                start,
                end,
                depth: leaf.depth + 1,
                total,
                hist,
                best: None,
                parent: Some((node, is_left)),
            };
            nodes_seen += 1;
            let here = draw_inputs(allowed, o, nodes_seen);
            child.best = best_split(&child, binned, &layout, &here, o);
            leaves.push(child);
        }
    }
    // the remaining leaves, in row order, become the tree's leaves
    leaves.sort_by_key(|l| l.start);
    let mut leaf_rows = Vec::with_capacity(leaves.len());
    for (i, l) in leaves.iter().enumerate() {
        let value = -o.learning_rate * l.total.g / (l.total.h + o.l2);
        // a leaf without hessian (all weights zero) predicts nothing
        tree.leaf_value
            .push(if value.is_finite() { value } else { 0.0 });
        tree.leaf_cover.push(l.total.n);
        if let Some((p, is_left)) = l.parent {
            if is_left {
                tree.nodes[p].left = !(i as i32);
            } else {
                tree.nodes[p].right = !(i as i32);
            }
        }
        leaf_rows.push(order[l.start..l.end].to_vec());
    }
    // split nodes were numbered in the order they split: a child after its parent
    Grown { tree, leaf_rows }
}

/// The inputs a node may split on: all allowed ones, or `node_inputs` of them drawn for node
/// number `node` of the tree.
fn draw_inputs<'a>(
    allowed: &'a [bool],
    o: &GrowOptions,
    node: u64,
) -> std::borrow::Cow<'a, [bool]> {
    use rand::seq::SliceRandom;
    use rand::SeedableRng;
    let candidates: Vec<usize> = (0..allowed.len()).filter(|&j| allowed[j]).collect();
    if o.node_inputs == 0 || o.node_inputs >= candidates.len() {
        return std::borrow::Cow::Borrowed(allowed);
    }
    let mut rng =
        rand_chacha::ChaCha8Rng::seed_from_u64(o.seed ^ node.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut here = vec![false; allowed.len()];
    for &j in candidates.choose_multiple(&mut rng, o.node_inputs) {
        here[j] = true;
    }
    std::borrow::Cow::Owned(here)
}

/// Per-input histograms of the given rows (inputs not allowed stay empty).
fn histogram(
    binned: &Binned,
    layout: &Layout,
    g: &[f64],
    h: &[f64],
    rows: &[u32],
    allowed: &[bool],
    par: &Parallel,
) -> Vec<Stats> {
    let inputs: Vec<usize> = (0..binned.inputs.len()).filter(|&j| allowed[j]).collect();
    let one = |j: usize| -> Vec<Stats> {
        let nb = layout.offsets[j + 1] - layout.offsets[j];
        let mut hist = vec![Stats::default(); nb];
        let codes = binned.input(j);
        let missing = nb - 1;
        for &r in rows {
            let r = r as usize;
            let c = codes[r];
            let b = if c == MISSING { missing } else { c as usize };
            let s = &mut hist[b];
            s.g += g[r];
            s.h += h[r];
            s.n += 1.0;
        }
        hist
    };
    let mut out = vec![Stats::default(); layout.size()];
    if rows.len() < PARALLEL_ROWS || par.threads() == 1 {
        for &j in &inputs {
            out[layout.offsets[j]..layout.offsets[j + 1]].copy_from_slice(&one(j));
        }
    } else {
        for (&j, part) in inputs.iter().zip(par.map(&inputs, |&j| one(j))) {
            out[layout.offsets[j]..layout.offsets[j + 1]].copy_from_slice(&part);
        }
    }
    out
}

/// A node's totals: from the first allowed input's histogram (every row is in one of its bins),
/// or from the rows when no input is allowed.
fn node_total(
    hist: &[Stats],
    layout: &Layout,
    allowed: &[bool],
    g: &[f64],
    h: &[f64],
    rows: &[u32],
) -> Stats {
    match allowed.iter().position(|&a| a) {
        Some(j) => {
            let mut t = Stats::default();
            for s in &hist[layout.offsets[j]..layout.offsets[j + 1]] {
                t.add(*s);
            }
            t
        }
        None => {
            let mut t = Stats::default();
            for &r in rows {
                t.add(Stats {
                    g: g[r as usize],
                    h: h[r as usize],
                    n: 1.0,
                });
            }
            t
        }
    }
}

/// The split of a leaf that reduces the loss most, if any may be made. Candidates and ties go
/// as in scikit-learn 1.2 (splitting.pyx), so that both grow the same trees: inputs in order; per
/// input first every bin with missing values right (and, for an input with missing values in
/// training, all values left and missing right), then bins from the top with missing values
/// left; a later candidate must gain strictly more. An input without missing values in training
/// sends them, at scoring, to the child that had more rows.
fn best_split(
    leaf: &Leaf,
    binned: &Binned,
    layout: &Layout,
    allowed: &[bool],
    o: &GrowOptions,
) -> Option<Split> {
    let min = o.min_samples_leaf.max(1) as f64;
    if leaf.total.n < 2.0 * min || (o.max_depth > 0 && leaf.depth >= o.max_depth) {
        return None;
    }
    let parent = leaf.total.score(o.l2);
    let mut best: Option<Split> = None;
    let mut consider =
        |j: usize, bin: usize, left: Stats, missing_left: bool, left_set: Option<CategorySet>| {
            let right = leaf.total.minus(left);
            if left.n < min || right.n < min || left.h < MIN_HESSIAN || right.h < MIN_HESSIAN {
                return;
            }
            let gain = 0.5 * (left.score(o.l2) + right.score(o.l2) - parent);
            // "more" by a margin above rounding: two candidates that split the rows alike (an empty
            // bin between them, or no missing row in the node) differ only in the last bits, and
            // the first must win, not whichever rounding favours
            if gain > 1e-12 && best.is_none_or(|s| gain > s.gain * (1.0 + 1e-10)) {
                best = Some(Split {
                    input: j,
                    bin: bin as u8,
                    left_set,
                    missing_left: if binned.inputs[j].has_missing {
                        missing_left
                    } else {
                        left.n > right.n
                    },
                    gain,
                    left,
                });
            }
        };
    for (j, ib) in binned.inputs.iter().enumerate() {
        let values = ib.value_bins();
        if !allowed[j] || (values < 2 && !ib.has_missing) {
            continue;
        }
        let hist = &leaf.hist[layout.offsets[j]..layout.offsets[j + 1]];
        if ib.categorical {
            // categories (the missing ones one more) with enough support, sorted by their
            // smoothed mean gradient; the rest always go right
            let support = if leaf.total.h > 0.0 {
                leaf.total.n / leaf.total.h
            } else {
                continue;
            };
            let last = if ib.has_missing { values + 1 } else { values };
            let mut sorted: Vec<(f64, usize)> = (0..last)
                .filter(|&b| hist[b].h * support >= MIN_CATEGORY_SUPPORT)
                .map(|b| (hist[b].g / (hist[b].h + MIN_CATEGORY_SUPPORT), b))
                .collect();
            if sorted.len() < 2 {
                continue;
            }
            sorted.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            // prefixes from either end up to the middle, so the right child always keeps at
            // least half of the sorted categories (and every unsorted one)
            let used = sorted.len();
            let forward = sorted.iter().take(used.div_ceil(2));
            let backward = sorted.iter().rev().take(used.div_ceil(2) - 1);
            for side in [forward.collect::<Vec<_>>(), backward.collect()] {
                let (mut acc, mut set, mut missing_left) = (Stats::default(), [0u64; 4], false);
                for &&(_, b) in &side {
                    acc.add(hist[b]);
                    if b == values {
                        missing_left = true;
                    } else {
                        set[b >> 6] |= 1 << (b & 63);
                    }
                    consider(j, 0, acc, missing_left, Some(set));
                }
            }
            continue;
        }
        // missing right: bins 0..=b left; with missing values also every value left
        let last = if ib.has_missing { values } else { values - 1 };
        let mut acc = Stats::default();
        for (b, s) in hist[..last].iter().enumerate() {
            acc.add(*s);
            consider(j, b, acc, false, None);
        }
        if ib.has_missing {
            // missing left: bins 0..=b and the missing ones left, from the top bin down
            let mut above = Stats::default();
            for b in (0..values - 1).rev() {
                above.add(hist[b + 1]);
                consider(j, b, leaf.total.minus(above), true, None);
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ml::linalg::Matrix;
    use crate::ml::monitor::Silent;

    fn opts() -> GrowOptions {
        GrowOptions {
            max_leaves: 31,
            max_depth: 0,
            min_samples_leaf: 1,
            l2: 0.0,
            learning_rate: 1.0,
            node_inputs: 0,
            seed: 0,
        }
    }

    #[test]
    fn a_step_function_is_found_exactly() {
        // y = 5 where x > 3 else -1; squared loss from 0: g = -y, h = 1
        let xs: Vec<Vec<f64>> = (0..100).map(|i| vec![i as f64 / 10.0]).collect();
        let y: Vec<f64> = xs
            .iter()
            .map(|r| if r[0] > 3.0 { 5.0 } else { -1.0 })
            .collect();
        let x = Matrix::from_rows(&xs);
        let rows: Vec<usize> = (0..100).collect();
        let b = Binned::new(&x, &rows, 255, &[], &Parallel::serial());
        let g: Vec<f64> = y.iter().map(|v| -v).collect();
        let h = vec![1.0; 100];
        let grown = grow(
            &b,
            &g,
            &h,
            (0..100).collect(),
            &[true],
            &opts(),
            &Parallel::serial(),
            &Silent,
        );
        let t = &grown.tree;
        assert_eq!(t.splits(), 1, "{t:?}");
        assert!((t.nodes[0].threshold - 3.05).abs() < 1e-12);
        for (r, want) in xs.iter().zip(&y) {
            assert!((t.predict(r) - want).abs() < 1e-12);
        }
        assert!(t.check(1).is_ok());
        assert_eq!(grown.leaf_rows.iter().map(Vec::len).sum::<usize>(), 100);
    }

    #[test]
    fn missing_values_go_where_they_fit_best() {
        // x missing on the rows whose y is high: they must go with x > 3
        let mut xs: Vec<Vec<f64>> = (0..100).map(|i| vec![i as f64 / 10.0]).collect();
        let mut y: Vec<f64> = xs
            .iter()
            .map(|r| if r[0] > 3.0 { 5.0 } else { -1.0 })
            .collect();
        for i in 0..10 {
            xs.push(vec![f64::NAN]);
            y.push(5.0);
            let _ = i;
        }
        let x = Matrix::from_rows(&xs);
        let n = xs.len();
        let rows: Vec<usize> = (0..n).collect();
        let b = Binned::new(&x, &rows, 255, &[], &Parallel::serial());
        let g: Vec<f64> = y.iter().map(|v| -v).collect();
        let grown = grow(
            &b,
            &g,
            &vec![1.0; n],
            (0..n as u32).collect(),
            &[true],
            &opts(),
            &Parallel::serial(),
            &Silent,
        );
        assert_eq!(grown.tree.predict(&[f64::NAN]), 5.0);
        assert_eq!(grown.tree.predict(&[0.0]), -1.0);
    }

    #[test]
    fn limits_are_kept_and_threads_do_not_change_the_tree() {
        let xs: Vec<Vec<f64>> = (0..5000)
            .map(|i| vec![(i % 97) as f64, (i % 89) as f64, ((i * 7) % 13) as f64])
            .collect();
        let y: Vec<f64> = xs
            .iter()
            .map(|r| (r[0] / 10.0).sin() + r[1] * r[2] / 100.0)
            .collect();
        let x = Matrix::from_rows(&xs);
        let rows: Vec<usize> = (0..5000).collect();
        let g: Vec<f64> = y.iter().map(|v| -v).collect();
        let h = vec![1.0; 5000];
        let mut o = opts();
        o.max_leaves = 8;
        o.min_samples_leaf = 50;
        let run = |par: &Parallel, o: &GrowOptions| {
            let b = Binned::new(&x, &rows, 255, &[], par);
            grow(&b, &g, &h, (0..5000).collect(), &[true; 3], o, par, &Silent)
        };
        let serial = run(&Parallel::serial(), &o);
        assert_eq!(serial.tree.leaf_value.len(), 8);
        assert!(serial.leaf_rows.iter().all(|r| r.len() >= 50));
        let two = run(&Parallel::new(2), &o);
        assert_eq!(serial.tree, two.tree);
        o.max_depth = 2;
        o.max_leaves = 31;
        let shallow = run(&Parallel::serial(), &o);
        assert!(shallow.tree.leaf_value.len() <= 4);
    }
}
