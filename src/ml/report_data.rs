//! The numbers behind a model report's charts (insight.report), kept small enough to store with
//! every model version: computed at training from the test split (or, for models without one,
//! from the training rows) and again from any relation a report is asked for.
//!
//! Everything here is a summary: curves thinned to a few hundred points, histograms, at most
//! `SAMPLE_POINTS` (predicted, actual) pairs or projected points. No row carries an input value
//! or a key, so a stored summary holds no customer's data (a 2-D projection mixes every input).

use super::linalg::Matrix;
use super::metrics;
use rand::seq::index::sample;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Points kept of a scatter (predicted vs actual, the segment map).
pub const SAMPLE_POINTS: usize = 1_000;
/// Bins of score, residual and value histograms.
pub const HISTOGRAM_BINS: usize = 20;
/// Curves (ROC, precision-recall, gains) keep a point when it moved this far from the last one.
const CURVE_STEP: f64 = 0.004;

/// Counts over equal-width bins from `lo` to `hi` (the last bin holds `hi`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Histogram {
    pub lo: f64,
    pub hi: f64,
    /// One count vector per group (class, or one for all rows), each `HISTOGRAM_BINS` long.
    pub counts: Vec<Vec<u64>>,
}

impl Histogram {
    /// A histogram of each group of values over their common finite range.
    pub fn of(groups: &[&[f64]], range: Option<(f64, f64)>) -> Histogram {
        let (lo, hi) = range.unwrap_or_else(|| {
            let finite_values = groups.iter().flat_map(|g| g.iter()).filter(|v| v.is_finite());
            let (lo, hi) = finite_values.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &v| {
                (l.min(v), h.max(v))
            });
            if lo > hi {
                (0.0, 1.0)
            } else if lo == hi {
                (lo - 0.5, hi + 0.5)
            } else {
                (lo, hi)
            }
        });
        let width = (hi - lo) / HISTOGRAM_BINS as f64;
        let counts = groups
            .iter()
            .map(|g| {
                let mut c = vec![0u64; HISTOGRAM_BINS];
                for &v in g.iter().filter(|v| v.is_finite()) {
                    let b = ((v - lo) / width).floor();
                    c[(b.max(0.0) as usize).min(HISTOGRAM_BINS - 1)] += 1;
                }
                c
            })
            .collect();
        Histogram { lo, hi, counts }
    }
}

/// One bin of a lift chart: customers ranked by score, cut into equal groups.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct LiftRow {
    pub bin: usize,
    pub rate: f64,
    pub lift: f64,
    pub cumulative_gain: f64,
}

/// One bin of a calibration (reliability) curve: rows grouped by predicted probability.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct CalibrationBin {
    pub predicted: f64,
    pub observed: f64,
    pub rows: u64,
}

/// A binary classifier's curves on labelled rows.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct BinaryCurves {
    pub rows: u64,
    pub positives: u64,
    pub roc_auc: f64,
    /// (false positive rate, true positive rate), from (0, 0) to (1, 1).
    pub roc: Vec<[f64; 2]>,
    /// (recall, precision), by falling threshold.
    pub precision_recall: Vec<[f64; 2]>,
    /// (share of customers contacted, share of positives found), best scores first.
    pub gains: Vec<[f64; 2]>,
    pub lift: Vec<LiftRow>,
    pub calibration: Vec<CalibrationBin>,
    /// Scores of the negative class (counts[0]) and of the positive class (counts[1]), over [0, 1].
    pub scores: Histogram,
    pub threshold: f64,
    /// [[true negatives, false positives], [false negatives, true positives]] at the threshold.
    pub confusion: [[u64; 2]; 2],
}

/// A multiclass classifier's confusion matrix (rows: true class, columns: predicted).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct MulticlassCurves {
    pub classes: Vec<String>,
    pub confusion: Vec<Vec<u64>>,
}

/// A regression model's predictions against the truth.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct RegressionCurves {
    pub rows: u64,
    /// (predicted, actual) of at most SAMPLE_POINTS rows spread evenly over the rows.
    pub sample: Vec<[f64; 2]>,
    /// actual - predicted over every row.
    pub residuals: Histogram,
}

/// A segmentation drawn on the plane of the two principal components of the encoded inputs.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct SegmentMap {
    pub rows: u64,
    /// (component 1, component 2) of a seeded sample of at most SAMPLE_POINTS rows.
    pub points: Vec<[f32; 2]>,
    /// The 1-based segment of each point.
    pub segments: Vec<u16>,
    /// Share of the sample's variance along each component.
    pub explained: [f64; 2],
}

