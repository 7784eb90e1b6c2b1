//! Mini-batch k-means for tables too large for full Lloyd passes to pay off, as scikit-learn's
//! MiniBatchKMeans: the start is the best of `n_init` k-means++ runs on a seeded sample of the
//! rows; then each step draws `batch_size` rows, assigns them, and moves every centre towards the
//! mean of its rows with a weight that falls as the centre gathers rows (a running mean); centres
//! that gather almost nothing are moved to rows of the batch; it stops when the smoothed batch
//! inertia has not improved for 10 steps, or after `max_iter` passes over the rows. One last full
//! pass (parallel) gives every row its segment and the exact inertia.
//!
//! The steps run on the calling thread from one seeded stream, so the result does not depend on
//! the thread count; the monitor's checkpoint runs every step.

use super::{kmeans_plus_plus, BlockPass, KMeansFit, KMeansOptions, Pass};
use crate::ml::distance::{all_sq_dists, transpose};
use crate::ml::linalg::Matrix;
use crate::ml::monitor::Monitor;
use crate::ml::parallel::Parallel;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::ops::Range;

/// Steps without a lower smoothed batch inertia before stopping (scikit-learn's
/// max_no_improvement).
const PATIENCE: usize = 10;
/// A centre with less than this share of the most-used centre's weight is moved to a batch row.
const REASSIGNMENT_RATIO: f64 = 0.01;

pub fn fit(x: &Matrix, opts: &KMeansOptions, par: &Parallel, monitor: &dyn Monitor) -> KMeansFit {
    let (n, d, k) = (x.rows, x.cols, opts.k);
    let batch = opts.batch_size.clamp(1, n);
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    rng.set_stream(u64::MAX);
    // the start: the best k-means++ run on a sample, judged on that sample
    let init_rows = super::seeded_sample(n, (3 * batch).max(10 * k).min(n), opts.seed);
    let sample = x.select_rows(&init_rows);
    let mut centers = Vec::new();
    let mut best_inertia = f64::INFINITY;
    for run in 0..opts.n_init.max(1) {
        let mut r = ChaCha8Rng::seed_from_u64(opts.seed);
        r.set_stream(run as u64);
        let c = kmeans_plus_plus(&sample, k, &mut r, &Parallel::serial(), monitor);
        let inertia = inertia_of(&sample, &c, k);
        if inertia < best_inertia {
            best_inertia = inertia;
            centers = c;
        }
    }
    let mut weight = vec![0.0f64; k];
    let mut centers_t = transpose(&centers, k, d);
    let mut dists = vec![0.0; k];
    let mut sums = vec![0.0; k * d];
    let mut counts = vec![0.0f64; k];
    let mut batch_rows = vec![0usize; batch];
    let alpha = (2.0 * batch as f64 / (n as f64 + 1.0)).min(1.0);
    let (mut ewa, mut best_ewa, mut since_best) = (f64::NAN, f64::INFINITY, 0usize);
    let max_steps = (opts.max_iter.saturating_mul(n) / batch).max(1);
    let mut steps = 0;
    let mut converged = false;
    while steps < max_steps {
        steps += 1;
        monitor.checkpoint();
        batch_rows.iter_mut().for_each(|r| *r = rng.gen_range(0..n));
        sums.iter_mut().for_each(|v| *v = 0.0);
        counts.iter_mut().for_each(|v| *v = 0.0);
        let mut batch_inertia = 0.0;
        for (b, &i) in batch_rows.iter().enumerate() {
            // the rows are drawn at random: ask for the row eight ahead now, or every row waits
            // on memory (2.5 cache lines each)
            if let Some(&ahead) = batch_rows.get(b + PREFETCH_AHEAD) {
                prefetch(x.row(ahead));
            }
            let xi = x.row(i);
            all_sq_dists(xi, &centers_t, &mut dists);
            let (a, dist) =
                dists.iter().enumerate().fold(
                    (0, f64::INFINITY),
                    |b, (j, &v)| if v < b.1 { (j, v) } else { b },
                );
            batch_inertia += dist;
            counts[a] += 1.0;
            for (s, v) in sums[a * d..(a + 1) * d].iter_mut().zip(xi) {
                *s += v;
            }
        }
        // running means: a centre moves towards its batch rows by their share of its weight
        for j in 0..k {
            if counts[j] > 0.0 {
                let total = weight[j] + counts[j];
                for t in 0..d {
                    centers[j * d + t] = (centers[j * d + t] * weight[j] + sums[j * d + t]) / total;
                }
                weight[j] = total;
            }
        }
        // starved centres start again at rows of this batch
        if steps % 10 == 0 {
            let most = weight.iter().cloned().fold(0.0, f64::max);
            for j in 0..k {
                if weight[j] < REASSIGNMENT_RATIO * most {
                    let row = batch_rows[rng.gen_range(0..batch)];
                    centers[j * d..(j + 1) * d].copy_from_slice(x.row(row));
                    weight[j] = weight
                        .iter()
                        .cloned()
                        .filter(|w| *w > 0.0)
                        .fold(f64::INFINITY, f64::min)
                        .min(most);
                }
            }
        }
        centers_t = transpose(&centers, k, d);
        let mean = batch_inertia / batch as f64;
        ewa = if ewa.is_nan() {
            mean
        } else {
            ewa * (1.0 - alpha) + mean * alpha
        };
        if ewa < best_ewa {
            best_ewa = ewa;
            since_best = 0;
        } else {
            since_best += 1;
            if since_best >= PATIENCE {
                converged = true;
                break;
            }
        }
        if monitor.wants_progress() && steps % 100 == 0 {
            monitor.progress(&format!(
                "kmeans mini-batch step {steps}: smoothed batch inertia per row {ewa:.6}"
            ));
        }
    }
    let (labels, inertia) = label_all(x, &centers, k, par, monitor);
    KMeansFit {
        centers,
        k,
        labels,
        inertia,
        iterations: steps,
        converged,
    }
}

