//! k-means: scikit-learn's greedy k-means++ initialisation (2 + ln k candidates per new centre,
//! the one that lowers the potential most is kept), then Lloyd iterations accelerated by
//! Hamerly's bounds: each row keeps an upper bound on the distance to its centre and a lower
//! bound on the distance to every other, and is only measured again when the bounds no longer
//! prove its assignment. `n_init` restarts keep the lowest inertia. Convergence as scikit-learn's:
//! the squared centre shift summed over centres at most `tol` times the mean feature variance.
//!
//! From MINIBATCH_ROWS rows on (or with method minibatch) the centres come from mini-batch steps
//! instead (minibatch.rs), as scikit-learn's MiniBatchKMeans.
//!
//! Every pass runs over fixed row blocks on the thread team, and block results are combined in
//! block order, so a seed gives the same segments whatever the thread count. The monitor's
//! checkpoint runs between groups of blocks (query cancel within ~100 ms).

mod minibatch;

use super::{Algorithm, FitContext, Fitted, Learns, Recipe, RecipeContext, TrainingData};
use crate::ml::distance::{all_sq_dists, sq_dist, transpose};
use crate::ml::linalg::Matrix;
use crate::ml::model::Estimator;
use crate::ml::monitor::Monitor;
use crate::ml::options::Options;
use crate::ml::parallel::Parallel;
use crate::ml::problem::Problem;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};
use std::ops::Range;
use std::time::Instant;

pub static ALGORITHM: Algorithm = Algorithm {
    name: "kmeans",
    learns: &[Learns::Segments],
    default_for: None,
    options: &[
        "k",
        "k_range",
        "method",
        "batch_size",
        "n_init",
        "max_iter",
        "tol",
        "seed",
    ],
    native_inputs: false,
    all_text_is_free: false,
    recipe: read_recipe,
};

/// The most segments a model may have.
pub const MAX_K: usize = 1000;
/// Rows of the seeded sample on which silhouettes choose k (the score is quadratic in rows).
const AUTO_K_SAMPLE: usize = 3000;

/// k-means with a fixed k, or with k chosen from a range by the silhouette of a sample.
struct KMeansRecipe {
    opts: KMeansOptions,
    /// None: k fixed in opts; Some((lo, hi)): try lo..=hi
    k_range: Option<(usize, usize)>,
}

fn read_recipe(o: &Options, ctx: &RecipeContext) -> Result<Box<dyn Recipe>, Problem> {
    let d = KMeansOptions::default();
    let k = o.usize_in("k", 0, 2, MAX_K).map(|k| (k > 0).then_some(k))?;
    let k_range = match k {
        Some(_) => {
            o.not_applicable(
                "k_range",
                "Option \"k_range\" chooses k when k is not given; leave one of them out.",
            );
            None
        }
        None => {
            let r = o.usize_list("k_range", &[2, 10], 2, MAX_K, 2)?;
            match r.as_slice() {
                [lo, hi] if lo <= hi => Some((*lo, *hi)),
                _ => {
                    return Err(Problem::option(
                        "option \"k_range\" of algorithm kmeans must be [lowest, highest]",
                        "e.g. {\"k_range\": [2, 10]}",
                    ))
                }
            }
        }
    };
    let method = match o.choice("method", "auto", &["auto", "full", "minibatch"])? {
        "full" => Method::Full,
        "minibatch" => Method::MiniBatch,
        _ => Method::Auto,
    };
    let batch_size = if method == Method::Full {
        o.not_applicable(
            "batch_size",
            "Option \"batch_size\" is for method minibatch (or auto on large tables).",
        );
        d.batch_size
    } else {
        o.usize_in("batch_size", d.batch_size, 16, 1_000_000)?
    };
    let tol = if method == Method::MiniBatch {
        o.not_applicable("tol", "Mini-batch k-means stops when the smoothed batch inertia stops falling; option \"tol\" is for method full.");
        d.tol
    } else {
        o.f64_in("tol", d.tol, 0.0, 1.0, "a number from 0 to 1")?
    };
    Ok(Box::new(KMeansRecipe {
        opts: KMeansOptions {
            k: k.unwrap_or(2),
            method,
            batch_size,
            n_init: o.usize_in("n_init", d.n_init, 1, 100)?,
            max_iter: o.usize_in("max_iter", d.max_iter, 1, 100_000)?,
            tol,
            seed: o.usize_in("seed", ctx.seed as usize, 0, usize::MAX)? as u64,
        },
        k_range,
    }))
}

