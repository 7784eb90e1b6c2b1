//! L2-regularised logistic regression, binary (Newton's method) and multinomial (L-BFGS).
//!
//! Objective, as scikit-learn's `LogisticRegression(C = 1/l2)`:
//!   sum_i w_i * loss_i + 0.5 * l2 * ||coef||^2      (the intercept is not penalised)
//! where w_i are sample weights (class weights for imbalanced labels).
//!
//! Why not linfa-logistic or smartcore: neither takes per-sample weights, which class weighting
//! needs, and we want deterministic, cancellable, parallel passes over up to millions of rows.
//! Solving to a tight gradient tolerance makes the coefficients match scikit-learn's to 1e-6 on
//! the reference data in the tests below.

use super::{Algorithm, FitContext, Fitted, Learns, Recipe, RecipeContext, Target, TrainingData};
pub use crate::ml::linalg::sigmoid;
use crate::ml::linalg::{dot, solve_spd_regularised, Matrix};
use crate::ml::model::Estimator;
use crate::ml::monitor::Monitor;
use crate::ml::optim::{self, LbfgsOptions};
use crate::ml::options::Options;
use crate::ml::parallel::Parallel;
use crate::ml::problem::Problem;
use serde_json::json;
use std::time::Instant;

pub static ALGORITHM: Algorithm = Algorithm {
    name: "logistic",
    learns: &[Learns::Classes],
    default_for: Some(Learns::Classes),
    options: &["l2", "max_iter", "tol"],
    native_inputs: false,
    all_text_is_free: false,
    recipe: read_recipe,
};

pub(super) fn read_recipe(o: &Options, _: &RecipeContext) -> Result<Box<dyn Recipe>, Problem> {
    Ok(Box::new(LogisticOptions {
        l2: o.f64_in("l2", 1.0, 0.0, 1e12, "a number >= 0")?,
        max_iter: o.usize_in("max_iter", 100, 1, 100_000)?,
        tol: o.f64_in("tol", 1e-10, 1e-16, 1.0, "a number in (0, 1]")?,
    }))
}

impl Recipe for LogisticOptions {
    fn fit(&self, data: &TrainingData, ctx: &FitContext) -> Result<Fitted, Problem> {
        let Target::Classes(y, k) = data.target else {
            unreachable!("logistic learns classes only")
        };
        let f = fit(data.x, y, k, data.weights, self, ctx.par, ctx.monitor);
        if !f.converged {
            ctx.monitor.warn(&format!(
                "logistic regression stopped after {} iterations before converging; raise options.max_iter or l2",
                f.iterations
            ));
        }
        let info = json!({ "iterations": f.iterations, "converged": f.converged });
        Ok(Fitted {
            estimator: Estimator::Linear {
                coef: f.coef,
                intercept: f.intercept,
            },
            info: info.as_object().cloned().unwrap_or_default(),
        })
    }

    fn options(&self) -> serde_json::Value {
        json!({ "l2": self.l2, "max_iter": self.max_iter, "tol": self.tol })
    }
}

#[derive(Clone, Debug)]
pub struct LogisticOptions {
    /// L2 penalty strength (scikit-learn's 1/C).
    pub l2: f64,
    pub max_iter: usize,
    /// Convergence: largest gradient component at most `tol` times the total sample weight, or a
    /// step that cannot lower the loss by more than optim::UNREACHABLE_DECREASE of it.
    pub tol: f64,
}

impl Default for LogisticOptions {
    fn default() -> Self {
        LogisticOptions {
            l2: 1.0,
            max_iter: 100,
            tol: 1e-10,
        }
    }
}

/// A fitted model: for two classes one row of coefficients (log-odds of class 1), for K > 2
/// classes K rows (softmax scores).
#[derive(Clone, Debug)]
pub struct LogisticFit {
    pub coef: Vec<f64>,
    pub intercept: Vec<f64>,
    pub n_features: usize,
    pub iterations: usize,
    pub converged: bool,
    pub loss: f64,
}

impl LogisticFit {
    pub fn outputs(&self) -> usize {
        self.intercept.len()
    }
}

/// Binary fits use Newton's method up to this many parameters (the Hessian costs d^2 per row),
/// L-BFGS beyond.
const NEWTON_MAX_PARAMS: usize = 160;

