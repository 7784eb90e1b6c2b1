//! Population stability: how far the distribution of a column (or of a model's scores) on new
//! rows has moved from the one the model was trained on. Training keeps a reference per column:
//! numbers by the deciles of the training values (each bucket a tenth of them), categories by
//! their shares (the most frequent 50, the rest "other"), with the share of missing values
//! apart. The population stability index of new rows against it is
//!
//!   PSI = sum over buckets of (actual - expected) x ln(actual / expected)
//!
//! with shares floored at 1e-4 so that an empty bucket counts but does not make it infinite.
//! Below 0.1 a distribution is stable (`ok`), from 0.25 it has moved (`alert`), in between
//! `watch`: the usual reading of the index.

use super::model::{Model, Task};
use super::preprocess::{RawColumn, Value};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Categories kept by name in a reference; the rest share "other".
pub const MAX_CATEGORIES: usize = 50;
/// The smallest share a bucket counts with.
const FLOOR: f64 = 1e-4;

/// A reference distribution: bucket shares, the missing values' share last.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Distribution {
    /// Values <= edges[0], then (edges[i-1], edges[i]], then above the last edge.
    Numeric { edges: Vec<f64>, shares: Vec<f64> },
    /// The categories by name, then "other".
    Categorical {
        categories: Vec<String>,
        shares: Vec<f64>,
    },
}

fn shares(counts: &[usize]) -> Vec<f64> {
    let n: usize = counts.iter().sum();
    counts
        .iter()
        .map(|&c| if n > 0 { c as f64 / n as f64 } else { 0.0 })
        .collect()
}

impl Distribution {
    /// Deciles of the non-missing values (NaN is missing; equal cut points merged).
    pub fn numeric(values: &[f64]) -> Distribution {
        let mut sorted: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
        sorted.sort_by(f64::total_cmp);
        let mut edges: Vec<f64> = if sorted.is_empty() {
            Vec::new()
        } else {
            (1..10)
                .map(|i| sorted[(i * (sorted.len() - 1)) / 10])
                .collect()
        };
        edges.dedup();
        let mut d = Distribution::Numeric {
            edges,
            shares: Vec::new(),
        };
        let counts = d.counts_numeric(values);
        if let Distribution::Numeric { shares: s, .. } = &mut d {
            *s = shares(&counts);
        }
        d
    }

