//! Agglomerative (hierarchical) clustering: Ward, average, complete or single linkage
//! (linkage.rs builds the tree as scipy does).
//!
//! At most `sample_limit` rows (a seeded sample of larger tables) are clustered: the tree is
//! quadratic in rows (and average/complete linkage keep the pairwise matrix). The segments are the
//! tree cut into k; every training row, sampled or not, and every scored row belongs to the
//! segment with the nearest centre (the mean of the segment's clustered rows), as with k-means.
//!
//! The model keeps the top of the tree (the clusters of a cut into RECUT_LIMIT, or k if higher,
//! and the merges above them) with each cluster's size and sums, so that insight.recut makes a
//! version with another k without reading the data again.

pub mod linkage;

use super::kmeans::{seeded_sample, MAX_K};
use super::{Algorithm, FitContext, Fitted, Learns, Recipe, RecipeContext, TrainingData};
use crate::ml::distance::nearest;
use crate::ml::linalg::Matrix;
use crate::ml::model::{Estimator, Model};
use crate::ml::options::Options;
use crate::ml::problem::Problem;
use crate::ml::profile::SegmentProfile;
use linkage::{cut_with_roots, linkage, Linkage, Merge};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

pub static ALGORITHM: Algorithm = Algorithm {
    name: "agglomerative",
    learns: &[Learns::Segments],
    default_for: None,
    options: &["k", "k_range", "linkage", "sample_limit", "seed"],
    native_inputs: false,
    all_text_is_free: false,
    recipe: read_recipe,
};

/// The most rows clustered by default (Ward and single linkage need O(rows x inputs) memory).
pub const SAMPLE_LIMIT: usize = 20_000;
/// The default for average and complete linkage, whose pairwise matrix takes rows^2 x 4 bytes
/// (400 MB at 10,000 rows).
pub const MATRIX_SAMPLE_LIMIT: usize = 10_000;
/// The largest sample_limit: Ward and single / average and complete (1.6 GB of matrix).
const MAX_SAMPLE: usize = 50_000;
const MAX_MATRIX_SAMPLE: usize = 20_000;
/// The stored tree top holds this many clusters (or k, where k is higher): recut reaches any k up
/// to it. 100 clusters of 50 inputs take 40 kB of the model.
pub const RECUT_LIMIT: usize = 100;
/// Rows of the clustered sample on which silhouettes choose k.
const AUTO_K_SAMPLE: usize = 3000;

struct AgglomerativeRecipe {
    linkage: Linkage,
    /// None: chosen from k_range
    k: Option<usize>,
    k_range: (usize, usize),
    sample_limit: usize,
    seed: u64,
}

fn read_recipe(o: &Options, ctx: &RecipeContext) -> Result<Box<dyn Recipe>, Problem> {
    let how = match o.choice(
        "linkage",
        "ward",
        &["ward", "average", "complete", "single"],
    )? {
        "average" => Linkage::Average,
        "complete" => Linkage::Complete,
        "single" => Linkage::Single,
        _ => Linkage::Ward,
    };
    let k = o.usize_in("k", 0, 2, MAX_K).map(|k| (k > 0).then_some(k))?;
    let k_range = if k.is_some() {
        o.not_applicable(
            "k_range",
            "Option \"k_range\" chooses k when k is not given; leave one of them out.",
        );
        (2, 2)
    } else {
        match o.usize_list("k_range", &[2, 10], 2, MAX_K, 2)?.as_slice() {
            [lo, hi] if lo <= hi => (*lo, *hi),
            _ => {
                return Err(Problem::option(
                    "option \"k_range\" of algorithm agglomerative must be [lowest, highest]",
                    "e.g. {\"k_range\": [2, 10]}",
                ))
            }
        }
    };
    let (default_limit, max_limit) = if how.needs_matrix() {
        (MATRIX_SAMPLE_LIMIT, MAX_MATRIX_SAMPLE)
    } else {
        (SAMPLE_LIMIT, MAX_SAMPLE)
    };
    Ok(Box::new(AgglomerativeRecipe {
        linkage: how,
        k,
        k_range,
        sample_limit: o.usize_in("sample_limit", default_limit, 2, max_limit)?,
        seed: o.usize_in("seed", ctx.seed as usize, 0, usize::MAX)? as u64,
    }))
}