/// `y[i]` is the class index in `0..n_classes`.
pub fn fit(
    x: &Matrix,
    y: &[usize],
    n_classes: usize,
    sample_weight: &[f64],
    opts: &LogisticOptions,
    par: &Parallel,
    monitor: &dyn Monitor,
) -> LogisticFit {
    assert_eq!(x.rows, y.len());
    assert_eq!(x.rows, sample_weight.len());
    assert!(n_classes >= 2);
    if n_classes == 2 && x.cols < NEWTON_MAX_PARAMS {
        fit_binary_newton(x, y, sample_weight, opts, par, monitor)
    } else {
        fit_lbfgs(x, y, n_classes, sample_weight, opts, par, monitor)
    }
}

/// log(1 + exp(z)) without overflow.
#[inline]
pub fn log1pexp(z: f64) -> f64 {
    if z > 0.0 {
        z + (-z).exp().ln_1p()
    } else {
        z.exp().ln_1p()
    }
}

struct NewtonAcc {
    loss: f64,
    grad: Vec<f64>,
    hess: Vec<f64>,
}

fn fit_binary_newton(
    x: &Matrix,
    y: &[usize],
    w: &[f64],
    opts: &LogisticOptions,
    par: &Parallel,
    monitor: &dyn Monitor,
) -> LogisticFit {
    let d = x.cols;
    let m = d + 1; // coefficients, then the intercept
    let total_w: f64 = w.iter().sum();
    let mut theta = vec![0.0; m];
    let started = Instant::now();

    let penalised_loss = |theta: &[f64], par: &Parallel| -> f64 {
        let parts = par.map_blocks(x.rows, monitor, |r| {
            let mut l = 0.0;
            for i in r {
                let z = dot(x.row(i), &theta[..d]) + theta[d];
                l += w[i] * (log1pexp(z) - if y[i] == 1 { z } else { 0.0 });
            }
            l
        });
        parts.iter().sum::<f64>() + 0.5 * opts.l2 * dot(&theta[..d], &theta[..d])
    };

    let mut loss = f64::INFINITY;
    let mut converged = false;
    let mut it = 0;
    while it < opts.max_iter {
        it += 1;
        let parts = par.map_blocks(x.rows, monitor, |r| {
            let mut acc = NewtonAcc {
                loss: 0.0,
                grad: vec![0.0; m],
                hess: vec![0.0; m * m],
            };
            let mut xi = vec![0.0; m];
            for i in r {
                xi[..d].copy_from_slice(x.row(i));
                xi[d] = 1.0;
                let z = dot(&xi[..d], &theta[..d]) + theta[d];
                let p = sigmoid(z);
                let yi = if y[i] == 1 { 1.0 } else { 0.0 };
                acc.loss += w[i] * (log1pexp(z) - yi * z);
                let r_ = w[i] * (p - yi);
                let s = w[i] * p * (1.0 - p);
                for a in 0..m {
                    acc.grad[a] += r_ * xi[a];
                    let sa = s * xi[a];
                    let row = &mut acc.hess[a * m..a * m + m];
                    // upper triangle only; mirrored below
                    for b in a..m {
                        row[b] += sa * xi[b];
                    }
                }
            }
            acc
        });
        let mut grad = vec![0.0; m];
        let mut hess = vec![0.0; m * m];
        let mut data_loss = 0.0;
        for p in &parts {
            data_loss += p.loss;
            for (g, v) in grad.iter_mut().zip(&p.grad) {
                *g += v;
            }
            for (h, v) in hess.iter_mut().zip(&p.hess) {
                *h += v;
            }
        }
        for a in 0..m {
            for b in 0..a {
                hess[a * m + b] = hess[b * m + a];
            }
        }
        for j in 0..d {
            grad[j] += opts.l2 * theta[j];
            hess[j * m + j] += opts.l2;
        }
        loss = data_loss + 0.5 * opts.l2 * dot(&theta[..d], &theta[..d]);
        let gmax = grad.iter().fold(0.0f64, |a, g| a.max(g.abs()));
        if monitor.wants_progress() {
            monitor.progress(&format!(
                "logistic (newton) iteration {it}: loss {:.6}, max |gradient| {:.3e}, elapsed {:.2}s",
                loss / total_w,
                gmax / total_w,
                started.elapsed().as_secs_f64()
            ));
        }
        if gmax <= opts.tol * total_w {
            converged = true;
            break;
        }
        // a Hessian that overflowed cannot give a step: stop where the loss was last finite
        let Some(delta) = solve_spd_regularised(&hess, m, &grad, monitor) else {
            break;
        };
        if 0.5 * dot(&grad, &delta) <= optim::UNREACHABLE_DECREASE * loss.abs() {
            // the loss decrease a full Newton step predicts is below float64's resolution of the
            // loss: no step can improve it, whatever the last digits of the gradient say (they
            // can stall just above `tol`, e.g. at 1.1e-10 per unit weight)
            converged = true;
            break;
        }
        // Backtracking keeps Newton safe far from the optimum (nearly separable data).
        let slope = -dot(&grad, &delta);
        let mut t = 1.0;
        let mut moved = false;
        for _ in 0..30 {
            let cand: Vec<f64> = theta
                .iter()
                .zip(&delta)
                .map(|(th, dl)| th - t * dl)
                .collect();
            let l = penalised_loss(&cand, par);
            if l.is_finite() && l <= loss + 1e-4 * t * slope {
                theta = cand;
                moved = true;
                break;
            }
            t *= 0.5;
        }
        if !moved {
            // no further decrease representable: at the optimum to machine precision
            converged = gmax <= opts.tol * total_w * 1e4;
            break;
        }
    }
    LogisticFit {
        coef: theta[..d].to_vec(),
        intercept: vec![theta[d]],
        n_features: d,
        iterations: it,
        converged,
        loss: loss / total_w,
    }
}

