//! pg_insight's k-means and agglomerative clustering vs linfa-clustering and kodama, same data,
//! same process, release build. Prints markdown tables (README, Segmentation).
//! Usage: pg_insight_compare [kmeans rows (default 1,000,000; scripts/bench passes 200,000)] [rounds (default 3)]

#[allow(dead_code, unused_imports)]
#[path = "../../../src/ml/mod.rs"]
mod ml;

use linfa::traits::{Fit, Predict};
use linfa::DatasetBase;
use ml::algorithms::agglomerative::linkage::{cut, linkage, Linkage};
use ml::algorithms::kmeans::{self, KMeansOptions, Method};
use ml::linalg::Matrix;
use ml::metrics::adjusted_rand;
use ml::monitor::Silent;
use ml::parallel::Parallel;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::time::Instant;

const D: usize = 20;
const K: usize = 8;

/// bench_segments of benches/sql/setup.sql: segment s = i % 8 centred at ((2s + 7j) mod 11 - 5)
/// * 0.6 on feature j, plus standard normal noise (seeded here, not by PostgreSQL's random()).
fn planted(n: usize, seed: u64) -> (Matrix, Vec<usize>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut data = Vec::with_capacity(n * D);
    let mut truth = Vec::with_capacity(n);
    for i in 0..n {
        let s = i % K;
        for j in 0..D {
            let u1: f64 = rand::Rng::gen::<f64>(&mut rng).max(f64::MIN_POSITIVE);
            let u2: f64 = rand::Rng::gen(&mut rng);
            let noise = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
            data.push(((2 * s + 7 * (j + 1)) % 11) as f64 * 0.6 - 3.0 + noise);
        }
        truth.push(s);
    }
    (Matrix { data, rows: n, cols: D }, truth)
}

fn inertia(x: &Matrix, centers: &[f64]) -> f64 {
    (0..x.rows).map(|i| ml::distance::nearest(x.row(i), centers, x.cols).1).sum()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rows: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let rounds: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(3);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let par = Parallel::new(threads);

    // ---- k-means: pg_insight (full and mini-batch) vs linfa-clustering, interleaved rounds
    let (x, truth) = planted(rows, 7);
    let array = ndarray::Array2::from_shape_vec((x.rows, x.cols), x.data.clone()).expect("shape");
    let dataset = DatasetBase::from(array.clone());
    println!("## k-means, k = {K}, n_init = 10, {rows} rows x {D}, {threads} threads, median of {rounds} interleaved rounds\n");
    println!("| implementation | median fit | min-max | inertia | ARI vs planted |\n|---|---|---|---|---|");
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); 3];
    let mut results = vec![(0.0, 0.0); 3];
    for _ in 0..rounds {
        for (slot, method) in [(0, Method::Full), (1, Method::MiniBatch)] {
            let t = Instant::now();
            let f = kmeans::fit(&x, &KMeansOptions { k: K, method, ..Default::default() }, &par, &Silent);
            times[slot].push(t.elapsed().as_secs_f64());
            let labels: Vec<usize> = f.labels.iter().map(|&l| l as usize).collect();
            results[slot] = (f.inertia, adjusted_rand(&labels, &truth));
        }
        let t = Instant::now();
        let model = linfa_clustering::KMeans::params_with_rng(K, ChaCha8Rng::seed_from_u64(42))
            .n_runs(10)
            .max_n_iterations(300)
            .tolerance(1e-4)
            .fit(&dataset)
            .expect("linfa fit");
        times[2].push(t.elapsed().as_secs_f64());
        let labels: Vec<usize> = model.predict(&array).to_vec();
        let centers: Vec<f64> = model.centroids().iter().copied().collect();
        results[2] = (inertia(&x, &centers), adjusted_rand(&labels, &truth));
    }
    for (slot, name) in ["pg_insight `method full` (Hamerly)", "pg_insight `method minibatch`", "linfa-clustering 0.7 `KMeans` (n_runs 10, tol 1e-4)"].iter().enumerate() {
        let t = &times[slot];
        println!(
            "| {name} | {:.0} ms | {:.0}-{:.0} ms | {:.1} | {:.4} |",
            median(t.clone()) * 1e3,
            t.iter().cloned().fold(f64::INFINITY, f64::min) * 1e3,
            t.iter().cloned().fold(0.0, f64::max) * 1e3,
            results[slot].0,
            results[slot].1
        );
    }

    // ---- hierarchical: pg_insight vs kodama (which needs the n (n - 1) / 2 matrix)
    println!("\n## agglomerative clustering, {D} features, 8 planted segments, one run each\n");
    println!("| rows | linkage | implementation | time | memory for the distances | ARI vs planted at k = 8 | same tree |\n|---|---|---|---|---|---|---|");
    for n in [20_000usize, 50_000] {
        let (x, truth) = planted(n, 11);
        for how in [Linkage::Ward, Linkage::Average] {
            if how.needs_matrix() && n > 20_000 {
                continue;
            }
            let t = Instant::now();
            let ours = linkage(&x, how, &par, &Silent);
            let ours_s = t.elapsed().as_secs_f64();
            let ours_ari = adjusted_rand(&cut(&ours, n, K), &truth);
            let ours_mem = if how.needs_matrix() { n * (n - 1) / 2 * 8 } else { n * D * 8 };
            println!(
                "| {n} | {} | pg_insight | {ours_s:.2} s | {} MB | {ours_ari:.4} | |",
                how.name(),
                ours_mem / 1_000_000
            );
            let matrix_bytes = n * (n - 1) / 2 * 8;
            if matrix_bytes > 4_000_000_000 {
                println!("| {n} | {} | kodama 0.3 | not run: needs {} MB | | | |", how.name(), matrix_bytes / 1_000_000);
                continue;
            }
            let t = Instant::now();
            let mut condensed = Vec::with_capacity(n * (n - 1) / 2);
            for i in 0..n {
                for j in i + 1..n {
                    condensed.push(ml::distance::sq_dist(x.row(i), x.row(j)).sqrt());
                }
            }
            let method = if how == Linkage::Ward { kodama::Method::Ward } else { kodama::Method::Average };
            let dendrogram = kodama::linkage(&mut condensed, n, method);
            let kodama_s = t.elapsed().as_secs_f64();
            let merges: Vec<(f64, usize)> = dendrogram.steps().iter().map(|s| (s.dissimilarity, s.size)).collect();
            let same = merges.len() == ours.len()
                && merges.iter().zip(&ours).all(|(a, b)| (a.0 - b.height).abs() <= 1e-9 * b.height.max(1.0) && a.1 == b.size as usize);
            // kodama's steps to scipy's merge form, for the cut
            let kodama_merges: Vec<ml::algorithms::agglomerative::linkage::Merge> = dendrogram
                .steps()
                .iter()
                .map(|s| ml::algorithms::agglomerative::linkage::Merge {
                    a: s.cluster1.min(s.cluster2) as u32,
                    b: s.cluster1.max(s.cluster2) as u32,
                    height: s.dissimilarity,
                    size: s.size as u32,
                })
                .collect();
            let kodama_ari = adjusted_rand(&cut(&kodama_merges, n, K), &truth);
            println!(
                "| {n} | {} | kodama 0.3 (matrix built serially, included) | {kodama_s:.2} s | {} MB | {kodama_ari:.4} | heights and sizes {} |",
                how.name(),
                matrix_bytes / 1_000_000,
                if same { "equal" } else { "differ" }
            );
        }
    }
}
