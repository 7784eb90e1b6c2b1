//! Evaluation metrics with scikit-learn's definitions: classification (accuracy, precision,
//! recall, F1, ROC AUC, log loss), regression (RMSE, MAE, R^2), ROC curve points and lift tables,
//! and clustering (silhouette, Davies-Bouldin, Calinski-Harabasz, adjusted Rand index).

use crate::ml::monitor::Monitor;
use crate::ml::parallel::{Parallel, BLOCK_ROWS};
use std::ops::Range;

/// Metrics of a binary classifier from P(positive) scores and true labels.
#[derive(Clone, Debug, PartialEq)]
pub struct BinaryMetrics {
    pub accuracy: f64,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// NaN when only one class is present.
    pub roc_auc: f64,
    pub log_loss: f64,
    pub positive_rate: f64,
    pub n: usize,
}

const EPS: f64 = 1e-15;

pub fn binary(scores: &[f64], labels: &[bool], threshold: f64) -> BinaryMetrics {
    assert_eq!(scores.len(), labels.len());
    let (mut tp, mut fp, mut tn, mut fneg) = (0usize, 0usize, 0usize, 0usize);
    let mut ll = 0.0;
    for (&s, &y) in scores.iter().zip(labels) {
        let pred = s >= threshold;
        match (pred, y) {
            (true, true) => tp += 1,
            (true, false) => fp += 1,
            (false, false) => tn += 1,
            (false, true) => fneg += 1,
        }
        let p = s.clamp(EPS, 1.0 - EPS);
        ll -= if y { p.ln() } else { (1.0 - p).ln() };
    }
    let n = scores.len();
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let precision = ratio(tp, tp + fp);
    let recall = ratio(tp, tp + fneg);
    let f1 = if precision + recall == 0.0 {
        0.0
    } else {
        2.0 * precision * recall / (precision + recall)
    };
    BinaryMetrics {
        accuracy: ratio(tp + tn, n),
        precision,
        recall,
        f1,
        roc_auc: roc_auc(scores, labels),
        log_loss: if n == 0 { f64::NAN } else { ll / n as f64 },
        positive_rate: ratio(tp + fneg, n),
        n,
    }
}

/// Area under the ROC curve by the rank-sum (Mann-Whitney) formula, ties counted half.
pub fn roc_auc(scores: &[f64], labels: &[bool]) -> f64 {
    let n_pos = labels.iter().filter(|&&y| y).count();
    let n_neg = labels.len() - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return f64::NAN;
    }
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut rank_sum_pos = 0.0;
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && scores[idx[j + 1]].total_cmp(&scores[idx[i]]).is_eq() {
            j += 1;
        }
        let avg_rank = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            if labels[k] {
                rank_sum_pos += avg_rank;
            }
        }
        i = j + 1;
    }
    (rank_sum_pos - n_pos as f64 * (n_pos as f64 + 1.0) / 2.0) / (n_pos as f64 * n_neg as f64)
}

/// One point of the ROC curve: rows with score >= threshold are called positive.
#[derive(Clone, Debug, PartialEq)]
pub struct RocPoint {
    pub threshold: f64,
    pub tpr: f64,
    pub fpr: f64,
}

/// The ROC curve at every distinct score (scikit-learn's `roc_curve(drop_intermediate=False)`),
/// starting at (0, 0) with threshold +infinity.
pub fn roc_curve(scores: &[f64], labels: &[bool]) -> Vec<RocPoint> {
    let n_pos = labels.iter().filter(|&&y| y).count() as f64;
    let n_neg = labels.len() as f64 - n_pos;
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let mut out = vec![RocPoint {
        threshold: f64::INFINITY,
        tpr: 0.0,
        fpr: 0.0,
    }];
    let (mut tp, mut fp) = (0.0, 0.0);
    let mut i = 0;
    while i < idx.len() {
        let t = scores[idx[i]];
        // total_cmp, not ==: a NaN never equals itself, and the loop would never move on
        while i < idx.len() && scores[idx[i]].total_cmp(&t).is_eq() {
            if labels[idx[i]] {
                tp += 1.0;
            } else {
                fp += 1.0;
            }
            i += 1;
        }
        out.push(RocPoint {
            threshold: t,
            tpr: if n_pos > 0.0 { tp / n_pos } else { f64::NAN },
            fpr: if n_neg > 0.0 { fp / n_neg } else { f64::NAN },
        });
    }
    out
}

