//! Hierarchical clustering trees, as scipy.cluster.hierarchy.linkage builds them (and
//! scikit-learn's AgglomerativeClustering through it): the same merges, heights and tie rules.
//!
//! - Ward, average and complete linkage: the nearest-neighbour chain (scipy's nn_chain): follow
//!   nearest neighbours until two clusters are each other's nearest, merge them, go on from the
//!   chain that is left. Ward measures clusters by their centroids and sizes (the Ward distance
//!   sqrt(2 na nb / (na + nb)) |ca - cb|), so it needs O(n d) memory, not scipy's n^2 / 2 matrix;
//!   average and complete need the pairwise matrix (n (n - 1) / 2 float8), updated by the
//!   Lance-Williams formulas.
//! - Single linkage: Prim's minimum spanning tree with distances computed as needed (O(n) memory),
//!   as scipy's mst_single_linkage.
//!
//! Every nearest-neighbour search runs over fixed chunks of the clusters on the thread team, and
//! the chunks' answers are combined in chunk order, so the tree does not depend on the thread
//! count; the monitor's checkpoint runs at every search.

use crate::ml::distance::sq_dist;
use crate::ml::linalg::Matrix;
use crate::ml::monitor::Monitor;
use crate::ml::parallel::Parallel;
use serde::{Deserialize, Serialize};
use std::ops::Range;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Linkage {
    Ward,
    Average,
    Complete,
    Single,
}

impl Linkage {
    pub fn name(self) -> &'static str {
        match self {
            Linkage::Ward => "ward",
            Linkage::Average => "average",
            Linkage::Complete => "complete",
            Linkage::Single => "single",
        }
    }

    /// Whether it keeps the n (n - 1) / 2 pairwise distances.
    pub fn needs_matrix(self) -> bool {
        matches!(self, Linkage::Average | Linkage::Complete)
    }
}

/// One step of a tree in scipy's convention: clusters 0..n are the rows, n + s is the cluster
/// step s made; `a < b`; steps in order of height.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Merge {
    pub a: u32,
    pub b: u32,
    pub height: f64,
    pub size: u32,
}

/// Clusters per chunk of a nearest-neighbour search (fixed: the answer must not depend on the
/// thread count).
const CHUNK: usize = 1024;
/// Below this many clusters a search runs on the calling thread: handing it to the team costs
/// more than it saves. The chunks and their combination are the same either way.
const PARALLEL_FROM: usize = 8 * CHUNK;

/// The tree of the rows of `x` (n - 1 merges; none for fewer than two rows).
pub fn linkage(x: &Matrix, how: Linkage, par: &Parallel, monitor: &dyn Monitor) -> Vec<Merge> {
    let n = x.rows;
    if n < 2 {
        return Vec::new();
    }
    let raw = match how {
        Linkage::Single => single(x, par, monitor),
        Linkage::Ward => nn_chain(n, &mut WardClusters::new(x), par, monitor),
        Linkage::Average | Linkage::Complete => nn_chain(
            n,
            &mut MatrixClusters::new(x, how, par, monitor),
            par,
            monitor,
        ),
    };
    label(raw, n)
}

/// The nearest of the active clusters `candidates` to cluster `x`, over fixed chunks on the team:
/// (distance, index), the lowest index among equals; None when there is none.
fn nearest_active(
    n: usize,
    x: usize,
    active: &[bool],
    dist: &(dyn Fn(usize, usize) -> f64 + Sync),
    par: &Parallel,
) -> Option<(f64, usize)> {
    let chunks: Vec<Range<usize>> = (0..n.div_ceil(CHUNK))
        .map(|c| c * CHUNK..((c + 1) * CHUNK).min(n))
        .collect();
    let best = |r: &Range<usize>| {
        let mut b: Option<(f64, usize)> = None;
        for i in r.clone() {
            if i == x || !active[i] {
                continue;
            }
            let d = dist(x, i);
            if b.is_none_or(|(bd, _)| d < bd) {
                b = Some((d, i));
            }
        }
        b
    };
    let found = if n >= PARALLEL_FROM {
        par.map(&chunks, best)
    } else {
        chunks.iter().map(best).collect()
    };
    found
        .into_iter()
        .flatten()
        .fold(None, |b: Option<(f64, usize)>, c| match b {
            Some((bd, _)) if bd <= c.0 => b,
            _ => Some(c),
        })
}

/// What the nearest-neighbour chain needs of a linkage: the distance between two active
/// clusters, and the merge of `x` into `y` (y keeps the merged cluster).
trait Clusters: Sync {
    fn dist(&self, a: usize, b: usize) -> f64;
    fn merge(&mut self, x: usize, y: usize);
}

