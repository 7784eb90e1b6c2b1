//! Gradient boosting (Friedman 2001) with second-order leaf values (XGBoost's Newton step):
//! each round fits one tree per output to the loss's gradients and hessians at the current
//! scores. Losses: log-loss for two classes (one output, the log-odds), softmax cross-entropy
//! for more (one tree per class and round), squared error for values. Early stopping watches the
//! loss on validation rows carved from the training rows and keeps the best round's trees.

use crate::ml::algorithms::Target;
use crate::ml::linalg::{sigmoid, softmax_in_place, Matrix};
use crate::ml::monitor::Monitor;
use crate::ml::parallel::Parallel;
use crate::ml::split;
use crate::ml::trees::bins::Binned;
use crate::ml::trees::grow::{grow, GrowOptions};
use crate::ml::trees::tree::Tree;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Trees walked at once when scoring a row (100 trees of 31 leaves on the reference rows: about
/// 2.4 us a row with 8 or 4, 4.6 us one tree after the other).
const WALKS: usize = 8;

/// A boosted ensemble: `outputs` trees a round (round-major), added to `base`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Boosted {
    pub outputs: usize,
    pub base: Vec<f64>,
    pub trees: Vec<Tree>,
}

impl Boosted {
    /// The raw scores (log-odds, class scores before softmax, or the value) of an encoded row.
    #[inline]
    pub fn raw(&self, x: &[f64], out: &mut [f64]) {
        let k = self.outputs;
        for (c, o) in out[..k].iter_mut().enumerate() {
            // the trees of output c, WALKS at a time (Tree::predict_n)
            let mut trees = self.trees.iter().skip(c).step_by(k);
            let mut sum = self.base[c];
            loop {
                let chunk: [Option<&Tree>; WALKS] = std::array::from_fn(|_| trees.next());
                if chunk[WALKS - 1].is_some() {
                    sum += Tree::predict_n(chunk.map(|t| t.expect("a full chunk")), x);
                } else {
                    sum += chunk.iter().flatten().map(|t| t.predict(x)).sum::<f64>();
                    break;
                }
            }
            *o = sum;
        }
    }

    /// What TreeSHAP costs per row, in path steps: leaves x (depth + 1)^2 summed over the
    /// trees (about 400,000 for 100 trees of 31 leaves; a forest of 100 trees of 1024 leaves
    /// 30 deep, about 100 million).
    pub fn shap_cost(&self) -> f64 {
        self.trees
            .iter()
            .map(|t| t.leaf_value.len() as f64 * ((t.depth() + 1) as f64).powi(2))
            .sum()
    }

    /// TreeSHAP values of an encoded row for `output` (raw-score units: log-odds, class
    /// score, value), and the expected raw score they add to.
    pub fn shap(&self, x: &[f64], output: usize) -> (Vec<f64>, f64) {
        let mut phi = vec![0.0; x.len()];
        let mut base = self.base[output];
        for t in self.trees.iter().skip(output).step_by(self.outputs) {
            crate::ml::trees::shap::add_tree_shap(t, x, &mut phi);
            base += crate::ml::trees::shap::expected_value(t);
        }
        (phi, base)
    }

    pub fn rounds(&self) -> usize {
        self.trees.len() / self.outputs.max(1)
    }

    /// Sum of split gains per encoded input over every tree.
    pub fn gain_importance(&self, width: usize) -> Vec<f64> {
        let mut out = vec![0.0; width];
        for t in &self.trees {
            for (s, &g) in t.nodes.iter().zip(&t.gain) {
                out[s.input as usize] += g;
            }
        }
        out
    }

    pub fn check(&self, width: usize) -> Result<(), String> {
        if self.outputs == 0
            || self.base.len() != self.outputs
            || !self.trees.len().is_multiple_of(self.outputs)
            || self.base.iter().any(|b| !b.is_finite())
        {
            return Err("a boosted model's outputs, base scores and trees do not agree".into());
        }
        self.trees.iter().try_for_each(|t| t.check(width))
    }
}

#[derive(Clone)]
pub struct BoostOptions {
    pub rounds: usize,
    pub tree: GrowOptions,
    pub max_bins: usize,
    /// Fraction of the training rows each tree sees (drawn without replacement).
    pub subsample: f64,
    /// Fraction of the inputs each tree may split on.
    pub colsample: f64,
    pub early_stopping: bool,
    pub validation_fraction: f64,
    /// Rounds without a validation improvement of more than `tol` before stopping.
    pub patience: usize,
    pub tol: f64,
    pub seed: u64,
    /// Per input, the codes of a coded category (its splits take sets of them); 0 or no entry:
    /// a number. From the training data, not an option.
    pub levels: Vec<usize>,
}

/// gbdt's defaults, scikit-learn's HistGradientBoosting's with early stopping off (the recipe
/// turns it on from 10,000 rows, as scikit-learn's "auto").
impl Default for BoostOptions {
    fn default() -> Self {
        BoostOptions {
            rounds: 100,
            tree: GrowOptions::default(),
            max_bins: 255,
            subsample: 1.0,
            colsample: 1.0,
            early_stopping: false,
            validation_fraction: 0.1,
            patience: 10,
            tol: 1e-7,
            seed: 0,
            levels: Vec::new(),
        }
    }
}