/// One row of a lift (gains) table.
#[derive(Clone, Debug, PartialEq)]
pub struct LiftBin {
    pub bin: usize,
    pub customers: usize,
    pub positives: usize,
    pub rate: f64,
    pub lift: f64,
    pub cumulative_gain: f64,
}

/// Customers sorted by score (best first) cut into `bins` groups of equal size (the first groups
/// one larger when it does not divide, as SQL's ntile); lift = the bin's positive rate over the
/// overall rate; cumulative gain = share of all positives found up to this bin.
pub fn lift_table(scores: &[f64], labels: &[bool], bins: usize) -> Vec<LiftBin> {
    let n = scores.len();
    let bins = bins.max(1).min(n.max(1));
    let mut idx: Vec<usize> = (0..n).collect();
    idx.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    let total_pos = labels.iter().filter(|&&y| y).count();
    let overall = if n == 0 {
        0.0
    } else {
        total_pos as f64 / n as f64
    };
    let (base, extra) = (n / bins, n % bins);
    let mut out = Vec::with_capacity(bins);
    let mut start = 0;
    let mut cum_pos = 0;
    for b in 0..bins {
        let size = base + usize::from(b < extra);
        let pos = idx[start..start + size]
            .iter()
            .filter(|&&i| labels[i])
            .count();
        cum_pos += pos;
        let rate = if size == 0 {
            0.0
        } else {
            pos as f64 / size as f64
        };
        out.push(LiftBin {
            bin: b + 1,
            customers: size,
            positives: pos,
            rate,
            lift: if overall > 0.0 {
                rate / overall
            } else {
                f64::NAN
            },
            cumulative_gain: if total_pos > 0 {
                cum_pos as f64 / total_pos as f64
            } else {
                f64::NAN
            },
        });
        start += size;
    }
    out
}

/// Multiclass metrics from per-class probabilities (row-major n x k) and true class indices:
/// accuracy, macro-averaged precision/recall/F1, log loss and one-vs-rest macro ROC AUC.
#[derive(Clone, Debug)]
pub struct MulticlassMetrics {
    pub accuracy: f64,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub roc_auc: f64,
    pub log_loss: f64,
    pub n: usize,
}

pub fn multiclass(proba: &[f64], k: usize, labels: &[usize]) -> MulticlassMetrics {
    let n = labels.len();
    assert_eq!(proba.len(), n * k);
    let mut confusion = vec![0usize; k * k]; // [true][pred]
    let mut ll = 0.0;
    for i in 0..n {
        let row = &proba[i * k..(i + 1) * k];
        let pred = argmax(row);
        confusion[labels[i] * k + pred] += 1;
        ll -= row[labels[i]].clamp(EPS, 1.0).ln();
    }
    let correct: usize = (0..k).map(|c| confusion[c * k + c]).sum();
    let (mut p_sum, mut r_sum, mut f_sum, mut auc_sum, mut auc_n) = (0.0, 0.0, 0.0, 0.0, 0);
    for c in 0..k {
        let tp = confusion[c * k + c] as f64;
        let predicted: usize = (0..k).map(|t| confusion[t * k + c]).sum();
        let actual: usize = (0..k).map(|p| confusion[c * k + p]).sum();
        let p = if predicted == 0 {
            0.0
        } else {
            tp / predicted as f64
        };
        let r = if actual == 0 { 0.0 } else { tp / actual as f64 };
        p_sum += p;
        r_sum += r;
        f_sum += if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        };
        let scores: Vec<f64> = (0..n).map(|i| proba[i * k + c]).collect();
        let is_c: Vec<bool> = labels.iter().map(|&l| l == c).collect();
        let auc = roc_auc(&scores, &is_c);
        if auc.is_finite() {
            auc_sum += auc;
            auc_n += 1;
        }
    }
    MulticlassMetrics {
        accuracy: if n == 0 {
            f64::NAN
        } else {
            correct as f64 / n as f64
        },
        precision: p_sum / k as f64,
        recall: r_sum / k as f64,
        f1: f_sum / k as f64,
        roc_auc: if auc_n == 0 {
            f64::NAN
        } else {
            auc_sum / auc_n as f64
        },
        log_loss: if n == 0 { f64::NAN } else { ll / n as f64 },
        n,
    }
}