/// scipy's nn_chain: returns (x, y, height, size) with x < y the row slots of the two clusters;
/// the merged cluster lives on in slot y.
fn nn_chain(
    n: usize,
    c: &mut dyn ClustersDyn,
    par: &Parallel,
    monitor: &dyn Monitor,
) -> Vec<(usize, usize, f64)> {
    let mut active = vec![true; n];
    let mut chain: Vec<usize> = Vec::with_capacity(n);
    let mut out = Vec::with_capacity(n - 1);
    for _ in 0..n - 1 {
        if chain.is_empty() {
            chain.push(
                active
                    .iter()
                    .position(|&a| a)
                    .expect("two clusters are left"),
            );
        }
        let (x, y, height) = loop {
            monitor.checkpoint();
            let x = *chain.last().expect("not empty");
            let prev = (chain.len() > 1).then(|| chain[chain.len() - 2]);
            // on a tie the previous cluster of the chain wins, as in scipy
            let found = c
                .nearest(n, x, &active, par)
                .expect("another active cluster");
            let (d, y) = match prev {
                Some(p) => {
                    let dp = c.distance(x, p);
                    if dp <= found.0 {
                        (dp, p)
                    } else {
                        (found.0, found.1)
                    }
                }
                None => found,
            };
            if prev == Some(y) {
                break (x, y, d);
            }
            chain.push(y);
        };
        chain.truncate(chain.len() - 2);
        let (x, y) = (x.min(y), x.max(y));
        c.merge_into(x, y);
        active[x] = false;
        out.push((x, y, height));
    }
    out
}

/// The object-safe face of Clusters, with the search bound in.
trait ClustersDyn {
    fn distance(&self, a: usize, b: usize) -> f64;
    fn nearest(&self, n: usize, x: usize, active: &[bool], par: &Parallel) -> Option<(f64, usize)>;
    fn merge_into(&mut self, x: usize, y: usize);
}

impl<C: Clusters> ClustersDyn for C {
    fn distance(&self, a: usize, b: usize) -> f64 {
        self.dist(a, b)
    }

    fn nearest(&self, n: usize, x: usize, active: &[bool], par: &Parallel) -> Option<(f64, usize)> {
        nearest_active(n, x, active, &|a, b| self.dist(a, b), par)
    }

    fn merge_into(&mut self, x: usize, y: usize) {
        self.merge(x, y)
    }
}

/// Ward's clusters as centroids and sizes.
struct WardClusters {
    d: usize,
    centroids: Vec<f64>,
    sizes: Vec<f64>,
}

impl WardClusters {
    fn new(x: &Matrix) -> Self {
        WardClusters {
            d: x.cols,
            centroids: x.data.clone(),
            sizes: vec![1.0; x.rows],
        }
    }
}

impl Clusters for WardClusters {
    #[inline]
    fn dist(&self, a: usize, b: usize) -> f64 {
        let (na, nb, d) = (self.sizes[a], self.sizes[b], self.d);
        let sq = sq_dist(
            &self.centroids[a * d..(a + 1) * d],
            &self.centroids[b * d..(b + 1) * d],
        );
        (2.0 * na * nb / (na + nb) * sq).sqrt()
    }

    fn merge(&mut self, x: usize, y: usize) {
        let (nx, ny, d) = (self.sizes[x], self.sizes[y], self.d);
        for t in 0..d {
            self.centroids[y * d + t] =
                (nx * self.centroids[x * d + t] + ny * self.centroids[y * d + t]) / (nx + ny);
        }
        self.sizes[y] = nx + ny;
        self.sizes[x] = 0.0;
    }
}

/// Multiply-adds of the pairwise matrix per thread between two monitor checks (~10 ms).
const MATRIX_WORK: u64 = 1 << 24;

/// Average or complete linkage on the condensed pairwise matrix.
struct MatrixClusters {
    n: usize,
    how: Linkage,
    /// scipy's condensed layout: (i, j), i < j, at n i - i (i + 1) / 2 + j - i - 1
    matrix: Vec<f64>,
    sizes: Vec<f64>,
}