pub struct BoostFit {
    pub model: Boosted,
    /// Rounds grown (the model keeps `best_round` of them when early stopping ended the fit).
    pub rounds_run: usize,
    pub best_round: usize,
    pub train_loss: f64,
    pub validation_loss: Option<f64>,
    pub validation_rows: usize,
}

#[derive(Clone, Copy)]
enum Loss {
    Binary,
    Softmax(usize),
    Squared,
}

impl Loss {
    fn outputs(self) -> usize {
        match self {
            Loss::Softmax(k) => k,
            _ => 1,
        }
    }
}

/// Fits the ensemble. `weights` are per-row sample weights (class weights); rows with weight 0
/// do not count.
pub fn fit(
    x: &Matrix,
    target: &Target,
    weights: &[f64],
    o: &BoostOptions,
    par: &Parallel,
    monitor: &dyn Monitor,
) -> BoostFit {
    let n = x.rows;
    let (loss, labels, values): (Loss, &[usize], &[f64]) = match *target {
        Target::Classes(l, 2) => (Loss::Binary, l, &[]),
        Target::Classes(l, k) => (Loss::Softmax(k), l, &[]),
        Target::Values(v) => (Loss::Squared, &[], v),
        Target::None => unreachable!("boosting needs a target"),
    };
    let k = loss.outputs();
    let (train, valid) = if o.early_stopping && n >= 4 {
        match loss {
            Loss::Squared => split::random(n, o.validation_fraction, o.seed),
            _ => split::stratified(labels, k.max(2), o.validation_fraction, o.seed),
        }
    } else {
        ((0..n).collect(), Vec::new())
    };
    let binned = Binned::new(x, &train, o.max_bins, &o.levels, par);
    let nt = train.len();
    // per training row: class or value, weight
    let w: Vec<f64> = train.iter().map(|&r| weights[r]).collect();
    let base = base_scores(loss, &train, labels, values, weights, k);
    let mut raw: Vec<f64> = (0..nt).flat_map(|_| base.clone()).collect();
    let mut vraw: Vec<f64> = (0..valid.len()).flat_map(|_| base.clone()).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(o.seed ^ 0x6764_6274);
    let mut trees: Vec<Tree> = Vec::new();
    let (mut g, mut h) = (vec![0.0; nt * k], vec![0.0; nt * k]);
    let mut best = (f64::INFINITY, 0usize);
    // the training rows' scores at the best round so far (early stopping keeps its trees)
    let mut best_raw = if valid.is_empty() {
        Vec::new()
    } else {
        raw.clone()
    };
    let mut since_best = 0;
    let mut rounds_run = 0;
    let width = x.cols;
    let mut proba = vec![0.0; k];
    for round in 0..o.rounds {
        monitor.checkpoint();
        // gradients and hessians of every output at the current scores
        for i in 0..nt {
            let r = &raw[i * k..(i + 1) * k];
            match loss {
                Loss::Binary => {
                    let p = sigmoid(r[0]);
                    let y = f64::from(labels[train[i]] == 1);
                    g[i] = w[i] * (p - y);
                    h[i] = w[i] * (p * (1.0 - p)).max(1e-16);
                }
                Loss::Softmax(_) => {
                    proba.copy_from_slice(r);
                    softmax_in_place(&mut proba);
                    for c in 0..k {
                        let y = f64::from(labels[train[i]] == c);
                        g[c * nt + i] = w[i] * (proba[c] - y);
                        h[c * nt + i] = w[i] * (proba[c] * (1.0 - proba[c])).max(1e-16);
                    }
                }
                Loss::Squared => {
                    g[i] = w[i] * (r[0] - values[train[i]]);
                    h[i] = w[i];
                }
            }
        }
        let rows: Vec<u32> = if o.subsample < 1.0 {
            let m = ((nt as f64 * o.subsample).round() as usize).clamp(1, nt);
            let mut all: Vec<u32> = (0..nt as u32).collect();
            all.partial_shuffle(&mut rng, m);
            let mut s = all[..m].to_vec();
            s.sort_unstable();
            s
        } else {
            (0..nt as u32).collect()
        };
        let allowed: Vec<bool> = if o.colsample < 1.0 {
            let m = ((width as f64 * o.colsample).round() as usize).clamp(1, width);
            let mut cols: Vec<usize> = (0..width).collect();
            cols.partial_shuffle(&mut rng, m);
            let mut a = vec![false; width];
            cols[..m].iter().for_each(|&j| a[j] = true);
            a
        } else {
            vec![true; width]
        };
        let mut in_sample = vec![rows.len() == nt; nt];
        if rows.len() < nt {
            rows.iter().for_each(|&r| in_sample[r as usize] = true);
        }
        for c in 0..k {
            let (gc, hc) = match loss {
                Loss::Softmax(_) => (&g[c * nt..(c + 1) * nt], &h[c * nt..(c + 1) * nt]),
                _ => (&g[..nt], &h[..nt]),
            };
            let grown = grow(
                &binned,
                gc,
                hc,
                rows.clone(),
                &allowed,
                &o.tree,
                par,
                monitor,
            );
            for (leaf, leaf_rows) in grown.leaf_rows.iter().enumerate() {
                let v = grown.tree.leaf_value[leaf];
                for &r in leaf_rows {
                    raw[r as usize * k + c] += v;
                }
            }
            if rows.len() < nt {
                for i in (0..nt).filter(|&i| !in_sample[i]) {
                    raw[i * k + c] += grown.tree.predict(x.row(train[i]));
                }
            }
            for (i, &r) in valid.iter().enumerate() {
                vraw[i * k + c] += grown.tree.predict(x.row(r));
            }
            trees.push(grown.tree);
        }
        rounds_run = round + 1;
        let want_progress = monitor.wants_progress();
        if valid.is_empty() {
            if want_progress {
                let tl = mean_loss(loss, &raw, &train, labels, values, weights, k);
                monitor.progress(&format!(
                    "gbdt: round {rounds_run} of {}: training loss {tl:.6}",
                    o.rounds
                ));
            }
            continue;
        }
        let vl = mean_loss(loss, &vraw, &valid, labels, values, weights, k);
        if want_progress {
            let tl = mean_loss(loss, &raw, &train, labels, values, weights, k);
            let auc = match loss {
                Loss::Binary => {
                    let y: Vec<bool> = valid.iter().map(|&r| labels[r] == 1).collect();
                    format!(
                        ", validation AUC {:.4}",
                        crate::ml::metrics::roc_auc(&vraw, &y)
                    )
                }
                _ => String::new(),
            };
            monitor.progress(&format!(
                "gbdt: round {rounds_run} of {}: training loss {tl:.6}, validation loss {vl:.6}{auc}",
                o.rounds
            ));
        }
        if vl < best.0 - o.tol {
            best = (vl, rounds_run);
            best_raw.copy_from_slice(&raw);
            since_best = 0;
        } else {
            since_best += 1;
            if since_best >= o.patience {
                break;
            }
        }
    }
    let best_round = if valid.is_empty() || best.1 == 0 {
        rounds_run
    } else {
        best.1
    };
    trees.truncate(best_round * k);
    // the training loss of the kept trees, from the scores the rounds kept up to date (not by
    // scoring every training row with them again)
    let kept_raw = if best_round == rounds_run {
        &raw
    } else {
        &best_raw
    };
    let train_loss = mean_loss(loss, kept_raw, &train, labels, values, weights, k);
    let model = Boosted {
        outputs: k,
        base,
        trees,
    };
    BoostFit {
        model,
        rounds_run,
        best_round,
        train_loss,
        validation_loss: (!valid.is_empty()).then_some(best.0),
        validation_rows: valid.len(),
    }
}

