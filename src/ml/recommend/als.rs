//! Implicit-feedback alternating least squares (Hu, Koren and Volinsky, "Collaborative Filtering
//! for Implicit Feedback Datasets", 2008). Every customer u and item i get `factors` numbers x_u,
//! y_i; the fit minimises
//!
//!   sum over all (u, i) of c_ui (p_ui - x_u . y_i)^2 + regularization (|x|^2 + |y|^2)
//!
//! with preference p_ui = 1 where u interacted with i (0 elsewhere) and confidence
//! c_ui = 1 + alpha * strength_ui (1 elsewhere); each customer's and item's penalty is weighted
//! by its interaction count (Zhou et al. 2008, "weighted-lambda regularization", as Spark's ALS),
//! so one `regularization` suits small and large tables. With the items fixed each customer's x_u is a
//! least-squares solve, and the reverse; the sum over all pairs is never formed: Y^T C_u Y =
//! Y^T Y + Y^T (C_u - I) Y, and C_u - I is zero but for the customer's own items. Each solve
//! takes `cg_steps` conjugate-gradient steps from the previous x_u (Takacs, Pilaszy and Tikk
//! 2011, as the `implicit` package does), so an iteration costs O(nnz f + (users + items) f^2).
//! Factors are f32 (as `implicit`'s), sums in f32 lanes the compiler vectorises.

use super::interactions::Csr;
use crate::ml::monitor::Monitor;
use crate::ml::parallel::Parallel;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

#[derive(Clone, Debug)]
pub struct AlsOptions {
    pub factors: usize,
    pub regularization: f32,
    pub alpha: f32,
    pub iterations: usize,
    pub cg_steps: usize,
    pub seed: u64,
}

impl Default for AlsOptions {
    fn default() -> Self {
        AlsOptions {
            factors: 64,
            // measured on planted tastes (golden recommend): 0.01 -> 0.1 -> 1 -> 3 -> 10 gave
            // precision@10 0.040, 0.052, 0.102, 0.096, 0.022
            regularization: 1.0,
            alpha: 10.0,
            iterations: 15,
            cg_steps: 3,
            seed: 0,
        }
    }
}

/// The widest factors a model may hold (a damaged row must not make scoring allocate by it).
pub const MAX_FACTORS: usize = 1024;

/// Customers solved per job: enough work to hand out, few enough to balance two cores and to
/// answer cancel between rounds.
const BLOCK: usize = 512;

#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    // eight independent lanes: the compiler keeps them in one SIMD register
    let mut acc = [0f32; 8];
    let (ca, ra) = a.as_chunks::<8>();
    let (cb, rb) = b.as_chunks::<8>();
    for (x, y) in ca.iter().zip(cb) {
        for l in 0..8 {
            acc[l] += x[l] * y[l];
        }
    }
    let mut s: f32 = acc.iter().sum();
    for (x, y) in ra.iter().zip(rb) {
        s += x * y;
    }
    s
}

#[inline]
fn axpy(a: f32, x: &[f32], y: &mut [f32]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += a * xi;
    }
}

/// Y^T Y + regularization I, f x f (row-major), summed in f64 over the rows of `y`.
fn gram(y: &[f32], f: usize, regularization: f32, par: &Parallel) -> Vec<f32> {
    let rows = y.len() / f.max(1);
    let parts = par.map(&(0..rows.div_ceil(4096)).collect::<Vec<_>>(), |&b| {
        let mut g = vec![0f64; f * f];
        for r in b * 4096..((b + 1) * 4096).min(rows) {
            let v = &y[r * f..(r + 1) * f];
            for a in 0..f {
                let va = f64::from(v[a]);
                for (gb, &vb) in g[a * f..(a + 1) * f].iter_mut().zip(v) {
                    *gb += va * f64::from(vb);
                }
            }
        }
        g
    });
    let mut g = vec![0f64; f * f];
    for p in parts {
        for (a, b) in g.iter_mut().zip(p) {
            *a += b;
        }
    }
    for a in 0..f {
        g[a * f + a] += f64::from(regularization);
    }
    g.into_iter().map(|v| v as f32).collect()
}

/// A^T-free matrix-vector product with the symmetric f x f matrix `g`.
#[inline]
fn symv(g: &[f32], v: &[f32], out: &mut [f32]) {
    let f = v.len();
    for (a, o) in out.iter_mut().enumerate() {
        *o = dot(&g[a * f..(a + 1) * f], v);
    }
}