impl AgglomerativeRecipe {
    /// Bytes the tree of `m` clustered rows of `d` inputs needs: the sample's copy, then the
    /// condensed pairwise matrix (average, complete: m (m - 1) / 2 float8, built a row-slice per
    /// row), Ward's centroids or single linkage's nearest distances; the merges, the chain and
    /// the labels; the silhouettes that choose k on AUTO_K_SAMPLE rows.
    fn tree_bytes(&self, m: usize, d: usize) -> u64 {
        use crate::ml::memory::bytes;
        let sample = bytes(m, 8 * d);
        let clusters = match self.linkage {
            Linkage::Average | Linkage::Complete => {
                bytes(m.saturating_mul(m.saturating_sub(1)) / 2, 8).saturating_add(bytes(m, 48))
            }
            Linkage::Ward => bytes(m, 8 * d + 8),
            Linkage::Single => bytes(m, 16),
        };
        let merges = bytes(m, 24 + 8 + 8 + 8);
        let auto_k = if self.k.is_none() {
            bytes(m.min(AUTO_K_SAMPLE), 2 * 8 * d)
        } else {
            0
        };
        sample
            .saturating_add(clusters)
            .saturating_add(merges)
            .saturating_add(auto_k)
    }
}

impl Recipe for AgglomerativeRecipe {
    fn working_memory(&self, shape: &crate::ml::memory::FitShape) -> u64 {
        let m = shape.rows.min(self.sample_limit);
        // every training row's segment (the nearest centre) on top of the tree
        self.tree_bytes(m, shape.inputs)
            .saturating_add(crate::ml::memory::bytes(shape.rows, 16))
    }

    fn memory_hint(&self) -> &'static str {
        if self.linkage.needs_matrix() {
            "Lower options.sample_limit (average and complete linkage keep sample_limit^2 / 2 distances of 8 bytes), use linkage ward"
        } else {
            "Lower options.sample_limit"
        }
    }

    fn fit(&self, data: &TrainingData, ctx: &FitContext) -> Result<Fitted, Problem> {
        let x = data.x;
        let (lo, hi) = self.k.map_or(self.k_range, |k| (k, k));
        if x.rows < lo.max(2) {
            return Err(Problem::data(
                format!("{} rows cannot make {} segments", x.rows, lo.max(2)),
                "Train on more rows, or ask for fewer segments with options.k.",
            ));
        }
        let sample = seeded_sample(x.rows, self.sample_limit, self.seed);
        let xs = x.select_rows(&sample);
        let m = xs.rows;
        if m < x.rows {
            ctx.monitor.notice(&format!(
                "agglomerative clustered a seeded sample of {m} of {} rows; the other rows belong to the segment with the nearest centre (options.sample_limit, at most {})",
                x.rows,
                if self.linkage.needs_matrix() { MAX_MATRIX_SAMPLE } else { MAX_SAMPLE }
            ));
        }
        if ctx.monitor.wants_progress() {
            ctx.monitor.progress(&format!(
                "agglomerative: building the {} tree of {m} rows",
                self.linkage.name()
            ));
        }
        let tree = linkage(&xs, self.linkage, ctx.par, ctx.monitor);
        let hi = hi.min(m);
        // k: fixed, or the highest silhouette on a sample of the clustered rows
        let (k, curve) = if self.k.is_some() {
            (lo, Vec::new())
        } else {
            let pick = seeded_sample(m, AUTO_K_SAMPLE, self.seed ^ 1);
            let xp = xs.select_rows(&pick);
            let mut curve = Vec::new();
            let mut best = (f64::NEG_INFINITY, lo);
            for k in lo..=hi {
                let labels = linkage::cut(&tree, m, k);
                let picked: Vec<usize> = pick.iter().map(|&i| labels[i]).collect();
                let score = crate::ml::metrics::silhouette(&xp, &picked, k, ctx.par, ctx.monitor);
                curve.push(json!({ "k": k, "height": tree[m - k].height, "silhouette": score }));
                if score > best.0 {
                    best = (score, k);
                }
            }
            ctx.monitor.notice(&format!(
                "agglomerative chose k = {} of {lo} to {hi}: the highest silhouette on a sample of {} rows (options.k fixes k)",
                best.1,
                pick.len()
            ));
            (best.1, curve)
        };
        let top = Dendrogram::top(&tree, &xs, RECUT_LIMIT.max(k).min(m));
        let centers = top.centers(k);
        // as k-means reports it: every training row's squared distance to its nearest centre
        let inertia: f64 = (0..x.rows)
            .map(|r| nearest(x.row(r), &centers, x.cols).1)
            .sum();
        let mut info = json!({
            "k": k,
            "linkage": self.linkage.name(),
            "clustered_rows": m,
            "sampled": m < x.rows,
            "cut_height": top.cut_height(k),
            "inertia": inertia,
        });
        if !curve.is_empty() {
            info["k_curve"] = Value::Array(curve);
        }
        Ok(Fitted {
            estimator: Estimator::Agglomerative {
                centers,
                profile: Default::default(),
                tree: top,
            },
            info: info.as_object().cloned().unwrap_or_default(),
        })
    }

    fn options(&self) -> Value {
        let mut v = json!({ "linkage": self.linkage.name(), "sample_limit": self.sample_limit, "seed": self.seed });
        match self.k {
            Some(k) => v["k"] = json!(k),
            None => v["k_range"] = json!([self.k_range.0, self.k_range.1]),
        }
        v
    }
}

