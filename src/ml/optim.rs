//! L-BFGS with a backtracking (Armijo) line search, for smooth convex objectives such as
//! multinomial logistic regression or binary logistic regression over many features.

use super::monitor::Monitor;

/// A step predicted to lower the objective by less than this fraction of it cannot be told from
/// rounding in float64 (a sum over up to millions of rows): solvers stop there as converged.
pub const UNREACHABLE_DECREASE: f64 = 1e-15;

pub struct LbfgsOptions {
    pub max_iter: usize,
    /// Stop when the largest gradient component is at most `gtol`.
    pub gtol: f64,
    pub memory: usize,
}

pub struct LbfgsResult {
    pub x: Vec<f64>,
    pub f: f64,
    pub iterations: usize,
    pub converged: bool,
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn max_abs(v: &[f64]) -> f64 {
    v.iter().fold(0.0, |m, x| m.max(x.abs()))
}

/// Minimises `fg`, which returns the objective and writes its gradient into the second argument.
pub fn minimize(
    x0: Vec<f64>,
    mut fg: impl FnMut(&[f64], &mut [f64]) -> f64,
    opts: &LbfgsOptions,
    monitor: &dyn Monitor,
    mut on_iteration: impl FnMut(usize, f64, f64),
) -> LbfgsResult {
    let n = x0.len();
    let mut x = x0;
    let mut g = vec![0.0; n];
    let mut f = fg(&x, &mut g);
    let mut s_hist: Vec<Vec<f64>> = Vec::new();
    let mut y_hist: Vec<Vec<f64>> = Vec::new();
    let mut rho_hist: Vec<f64> = Vec::new();
    let mut x_new = vec![0.0; n];
    let mut g_new = vec![0.0; n];
    let mut converged = max_abs(&g) <= opts.gtol;
    let mut it = 0;
    while !converged && it < opts.max_iter {
        monitor.checkpoint();
        it += 1;
        // two-loop recursion: d = -H g
        let mut q = g.clone();
        let k = s_hist.len();
        let mut alpha = vec![0.0; k];
        for i in (0..k).rev() {
            alpha[i] = rho_hist[i] * dot(&s_hist[i], &q);
            for j in 0..n {
                q[j] -= alpha[i] * y_hist[i][j];
            }
        }
        let gamma = if k > 0 {
            dot(&s_hist[k - 1], &y_hist[k - 1]) / dot(&y_hist[k - 1], &y_hist[k - 1])
        } else {
            1.0 / max_abs(&g).max(1.0)
        };
        for v in q.iter_mut() {
            *v *= gamma;
        }
        for i in 0..k {
            let beta = rho_hist[i] * dot(&y_hist[i], &q);
            for j in 0..n {
                q[j] += s_hist[i][j] * (alpha[i] - beta);
            }
        }
        let mut d: Vec<f64> = q.iter().map(|v| -v).collect();
        let mut slope = dot(&g, &d);
        if slope >= 0.0 {
            // not a descent direction (numerical trouble): restart from steepest descent
            s_hist.clear();
            y_hist.clear();
            rho_hist.clear();
            d = g.iter().map(|v| -v / max_abs(&g).max(1.0)).collect();
            slope = dot(&g, &d);
        }
        if -slope <= 2.0 * UNREACHABLE_DECREASE * f.abs() {
            // the decrease this quasi-Newton step predicts is below float64's resolution of f
            converged = true;
            break;
        }
        let mut t = 1.0;
        let mut accepted = false;
        for _ in 0..60 {
            for j in 0..n {
                x_new[j] = x[j] + t * d[j];
            }
            let f_new = fg(&x_new, &mut g_new);
            if f_new.is_finite() && f_new <= f + 1e-4 * t * slope {
                let s: Vec<f64> = (0..n).map(|j| x_new[j] - x[j]).collect();
                let y: Vec<f64> = (0..n).map(|j| g_new[j] - g[j]).collect();
                let sy = dot(&s, &y);
                if sy > 1e-12 * dot(&y, &y).max(1e-300) {
                    if s_hist.len() == opts.memory {
                        s_hist.remove(0);
                        y_hist.remove(0);
                        rho_hist.remove(0);
                    }
                    rho_hist.push(1.0 / sy);
                    s_hist.push(s);
                    y_hist.push(y);
                }
                let rel_change = (f - f_new).abs() / f.abs().max(f_new.abs()).max(1.0);
                std::mem::swap(&mut x, &mut x_new);
                std::mem::swap(&mut g, &mut g_new);
                f = f_new;
                accepted = true;
                if rel_change < 1e-16 && max_abs(&g) <= opts.gtol * 1e3 {
                    converged = true;
                }
                break;
            }
            t *= 0.5;
        }
        let gmax = max_abs(&g);
        on_iteration(it, f, gmax);
        if gmax <= opts.gtol {
            converged = true;
        }
        if !accepted {
            // no decrease possible along any tried step: we are at the optimum to machine precision
            converged = gmax <= opts.gtol * 1e6;
            break;
        }
    }
    LbfgsResult {
        x,
        f,
        iterations: it,
        converged,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ml::monitor::Silent;

    #[test]
    fn minimises_rosenbrock() {
        let r = minimize(
            vec![-1.2, 1.0],
            |x, g| {
                let (a, b) = (x[0], x[1]);
                g[0] = -2.0 * (1.0 - a) - 400.0 * a * (b - a * a);
                g[1] = 200.0 * (b - a * a);
                (1.0 - a).powi(2) + 100.0 * (b - a * a).powi(2)
            },
            &LbfgsOptions {
                max_iter: 500,
                gtol: 1e-9,
                memory: 10,
            },
            &Silent,
            |_, _, _| {},
        );
        assert!(r.converged);
        assert!(
            (r.x[0] - 1.0).abs() < 1e-6 && (r.x[1] - 1.0).abs() < 1e-6,
            "{:?}",
            r.x
        );
    }
}
