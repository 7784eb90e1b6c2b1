//! pg_insight's tree ensembles (gradient boosting, random forest; src/ml compiled in directly)
//! against Rust tree-ensemble crates: smartcore's RandomForestClassifier and perpetual's
//! PerpetualBooster, and (with `--features lightgbm`) LightGBM 4.7.0 through lightgbm3, on the
//! same data in one process, release build. Binary classification on a
//! seeded synthetic set (a linear part plus threshold interactions, so trees have something to
//! find); trains on the first 80% of the rows, reports the median fit time over interleaved
//! rounds, its min-max, the time to score the held-out 20%, and their ROC AUC, as Markdown.
//!
//! Run: cargo run --release --manifest-path benches/compare/Cargo.toml --bin trees [--features
//! lightgbm] -- [rows (default
//! 200,000)] [rounds (default 3)] [xgb: also smartcore's XGRegressor, one round, slow | boosting:
//! only pg_insight's gbdt and LightGBM, the two that train 1M rows in seconds]

#[allow(dead_code, unused_imports)]
#[path = "../../../../src/ml/mod.rs"]
mod ml;

use ml::algorithms::gbdt::boost::{self, BoostOptions};
use ml::algorithms::{Device, FitContext, Learns, RecipeContext, Target, TrainingData};
use ml::linalg::{sigmoid, Matrix};
use ml::model::Estimator;
use ml::monitor::Silent;
use ml::parallel::Parallel;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use smartcore::ensemble::random_forest_classifier::{
    RandomForestClassifier, RandomForestClassifierParameters,
};
use smartcore::linalg::basic::matrix::DenseMatrix;
use std::time::Instant;

const D: usize = 20;
/// Threads for the libraries that take a count (pg_insight, perpetual): the same for both, and
/// what the 2-core machines these numbers come from have.
const THREADS: usize = 2;

/// The true log-odds of a row: linear in f1..f5 plus two threshold interactions (f6 > 0.5 and
/// f7 < 0; f8 * f9 > 0.5) that no single split captures.
fn log_odds(f: &[f64]) -> f64 {
    0.8 * f[0] - 0.6 * f[1] + 0.4 * f[2] - 0.3 * f[3] + 0.2 * f[4] - 0.5
        + 1.5 * f64::from(u8::from(f[5] > 0.5 && f[6] < 0.0))
        - 1.0 * f64::from(u8::from(f[7] * f[8] > 0.5))
}

/// Features uniform in [-2, 2]; label ~ Bernoulli(sigmoid(log_odds)).
fn synthetic(n: usize, seed: u64) -> (Matrix, Vec<usize>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut data = Vec::with_capacity(n * D);
    let mut labels = Vec::with_capacity(n);
    for _ in 0..n {
        let f: [f64; D] = std::array::from_fn(|_| rng.gen_range(-2.0..2.0));
        data.extend_from_slice(&f);
        labels.push(usize::from(rng.gen::<f64>() < sigmoid(log_odds(&f))));
    }
    (
        Matrix {
            data,
            rows: n,
            cols: D,
        },
        labels,
    )
}

