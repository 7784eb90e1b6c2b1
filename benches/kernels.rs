//! Criterion benchmarks of the src/ml kernels (pure Rust, compiled in directly: src/ml has no
//! pgrx, so no PostgreSQL is needed). Run with `cargo bench --bench kernels`.
//!
//! Each kernel is compared in the same run with its floor: the bare arithmetic it must do.

#[allow(dead_code, unused_imports)]
#[path = "../src/ml/mod.rs"]
mod ml;

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use ml::algorithms::logistic::{self, LogisticOptions};
use ml::linalg::{dot, Matrix};
use ml::model::{Estimator, Model, Task};
use ml::monitor::Silent;
use ml::parallel::Parallel;
use ml::preprocess::{ColumnSpec, PrepOptions, Preprocessor, RawColumn, Value, ValueKind};

const N_FEATURES: usize = 20;

fn data(n: usize) -> (Vec<RawColumn>, Vec<usize>) {
    let mut cols = Vec::new();
    for j in 0..N_FEATURES {
        cols.push(RawColumn::Number(
            (0..n)
                .map(|i| ((i * (j + 3)) as f64 * 0.013).sin() * (j + 1) as f64)
                .collect(),
        ));
    }
    let y = (0..n)
        .map(|i| {
            let s: f64 = (0..N_FEATURES)
                .map(|j| ((i * (j + 3)) as f64 * 0.013).sin() * if j % 2 == 0 { 1.0 } else { -0.5 })
                .sum();
            usize::from(s + ((i as f64) * 7.7).sin() > 0.0)
        })
        .collect();
    (cols, y)
}

/// The preprocessor fitted on all rows and the encoded (standardised) matrix.
fn encoded(cols: &[RawColumn], n: usize) -> (Preprocessor, Matrix) {
    let specs: Vec<ColumnSpec> = (0..N_FEATURES)
        .map(|j| ColumnSpec {
            name: format!("f{j}"),
            sql_type: "float8".into(),
            kind: ValueKind::Number,
        })
        .collect();
    let rows: Vec<usize> = (0..n).collect();
    let pre = Preprocessor::fit(&specs, cols, &rows, &PrepOptions::default()).unwrap();
    let x = pre.encode_rows(cols, &rows).unwrap();
    (pre, x)
}

fn model(cols: &[RawColumn], y: &[usize]) -> Model {
    let (pre, x) = encoded(cols, y.len());
    let fit = logistic::fit(
        &x,
        y,
        2,
        &vec![1.0; y.len()],
        &LogisticOptions::default(),
        &Parallel::serial(),
        &Silent,
    );
    Model {
        task: Task::Binary,
        classes: vec!["false".into(), "true".into()],
        threshold: 0.5,
        preprocessor: pre,
        estimator: Estimator::Linear {
            coef: fit.coef,
            intercept: fit.intercept,
        },
    }
}

fn scoring(c: &mut Criterion) {
    let n = 10_000;
    let (cols, y) = data(n);
    let m = model(&cols, &y);
    let raw: Vec<Vec<f64>> = (0..n)
        .map(|i| {
            cols.iter()
                .map(|c| {
                    if let RawColumn::Number(v) = c {
                        v[i]
                    } else {
                        0.0
                    }
                })
                .collect()
        })
        .collect();
    let mut g = c.benchmark_group("score_10k_rows_x20");
    // floor: a dot product and a sigmoid per row on pre-scaled inputs
    let w: Vec<f64> = (0..N_FEATURES).map(|j| j as f64 * 0.01).collect();
    g.bench_function("floor_dot_sigmoid", |b| {
        b.iter(|| {
            let mut s = 0.0;
            for r in &raw {
                s += logistic::sigmoid(dot(r, &w) + 0.1);
            }
            black_box(s)
        })
    });
    g.bench_function("encode_and_predict", |b| {
        let mut x = vec![0.0; m.preprocessor.width];
        let mut out = [0.0];
        b.iter(|| {
            let mut s = 0.0;
            for r in &raw {
                for (j, v) in r.iter().enumerate() {
                    m.preprocessor.encode(j, Value::Number(*v), &mut x).unwrap();
                }
                m.predict_encoded(&x, &mut out);
                s += out[0];
            }
            black_box(s)
        })
    });
    g.finish();
}