impl Recipe for KMeansRecipe {
    /// Per row (twice: the best fit so far and the current one): its label, Hamerly's upper and
    /// lower bounds and k-means++'s cumulative potentials; per block of rows a centre sums
    /// (k x inputs float8: every block's are alive until they are added up); the centres; the
    /// seeded sample of AUTO_K_SAMPLE rows the silhouette is computed on, and its tiles.
    fn working_memory(&self, shape: &crate::ml::memory::FitShape) -> u64 {
        use crate::ml::memory::bytes;
        let k = self.k_range.map_or(self.opts.k, |(_, hi)| hi).min(shape.rows.max(1));
        let d = shape.inputs;
        let blocks = shape.rows.div_ceil(crate::ml::parallel::BLOCK_ROWS).max(1);
        bytes(shape.rows, 2 * (4 + 8 + 8 + 8))
            .saturating_add(bytes(blocks, 8 * d).saturating_mul(k as u64 + 1))
            .saturating_add(bytes(k, 8 * (6 * d + k)))
            .saturating_add(bytes(shape.rows.min(AUTO_K_SAMPLE), 2 * 8 * d))
    }

    fn memory_hint(&self) -> &'static str {
        "Ask for fewer segments (options.k or options.k_range)"
    }

    fn fit(&self, data: &TrainingData, ctx: &FitContext) -> Result<Fitted, Problem> {
        let x = data.x;
        let (lo, hi) = self.k_range.unwrap_or((self.opts.k, self.opts.k));
        if x.rows < lo.max(2) {
            return Err(Problem::data(
                format!("{} rows cannot make {} segments", x.rows, lo.max(2)),
                "Train on more rows, or ask for fewer segments with options.k.",
            ));
        }
        let hi = hi.min(x.rows);
        let mut curve = Vec::new();
        let mut best: Option<(f64, KMeansFit)> = None;
        let sample = seeded_sample(x.rows, AUTO_K_SAMPLE, self.opts.seed);
        let xs = x.select_rows(&sample);
        for k in lo..=hi {
            let f = fit(
                x,
                &KMeansOptions {
                    k,
                    ..self.opts.clone()
                },
                ctx.par,
                ctx.monitor,
            );
            let score = if self.k_range.is_some() {
                let labels: Vec<usize> = sample.iter().map(|&i| f.labels[i] as usize).collect();
                crate::ml::metrics::silhouette(&xs, &labels, k, ctx.par, ctx.monitor)
            } else {
                f64::NAN
            };
            if self.k_range.is_some() {
                curve.push(json!({ "k": k, "inertia": f.inertia, "silhouette": score }));
                if ctx.monitor.wants_progress() {
                    ctx.monitor.progress(&format!(
                        "kmeans k={k}: inertia {:.6}, silhouette {score:.4}",
                        f.inertia
                    ));
                }
            }
            if best.as_ref().is_none_or(|(s, _)| score > *s) || self.k_range.is_none() {
                best = Some((score, f));
            }
        }
        let (_, f) = best.expect("at least one k");
        if let Some((lo, hi)) = self.k_range {
            ctx.monitor.notice(&format!(
                "kmeans chose k = {} of {lo} to {hi}: the highest silhouette on a sample of {} rows (options.k fixes k)",
                f.k,
                sample.len()
            ));
        }
        let method = self.opts.method.resolve(x.rows);
        let mut info = json!({ "k": f.k, "method": method.name(), "inertia": f.inertia, "converged": f.converged });
        if method == Method::MiniBatch {
            info["batch_size"] = json!(self.opts.batch_size.min(x.rows));
            info["steps"] = json!(f.iterations);
        } else {
            info["iterations"] = json!(f.iterations);
        }
        if !curve.is_empty() {
            info["k_curve"] = Value::Array(curve);
        }
        Ok(Fitted {
            estimator: Estimator::KMeans {
                centers: f.centers,
                profile: Default::default(),
            },
            info: info.as_object().cloned().unwrap_or_default(),
        })
    }

    fn options(&self) -> Value {
        let mut v = json!({ "method": self.opts.method.name(), "n_init": self.opts.n_init, "max_iter": self.opts.max_iter, "seed": self.opts.seed });
        if self.opts.method != Method::Full {
            v["batch_size"] = json!(self.opts.batch_size);
        }
        if self.opts.method != Method::MiniBatch {
            v["tol"] = json!(self.opts.tol);
        }
        match self.k_range {
            Some((lo, hi)) => v["k_range"] = json!([lo, hi]),
            None => v["k"] = json!(self.opts.k),
        }
        v
    }
}