/// The loss of one row of weight `w` and class `y` with scores `z` (one output: the log-odds of
/// class 1; else one per class, softmax), which become the residuals d loss / d z.
pub fn loss_and_residuals(z: &mut [f64], y: usize, w: f64) -> f64 {
    if z.len() == 1 {
        let yi = if y == 1 { 1.0 } else { 0.0 };
        let loss = w * (log1pexp(z[0]) - yi * z[0]);
        z[0] = w * (sigmoid(z[0]) - yi);
        loss
    } else {
        let zmax = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let lse = zmax + z.iter().map(|v| (v - zmax).exp()).sum::<f64>().ln();
        let loss = w * (lse - z[y]);
        for (c, zc) in z.iter_mut().enumerate() {
            let p = (*zc - lse).exp();
            *zc = w * (p - if c == y { 1.0 } else { 0.0 });
        }
        loss
    }
}

/// An L2-penalised objective over `outputs` linear outputs of `width` coefficients and an
/// intercept each (parameters of output c at c x (width + 1), its intercept last), as the dense
/// and the sparse (ml::text::sparse) logistic regressions solve it.
pub struct Penalised {
    pub outputs: usize,
    pub width: usize,
    pub l2: f64,
    pub max_iter: usize,
    pub gtol: f64,
    /// The sum of the sample weights (progress shows the loss per unit of weight).
    pub total_weight: f64,
    /// Names the solver in progress messages.
    pub label: &'static str,
}

/// Minimises `data` (the loss summed over the rows, its gradient written into the second
/// argument) plus 0.5 l2 ||coef||^2 (intercepts not penalised) with L-BFGS from zero, reporting
/// progress every 10 iterations; returns the coefficients (outputs x width, row-major), the
/// intercepts and the solver's result.
pub fn minimize_penalised(
    p: Penalised,
    mut data: impl FnMut(&[f64], &mut [f64]) -> f64,
    monitor: &dyn Monitor,
) -> (Vec<f64>, Vec<f64>, optim::LbfgsResult) {
    let (k, d) = (p.outputs, p.width);
    let stride = d + 1;
    let started = Instant::now();
    let objective = |theta: &[f64], grad: &mut [f64]| -> f64 {
        let mut loss = data(theta, grad);
        for c in 0..k {
            for j in 0..d {
                let t = theta[c * stride + j];
                loss += 0.5 * p.l2 * t * t;
                grad[c * stride + j] += p.l2 * t;
            }
        }
        loss
    };
    let progress = monitor.wants_progress();
    let res = optim::minimize(
        vec![0.0; k * stride],
        objective,
        &LbfgsOptions {
            max_iter: p.max_iter,
            gtol: p.gtol,
            memory: 10,
        },
        monitor,
        |it, f, gmax| {
            if progress && (it % 10 == 0 || it == 1) {
                monitor.progress(&format!(
                    "{} iteration {it}: loss {:.6}, max |gradient| {:.3e}, elapsed {:.2}s",
                    p.label,
                    f / p.total_weight,
                    gmax / p.total_weight,
                    started.elapsed().as_secs_f64()
                ));
            }
        },
    );
    let mut coef = Vec::with_capacity(k * d);
    let mut intercept = Vec::with_capacity(k);
    for c in 0..k {
        coef.extend_from_slice(&res.x[c * stride..c * stride + d]);
        intercept.push(res.x[c * stride + d]);
    }
    (coef, intercept, res)
}

