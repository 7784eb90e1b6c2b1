//! Feature binning for histogram boosting: each encoded input's values are cut at up to
//! `max_bins - 1` thresholds (midpoints between distinct values when there are few, quantiles of
//! a sample when there are many, as scikit-learn's HistGradientBoosting bins them), and every
//! training row is stored as one byte per input. Missing values (NaN: a NULL kept by
//! `impute: native`) get their own bin, so a split learns where they go. A coded category's bin
//! is its code: splits on it send sets of categories left.

use crate::ml::linalg::Matrix;
use crate::ml::parallel::Parallel;

/// The bin of a missing value (values use 0..=254).
pub const MISSING: u8 = 255;
/// Rows sampled per input to place the quantile thresholds (scikit-learn: 200,000).
const SAMPLE_ROWS: usize = 200_000;

/// The thresholds of one input: value v falls in bin b = the number of thresholds below v
/// (v <= thresholds[b] goes to bin b), so there are thresholds.len() + 1 value bins.
#[derive(Clone, Debug)]
pub struct InputBins {
    pub thresholds: Vec<f64>,
    /// Whether any training row missed this input (set by Binned).
    pub has_missing: bool,
    /// A coded category (bin = code), split on sets of bins rather than at a threshold.
    pub categorical: bool,
}

impl InputBins {
    pub fn value_bins(&self) -> usize {
        self.thresholds.len() + 1
    }

    #[inline]
    pub fn bin(&self, v: f64) -> u8 {
        if v.is_nan() {
            MISSING
        } else {
            self.thresholds.partition_point(|&t| t < v) as u8
        }
    }
}

/// Thresholds from the non-missing values of one input (`values` need not be sorted), as
/// scikit-learn 1.2 places them: midpoints between consecutive distinct values when there are at
/// most `max_bins`, else the percentiles 100 i / max_bins (i = 1 .. max_bins - 1) of the values
/// with numpy's "midpoint" interpolation (equal ones merged: they would only make empty bins).
pub fn thresholds(mut values: Vec<f64>, max_bins: usize) -> InputBins {
    values.retain(|v| !v.is_nan());
    values.sort_by(f64::total_cmp);
    let max_bins = max_bins.clamp(2, 255);
    let mut distinct = values.clone();
    distinct.dedup();
    let thresholds = if distinct.len() <= max_bins {
        distinct.windows(2).map(|w| (w[0] + w[1]) * 0.5).collect()
    } else {
        let n = values.len();
        let mut t: Vec<f64> = (1..max_bins)
            .map(|i| {
                let pos = i as f64 * (n - 1) as f64 / max_bins as f64;
                let (lo, hi) = (pos.floor() as usize, (pos.ceil() as usize).min(n - 1));
                values[lo] + (values[hi] - values[lo]) / 2.0
            })
            .collect();
        t.dedup();
        t
    };
    InputBins {
        thresholds,
        has_missing: false,
        categorical: false,
    }
}

/// The bins of a coded category with codes 0..levels: one a code (thresholds halfway between
/// them), whichever codes the rows hold.
pub fn category_bins(levels: usize) -> InputBins {
    let levels = levels.clamp(1, MISSING as usize);
    InputBins {
        thresholds: (1..levels).map(|c| c as f64 - 0.5).collect(),
        has_missing: false,
        categorical: true,
    }
}

/// Whether no input of `x` varies (each holds one value, or only missing values): a tree has
/// nothing to split on, and trains would only learn the base rate.
pub fn nothing_to_split(x: &Matrix) -> bool {
    (0..x.cols).all(|j| {
        let mut first: Option<f64> = None;
        let mut missing = false;
        for r in 0..x.rows {
            let v = x.row(r)[j];
            if v.is_nan() {
                missing = true;
            } else if first.is_some_and(|f| f != v) {
                return false;
            } else {
                first = Some(v);
            }
            if missing && first.is_some() {
                return false; // present and missing: a split can tell them apart
            }
        }
        true
    })
}

/// The training rows binned: one byte per row and input, input-major (a histogram reads one
/// input's bytes in row order).
pub struct Binned {
    pub rows: usize,
    pub inputs: Vec<InputBins>,
    codes: Vec<u8>,
}