/// New factors for every row of `r` (customers, or items with `r` transposed) against the fixed
/// factors `y` of the other side, `cg_steps` conjugate-gradient steps from `x`.
#[allow(clippy::too_many_arguments)]
fn solve_side(
    r: &Csr,
    x: &mut [f32],
    y: &[f32],
    f: usize,
    o: &AlsOptions,
    par: &Parallel,
    monitor: &dyn Monitor,
) {
    // the penalty per row scales with its interactions (weighted-lambda regularisation, Zhou
    // et al. 2008, as Spark's ALS): the same regularization suits small and large tables
    let yty = gram(y, f, 0.0, par);
    let mut done = Vec::new();
    let rows = r.rows();
    par.fold_blocks(
        rows,
        BLOCK,
        monitor,
        &mut done,
        |block| {
            let mut out = x[block.start * f..block.end * f].to_vec();
            let (mut res, mut p, mut ap) = (vec![0f32; f], vec![0f32; f], vec![0f32; f]);
            for (k, u) in block.clone().enumerate() {
                let xu = &mut out[k * f..(k + 1) * f];
                let reg = o.regularization * (r.range(u).len().max(1) as f32);
                // residual: Y^T C_u p_u - (Y^T C_u Y + reg I) x_u
                symv(&yty, xu, &mut res);
                axpy(reg, xu, &mut res);
                res.iter_mut().for_each(|v| *v = -*v);
                for (i, s) in r.row(u) {
                    let yi = &y[i * f..(i + 1) * f];
                    let c = 1.0 + o.alpha * s;
                    axpy(c - (c - 1.0) * dot(yi, xu), yi, &mut res);
                }
                p.copy_from_slice(&res);
                let mut rs_old = dot(&res, &res);
                for _ in 0..o.cg_steps {
                    if rs_old < 1e-20 {
                        break;
                    }
                    symv(&yty, &p, &mut ap);
                    axpy(reg, &p, &mut ap);
                    for (i, s) in r.row(u) {
                        let yi = &y[i * f..(i + 1) * f];
                        axpy(o.alpha * s * dot(yi, &p), yi, &mut ap);
                    }
                    let step = rs_old / dot(&p, &ap);
                    if !step.is_finite() {
                        break;
                    }
                    axpy(step, &p, xu);
                    axpy(-step, &ap, &mut res);
                    let rs_new = dot(&res, &res);
                    let beta = rs_new / rs_old;
                    for (pv, rv) in p.iter_mut().zip(&res) {
                        *pv = rv + beta * *pv;
                    }
                    rs_old = rs_new;
                }
            }
            vec![(block, out)]
        },
        |acc: &mut Vec<(std::ops::Range<usize>, Vec<f32>)>, part| acc.extend(part),
    );
    for (block, part) in done {
        x[block.start * f..block.end * f].copy_from_slice(&part);
    }
}

/// The fitted factors: customers x factors and items x factors, row-major.
pub struct AlsFit {
    pub user_factors: Vec<f32>,
    pub item_factors: Vec<f32>,
    /// The objective after the last iteration, per interaction (progress and tests).
    pub loss: f64,
}

/// Fits `o.iterations` rounds of alternating solves on the interactions (`by_user` customers x
/// items, `by_item` its transpose).
pub fn fit(
    by_user: &Csr,
    by_item: &Csr,
    o: &AlsOptions,
    par: &Parallel,
    monitor: &dyn Monitor,
) -> AlsFit {
    let f = o.factors;
    let (n_users, n_items) = (by_user.rows(), by_item.rows());
    let mut rng = ChaCha8Rng::seed_from_u64(o.seed ^ 0xA15_A15);
    // small random starts, as `implicit`: the first customer solve scales them up
    let mut xs: Vec<f32> = (0..n_users * f).map(|_| rng.gen::<f32>() * 0.01).collect();
    let mut ys: Vec<f32> = (0..n_items * f).map(|_| rng.gen::<f32>() * 0.01).collect();
    let mut loss = f64::NAN;
    for it in 0..o.iterations {
        solve_side(by_user, &mut xs, &ys, f, o, par, monitor);
        solve_side(by_item, &mut ys, &xs, f, o, par, monitor);
        if monitor.wants_progress() || it + 1 == o.iterations {
            loss = objective(by_user, by_item, &xs, &ys, f, o, par);
            if monitor.wants_progress() {
                monitor.progress(&format!(
                    "iteration {}/{}: loss {:.6} per interaction",
                    it + 1,
                    o.iterations,
                    loss
                ));
            }
        }
    }
    AlsFit {
        user_factors: xs,
        item_factors: ys,
        loss,
    }
}

/// The fit's objective divided by the interaction count, computed as `implicit` does without
/// the dense sum: sum_u x_u^T (Y^T Y) x_u + sum over interactions of c (1 - s)^2 - (s^2) with
/// s = x_u . y_i, plus the penalty (each row's weighted by its interactions, at least 1).
pub fn objective(
    by_user: &Csr,
    by_item: &Csr,
    xs: &[f32],
    ys: &[f32],
    f: usize,
    o: &AlsOptions,
    par: &Parallel,
) -> f64 {
    let yty = gram(ys, f, 0.0, par);
    let n_users = by_user.rows();
    let mut total = 0f64;
    let mut tmp = vec![0f32; f];
    for u in 0..n_users {
        let xu = &xs[u * f..(u + 1) * f];
        symv(&yty, xu, &mut tmp);
        total += f64::from(dot(&tmp, xu));
        for (i, s) in by_user.row(u) {
            let c = f64::from(1.0 + o.alpha * s);
            let pred = f64::from(dot(xu, &ys[i * f..(i + 1) * f]));
            total += c * (1.0 - pred).powi(2) - pred * pred;
        }
        total += penalty(o, by_user, u, xu);
    }
    for i in 0..by_item.rows() {
        total += penalty(o, by_item, i, &ys[i * f..(i + 1) * f]);
    }
    total / by_user.nnz().max(1) as f64
}

