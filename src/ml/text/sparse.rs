//! Rows of hashed tf-idf values (CSR) and an L2-regularised logistic regression over them:
//! binary (one output, the log-odds) or multinomial (one output per class), solved with L-BFGS to
//! the same objective as `ml::algorithms::logistic` and scikit-learn's
//! `LogisticRegression(C = 1 / l2)`: sum_i w_i loss_i + 0.5 l2 ||coef||^2, the intercept not
//! penalised. The dense solver is the reference (test below): it matches scikit-learn to 1e-6.
//!
//! Memory: 8 bytes per non-zero (a u32 column and an f32 value; tf-idf values need no more) plus
//! the L-BFGS history, 2 x 10 vectors of outputs x (columns + 1) float64.

use super::tfidf::SparseRow;
use crate::ml::algorithms::logistic::{loss_and_residuals, minimize_penalised, Penalised};
use crate::ml::monitor::Monitor;
use crate::ml::parallel::Parallel;

/// Compressed sparse rows.
#[derive(Clone, Debug, Default)]
pub struct Csr {
    pub indptr: Vec<usize>,
    pub indices: Vec<u32>,
    pub values: Vec<f32>,
    pub n_cols: usize,
}

impl Csr {
    pub fn new(n_cols: usize) -> Csr {
        Csr {
            indptr: vec![0],
            n_cols,
            ..Csr::default()
        }
    }

    pub fn n_rows(&self) -> usize {
        self.indptr.len() - 1
    }

    pub fn nnz(&self) -> usize {
        self.indices.len()
    }

    pub fn push(&mut self, row: &SparseRow) {
        self.indices.extend_from_slice(&row.columns);
        self.values.extend(row.values.iter().map(|&v| v as f32));
        self.indptr.push(self.indices.len());
    }

    pub fn row(&self, i: usize) -> (&[u32], &[f32]) {
        let r = self.indptr[i]..self.indptr[i + 1];
        (&self.indices[r.clone()], &self.values[r])
    }

    /// Rows `rows` of this matrix, in that order.
    pub fn select(&self, rows: &[usize]) -> Csr {
        let mut out = Csr::new(self.n_cols);
        for &i in rows {
            let (c, v) = self.row(i);
            out.indices.extend_from_slice(c);
            out.values.extend_from_slice(v);
            out.indptr.push(out.indices.len());
        }
        out
    }
}

/// Scores of a sparse row under `coef` (outputs x width, row-major) and `intercept`.
pub fn scores(coef: &[f64], intercept: &[f64], columns: &[u32], values: &[f32], out: &mut [f64]) {
    let d = if intercept.is_empty() {
        0
    } else {
        coef.len() / intercept.len()
    };
    for (c, o) in out.iter_mut().enumerate() {
        let w = &coef[c * d..(c + 1) * d];
        *o = intercept[c]
            + columns
                .iter()
                .zip(values)
                .map(|(&j, &v)| w[j as usize] * v as f64)
                .sum::<f64>();
    }
}

pub struct SparseFit {
    /// outputs x columns, row-major (outputs: 1 for two classes, else one per class).
    pub coef: Vec<f64>,
    pub intercept: Vec<f64>,
    pub iterations: usize,
    pub converged: bool,
}

pub struct SparseLogistic {
    pub l2: f64,
    pub max_iter: usize,
    /// Stop when the largest gradient component is at most tol x the total sample weight.
    pub tol: f64,
}

/// Rows per block of the gradient: each block adds into its own gradient vector, so blocks are
/// large (at most one per thread is alive).
const BLOCK_ROWS: usize = 16_384;