pub fn argmax(v: &[f64]) -> usize {
    let mut best = 0;
    for (i, x) in v.iter().enumerate() {
        if *x > v[best] {
            best = i;
        }
    }
    best
}

#[derive(Clone, Debug)]
pub struct RegressionMetrics {
    pub rmse: f64,
    pub mae: f64,
    pub r2: f64,
    pub n: usize,
}

pub fn regression(pred: &[f64], truth: &[f64]) -> RegressionMetrics {
    let n = truth.len();
    let mean = truth.iter().sum::<f64>() / n.max(1) as f64;
    let (mut se, mut ae, mut tss) = (0.0, 0.0, 0.0);
    for (p, t) in pred.iter().zip(truth) {
        se += (p - t) * (p - t);
        ae += (p - t).abs();
        tss += (t - mean) * (t - mean);
    }
    RegressionMetrics {
        rmse: (se / n.max(1) as f64).sqrt(),
        mae: ae / n.max(1) as f64,
        r2: if tss > 0.0 { 1.0 - se / tss } else { f64::NAN },
        n,
    }
}

/// Adjusted Rand index of two labellings of the same rows (1: the same partition up to the
/// names of the parts; about 0: chance agreement), as scikit-learn's adjusted_rand_score.
pub fn adjusted_rand(a: &[usize], b: &[usize]) -> f64 {
    use std::collections::HashMap;
    let n = a.len() as f64;
    let pairs = |c: f64| c * (c - 1.0) / 2.0;
    let mut table: HashMap<(usize, usize), f64> = HashMap::new();
    let mut rows: HashMap<usize, f64> = HashMap::new();
    let mut cols: HashMap<usize, f64> = HashMap::new();
    for (&x, &y) in a.iter().zip(b) {
        *table.entry((x, y)).or_default() += 1.0;
        *rows.entry(x).or_default() += 1.0;
        *cols.entry(y).or_default() += 1.0;
    }
    let index: f64 = table.values().map(|&c| pairs(c)).sum();
    let sum_rows: f64 = rows.values().map(|&c| pairs(c)).sum();
    let sum_cols: f64 = cols.values().map(|&c| pairs(c)).sum();
    let expected = sum_rows * sum_cols / pairs(n);
    let max = (sum_rows + sum_cols) / 2.0;
    if max == expected {
        return 1.0; // both labellings put everything in one part (or each row alone)
    }
    (index - expected) / (max - expected)
}