fn training(c: &mut Criterion) {
    let n = 100_000;
    let (cols, y) = data(n);
    let (_, x) = encoded(&cols, n);
    let w = vec![1.0; n];
    let mut g = c.benchmark_group("logistic_fit_100k_x20");
    g.sample_size(10);
    // floor: one pass computing X'r, the least any first-order method does per iteration
    g.bench_function("floor_one_gradient_pass", |b| {
        b.iter(|| {
            let mut grad = vec![0.0; N_FEATURES];
            for i in 0..n {
                let r = x.row(i);
                let z = logistic::sigmoid(dot(r, &grad)) - y[i] as f64;
                for j in 0..N_FEATURES {
                    grad[j] += z * r[j];
                }
            }
            black_box(grad)
        })
    });
    for threads in [1, 2] {
        let par = Parallel::new(threads);
        g.bench_function(format!("newton_{threads}_threads"), |b| {
            b.iter(|| {
                black_box(logistic::fit(
                    &x,
                    &y,
                    2,
                    &w,
                    &LogisticOptions::default(),
                    &par,
                    &Silent,
                ))
            })
        });
    }
    g.finish();
}

fn mlp_kernels(c: &mut Criterion) {
    use ml::algorithms::mlp::{self, MlpOptions, Target};
    let n = 20_000;
    let (cols, y) = data(n);
    let (_, x) = encoded(&cols, n);
    let w = vec![1.0; n];
    let opts = MlpOptions {
        epochs: 5,
        early_stopping: false,
        ..Default::default()
    };
    let mut g = c.benchmark_group("mlp64x32_fit_20k_x20_5_epochs");
    g.sample_size(10);
    for threads in [1, 2] {
        let par = Parallel::new(threads);
        g.bench_function(format!("{threads}_threads"), |b| {
            b.iter(|| {
                black_box(mlp::fit(
                    &x,
                    &Target::Classes(&y, 2),
                    &w,
                    &opts,
                    &par,
                    &Silent,
                ))
            })
        });
    }
    // the same fit on candle tensors (CPU): what a GPU build does, minus the GPU
    #[cfg(feature = "candle")]
    g.bench_function("candle_cpu", |b| {
        let dev = candle_core::Device::Cpu;
        b.iter(|| {
            black_box(
                ml::algorithms::mlp::candle::fit(
                    &x,
                    &Target::Classes(&y, 2),
                    &w,
                    &opts,
                    &Parallel::serial(),
                    &Silent,
                    &dev,
                )
                .unwrap(),
            )
        })
    });
    g.finish();
    let net = mlp::fit(
        &x,
        &Target::Classes(&y, 2),
        &w,
        &MlpOptions { epochs: 1, ..opts },
        &Parallel::serial(),
        &Silent,
    )
    .mlp;
    let mut g = c.benchmark_group("mlp64x32_score_10k_rows_x20");
    g.bench_function("predict_per_row", |b| {
        let mut out = [0.0];
        b.iter(|| {
            let mut s = 0.0;
            for i in 0..10_000 {
                net.predict(x.row(i), &mut out);
                s += out[0];
            }
            black_box(s)
        })
    });
    #[cfg(feature = "candle")]
    g.bench_function("candle_cpu_batch", |b| {
        let rows: Vec<usize> = (0..10_000).collect();
        let batch = x.select_rows(&rows);
        b.iter(|| {
            black_box(
                ml::algorithms::mlp::candle::predict_batch(&net, &batch, &candle_core::Device::Cpu)
                    .unwrap(),
            )
        })
    });
    g.finish();
}

