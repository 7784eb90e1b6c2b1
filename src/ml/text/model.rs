//! A free-text column as model inputs: its tf-idf rows scored by a logistic regression learnt
//! from the target (one input, the log-odds, for two classes; one per class otherwise). The rest
//! of the pipeline sees these scores as ordinary numeric inputs: a model over a text column and
//! other columns (any algorithm that learns classes) is stacked on them, and explanations give
//! the text column one contribution.
//!
//! So that the model over all inputs does not learn to trust the text more than it deserves, it
//! is trained on out-of-fold scores: the text model of each of `folds` folds is fitted on the
//! other folds (cross-fitting, as scikit-learn's StackingClassifier does); the stored text model
//! is fitted on every training row. Identical texts (the same dictionary code) fall in one fold,
//! so a duplicated review never scores itself. Rows sharing a text and a class are fitted as
//! one row of their summed weight (exactly the same objective, much less work on corpora of
//! repeated reviews).

use super::sparse::{scores, Csr, SparseLogistic};
use super::tfidf::{normalize, Scratch, SparseRow, TextOptions, TfIdf};
use crate::ml::monitor::Monitor;
use crate::ml::parallel::Parallel;
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::collections::HashMap;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TextModel {
    pub tfidf: TfIdf,
    /// Outputs (1: log-odds of the positive class; else one per class), 0 before fitting.
    pub outputs: usize,
    /// outputs x tfidf.width(), row-major.
    pub coef: Vec<f64>,
    pub intercept: Vec<f64>,
    /// The n-grams behind the columns of largest weight (what top_terms shows), found again in
    /// the training texts after fitting: (column, n-gram, sign of its hash).
    pub terms: Vec<(u32, String, i8)>,
}

/// How a text model is fitted.
#[derive(Clone, Debug, PartialEq)]
pub struct TextFit {
    pub options: TextOptions,
    /// L2 penalty of its logistic regression (scikit-learn's 1/C).
    pub l2: f64,
    pub folds: usize,
    pub max_iter: usize,
}

impl Default for TextFit {
    fn default() -> Self {
        TextFit {
            options: TextOptions::default(),
            l2: 1.0,
            folds: 5,
            max_iter: 1000,
        }
    }
}

thread_local! {
    static BUFFERS: RefCell<(Scratch, SparseRow)> = RefCell::new(Default::default());
}

/// The n-grams kept per output and direction for top_terms.
const TERMS_KEPT: usize = 50;

impl TextModel {
    /// Before fitting: a placeholder that scores nothing.
    pub fn unfitted(options: TextOptions) -> TextModel {
        TextModel {
            tfidf: TfIdf {
                options,
                buckets: Vec::new(),
                idf: Vec::new(),
            },
            outputs: 0,
            coef: Vec::new(),
            intercept: Vec::new(),
            terms: Vec::new(),
        }
    }

    pub fn is_fitted(&self) -> bool {
        self.outputs > 0
    }

    /// The scores of a text (NULL: the intercepts, the scores of an empty text).
    pub fn scores(&self, text: Option<&str>, out: &mut [f64]) {
        BUFFERS.with(|b| {
            let (scratch, row) = &mut *b.borrow_mut();
            self.tfidf.transform(text, scratch, row);
            self.score_row(row, out);
        })
    }

    fn score_row(&self, row: &SparseRow, out: &mut [f64]) {
        // sparse::scores's sum, over the f64 values of a row being scored
        let d = self.tfidf.width();
        for (c, o) in out.iter_mut().enumerate().take(self.outputs) {
            let w = &self.coef[c * d..(c + 1) * d];
            *o = self.intercept[c]
                + row
                    .columns
                    .iter()
                    .zip(&row.values)
                    .map(|(&j, &v)| w[j as usize] * v)
                    .sum::<f64>();
        }
    }

    /// The weight of each kept n-gram for output `output`: (n-gram, weight), largest first.
    pub fn top_terms(&self, output: usize) -> Vec<(String, f64)> {
        let d = self.tfidf.width();
        let mut t: Vec<(String, f64)> = self
            .terms
            .iter()
            .filter_map(|(j, gram, sign)| {
                let w = self.coef.get(output * d + *j as usize)?;
                Some((gram.clone(), w * *sign as f64))
            })
            .collect();
        t.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        t
    }

    /// Checks a decoded text model: its vocabulary, and weights and terms that fit it.
    pub fn check(&self) -> Result<(), String> {
        self.tfidf.check()?;
        let d = self.tfidf.width();
        if self.outputs == 0
            || self.outputs > 1000
            || !self
                .coef
                .iter()
                .chain(&self.intercept)
                .all(|v| v.is_finite())
            || self.intercept.len() != self.outputs
            || self.coef.len() != self.outputs.saturating_mul(d)
            || self
                .terms
                .iter()
                .any(|(j, _, s)| *j as usize >= d || !matches!(s, 1 | -1))
        {
            return Err("text model weights do not fit its vocabulary".into());
        }
        Ok(())
    }
}

