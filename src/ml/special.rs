//! Special functions the lifetime-value models need: ln Gamma, digamma, and the Gauss
//! hypergeometric function 2F1 (in log space, so that the large parameters of frequent buyers do
//! not overflow).

extern "C" {
    /// The C library's reentrant ln |Gamma(x)| (POSIX lgamma_r: the sign goes to `sign`, not to
    /// the global signgam, so threads may call it at once).
    fn lgamma_r(x: f64, sign: *mut libc::c_int) -> f64;
}

/// ln |Gamma(x)|.
pub fn ln_gamma(x: f64) -> f64 {
    let mut sign: libc::c_int = 0;
    // SAFETY: lgamma_r reads x and writes the one int we pass
    unsafe { lgamma_r(x, &mut sign) }
}

/// The digamma function psi(x) = d/dx ln Gamma(x), for x > 0: the recurrence up to x >= 10,
/// then the asymptotic series to the x^-12 term (error below 1e-15 there).
pub fn digamma(mut x: f64) -> f64 {
    let mut shift = 0.0;
    while x < 10.0 {
        shift -= 1.0 / x;
        x += 1.0;
    }
    let inv = 1.0 / x;
    let inv2 = inv * inv;
    shift + x.ln()
        - 0.5 * inv
        - inv2
            * (1.0 / 12.0
                - inv2
                    * (1.0 / 120.0
                        - inv2
                            * (1.0 / 252.0
                                - inv2
                                    * (1.0 / 240.0
                                        - inv2 * (1.0 / 132.0 - inv2 * (691.0 / 32760.0))))))
}

/// ln 2F1(a, b; c; z) for 0 <= z < 1 and a, b, c > 0, by the power series summed with a running
/// scale (terms can grow past float8's range before they fall). Where the direct series would
/// need too many terms it uses Euler's transformation
/// 2F1(a, b; c; z) = (1 - z)^(c - a - b) 2F1(c - a, c - b; c; z), as lifetimes does.
pub fn ln_hyp2f1(a: f64, b: f64, c: f64, z: f64) -> f64 {
    if z == 0.0 {
        return 0.0;
    }
    match series(a, b, c, z) {
        Some(v) => v,
        None => series(c - a, c - b, c, z).map_or(f64::NAN, |v| v + (c - a - b) * (1.0 - z).ln()),
    }
}

/// ln of the series sum_n (a)_n (b)_n / ((c)_n n!) z^n, None if it does not settle in 1e6 terms
/// or a term turns negative (then the other form is used).
fn series(a: f64, b: f64, c: f64, z: f64) -> Option<f64> {
    let mut log_scale = 0.0f64;
    let mut term = 1.0f64;
    let mut sum = 1.0f64;
    for n in 0..1_000_000u32 {
        let n = n as f64;
        term *= (a + n) * (b + n) / ((c + n) * (n + 1.0)) * z;
        if term.is_nan() || term < 0.0 {
            return None;
        }
        sum += term;
        if sum > 1e200 {
            sum *= 1e-200;
            term *= 1e-200;
            log_scale += 200.0 * std::f64::consts::LN_10;
        }
        if term < sum * 1e-17 && n > (a * b / c).abs().min(1e6) {
            return Some(sum.ln() + log_scale);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        // Gamma(5) = 24; psi(1) = -Euler's constant; psi(x + 1) = psi(x) + 1 / x
        assert!((ln_gamma(5.0) - 24f64.ln()).abs() < 1e-14);
        assert!((digamma(1.0) + 0.5772156649015329).abs() < 1e-14);
        assert!((digamma(3.7) - digamma(2.7) - 1.0 / 2.7).abs() < 1e-14);
        assert!((digamma(1000.0) - 6.907255195648812).abs() < 1e-13);
        // 2F1(1, 1; 2; z) = -ln(1 - z) / z; 2F1(a, b; b; z) = (1 - z)^-a
        for z in [0.1f64, 0.5, 0.9, 0.999] {
            let want = (-(1.0 - z).ln() / z).ln();
            assert!(
                (ln_hyp2f1(1.0, 1.0, 2.0, z) - want).abs() < 1e-12,
                "z = {z}"
            );
            assert!(
                (ln_hyp2f1(250.5, 3.0, 3.0, z) + 250.5 * (1.0 - z).ln()).abs()
                    < 1e-9 * 250.5 * 10.0,
                "z = {z}"
            );
        }
    }
}