/// The top of a tree: the clusters of a cut into `base` clusters, each with its size and the sum
/// of its (encoded) rows, and the merges above them, numbered as in scipy (0..base the clusters,
/// base + s the cluster merge s makes). Enough to cut into any k up to `base` again.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Dendrogram {
    /// Rows the tree was built from.
    pub rows: u64,
    pub sizes: Vec<u64>,
    /// base x width, row-major
    pub sums: Vec<f64>,
    /// Per base cluster the sum of its rows' squared norms: with the sums, the within-segment
    /// sum of squares of any cut, exactly.
    pub sq_norms: Vec<f64>,
    /// base - 1 merges, lowest first
    pub merges: Vec<Merge>,
}

impl Dendrogram {
    /// The top `base` clusters of `tree` (built from the rows of `x`).
    pub fn top(tree: &[Merge], x: &Matrix, base: usize) -> Dendrogram {
        let (n, d) = (x.rows, x.cols);
        let base = base.clamp(1, n.max(1));
        let (cut_labels, cut_roots) = cut_with_roots(tree, n, base);
        // base clusters numbered by their lowest row, so that cutting the top numbers equal-sized
        // segments as cutting the full tree does (by the lowest row)
        let mut renumber = vec![usize::MAX; base];
        let mut roots = Vec::with_capacity(base);
        for &l in &cut_labels {
            if renumber[l] == usize::MAX {
                renumber[l] = roots.len();
                roots.push(cut_roots[l]);
            }
        }
        let labels: Vec<usize> = cut_labels.iter().map(|&l| renumber[l]).collect();
        let mut sizes = vec![0u64; base];
        let mut sums = vec![0.0; base * d];
        let mut sq_norms = vec![0.0; base];
        for (i, &l) in labels.iter().enumerate() {
            sizes[l] += 1;
            sq_norms[l] += x.row(i).iter().map(|v| v * v).sum::<f64>();
            for (s, v) in sums[l * d..(l + 1) * d].iter_mut().zip(x.row(i)) {
                *s += v;
            }
        }
        // node ids of the full tree -> ids of the top: the base clusters, then the top merges
        let first_top = n + (n - base); // the id the first top merge makes
        let of_root: std::collections::HashMap<usize, usize> =
            roots.iter().enumerate().map(|(l, &r)| (r, l)).collect();
        let id = |node: u32| -> u32 {
            let node = node as usize;
            if node >= first_top {
                (base + node - first_top) as u32
            } else {
                of_root[&node] as u32
            }
        };
        let merges = tree[n - base..]
            .iter()
            .map(|m| {
                let (a, b) = (id(m.a), id(m.b));
                Merge {
                    a: a.min(b),
                    b: a.max(b),
                    height: m.height,
                    size: m.size,
                }
            })
            .collect();
        Dendrogram {
            rows: n as u64,
            sizes,
            sums,
            sq_norms,
            merges,
        }
    }