/// Ranking quality of a recommender at several list lengths.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct RankingPoint {
    pub k: usize,
    pub precision: f64,
    pub recall: f64,
    pub coverage: f64,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct RankingCurves {
    pub customers: u64,
    pub model: Vec<RankingPoint>,
    /// The same for recommending the most popular items to everyone.
    pub popularity: Vec<RankingPoint>,
}

impl RankingCurves {
    /// From ranking metrics at several k of the model and of the popularity baseline.
    pub fn of(
        model: &[super::recommend::metrics::RankingMetrics],
        popularity: &[super::recommend::metrics::RankingMetrics],
    ) -> RankingCurves {
        let points = |m: &[super::recommend::metrics::RankingMetrics]| {
            m.iter()
                .map(|r| RankingPoint {
                    k: r.k,
                    precision: r.precision_at_k,
                    recall: r.recall_at_k,
                    coverage: r.coverage,
                })
                .collect()
        };
        RankingCurves {
            customers: model.first().map_or(0, |r| r.customers as u64),
            model: points(model),
            popularity: points(popularity),
        }
    }
}

/// A lifetime-value model's view of its customers.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ValueDistributions {
    pub customers: u64,
    /// The horizon (in the model's time unit) of `expected` and of the deciles.
    pub horizon: f64,
    pub unit: String,
    /// Expected purchases in the horizon (transaction models), one group.
    pub expected: Option<Histogram>,
    /// P(alive) (transaction models), one group, over [0, 1].
    pub p_alive: Option<Histogram>,
    /// Customers ranked by the model's value (expected purchases, or expected spend per order)
    /// cut into ten groups: the mean per group, highest first.
    pub deciles: Vec<f64>,
    /// What `deciles` measure.
    pub decile_measure: String,
}

/// The numbers behind one model's charts.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ReportData {
    Binary(BinaryCurves),
    Multiclass(MulticlassCurves),
    Regression(RegressionCurves),
    Segments(SegmentMap),
    Ranking(RankingCurves),
    Value(ValueDistributions),
}

impl ReportData {
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// Whether every list is of a size this module makes (a row written by hand or imported
    /// could hold millions of points, which a report would then draw).
    pub fn bounded(&self) -> bool {
        const MAX: usize = 4 * SAMPLE_POINTS;
        let hist = |h: &Histogram| h.counts.len() <= 16 && h.counts.iter().all(|c| c.len() <= 4 * HISTOGRAM_BINS);
        match self {
            ReportData::Binary(c) => {
                c.roc.len() <= MAX
                    && c.precision_recall.len() <= MAX
                    && c.gains.len() <= MAX
                    && c.lift.len() <= 100
                    && c.calibration.len() <= 100
                    && hist(&c.scores)
                    && c.scores.counts.len() == 2
            }
            ReportData::Multiclass(c) => {
                c.classes.len() <= 100 && c.confusion.len() == c.classes.len() && c.confusion.iter().all(|r| r.len() == c.classes.len())
            }
            ReportData::Regression(c) => c.sample.len() <= MAX && hist(&c.residuals) && c.residuals.counts.len() == 1,
            ReportData::Segments(m) => m.points.len() <= MAX && m.points.len() == m.segments.len() && m.segments.iter().all(|&s| s <= 1000),
            ReportData::Ranking(c) => c.model.len() <= 100 && c.popularity.len() <= 100,
            ReportData::Value(v) => {
                v.deciles.len() <= 100
                    && v.expected.as_ref().is_none_or(|h| hist(h) && h.counts.len() == 1)
                    && v.p_alive.as_ref().is_none_or(|h| hist(h) && h.counts.len() == 1)
            }
        }
    }

    /// A stored summary; None for an empty or unreadable one (models trained before reports).
    pub fn from_json(v: &serde_json::Value) -> Option<ReportData> {
        serde_json::from_value(v.clone()).ok()
    }
}

/// Keeps the first and last point and every point at least CURVE_STEP (max-norm) from the last
/// kept one: a curve of 100,000 thresholds draws the same in a few hundred points.
fn thin(points: Vec<[f64; 2]>) -> Vec<[f64; 2]> {
    let mut out: Vec<[f64; 2]> = Vec::new();
    let n = points.len();
    for (i, p) in points.into_iter().enumerate() {
        let far = out.last().is_none_or(|q: &[f64; 2]| {
            (p[0] - q[0]).abs() >= CURVE_STEP || (p[1] - q[1]).abs() >= CURVE_STEP
        });
        if far || i + 1 == n {
            out.push(p);
        }
    }
    out
}

