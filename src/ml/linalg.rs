//! Small dense linear algebra: a row-major matrix, dot products and a Cholesky solver for the
//! (features x features) systems of Newton steps and normal equations.

/// A dense row-major matrix of f64.
#[derive(Clone, Debug, PartialEq)]
pub struct Matrix {
    pub data: Vec<f64>,
    pub rows: usize,
    pub cols: usize,
}

impl Matrix {
    pub fn zeros(rows: usize, cols: usize) -> Self {
        Matrix {
            data: vec![0.0; rows * cols],
            rows,
            cols,
        }
    }

    pub fn from_rows(rows: &[Vec<f64>]) -> Self {
        let cols = rows.first().map_or(0, |r| r.len());
        let mut data = Vec::with_capacity(rows.len() * cols);
        for r in rows {
            assert_eq!(r.len(), cols, "ragged rows");
            data.extend_from_slice(r);
        }
        Matrix {
            data,
            rows: rows.len(),
            cols,
        }
    }

    #[inline]
    pub fn row(&self, i: usize) -> &[f64] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    #[inline]
    pub fn row_mut(&mut self, i: usize) -> &mut [f64] {
        let c = self.cols;
        &mut self.data[i * c..(i + 1) * c]
    }

    /// A new matrix holding the given rows, in that order.
    pub fn select_rows(&self, idx: &[usize]) -> Matrix {
        let mut data = Vec::with_capacity(idx.len() * self.cols);
        for &i in idx {
            data.extend_from_slice(self.row(i));
        }
        Matrix {
            data,
            rows: idx.len(),
            cols: self.cols,
        }
    }
}

/// Dot product written as four independent accumulators so LLVM vectorises it.
#[inline]
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    debug_assert_eq!(a.len(), b.len());
    let mut acc = [0.0f64; 4];
    let chunks = a.len() / 4;
    for c in 0..chunks {
        let i = c * 4;
        acc[0] += a[i] * b[i];
        acc[1] += a[i + 1] * b[i + 1];
        acc[2] += a[i + 2] * b[i + 2];
        acc[3] += a[i + 3] * b[i + 3];
    }
    let mut s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    for i in chunks * 4..a.len() {
        s += a[i] * b[i];
    }
    s
}

/// Solves `a x = b` for a symmetric positive definite `a` (n x n, row-major), overwriting `b`
/// with `x`. Returns false when `a` is not positive definite (nothing useful is left in `b`).
pub fn cholesky_solve(a: &[f64], n: usize, b: &mut [f64]) -> bool {
    cholesky_solve_checked(a, n, b, &super::monitor::Silent)
}

/// As `cholesky_solve`, asking `monitor` every 32 columns (the factorisation is n^3 / 6
/// multiply-adds: seconds for thousands of inputs).
pub fn cholesky_solve_checked(
    a: &[f64],
    n: usize,
    b: &mut [f64],
    monitor: &dyn super::monitor::Monitor,
) -> bool {
    match cholesky(a, n, monitor) {
        Some(l) => {
            cholesky_solve_factored(&l, n, b);
            true
        }
        None => false,
    }
}

/// The Cholesky factor L (lower triangle, row-major) of a symmetric positive definite `a`
/// (n x n), or None when `a` is not positive definite; `monitor` is asked every 32 columns.
pub fn cholesky(a: &[f64], n: usize, monitor: &dyn super::monitor::Monitor) -> Option<Vec<f64>> {
    let mut l = vec![0.0; n * n];
    for j in 0..n {
        if j % 32 == 31 {
            monitor.checkpoint();
        }
        let mut d = a[j * n + j];
        for k in 0..j {
            d -= l[j * n + k] * l[j * n + k];
        }
        if !(d > 0.0) || !d.is_finite() {
            return None;
        }
        let djj = d.sqrt();
        l[j * n + j] = djj;
        for i in j + 1..n {
            let mut s = a[i * n + j];
            for k in 0..j {
                s -= l[i * n + k] * l[j * n + k];
            }
            l[i * n + j] = s / djj;
        }
    }
    Some(l)
}