    /// Shares of the most frequent categories (None is missing).
    pub fn categorical<'a>(values: impl Iterator<Item = Option<&'a str>> + Clone) -> Distribution {
        let mut freq: HashMap<&str, usize> = HashMap::new();
        for v in values.clone().flatten() {
            *freq.entry(v).or_default() += 1;
        }
        let mut order: Vec<(&str, usize)> = freq.into_iter().collect();
        order.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        order.truncate(MAX_CATEGORIES);
        let mut d = Distribution::Categorical {
            categories: order.iter().map(|(c, _)| c.to_string()).collect(),
            shares: Vec::new(),
        };
        let counts = d.counts_categorical(values);
        if let Distribution::Categorical { shares: s, .. } = &mut d {
            *s = shares(&counts);
        }
        d
    }

    fn counts_numeric(&self, values: &[f64]) -> Vec<usize> {
        let Distribution::Numeric { edges, .. } = self else {
            return Vec::new();
        };
        let mut counts = vec![0usize; edges.len() + 2];
        for &v in values {
            let b = if v.is_nan() {
                edges.len() + 1
            } else {
                edges.partition_point(|&e| e < v)
            };
            counts[b] += 1;
        }
        counts
    }

    fn counts_categorical<'a>(&self, values: impl Iterator<Item = Option<&'a str>>) -> Vec<usize> {
        let Distribution::Categorical { categories, .. } = self else {
            return Vec::new();
        };
        let index: HashMap<&str, usize> = categories
            .iter()
            .enumerate()
            .map(|(i, c)| (c.as_str(), i))
            .collect();
        let mut counts = vec![0usize; categories.len() + 2];
        for v in values {
            let b = match v {
                None => categories.len() + 1,
                Some(v) => index.get(v).copied().unwrap_or(categories.len()),
            };
            counts[b] += 1;
        }
        counts
    }

    /// PSI of numbers (NaN missing) against this reference; None for a categorical one.
    pub fn psi_numeric(&self, values: &[f64]) -> Option<f64> {
        match self {
            Distribution::Numeric { shares: e, .. } => {
                Some(psi(e, &shares(&self.counts_numeric(values))))
            }
            _ => None,
        }
    }

    /// PSI of categories (None missing) against this reference; None for a numeric one.
    pub fn psi_categorical<'a>(
        &self,
        values: impl Iterator<Item = Option<&'a str>>,
    ) -> Option<f64> {
        match self {
            Distribution::Categorical { shares: e, .. } => {
                Some(psi(e, &shares(&self.counts_categorical(values))))
            }
            _ => None,
        }
    }

    /// PSI of a model's scores against this reference (numbers for a numeric one, labels for a
    /// categorical one: one model's scores are all of one kind).
    pub fn psi_scores(&self, scores: &[Score]) -> f64 {
        match self {
            Distribution::Numeric { .. } => self.psi_numeric(&numbers(scores)),
            Distribution::Categorical { .. } => self.psi_categorical(labels(scores)),
        }
        .expect("the reference's own kind")
    }

    /// Whether a decoded reference is whole: shares of the right count, finite, in [0, 1].
    pub fn is_valid(&self) -> bool {
        let (buckets, shares) = match self {
            Distribution::Numeric { edges, shares } => (edges.len() + 2, shares),
            Distribution::Categorical { categories, shares } => (categories.len() + 2, shares),
        };
        shares.len() == buckets && shares.iter().all(|s| (0.0..=1.0).contains(s))
    }
}

/// What training keeps: each input column's distribution and the model's scores'.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Reference {
    pub columns: Vec<(String, Distribution)>,
    pub score: Distribution,
}

/// Rows a reference is drawn from at most (evenly spread over the training relation).
pub const REFERENCE_ROWS: usize = 100_000;

/// The model's score of a row as drift compares it: a number (P(positive), the value, P(alive))
/// or a label (the class, the segment).
pub enum Score {
    Number(f64),
    Label(String),
}

pub fn score_of(model: &Model, out: &[f64]) -> Score {
    match model.task {
        Task::Multiclass => Score::Label(model.label(out).to_string()),
        Task::Segmentation => Score::Label(format!("{}", out[0] as i64)),
        _ => Score::Number(model.predict_value(out)),
    }
}

/// The scores as numbers (a label is missing).
fn numbers(scores: &[Score]) -> Vec<f64> {
    scores
        .iter()
        .map(|s| match s {
            Score::Number(v) => *v,
            Score::Label(_) => f64::NAN,
        })
        .collect()
}

/// The scores as labels (a number is missing).
fn labels(scores: &[Score]) -> impl Iterator<Item = Option<&str>> + Clone {
    scores.iter().map(|s| match s {
        Score::Label(l) => Some(l.as_str()),
        Score::Number(_) => None,
    })
}

/// The score distribution of a sequence of scores (numbers and labels do not mix).
pub fn score_distribution(scores: &[Score]) -> Distribution {
    if scores.iter().any(|s| matches!(s, Score::Label(_))) {
        Distribution::categorical(labels(scores))
    } else {
        Distribution::numeric(&numbers(scores))
    }
}