fn share(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// The curves of P(positive) `scores` against `labels` (true = positive).
pub fn binary(scores: &[f64], labels: &[bool], threshold: f64) -> BinaryCurves {
    let n = scores.len() as u64;
    let positives = labels.iter().filter(|&&y| y).count() as u64;
    let roc = metrics::roc_curve(scores, labels);
    let mut precision_recall = Vec::with_capacity(roc.len());
    let mut gains = Vec::with_capacity(roc.len() + 1);
    gains.push([0.0, 0.0]);
    for p in roc.iter().skip(1) {
        let tp = p.tpr * positives as f64;
        let fp = p.fpr * (n - positives) as f64;
        if tp + fp > 0.0 {
            precision_recall.push([p.tpr, tp / (tp + fp)]);
            gains.push([(tp + fp) / n as f64, p.tpr]);
        }
    }
    let roc_points = roc
        .iter()
        .map(|p| [finite_or(p.fpr, 0.0), finite_or(p.tpr, 0.0)])
        .collect();
    let lift = metrics::lift_table(scores, labels, 10.min(scores.len().max(1)))
        .into_iter()
        .map(|b| LiftRow {
            bin: b.bin,
            rate: b.rate,
            lift: finite_or(b.lift, 0.0),
            cumulative_gain: finite_or(b.cumulative_gain, 0.0),
        })
        .collect();
    let mut confusion = [[0u64; 2]; 2];
    for (&s, &y) in scores.iter().zip(labels) {
        confusion[usize::from(y)][usize::from(s >= threshold)] += 1;
    }
    let of_class = |class: bool| -> Vec<f64> {
        scores.iter().zip(labels).filter(|(_, &y)| y == class).map(|(&s, _)| s).collect()
    };
    let (neg, pos) = (of_class(false), of_class(true));
    BinaryCurves {
        rows: n,
        positives,
        roc_auc: finite_or(metrics::roc_auc(scores, labels), 0.5),
        roc: thin(roc_points),
        precision_recall: thin(precision_recall),
        gains: thin(gains),
        lift,
        calibration: calibration(scores, labels, 10),
        scores: Histogram::of(&[&neg, &pos], Some((0.0, 1.0))),
        threshold,
        confusion,
    }
}

fn finite_or(x: f64, or: f64) -> f64 {
    if x.is_finite() {
        x
    } else {
        or
    }
}

/// Rows sorted by score cut into `bins` groups of (nearly) equal size: each group's mean score
/// against its share of positives (quantile bins, as scikit-learn's
/// `calibration_curve(strategy="quantile")`, so that every point rests on as many rows).
pub fn calibration(scores: &[f64], labels: &[bool], bins: usize) -> Vec<CalibrationBin> {
    let n = scores.len();
    if n == 0 {
        return Vec::new();
    }
    let bins = bins.clamp(1, n);
    let mut idx: Vec<usize> = (0..n).collect();
    idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]).then(a.cmp(&b)));
    let (base, extra) = (n / bins, n % bins);
    let mut start = 0;
    (0..bins)
        .map(|b| {
            let size = base + usize::from(b < extra);
            let group = &idx[start..start + size];
            start += size;
            let sum: f64 = group.iter().map(|&i| scores[i]).sum();
            let pos = group.iter().filter(|&&i| labels[i]).count() as u64;
            CalibrationBin {
                predicted: sum / size as f64,
                observed: share(pos, size as u64),
                rows: size as u64,
            }
        })
        .collect()
}

/// Confusion counts of true class `truth[i]` against the most probable class of `proba` (n x k).
pub fn multiclass(proba: &[f64], classes: &[String], truth: &[usize]) -> MulticlassCurves {
    let k = classes.len();
    let mut confusion = vec![vec![0u64; k]; k];
    for (row, &t) in proba.chunks(k.max(1)).zip(truth) {
        let p = metrics::argmax(row);
        if t < k && p < k {
            confusion[t][p] += 1;
        }
    }
    MulticlassCurves {
        classes: classes.to_vec(),
        confusion,
    }
}

