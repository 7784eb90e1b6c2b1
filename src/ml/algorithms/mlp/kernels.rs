//! The f32 kernels of the network: out += a · W for one row (register-blocked AVX2 + FMA where the
//! CPU has it, chosen at run time; a portable loop elsewhere), the batch outer product of the weight
//! gradients, and the scalar helpers. Subnormal floats are flushed inside (see flush_denormals).

#[inline(always)]
pub(super) fn dot32(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let chunks = a.len() / 8;
    for c in 0..chunks {
        let i = c * 8;
        for k in 0..8 {
            acc[k] += a[i + k] * b[i + k];
        }
    }
    let mut s: f32 = acc.iter().sum();
    for i in chunks * 8..a.len() {
        s += a[i] * b[i];
    }
    s
}

#[inline(always)]
pub(super) fn axpy32(alpha: f32, x: &[f32], y: &mut [f32]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += alpha * xi;
    }
}

/// Runs `f` with subnormal floats flushed to zero (x86-64 MXCSR FTZ + DAZ), restoring the
/// caller's mode afterwards, also when `f` panics (a panic becomes an ERROR and the session goes
/// on: with FTZ/DAZ left on, PostgreSQL's own float8 arithmetic would change for the rest of it).
/// Long Adam runs drive moment estimates and some activations into subnormal range, where every
/// multiply takes ~100x longer: measured here as 15 us instead of 1 us per MLP scoring, and 5x
/// slower training. Values that small carry no information.
#[inline]
pub fn flush_denormals<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        /// Restores the saved MXCSR when dropped, on return or unwind.
        struct Restore(u32);
        impl Drop for Restore {
            #[inline]
            fn drop(&mut self) {
                #[allow(deprecated)]
                unsafe {
                    std::arch::x86_64::_mm_setcsr(self.0)
                };
            }
        }
        #[allow(deprecated)]
        let saved = Restore(unsafe { std::arch::x86_64::_mm_getcsr() });
        #[allow(deprecated)]
        unsafe {
            std::arch::x86_64::_mm_setcsr(saved.0 | 0x8040)
        };
        f()
    }
    #[cfg(not(target_arch = "x86_64"))]
    f()
}

/// `FMA`: the AVX2 + FMA kernel (only called from functions compiled for those features).
#[inline(always)]
pub(super) fn accumulate_impl<const FMA: bool>(
    w: &[f32],
    n_out: usize,
    a: &[f32],
    out: &mut [f32],
) {
    assert!(
        w.len() == a.len() * n_out && out.len() == n_out,
        "layer shapes"
    );
    #[cfg(target_arch = "x86_64")]
    if FMA {
        // SAFETY: FMA is only true inside functions compiled for avx2 + fma, which are only
        // called after the CPU was checked; the shapes are asserted above
        return unsafe { accumulate_fma(w, n_out, a, out) };
    }
    if n_out == 1 {
        // a single output (binary and regression heads, their shortcut): the weights are one
        // contiguous column, so this is a dot product
        out[0] += dot32(a, w);
        return;
    }
    for (i, ai) in a.iter().enumerate() {
        if *ai != 0.0 {
            axpy32(*ai, &w[i * n_out..(i + 1) * n_out], out);
        }
    }
}