/// The constant the trees start from: the log-odds of the weighted positive rate, the log of
/// each class's weighted share, or the weighted mean value.
fn base_scores(
    loss: Loss,
    rows: &[usize],
    labels: &[usize],
    values: &[f64],
    weights: &[f64],
    k: usize,
) -> Vec<f64> {
    let total: f64 = rows.iter().map(|&r| weights[r]).sum::<f64>().max(1e-300);
    match loss {
        Loss::Binary => {
            let pos: f64 = rows
                .iter()
                .filter(|&&r| labels[r] == 1)
                .map(|&r| weights[r])
                .sum();
            let p = (pos / total).clamp(1e-12, 1.0 - 1e-12);
            vec![(p / (1.0 - p)).ln()]
        }
        Loss::Softmax(_) => {
            let mut share = vec![0.0; k];
            for &r in rows {
                share[labels[r]] += weights[r];
            }
            share
                .iter()
                .map(|s| (s / total).clamp(1e-12, 1.0).ln())
                .collect()
        }
        Loss::Squared => vec![rows.iter().map(|&r| weights[r] * values[r]).sum::<f64>() / total],
    }
}

/// Weighted mean loss of rows (raw scores row-major, `k` per row).
fn mean_loss(
    loss: Loss,
    raw: &[f64],
    rows: &[usize],
    labels: &[usize],
    values: &[f64],
    weights: &[f64],
    k: usize,
) -> f64 {
    let mut sum = 0.0;
    let mut total = 0.0;
    let mut p = vec![0.0; k];
    for (i, &r) in rows.iter().enumerate() {
        let s = &raw[i * k..(i + 1) * k];
        let l = match loss {
            Loss::Binary => {
                // log(1 + e^-z) for the positive class, log(1 + e^z) for the other, stably
                let z = if labels[r] == 1 { s[0] } else { -s[0] };
                (-z).max(0.0) + (-z.abs()).exp().ln_1p()
            }
            Loss::Softmax(_) => {
                p.copy_from_slice(s);
                softmax_in_place(&mut p);
                -p[labels[r]].max(1e-300).ln()
            }
            Loss::Squared => {
                let d = s[0] - values[r];
                d * d
            }
        };
        sum += weights[r] * l;
        total += weights[r];
    }
    if total > 0.0 {
        sum / total
    } else {
        f64::NAN
    }
}
