//! Linear regression by the normal equations, with an optional L2 (ridge) penalty that does not
//! touch the intercept, as scikit-learn's `LinearRegression` (l2 = 0) and `Ridge(alpha = l2)`.
//! One parallel pass accumulates X'WX and X'Wy; the (d+1) x (d+1) system is solved by Cholesky
//! (with a vanishing ridge when features are collinear, e.g. a full one-hot encoding).

use super::{Algorithm, FitContext, Fitted, Learns, Recipe, RecipeContext, Target, TrainingData};
use crate::ml::linalg::{solve_spd_regularised, Matrix};
use crate::ml::model::Estimator;
use crate::ml::monitor::Monitor;
use crate::ml::options::Options;
use crate::ml::parallel::Parallel;
use crate::ml::problem::Problem;
use serde_json::json;

pub static ALGORITHM: Algorithm = Algorithm {
    name: "linear",
    learns: &[Learns::Values],
    default_for: Some(Learns::Values),
    options: &["l2"],
    native_inputs: false,
    all_text_is_free: false,
    recipe: read_recipe,
};

/// The ridge penalty (0: ordinary least squares).
struct Ridge {
    l2: f64,
}

fn read_recipe(o: &Options, _: &RecipeContext) -> Result<Box<dyn Recipe>, Problem> {
    Ok(Box::new(Ridge {
        l2: o.f64_in("l2", 0.0, 0.0, 1e12, "a number >= 0")?,
    }))
}

impl Recipe for Ridge {
    fn fit(&self, data: &TrainingData, ctx: &FitContext) -> Result<Fitted, Problem> {
        let Target::Values(y) = data.target else {
            unreachable!("linear learns values only")
        };
        let f = fit(data.x, y, data.weights, self.l2, ctx.par, ctx.monitor)?;
        Ok(Fitted {
            estimator: Estimator::Linear {
                coef: f.coef,
                intercept: vec![f.intercept],
            },
            info: Default::default(),
        })
    }

    fn options(&self) -> serde_json::Value {
        json!({ "l2": self.l2 })
    }
}

#[derive(Clone, Debug)]
pub struct LinearFit {
    pub coef: Vec<f64>,
    pub intercept: f64,
}

pub fn fit(
    x: &Matrix,
    y: &[f64],
    sample_weight: &[f64],
    l2: f64,
    par: &Parallel,
    monitor: &dyn Monitor,
) -> Result<LinearFit, Problem> {
    let d = x.cols;
    let m = d + 1;
    // blocks of about 2^24 multiply-adds (a few ms), so that cancel is seen within a fraction of
    // a second however wide the rows; one m x m partial per thread at a time
    let block_rows = ((1usize << 24) / (m * m / 2 + 1)).clamp(1, crate::ml::parallel::BLOCK_ROWS);
    let mut xtx = vec![0.0; m * m];
    let mut xty = vec![0.0; m];
    let mut acc = (std::mem::take(&mut xtx), std::mem::take(&mut xty));
    par.fold_blocks(
        x.rows,
        block_rows,
        monitor,
        &mut acc,
        |r| {
            let mut xtx = vec![0.0; m * m];
            let mut xty = vec![0.0; m];
            let mut xi = vec![0.0; m];
            for i in r {
                xi[..d].copy_from_slice(x.row(i));
                xi[d] = 1.0;
                let wi = sample_weight[i];
                for a in 0..m {
                    let wa = wi * xi[a];
                    xty[a] += wa * y[i];
                    let row = &mut xtx[a * m..(a + 1) * m];
                    for b in a..m {
                        row[b] += wa * xi[b];
                    }
                }
            }
            (xtx, xty)
        },
        |acc, (a, b)| {
            for (s, v) in acc.0.iter_mut().zip(&a) {
                *s += v;
            }
            for (s, v) in acc.1.iter_mut().zip(&b) {
                *s += v;
            }
        },
    );
    (xtx, xty) = acc;
    for a in 0..m {
        for b in 0..a {
            xtx[a * m + b] = xtx[b * m + a];
        }
    }
    for j in 0..d {
        xtx[j * m + j] += l2;
    }
    let theta = solve_spd_regularised(&xtx, m, &xty, monitor).ok_or_else(|| {
        Problem::data(
            "the normal equations overflow float8: the inputs or the target are too large",
            "Rescale the columns (e.g. divide by a power of ten), or keep scale true.",
        )
    })?;
    Ok(LinearFit {
        coef: theta[..d].to_vec(),
        intercept: theta[d],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ml::monitor::Silent;

    /// tests/reference/logistic_reference.py: reference_regression()
    fn reference_regression() -> (Matrix, Vec<f64>) {
        let mut rows = Vec::new();
        let mut y = Vec::new();
        for i in 0..150 {
            let r = vec![
                ((i + 1) as f64 * 0.11).sin() * 3.0,
                ((i + 1) as f64 * 0.07).cos() * 2.0,
                (i % 7) as f64 - 3.0,
            ];
            let noise = (i as f64 * 4.1414).sin() * 43758.5453;
            let noise = noise - noise.floor() - 0.5;
            y.push(4.0 + 2.5 * r[0] - 1.25 * r[1] + 0.5 * r[2] + noise);
            rows.push(r);
        }
        (Matrix::from_rows(&rows), y)
    }

    fn close(a: &[f64], b: &[f64], tol: f64) -> bool {
        a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tol)
    }

    // scikit-learn 1.2.1, tests/reference/logistic_reference.py
    #[test]
    fn ols_matches_scikit_learn() {
        let (x, y) = reference_regression();
        let f = fit(
            &x,
            &y,
            &vec![1.0; y.len()],
            0.0,
            &Parallel::serial(),
            &Silent,
        )
        .unwrap();
        // LinearRegression().fit(X, y)
        assert!(
            close(&f.coef, &[2.4993039198, -1.2765121386, 0.4950957847], 1e-9),
            "{f:?}"
        );
        assert!((f.intercept - 3.9768658677).abs() < 1e-6);
    }

    #[test]
    fn ridge_matches_scikit_learn() {
        let (x, y) = reference_regression();
        let f = fit(
            &x,
            &y,
            &vec![1.0; y.len()],
            10.0,
            &Parallel::new(2),
            &Silent,
        )
        .unwrap();
        // Ridge(alpha=10.0).fit(X, y)
        assert!(
            close(&f.coef, &[2.4588210532, -1.2319440289, 0.4879371883], 1e-9),
            "{f:?}"
        );
        assert!((f.intercept - 3.9967125092).abs() < 1e-6);
    }

    #[test]
    fn collinear_features_still_fit() {
        // second column duplicates the first: predictions must still be exact
        let rows: Vec<Vec<f64>> = (0..20).map(|i| vec![i as f64, i as f64]).collect();
        let y: Vec<f64> = (0..20).map(|i| 1.0 + 2.0 * i as f64).collect();
        let f = fit(
            &Matrix::from_rows(&rows),
            &y,
            &vec![1.0; 20],
            0.0,
            &Parallel::serial(),
            &Silent,
        )
        .unwrap();
        assert!((f.coef[0] + f.coef[1] - 2.0).abs() < 1e-4, "{f:?}");
        assert!((f.intercept - 1.0).abs() < 1e-3, "{f:?}");
    }
}