    /// The clusters it can be cut into at most.
    pub fn base(&self) -> usize {
        self.sizes.len()
    }

    /// Of each base cluster, its segment when cut into `k` (numbered largest first).
    pub fn cut(&self, k: usize) -> Vec<usize> {
        linkage::cut_sized(&self.merges, &self.sizes, k)
    }

    /// The centres of a cut into `k`: the mean of each segment's rows (k x width).
    pub fn centers(&self, k: usize) -> Vec<f64> {
        self.summary(k).centers
    }

    /// A cut into `k` (at most `base`) described from the stored sums, without the rows.
    pub fn summary(&self, k: usize) -> CutSummary {
        let d = self.sums.len() / self.base().max(1);
        let of = self.cut(k);
        let k = of.iter().max().map_or(0, |m| m + 1);
        let mut centers = vec![0.0; k * d];
        let mut sizes = vec![0u64; k];
        let mut sq_norms = vec![0.0; k];
        for (b, &s) in of.iter().enumerate() {
            sizes[s] += self.sizes[b];
            sq_norms[s] += self.sq_norms[b];
            for (t, v) in centers[s * d..(s + 1) * d]
                .iter_mut()
                .zip(&self.sums[b * d..(b + 1) * d])
            {
                *t += v;
            }
        }
        // sum over all rows of |x - mean|^2 = sum |x|^2 - |sum x|^2 / n, per segment and overall
        let n: u64 = sizes.iter().sum();
        let mut total = vec![0.0; d];
        let mut within = 0.0;
        for s in 0..k {
            let c = &mut centers[s * d..(s + 1) * d];
            total.iter_mut().zip(c.iter()).for_each(|(t, v)| *t += v);
            within += sq_norms[s] - c.iter().map(|v| v * v).sum::<f64>() / sizes[s].max(1) as f64;
            c.iter_mut().for_each(|v| *v /= sizes[s].max(1) as f64);
        }
        let all = sq_norms.iter().sum::<f64>()
            - total.iter().map(|v| v * v).sum::<f64>() / n.max(1) as f64;
        // cancellation can leave a tiny negative where the rows are equal
        let within = within.max(0.0);
        let between = (all - within).max(0.0);
        let calinski_harabasz = if within > 0.0 && k >= 2 && (n as usize) > k {
            between * (n as usize - k) as f64 / (within * (k - 1) as f64)
        } else {
            f64::NAN
        };
        CutSummary {
            centers,
            sizes,
            inertia: within,
            calinski_harabasz,
        }
    }

    /// The height of the lowest merge that a cut into `k` leaves undone: the tree is cut below it
    /// (0 for k = 1, which undoes none).
    pub fn cut_height(&self, k: usize) -> f64 {
        let base = self.base();
        (k >= 1 && k <= base)
            .then(|| self.merges.get(base - k))
            .flatten()
            .map_or(0.0, |m| m.height)
    }