/// Row r's penalty: regularization x its interactions (at least 1) x |v|^2.
fn penalty(o: &AlsOptions, r: &Csr, row: usize, v: &[f32]) -> f64 {
    f64::from(o.regularization) * r.range(row).len().max(1) as f64 * f64::from(dot(v, v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ml::monitor::Silent;
    use crate::ml::recommend::interactions::Interactions;

    /// A small dense problem solved exactly: the full objective over every pair, by brute force.
    fn full_objective(r: &Interactions, xs: &[f32], ys: &[f32], f: usize, o: &AlsOptions) -> f64 {
        let mut total = 0.0;
        for u in 0..r.n_users {
            for i in 0..r.n_items {
                let s = r.by_user.row(u).find(|&(c, _)| c == i).map(|(_, v)| v);
                let (p, c) = match s {
                    Some(s) => (1.0, 1.0 + f64::from(o.alpha * s)),
                    None => (0.0, 1.0),
                };
                let pred: f64 = (0..f)
                    .map(|k| f64::from(xs[u * f + k]) * f64::from(ys[i * f + k]))
                    .sum();
                total += c * (p - pred).powi(2);
            }
        }
        let pen = |v: &[f32], n: usize| {
            n.max(1) as f64 * v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>()
        };
        let pen_x: f64 = (0..r.n_users)
            .map(|u| pen(&xs[u * f..(u + 1) * f], r.by_user.range(u).len()))
            .sum();
        let pen_y: f64 = (0..r.n_items)
            .map(|i| pen(&ys[i * f..(i + 1) * f], r.by_item.range(i).len()))
            .sum();
        (total + f64::from(o.regularization) * (pen_x + pen_y)) / r.nnz() as f64
    }

    fn planted(users: usize, items: usize, seed: u64) -> Interactions {
        // two tastes: even customers buy even items, odd customers odd items, a few each
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let (mut us, mut is, mut ss) = (vec![], vec![], vec![]);
        for u in 0..users {
            for _ in 0..6 {
                let i = (rng.gen_range(0..items / 2) * 2 + u % 2) as u32;
                us.push(u as u32);
                is.push(i);
                ss.push(1.0);
            }
        }
        Interactions::from_triples(users, items, &us, &is, &ss)
    }

    #[test]
    fn the_sparse_objective_equals_the_dense_one_and_falls() {
        let r = planted(40, 20, 3);
        let o = AlsOptions {
            factors: 4,
            iterations: 1,
            ..Default::default()
        };
        let par = Parallel::serial();
        let mut last = f64::INFINITY;
        for iterations in [1, 2, 4, 8] {
            let fit = fit(
                &r.by_user,
                &r.by_item,
                &AlsOptions {
                    iterations,
                    ..o.clone()
                },
                &par,
                &Silent,
            );
            let dense = full_objective(&r, &fit.user_factors, &fit.item_factors, 4, &o);
            assert!(
                (fit.loss - dense).abs() < 1e-4 * dense.max(1.0),
                "{} vs {dense}",
                fit.loss
            );
            assert!(dense <= last + 1e-6, "the loss rose: {last} -> {dense}");
            last = dense;
        }
    }

    #[test]
    fn tastes_are_learned_and_threads_change_nothing() {
        let r = planted(200, 40, 5);
        let o = AlsOptions {
            factors: 8,
            ..Default::default()
        };
        let a = fit(&r.by_user, &r.by_item, &o, &Parallel::new(2), &Silent);
        let b = fit(&r.by_user, &r.by_item, &o, &Parallel::serial(), &Silent);
        assert_eq!(a.user_factors, b.user_factors);
        assert_eq!(a.item_factors, b.item_factors);
        // every customer scores the items of their own parity above the others
        let f = 8;
        for u in 0..200 {
            let xu = &a.user_factors[u * f..(u + 1) * f];
            let score = |i: usize| dot(xu, &a.item_factors[i * f..(i + 1) * f]);
            let same: f32 = (0..40).filter(|i| i % 2 == u % 2).map(score).sum::<f32>() / 20.0;
            let other: f32 = (0..40).filter(|i| i % 2 != u % 2).map(score).sum::<f32>() / 20.0;
            assert!(same > other + 0.2, "customer {u}: {same} vs {other}");
        }
    }
}