/// Solves L L^T x = b with the factor from [`cholesky`], overwriting `b` (2 n^2 multiply-adds:
/// factor once, solve many).
pub fn cholesky_solve_factored(l: &[f64], n: usize, b: &mut [f64]) {
    // forward: L y = b
    for i in 0..n {
        let mut s = b[i];
        for k in 0..i {
            s -= l[i * n + k] * b[k];
        }
        b[i] = s / l[i * n + i];
    }
    // backward: L^T x = y
    for i in (0..n).rev() {
        let mut s = b[i];
        for k in i + 1..n {
            s -= l[k * n + i] * b[k];
        }
        b[i] = s / l[i * n + i];
    }
}

/// Solves a symmetric positive semi-definite system, adding a tiny ridge when it is singular
/// (collinear features): the answer then tends to the minimum-norm solution. None when the
/// system holds a non-finite number or no ridge up to 1e12 x its largest diagonal helps.
pub fn solve_spd_regularised(
    a: &[f64],
    n: usize,
    b: &[f64],
    monitor: &dyn super::monitor::Monitor,
) -> Option<Vec<f64>> {
    if !a.iter().chain(b).all(|v| v.is_finite()) {
        return None;
    }
    let mut x = b.to_vec();
    if cholesky_solve_checked(a, n, &mut x, monitor) {
        return Some(x);
    }
    let max_diag = (0..n)
        .map(|i| a[i * n + i].abs())
        .fold(0.0, f64::max)
        .max(1e-300);
    let mut jitter = max_diag * 1e-12;
    // 13 tries: 1e-12 to 1e12 times the largest diagonal
    for _ in 0..13 {
        let mut aj = a.to_vec();
        for i in 0..n {
            aj[i * n + i] += jitter;
        }
        x.copy_from_slice(b);
        if cholesky_solve_checked(&aj, n, &mut x, monitor) {
            return Some(x);
        }
        jitter *= 100.0;
    }
    None
}

#[inline]
pub fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}
/// Turns scores into probabilities that sum to 1 (shifted by the maximum for stability).
pub fn softmax_in_place(v: &mut [f64]) {
    let m = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let mut s = 0.0;
    for x in v.iter_mut() {
        *x = (*x - m).exp();
        s += *x;
    }
    for x in v.iter_mut() {
        *x /= s;
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_matches_naive() {
        let a: Vec<f64> = (0..37).map(|i| i as f64 * 0.5).collect();
        let b: Vec<f64> = (0..37).map(|i| 1.0 - i as f64).collect();
        let naive: f64 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - naive).abs() < 1e-9);
    }

    #[test]
    fn cholesky_solves_known_system() {
        // A = [[4,2],[2,3]], b = [2,1] -> x = [0.5, 0]
        let a = [4.0, 2.0, 2.0, 3.0];
        let mut b = [2.0, 1.0];
        assert!(cholesky_solve(&a, 2, &mut b));
        assert!((b[0] - 0.5).abs() < 1e-12 && b[1].abs() < 1e-12);
    }

    #[test]
    fn cholesky_rejects_indefinite_and_regularised_recovers() {
        let a = [1.0, 1.0, 1.0, 1.0]; // singular
        let mut b = [2.0, 2.0];
        assert!(!cholesky_solve(&a, 2, &mut b));
        let x = solve_spd_regularised(&a, 2, &[2.0, 2.0], &crate::ml::monitor::Silent).unwrap();
        assert!(solve_spd_regularised(
            &[f64::NAN, 0.0, 0.0, 1.0],
            2,
            &[1.0, 1.0],
            &crate::ml::monitor::Silent
        )
        .is_none());
        // minimum-norm solution of x0 + x1 = 2 is (1, 1)
        assert!(
            (x[0] - 1.0).abs() < 1e-4 && (x[1] - 1.0).abs() < 1e-4,
            "{x:?}"
        );
    }
}