impl SparseLogistic {
    /// Fits classes `y` (0..n_classes) of the rows of `x` with sample weights `w`.
    pub fn fit(
        &self,
        x: &Csr,
        y: &[usize],
        n_classes: usize,
        w: &[f64],
        par: &Parallel,
        monitor: &dyn Monitor,
    ) -> SparseFit {
        let d = x.n_cols;
        let k = if n_classes == 2 { 1 } else { n_classes };
        let stride = d + 1;
        let total_w: f64 = w.iter().sum();
        let objective = |theta: &[f64], grad: &mut [f64]| -> f64 {
            let mut acc = (0.0, vec![0.0; k * stride]);
            par.fold_blocks(
                x.n_rows(),
                BLOCK_ROWS,
                monitor,
                &mut acc,
                |r| {
                    let mut g = vec![0.0; k * stride];
                    let mut z = vec![0.0; k];
                    let mut loss = 0.0;
                    for i in r {
                        let (cols, vals) = x.row(i);
                        for c in 0..k {
                            let wc = &theta[c * stride..c * stride + d];
                            z[c] = theta[c * stride + d]
                                + cols
                                    .iter()
                                    .zip(vals)
                                    .map(|(&j, &v)| wc[j as usize] * v as f64)
                                    .sum::<f64>();
                        }
                        loss += loss_and_residuals(&mut z, y[i], w[i]);
                        for (c, &rc) in z.iter().enumerate() {
                            let gc = &mut g[c * stride..(c + 1) * stride];
                            for (&j, &v) in cols.iter().zip(vals) {
                                gc[j as usize] += rc * v as f64;
                            }
                            gc[d] += rc;
                        }
                    }
                    (loss, g)
                },
                |acc, (l, g)| {
                    acc.0 += l;
                    for (a, b) in acc.1.iter_mut().zip(&g) {
                        *a += b;
                    }
                },
            );
            let (loss, g) = acc;
            grad.copy_from_slice(&g);
            loss
        };
        let (coef, intercept, res) = minimize_penalised(
            Penalised {
                outputs: k,
                width: d,
                l2: self.l2,
                max_iter: self.max_iter.max(1),
                gtol: self.tol * total_w,
                total_weight: total_w,
                label: "text logistic",
            },
            objective,
            monitor,
        );
        SparseFit {
            coef,
            intercept,
            iterations: res.iterations,
            converged: res.converged,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ml::algorithms::logistic::{fit as dense_fit, LogisticOptions};
    use crate::ml::linalg::Matrix;
    use crate::ml::monitor::Silent;
    use crate::ml::text::tfidf::{Scratch, TextOptions, TfIdf};

    const REVIEWS: [(&str, usize); 12] = [
        ("great coffee, fast delivery", 1),
        ("arrived cold and late", 0),
        ("咖啡很好喝，物流很快", 1),
        ("物流太慢，咖啡很难喝", 0),
        ("great taste, will buy again", 1),
        ("never again, late and broken", 0),
        ("很好，还会再买", 1),
        ("太差了，不会再买", 0),
        ("fast and great", 1),
        ("broken box, cold coffee", 0),
        ("ok", 1),
        ("not ok at all", 0),
    ];

    /// The sparse solver on tf-idf rows equals the dense solver (itself equal to scikit-learn's
    /// LogisticRegression to 1e-6) on the same rows written out densely: binary and three
    /// classes, with sample weights, on one thread and on three.
    #[test]
    fn equals_the_dense_solver() {
        let t = TfIdf::fit(TextOptions::default(), REVIEWS.iter().map(|r| Some(r.0)));
        let mut x = Csr::new(t.width());
        let (mut s, mut row) = (Scratch::default(), SparseRow::default());
        for (text, _) in REVIEWS {
            t.transform(Some(text), &mut s, &mut row);
            x.push(&row);
        }
        let mut dense = Matrix::zeros(x.n_rows(), x.n_cols);
        for i in 0..x.n_rows() {
            let (c, v) = x.row(i);
            for (&j, &val) in c.iter().zip(v) {
                dense.row_mut(i)[j as usize] = val as f64;
            }
        }
        let w: Vec<f64> = (0..REVIEWS.len())
            .map(|i| 1.0 + (i % 3) as f64 * 0.5)
            .collect();
        for (y, k) in [
            (REVIEWS.iter().map(|r| r.1).collect::<Vec<_>>(), 2),
            ((0..REVIEWS.len()).map(|i| i % 3).collect(), 3),
        ] {
            let opts = LogisticOptions {
                l2: 0.5,
                max_iter: 1000,
                tol: 1e-12,
            };
            let reference = dense_fit(&dense, &y, k, &w, &opts, &Parallel::serial(), &Silent);
            for threads in [1, 3] {
                let fit = SparseLogistic {
                    l2: 0.5,
                    max_iter: 10_000,
                    tol: 1e-12,
                }
                .fit(&x, &y, k, &w, &Parallel::new(threads), &Silent);
                assert!(fit.converged);
                let worst = fit
                    .coef
                    .iter()
                    .zip(&reference.coef)
                    .chain(fit.intercept.iter().zip(&reference.intercept))
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0, f64::max);
                assert!(worst < 1e-6, "{k} classes, {threads} threads: {worst}");
            }
        }
    }

    #[test]
    fn scores_and_selects_rows() {
        let mut x = Csr::new(3);
        x.push(&SparseRow {
            columns: vec![0, 2],
            values: vec![1.0, 0.5],
        });
        x.push(&SparseRow::default());
        let mut out = [0.0; 2];
        let (c, v) = x.row(0);
        scores(
            &[1.0, 2.0, 3.0, -1.0, 0.0, 1.0],
            &[0.5, 0.0],
            c,
            v,
            &mut out,
        );
        assert_eq!(out, [3.0, -0.5]);
        let s = x.select(&[1, 0, 0]);
        assert_eq!((s.n_rows(), s.nnz(), s.row(0).0.len()), (3, 4, 0));
    }
}