    /// Why a stored top of a tree cannot belong to a model of `width` inputs.
    pub fn check(&self, width: usize) -> Result<(), String> {
        let base = self.base();
        // a tree: every merge joins two clusters that exist and were not merged before
        let mut merged = vec![false; 2 * base];
        let ok_ids = self.merges.iter().enumerate().all(|(s, m)| {
            let (a, b) = (m.a as usize, m.b as usize);
            let ok = a < b && b < base + s && !merged[a] && !merged[b];
            if ok {
                merged[a] = true;
                merged[b] = true;
            }
            ok
        });
        // every centre of every cut is a mean of these sums and sizes: their totals must be
        // finite (so every partial sum is), the sizes add up without overflow
        let total_size = self.sizes.iter().try_fold(0u64, |t, &n| t.checked_add(n));
        let width_ok = width > 0 && self.sums.len() == base * width;
        let totals_finite = width_ok
            && (0..width).all(|j| {
                (0..base)
                    .map(|c| self.sums[c * width + j].abs())
                    .sum::<f64>()
                    .is_finite()
            })
            && self
                .sq_norms
                .iter()
                .map(|v| v.abs())
                .sum::<f64>()
                .is_finite()
            && self
                .merges
                .iter()
                .all(|m| m.height.is_finite() && m.height >= 0.0);
        if base == 0
            || base > MAX_K.max(RECUT_LIMIT)
            || self.sums.len() != base * width
            || self.merges.len() != base - 1
            || !ok_ids
            || self.sizes.contains(&0)
            || self.sq_norms.len() != base
            || !self.sq_norms.iter().all(|v| v.is_finite())
            || !self.sums.iter().all(|v| v.is_finite())
            || !totals_finite
            || total_size.is_none_or(|t| t > 1 << 53)
        {
            return Err(format!(
                "a merge tree of {base} clusters and {} merges for {width} inputs",
                self.merges.len()
            ));
        }
        Ok(())
    }
}

/// The model of `model`'s tree cut into `k` segments instead, and what to record about it:
/// centres and profile from the stored tree top (the profile's segments are the tree's clusters
/// of the clustered rows; the population's means and spreads stay those of all training rows).
/// None: `model` is not an agglomerative model.
pub fn recut(model: &Model, k: i64) -> Option<Result<(Model, Value), Problem>> {
    let Estimator::Agglomerative { profile, tree, .. } = &model.estimator else {
        return None;
    };
    let base = tree.base();
    if k < 2 || k > base as i64 {
        return Some(Err(Problem::option(
            format!("k must be between 2 and {base} for this model, got {k}"),
            format!(
                "A segmentation has at least 2 segments, and the model keeps the top {base} clusters of its merge tree; for more, train again with a higher options.k."
            ),
        )));
    }
    let k = k as usize;
    let cut = tree.summary(k);
    let new_profile = SegmentProfile {
        sizes: cut.sizes.clone(),
        means: cut.centers.clone(),
        population_mean: profile.population_mean.clone(),
        population_sd: profile.population_sd.clone(),
    };
    let mut m = model.clone();
    m.estimator = Estimator::Agglomerative {
        centers: cut.centers,
        profile: new_profile,
        tree: tree.clone(),
    };
    let info = json!({
        "k": k,
        "sizes": cut.sizes,
        "clustered_rows": tree.rows,
        "cut_height": tree.cut_height(k),
        "clustered_inertia": cut.inertia,
        "calinski_harabasz": crate::ml::metrics::finite(cut.calinski_harabasz),
    });
    Some(Ok((m, info)))
}

/// A cut of the stored tree top: each segment's centre and clustered rows, the within-segment
/// sum of squares (inertia) and the Calinski-Harabasz index of the clustered rows.
pub struct CutSummary {
    pub centers: Vec<f64>,
    pub sizes: Vec<u64>,
    pub inertia: f64,
    pub calinski_harabasz: f64,
}

/// model_info's view: the linkage's tree top (sizes and heights) and the centres.
pub fn parameters(centers: &[f64], tree: &Dendrogram, inputs: &[String]) -> Value {
    let mut p = super::kmeans::parameters(centers, inputs);
    p["tree"] = json!({
        "clustered_rows": tree.rows,
        "recut_up_to": tree.base(),
        "heights": tree.merges.iter().rev().take(20).map(|m| m.height).collect::<Vec<_>>(),
    });
    p
}