/// How many rows of a batch ahead a row is prefetched.
const PREFETCH_AHEAD: usize = 8;

/// Asks the CPU to bring `row` into the cache (a hint: no effect on results).
#[inline(always)]
fn prefetch(row: &[f64]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        for line in row.chunks(8) {
            // SAFETY: a prefetch reads nothing and cannot fault; the pointer is into `row`
            unsafe { _mm_prefetch::<_MM_HINT_T0>(line.as_ptr().cast()) };
        }
    }
}

/// Sum of squared distances of the rows of `x` to their nearest centre.
fn inertia_of(x: &Matrix, centers: &[f64], k: usize) -> f64 {
    let centers_t = transpose(centers, k, x.cols);
    let mut dists = vec![0.0; k];
    (0..x.rows)
        .map(|i| {
            all_sq_dists(x.row(i), &centers_t, &mut dists);
            dists.iter().cloned().fold(f64::INFINITY, f64::min)
        })
        .sum()
}

/// Every row's segment and the exact inertia, in one parallel pass.
fn label_all(
    x: &Matrix,
    centers: &[f64],
    k: usize,
    par: &Parallel,
    monitor: &dyn Monitor,
) -> (Vec<u32>, f64) {
    let d = x.cols;
    let centers_t = transpose(centers, k, d);
    let half_gap = vec![0.0; k];
    let none: (Vec<u32>, Vec<f64>) = (Vec::new(), Vec::new());
    let pass = Pass {
        x,
        centers,
        centers_t: &centers_t,
        half_gap: &half_gap,
        labels: &none.0,
        upper: &none.1,
        lower: &none.1,
        full: true,
        k,
    };
    let blocks: Vec<BlockPass> = par.map_blocks(x.rows, monitor, |r: Range<usize>| pass.run(r));
    let mut labels = Vec::with_capacity(x.rows);
    let mut inertia = 0.0;
    for b in blocks {
        inertia += b.upper.iter().map(|u| u * u).sum::<f64>();
        labels.extend(b.labels);
    }
    (labels, inertia)
}