/// Perpetual's `Matrix::new` reads its slice column-major (despite the row-major layout its
/// crate-level example suggests), so it gets its own copy, made outside the timed fit.
fn column_major(x: &Matrix) -> Vec<f64> {
    let mut out = Vec::with_capacity(x.data.len());
    for j in 0..x.cols {
        out.extend((0..x.rows).map(|i| x.data[i * x.cols + j]));
    }
    out
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// One library's row: fit times over the rounds, and the last round's scoring time and AUC
/// (every fit is seeded, so the AUC does not change between rounds).
struct Row {
    name: String,
    threads: String,
    fits: Vec<f64>,
    score_s: f64,
    auc: f64,
    note: String,
}

impl Row {
    fn new(name: &str, threads: &str, note: &str) -> Self {
        Row {
            name: name.into(),
            threads: threads.into(),
            fits: Vec::new(),
            score_s: 0.0,
            auc: 0.0,
            note: note.into(),
        }
    }

    /// Times `fit`, then times `score` on the fitted model and takes the AUC of its scores.
    fn measure<M>(
        &mut self,
        fit: impl FnOnce() -> M,
        score: impl FnOnce(&M) -> Vec<f64>,
        truth: &[bool],
    ) -> M {
        let t = Instant::now();
        let model = fit();
        self.fits.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        let scores = score(&model);
        self.score_s = t.elapsed().as_secs_f64();
        self.auc = ml::metrics::roc_auc(&scores, truth);
        // progress on stderr: at 200,000 rows a round takes tens of minutes on 2 cores
        eprintln!(
            "{}: fit {:.2} s, AUC {:.4}",
            self.name,
            self.fits[self.fits.len() - 1],
            self.auc
        );
        model
    }

    fn print(&self) {
        let lo = self.fits.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = self.fits.iter().copied().fold(0.0, f64::max);
        println!(
            "| {} | {} | {:.2} s | {:.2}-{:.2} s | {:.3} s | {:.4} | {} |",
            self.name,
            self.threads,
            median(self.fits.clone()),
            lo,
            hi,
            self.score_s,
            self.auc,
            self.note
        );
    }
}

/// The pg_insight defaults for `algorithm => 'gbdt'` as the scikit-learn comparison in
/// src/ml/algorithms/gbdt/tests.rs sets them (HistGradientBoosting's), with 100 rounds.
fn gbdt_options() -> BoostOptions {
    // gbdt's defaults: 100 rounds of 31 leaves, 20 rows a leaf, 255 bins, no early stopping
    BoostOptions {
        seed: 1,
        ..BoostOptions::default()
    }
}

fn perpetual_booster(budget: f32) -> perpetual::PerpetualBooster {
    perpetual::PerpetualBooster::default()
        .set_objective(perpetual::objective::Objective::LogLoss)
        .set_budget(budget)
        .set_num_threads(Some(THREADS))
        .set_seed(42)
}

/// LightGBM with gbdt's hyper-parameters (LightGBM's own defaults but for the thread count and
/// quiet logs: 100 rounds, 31 leaves, learning rate 0.1, 20 rows a leaf, 255 bins, no L2).
#[cfg(feature = "lightgbm")]
fn lightgbm_params() -> serde_json::Value {
    serde_json::json!({
        "objective": "binary",
        "num_iterations": 100,
        "num_leaves": 31,
        "learning_rate": 0.1,
        "min_data_in_leaf": 20,
        "max_bin": 255,
        "lambda_l2": 0.0,
        "num_threads": THREADS,
        "seed": 42,
        "deterministic": true,
        "verbose": -1,
    })
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rows: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(200_000);
    let rounds: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(3).max(1);
    let with_xgb = args.get(3).is_some_and(|a| a == "xgb");
    let boosting_only = args.get(3).is_some_and(|a| a == "boosting");

    let (all, labels) = synthetic(rows, 11);
    let n_train = rows * 4 / 5;
    let train: Vec<usize> = (0..n_train).collect();
    let test: Vec<usize> = (n_train..rows).collect();
    let (x, x_test) = (all.select_rows(&train), all.select_rows(&test));
    let y = &labels[..n_train];
    let truth: Vec<bool> = labels[n_train..].iter().map(|&l| l == 1).collect();
    let ones = vec![1.0; n_train];
    let par = Parallel::new(THREADS);

    // each library's own input layout, built once, outside the timings
    let x_cols = column_major(&x);
    let x_test_cols = column_major(&x_test);
    let y_f64: Vec<f64> = y.iter().map(|&l| l as f64).collect();
    let y_u32: Vec<u32> = y.iter().map(|&l| l as u32).collect();
    let sc_x = DenseMatrix::new(x.rows, D, x.data.clone(), false).expect("shape");
    let sc_x_test = DenseMatrix::new(x_test.rows, D, x_test.data.clone(), false).expect("shape");

    // pg_insight's per-row scoring, the way the extension scores (one row at a time)
    let score_rows = |b: &boost::Boosted| -> Vec<f64> {
        let mut out = [0.0];
        (0..x_test.rows)
            .map(|r| {
                b.raw(x_test.row(r), &mut out);
                out[0]
            })
            .collect()
    };

    let mut table = vec![
        Row::new(
            "pg_insight gbdt (100 rounds, 31 leaves, lr 0.1)",
            "2",
            "scores: log-odds",
        ),
        Row::new(
            "perpetual PerpetualBooster, budget 0.5",
            "2",
            "scores: log-odds (predict)",
        ),
        Row::new(
            "perpetual PerpetualBooster, budget 1.0",
            "2",
            "scores: log-odds (predict)",
        ),
        Row::new(
            "pg_insight random_forest (100 trees)",
            "2",
            "scores: mean class share",
        ),
        Row::new(
            "smartcore RandomForestClassifier (100 trees)",
            "1 (no option)",
            "no predict_proba: AUC of hard 0/1 votes",
        ),
    ];
    #[cfg(feature = "lightgbm")]
    let lightgbm_slot = {
        table.push(Row::new(
            "LightGBM 4.7.0 via lightgbm3 (100 rounds, 31 leaves, lr 0.1)",
            "2",
            "scores: log-odds (raw_scores); fit includes its binning",
        ));
        table.len() - 1
    };
    #[cfg(feature = "lightgbm")]
    let y_f32: Vec<f32> = y.iter().map(|&l| l as f32).collect();
    for _ in 0..rounds {
        #[cfg(feature = "lightgbm")]
        table[lightgbm_slot].measure(
            || {
                let data = lightgbm3::Dataset::from_slice(&x.data, &y_f32, D as i32, true)
                    .expect("lightgbm dataset");
                lightgbm3::Booster::train(data, &lightgbm_params()).expect("lightgbm fit")
            },
            |m| {
                m.raw_scores(&x_test.data, D as i32, true)
                    .expect("lightgbm predict")
            },
            &truth,
        );
        table[0].measure(
            || {
                boost::fit(
                    &x,
                    &Target::Classes(y, 2),
                    &ones,
                    &gbdt_options(),
                    &par,
                    &Silent,
                )
                .model
            },
            score_rows,
            &truth,
        );
        if boosting_only {
            continue;
        }
        for (slot, budget) in [(1, 0.5), (2, 1.0)] {
            let model = table[slot].measure(
                || {
                    let mut m = perpetual_booster(budget);
                    let data = perpetual::Matrix::new(&x_cols, x.rows, D);
                    m.fit(&data, &y_f64, None, None).expect("perpetual fit");
                    m
                },
                |m| m.predict(&perpetual::Matrix::new(&x_test_cols, x_test.rows, D), true),
                &truth,
            );
            // the budget, not a round count, decides how many trees perpetual grows
            let trees = model.get_prediction_trees().len();
            table[slot].note = format!("scores: log-odds (predict); {trees} trees");
        }
        table[3].measure(
            || {
                // through the algorithm's recipe, as insight.train reaches it
                let json = serde_json::json!({ "trees": 100 });
                let options = ml::options::Options::new(&json, "random_forest").expect("options");
                let ctx = RecipeContext {
                    learns: Learns::Classes,
                    seed: 42,
                };
                let recipe = (ml::algorithms::random_forest::ALGORITHM.recipe)(&options, &ctx)
                    .expect("recipe");
                let data = TrainingData {
                    x: &x,
                    target: Target::Classes(y, 2),
                    weights: &ones,
                    levels: &[],
                };
                let fit = FitContext {
                    par: &par,
                    monitor: &Silent,
                    device: Device::Cpu,
                };
                match recipe.fit(&data, &fit).expect("forest fit").estimator {
                    Estimator::Forest(b) => b,
                    _ => unreachable!("random_forest fits a forest"),
                }
            },
            score_rows,
            &truth,
        );
        table[4].measure(
            || {
                let p = RandomForestClassifierParameters::default().with_n_trees(100);
                RandomForestClassifier::<f64, u32, DenseMatrix<f64>, Vec<u32>>::fit(
                    &sc_x, &y_u32, p,
                )
                .expect("smartcore fit")
            },
            |m| {
                m.predict(&sc_x_test)
                    .expect("smartcore predict")
                    .iter()
                    .map(|&c| c as f64)
                    .collect()
            },
            &truth,
        );
    }

    // smartcore has no gradient-boosted classifier; its XGRegressor (squared error only, exact
    // sorted splits) on the 0/1 labels is the nearest thing, and too slow for every round
    if with_xgb {
        let mut row = Row::new(
            "smartcore XGRegressor on 0/1 labels (100 rounds, depth 6, lr 0.3)",
            "1 (no option)",
            "squared error only, one round",
        );
        row.measure(
            || {
                let p = smartcore::xgboost::XGRegressorParameters::default();
                smartcore::xgboost::XGRegressor::<f64, u32, DenseMatrix<f64>, Vec<u32>>::fit(
                    &sc_x, &y_u32, p,
                )
                .expect("smartcore xgb fit")
            },
            |m| m.predict(&sc_x_test).expect("smartcore xgb predict"),
            &truth,
        );
        table.push(row);
    }

    let positives = labels.iter().filter(|&&l| l == 1).count() as f64 / rows as f64;
    println!(
        "## Tree ensembles, binary classification: {n_train} training rows x {D}, {} test rows \
         ({:.1}% positive), median of {rounds} interleaved rounds\n",
        x_test.rows,
        100.0 * positives
    );
    println!("| implementation | threads | median fit | min-max | score test rows | test ROC AUC | note |");
    println!("|---|---|---|---|---|---|---|");
    for r in table.iter().filter(|r| !r.fits.is_empty()) {
        r.print();
    }
    println!(
        "\n{}smartcore has no gradient-boosted classifier{}.",
        if cfg!(feature = "lightgbm") {
            ""
        } else {
            "Not measured: LightGBM (build with `--features lightgbm`: needs cmake). "
        },
        if with_xgb {
            ""
        } else {
            " (its XGRegressor, squared error only, runs with a third argument `xgb`)"
        }
    );
    // the Bayes-optimal score is z itself: the ceiling any model's AUC can reach on this data
    let oracle: Vec<f64> = (0..x_test.rows).map(|r| log_odds(x_test.row(r))).collect();
    println!(
        "Ceiling: the true log-odds score the test rows at ROC AUC {:.4}.",
        ml::metrics::roc_auc(&oracle, &truth)
    );
}
