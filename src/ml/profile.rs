//! What each segment of a segmentation model looks like, so that an analyst can name it: per
//! segment the mean of every input over its training rows, in the input's own units (categories
//! as shares), next to the mean over all rows and the difference in standard deviations (z).
//!
//! The profile is computed once, at training, from the encoded rows and each row's segment, and
//! stored with the model (the centres alone would not do: a mini-batch centre is not exactly the
//! mean of its rows, and the population's spread is not in the model).

use super::linalg::Matrix;
use super::preprocess::{Encoding, Preprocessor};
use serde::{Deserialize, Serialize};

/// Per segment the mean encoded row, and over all rows the mean and standard deviation of each
/// encoded input.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct SegmentProfile {
    /// Training rows per segment.
    pub sizes: Vec<u64>,
    /// k x width, row-major: the mean encoded row of each segment (0 for an empty segment).
    pub means: Vec<f64>,
    pub population_mean: Vec<f64>,
    /// Population standard deviation (divided by n).
    pub population_sd: Vec<f64>,
}

impl SegmentProfile {
    /// The profile of the rows of `x` with 0-based segment `labels[i]` of `k`.
    pub fn of(x: &Matrix, labels: &[usize], k: usize) -> SegmentProfile {
        let (n, d) = (x.rows, x.cols);
        let mut sizes = vec![0u64; k];
        let mut means = vec![0.0; k * d];
        let mut population_mean = vec![0.0; d];
        for (r, &l) in labels.iter().enumerate() {
            sizes[l] += 1;
            for ((m, p), v) in means[l * d..(l + 1) * d]
                .iter_mut()
                .zip(population_mean.iter_mut())
                .zip(x.row(r))
            {
                *m += v;
                *p += v;
            }
        }
        for (l, &size) in sizes.iter().enumerate() {
            means[l * d..(l + 1) * d]
                .iter_mut()
                .for_each(|m| *m /= size.max(1) as f64);
        }
        population_mean
            .iter_mut()
            .for_each(|p| *p /= n.max(1) as f64);
        // the spread in a second pass over the rows: no cancellation of large squares
        let mut population_sd = vec![0.0; d];
        for r in 0..n {
            for ((s, p), v) in population_sd.iter_mut().zip(&population_mean).zip(x.row(r)) {
                *s += (v - p) * (v - p);
            }
        }
        population_sd
            .iter_mut()
            .for_each(|s| *s = (*s / n.max(1) as f64).sqrt());
        SegmentProfile {
            sizes,
            means,
            population_mean,
            population_sd,
        }
    }

    /// Why a stored profile cannot belong to a model of `k` segments and `width` inputs.
    pub fn check(&self, k: usize, width: usize) -> Result<(), String> {
        if self.sizes.len() != k
            || self.means.len() != k * width
            || self.population_mean.len() != width
            || self.population_sd.len() != width
        {
            return Err(format!(
                "a segment profile of {} segments for {k} segments of {width} inputs",
                self.sizes.len()
            ));
        }
        if !self
            .means
            .iter()
            .chain(&self.population_mean)
            .chain(&self.population_sd)
            .all(|v| v.is_finite())
            || self.population_sd.iter().any(|s| *s < 0.0)
        {
            return Err("a segment profile value is NaN, infinite or a negative spread".into());
        }
        // sizes are added up (shares, totals): they must sum without overflow, exactly in float8
        let total = self.sizes.iter().try_fold(0u64, |t, &n| t.checked_add(n));
        if total.is_none_or(|t| t > 1 << 53) {
            return Err("segment sizes that add up to more than 2^53 rows".into());
        }
        Ok(())
    }
}

/// One segment and one input (or one category of an input) of a profile.
#[derive(Clone, Debug, PartialEq)]
pub struct ProfileRow {
    /// 1-based
    pub segment: usize,
    pub customers: u64,
    /// Of all training rows.
    pub share: f64,
    /// The input's name; for a category `name = value`, or `name = (other)` for the rest.
    pub feature: String,
    /// In the input's units (a category: the share of the segment's rows); None for an empty
    /// segment.
    pub mean: Option<f64>,
    pub population_mean: f64,
    /// (mean - population mean) / population standard deviation; None where the input does not
    /// vary or the segment is empty.
    pub z: Option<f64>,
    /// Whether this row is a category's share.
    pub category: bool,
}