/// What a text model learns from: the class of each training row (0..classes) and its weight.
pub struct TextTarget<'a> {
    pub classes: &'a [usize],
    pub n_classes: usize,
    pub weights: &'a [f64],
}

/// Spreads dictionary codes over folds (a seeded mix, so that folds do not follow the order in
/// which texts were first seen).
fn fold_of(code: u32, folds: usize) -> usize {
    (super::tfidf::mix64(code as u64 ^ 0x9e37_79b9_7f4a_7c15) % folds as u64) as usize
}

/// Fits the text model of a dictionary-coded column (`codes[r]` indexes `dict`, `null` for NULL)
/// on training rows `rows`, and returns it with the out-of-fold scores of those rows (outputs
/// per row, in the order of `rows`); with `fit.folds` < 2, the in-sample scores.
#[allow(clippy::too_many_arguments)]
pub fn fit_column(
    dict: &[String],
    codes: &[u32],
    null: u32,
    rows: &[usize],
    target: &TextTarget,
    fit: &TextFit,
    par: &Parallel,
    monitor: &dyn Monitor,
) -> (TextModel, Vec<f64>) {
    let text = |c: u32| (c != null).then(|| dict[c as usize].as_str());
    // how often each text occurs in training, for the document frequencies
    let mut uses: HashMap<u32, u64> = HashMap::new();
    for &r in rows {
        *uses.entry(codes[r]).or_insert(0) += 1;
    }
    let mut distinct: Vec<(u32, u64)> = uses.into_iter().collect();
    distinct.sort_unstable();
    let tfidf = TfIdf::fit_counted(
        fit.options.clone(),
        distinct.iter().map(|&(c, n)| (text(c), n)),
        monitor,
    );
    // each distinct text's row, once
    let mut scratch = Scratch::default();
    let mut position: HashMap<u32, usize> = HashMap::with_capacity(distinct.len());
    let mut texts = Csr::new(tfidf.width());
    let mut row = SparseRow::default();
    for (i, &(c, _)) in distinct.iter().enumerate() {
        monitor.checkpoint();
        tfidf.transform(text(c), &mut scratch, &mut row);
        texts.push(&row);
        position.insert(c, i);
    }
    let codes_of: Vec<u32> = distinct.iter().map(|&(c, _)| c).collect();
    let crossed = cross_fit(
        &texts, &codes_of, &position, codes, rows, target, fit, par, monitor,
    );
    let mut model = TextModel {
        tfidf,
        outputs: crossed.outputs,
        coef: crossed.coef,
        intercept: crossed.intercept,
        terms: Vec::new(),
    };
    model.terms = find_terms(
        &model,
        distinct.iter().filter_map(|&(c, _)| text(c)),
        monitor,
    );
    (model, crossed.row_scores)
}

/// A text model's logistic regression, fitted on every training row, and the scores of those
/// rows it gives the model over all inputs to train on.
pub struct Crossed {
    pub outputs: usize,
    pub coef: Vec<f64>,
    pub intercept: Vec<f64>,
    /// outputs per training row, in the order of `rows`: out of fold, or with fewer than two
    /// folds in sample.
    pub row_scores: Vec<f64>,
}