/// Up to `size` distinct row indices, drawn with `seed` (all rows when there are fewer), sorted.
pub fn seeded_sample(n: usize, size: usize, seed: u64) -> Vec<usize> {
    if n <= size {
        return (0..n).collect();
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed_5a3b);
    let mut idx = rand::seq::index::sample(&mut rng, n, size).into_vec();
    idx.sort_unstable();
    idx
}

/// model_info's view of k-means: the centre of each segment in the encoded inputs.
pub fn parameters(centers: &[f64], inputs: &[String]) -> Value {
    let w = inputs.len().max(1);
    json!({
        "segments": centers.len() / w,
        "centers": centers.chunks(w).enumerate().map(|(j, c)| json!({
            "segment": j + 1,
            "center": Value::Object(inputs.iter().cloned().zip(c.iter().map(|v| json!(v))).collect()),
        })).collect::<Vec<_>>(),
        "scale": "encoded inputs (standardised numbers, one-hot categories)",
    })
}

/// How the centres are fitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// Full below MINIBATCH_ROWS rows, mini-batch from there on.
    Auto,
    /// Lloyd iterations over every row (Hamerly's bounds).
    Full,
    /// Steps over seeded batches of rows (minibatch.rs).
    MiniBatch,
}

impl Method {
    pub fn name(self) -> &'static str {
        match self {
            Method::Auto => "auto",
            Method::Full => "full",
            Method::MiniBatch => "minibatch",
        }
    }

    /// The method `Auto` picks for `rows` rows.
    pub fn resolve(self, rows: usize) -> Method {
        match self {
            Method::Auto if rows >= MINIBATCH_ROWS => Method::MiniBatch,
            Method::Auto => Method::Full,
            m => m,
        }
    }
}

/// From this many rows `method` auto fits with mini-batches.
pub const MINIBATCH_ROWS: usize = 500_000;

#[derive(Clone, Debug)]
pub struct KMeansOptions {
    pub k: usize,
    pub method: Method,
    /// Rows per mini-batch step.
    pub batch_size: usize,
    /// Restarts from different k-means++ seeds; the lowest inertia is kept.
    pub n_init: usize,
    pub max_iter: usize,
    /// Relative to the mean feature variance, as scikit-learn's tol.
    pub tol: f64,
    pub seed: u64,
}

impl Default for KMeansOptions {
    fn default() -> Self {
        KMeansOptions {
            k: 8,
            method: Method::Auto,
            batch_size: 1024,
            n_init: 10,
            max_iter: 300,
            tol: 1e-4,
            seed: 42,
        }
    }
}

#[derive(Clone, Debug)]
pub struct KMeansFit {
    /// k x d, row-major.
    pub centers: Vec<f64>,
    pub k: usize,
    /// The segment (0-based) of each training row, under the final centres.
    pub labels: Vec<u32>,
    /// Sum of squared distances of the rows to their centres.
    pub inertia: f64,
    /// Lloyd iterations of the kept run (mini-batch: steps).
    pub iterations: usize,
    pub converged: bool,
}

pub fn fit(x: &Matrix, opts: &KMeansOptions, par: &Parallel, monitor: &dyn Monitor) -> KMeansFit {
    let (n, k) = (x.rows, opts.k);
    assert!(k >= 1 && n >= k, "k-means needs at least k rows");
    if opts.method.resolve(n) == Method::MiniBatch {
        return minibatch::fit(x, opts, par, monitor);
    }
    let tol = opts.tol * mean_variance(x);
    let started = Instant::now();
    let mut best: Option<KMeansFit> = None;
    for run in 0..opts.n_init.max(1) {
        let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
        rng.set_stream(run as u64);
        let init = kmeans_plus_plus(x, k, &mut rng, par, monitor);
        let fit = lloyd_hamerly(x, init, opts.max_iter, tol, par, monitor);
        if monitor.wants_progress() {
            monitor.progress(&format!(
                "kmeans run {}/{}: inertia {:.6}, {} iterations{}, elapsed {:.2}s",
                run + 1,
                opts.n_init.max(1),
                fit.inertia,
                fit.iterations,
                if fit.converged {
                    ""
                } else {
                    " (not converged)"
                },
                started.elapsed().as_secs_f64()
            ));
        }
        if best.as_ref().is_none_or(|b| fit.inertia < b.inertia) {
            best = Some(fit);
        }
    }
    best.expect("at least one run")
}