/// Even spread of at most `max` of `n` indices (every row when n <= max).
fn spread(n: usize, max: usize) -> Vec<usize> {
    if n <= max {
        return (0..n).collect();
    }
    (0..max).map(|i| i * n / max).collect()
}

pub fn regression(predicted: &[f64], actual: &[f64]) -> RegressionCurves {
    let sample = spread(predicted.len(), SAMPLE_POINTS)
        .into_iter()
        .map(|i| [predicted[i], actual[i]])
        .filter(|p| p[0].is_finite() && p[1].is_finite())
        .collect();
    let residuals: Vec<f64> = actual.iter().zip(predicted).map(|(a, p)| a - p).collect();
    RegressionCurves {
        rows: predicted.len() as u64,
        sample,
        residuals: Histogram::of(&[&residuals], None),
    }
}

/// The two leading principal components of the rows of `x` (centred), by power iteration with
/// deflation on the covariance matrix; with the share of variance along each.
fn principal_axes(x: &Matrix, mean: &[f64]) -> ([Vec<f64>; 2], [f64; 2]) {
    let d = x.cols;
    let mut cov = vec![0.0; d * d];
    for r in 0..x.rows {
        let row = x.row(r);
        for i in 0..d {
            let a = row[i] - mean[i];
            if a == 0.0 {
                continue;
            }
            for j in i..d {
                cov[i * d + j] += a * (row[j] - mean[j]);
            }
        }
    }
    for i in 0..d {
        for j in 0..i {
            cov[i * d + j] = cov[j * d + i];
        }
    }
    let total: f64 = (0..d).map(|i| cov[i * d + i]).sum();
    let mut axes = [vec![0.0; d], vec![0.0; d]];
    let mut variances = [0.0; 2];
    for c in 0..2 {
        // a start that is not orthogonal to the leading axis but for a measure-zero chance
        let mut v: Vec<f64> = (0..d).map(|i| 1.0 + (i as f64 * 0.618).fract()).collect();
        let mut lambda = 0.0;
        for _ in 0..300 {
            let mut w = vec![0.0; d];
            for i in 0..d {
                w[i] = super::linalg::dot(&cov[i * d..(i + 1) * d], &v);
            }
            if c == 1 {
                // deflate: remove the first axis
                let p = super::linalg::dot(&w, &axes[0]);
                w.iter_mut().zip(&axes[0]).for_each(|(wi, a)| *wi -= p * a);
            }
            let norm = super::linalg::dot(&w, &w).sqrt();
            if norm == 0.0 || !norm.is_finite() {
                break;
            }
            w.iter_mut().for_each(|wi| *wi /= norm);
            let moved: f64 = w.iter().zip(&v).map(|(a, b)| (a - b).abs()).sum();
            v = w;
            lambda = norm;
            if moved < 1e-10 {
                break;
            }
        }
        axes[c] = v;
        variances[c] = lambda;
    }
    let explained = if total > 0.0 {
        [variances[0] / total, variances[1] / total]
    } else {
        [0.0, 0.0]
    };
    (axes, explained)
}

/// The segment map of encoded rows `x` with 1-based `segments`: a seeded sample projected on
/// its two principal components.
pub fn segment_map(x: &Matrix, segments: &[usize], seed: u64) -> SegmentMap {
    let n = x.rows;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut rows: Vec<usize> = if n <= SAMPLE_POINTS {
        (0..n).collect()
    } else {
        sample(&mut rng, n, SAMPLE_POINTS).into_vec()
    };
    rows.sort_unstable();
    let s = x.select_rows(&rows);
    let d = s.cols;
    let mut mean = vec![0.0; d];
    for r in 0..s.rows {
        mean.iter_mut().zip(s.row(r)).for_each(|(m, v)| *m += v);
    }
    mean.iter_mut().for_each(|m| *m /= s.rows.max(1) as f64);
    let (axes, explained) = principal_axes(&s, &mean);
    let points = (0..s.rows)
        .map(|r| {
            let centred: Vec<f64> = s.row(r).iter().zip(&mean).map(|(v, m)| v - m).collect();
            [
                super::linalg::dot(&centred, &axes[0]) as f32,
                super::linalg::dot(&centred, &axes[1]) as f32,
            ]
        })
        .collect();
    SegmentMap {
        rows: n as u64,
        points,
        segments: rows.iter().map(|&i| segments[i].min(u16::MAX as usize) as u16).collect(),
        explained,
    }
}