/// Fits a logistic regression on the rows of `texts` (row i: the text of dictionary code
/// `distinct[i]`; `position` maps a code to its row) for training rows `rows`, and the
/// cross-fitted scores: the model of each fold is fitted on the other folds' texts. Rows sharing a
/// text and a class are fitted as one row of their summed weight.
#[allow(clippy::too_many_arguments)]
pub fn cross_fit(
    texts: &Csr,
    distinct: &[u32],
    position: &HashMap<u32, usize>,
    codes: &[u32],
    rows: &[usize],
    target: &TextTarget,
    fit: &TextFit,
    par: &Parallel,
    monitor: &dyn Monitor,
) -> Crossed {
    // one fitted row per (text, class): summed weights
    let mut groups: HashMap<(u32, usize), f64> = HashMap::new();
    for (i, &r) in rows.iter().enumerate() {
        *groups.entry((codes[r], target.classes[i])).or_insert(0.0) += target.weights[i];
    }
    let mut groups: Vec<((u32, usize), f64)> = groups.into_iter().collect();
    groups.sort_unstable_by_key(|a| a.0);
    let solver = SparseLogistic {
        l2: fit.l2,
        max_iter: fit.max_iter,
        tol: 1e-6,
    };
    let fit_groups = |keep: &dyn Fn(u32) -> bool| {
        let chosen: Vec<&((u32, usize), f64)> = groups.iter().filter(|g| keep(g.0 .0)).collect();
        let x = texts.select(&chosen.iter().map(|g| position[&g.0 .0]).collect::<Vec<_>>());
        let y: Vec<usize> = chosen.iter().map(|g| g.0 .1).collect();
        let w: Vec<f64> = chosen.iter().map(|g| g.1).collect();
        solver.fit(&x, &y, target.n_classes, &w, par, monitor)
    };
    let outputs = if target.n_classes == 2 {
        1
    } else {
        target.n_classes
    };
    let all = fit_groups(&|_| true);
    // scores of each distinct text: out of fold, or in sample
    let mut text_scores = vec![0.0; distinct.len() * outputs];
    let score_text = |coef: &[f64], intercept: &[f64], i: usize, out: &mut [f64]| {
        let (c, v) = texts.row(i);
        scores(coef, intercept, c, v, out);
    };
    if fit.folds >= 2 {
        for f in 0..fit.folds {
            let part = fit_groups(&|c| fold_of(c, fit.folds) != f);
            for (i, &c) in distinct.iter().enumerate() {
                if fold_of(c, fit.folds) == f {
                    let out = &mut text_scores[i * outputs..(i + 1) * outputs];
                    score_text(&part.coef, &part.intercept, i, out);
                }
            }
        }
    } else {
        for i in 0..distinct.len() {
            let out = &mut text_scores[i * outputs..(i + 1) * outputs];
            score_text(&all.coef, &all.intercept, i, out);
        }
    }
    let mut row_scores = Vec::with_capacity(rows.len() * outputs);
    for &r in rows {
        let i = position[&codes[r]];
        row_scores.extend_from_slice(&text_scores[i * outputs..(i + 1) * outputs]);
    }
    Crossed {
        outputs,
        coef: all.coef,
        intercept: all.intercept,
        row_scores,
    }
}