fn fit_lbfgs(
    x: &Matrix,
    y: &[usize],
    n_classes: usize,
    w: &[f64],
    opts: &LogisticOptions,
    par: &Parallel,
    monitor: &dyn Monitor,
) -> LogisticFit {
    let d = x.cols;
    // two classes over many features: one output (log-odds); otherwise one output per class
    let k = if n_classes == 2 { 1 } else { n_classes };
    let stride = d + 1;
    let total_w: f64 = w.iter().sum();
    let objective = |theta: &[f64], grad: &mut [f64]| -> f64 {
        let parts = par.map_blocks(x.rows, monitor, |r| {
            let mut g = vec![0.0; k * stride];
            let mut z = vec![0.0; k];
            let mut loss = 0.0;
            for i in r {
                let xi = x.row(i);
                for c in 0..k {
                    z[c] = dot(xi, &theta[c * stride..c * stride + d]) + theta[c * stride + d];
                }
                loss += loss_and_residuals(&mut z, y[i], w[i]);
                for c in 0..k {
                    let r_ = z[c];
                    let gc = &mut g[c * stride..(c + 1) * stride];
                    for j in 0..d {
                        gc[j] += r_ * xi[j];
                    }
                    gc[d] += r_;
                }
            }
            (loss, g)
        });
        grad.iter_mut().for_each(|v| *v = 0.0);
        let mut loss = 0.0;
        for (l, g) in &parts {
            loss += l;
            for (a, b) in grad.iter_mut().zip(g) {
                *a += b;
            }
        }
        loss
    };
    let (coef, intercept, res) = minimize_penalised(
        Penalised {
            outputs: k,
            width: d,
            l2: opts.l2,
            max_iter: opts.max_iter.max(1) * 10,
            gtol: opts.tol * total_w,
            total_weight: total_w,
            label: "logistic (lbfgs)",
        },
        objective,
        monitor,
    );
    LogisticFit {
        coef,
        intercept,
        n_features: d,
        iterations: res.iterations,
        converged: res.converged,
        loss: res.f / total_w,
    }
}