/// A lifetime-value model's view of the customers in the rows of `x` (frequency, recency, T and,
/// for Gamma-Gamma, monetary value: the model's inputs). Transaction models (BG/NBD,
/// Pareto/NBD, and a Gamma-Gamma paired with one) give expected purchases over `horizon` and
/// P(alive); the deciles rank customers by expected purchases, or for a Gamma-Gamma model by
/// their 12-month CLV (undiscounted, as insight.predict_clv(model, row, 12)), or by expected
/// spend per order when it has no transaction model. Rows the formulas give no finite number
/// for are left out.
pub fn value_distributions(model: &super::model::Model, x: &Matrix, horizon: f64, unit: &str) -> Option<ValueDistributions> {
    use super::clv::bgnbd::Customer;
    use super::clv::Transactions;
    use super::model::Estimator;
    let (transactions, spend, per_month) = match &model.estimator {
        Estimator::BgNbd(p) => (Some(Transactions::BgNbd(*p)), None, 0.0),
        Estimator::ParetoNbd(p) => (Some(Transactions::ParetoNbd(*p)), None, 0.0),
        Estimator::GammaGamma { model: gg, transactions, per_month } => (*transactions, Some(*gg), *per_month),
        _ => return None,
    };
    let (mut expected, mut alive, mut spends) = (Vec::new(), Vec::new(), Vec::new());
    for r in 0..x.rows {
        let row = x.row(r);
        if let Some(t) = transactions {
            let c = Customer::of(row);
            expected.push(t.expected_purchases(&c, horizon));
            alive.push(t.p_alive(&c));
        }
        if let (Some(gg), Some(&m)) = (spend, row.get(3)) {
            // with a transaction model: the customer's value over the next 12 months, as
            // insight.predict_clv(model, row, 12) gives it; alone: the spend per order
            spends.push(match transactions {
                Some(t) => gg.clv(&t, &Customer::of(row), m, 12, 0.0, per_month),
                None => gg.expected_spend(row[0], m),
            });
        }
    }
    let has_transactions = transactions.is_some();
    let (deciles_of, measure) = match (spend.is_some(), has_transactions) {
        (true, true) => (&spends, "12-month CLV"),
        (true, false) => (&spends, "expected spend per order"),
        _ => (&expected, "expected purchases"),
    };
    Some(ValueDistributions {
        customers: x.rows as u64,
        horizon,
        unit: unit.to_string(),
        expected: has_transactions.then(|| Histogram::of(&[&expected], None)),
        p_alive: has_transactions.then(|| Histogram::of(&[&alive], Some((0.0, 1.0)))),
        deciles: deciles(deciles_of),
        decile_measure: measure.to_string(),
    })
}

/// A year in a summary's time unit (insight.clv_summary's unit: day, week or month).
pub fn year_in(unit: &str) -> f64 {
    match unit {
        "day" => 365.0,
        "month" => 12.0,
        _ => 52.0,
    }
}