/// The n-grams behind the largest weights of each output, read again from the training texts:
/// for each such column, the n-gram that hashed there most often.
fn find_terms<'a>(
    model: &TextModel,
    texts: impl Iterator<Item = &'a str>,
    monitor: &dyn Monitor,
) -> Vec<(u32, String, i8)> {
    let d = model.tfidf.width();
    let mut wanted: Vec<u32> = Vec::new();
    for c in 0..model.outputs {
        let w = &model.coef[c * d..(c + 1) * d];
        let mut order: Vec<usize> = (0..d).collect();
        order.sort_by(|&a, &b| w[b].abs().total_cmp(&w[a].abs()));
        wanted.extend(order.iter().take(2 * TERMS_KEPT).map(|&j| j as u32));
    }
    wanted.sort_unstable();
    wanted.dedup();
    let mut seen: HashMap<u32, HashMap<String, u64>> =
        wanted.iter().map(|&j| (j, HashMap::new())).collect();
    let o = &model.tfidf.options;
    for t in texts {
        monitor.checkpoint();
        let t = normalize(t, o.max_chars);
        for (gram, char_gram) in o.ngram_strings(&t) {
            if let Some((j, _)) = model.tfidf.column_of(&gram, char_gram) {
                if let Some(m) = seen.get_mut(&(j as u32)) {
                    // word n-grams are told apart from character n-grams in the output
                    let shown = if char_gram {
                        gram
                    } else {
                        format!("{gram} (words)")
                    };
                    *m.entry(shown).or_insert(0) += 1;
                }
            }
        }
    }
    let mut terms = Vec::new();
    for (j, grams) in seen {
        if let Some((gram, _)) = grams
            .into_iter()
            .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(&a.0)))
        {
            let plain = gram.strip_suffix(" (words)").unwrap_or(&gram);
            let char_gram = !gram.ends_with(" (words)");
            let sign = model
                .tfidf
                .column_of(plain, char_gram)
                .map_or(1.0, |(_, s)| s);
            terms.push((j, plain.to_string(), if sign < 0.0 { -1 } else { 1 }));
        }
    }
    terms.sort_unstable();
    terms
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ml::monitor::Silent;

    /// A planted vocabulary: "cold", "late", "broken", "慢" mark unhappy reviews, "great",
    /// "fast", "好" happy ones, around neutral filler; many reviews repeated word for word.
    fn corpus(n: usize) -> (Vec<String>, Vec<u32>, Vec<usize>) {
        let happy = [
            "great taste",
            "fast delivery",
            "物流很好",
            "great and fast",
            "好喝",
        ];
        let sad = [
            "arrived cold",
            "late again",
            "broken box",
            "物流太慢",
            "cold and late",
        ];
        let filler = ["the coffee", "my order", "this time", "咖啡", "as usual"];
        let mut dict = Vec::new();
        let mut index: HashMap<String, u32> = HashMap::new();
        let (mut codes, mut y) = (Vec::new(), Vec::new());
        for i in 0..n {
            let label = (i * 7 + i / 3) % 2;
            let words = if label == 1 { &happy } else { &sad };
            // every fifth review is a copy of an earlier one
            let t = if i % 5 == 4 {
                format!("{} {}", filler[i % 5], words[0])
            } else {
                format!("{} {} {}", filler[(i / 2) % 5], words[i % 5], i % 13)
            };
            let next = dict.len() as u32;
            let c = *index.entry(t.clone()).or_insert_with(|| {
                dict.push(t);
                next
            });
            codes.push(c);
            y.push(label);
        }
        (dict, codes, y)
    }

    #[test]
    fn learns_planted_terms_and_scores_out_of_fold() {
        let (dict, codes, y) = corpus(600);
        let rows: Vec<usize> = (0..600).collect();
        let w = vec![1.0; 600];
        let target = TextTarget {
            classes: &y,
            n_classes: 2,
            weights: &w,
        };
        let (m, oof) = fit_column(
            &dict,
            &codes,
            u32::MAX,
            &rows,
            &target,
            &TextFit::default(),
            &Parallel::new(2),
            &Silent,
        );
        assert!(m.check().is_ok());
        assert_eq!(oof.len(), 600);
        // out-of-fold scores separate the classes (the planted words generalise)
        let right = (0..600).filter(|&i| (oof[i] > 0.0) == (y[i] == 1)).count();
        assert!(right > 570, "{right} of 600 right out of fold");
        // the stored model scores a new text by its words
        let mut s = [0.0];
        m.scores(Some("Great taste, FAST delivery"), &mut s);
        assert!(s[0] > 0.5, "{}", s[0]);
        m.scores(Some("cold and broken"), &mut s);
        assert!(s[0] < -0.5, "{}", s[0]);
        m.scores(None, &mut s);
        assert!((s[0] - m.intercept[0]).abs() < 1e-12);
        // top terms: planted words first on each side
        let top = m.top_terms(0);
        let best: Vec<&str> = top.iter().take(8).map(|t| t.0.as_str()).collect();
        assert!(
            best.iter()
                .any(|t| t.contains("great") || t.contains("fast") || t.contains("好")),
            "{best:?}"
        );
        let worst: Vec<&str> = top.iter().rev().take(8).map(|t| t.0.as_str()).collect();
        assert!(
            worst
                .iter()
                .any(|t| t.contains("cold") || t.contains("late") || t.contains("慢")),
            "{worst:?}"
        );
        // the same data and options give the same model
        let (again, _) = fit_column(
            &dict,
            &codes,
            u32::MAX,
            &rows,
            &target,
            &TextFit::default(),
            &Parallel::new(1),
            &Silent,
        );
        assert_eq!(again.terms, m.terms);
        assert!(again
            .coef
            .iter()
            .zip(&m.coef)
            .all(|(a, b)| (a - b).abs() < 1e-9));
    }

    #[test]
    fn duplicates_share_a_fold() {
        for c in 0..1000 {
            assert_eq!(fold_of(c, 5), fold_of(c, 5));
            assert!(fold_of(c, 5) < 5);
        }
        let counts = (0..1000).fold([0; 5], |mut a, c| {
            a[fold_of(c, 5)] += 1;
            a
        });
        assert!(counts.iter().all(|&n| n > 150), "{counts:?}");
    }

    #[test]
    fn three_classes_and_a_damaged_model() {
        let dict: Vec<String> = ["bad", "ok", "good", "very bad", "fine ok", "very good"]
            .map(String::from)
            .to_vec();
        let codes: Vec<u32> = (0..60).map(|i| (i % 6) as u32).collect();
        let y: Vec<usize> = codes.iter().map(|&c| (c % 3) as usize).collect();
        let rows: Vec<usize> = (0..60).collect();
        let w = vec![1.0; 60];
        let (m, oof) = fit_column(
            &dict,
            &codes,
            u32::MAX,
            &rows,
            &TextTarget {
                classes: &y,
                n_classes: 3,
                weights: &w,
            },
            &TextFit {
                folds: 0,
                ..TextFit::default()
            },
            &Parallel::serial(),
            &Silent,
        );
        assert_eq!((m.outputs, oof.len()), (3, 180));
        let mut s = [0.0; 3];
        m.scores(Some("very good"), &mut s);
        assert!(s[2] > s[0] && s[2] > s[1], "{s:?}");
        let mut bad = m.clone();
        bad.coef.pop();
        assert!(bad.check().is_err());
        let mut bad = m.clone();
        bad.terms.push((u32::MAX, "x".into(), 1));
        assert!(bad.check().is_err());
        let mut bad = m.clone();
        bad.coef[0] = f64::NAN;
        assert!(bad.check().is_err());
        let mut bad = m.clone();
        bad.intercept[1] = f64::INFINITY;
        assert!(bad.check().is_err());
    }
}