/// scikit-learn's `class_weight='balanced'`: n / (n_classes * count(class)), per sample.
pub fn balanced_weights(y: &[usize], n_classes: usize) -> Vec<f64> {
    let mut counts = vec![0usize; n_classes];
    for &c in y {
        counts[c] += 1;
    }
    let n = y.len() as f64;
    let per_class: Vec<f64> = counts
        .iter()
        .map(|&c| {
            if c == 0 {
                0.0
            } else {
                n / (n_classes as f64 * c as f64)
            }
        })
        .collect();
    y.iter().map(|&c| per_class[c]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ml::monitor::Silent;

    /// The reference data set of tests/reference/logistic_reference.py: 200 rows, 3 features,
    /// x_ij = sin((i+1)*(j+2)*0.37) * (j+1), labels from a fixed rule with deterministic noise.
    pub fn reference_binary() -> (Matrix, Vec<usize>) {
        let n = 200;
        let mut rows = Vec::new();
        let mut y = Vec::new();
        for i in 0..n {
            let r: Vec<f64> = (0..3)
                .map(|j| ((i + 1) as f64 * (j + 2) as f64 * 0.37).sin() * (j + 1) as f64)
                .collect();
            let noise = ((i as f64) * 12.9898).sin() * 43758.5453;
            let noise = noise - noise.floor() - 0.5;
            let s = 1.5 * r[0] - 0.8 * r[1] + 0.3 * r[2] + 2.0 * noise;
            y.push(if s > 0.2 { 1 } else { 0 });
            rows.push(r);
        }
        (Matrix::from_rows(&rows), y)
    }

    pub fn reference_multiclass() -> (Matrix, Vec<usize>) {
        let n = 300;
        let mut rows = Vec::new();
        let mut y = Vec::new();
        for i in 0..n {
            let r: Vec<f64> = (0..2)
                .map(|j| ((i + 1) as f64 * (j + 3) as f64 * 0.23).cos() * (j + 1) as f64)
                .collect();
            let noise = ((i as f64) * 78.233).sin() * 43758.5453;
            let noise = noise - noise.floor() - 0.5;
            let s = r[0] + 0.5 * r[1] + 1.5 * noise;
            y.push(if s < -0.5 {
                0
            } else if s < 0.6 {
                1
            } else {
                2
            });
            rows.push(r);
        }
        (Matrix::from_rows(&rows), y)
    }

    fn assert_close(got: &[f64], want: &[f64], tol: f64) {
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() <= tol, "got {got:?}\nwant {want:?}");
        }
    }

    // Values from scikit-learn 1.2.1 (Debian bookworm python3-sklearn), computed by
    // tests/reference/logistic_reference.py:
    //   LogisticRegression(C=1.0, tol=1e-12, max_iter=10000).fit(X, y)
    const SK_BINARY_COEF: [f64; 3] = [3.2140197522, -1.6792622203, 0.5827269615];
    const SK_BINARY_INTERCEPT: f64 = -0.3714954537;
    //   LogisticRegression(C=0.5, class_weight='balanced', tol=1e-12, max_iter=10000)
    const SK_BALANCED_COEF: [f64; 3] = [2.7020657707, -1.4138072086, 0.5007880454];
    const SK_BALANCED_INTERCEPT: f64 = -0.1961891512;

    #[test]
    fn binary_matches_scikit_learn() {
        let (x, y) = reference_binary();
        let w = vec![1.0; y.len()];
        let fit = fit(
            &x,
            &y,
            2,
            &w,
            &LogisticOptions::default(),
            &Parallel::serial(),
            &Silent,
        );
        assert!(fit.converged);
        assert_close(&fit.coef, &SK_BINARY_COEF, 5e-5);
        assert_close(&fit.intercept, &[SK_BINARY_INTERCEPT], 5e-5);
    }

    #[test]
    fn balanced_class_weights_match_scikit_learn() {
        let (x, y) = reference_binary();
        let w = balanced_weights(&y, 2);
        let opts = LogisticOptions {
            l2: 2.0,
            ..Default::default()
        };
        let fit = fit(&x, &y, 2, &w, &opts, &Parallel::new(2), &Silent);
        assert_close(&fit.coef, &SK_BALANCED_COEF, 5e-5);
        assert_close(&fit.intercept, &[SK_BALANCED_INTERCEPT], 5e-5);
    }

    // multi_class='multinomial', C=1.0, tol=1e-12, max_iter=10000; rows are classes 0, 1, 2
    const SK_MULTI_COEF: [f64; 6] = [
        -2.9433874282,
        -1.6144398215,
        -0.2997842238,
        -0.1142353485,
        3.2431716519,
        1.7286751700,
    ];
    const SK_MULTI_INTERCEPT: [f64; 3] = [-0.1919325940, 1.2197238374, -1.0277912434];

    #[test]
    fn multinomial_matches_scikit_learn() {
        let (x, y) = reference_multiclass();
        let w = vec![1.0; y.len()];
        let fit = fit(
            &x,
            &y,
            3,
            &w,
            &LogisticOptions::default(),
            &Parallel::serial(),
            &Silent,
        );
        assert!(fit.converged, "{fit:?}");
        assert_close(&fit.coef, &SK_MULTI_COEF, 5e-5);
        assert_close(&fit.intercept, &SK_MULTI_INTERCEPT, 5e-5);
    }

    #[test]
    fn newton_and_lbfgs_agree() {
        let (x, y) = reference_binary();
        let w = vec![1.0; y.len()];
        let opts = LogisticOptions::default();
        let a = fit_binary_newton(&x, &y, &w, &opts, &Parallel::serial(), &Silent);
        let b = fit_lbfgs(&x, &y, 2, &w, &opts, &Parallel::serial(), &Silent);
        assert_close(&a.coef, &b.coef, 1e-6);
        assert_close(&a.intercept, &b.intercept, 1e-6);
    }

    #[test]
    fn result_does_not_depend_on_thread_count() {
        let (x, y) = reference_binary();
        let w = vec![1.0; y.len()];
        let opts = LogisticOptions::default();
        let a = fit(&x, &y, 2, &w, &opts, &Parallel::serial(), &Silent);
        let b = fit(&x, &y, 2, &w, &opts, &Parallel::new(2), &Silent);
        assert_eq!(a.coef, b.coef);
    }

    #[test]
    fn sigmoid_and_log1pexp_are_stable() {
        assert_eq!(sigmoid(-1000.0), 0.0);
        assert_eq!(sigmoid(1000.0), 1.0);
        assert!((log1pexp(1000.0) - 1000.0).abs() < 1e-9);
        assert!(log1pexp(-1000.0) >= 0.0 && log1pexp(-1000.0) < 1e-300);
    }
}