/// Mean silhouette of the rows (b - a) / max(a, b), a the mean distance to the row's own segment,
/// b to the nearest other; rows alone in their segment count 0, as scikit-learn's
/// silhouette_score. O(n^2): callers pass a sample of large tables.
pub fn silhouette(
    x: &crate::ml::linalg::Matrix,
    labels: &[usize],
    k: usize,
    par: &Parallel,
    monitor: &dyn Monitor,
) -> f64 {
    let n = x.rows;
    if n == 0 || x.cols == 0 {
        return f64::NAN;
    }
    let mut size = vec![0usize; k];
    labels.iter().for_each(|&l| size[l] += 1);
    let pass = SilhouettePass {
        x,
        labels,
        size: &size,
        tiles: tiles(x),
    };
    // Each row costs n x d: the rows go in rounds of about SILHOUETTE_WORK multiply-adds a
    // thread, with the monitor asked between rounds (10,000 rows of 800 inputs are 80 G
    // multiply-adds: asked once per 131,072 rows, a cancel waited for all of them). Each row's
    // silhouette is kept and summed in blocks of BLOCK_ROWS rows, then the blocks in order: the
    // same value whatever the round size or the thread count.
    let per_row = (n as u64).saturating_mul(x.cols as u64).max(1);
    let chunk = ((SILHOUETTE_WORK / per_row) as usize).clamp(1, BLOCK_ROWS);
    let chunks: Vec<Range<usize>> = (0..n.div_ceil(chunk))
        .map(|c| c * chunk..((c + 1) * chunk).min(n))
        .collect();
    let mut each = Vec::with_capacity(n);
    for round in chunks.chunks(par.threads()) {
        monitor.checkpoint();
        for part in par.map(round, |r: &Range<usize>| pass.run(r.clone())) {
            each.extend(part);
        }
    }
    let total: f64 = each
        .chunks(BLOCK_ROWS)
        .map(|b| b.iter().fold(0.0, |t, v| t + v))
        .sum();
    total / n as f64
}

/// Multiply-adds of a silhouette round per thread between two monitor checks (~10 ms).
const SILHOUETTE_WORK: u64 = 1 << 24;

/// Rows per tile of the silhouette's transposed copy of the rows.
const TILE: usize = 8;

/// The rows in tiles of TILE, each transposed (d x TILE; the last tile padded with its last row),
/// so that one row's distances to a tile's rows come from distance::group_sq_dists.
fn tiles(x: &crate::ml::linalg::Matrix) -> Vec<f64> {
    let d = x.cols;
    let mut t = vec![0.0; x.rows.div_ceil(TILE) * TILE * d];
    for (tile, out) in t.chunks_exact_mut(TILE * d).enumerate() {
        for l in 0..TILE {
            let row = x.row((tile * TILE + l).min(x.rows - 1));
            for f in 0..d {
                out[f * TILE + l] = row[f];
            }
        }
    }
    t
}

/// The silhouette's quadratic part: for a block of rows, the sum of their silhouettes.
struct SilhouettePass<'a> {
    x: &'a crate::ml::linalg::Matrix,
    labels: &'a [usize],
    size: &'a [usize],
    tiles: Vec<f64>,
}

impl SilhouettePass<'_> {
    /// Each row's silhouette (0 for a row alone in its segment or without another segment).
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
        let (n, d, labels, size) = (self.x.rows, self.x.cols, self.labels, self.size);
        let k = size.len();
        let mut dist = vec![0.0; k];
        let mut out = Vec::with_capacity(rows.len());
        for i in rows {
            out.push(0.0);
            dist.iter_mut().for_each(|v| *v = 0.0);
            let xi = self.x.row(i);
            for (tile, t) in self.tiles.chunks_exact(TILE * d).enumerate() {
                let mut sq = crate::ml::distance::group_sq_dists::<TILE>(xi, t, TILE, 0);
                sq.iter_mut().for_each(|v| *v = v.sqrt());
                // the row itself adds its distance 0 to its own segment; padding lanes are skipped
                for (l, v) in sq.iter().enumerate().take(n - tile * TILE) {
                    dist[labels[tile * TILE + l]] += v;
                }
            }
            let own = labels[i];
            if size[own] <= 1 {
                continue;
            }
            let a = dist[own] / (size[own] - 1) as f64;
            let b = (0..k)
                .filter(|&c| c != own && size[c] > 0)
                .map(|c| dist[c] / size[c] as f64)
                .fold(f64::INFINITY, f64::min);
            if b.is_finite() {
                *out.last_mut().expect("pushed") = (b - a) / a.max(b);
            }
        }
        out
    }
}

