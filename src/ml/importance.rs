//! Permutation feature importance (Breiman): how much the test metric drops when one input
//! column's values are shuffled among the evaluation rows, breaking its link to the target.
//! Works for every model, since it only scores rows.

use super::metrics;
use super::model::Model;
use super::monitor::Monitor;
use super::parallel::Parallel;
use super::preprocess::RawColumn;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The truth of the evaluation rows, which also picks the metric: ROC AUC (binary), accuracy
/// (multiclass) or R^2 (regression).
pub enum Truth<'a> {
    Binary(&'a [bool]),
    Classes(&'a [usize]),
    Values(&'a [f64]),
}

/// The metric over `rows` with input column `permuted.0` read from the rows `permuted.1` (in
/// `rows`' order) instead: blocks of rows scored on every thread, in row order.
fn score(
    model: &Model,
    data: &[RawColumn],
    rows: &[usize],
    permuted: Option<(usize, &[usize])>,
    truth: &Truth,
    par: &Parallel,
    monitor: &dyn Monitor,
) -> f64 {
    let k = model.outputs();
    let blocks = par.map_blocks(rows.len(), monitor, |block| {
        let mut x = vec![0.0; model.preprocessor.width];
        let mut out = vec![0.0; k];
        let mut all = Vec::with_capacity(block.len() * k);
        for pos in block {
            for (j, col) in data.iter().enumerate() {
                let src = match permuted {
                    Some((pj, perm)) if pj == j => perm[pos],
                    _ => rows[pos],
                };
                // values come from the training table, which encoded cleanly already
                let _ = model.preprocessor.encode(j, col.value(src), &mut x);
            }
            model.predict_encoded(&x, &mut out);
            all.extend_from_slice(&out);
        }
        all
    });
    let all = blocks.concat();
    match truth {
        Truth::Binary(y) => metrics::roc_auc(&all, y),
        Truth::Classes(y) => metrics::multiclass(&all, k, y).accuracy,
        Truth::Values(y) => metrics::regression(&all, y).r2,
    }
}

/// Mean metric drop per input column over `repeats` shuffles; `rows` index into `data`. The
/// shuffles are drawn in one order on the calling thread: the same whatever the thread count.
#[allow(clippy::too_many_arguments)]
pub fn permutation(
    model: &Model,
    data: &[RawColumn],
    rows: &[usize],
    truth: &Truth,
    repeats: usize,
    seed: u64,
    par: &Parallel,
    monitor: &dyn Monitor,
) -> Vec<f64> {
    let base = score(model, data, rows, None, truth, par, monitor);
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5EED_1AB0);
    (0..data.len())
        .map(|j| {
            let mut drop = 0.0;
            for _ in 0..repeats {
                monitor.checkpoint();
                let mut perm = rows.to_vec();
                perm.shuffle(&mut rng);
                drop += base - score(model, data, rows, Some((j, &perm)), truth, par, monitor);
            }
            drop / repeats as f64
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ml::model::{Estimator, Task};
    use crate::ml::monitor::Silent;
    use crate::ml::preprocess::*;

    #[test]
    fn the_column_the_model_uses_matters_and_the_other_does_not() {
        let n = 2000;
        let a: Vec<f64> = (0..n).map(|i| ((i as f64) * 0.37).sin()).collect();
        let b: Vec<f64> = (0..n).map(|i| ((i as f64) * 1.91).cos()).collect();
        let data = vec![RawColumn::Number(a.clone()), RawColumn::Number(b)];
        let specs = vec![
            ColumnSpec {
                name: "a".into(),
                sql_type: "float8".into(),
                kind: ValueKind::Number,
            },
            ColumnSpec {
                name: "b".into(),
                sql_type: "float8".into(),
                kind: ValueKind::Number,
            },
        ];
        let rows: Vec<usize> = (0..n).collect();
        let pre = Preprocessor::fit(
            &specs,
            &data,
            &rows,
            &PrepOptions {
                scale: false,
                ..Default::default()
            },
        )
        .unwrap();
        // the model looks at a only; labels follow a exactly
        let m = Model {
            task: Task::Binary,
            classes: vec!["n".into(), "y".into()],
            threshold: 0.5,
            preprocessor: pre,
            estimator: Estimator::Linear {
                coef: vec![3.0, 0.0],
                intercept: vec![0.0],
            },
        };
        let y: Vec<bool> = a.iter().map(|v| *v > 0.0).collect();
        let imp = permutation(
            &m,
            &data,
            &rows,
            &Truth::Binary(&y),
            3,
            1,
            &Parallel::new(2),
            &Silent,
        );
        let serial = permutation(
            &m,
            &data,
            &rows,
            &Truth::Binary(&y),
            3,
            1,
            &Parallel::serial(),
            &Silent,
        );
        assert_eq!(imp, serial, "the thread count changes nothing");
        assert!(imp[0] > 0.4, "{imp:?}"); // AUC falls from 1.0 to about 0.5
        assert!(imp[1].abs() < 1e-12, "{imp:?}");
    }
}