#[cfg(test)]
mod tests {
    use super::linkage::{cut, linkage, Linkage, Merge};
    use crate::ml::algorithms::kmeans::tests_data::reference_blobs;
    use crate::ml::linalg::Matrix;
    use crate::ml::monitor::Silent;
    use crate::ml::parallel::Parallel;

    // scipy 1.10.1 linkage(X, method) on reference_blobs (tests/reference/agglomerative_reference.py):
    // the sum of all heights and the last five merges; scikit-learn 1.2.1's
    // AgglomerativeClustering(n_clusters=5) sizes (its labels equal a cut of scipy's tree)
    type Reference = (Linkage, f64, [(u32, u32, f64, u32); 5], [usize; 5]);
    const SCIPY: &[Reference] = &[
        (
            Linkage::Ward,
            642.5878098254,
            [
                (1187, 1192, 10.0036097012, 200),
                (1188, 1191, 10.0954673366, 200),
                (1185, 1193, 10.1142615237, 200),
                (1194, 1196, 79.9380524844, 400),
                (1195, 1197, 80.0329916211, 600),
            ],
            [200, 135, 127, 73, 65],
        ),
        (
            Linkage::Average,
            257.2270573590,
            [
                (1137, 1193, 1.9468675307, 200),
                (1131, 1191, 1.9697151825, 197),
                (1063, 1195, 2.0258420332, 200),
                (1192, 1196, 5.8024555826, 400),
                (1194, 1197, 5.8069917855, 600),
            ],
            [200, 200, 192, 5, 3],
        ),
        (
            Linkage::Complete,
            351.8208396880,
            [
                (1190, 1192, 3.9348660676, 200),
                (1182, 1193, 3.9573754152, 200),
                (1186, 1191, 4.0074036748, 200),
                (1194, 1196, 8.7069232407, 400),
                (1195, 1197, 9.1950240623, 600),
            ],
            [200, 164, 122, 78, 36],
        ),
        (
            Linkage::Single,
            158.0607629147,
            [
                (1017, 1191, 0.6403865035, 200),
                (1149, 1193, 0.7374261120, 198),
                (723, 1195, 0.7953065666, 200),
                (1192, 1196, 2.5436938414, 400),
                (1194, 1197, 2.6177615131, 600),
            ],
            [200, 200, 195, 3, 2],
        ),
    ];

    #[test]
    fn trees_equal_scipy() {
        let (x, truth) = reference_blobs();
        for (how, sum, last, sizes5) in SCIPY {
            let z = linkage(&x, *how, &Parallel::serial(), &Silent);
            assert_eq!(z.len(), 599);
            let total: f64 = z.iter().map(|m| m.height).sum();
            assert!(
                (total - sum).abs() < 1e-8 * sum,
                "{how:?}: sum of heights {total} vs scipy {sum}"
            );
            for (m, (a, b, h, s)) in z[594..].iter().zip(last) {
                assert_eq!((m.a, m.b, m.size), (*a, *b, *s), "{how:?}: {m:?}");
                assert!(
                    (m.height - h).abs() < 1e-9 * h.max(1.0),
                    "{how:?}: {m:?} vs height {h}"
                );
            }
            assert!(
                z.windows(2).all(|w| w[0].height <= w[1].height),
                "{how:?}: heights in order"
            );
            // the planted blobs at k = 3, scikit-learn's sizes at k = 5
            let labels = cut(&z, 600, 3);
            assert!(
                crate::ml::metrics::adjusted_rand(&labels, &truth) > 0.999999,
                "{how:?}"
            );
            let labels = cut(&z, 600, 5);
            let mut counts = [0usize; 5];
            labels.iter().for_each(|&l| counts[l] += 1);
            assert_eq!(&counts, sizes5, "{how:?}: segments numbered largest first");
        }
    }