/// Davies-Bouldin index (lower is better): the mean over segments of the worst ratio of summed
/// within-segment scatter to centre distance, as scikit-learn's davies_bouldin_score.
pub fn davies_bouldin(
    x: &crate::ml::linalg::Matrix,
    labels: &[usize],
    centers: &[f64],
    k: usize,
) -> f64 {
    let d = x.cols;
    let dist = |a: &[f64], b: &[f64]| crate::ml::distance::sq_dist(a, b).sqrt();
    let mut scatter = vec![0.0; k];
    let mut size = vec![0.0; k];
    for (i, &l) in labels.iter().enumerate() {
        scatter[l] += dist(x.row(i), &centers[l * d..(l + 1) * d]);
        size[l] += 1.0;
    }
    let s: Vec<f64> = scatter
        .iter()
        .zip(&size)
        .map(|(a, n)| if *n > 0.0 { a / n } else { 0.0 })
        .collect();
    let worst: Vec<f64> = (0..k)
        .map(|i| {
            (0..k)
                .filter(|&j| j != i)
                .map(|j| {
                    (s[i] + s[j]) / dist(&centers[i * d..(i + 1) * d], &centers[j * d..(j + 1) * d])
                })
                .fold(0.0, f64::max)
        })
        .collect();
    worst.iter().sum::<f64>() / k as f64
}

/// Calinski-Harabasz index (higher is better): between-segment over within-segment dispersion,
/// each divided by its degrees of freedom, as scikit-learn's calinski_harabasz_score.
pub fn calinski_harabasz(
    x: &crate::ml::linalg::Matrix,
    labels: &[usize],
    centers: &[f64],
    k: usize,
) -> f64 {
    let (n, d) = (x.rows, x.cols);
    let sq = crate::ml::distance::sq_dist;
    let mut mean = vec![0.0; d];
    for i in 0..n {
        mean.iter_mut()
            .zip(x.row(i))
            .for_each(|(m, v)| *m += v / n as f64);
    }
    let mut size = vec![0.0; k];
    let mut within = 0.0;
    for (i, &l) in labels.iter().enumerate() {
        size[l] += 1.0;
        within += sq(x.row(i), &centers[l * d..(l + 1) * d]);
    }
    let between: f64 = (0..k)
        .map(|j| size[j] * sq(&centers[j * d..(j + 1) * d], &mean))
        .sum();
    if within == 0.0 || k < 2 {
        return 1.0;
    }
    between * (n - k) as f64 / (within * (k - 1) as f64)
}

/// JSON has no NaN: an undefined metric (e.g. the AUC of a one-class split) becomes null.
pub fn finite(x: f64) -> serde_json::Value {
    if x.is_finite() {
        serde_json::json!(x)
    } else {
        serde_json::Value::Null
    }
}

impl BinaryMetrics {
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "accuracy": finite(self.accuracy), "precision": finite(self.precision), "recall": finite(self.recall),
            "f1": finite(self.f1), "roc_auc": finite(self.roc_auc), "log_loss": finite(self.log_loss),
            "positive_rate": finite(self.positive_rate), "n_test": self.n,
        })
    }
}

impl MulticlassMetrics {
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "accuracy": finite(self.accuracy), "precision": finite(self.precision), "recall": finite(self.recall),
            "f1": finite(self.f1), "roc_auc": finite(self.roc_auc), "log_loss": finite(self.log_loss), "n_test": self.n,
        })
    }
}

impl RegressionMetrics {
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({ "rmse": finite(self.rmse), "mae": finite(self.mae), "r2": finite(self.r2), "n_test": self.n })
    }
}