impl Binned {
    /// Bins the rows `rows` of `x` (thresholds from at most SAMPLE_ROWS of them, evenly spaced).
    /// `levels[j] > 0` marks input j as a coded category with that many codes (no entry: a
    /// number).
    pub fn new(
        x: &Matrix,
        rows: &[usize],
        max_bins: usize,
        levels: &[usize],
        par: &Parallel,
    ) -> Binned {
        let cols: Vec<usize> = (0..x.cols).collect();
        let step = rows.len().div_ceil(SAMPLE_ROWS).max(1);
        let inputs: Vec<InputBins> = par.map(&cols, |&j| {
            let mut b = match levels.get(j) {
                Some(&l) if l > 0 => category_bins(l),
                _ => thresholds(
                    rows.iter().step_by(step).map(|&r| x.row(r)[j]).collect(),
                    max_bins,
                ),
            };
            b.has_missing = rows.iter().any(|&r| x.row(r)[j].is_nan());
            b
        });
        let per_input: Vec<Vec<u8>> = par.map(&cols, |&j| {
            rows.iter().map(|&r| inputs[j].bin(x.row(r)[j])).collect()
        });
        Binned {
            rows: rows.len(),
            inputs,
            codes: per_input.concat(),
        }
    }

    /// Input `j`'s bins of every row.
    #[inline]
    pub fn input(&self, j: usize) -> &[u8] {
        &self.codes[j * self.rows..(j + 1) * self.rows]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn few_values_cut_between_them_and_missing_has_its_bin() {
        let b = thresholds(vec![3.0, 1.0, 2.0, 1.0, f64::NAN], 255);
        assert_eq!(b.thresholds, vec![1.5, 2.5]);
        assert_eq!(
            [1.0, 1.5, 1.6, 2.0, 3.0, 9.0].map(|v| b.bin(v)),
            [0, 0, 1, 1, 2, 2]
        );
        assert_eq!(b.bin(f64::NAN), MISSING);
    }

    #[test]
    fn many_values_are_cut_at_quantiles_into_at_most_max_bins() {
        let values: Vec<f64> = (0..10_000).map(|i| (i as f64).sqrt()).collect();
        let b = thresholds(values.clone(), 16);
        assert_eq!(b.value_bins(), 16);
        let mut counts = [0usize; 16];
        for v in values {
            counts[b.bin(v) as usize] += 1;
        }
        // equal-frequency bins
        assert!(
            counts.iter().all(|&c| (600..=650).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn constant_inputs_leave_nothing_to_split() {
        let x = Matrix::from_rows(&[vec![1.0, 2.0], vec![1.0, 2.0]]);
        assert!(nothing_to_split(&x));
        let x = Matrix::from_rows(&[vec![1.0, 2.0], vec![1.0, f64::NAN]]);
        assert!(!nothing_to_split(&x));
        let x = Matrix::from_rows(&[vec![1.0, 2.0], vec![1.5, 2.0]]);
        assert!(!nothing_to_split(&x));
    }

    #[test]
    fn a_coded_category_is_binned_by_its_code() {
        let b = category_bins(5);
        assert!(b.categorical);
        assert_eq!(b.value_bins(), 5);
        assert_eq!([0.0, 1.0, 2.0, 3.0, 4.0].map(|v| b.bin(v)), [0, 1, 2, 3, 4]);
        assert_eq!(b.bin(f64::NAN), MISSING);
        let x = Matrix::from_rows(&[vec![3.0, 0.5], vec![f64::NAN, 0.7], vec![0.0, 0.9]]);
        let binned = Binned::new(&x, &[0, 1, 2], 255, &[5], &Parallel::serial());
        assert_eq!(binned.input(0), &[3, MISSING, 0]);
        assert!(binned.inputs[0].has_missing && !binned.inputs[1].categorical);
    }

    #[test]
    fn a_constant_input_has_one_bin() {
        let b = thresholds(vec![4.0; 100], 255);
        assert_eq!(b.value_bins(), 1);
        assert_eq!(b.bin(4.0), 0);
        assert_eq!(b.bin(-1e9), 0);
    }
}