/// Gradient-boosted trees: fitting 100 rounds of 31 leaves on 20,000 rows (serial and 2
/// threads), and scoring a row with the 100 trees, walked 8 at once (what insight.predict does)
/// and one after the other (the floor of a plain walk).
fn tree_kernels(c: &mut Criterion) {
    use ml::algorithms::gbdt::boost::{fit, BoostOptions};
    use ml::algorithms::Target;
    let (cols, y) = data(20_000);
    let (_, x) = encoded(&cols, 20_000);
    let w = vec![1.0; x.rows];
    // gbdt's defaults (100 rounds of 31 leaves, 20 rows a leaf, 255 bins), no early stopping
    let opts = BoostOptions {
        seed: 1,
        ..BoostOptions::default()
    };
    let mut g = c.benchmark_group("gbdt_fit_100x31_20k_rows_x20");
    g.sample_size(10);
    for threads in [1, 2] {
        let par = Parallel::new(threads);
        g.bench_function(format!("{threads}_threads"), |b| {
            b.iter(|| black_box(fit(&x, &Target::Classes(&y, 2), &w, &opts, &par, &Silent)))
        });
    }
    g.finish();
    let model = fit(
        &x,
        &Target::Classes(&y, 2),
        &w,
        &opts,
        &Parallel::new(2),
        &Silent,
    )
    .model;
    let mut g = c.benchmark_group("gbdt_score_10k_rows_100_trees");
    g.bench_function("raw_8_walks_at_once", |b| {
        let mut out = [0.0];
        b.iter(|| {
            let mut s = 0.0;
            for i in 0..10_000 {
                model.raw(x.row(i), &mut out);
                s += out[0];
            }
            black_box(s)
        })
    });
    g.bench_function("floor_one_walk_at_a_time", |b| {
        b.iter(|| {
            let mut s = 0.0;
            for i in 0..10_000 {
                s += model.trees.iter().map(|t| t.predict(x.row(i))).sum::<f64>();
            }
            black_box(s)
        })
    });
    g.finish();
}

/// Recommenders: an ALS fit on 100,000 interactions (10,000 customers, 2,000 items, 64 factors,
/// 15 iterations) on 1 and 2 threads, and one customer's top 10 with reasons (what
/// insight.recommend computes) against its floor, the 2,000 dot products of the scores alone.
fn recommender_kernels(c: &mut Criterion) {
    use ml::recommend::als::{dot as fdot, fit, AlsOptions};
    use ml::recommend::interactions::Interactions;
    use ml::recommend::{Recommender, Scorer};
    let (n_users, n_items) = (10_000usize, 2_000usize);
    let (mut us, mut is) = (Vec::new(), Vec::new());
    for u in 0..n_users {
        for k in 0..10 {
            // a taste of 50 items per customer group, and a catalogue-wide draw
            let i = if k < 8 {
                (u % 40) * 50 + (u * 7 + k * 13) % 50
            } else {
                (u * 31 + k * 97) % n_items
            };
            us.push(u as u32);
            is.push(i as u32);
        }
    }
    let r = Interactions::from_triples(n_users, n_items, &us, &is, &vec![1.0; us.len()]);
    let o = AlsOptions::default();
    let mut g = c.benchmark_group("als_fit_100k_interactions_64_factors");
    g.sample_size(10);
    for threads in [1, 2] {
        let par = Parallel::new(threads);
        g.bench_function(format!("{threads}_threads"), |b| {
            b.iter(|| black_box(fit(&r.by_user, &r.by_item, &o, &par, &Silent)))
        });
    }
    g.finish();
    let f = fit(&r.by_user, &r.by_item, &o, &Parallel::new(2), &Silent);
    let rec = Recommender::new(
        (0..n_users).map(|u| u.to_string()).collect(),
        (0..n_items).map(|i| format!("item{i}")).collect(),
        r.by_user.clone(),
        Scorer::Als {
            factors: o.factors,
            alpha: o.alpha,
            regularization: o.regularization,
            user_factors: f.user_factors.clone(),
            item_factors: f.item_factors.clone(),
        },
    );
    let mut g = c.benchmark_group("recommend_top10_2000_items_64_factors");
    g.bench_function("top10_with_reasons", |b| {
        let mut u = 0;
        b.iter(|| {
            u = (u + 1) % n_users;
            black_box(rec.recommend(Some(u), 10, true, &Silent))
        })
    });
    g.bench_function("floor_scores_only", |b| {
        let mut u = 0;
        let fw = o.factors;
        b.iter(|| {
            u = (u + 1) % n_users;
            let xu = &f.user_factors[u * fw..(u + 1) * fw];
            let s: f32 = f.item_factors.chunks_exact(fw).map(|y| fdot(xu, y)).sum();
            black_box(s)
        })
    });
    g.finish();
}

criterion_group!(
    benches,
    scoring,
    training,
    mlp_kernels,
    tree_kernels,
    recommender_kernels
);
criterion_main!(benches);