/// Mean over features of the variance of the rows (scikit-learn's scale for tol).
fn mean_variance(x: &Matrix) -> f64 {
    let (n, d) = (x.rows as f64, x.cols);
    if x.rows == 0 || d == 0 {
        return 0.0;
    }
    let mut mean = vec![0.0; d];
    for r in 0..x.rows {
        for (m, v) in mean.iter_mut().zip(x.row(r)) {
            *m += v;
        }
    }
    mean.iter_mut().for_each(|m| *m /= n);
    let mut var = 0.0;
    for r in 0..x.rows {
        var += sq_dist(x.row(r), &mean);
    }
    var / n / d as f64
}

/// scikit-learn's greedy k-means++: the first centre uniformly, then for each next one
/// 2 + ln k candidates drawn in proportion to the squared distance to the nearest centre so far,
/// keeping the candidate that lowers the total most.
fn kmeans_plus_plus(
    x: &Matrix,
    k: usize,
    rng: &mut ChaCha8Rng,
    par: &Parallel,
    monitor: &dyn Monitor,
) -> Vec<f64> {
    let (n, d) = (x.rows, x.cols);
    let trials = 2 + (k as f64).ln().floor() as usize;
    let mut centers = Vec::with_capacity(k * d);
    let first = rng.gen_range(0..n);
    centers.extend_from_slice(x.row(first));
    let mut closest: Vec<f64> = par
        .map_blocks(n, monitor, |r: Range<usize>| {
            r.map(|i| sq_dist(x.row(i), &centers[..d]))
                .collect::<Vec<f64>>()
        })
        .concat();
    for _ in 1..k {
        // candidates by inverse transform sampling on the running sums
        let mut cum = Vec::with_capacity(n);
        let mut s = 0.0;
        for v in &closest {
            s += v;
            cum.push(s);
        }
        let candidates: Vec<usize> = (0..trials)
            .map(|_| {
                let target = rng.gen::<f64>() * s;
                cum.partition_point(|&c| c < target).min(n - 1)
            })
            .collect();
        // every candidate's potential in one pass over the rows (the rows are read once, not once
        // per candidate: the pass is bound by memory, not arithmetic); the lowest wins
        let cand_rows: Vec<f64> = candidates
            .iter()
            .flat_map(|&c| x.row(c).iter().copied())
            .collect();
        let potentials = CandidatePass {
            x,
            closest: &closest,
            candidates_t: &transpose(&cand_rows, trials, d),
        };
        let block_sums: Vec<Vec<f64>> =
            par.map_blocks(n, monitor, |r: Range<usize>| potentials.run(r));
        let mut pots = vec![0.0; trials];
        for b in &block_sums {
            for (p, v) in pots.iter_mut().zip(b) {
                *p += v;
            }
        }
        let best = (0..trials).fold(0, |b, t| if pots[t] < pots[b] { t } else { b });
        let c = x.row(candidates[best]);
        centers.extend_from_slice(c);
        closest = par
            .map_blocks(n, monitor, |r: Range<usize>| {
                r.map(|i| closest[i].min(sq_dist(x.row(i), c)))
                    .collect::<Vec<f64>>()
            })
            .concat();
    }
    centers
}

/// A k-means++ step's pass over the rows: for each candidate centre, the potential (the sum of
/// the squared distances to the nearest centre) were it added.
struct CandidatePass<'a> {
    x: &'a Matrix,
    closest: &'a [f64],
    /// the candidates transposed (d x candidates)
    candidates_t: &'a [f64],
}

impl CandidatePass<'_> {
    /// One block of rows: its part of each candidate's potential (AVX2 + FMA where the CPU has
    /// them, as Pass::run).
    fn run(&self, rows: Range<usize>) -> Vec<f64> {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the features were just detected
            return unsafe { self.run_avx2(rows) };
        }
        self.body(rows)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn run_avx2(&self, rows: Range<usize>) -> Vec<f64> {
        self.body(rows)
    }

    #[inline(always)]
    fn body(&self, rows: Range<usize>) -> Vec<f64> {
        let trials = self.candidates_t.len() / self.x.cols.max(1);
        let mut sums = vec![0.0; trials];
        let mut dists = vec![0.0; trials];
        for i in rows {
            all_sq_dists(self.x.row(i), self.candidates_t, &mut dists);
            let c = self.closest[i];
            for (s, &v) in sums.iter_mut().zip(&dists) {
                *s += c.min(v);
            }
        }
        sums
    }
}

/// One block's part of an assignment pass: the rows' new labels and bounds, and the block's
/// sums for the centre update.
struct BlockPass {
    /// each row's segment
    labels: Vec<u32>,
    /// each row's distance (not squared) to its centre
    upper: Vec<f64>,
    lower: Vec<f64>,
    sums: Vec<f64>,
    counts: Vec<f64>,
}