impl MatrixClusters {
    fn new(x: &Matrix, how: Linkage, par: &Parallel, monitor: &dyn Monitor) -> Self {
        let n = x.rows;
        let mut matrix = vec![0.0; n * (n - 1) / 2];
        // row i's part (its pairs with j > i) is one slice; fixed groups of rows on the team,
        // each writing its own slices
        let mut rows: Vec<std::sync::Mutex<(usize, &mut [f64])>> = Vec::with_capacity(n);
        let mut rest: &mut [f64] = &mut matrix;
        for i in 0..n {
            let (mine, after) = rest.split_at_mut(n - 1 - i);
            rows.push(std::sync::Mutex::new((i, mine)));
            rest = after;
        }
        // a row costs up to n x d: groups of rows of about MATRIX_WORK multiply-adds, a team's
        // worth between two monitor checks (20,000 rows of 800 inputs: 64 x 64 rows were 65 G
        // multiply-adds between checks)
        let per_row = (n as u64).saturating_mul(x.cols as u64).max(1);
        let g_rows = ((MATRIX_WORK / per_row) as usize).clamp(1, 64);
        let groups: Vec<Range<usize>> = (0..n.div_ceil(g_rows))
            .map(|g| g * g_rows..((g + 1) * g_rows).min(n))
            .collect();
        let per_check = ((MATRIX_WORK * par.threads() as u64)
            / (per_row.saturating_mul(g_rows as u64)).max(1))
            .clamp(1, 64) as usize;
        for batch in groups.chunks(per_check) {
            monitor.checkpoint();
            par.map(batch, |g: &Range<usize>| {
                for row in &rows[g.clone()] {
                    let mut guard = row.lock().expect("one writer per row");
                    let (i, out) = &mut *guard;
                    let xi = x.row(*i);
                    for (k, v) in out.iter_mut().enumerate() {
                        *v = sq_dist(xi, x.row(*i + 1 + k)).sqrt();
                    }
                }
            });
        }
        drop(rows);
        MatrixClusters {
            n,
            how,
            matrix,
            sizes: vec![1.0; n],
        }
    }

    #[inline]
    fn at(&self, a: usize, b: usize) -> usize {
        let (i, j) = (a.min(b), a.max(b));
        self.n * i - i * (i + 1) / 2 + j - i - 1
    }
}

impl Clusters for MatrixClusters {
    #[inline]
    fn dist(&self, a: usize, b: usize) -> f64 {
        self.matrix[self.at(a, b)]
    }

    fn merge(&mut self, x: usize, y: usize) {
        let (nx, ny) = (self.sizes[x], self.sizes[y]);
        for i in 0..self.n {
            if i == x || i == y || self.sizes[i] == 0.0 {
                continue;
            }
            let (dx, dy) = (self.dist(i, x), self.dist(i, y));
            let at = self.at(i, y);
            self.matrix[at] = match self.how {
                Linkage::Complete => dx.max(dy),
                _ => (nx * dx + ny * dy) / (nx + ny),
            };
        }
        self.sizes[y] = nx + ny;
        self.sizes[x] = 0.0;
    }
}

/// scipy's mst_single_linkage: Prim's algorithm from row 0, distances computed as needed.
fn single(x: &Matrix, par: &Parallel, monitor: &dyn Monitor) -> Vec<(usize, usize, f64)> {
    let n = x.rows;
    let mut merged = vec![false; n];
    let mut nearest = vec![f64::INFINITY; n];
    let mut out = Vec::with_capacity(n - 1);
    let mut at = 0;
    let chunks: Vec<Range<usize>> = (0..n.div_ceil(CHUNK))
        .map(|c| c * CHUNK..((c + 1) * CHUNK).min(n))
        .collect();
    for _ in 0..n - 1 {
        monitor.checkpoint();
        merged[at] = true;
        let xa = x.row(at);
        // each chunk lowers its rows' distance to the tree and reports its nearest row
        let (merged_ref, nearest_ref) = (&merged, &nearest);
        let step = |r: &Range<usize>| {
            let mut d = nearest_ref[r.clone()].to_vec();
            let mut best: Option<(f64, usize)> = None;
            for (k, i) in r.clone().enumerate() {
                if merged_ref[i] {
                    continue;
                }
                let dist = sq_dist(xa, x.row(i)).sqrt();
                if dist < d[k] {
                    d[k] = dist;
                }
                if best.is_none_or(|(b, _)| d[k] < b) {
                    best = Some((d[k], i));
                }
            }
            (d, best)
        };
        let found: Vec<ChunkNearest> = if n >= PARALLEL_FROM {
            par.map(&chunks, step)
        } else {
            chunks.iter().map(step).collect()
        };
        let mut best: Option<(f64, usize)> = None;
        for (r, (d, b)) in chunks.iter().zip(found) {
            nearest[r.clone()].copy_from_slice(&d);
            if let Some(c) = b {
                if best.is_none_or(|(bd, _)| c.0 < bd) {
                    best = Some(c);
                }
            }
        }
        let (dist, next) = best.expect("a row outside the tree");
        out.push((at, next, dist));
        at = next;
    }
    out
}

/// A chunk's lowered distances to the tree and its nearest row outside it.
type ChunkNearest = (Vec<f64>, Option<(f64, usize)>);