#[cfg(test)]
mod tests {
    /// The silhouette is quadratic in rows: it asks the monitor every ~16 M multiply-adds a
    /// thread (the review's 10,000 rows x 800 inputs asked once in 80 G and ignored a cancel for
    /// minutes), and a cancel stops it there. The value does not depend on how the rows are cut.
    #[test]
    fn the_silhouette_answers_cancel_within_a_few_million_multiply_adds() {
        use crate::ml::monitor::Counting;
        let (n, d) = (2000, 200);
        let x = crate::ml::linalg::Matrix::from_rows(
            &(0..n)
                .map(|i| (0..d).map(|j| ((i * 7 + j * 13) % 29) as f64 + (i % 3) as f64 * 10.0).collect())
                .collect::<Vec<Vec<f64>>>(),
        );
        let labels: Vec<usize> = (0..n).map(|i| i % 3).collect();
        let serial = crate::ml::parallel::Parallel::serial();
        let count = Counting::new(None);
        let s = super::silhouette(&x, &labels, 3, &serial, &count);
        // 2000 x 2000 x 200 = 800 M multiply-adds: one check per 16 M at least
        let work = (n * n * d) as u64;
        assert!(count.checks() as u64 >= work / super::SILHOUETTE_WORK, "{}", count.checks());
        // the same value on a team of threads (other rounds, the same sums)
        let team = crate::ml::parallel::Parallel::new(3);
        assert_eq!(s.to_bits(), super::silhouette(&x, &labels, 3, &team, &crate::ml::monitor::Silent).to_bits());
        // a cancel at the third check stops the pass there
        let stop = Counting::new(Some(3));
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            super::silhouette(&x, &labels, 3, &serial, &stop)
        }));
        assert!(r.is_err());
        assert_eq!(stop.checks(), 3);
    }

    #[test]
    fn clustering_metrics_match_scikit_learn() {
        // tests/reference/kmeans_reference.py, scikit-learn 1.2.1, on the planted labelling of
        // the reference blobs (centres: the segment means)
        let (x, truth) = crate::ml::algorithms::kmeans::tests_data::reference_blobs();
        let mut centers = vec![0.0; 9];
        for (i, &l) in truth.iter().enumerate() {
            for t in 0..3 {
                centers[l * 3 + t] += x.row(i)[t] / 200.0;
            }
        }
        assert!(
            (super::silhouette(
                &x,
                &truth,
                3,
                &crate::ml::parallel::Parallel::serial(),
                &crate::ml::monitor::Silent
            ) - 0.7283101628)
                .abs()
                < 1e-9
        );
        assert!((super::davies_bouldin(&x, &truth, &centers, 3) - 0.3724593255).abs() < 1e-9);
        assert!((super::calinski_harabasz(&x, &truth, &centers, 3) - 2509.1504096443).abs() < 1e-6);
        assert!(
            (super::adjusted_rand(&[0, 0, 1, 1, 2, 2], &[1, 1, 0, 0, 2, 2]) - 1.0).abs() < 1e-12
        );
        assert!(
            (super::adjusted_rand(&[0, 0, 1, 1, 2, 2], &[0, 1, 0, 1, 2, 2]) - 0.1666666667).abs()
                < 1e-9
        );
    }

    #[test]
    fn curves_end_on_scores_that_are_not_numbers() {
        // a NaN score made roc_curve loop forever, pushing points until memory ran out
        let scores = [0.2, f64::NAN, 0.7, f64::NAN, 0.9];
        let labels = [false, true, true, false, true];
        let pts = super::roc_curve(&scores, &labels);
        assert!(pts.len() <= scores.len() + 1);
        assert_eq!(pts.last().map(|p| (p.tpr, p.fpr)), Some((1.0, 1.0)));
        assert!(super::roc_auc(&scores, &labels).is_finite());
        assert_eq!(
            super::lift_table(&scores, &labels, 2)
                .iter()
                .map(|b| b.customers)
                .sum::<usize>(),
            5
        );
    }

    use super::*;

    // Reference values: scikit-learn 1.2.1 on the same vectors
    //   y = [0,0,1,1,0,1,0,1,1,0]; s = [.1,.4,.35,.8,.2,.9,.65,.3,.7,.5]
    //   roc_auc_score(y, s) = 0.76; log_loss(y, s) = 0.55212729...; at 0.5: accuracy 0.6,
    //   precision 0.6, recall 0.6, f1 0.6
    fn data() -> (Vec<f64>, Vec<bool>) {
        let y = [0, 0, 1, 1, 0, 1, 0, 1, 1, 0]
            .iter()
            .map(|&v| v == 1)
            .collect();
        (vec![0.1, 0.4, 0.35, 0.8, 0.2, 0.9, 0.65, 0.3, 0.7, 0.5], y)
    }

    #[test]
    fn binary_metrics_match_scikit_learn() {
        let (s, y) = data();
        let m = binary(&s, &y, 0.5);
        assert!((m.roc_auc - 0.76).abs() < 1e-12, "{m:?}");
        assert!((m.accuracy - 0.6).abs() < 1e-12);
        assert!((m.precision - 0.6).abs() < 1e-12);
        assert!((m.recall - 0.6).abs() < 1e-12);
        assert!((m.f1 - 0.6).abs() < 1e-12);
        let expected_ll = -([0.9f64, 0.6, 0.35, 0.8, 0.8, 0.9, 0.35, 0.3, 0.7, 0.5]
            .iter()
            .map(|p| p.ln())
            .sum::<f64>())
            / 10.0;
        assert!((m.log_loss - expected_ll).abs() < 1e-12);
    }

    #[test]
    fn auc_counts_ties_half() {
        let s = [0.5, 0.5, 0.5, 0.5];
        let y = [true, false, true, false];
        assert_eq!(roc_auc(&s, &y), 0.5);
        assert!(roc_auc(&s, &[true; 4]).is_nan());
    }

    #[test]
    fn roc_curve_ends_at_one_one() {
        let (s, y) = data();
        let c = roc_curve(&s, &y);
        assert_eq!(c.len(), 11);
        assert_eq!((c[0].tpr, c[0].fpr), (0.0, 0.0));
        let last = c.last().unwrap();
        assert_eq!((last.tpr, last.fpr), (1.0, 1.0));
        // trapezoid area equals the rank AUC
        let area: f64 = c
            .windows(2)
            .map(|w| (w[1].fpr - w[0].fpr) * (w[1].tpr + w[0].tpr) / 2.0)
            .sum();
        assert!((area - 0.76).abs() < 1e-12);
    }

    #[test]
    fn lift_table_sums_up() {
        let (s, y) = data();
        let t = lift_table(&s, &y, 3);
        assert_eq!(
            t.iter().map(|b| b.customers).collect::<Vec<_>>(),
            vec![4, 3, 3]
        );
        assert_eq!(t.iter().map(|b| b.positives).sum::<usize>(), 5);
        // top 4 scores .9 .8 .7 .65 -> 3 positives: rate .75, lift 1.5
        assert_eq!(t[0].positives, 3);
        assert!((t[0].lift - 1.5).abs() < 1e-12);
        assert!((t[2].cumulative_gain - 1.0).abs() < 1e-12);
    }

    #[test]
    fn regression_metrics() {
        let m = regression(&[1.0, 2.0, 3.0], &[1.0, 2.0, 5.0]);
        assert!((m.rmse - (4.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert!((m.mae - 2.0 / 3.0).abs() < 1e-12);
        // tss = (1-8/3)^2+(2-8/3)^2+(5-8/3)^2 = 8.6667; r2 = 1 - 4/8.6667
        assert!((m.r2 - (1.0 - 4.0 / (26.0 / 3.0))).abs() < 1e-12);
    }

    #[test]
    fn multiclass_perfect_predictions() {
        let proba = [0.8, 0.1, 0.1, 0.1, 0.8, 0.1, 0.1, 0.1, 0.8];
        let m = multiclass(&proba, 3, &[0, 1, 2]);
        assert_eq!(m.accuracy, 1.0);
        assert_eq!(m.f1, 1.0);
        assert_eq!(m.roc_auc, 1.0);
    }
}