/// What one assignment pass reads: the rows, the centres (row-major and transposed), the half
/// gaps, the state of the rows before the pass, and whether every row is measured.
struct Pass<'a> {
    x: &'a Matrix,
    centers: &'a [f64],
    centers_t: &'a [f64],
    half_gap: &'a [f64],
    labels: &'a [u32],
    upper: &'a [f64],
    lower: &'a [f64],
    full: bool,
    k: usize,
}

impl Pass<'_> {
    /// One block of rows: with AVX2 + FMA where the CPU has them (the crate is compiled for
    /// baseline x86-64: SSE2, two doubles at a time), checked once per block.
    fn run(&self, rows: Range<usize>) -> BlockPass {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the features were just detected
            return unsafe { self.run_avx2(rows) };
        }
        self.run_portable(rows)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn run_avx2(&self, rows: Range<usize>) -> BlockPass {
        self.body(rows)
    }

    fn run_portable(&self, rows: Range<usize>) -> BlockPass {
        self.body(rows)
    }

    /// Hamerly's step for each row: skip it when its bounds prove its centre, else measure.
    #[inline(always)]
    fn body(&self, r: Range<usize>) -> BlockPass {
        let (k, d) = (self.k, self.x.cols);
        let mut scratch = vec![0.0; k];
        let mut p = BlockPass {
            labels: Vec::with_capacity(r.len()),
            upper: Vec::with_capacity(r.len()),
            lower: Vec::with_capacity(r.len()),
            sums: vec![0.0; k * d],
            counts: vec![0.0; k],
        };
        for i in r {
            let xi = self.x.row(i);
            let (a, u, l) = if self.full {
                two_nearest(xi, self.centers_t, &mut scratch)
            } else {
                let (mut a, mut u, mut l) = (self.labels[i] as usize, self.upper[i], self.lower[i]);
                let bound = self.half_gap[a].max(l);
                if u > bound {
                    u = sq_dist(xi, &self.centers[a * d..(a + 1) * d]).sqrt();
                    if u > bound {
                        (a, u, l) = two_nearest(xi, self.centers_t, &mut scratch);
                    }
                }
                (a, u, l)
            };
            p.labels.push(a as u32);
            p.upper.push(u);
            p.lower.push(l);
            for (s, v) in p.sums[a * d..(a + 1) * d].iter_mut().zip(xi) {
                *s += v;
            }
            p.counts[a] += 1.0;
        }
        p
    }
}

/// Distances (not squared) from `x` to every centre: the nearest, its distance, and the second
/// nearest distance. `scratch` holds k values.
#[inline]
fn two_nearest(x: &[f64], centers_t: &[f64], scratch: &mut [f64]) -> (usize, f64, f64) {
    all_sq_dists(x, centers_t, scratch);
    let (mut a, mut d1, mut d2) = (0usize, f64::INFINITY, f64::INFINITY);
    for (j, &dist) in scratch.iter().enumerate() {
        if dist < d1 {
            d2 = d1;
            d1 = dist;
            a = j;
        } else if dist < d2 {
            d2 = dist;
        }
    }
    (a, d1.sqrt(), d2.sqrt())
}