impl Reference {
    /// The reference of `model` trained on `data` (its input columns, named `names`): at most
    /// REFERENCE_ROWS rows, evenly spread; rows the model cannot score count in the columns only.
    pub fn of(model: &Model, data: &[RawColumn], names: &[String]) -> Reference {
        let n = data.first().map_or(0, RawColumn::len);
        let step = n.div_ceil(REFERENCE_ROWS).max(1);
        let rows: Vec<usize> = (0..n).step_by(step).collect();
        let columns = names
            .iter()
            .zip(data)
            .map(|(name, col)| {
                let d = match col {
                    RawColumn::Number(v) => {
                        Distribution::numeric(&rows.iter().map(|&r| v[r]).collect::<Vec<_>>())
                    }
                    RawColumn::Text { .. } => {
                        Distribution::categorical(rows.iter().map(|&r| match col.value(r) {
                            Value::Text(t) => Some(t),
                            _ => None,
                        }))
                    }
                };
                (name.clone(), d)
            })
            .collect();
        let mut x = vec![0.0; model.preprocessor.width];
        let mut out = vec![0.0; model.outputs()];
        let scores: Vec<Score> = rows
            .iter()
            .filter_map(|&r| {
                model.preprocessor.encode_row(data, r, &mut x).ok()?;
                model.predict_encoded(&x, &mut out);
                Some(score_of(model, &out))
            })
            .collect();
        Reference {
            columns,
            score: score_distribution(&scores),
        }
    }
}

/// The population stability index of `actual` shares against `expected` ones (same buckets).
pub fn psi(expected: &[f64], actual: &[f64]) -> f64 {
    expected
        .iter()
        .zip(actual)
        .map(|(&e, &a)| {
            let (e, a) = (e.max(FLOOR), a.max(FLOOR));
            (a - e) * (a / e).ln()
        })
        .sum()
}

/// ok below 0.1, watch below 0.25, alert from there.
pub fn status(psi: f64) -> &'static str {
    if psi < 0.1 {
        "ok"
    } else if psi < 0.25 {
        "watch"
    } else {
        "alert"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psi_by_hand_and_its_reading() {
        // two buckets, 50/50 moving to 70/30: 0.2 ln(1.4) + (-0.2) ln(0.6)
        let want = 0.2 * 1.4f64.ln() - 0.2 * 0.6f64.ln();
        assert!((psi(&[0.5, 0.5], &[0.7, 0.3]) - want).abs() < 1e-12);
        assert_eq!(psi(&[0.3, 0.7], &[0.3, 0.7]), 0.0);
        assert_eq!([0.05, 0.1, 0.3].map(status), ["ok", "watch", "alert"]);
    }

    #[test]
    fn the_same_values_are_stable_shifted_ones_are_not() {
        let train: Vec<f64> = (0..10_000).map(|i| ((i as f64) * 0.37).sin()).collect();
        let d = Distribution::numeric(&train);
        assert!(d.is_valid());
        if let Distribution::Numeric { edges, shares } = &d {
            assert_eq!(edges.len(), 9);
            // deciles: about a tenth in each bucket, nothing missing
            assert!(
                shares[..10].iter().all(|s| (0.09..0.11).contains(s)),
                "{shares:?}"
            );
            assert_eq!(shares[10], 0.0);
        }
        assert!(d.psi_numeric(&train).unwrap() < 1e-12);
        let shifted: Vec<f64> = train.iter().map(|v| v + 0.5).collect();
        assert_eq!(status(d.psi_numeric(&shifted).unwrap()), "alert");
        let some_missing: Vec<f64> = train
            .iter()
            .enumerate()
            .map(|(i, &v)| if i % 5 == 0 { f64::NAN } else { v })
            .collect();
        assert!(d.psi_numeric(&some_missing).unwrap() > 0.25);
        // categories: a new mix moves the index, unseen ones count as other
        let cats = ["a", "b", "b", "c"];
        let c = Distribution::categorical(cats.iter().map(|s| Some(*s)));
        assert!(c.is_valid());
        assert!(c.psi_categorical(cats.iter().map(|s| Some(*s))).unwrap() < 1e-12);
        let later = ["a", "a", "a", "z"];
        assert!(c.psi_categorical(later.iter().map(|s| Some(*s))).unwrap() > 0.25);
        assert!(c.psi_numeric(&[1.0]).is_none());
    }
}