/// The profile as rows, segment by segment, inputs in the model's order. A category that no
/// training row has (the "(other)" slot of a column whose every value was kept) is left out.
pub fn rows(pre: &Preprocessor, p: &SegmentProfile) -> Vec<ProfileRow> {
    let k = p.sizes.len();
    let n: u64 = p.sizes.iter().sum();
    let d = pre.width;
    let mut out = Vec::new();
    for j in 0..k {
        for f in &pre.features {
            let slots: Vec<(usize, String, bool)> = match &f.encoding {
                Encoding::Scaled { .. } => vec![(f.offset, f.name.clone(), false)],
                Encoding::OneHot { categories, .. } => categories
                    .iter()
                    .map(|c| c.as_str())
                    .chain(std::iter::once("(other)"))
                    .enumerate()
                    .map(|(i, c)| (f.offset + i, format!("{} = {c}", f.name), true))
                    .collect(),
                // segmentations never code categories or hold free text (Model::check, and
                // free text needs classes)
                Encoding::Coded { .. } | Encoding::Text(_) | Encoding::Embedded(_) => continue,
            };
            for (col, feature, category) in slots {
                if category && p.population_mean[col] == 0.0 {
                    continue;
                }
                // encoded -> the input's units: a scaled number back through its scaler, a
                // category slot is already a share
                let (scale, shift) = match &f.encoding {
                    Encoding::Scaled { mean, scale, .. } => (*scale, *mean),
                    Encoding::OneHot { .. }
                    | Encoding::Coded { .. }
                    | Encoding::Text(_)
                    | Encoding::Embedded(_) => (1.0, 0.0),
                };
                let (sd, pm) = (p.population_sd[col], p.population_mean[col]);
                let empty = p.sizes[j] == 0;
                let m = p.means[j * d + col];
                out.push(ProfileRow {
                    segment: j + 1,
                    customers: p.sizes[j],
                    share: p.sizes[j] as f64 / n.max(1) as f64,
                    feature,
                    mean: (!empty).then_some(m * scale + shift),
                    population_mean: pm * scale + shift,
                    z: (!empty && sd > 0.0).then(|| (m - pm) / sd),
                    category,
                });
            }
        }
    }
    out
}

/// Per segment: (segment, customers, share, its three most distinguishing inputs as text), the
/// inputs ranked by |z|.
pub fn summary(rows: &[ProfileRow]) -> Vec<(usize, u64, f64, String)> {
    let mut out: Vec<(usize, u64, f64, String)> = Vec::new();
    for seg in rows.chunk_by(|a, b| a.segment == b.segment) {
        let mut ranked: Vec<&ProfileRow> = seg.iter().filter(|r| r.z.is_some()).collect();
        // stable: equal |z| keep the model's input order
        ranked.sort_by(|a, b| b.z.unwrap().abs().total_cmp(&a.z.unwrap().abs()));
        let text = ranked
            .iter()
            .take(3)
            .map(|r| describe(r))
            .collect::<Vec<_>>()
            .join("; ");
        let first = &seg[0];
        out.push((
            first.segment,
            first.customers,
            first.share,
            if text.is_empty() {
                "(no rows)".into()
            } else {
                text
            },
        ));
    }
    out
}

/// "visits_30d high: 14.2 vs 6.1 (z +1.9)" or "region = north: 64% vs 25% (z +0.9)".
fn describe(r: &ProfileRow) -> String {
    let z = r.z.unwrap_or(0.0);
    let mean = r.mean.unwrap_or(f64::NAN);
    if r.category {
        format!(
            "{}: {:.0}% vs {:.0}% (z {z:+.1})",
            r.feature,
            mean * 100.0,
            r.population_mean * 100.0
        )
    } else {
        format!(
            "{} {}: {} vs {} (z {z:+.1})",
            r.feature,
            if z >= 0.0 { "high" } else { "low" },
            significant(mean),
            significant(r.population_mean)
        )
    }
}