    #[test]
    fn the_tree_does_not_depend_on_the_thread_count() {
        // enough rows for the searches to run on the team
        let (base, _) = reference_blobs();
        let rows: Vec<Vec<f64>> = (0..9000)
            .map(|i| {
                let r = base.row(i % 600);
                vec![
                    r[0] + (i as f64 * 0.013).sin() * 0.2,
                    r[1],
                    r[2] + (i as f64 * 0.007).cos() * 0.2,
                ]
            })
            .collect();
        let x = Matrix::from_rows(&rows);
        for how in [Linkage::Ward, Linkage::Average, Linkage::Single] {
            let a = linkage(&x, how, &Parallel::serial(), &Silent);
            let b = linkage(&x, how, &Parallel::new(2), &Silent);
            assert_eq!(a, b, "{how:?}");
        }
    }

    #[test]
    fn small_and_duplicate_inputs() {
        assert!(linkage(
            &Matrix::from_rows(&[vec![1.0]]),
            Linkage::Ward,
            &Parallel::serial(),
            &Silent
        )
        .is_empty());
        let x = Matrix::from_rows(&[vec![0.0], vec![0.0], vec![0.0], vec![5.0]]);
        for how in [
            Linkage::Ward,
            Linkage::Average,
            Linkage::Complete,
            Linkage::Single,
        ] {
            let z = linkage(&x, how, &Parallel::serial(), &Silent);
            assert_eq!(z.len(), 3);
            assert_eq!(z[2].size, 4);
            assert_eq!((z[0].height, z[1].height), (0.0, 0.0), "{how:?}");
            assert_eq!(cut(&z, 4, 2), vec![0, 0, 0, 1], "{how:?}");
            let m: &Merge = &z[2];
            assert!(m.a < m.b);
        }
        assert_eq!(cut(&[], 1, 3), vec![0]);
    }

    #[test]
    fn the_stored_top_recuts_as_the_full_tree() {
        let (x, _) = reference_blobs();
        for how in [Linkage::Ward, Linkage::Average, Linkage::Single] {
            let z = linkage(&x, how, &Parallel::serial(), &Silent);
            let top = super::Dendrogram::top(&z, &x, 12);
            assert_eq!(top.base(), 12);
            assert_eq!(top.sizes.iter().sum::<u64>(), 600);
            top.check(3).unwrap();
            for k in 1..=12 {
                // the mean of each segment of the full tree's cut, in the cut's numbering
                let labels = cut(&z, 600, k);
                let mut want = vec![0.0; k * 3];
                let mut n = vec![0.0; k];
                for (i, &l) in labels.iter().enumerate() {
                    n[l] += 1.0;
                    for j in 0..3 {
                        want[l * 3 + j] += x.row(i)[j];
                    }
                }
                for (j, v) in want.iter_mut().enumerate() {
                    *v /= n[j / 3];
                }
                let got = top.centers(k);
                assert_eq!(got.len(), want.len(), "{how:?} k = {k}");
                // inertia and Calinski-Harabasz from the stored sums, as from the rows
                let summary = top.summary(k);
                let inertia: f64 = labels
                    .iter()
                    .enumerate()
                    .map(|(i, &l)| crate::ml::distance::sq_dist(x.row(i), &want[l * 3..l * 3 + 3]))
                    .sum();
                assert!(
                    (summary.inertia - inertia).abs() < 1e-8 * inertia.max(1.0),
                    "{how:?} k = {k}"
                );
                if k >= 2 {
                    let ch = crate::ml::metrics::calinski_harabasz(&x, &labels, &want, k);
                    assert!(
                        (summary.calinski_harabasz - ch).abs() < 1e-8 * ch,
                        "{how:?} k = {k}: {} vs {ch}",
                        summary.calinski_harabasz
                    );
                }
                assert_eq!(
                    top.cut_height(k),
                    if k == 1 { 0.0 } else { z[600 - k].height }
                );
                for (g, w) in got.iter().zip(&want) {
                    assert!((g - w).abs() < 1e-9, "{how:?} k = {k}: {g} vs {w}");
                }
            }
            // a stored tree that lies is refused
            let mut bad = top.clone();
            bad.merges[0].b = 40;
            assert!(bad.check(3).is_err());
            let mut bad = top.clone();
            bad.sums.pop();
            assert!(bad.check(3).is_err());
            assert!(top.check(4).is_err());
        }
    }
}