/// out += a · W with AVX2 + FMA intrinsics. Blocks of 32 outputs stay in registers (4 x 8
/// lanes) while every input is folded in, with two accumulator sets (even and odd inputs) to
/// halve the FMA latency chain; then blocks of 8, then single outputs. Written with intrinsics
/// because, left to itself, LLVM kept the accumulators on the stack in the extension's build
/// (a store and a reload per multiply-add: the kernel took twice as long in SQL as in the bench).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn accumulate_fma(w: &[f32], n_out: usize, a: &[f32], out: &mut [f32]) {
    use std::arch::x86_64::*;
    let n_in = a.len();
    let (wp, ap, op) = (w.as_ptr(), a.as_ptr(), out.as_mut_ptr());
    if n_out == 1 {
        let (mut s0, mut s1) = (_mm256_setzero_ps(), _mm256_setzero_ps());
        let mut i = 0;
        while i + 16 <= n_in {
            s0 = _mm256_fmadd_ps(_mm256_loadu_ps(ap.add(i)), _mm256_loadu_ps(wp.add(i)), s0);
            s1 = _mm256_fmadd_ps(
                _mm256_loadu_ps(ap.add(i + 8)),
                _mm256_loadu_ps(wp.add(i + 8)),
                s1,
            );
            i += 16;
        }
        if i + 8 <= n_in {
            s0 = _mm256_fmadd_ps(_mm256_loadu_ps(ap.add(i)), _mm256_loadu_ps(wp.add(i)), s0);
            i += 8;
        }
        let mut lanes = [0.0f32; 8];
        _mm256_storeu_ps(lanes.as_mut_ptr(), _mm256_add_ps(s0, s1));
        let mut total = ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3]))
            + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
        while i < n_in {
            total = (*ap.add(i)).mul_add(*wp.add(i), total);
            i += 1;
        }
        *op += total;
        return;
    }
    let mut o = 0;
    while o + 32 <= n_out {
        let (mut c0, mut c1, mut c2, mut c3) = (
            _mm256_loadu_ps(op.add(o)),
            _mm256_loadu_ps(op.add(o + 8)),
            _mm256_loadu_ps(op.add(o + 16)),
            _mm256_loadu_ps(op.add(o + 24)),
        );
        let (mut d0, mut d1, mut d2, mut d3) = (
            _mm256_setzero_ps(),
            _mm256_setzero_ps(),
            _mm256_setzero_ps(),
            _mm256_setzero_ps(),
        );
        let mut i = 0;
        while i + 2 <= n_in {
            let (x0, x1) = (_mm256_set1_ps(*ap.add(i)), _mm256_set1_ps(*ap.add(i + 1)));
            let (r0, r1) = (wp.add(i * n_out + o), wp.add((i + 1) * n_out + o));
            c0 = _mm256_fmadd_ps(x0, _mm256_loadu_ps(r0), c0);
            c1 = _mm256_fmadd_ps(x0, _mm256_loadu_ps(r0.add(8)), c1);
            c2 = _mm256_fmadd_ps(x0, _mm256_loadu_ps(r0.add(16)), c2);
            c3 = _mm256_fmadd_ps(x0, _mm256_loadu_ps(r0.add(24)), c3);
            d0 = _mm256_fmadd_ps(x1, _mm256_loadu_ps(r1), d0);
            d1 = _mm256_fmadd_ps(x1, _mm256_loadu_ps(r1.add(8)), d1);
            d2 = _mm256_fmadd_ps(x1, _mm256_loadu_ps(r1.add(16)), d2);
            d3 = _mm256_fmadd_ps(x1, _mm256_loadu_ps(r1.add(24)), d3);
            i += 2;
        }
        if i < n_in {
            let (x0, r0) = (_mm256_set1_ps(*ap.add(i)), wp.add(i * n_out + o));
            c0 = _mm256_fmadd_ps(x0, _mm256_loadu_ps(r0), c0);
            c1 = _mm256_fmadd_ps(x0, _mm256_loadu_ps(r0.add(8)), c1);
            c2 = _mm256_fmadd_ps(x0, _mm256_loadu_ps(r0.add(16)), c2);
            c3 = _mm256_fmadd_ps(x0, _mm256_loadu_ps(r0.add(24)), c3);
        }
        _mm256_storeu_ps(op.add(o), _mm256_add_ps(c0, d0));
        _mm256_storeu_ps(op.add(o + 8), _mm256_add_ps(c1, d1));
        _mm256_storeu_ps(op.add(o + 16), _mm256_add_ps(c2, d2));
        _mm256_storeu_ps(op.add(o + 24), _mm256_add_ps(c3, d3));
        o += 32;
    }
    while o + 8 <= n_out {
        let (mut c, mut d) = (_mm256_loadu_ps(op.add(o)), _mm256_setzero_ps());
        let mut i = 0;
        while i + 2 <= n_in {
            c = _mm256_fmadd_ps(
                _mm256_set1_ps(*ap.add(i)),
                _mm256_loadu_ps(wp.add(i * n_out + o)),
                c,
            );
            d = _mm256_fmadd_ps(
                _mm256_set1_ps(*ap.add(i + 1)),
                _mm256_loadu_ps(wp.add((i + 1) * n_out + o)),
                d,
            );
            i += 2;
        }
        if i < n_in {
            c = _mm256_fmadd_ps(
                _mm256_set1_ps(*ap.add(i)),
                _mm256_loadu_ps(wp.add(i * n_out + o)),
                c,
            );
        }
        _mm256_storeu_ps(op.add(o), _mm256_add_ps(c, d));
        o += 8;
    }
    while o < n_out {
        let mut v = *op.add(o);
        for i in 0..n_in {
            v = (*ap.add(i)).mul_add(*wp.add(i * n_out + o), v);
        }
        *op.add(o) = v;
        o += 1;
    }
}

/// gw (n_in x n_out) += aᵀ · d for a batch: `a` is bsz x n_in, `d` bsz x n_out (row-major). Each
/// weight row is one accumulate over the batch (the inputs' column of `a`, transposed into `at`,
/// against the rows of `d`), so the sums stay in registers.
#[inline(always)]
pub(super) fn add_outer<const FMA: bool>(
    gw: &mut [f32],
    a: &[f32],
    d: &[f32],
    bsz: usize,
    n_in: usize,
    n_out: usize,
    at: &mut Vec<f32>,
) {
    transpose(a, bsz, n_in, at);
    for i in 0..n_in {
        accumulate_impl::<FMA>(
            d,
            n_out,
            &at[i * bsz..(i + 1) * bsz],
            &mut gw[i * n_out..(i + 1) * n_out],
        );
    }
}

/// out (bsz x n_in) += d (bsz x n_out) · wᵀ for an input-major `w` (n_in x n_out): the gradient
/// with respect to a layer's inputs, one accumulate per row against the transposed weights.
#[inline(always)]
pub(super) fn add_times_transpose<const FMA: bool>(
    out: &mut [f32],
    d: &[f32],
    w: &[f32],
    bsz: usize,
    n_in: usize,
    n_out: usize,
    wt: &mut Vec<f32>,
) {
    transpose(w, n_in, n_out, wt);
    for bi in 0..bsz {
        accumulate_impl::<FMA>(
            wt,
            n_in,
            &d[bi * n_out..(bi + 1) * n_out],
            &mut out[bi * n_in..(bi + 1) * n_in],
        );
    }
}

/// `t` = the transpose of the rows x cols matrix `m`.
#[inline(always)]
pub(super) fn transpose(m: &[f32], rows: usize, cols: usize, t: &mut Vec<f32>) {
    t.clear();
    t.resize(rows * cols, 0.0);
    for r in 0..rows {
        for c in 0..cols {
            t[c * rows + r] = m[r * cols + c];
        }
    }
}
