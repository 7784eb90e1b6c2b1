//! Squared Euclidean distances, the kernel under k-means, its scoring and the clustering
//! metrics. Written so that LLVM vectorises them: several accumulators, and a transposed layout
//! (feature-major) that measures one row against a group of points in one loop.

#[inline(always)]
pub fn sq_dist(a: &[f64], b: &[f64]) -> f64 {
    // four accumulators: LLVM vectorises this loop
    let mut acc = [0.0f64; 4];
    let chunks = a.len() / 4;
    for c in 0..chunks {
        for l in 0..4 {
            let t = a[c * 4 + l] - b[c * 4 + l];
            acc[l] += t * t;
        }
    }
    let mut s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    for i in chunks * 4..a.len() {
        let t = a[i] - b[i];
        s += t * t;
    }
    s
}

/// The nearest of `centers` (k x d) to `x`: (index, squared distance).
#[inline]
pub fn nearest(x: &[f64], centers: &[f64], d: usize) -> (usize, f64) {
    let mut best = (0, f64::INFINITY);
    for (j, c) in centers.chunks_exact(d).enumerate() {
        let dist = sq_dist(x, c);
        if dist < best.1 {
            best = (j, dist);
        }
    }
    best
}

/// The centres transposed (d x k): column t of every centre side by side, so that the squared
/// distances from a row to all k centres accumulate in one loop over the centres, which LLVM
/// vectorises (one centre after another, with d = 20 and k = 8, took twice as long: perf).
pub fn transpose(centers: &[f64], k: usize, d: usize) -> Vec<f64> {
    let mut t = vec![0.0; k * d];
    for j in 0..k {
        for f in 0..d {
            t[f * k + j] = centers[j * d + f];
        }
    }
    t
}

/// Squared distances from `x` to every centre, into `out` (k values); `centers_t` is d x k.
/// Eight centres at a time in a fixed-size accumulator, which stays in registers (a slice of k
/// accumulators was loaded and stored for every feature); then four at a time (k-means++ weighs
/// 2 + ln k candidates: four for k = 8 to 20), then the last one to three.
#[inline(always)]
pub fn all_sq_dists(x: &[f64], centers_t: &[f64], out: &mut [f64]) {
    let k = out.len();
    let mut j0 = 0;
    while j0 < k {
        let w = k - j0;
        if w >= 8 {
            out[j0..j0 + 8].copy_from_slice(&group_sq_dists::<8>(x, centers_t, k, j0));
            j0 += 8;
        } else if w >= 4 {
            out[j0..j0 + 4].copy_from_slice(&group_sq_dists::<4>(x, centers_t, k, j0));
            j0 += 4;
        } else {
            let mut acc = [0.0f64; 3];
            for (f, &xf) in x.iter().enumerate() {
                for l in 0..w {
                    let t = xf - centers_t[f * k + j0 + l];
                    acc[l] += t * t;
                }
            }
            out[j0..].copy_from_slice(&acc[..w]);
            j0 = k;
        }
    }
}

/// Squared distances from `x` to the centres j0..j0 + W (W of them present), `centers_t` d x k.
#[inline(always)]
pub fn group_sq_dists<const W: usize>(
    x: &[f64],
    centers_t: &[f64],
    k: usize,
    j0: usize,
) -> [f64; W] {
    let mut acc = [0.0f64; W];
    for (f, &xf) in x.iter().enumerate() {
        let col: &[f64; W] = centers_t[f * k + j0..f * k + j0 + W]
            .try_into()
            .expect("W wide");
        for l in 0..W {
            let t = xf - col[l];
            acc[l] += t * t;
        }
    }
    acc
}