/// Merges of row slots, in any order, to scipy's form: sorted by height (stably), clusters
/// numbered n + step through a union-find, smaller id first (scipy's `label`).
fn label(mut raw: Vec<(usize, usize, f64)>, n: usize) -> Vec<Merge> {
    raw.sort_by(|a, b| a.2.total_cmp(&b.2));
    let mut parent: Vec<usize> = (0..2 * n - 1).collect();
    let mut size = vec![1u32; 2 * n - 1];
    // the current cluster id of each row slot's set, by root
    fn find(parent: &mut [usize], mut v: usize) -> usize {
        while parent[v] != v {
            parent[v] = parent[parent[v]];
            v = parent[v];
        }
        v
    }
    let mut out = Vec::with_capacity(n - 1);
    for (step, (x, y, h)) in raw.into_iter().enumerate() {
        let (a, b) = (find(&mut parent, x), find(&mut parent, y));
        let id = n + step;
        parent[a] = id;
        parent[b] = id;
        size[id] = size[a] + size[b];
        out.push(Merge {
            a: a.min(b) as u32,
            b: a.max(b) as u32,
            height: h,
            size: size[id],
        });
    }
    out
}

/// The segment (0-based) of each of the n rows when the tree is cut into `k` clusters: segments
/// numbered by size, largest first (equal sizes: the one with the lowest row first).
pub fn cut(merges: &[Merge], n: usize, k: usize) -> Vec<usize> {
    cut_general(merges, &vec![1; n], k).0
}

/// As `cut`, and the tree's node id of each segment.
pub fn cut_with_roots(merges: &[Merge], n: usize, k: usize) -> (Vec<usize>, Vec<usize>) {
    cut_general(merges, &vec![1; n], k)
}

/// As `cut` for a tree whose leaves are clusters of the given sizes.
pub fn cut_sized(merges: &[Merge], sizes: &[u64], k: usize) -> Vec<usize> {
    cut_general(merges, sizes, k).0
}

fn cut_general(merges: &[Merge], leaf_sizes: &[u64], k: usize) -> (Vec<usize>, Vec<usize>) {
    let n = leaf_sizes.len();
    if n == 0 {
        return (Vec::new(), Vec::new());
    }
    let k = k.clamp(1, n);
    let mut parent: Vec<usize> = (0..2 * n - 1).collect();
    fn find(parent: &mut [usize], mut v: usize) -> usize {
        while parent[v] != v {
            parent[v] = parent[parent[v]];
            v = parent[v];
        }
        v
    }
    for (step, m) in merges.iter().take(n - k).enumerate() {
        let id = n + step;
        parent[m.a as usize] = id;
        parent[m.b as usize] = id;
    }
    let roots: Vec<usize> = (0..n).map(|i| find(&mut parent, i)).collect();
    // number the clusters: largest first, then by lowest leaf
    let mut first = std::collections::HashMap::new();
    let mut size = std::collections::HashMap::new();
    for (i, &r) in roots.iter().enumerate() {
        first.entry(r).or_insert(i);
        *size.entry(r).or_insert(0u64) += leaf_sizes[i];
    }
    let mut order: Vec<usize> = first.keys().copied().collect();
    order.sort_by_key(|r| (std::cmp::Reverse(size[r]), first[r]));
    let number: std::collections::HashMap<usize, usize> =
        order.iter().enumerate().map(|(s, &r)| (r, s)).collect();
    (roots.iter().map(|r| number[r]).collect(), order)
}

#[cfg(test)]
mod cancel_tests {
    use super::*;

    /// Building the pairwise matrix asks the monitor every ~16 M multiply-adds a thread, not
    /// once per 4,096 rows (20,000 rows of 800 inputs were 65 G multiply-adds between checks).
    #[test]
    fn the_pairwise_matrix_answers_cancel_within_a_few_million_multiply_adds() {
        use crate::ml::monitor::Counting;
        let (n, d) = (1000, 500);
        let x = Matrix::from_rows(
            &(0..n)
                .map(|i| (0..d).map(|j| ((i * 31 + j * 17) % 101) as f64).collect())
                .collect::<Vec<Vec<f64>>>(),
        );
        let serial = Parallel::serial();
        let count = Counting::new(None);
        let m = MatrixClusters::new(&x, Linkage::Average, &serial, &count);
        let work = (n * (n - 1) / 2 * d) as u64;
        assert!(count.checks() as u64 >= work / MATRIX_WORK, "{}", count.checks());
        assert_eq!(m.dist(3, 700), sq_dist(x.row(3), x.row(700)).sqrt());
        // the same matrix on a team
        let team = Parallel::new(2);
        let t = MatrixClusters::new(&x, Linkage::Average, &team, &crate::ml::monitor::Silent);
        assert!(m.matrix == t.matrix);
        let stop = Counting::new(Some(2));
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            MatrixClusters::new(&x, Linkage::Average, &serial, &stop);
        }));
        assert!(r.is_err());
        assert_eq!(stop.checks(), 2);
    }
}