fn lloyd_hamerly(
    x: &Matrix,
    mut centers: Vec<f64>,
    max_iter: usize,
    tol: f64,
    par: &Parallel,
    monitor: &dyn Monitor,
) -> KMeansFit {
    let (n, d) = (x.rows, x.cols);
    let k = centers.len() / d.max(1);
    let mut labels = vec![0u32; n];
    let mut upper = vec![0.0; n];
    let mut lower = vec![0.0; n];
    // every row measured against every centre to start (and after an empty-cluster relocation)
    let mut full = true;
    let mut iterations = 0;
    let mut converged = false;
    while iterations < max_iter {
        iterations += 1;
        // half the distance from each centre to its nearest other centre
        let half_gap: Vec<f64> = (0..k)
            .map(|j| {
                let cj = &centers[j * d..(j + 1) * d];
                (0..k)
                    .filter(|&o| o != j)
                    .map(|o| sq_dist(cj, &centers[o * d..(o + 1) * d]))
                    .fold(f64::INFINITY, f64::min)
                    .sqrt()
                    / 2.0
            })
            .collect();
        let (lab, up, lo) = (&labels, &upper, &lower);
        let cen = &centers;
        let cen_t = &transpose(&centers, k, d);
        let pass = Pass {
            x,
            centers: cen,
            centers_t: cen_t,
            half_gap: &half_gap,
            labels: lab,
            upper: up,
            lower: lo,
            full,
            k,
        };
        let blocks: Vec<BlockPass> = par.map_blocks(n, monitor, |r: Range<usize>| pass.run(r));
        let mut sums = vec![0.0; k * d];
        let mut counts = vec![0.0; k];
        let mut at = 0;
        for b in &blocks {
            let len = b.labels.len();
            labels[at..at + len].copy_from_slice(&b.labels);
            upper[at..at + len].copy_from_slice(&b.upper);
            lower[at..at + len].copy_from_slice(&b.lower);
            at += len;
            for (s, v) in sums.iter_mut().zip(&b.sums) {
                *s += v;
            }
            for (c, v) in counts.iter_mut().zip(&b.counts) {
                *c += v;
            }
        }
        drop(blocks);
        // new centres; an empty cluster takes the row farthest from its centre
        let old = centers.clone();
        full = false;
        for j in 0..k {
            if counts[j] > 0.0 {
                for t in 0..d {
                    centers[j * d + t] = sums[j * d + t] / counts[j];
                }
            } else {
                let far = (0..n)
                    .max_by(|&a, &b| upper[a].total_cmp(&upper[b]))
                    .unwrap_or(0);
                centers[j * d..(j + 1) * d].copy_from_slice(x.row(far));
                upper[far] = 0.0;
                full = true;
            }
        }
        let moved: Vec<f64> = (0..k)
            .map(|j| sq_dist(&old[j * d..(j + 1) * d], &centers[j * d..(j + 1) * d]).sqrt())
            .collect();
        let shift: f64 = moved.iter().map(|m| m * m).sum();
        // bounds follow the centres: a row's own centre moved at most moved[a] away, any other
        // at most the largest move closer
        let max_move = moved.iter().cloned().fold(0.0, f64::max);
        for i in 0..n {
            upper[i] += moved[labels[i] as usize];
            lower[i] = (lower[i] - max_move).max(0.0);
        }
        if shift <= tol && !full {
            converged = true;
            break;
        }
    }
    // the final labels and inertia under the final centres (scikit-learn's last E-step)
    let cen_t = &transpose(&centers, k, d);
    let finals: Vec<(Vec<u32>, f64)> = par.map_blocks(n, monitor, |r: Range<usize>| {
        let mut labs = Vec::with_capacity(r.len());
        let mut inertia = 0.0;
        let mut dists = vec![0.0; k];
        for i in r {
            all_sq_dists(x.row(i), cen_t, &mut dists);
            let (a, dist) =
                dists.iter().enumerate().fold(
                    (0, f64::INFINITY),
                    |b, (j, &v)| if v < b.1 { (j, v) } else { b },
                );
            labs.push(a as u32);
            inertia += dist;
        }
        (labs, inertia)
    });
    let inertia = finals.iter().map(|(_, s)| s).sum();
    let labels = finals.into_iter().flat_map(|(l, _)| l).collect();
    KMeansFit {
        centers,
        k,
        labels,
        inertia,
        iterations,
        converged,
    }
}

#[cfg(test)]
pub(crate) mod tests_data {
    use crate::ml::linalg::Matrix;

    /// The data set of tests/reference/kmeans_reference.py: 600 rows, three planted blobs.
    pub fn reference_blobs() -> (Matrix, Vec<usize>) {
        let centers = [[0.0, 0.0, 0.0], [4.0, 4.0, 0.0], [0.0, 4.0, 4.0]];
        let mut rows = Vec::new();
        let mut truth = Vec::new();
        for i in 0..600usize {
            let c = centers[i % 3];
            rows.push(
                (0..3)
                    .map(|j| {
                        c[j] + 1.3
                            * (((i + 1) * (j + 2)) as f64 * 0.37).sin()
                            * ((i + 3) as f64 * 0.11 * (j + 1) as f64).cos()
                    })
                    .collect::<Vec<f64>>(),
            );
            truth.push(i % 3);
        }
        (Matrix::from_rows(&rows), truth)
    }

    /// The larger data set of tests/reference/kmeans_reference.py for mini-batch k-means: 50,000
    /// rows, 5 columns, six planted blobs (row i belongs to blob i % 6).
    pub fn reference_big_blobs() -> (Matrix, Vec<usize>) {
        let mut rows = Vec::new();
        let mut truth = Vec::new();
        for i in 0..50_000usize {
            let b = i % 6;
            rows.push(
                (0..5)
                    .map(|j| {
                        let centre =
                            if j == b % 5 { 6.0 } else { 0.0 } + if b == 5 { -6.0 } else { 0.0 };
                        centre
                            + 1.5
                                * (((i + 1) * (j + 2)) as f64 * 0.37).sin()
                                * ((i + 3) as f64 * 0.11 * (j + 1) as f64).cos()
                    })
                    .collect::<Vec<f64>>(),
            );
            truth.push(b);
        }
        (Matrix::from_rows(&rows), truth)
    }
}