/// Means of `values` ranked highest first and cut into ten groups (fewer when there are fewer
/// values).
pub fn deciles(values: &[f64]) -> Vec<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    v.sort_by(|a, b| b.total_cmp(a));
    let bins = 10.min(v.len());
    if bins == 0 {
        return Vec::new();
    }
    let (base, extra) = (v.len() / bins, v.len() % bins);
    let mut start = 0;
    (0..bins)
        .map(|b| {
            let size = base + usize::from(b < extra);
            let mean = v[start..start + size].iter().sum::<f64>() / size as f64;
            start += size;
            mean
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_curves_by_hand() {
        // 4 negatives, 4 positives; threshold 0.5
        let s = [0.1, 0.2, 0.3, 0.6, 0.4, 0.7, 0.8, 0.9];
        let y = [false, false, false, false, true, true, true, true];
        let c = binary(&s, &y, 0.5);
        assert_eq!((c.rows, c.positives), (8, 4));
        // one negative above a positive: AUC 15/16
        assert!((c.roc_auc - 15.0 / 16.0).abs() < 1e-12);
        assert_eq!(c.roc.first(), Some(&[0.0, 0.0]));
        assert_eq!(c.roc.last(), Some(&[1.0, 1.0]));
        // at 0.5: TN 3, FP 1 (0.6), FN 1 (0.4), TP 3
        assert_eq!(c.confusion, [[3, 1], [1, 3]]);
        // the top three are positives: precision 1 at recall 0.75
        assert!(c.precision_recall.contains(&[0.75, 1.0]));
        // gains end at everyone contacted, every positive found
        assert_eq!(c.gains.last(), Some(&[1.0, 1.0]));
        // the negatives' scores in the lower bins but one (0.6), the positives' in the upper but one
        let below = |c: &[u64]| c[..HISTOGRAM_BINS / 2].iter().sum::<u64>();
        assert_eq!((below(&c.scores.counts[0]), below(&c.scores.counts[1])), (3, 1));
        assert_eq!(c.scores.counts.iter().flatten().sum::<u64>(), 8);
        assert_eq!(c.lift.len(), 8);
        let rows: u64 = c.calibration.iter().map(|b| b.rows).sum();
        assert_eq!(rows, 8);
    }

    #[test]
    fn calibration_matches_scikit_learn_quantile_bins() {
        // scikit-learn 1.2.1 (Debian bookworm): calibration_curve(y, p, n_bins=2, strategy="quantile") on these
        // rows gives prob_true [0.25, 0.75], prob_pred [0.25, 0.65]
        let p = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8];
        let y = [false, false, true, false, true, true, false, true];
        let c = calibration(&p, &y, 2);
        assert!((c[0].observed - 0.25).abs() < 1e-12 && (c[1].observed - 0.75).abs() < 1e-12);
        assert!((c[0].predicted - 0.25).abs() < 1e-12 && (c[1].predicted - 0.65).abs() < 1e-12);
    }

    #[test]
    fn curves_are_thinned_to_hundreds_of_points() {
        let n = 100_000;
        let s: Vec<f64> = (0..n).map(|i| ((i * 7919) % n) as f64 / n as f64).collect();
        let y: Vec<bool> = (0..n).map(|i| (i * 31) % 7 < 3).collect();
        let c = binary(&s, &y, 0.5);
        assert!(c.roc.len() < 1_000, "{}", c.roc.len());
        assert!(c.gains.len() < 1_000 && c.precision_recall.len() < 1_000);
        let json = serde_json::to_string(&ReportData::Binary(c)).unwrap();
        assert!(json.len() < 100_000, "{} bytes", json.len());
    }

    #[test]
    fn segment_map_separates_planted_groups_and_finds_the_main_axis() {
        // two groups far apart along input 0, noise elsewhere: the first component is input 0
        let mut rows = Vec::new();
        let mut seg = Vec::new();
        for i in 0..3_000 {
            let g = i % 2;
            let noise = |k: usize| (((i * 37 + k * 11) % 100) as f64 / 100.0 - 0.5) * 0.2;
            rows.push(vec![if g == 0 { -5.0 } else { 5.0 } + noise(0), noise(1), noise(2)]);
            seg.push(g + 1);
        }
        let x = Matrix::from_rows(&rows);
        let m = segment_map(&x, &seg, 7);
        assert_eq!((m.rows, m.points.len()), (3_000, SAMPLE_POINTS));
        assert!(m.explained[0] > 0.99, "{:?}", m.explained);
        for (p, &s) in m.points.iter().zip(&m.segments) {
            // the two groups on either side of 0 along the first component, whatever its sign
            let side = (p[0] > 0.0) == (m.points[0][0] > 0.0);
            assert_eq!(side, s == m.segments[0]);
        }
    }

    #[test]
    fn deciles_and_histograms() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        let d = deciles(&v);
        assert_eq!(d.len(), 10);
        assert!((d[0] - 95.5).abs() < 1e-12 && (d[9] - 5.5).abs() < 1e-12);
        let h = Histogram::of(&[&v], None);
        assert_eq!(h.counts[0].iter().sum::<u64>(), 100);
        assert_eq!((h.lo, h.hi), (1.0, 100.0));
        assert!(deciles(&[]).is_empty());
        let one = Histogram::of(&[&[3.0]], None);
        assert_eq!(one.counts[0].iter().sum::<u64>(), 1);
    }

    #[test]
    fn stored_summaries_read_back() {
        let r = regression(&[1.0, 2.0, f64::NAN], &[1.5, 2.5, 3.0]);
        let j = ReportData::Regression(r).to_json();
        let back = ReportData::from_json(&j).unwrap();
        let ReportData::Regression(b) = back else {
            panic!()
        };
        assert_eq!(b.sample.len(), 2);
        assert_eq!(b.rows, 3);
        assert!(ReportData::from_json(&serde_json::json!({})).is_none());
    }
}