/// Three significant digits, without an exponent for everyday sizes: 14.2, 0.0312, 41200.
fn significant(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let digits = (2 - v.abs().log10().floor() as i32).clamp(0, 12) as usize;
    let s = format!("{v:.digits$}");
    if (1e-4..1e9).contains(&v.abs()) {
        s
    } else {
        format!("{v:.2e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ml::preprocess::{ColumnSpec, PrepOptions, Preprocessor, RawColumn, ValueKind};

    #[test]
    fn profile_in_original_units() {
        // spend: segment 0 = {10, 20}, segment 1 = {40, 50}; channel: a, a | b, a
        let specs = vec![
            ColumnSpec {
                name: "spend".into(),
                sql_type: "float8".into(),
                kind: ValueKind::Number,
            },
            ColumnSpec {
                name: "channel".into(),
                sql_type: "text".into(),
                kind: ValueKind::Text,
            },
        ];
        let cols = vec![
            RawColumn::Number(vec![10.0, 20.0, 40.0, 50.0]),
            RawColumn::Text {
                dict: vec!["a".into(), "b".into()],
                codes: vec![0, 0, 1, 0],
            },
        ];
        let all: Vec<usize> = (0..4).collect();
        let pre = Preprocessor::fit(&specs, &cols, &all, &PrepOptions::default()).unwrap();
        let x = pre.encode_rows(&cols, &all).unwrap();
        let p = SegmentProfile::of(&x, &[0, 0, 1, 1], 2);
        assert_eq!(p.sizes, vec![2, 2]);
        p.check(2, pre.width).unwrap();
        let r = rows(&pre, &p);
        let find = |seg: usize, f: &str| {
            r.iter()
                .find(|x| x.segment == seg && x.feature == f)
                .unwrap()
                .clone()
        };
        let spend = find(1, "spend");
        assert!(
            (spend.mean.unwrap() - 15.0).abs() < 1e-9
                && (spend.population_mean - 30.0).abs() < 1e-9
        );
        // population sd of 10, 20, 40, 50 is sqrt(250)
        assert!((spend.z.unwrap() - (15.0 - 30.0) / 250f64.sqrt()).abs() < 1e-9);
        let b = find(2, "channel = b");
        assert!(
            (b.mean.unwrap() - 0.5).abs() < 1e-12
                && (b.population_mean - 0.25).abs() < 1e-12
                && b.category
        );
        assert!((find(1, "channel = a").mean.unwrap() - 1.0).abs() < 1e-12);
        // the (other) slot of channel holds no row: left out
        assert!(r.iter().all(|x| !x.feature.ends_with("(other)")));
        assert_eq!(r.iter().filter(|x| x.segment == 1).count(), 3);
        let s = summary(&r);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].0, 1);
        assert!((s[0].2 - 0.5).abs() < 1e-12);
        assert!(
            s[0].3.starts_with("spend low: 15.0 vs 30.0 (z -0.9)"),
            "{}",
            s[0].3
        );
    }

    #[test]
    fn empty_segments_and_constant_inputs_have_no_z() {
        let x = Matrix::from_rows(&[vec![1.0, 5.0], vec![3.0, 5.0]]);
        let p = SegmentProfile::of(&x, &[0, 0], 2);
        assert_eq!(p.sizes, vec![2, 0]);
        assert_eq!(p.population_sd, vec![1.0, 0.0]);
        p.check(2, 2).unwrap();
        assert!(p.check(3, 2).is_err());
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(significant(14.234), "14.2");
        assert_eq!(significant(0.031234), "0.0312");
        assert_eq!(significant(41234.0), "41234");
        assert_eq!(significant(-2.5), "-2.50");
        assert_eq!(significant(1.5e12), "1.50e12");
    }
}