#[cfg(test)]
mod tests {
    use super::tests_data::reference_blobs;
    use super::*;
    use crate::ml::distance::nearest;
    use crate::ml::monitor::Silent;

    // scikit-learn 1.2.1, KMeans(n_clusters=k, n_init=10, random_state=0) on reference_blobs
    // (tests/reference/kmeans_reference.py)
    const SK_INERTIA_K3: f64 = 761.0979641141;
    const SK_INERTIA_K5: f64 = 643.9973402275;

    #[test]
    fn inertia_matches_scikit_learn() {
        let (x, _) = reference_blobs();
        for (k, sk) in [(3, SK_INERTIA_K3), (5, SK_INERTIA_K5)] {
            let f = fit(
                &x,
                &KMeansOptions {
                    k,
                    ..Default::default()
                },
                &Parallel::serial(),
                &Silent,
            );
            assert!(f.converged, "k={k}");
            assert!(
                f.inertia <= sk * 1.01,
                "k={k}: inertia {} vs scikit-learn {sk}",
                f.inertia
            );
            // the inertia is the sum of squared distances to the centres of the labels
            let recomputed: f64 = (0..x.rows)
                .map(|i| sq_dist(x.row(i), &f.centers[f.labels[i] as usize * 3..][..3]))
                .sum();
            assert!((recomputed - f.inertia).abs() < 1e-9 * f.inertia);
        }
    }

    #[test]
    fn planted_blobs_are_recovered() {
        let (x, truth) = reference_blobs();
        let f = fit(
            &x,
            &KMeansOptions {
                k: 3,
                ..Default::default()
            },
            &Parallel::serial(),
            &Silent,
        );
        let labels: Vec<usize> = f.labels.iter().map(|&l| l as usize).collect();
        assert!(crate::ml::metrics::adjusted_rand(&labels, &truth) >= 0.999);
    }

    #[test]
    fn hamerly_gives_what_plain_lloyd_gives() {
        let (x, _) = reference_blobs();
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let init = kmeans_plus_plus(&x, 5, &mut rng, &Parallel::serial(), &Silent);
        let fast = lloyd_hamerly(&x, init.clone(), 300, 0.0, &Parallel::serial(), &Silent);
        // plain Lloyd: measure everything every iteration
        let mut centers = init;
        for _ in 0..300 {
            let mut sums = vec![0.0; 15];
            let mut counts = vec![0.0; 5];
            for i in 0..x.rows {
                let (a, _) = nearest(x.row(i), &centers, 3);
                for t in 0..3 {
                    sums[a * 3 + t] += x.row(i)[t];
                }
                counts[a] += 1.0;
            }
            let new: Vec<f64> = (0..15).map(|q| sums[q] / counts[q / 3]).collect();
            if new == centers {
                break;
            }
            centers = new;
        }
        for (a, b) in fast.centers.iter().zip(&centers) {
            assert!((a - b).abs() < 1e-9, "{:?} vs {centers:?}", fast.centers);
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_segments_whatever_the_thread_count() {
        // more rows than one block, so that the blocks really split
        let (base, _) = reference_blobs();
        let rows: Vec<Vec<f64>> = (0..20_000)
            .map(|i| {
                let r = base.row(i % 600);
                vec![r[0] + (i as f64 * 0.001).sin() * 0.1, r[1], r[2]]
            })
            .collect();
        let x = Matrix::from_rows(&rows);
        let opts = KMeansOptions {
            k: 4,
            n_init: 3,
            ..Default::default()
        };
        let a = fit(&x, &opts, &Parallel::serial(), &Silent);
        let b = fit(&x, &opts, &Parallel::new(3), &Silent);
        assert_eq!(a.labels, b.labels);
        assert_eq!(a.centers, b.centers);
        assert_eq!(a.inertia.to_bits(), b.inertia.to_bits());
    }

    // scikit-learn 1.2.1 on reference_big_blobs, k = 6 (tests/reference/kmeans_reference.py):
    // KMeans(n_init=10, random_state=0), and the worst of MiniBatchKMeans(batch_size=1024,
    // n_init=10, random_state=0..2) (140649.87, 140635.74, 140654.10); all with ARI 1
    const SK_BIG_FULL_INERTIA: f64 = 140621.100369;
    const SK_BIG_MINIBATCH_INERTIA: f64 = 140654.102234;

    #[test]
    fn minibatch_matches_scikit_learn() {
        let (x, truth) = super::tests_data::reference_big_blobs();
        for seed in [42, 7] {
            let opts = KMeansOptions {
                k: 6,
                method: Method::MiniBatch,
                seed,
                ..Default::default()
            };
            let f = fit(&x, &opts, &Parallel::serial(), &Silent);
            assert!(
                f.inertia <= SK_BIG_MINIBATCH_INERTIA * 1.001,
                "seed {seed}: inertia {} vs {SK_BIG_MINIBATCH_INERTIA}",
                f.inertia
            );
            assert!(
                f.inertia >= SK_BIG_FULL_INERTIA * 0.999999,
                "below the full optimum: {}",
                f.inertia
            );
            let labels: Vec<usize> = f.labels.iter().map(|&l| l as usize).collect();
            assert!(crate::ml::metrics::adjusted_rand(&labels, &truth) >= 0.999);
            // it stopped on its own, long before max_iter passes over the rows
            assert!(f.iterations < 1000, "{} steps", f.iterations);
            let recomputed: f64 = (0..x.rows)
                .map(|i| sq_dist(x.row(i), &f.centers[f.labels[i] as usize * 5..][..5]))
                .sum();
            assert!((recomputed - f.inertia).abs() < 1e-9 * f.inertia);
        }
        // the full method on the same rows, for the figure the mini-batches approach
        let full = fit(
            &x,
            &KMeansOptions {
                k: 6,
                method: Method::Full,
                ..Default::default()
            },
            &Parallel::serial(),
            &Silent,
        );
        assert!(
            full.inertia <= SK_BIG_FULL_INERTIA * (1.0 + 1e-9),
            "{}",
            full.inertia
        );
    }

    #[test]
    fn minibatch_is_the_same_whatever_the_thread_count() {
        let (x, _) = super::tests_data::reference_big_blobs();
        let opts = KMeansOptions {
            k: 6,
            method: Method::MiniBatch,
            batch_size: 256,
            n_init: 2,
            ..Default::default()
        };
        let a = fit(&x, &opts, &Parallel::serial(), &Silent);
        let b = fit(&x, &opts, &Parallel::new(3), &Silent);
        assert_eq!(a.labels, b.labels);
        assert_eq!(a.centers, b.centers);
    }

    #[test]
    fn auto_switches_to_minibatch_on_large_tables() {
        assert_eq!(Method::Auto.resolve(MINIBATCH_ROWS - 1), Method::Full);
        assert_eq!(Method::Auto.resolve(MINIBATCH_ROWS), Method::MiniBatch);
        assert_eq!(Method::Full.resolve(usize::MAX), Method::Full);
        assert_eq!(Method::MiniBatch.resolve(10), Method::MiniBatch);
    }

    #[test]
    fn minibatch_handles_tiny_and_duplicate_data() {
        // fewer rows than a batch, and k equal to the number of distinct points
        let x = Matrix::from_rows(&[vec![0.0], vec![0.0], vec![10.0], vec![20.0]]);
        let f = fit(
            &x,
            &KMeansOptions {
                k: 3,
                method: Method::MiniBatch,
                n_init: 4,
                ..Default::default()
            },
            &Parallel::serial(),
            &Silent,
        );
        assert!(f.inertia < 1e-12, "{f:?}");
        let x = Matrix::from_rows(&vec![vec![1.0, 2.0]; 50]);
        let f = fit(
            &x,
            &KMeansOptions {
                k: 2,
                method: Method::MiniBatch,
                ..Default::default()
            },
            &Parallel::serial(),
            &Silent,
        );
        assert!(
            f.inertia.abs() < 1e-12 && f.centers.iter().all(|v| v.is_finite()),
            "{f:?}"
        );
    }

    #[test]
    fn an_empty_cluster_is_refilled() {
        // three distinct points, k = 3, and every start on one of them: each centre must end on a point
        let x = Matrix::from_rows(&[vec![0.0], vec![0.0], vec![10.0], vec![20.0]]);
        let f = fit(
            &x,
            &KMeansOptions {
                k: 3,
                n_init: 4,
                ..Default::default()
            },
            &Parallel::serial(),
            &Silent,
        );
        assert!(f.inertia < 1e-12, "{f:?}");
    }
}
