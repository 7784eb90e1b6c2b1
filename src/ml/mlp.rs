//! Feed-forward neural network (multi-layer perceptron): dense layers with ReLU or tanh,
//! inverted dropout, Adam or SGD (with momentum), L2 weight decay, mini-batches, class weights,
//! and early stopping on a validation split with the best weights restored.
//!
//! Heads: one sigmoid output with binary cross-entropy (binary classification), k softmax outputs
//! with cross-entropy (multiclass), one linear output with squared error on a standardised target
//! (regression). Weights are f32 in row-major (out x in) blocks, so a layer's forward pass is one
//! contiguous dot product per output that LLVM vectorises; the loss is accumulated in f64.
//! Training is deterministic for a given seed: initialisation, shuffling and dropout masks all
//! come from one seeded ChaCha stream.

use super::linalg::Matrix;
use super::monitor::Monitor;
use super::parallel::Parallel;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::time::Instant;

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    Relu,
    Tanh,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Head {
    /// one output: P(class 1)
    Sigmoid,
    /// k outputs: class probabilities
    Softmax,
    /// one output: the value (trained on a standardised target, unscaled on output)
    Identity,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Dense {
    pub n_in: usize,
    pub n_out: usize,
    /// n_in x n_out, input-major: the weights from input i are `w[i*n_out..(i+1)*n_out]`, so
    /// every inner loop (forward, backward, gradient) runs over the outputs contiguously.
    pub w: Vec<f32>,
    pub b: Vec<f32>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Mlp {
    pub layers: Vec<Dense>,
    pub activation: Activation,
    pub head: Head,
    /// Regression: prediction = output * y_scale + y_mean.
    pub y_mean: f64,
    pub y_scale: f64,
    /// Mean encoded training row: the baseline of integrated-gradient explanations.
    pub baseline: Vec<f64>,
    /// A linear shortcut from the inputs to the output logits (a "wide and deep" network). It
    /// starts at zero next to a down-scaled last layer, so training begins close to a linear
    /// model and the deep part only grows where it helps: on small, noisy tables the network
    /// then does not fall below logistic regression.
    pub skip: Option<Dense>,
}

#[inline(always)]
fn dot32(a: &[f32], b: &[f32]) -> f32 {
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
fn axpy32(alpha: f32, x: &[f32], y: &mut [f32]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += alpha * xi;
    }
}

/// Runs `f` with subnormal floats flushed to zero (x86-64 MXCSR FTZ + DAZ), restoring the
/// caller's mode afterwards. Long Adam runs drive moment estimates and some activations into
/// subnormal range, where every multiply takes ~100x longer: measured here as 15 us instead of
/// 1 us per MLP scoring, and 5x slower training. Values that small carry no information.
#[inline]
pub fn flush_denormals<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        #[allow(deprecated)]
        let saved = unsafe { std::arch::x86_64::_mm_getcsr() };
        #[allow(deprecated)]
        unsafe {
            std::arch::x86_64::_mm_setcsr(saved | 0x8040)
        };
        let r = f();
        #[allow(deprecated)]
        unsafe {
            std::arch::x86_64::_mm_setcsr(saved)
        };
        r
    }
    #[cfg(not(target_arch = "x86_64"))]
    f()
}

impl Dense {
    /// out += a · W for one row (out starts as the bias): one axpy per non-zero input over the
    /// contiguous outputs, which LLVM vectorises.
    #[inline]
    fn accumulate(&self, a: &[f32], out: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                // SAFETY: the CPU supports the features the function is compiled for
                return unsafe { accumulate_avx2(&self.w, self.n_out, a, out) };
            }
        }
        accumulate_generic(&self.w, self.n_out, a, out)
    }
}

#[inline(always)]
fn accumulate_generic(w: &[f32], n_out: usize, a: &[f32], out: &mut [f32]) {
    accumulate_impl::<false>(w, n_out, a, out)
}

/// `FMA`: the AVX2 + FMA kernel (only called from functions compiled for those features).
#[inline(always)]
fn accumulate_impl<const FMA: bool>(w: &[f32], n_out: usize, a: &[f32], out: &mut [f32]) {
    assert!(w.len() == a.len() * n_out && out.len() == n_out, "layer shapes");
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
            s1 = _mm256_fmadd_ps(_mm256_loadu_ps(ap.add(i + 8)), _mm256_loadu_ps(wp.add(i + 8)), s1);
            i += 16;
        }
        if i + 8 <= n_in {
            s0 = _mm256_fmadd_ps(_mm256_loadu_ps(ap.add(i)), _mm256_loadu_ps(wp.add(i)), s0);
            i += 8;
        }
        let mut lanes = [0.0f32; 8];
        _mm256_storeu_ps(lanes.as_mut_ptr(), _mm256_add_ps(s0, s1));
        let mut total = ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
        while i < n_in {
            total = (*ap.add(i)).mul_add(*wp.add(i), total);
            i += 1;
        }
        *op += total;
        return;
    }
    let mut o = 0;
    while o + 32 <= n_out {
        let (mut c0, mut c1, mut c2, mut c3) =
            (_mm256_loadu_ps(op.add(o)), _mm256_loadu_ps(op.add(o + 8)), _mm256_loadu_ps(op.add(o + 16)), _mm256_loadu_ps(op.add(o + 24)));
        let (mut d0, mut d1, mut d2, mut d3) = (_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps());
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
            c = _mm256_fmadd_ps(_mm256_set1_ps(*ap.add(i)), _mm256_loadu_ps(wp.add(i * n_out + o)), c);
            d = _mm256_fmadd_ps(_mm256_set1_ps(*ap.add(i + 1)), _mm256_loadu_ps(wp.add((i + 1) * n_out + o)), d);
            i += 2;
        }
        if i < n_in {
            c = _mm256_fmadd_ps(_mm256_set1_ps(*ap.add(i)), _mm256_loadu_ps(wp.add(i * n_out + o)), c);
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

/// The same loop compiled for AVX2 + FMA (8 f32 lanes, fused multiply-add), chosen at run time:
/// the build targets baseline x86-64, whose SSE2 has 4 lanes and no FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn accumulate_avx2(w: &[f32], n_out: usize, a: &[f32], out: &mut [f32]) {
    accumulate_impl::<true>(w, n_out, a, out)
}

impl Activation {
    #[inline]
    fn apply_all(self, v: &mut [f32]) {
        match self {
            Activation::Relu => v.iter_mut().for_each(|x| *x = x.max(0.0)),
            Activation::Tanh => v.iter_mut().for_each(|x| *x = x.tanh()),
        }
    }

    #[inline]
    #[allow(dead_code)]
    fn apply(self, v: f32) -> f32 {
        match self {
            Activation::Relu => v.max(0.0),
            Activation::Tanh => v.tanh(),
        }
    }
    /// Derivative from the activation's output.
    #[inline]
    fn derivative_from_output(self, a: f32) -> f32 {
        match self {
            Activation::Relu => {
                if a > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            Activation::Tanh => 1.0 - a * a,
        }
    }
}

thread_local! {
    /// Per-thread scratch for single-row scoring: no allocation per row.
    static SCRATCH: RefCell<(Vec<f32>, Vec<f32>, Vec<f32>)> = const { RefCell::new((Vec::new(), Vec::new(), Vec::new())) };
}

impl Mlp {
    /// A network with He (ReLU) or Glorot (tanh) uniform initialisation.
    pub fn new(
        n_in: usize,
        hidden: &[usize],
        n_out: usize,
        activation: Activation,
        head: Head,
        skip: bool,
        rng: &mut ChaCha8Rng,
    ) -> Mlp {
        let mut sizes = vec![n_in];
        sizes.extend_from_slice(hidden);
        sizes.push(n_out);
        let layers = sizes
            .windows(2)
            .map(|s| {
                let (i, o) = (s[0], s[1]);
                let limit = match activation {
                    Activation::Relu => (6.0 / i as f64).sqrt(),
                    Activation::Tanh => (6.0 / (i + o) as f64).sqrt(),
                };
                Dense {
                    n_in: i,
                    n_out: o,
                    w: (0..i * o).map(|_| rng.gen_range(-limit..limit) as f32).collect(),
                    b: vec![0.0; o],
                }
            })
            .collect();
        let mut layers: Vec<Dense> = layers;
        let skip = skip.then(|| {
            if let Some(last) = layers.last_mut() {
                last.w.iter_mut().for_each(|w| *w *= 0.1);
            }
            Dense { n_in, n_out, w: vec![0.0; n_in * n_out], b: vec![0.0; n_out] }
        });
        Mlp { layers, activation, head, y_mean: 0.0, y_scale: 1.0, baseline: vec![0.0; n_in], skip }
    }

    /// Every dense block: the layers, then the linear shortcut if there is one.
    fn blocks(&self) -> impl Iterator<Item = &Dense> {
        self.layers.iter().chain(self.skip.iter())
    }

    pub fn n_outputs(&self) -> usize {
        self.layers.last().map_or(0, |l| l.n_out)
    }

    pub fn n_parameters(&self) -> usize {
        self.blocks().map(|l| l.w.len() + l.b.len()).sum()
    }

    /// Scores one encoded row into `out` (probabilities or the value).
    pub fn predict(&self, x: &[f64], out: &mut [f64]) {
        flush_denormals(|| self.predict_inner(x, out))
    }

    fn predict_inner(&self, x: &[f64], out: &mut [f64]) {
        SCRATCH.with(|s| {
            let mut s = s.borrow_mut();
            let (a, b, shortcut) = &mut *s;
            #[cfg(target_arch = "x86_64")]
            {
                if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                    // SAFETY: the CPU supports the features the function is compiled for
                    return unsafe { self.forward_avx2(x, a, b, shortcut, out) };
                }
            }
            self.forward::<false>(x, a, b, shortcut, out)
        })
    }

    /// The whole forward pass compiled for AVX2 + FMA: the layer kernels inline into it, one
    /// feature check per row. Called outside the thread-local's closure, because a closure
    /// does not inherit the features of the function it is inlined into (seen as a libm `fmaf`
    /// call per multiply-add, 12 us per row).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn forward_avx2(&self, x: &[f64], a: &mut Vec<f32>, b: &mut Vec<f32>, shortcut: &mut Vec<f32>, out: &mut [f64]) {
        self.forward::<true>(x, a, b, shortcut, out)
    }

    /// Scores one row with scratch buffers `a`, `b` (layer activations) and `shortcut`.
    #[inline(always)]
    fn forward<const FMA: bool>(&self, x: &[f64], a: &mut Vec<f32>, b: &mut Vec<f32>, shortcut: &mut Vec<f32>, out: &mut [f64]) {
        a.clear();
        for v in x {
            a.push(*v as f32);
        }
        // the shortcut reads the input, so it is computed before the layers overwrite it
        if let Some(sk) = &self.skip {
            shortcut.clear();
            shortcut.extend_from_slice(&sk.b);
            accumulate_impl::<FMA>(&sk.w, sk.n_out, a, shortcut);
        }
        let last = self.layers.len() - 1;
        for (li, layer) in self.layers.iter().enumerate() {
            b.clear();
            b.extend_from_slice(&layer.b);
            accumulate_impl::<FMA>(&layer.w, layer.n_out, a, b);
            if li != last {
                self.activation.apply_all(b);
            }
            std::mem::swap(a, b);
        }
        if self.skip.is_some() {
            for (logit, s) in a.iter_mut().zip(shortcut.iter()) {
                *logit += s;
            }
        }
        self.finish(a, out);
    }

    /// The scored output `output` (probability of that class, or the value) at `x`, and its
    /// gradient with respect to the encoded input.
    pub fn output_and_input_gradient(&self, x: &[f64], output: usize) -> (f64, Vec<f64>) {
        flush_denormals(|| self.output_and_input_gradient_inner(x, output))
    }

    fn output_and_input_gradient_inner(&self, x: &[f64], output: usize) -> (f64, Vec<f64>) {
        // forward, keeping every layer's activations
        let mut acts: Vec<Vec<f32>> = vec![x.iter().map(|v| *v as f32).collect()];
        let last = self.layers.len() - 1;
        for (li, layer) in self.layers.iter().enumerate() {
            let mut out = layer.b.clone();
            layer.accumulate(&acts[li], &mut out);
            if li != last {
                self.activation.apply_all(&mut out);
            }
            acts.push(out);
        }
        if let Some(sk) = &self.skip {
            let mut lg = acts[last + 1].clone();
            for (o, bias) in sk.b.iter().enumerate() {
                lg[o] += bias;
            }
            sk.accumulate(&acts[0], &mut lg);
            acts[last + 1] = lg;
        }
        let logits: Vec<f64> = acts[last + 1].iter().map(|v| *v as f64).collect();
        // d output / d logits
        let (value, mut delta): (f64, Vec<f64>) = match self.head {
            Head::Sigmoid => {
                let p = super::logistic::sigmoid(logits[0]);
                (p, vec![p * (1.0 - p)])
            }
            Head::Identity => (logits[0] * self.y_scale + self.y_mean, vec![self.y_scale]),
            Head::Softmax => {
                let mut p = logits.clone();
                super::model::softmax_in_place(&mut p);
                let pc = p[output];
                (pc, (0..p.len()).map(|j| pc * (if j == output { 1.0 } else { 0.0 } - p[j])).collect())
            }
        };
        let delta_logits = delta.clone();
        for li in (0..self.layers.len()).rev() {
            let layer = &self.layers[li];
            let mut d_in: Vec<f64> = (0..layer.n_in)
                .map(|i| layer.w[i * layer.n_out..(i + 1) * layer.n_out].iter().zip(&delta).map(|(w, d)| *w as f64 * d).sum())
                .collect();
            if li > 0 {
                for (i, v) in d_in.iter_mut().enumerate() {
                    *v *= self.activation.derivative_from_output(acts[li][i]) as f64;
                }
            }
            delta = d_in;
        }
        if let Some(sk) = &self.skip {
            for (i, d) in delta.iter_mut().enumerate() {
                *d += sk.w[i * sk.n_out..(i + 1) * sk.n_out].iter().zip(&delta_logits).map(|(w, g)| *w as f64 * g).sum::<f64>();
            }
        }
        (value, delta)
    }

    /// Integrated gradients from the training-mean baseline along the straight path to `x`
    /// (midpoint rule, `steps` points): per-input contributions that add up to
    /// output(x) - output(baseline), and output(baseline). With ReLU the path crosses kinks, so
    /// the error shrinks as 1/steps (about 0.1% of the output change at 1024 steps).
    pub fn integrated_gradients(&self, x: &[f64], output: usize, steps: usize) -> (Vec<f64>, f64) {
        let base = if self.baseline.len() == x.len() { self.baseline.clone() } else { vec![0.0; x.len()] };
        let mut total = vec![0.0; x.len()];
        let mut point = vec![0.0; x.len()];
        for k in 0..steps {
            let t = (k as f64 + 0.5) / steps as f64;
            for i in 0..x.len() {
                point[i] = base[i] + t * (x[i] - base[i]);
            }
            let (_, g) = self.output_and_input_gradient(&point, output);
            for i in 0..x.len() {
                total[i] += g[i];
            }
        }
        let contrib = (0..x.len()).map(|i| (x[i] - base[i]) * total[i] / steps as f64).collect();
        let (f_base, _) = self.output_and_input_gradient(&base, output);
        (contrib, f_base)
    }

    fn finish(&self, logits: &[f32], out: &mut [f64]) {
        match self.head {
            Head::Sigmoid => out[0] = super::logistic::sigmoid(logits[0] as f64),
            Head::Identity => out[0] = logits[0] as f64 * self.y_scale + self.y_mean,
            Head::Softmax => {
                for (o, l) in out.iter_mut().zip(logits) {
                    *o = *l as f64;
                }
                super::model::softmax_in_place(out);
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Optimizer {
    Adam { beta1: f64, beta2: f64, epsilon: f64 },
    Sgd { momentum: f64 },
}

#[derive(Clone, Debug)]
pub struct MlpOptions {
    pub hidden: Vec<usize>,
    pub activation: Activation,
    /// Probability of zeroing a hidden unit during training (inverted dropout).
    pub dropout: f64,
    pub epochs: usize,
    pub batch_size: usize,
    pub learning_rate: f64,
    pub optimizer: Optimizer,
    /// L2 weight decay on weights (not biases), per unit of average sample loss.
    pub l2: f64,
    pub early_stopping: bool,
    pub patience: usize,
    /// Share of the training rows held out to pick the best epoch (early stopping only).
    pub validation_fraction: f64,
    /// Add the linear shortcut (see Mlp::skip).
    pub skip: bool,
    pub seed: u64,
}

impl Default for MlpOptions {
    fn default() -> Self {
        MlpOptions {
            hidden: vec![64, 32],
            activation: Activation::Relu,
            dropout: 0.2,
            epochs: 50,
            batch_size: 32,
            learning_rate: 1e-3,
            optimizer: Optimizer::Adam { beta1: 0.9, beta2: 0.999, epsilon: 1e-8 },
            l2: 1e-4,
            early_stopping: true,
            patience: 5,
            validation_fraction: 0.1,
            skip: true,
            seed: 42,
        }
    }
}

/// Targets: class indices (with the number of classes) or values.
pub enum Target<'a> {
    Classes(&'a [usize], usize),
    Values(&'a [f64]),
}

#[derive(Clone, Debug)]
pub struct EpochStats {
    pub epoch: usize,
    pub loss: f64,
    pub val_loss: Option<f64>,
}

pub struct MlpFit {
    pub mlp: Mlp,
    pub history: Vec<EpochStats>,
    /// Epoch whose weights were kept: 1-based, or 0 for the starting point (the linear warm
    /// start of a network with a shortcut) when no epoch beat it on the validation rows.
    pub best_epoch: usize,
    /// Validation loss of the kept weights (early stopping only).
    pub best_val_loss: Option<f64>,
}

/// Per-layer buffers of one mini-batch: activations (after dropout) and their gradients.
struct Work {
    acts: Vec<Vec<f32>>,   // acts[0] = input batch, acts[l] = output of layer l (B x n_out)
    masks: Vec<Vec<f32>>,  // dropout multipliers of hidden layers
    deltas: Vec<Vec<f32>>, // dL/dz per layer
}

/// Gradients of all layers, same shapes as the weights.
pub struct Grads {
    pub w: Vec<Vec<f32>>,
    pub b: Vec<Vec<f32>>,
}

impl Grads {
    fn zeros(m: &Mlp) -> Grads {
        Grads {
            w: m.blocks().map(|l| vec![0.0; l.w.len()]).collect(),
            b: m.blocks().map(|l| vec![0.0; l.b.len()]).collect(),
        }
    }
}

/// What every batch of a fit reads: the encoded rows (f32, row-major), the targets (and the
/// standardised values for regression), and per-row weights.
#[derive(Clone, Copy)]
pub struct TrainingData<'a> {
    pub x: &'a [f32],
    pub n_in: usize,
    pub target: &'a Target<'a>,
    pub y_std: &'a [f64],
    pub weights: &'a [f64],
}

/// Forward and backward over one batch. Returns the batch's summed weighted loss and fills
/// `grads` with d(sum of weighted losses / weight_norm)/d(parameters). `drop` = None: no dropout.
pub fn batch_gradient(
    m: &Mlp,
    data: &TrainingData,
    rows: &[usize],
    weight_norm: f64,
    drop: Option<(f64, &mut ChaCha8Rng)>,
    grads: &mut Grads,
) -> f64 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU supports the features the function is compiled for
            return unsafe { batch_gradient_avx2(m, data, rows, weight_norm, drop, grads) };
        }
    }
    batch_gradient_impl::<false>(m, data, rows, weight_norm, drop, grads)
}

/// batch_gradient compiled for AVX2 + FMA, chosen at run time (see accumulate_avx2).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn batch_gradient_avx2(
    m: &Mlp,
    data: &TrainingData,
    rows: &[usize],
    weight_norm: f64,
    drop: Option<(f64, &mut ChaCha8Rng)>,
    grads: &mut Grads,
) -> f64 {
    batch_gradient_impl::<true>(m, data, rows, weight_norm, drop, grads)
}

/// gw (n_in x n_out) += aᵀ · d for a batch: `a` is bsz x n_in, `d` bsz x n_out (row-major). Each
/// weight row is one accumulate over the batch (the inputs' column of `a`, transposed into `at`,
/// against the rows of `d`), so the sums stay in registers.
#[inline(always)]
fn add_outer<const FMA: bool>(gw: &mut [f32], a: &[f32], d: &[f32], bsz: usize, n_in: usize, n_out: usize, at: &mut Vec<f32>) {
    transpose(a, bsz, n_in, at);
    for i in 0..n_in {
        accumulate_impl::<FMA>(d, n_out, &at[i * bsz..(i + 1) * bsz], &mut gw[i * n_out..(i + 1) * n_out]);
    }
}

/// `t` = the transpose of the rows x cols matrix `m`.
#[inline(always)]
fn transpose(m: &[f32], rows: usize, cols: usize, t: &mut Vec<f32>) {
    t.clear();
    t.resize(rows * cols, 0.0);
    for r in 0..rows {
        for c in 0..cols {
            t[c * rows + r] = m[r * cols + c];
        }
    }
}

#[inline(always)]
fn batch_gradient_impl<const FMA: bool>(
    m: &Mlp,
    data: &TrainingData,
    rows: &[usize],
    weight_norm: f64,
    drop: Option<(f64, &mut ChaCha8Rng)>,
    grads: &mut Grads,
) -> f64 {
    let TrainingData { x, n_in, target, y_std, weights } = *data;
    let bsz = rows.len();
    let nl = m.layers.len();
    let mut work = Work { acts: Vec::with_capacity(nl + 1), masks: Vec::with_capacity(nl), deltas: vec![Vec::new(); nl] };
    let mut input = Vec::with_capacity(bsz * n_in);
    for &r in rows {
        input.extend_from_slice(&x[r * n_in..(r + 1) * n_in]);
    }
    work.acts.push(input);
    let (p_drop, mut rng) = match drop {
        Some((p, r)) if p > 0.0 => (p, Some(r)),
        _ => (0.0, None),
    };
    for (li, layer) in m.layers.iter().enumerate() {
        let prev = &work.acts[li];
        let mut out = vec![0.0f32; bsz * layer.n_out];
        let hidden = li + 1 < nl;
        let mut mask = Vec::new();
        for bi in 0..bsz {
            let a = &prev[bi * layer.n_in..(bi + 1) * layer.n_in];
            let z = &mut out[bi * layer.n_out..(bi + 1) * layer.n_out];
            z.copy_from_slice(&layer.b);
            accumulate_impl::<FMA>(&layer.w, layer.n_out, a, z);
            if hidden {
                m.activation.apply_all(z);
            }
        }
        if hidden {
            if let Some(rng) = rng.as_deref_mut() {
                mask = dropout_mask(rng, out.len(), p_drop);
                for (o, k) in out.iter_mut().zip(&mask) {
                    *o *= k;
                }
            }
        }
        work.masks.push(mask);
        work.acts.push(out);
    }
    let k = m.n_outputs();
    if let Some(sk) = &m.skip {
        let (inputs, rest) = work.acts.split_at_mut(1);
        let logits = &mut rest[nl - 1];
        for bi in 0..bsz {
            let z = &mut logits[bi * k..(bi + 1) * k];
            for (o, bias) in sk.b.iter().enumerate() {
                z[o] += bias;
            }
            accumulate_impl::<FMA>(&sk.w, sk.n_out, &inputs[0][bi * n_in..(bi + 1) * n_in], z);
        }
    }
    // output deltas and loss
    let logits = &work.acts[nl];
    let mut delta = vec![0.0f32; bsz * k];
    let mut loss = 0.0f64;
    for (bi, &r) in rows.iter().enumerate() {
        let wgt = weights[r];
        let z = &logits[bi * k..(bi + 1) * k];
        let d = &mut delta[bi * k..(bi + 1) * k];
        match (m.head, target) {
            (Head::Sigmoid, Target::Classes(y, _)) => {
                let yi = if y[r] == 1 { 1.0 } else { 0.0 };
                let zf = z[0] as f64;
                loss += wgt * (super::logistic::log1pexp(zf) - yi * zf);
                d[0] = (wgt * (super::logistic::sigmoid(zf) - yi) / weight_norm) as f32;
            }
            (Head::Softmax, Target::Classes(y, _)) => {
                let zmax = z.iter().cloned().fold(f32::NEG_INFINITY, f32::max) as f64;
                let lse = zmax + z.iter().map(|v| (*v as f64 - zmax).exp()).sum::<f64>().ln();
                loss += wgt * (lse - z[y[r]] as f64);
                for c in 0..k {
                    let p = (z[c] as f64 - lse).exp();
                    d[c] = (wgt * (p - if c == y[r] { 1.0 } else { 0.0 }) / weight_norm) as f32;
                }
            }
            (Head::Identity, _) => {
                let e = z[0] as f64 - y_std[r];
                loss += wgt * 0.5 * e * e;
                d[0] = (wgt * e / weight_norm) as f32;
            }
            _ => unreachable!("head and target disagree"),
        }
    }
    let mut scratch = Vec::new();
    if m.skip.is_some() {
        let (gw, gb) = (&mut grads.w[nl], &mut grads.b[nl]);
        for bi in 0..bsz {
            axpy32(1.0, &delta[bi * k..(bi + 1) * k], gb);
        }
        add_outer::<FMA>(gw, &work.acts[0], &delta, bsz, n_in, k, &mut scratch);
    }
    work.deltas[nl - 1] = delta;
    // backward
    for li in (0..nl).rev() {
        let layer = &m.layers[li];
        let a_prev = &work.acts[li];
        let dz = std::mem::take(&mut work.deltas[li]);
        let gw = &mut grads.w[li];
        let gb = &mut grads.b[li];
        for bi in 0..bsz {
            axpy32(1.0, &dz[bi * layer.n_out..(bi + 1) * layer.n_out], gb);
        }
        add_outer::<FMA>(gw, a_prev, &dz, bsz, layer.n_in, layer.n_out, &mut scratch);
        if li > 0 {
            // da = dz · Wᵀ: one accumulate per row against the transposed weights
            let mut da = vec![0.0f32; bsz * layer.n_in];
            transpose(&layer.w, layer.n_in, layer.n_out, &mut scratch);
            for bi in 0..bsz {
                let d = &dz[bi * layer.n_out..(bi + 1) * layer.n_out];
                accumulate_impl::<FMA>(&scratch, layer.n_in, d, &mut da[bi * layer.n_in..(bi + 1) * layer.n_in]);
            }
            // through dropout and the activation of layer li-1's output
            // (out = act(z) * mask, mask 0 or keep; d out/dz = act'(z) * mask), written without
            // branches per unit so that the loops vectorise
            let out = &work.acts[li];
            let mask = &work.masks[li - 1];
            match (m.activation, mask.is_empty()) {
                (Activation::Relu, true) => {
                    for (v, o) in da.iter_mut().zip(out) {
                        *v = if *o > 0.0 { *v } else { 0.0 };
                    }
                }
                (Activation::Relu, false) => {
                    for ((v, o), k) in da.iter_mut().zip(out).zip(mask) {
                        *v = if *o > 0.0 { *v * k } else { 0.0 };
                    }
                }
                (Activation::Tanh, true) => {
                    for (v, o) in da.iter_mut().zip(out) {
                        *v *= 1.0 - o * o;
                    }
                }
                (Activation::Tanh, false) => {
                    // a dropped unit has out = 0 and mask = 0, so its delta is 0 as well
                    let keep = 1.0 / (1.0 - p_drop) as f32;
                    for ((v, o), k) in da.iter_mut().zip(out).zip(mask) {
                        let h = o / keep;
                        *v *= (1.0 - h * h) * k;
                    }
                }
            }
            work.deltas[li - 1] = da;
        }
    }
    loss
}

/// Adam / SGD state for every parameter.
struct OptState {
    m_w: Vec<Vec<f32>>,
    v_w: Vec<Vec<f32>>,
    m_b: Vec<Vec<f32>>,
    v_b: Vec<Vec<f32>>,
    t: i32,
}

impl OptState {
    fn new(m: &Mlp) -> Self {
        let z = |v: &Vec<f32>| vec![0.0f32; v.len()];
        OptState {
            m_w: m.blocks().map(|l| z(&l.w)).collect(),
            v_w: m.blocks().map(|l| z(&l.w)).collect(),
            m_b: m.blocks().map(|l| z(&l.b)).collect(),
            v_b: m.blocks().map(|l| z(&l.b)).collect(),
            t: 0,
        }
    }
}

/// One optimizer step: `grads` (of the mean loss) plus L2 decay on weights.
pub fn step(m: &mut Mlp, grads: &Grads, state: &mut OptStateHandle, opts: &MlpOptions) {
    let s = &mut state.0;
    s.t += 1;
    let lr = opts.learning_rate as f32;
    let l2 = opts.l2 as f32;
    match opts.optimizer {
        Optimizer::Adam { beta1, beta2, epsilon } => {
            let (b1, b2, eps) = (beta1 as f32, beta2 as f32, epsilon as f32);
            let k = Adam { lr, b1, b2, eps, c1: 1.0 - b1.powi(s.t), c2: 1.0 - b2.powi(s.t), decay: l2 };
            for (li, layer) in m.layers.iter_mut().chain(m.skip.iter_mut()).enumerate() {
                adam(&mut layer.w, &grads.w[li], &mut s.m_w[li], &mut s.v_w[li], &k);
                adam(&mut layer.b, &grads.b[li], &mut s.m_b[li], &mut s.v_b[li], &Adam { decay: 0.0, ..k });
            }
        }
        Optimizer::Sgd { momentum } => {
            let mu = momentum as f32;
            for (li, layer) in m.layers.iter_mut().chain(m.skip.iter_mut()).enumerate() {
                let upd = |p: &mut [f32], g: &[f32], vel: &mut [f32], decay: f32| {
                    for ((p, g), vel) in p.iter_mut().zip(g).zip(vel.iter_mut()) {
                        *vel = mu * *vel - lr * (g + decay * *p);
                        *p += *vel;
                    }
                };
                upd(&mut layer.w, &grads.w[li], &mut s.m_w[li], l2);
                upd(&mut layer.b, &grads.b[li], &mut s.m_b[li], 0.0);
            }
        }
    }
}

/// Adam's constants for one step: bias corrections c1, c2 and the L2 decay of the slice.
#[derive(Clone, Copy)]
struct Adam {
    lr: f32,
    b1: f32,
    b2: f32,
    eps: f32,
    c1: f32,
    c2: f32,
    decay: f32,
}

/// One Adam update of a parameter slice with its gradient and moments. The optimiser step runs
/// on the calling thread between two mini-batches, so its speed bounds the speed-up of threads:
/// compiled for AVX2 where the CPU has it (8-lane sqrt and division; same results).
fn adam(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], k: &Adam) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports the feature the function is compiled for
            return unsafe { adam_avx2(p, g, m, v, k) };
        }
    }
    adam_impl(p, g, m, v, k)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn adam_avx2(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], k: &Adam) {
    adam_impl(p, g, m, v, k)
}

#[inline(always)]
fn adam_impl(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], k: &Adam) {
    for (((p, g), m), v) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
        let gi = g + k.decay * *p;
        *m = k.b1 * *m + (1.0 - k.b1) * gi;
        *v = k.b2 * *v + (1.0 - k.b2) * gi * gi;
        *p -= k.lr * (*m / k.c1) / ((*v / k.c2).sqrt() + k.eps);
    }
}

/// Opaque optimizer state (public so tests can step by hand).
pub struct OptStateHandle(OptState);

impl OptStateHandle {
    pub fn new(m: &Mlp) -> Self {
        OptStateHandle(OptState::new(m))
    }
}

/// Mean weighted loss of `rows` without dropout (validation).
fn eval_loss(m: &Mlp, data: &TrainingData, rows: &[usize]) -> f64 {
    let mut g = Grads::zeros(m);
    let mut total = 0.0;
    let mut wsum = 0.0;
    for chunk in rows.chunks(1024) {
        total += batch_gradient(m, data, chunk, 1.0, None, &mut g);
        wsum += chunk.iter().map(|&r| data.weights[r]).sum::<f64>();
    }
    total / wsum.max(1e-300)
}

/// Rows per gradient shard: a mini-batch is cut into shards of this size, whose gradients are
/// computed in parallel and summed in shard order, so results do not depend on the thread count.
pub const SHARD_ROWS: usize = 16;

/// One training backend: the native kernels of this module ([`NativeTrainer`]) or candle tensors
/// (`candle_backend::CandleTrainer`). The epoch loop ([`run_epochs`]: shuffling, dropout seeds,
/// early stopping, progress) is shared, so a seed gives the same mini-batches and the same dropout
/// masks on every backend, and the backends differ only by floating-point rounding.
pub trait Trainer {
    /// One optimiser step on the mini-batch `rows`, whose weights sum to `batch_weight`. The
    /// batch is cut into SHARD_ROWS-row shards; shard s draws its dropout masks (see
    /// [`dropout_mask`]) from `ChaCha8Rng::seed_from_u64(shard_seeds[s])`.
    fn step(&mut self, rows: &[usize], batch_weight: f64, shard_seeds: &[u64]) -> Result<(), String>;
    /// The summed weighted training loss of the steps since the last call.
    fn take_loss(&mut self) -> Result<f64, String>;
    /// Mean weighted loss of `rows` without dropout.
    fn loss(&mut self, rows: &[usize]) -> Result<f64, String>;
    /// The network as trained so far.
    fn network(&self) -> Result<Mlp, String>;
}

/// Inverted-dropout multipliers for `len` activations: 0 with probability `p`, else 1/(1-p).
/// Both backends draw their masks with this function, in the same order: per shard, hidden layer
/// by hidden layer, row by row.
pub fn dropout_mask(rng: &mut ChaCha8Rng, len: usize, p: f64) -> Vec<f32> {
    use rand::RngCore;
    let keep = 1.0 / (1.0 - p) as f32;
    // `rng.gen::<f64>() < p` without the branch (a mispredicted one per unit took a fifth of
    // training time): gen::<f64>() is (next_u64 >> 11) * 2^-53, so for an integer n below 2^53,
    // n * 2^-53 < p exactly when n < ceil(p * 2^53). Same draws, same masks.
    let threshold = (p * (1u64 << 53) as f64).ceil() as u64;
    let mut mask = Vec::with_capacity(len);
    for _ in 0..len {
        let n = rng.next_u64() >> 11;
        mask.push(keep * u32::from(n >= threshold) as f32);
    }
    mask
}

/// Everything a fit starts from, whatever the backend: the initialised (and, with a shortcut,
/// linearly warm-started) network, the rows as f32, the standardised regression target, the
/// training / validation split, and the random stream that continues into the epochs.
pub struct Start {
    pub mlp: Mlp,
    pub xf: Vec<f32>,
    pub y_std: Vec<f64>,
    pub train_rows: Vec<usize>,
    pub val_rows: Vec<usize>,
    pub rng: ChaCha8Rng,
}

impl Start {
    pub fn new(x: &Matrix, target: &Target, weights: &[f64], opts: &MlpOptions, par: &Parallel, monitor: &dyn Monitor) -> Start {
        let n = x.rows;
        let n_in = x.cols;
        let xf: Vec<f32> = x.data.iter().map(|v| *v as f32).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
        let (head, k) = match target {
            Target::Classes(_, 2) => (Head::Sigmoid, 1),
            Target::Classes(_, k) => (Head::Softmax, *k),
            Target::Values(_) => (Head::Identity, 1),
        };
        let mut mlp = Mlp::new(n_in, &opts.hidden, k, opts.activation, head, opts.skip, &mut rng);
        for j in 0..n_in {
            mlp.baseline[j] = (0..n).map(|i| x.data[i * n_in + j]).sum::<f64>() / n.max(1) as f64;
        }
        // regression trains on a standardised target
        let y_std: Vec<f64> = match target {
            Target::Values(y) => {
                let mean = y.iter().sum::<f64>() / n.max(1) as f64;
                let var = y.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n.max(1) as f64;
                let sd = if var > 0.0 { var.sqrt() } else { 1.0 };
                mlp.y_mean = mean;
                mlp.y_scale = sd;
                y.iter().map(|v| (v - mean) / sd).collect()
            }
            _ => Vec::new(),
        };
        // validation rows for early stopping, carved from the training rows
        let mut order: Vec<usize> = (0..n).collect();
        order.shuffle(&mut rng);
        let n_val = if opts.early_stopping && n >= 20 {
            ((n as f64 * opts.validation_fraction).round() as usize).clamp(1, n - 1)
        } else {
            0
        };
        let (val_rows, train_rows) = (order[..n_val].to_vec(), order[n_val..].to_vec());
        if mlp.skip.is_some() {
            // fitted on all rows, validation rows included: the starting point then looks slightly
            // better on validation than it is, which biases early stopping towards the linear model,
            // the safe side on small noisy tables; real non-linear structure still wins clearly
            let all: Vec<usize> = (0..n).collect();
            warm_start_linear(&mut mlp, x, &all, target, &y_std, weights, par, monitor);
        }
        Start { mlp, xf, y_std, train_rows, val_rows, rng }
    }
}

/// The native backend: batch_gradient over shards in parallel, summed in shard order (so results
/// do not depend on the thread count), then one optimiser step.
pub struct NativeTrainer<'a> {
    mlp: Mlp,
    state: OptStateHandle,
    grads: Grads,
    data: TrainingData<'a>,
    opts: &'a MlpOptions,
    par: &'a Parallel,
    loss: f64,
}

impl<'a> NativeTrainer<'a> {
    pub fn new(mlp: Mlp, data: TrainingData<'a>, opts: &'a MlpOptions, par: &'a Parallel) -> Self {
        NativeTrainer { state: OptStateHandle::new(&mlp), grads: Grads::zeros(&mlp), mlp, data, opts, par, loss: 0.0 }
    }
}

impl Trainer for NativeTrainer<'_> {
    fn step(&mut self, rows: &[usize], batch_weight: f64, shard_seeds: &[u64]) -> Result<(), String> {
        let NativeTrainer { mlp, state, grads, data, opts, par, loss } = self;
        for g in grads.w.iter_mut().chain(grads.b.iter_mut()) {
            g.iter_mut().for_each(|v| *v = 0.0);
        }
        let shards: Vec<(&[usize], u64)> = rows.chunks(SHARD_ROWS).zip(shard_seeds.iter().copied()).collect();
        let mlp_ref = &*mlp;
        let parts = par.map(&shards, |(rows, seed)| {
            let mut g = Grads::zeros(mlp_ref);
            let mut r = ChaCha8Rng::seed_from_u64(*seed);
            let l = flush_denormals(|| batch_gradient(mlp_ref, data, rows, batch_weight, Some((opts.dropout, &mut r)), &mut g));
            (l, g)
        });
        for (l, g) in &parts {
            *loss += l;
            for (acc, part) in grads.w.iter_mut().zip(&g.w).chain(grads.b.iter_mut().zip(&g.b)) {
                axpy32(1.0, part, acc);
            }
        }
        flush_denormals(|| step(mlp, grads, state, opts));
        Ok(())
    }

    fn take_loss(&mut self) -> Result<f64, String> {
        Ok(std::mem::take(&mut self.loss))
    }

    fn loss(&mut self, rows: &[usize]) -> Result<f64, String> {
        Ok(flush_denormals(|| eval_loss(&self.mlp, &self.data, rows)))
    }

    fn network(&self) -> Result<Mlp, String> {
        Ok(self.mlp.clone())
    }
}

/// Trains a network on the encoded rows `x` with per-row `weights`, on the native kernels.
pub fn fit(x: &Matrix, target: &Target, weights: &[f64], opts: &MlpOptions, par: &Parallel, monitor: &dyn Monitor) -> MlpFit {
    let start = Start::new(x, target, weights, opts, par, monitor);
    let data = TrainingData { x: &start.xf, n_in: x.cols, target, y_std: &start.y_std, weights };
    let mut trainer = NativeTrainer::new(start.mlp.clone(), data, opts, par);
    run_epochs(&mut trainer, &start, x, target, weights, opts, monitor).expect("the native backend does not fail")
}

/// The epoch loop shared by the backends: shuffled mini-batches, per-shard dropout seeds, query
/// cancel checks, validation loss (and AUC for binary targets, when verbose) per epoch, early
/// stopping with the best weights restored.
pub fn run_epochs(
    trainer: &mut dyn Trainer,
    start: &Start,
    x: &Matrix,
    target: &Target,
    weights: &[f64],
    opts: &MlpOptions,
    monitor: &dyn Monitor,
) -> Result<MlpFit, String> {
    let mut rng = start.rng.clone();
    let mut train_rows = start.train_rows.clone();
    let val_rows = &start.val_rows;
    // the starting point competes too: with a linear warm start it is a fitted linear model
    let mut best: Option<(f64, Mlp, usize)> = if !val_rows.is_empty() && start.mlp.skip.is_some() {
        Some((trainer.loss(val_rows)?, start.mlp.clone(), 0))
    } else {
        None
    };
    let mut since_best = 0;
    let mut history = Vec::new();
    let started = Instant::now();
    let bs = opts.batch_size.max(1);
    for epoch in 1..=opts.epochs {
        train_rows.shuffle(&mut rng);
        let mut wsum = 0.0;
        for (bi, batch) in train_rows.chunks(bs).enumerate() {
            if bi % 64 == 0 {
                monitor.checkpoint();
            }
            let bw: f64 = batch.iter().map(|&r| weights[r]).sum::<f64>().max(1e-300);
            // each shard draws its dropout masks from its own seeded stream
            let seeds: Vec<u64> = batch.chunks(SHARD_ROWS).map(|_| rng.gen::<u64>()).collect();
            trainer.step(batch, bw, &seeds)?;
            wsum += bw;
        }
        let loss = trainer.take_loss()? / wsum.max(1e-300);
        monitor.checkpoint();
        let val_loss = if val_rows.is_empty() { None } else { Some(trainer.loss(val_rows)?) };
        history.push(EpochStats { epoch, loss, val_loss });
        if monitor.verbose() {
            let elapsed = started.elapsed().as_secs_f64();
            let eta = elapsed / epoch as f64 * (opts.epochs - epoch) as f64;
            let auc = match target {
                Target::Classes(y, 2) if !val_rows.is_empty() => Some(validation_auc(&trainer.network()?, x, y, val_rows)),
                _ => None,
            };
            monitor.progress(&format!(
                "mlp epoch {epoch}/{}: loss {loss:.5}{}{}, elapsed {elapsed:.1}s, at most {eta:.1}s left",
                opts.epochs,
                val_loss.map_or(String::new(), |v| format!(", validation loss {v:.5}")),
                auc.map_or(String::new(), |a| format!(", validation AUC {a:.4}")),
            ));
        }
        if let Some(v) = val_loss {
            if !v.is_finite() {
                break;
            }
            let improved = best.as_ref().is_none_or(|(b, _, _)| v < b - 1e-5);
            if improved {
                best = Some((v, trainer.network()?, epoch));
                since_best = 0;
            } else {
                since_best += 1;
                if since_best >= opts.patience {
                    break;
                }
            }
        }
    }
    let epochs_run = history.len();
    Ok(match best {
        Some((v, m, e)) => MlpFit { mlp: m, history, best_epoch: e, best_val_loss: Some(v) },
        None => {
            let last = history.last().and_then(|h| h.val_loss);
            MlpFit { mlp: trainer.network()?, history, best_epoch: epochs_run, best_val_loss: last }
        }
    })
}

/// ROC AUC of the network on the validation rows of a binary target (progress reports only).
fn validation_auc(m: &Mlp, x: &Matrix, y: &[usize], rows: &[usize]) -> f64 {
    let mut out = [0.0];
    let scores: Vec<f64> = rows
        .iter()
        .map(|&r| {
            m.predict(x.row(r), &mut out);
            out[0]
        })
        .collect();
    let labels: Vec<bool> = rows.iter().map(|&r| y[r] == 1).collect();
    super::metrics::roc_auc(&scores, &labels)
}

/// Sets the shortcut to the linear model of the same task fitted on the training rows (logistic
/// regression by Newton / L-BFGS with scikit-learn's default C = 1, or ridge regression on the
/// standardised target) and zeroes the deep part's output layer: training starts from that
/// linear model and learns a non-linear correction on top.
#[allow(clippy::too_many_arguments)]
fn warm_start_linear(
    mlp: &mut Mlp,
    x: &Matrix,
    rows: &[usize],
    target: &Target,
    y_std: &[f64],
    weights: &[f64],
    par: &Parallel,
    monitor: &dyn Monitor,
) {
    // all rows: use the matrix as it is rather than a copy (1M x 20 would be 160 MB more)
    let copy;
    let xs = if rows.len() == x.rows {
        x
    } else {
        copy = x.select_rows(rows);
        &copy
    };
    let w: Vec<f64> = rows.iter().map(|&r| weights[r]).collect();
    let k = mlp.n_outputs();
    let d = x.cols;
    let (coef, intercept): (Vec<f64>, Vec<f64>) = match target {
        Target::Classes(y, n_classes) => {
            let ys: Vec<usize> = rows.iter().map(|&r| y[r]).collect();
            let fit = super::logistic::fit(xs, &ys, *n_classes, &w, &super::logistic::LogisticOptions::default(), par, monitor);
            (fit.coef, fit.intercept)
        }
        Target::Values(_) => {
            let ys: Vec<f64> = rows.iter().map(|&r| y_std[r]).collect();
            let fit = super::linear::fit(xs, &ys, &w, 1.0, par, monitor);
            (fit.coef, vec![fit.intercept])
        }
    };
    let sk = mlp.skip.as_mut().expect("called with a shortcut");
    for c in 0..k {
        for i in 0..d {
            sk.w[i * k + c] = coef[c * d + i] as f32;
        }
        sk.b[c] = intercept[c] as f32;
    }
    if let Some(last) = mlp.layers.last_mut() {
        last.w.iter_mut().for_each(|v| *v = 0.0);
        last.b.iter_mut().for_each(|v| *v = 0.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ml::monitor::Silent;

    fn tiny() -> (Mlp, Vec<f32>, Vec<usize>) {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut m = Mlp::new(3, &[4, 3], 1, Activation::Tanh, Head::Sigmoid, true, &mut rng);
        // a non-zero shortcut, so its gradients are checked too
        m.skip.as_mut().unwrap().w.iter_mut().enumerate().for_each(|(i, w)| *w = 0.1 * i as f32 - 0.1);
        let x: Vec<f32> = (0..15).map(|i| ((i as f32) * 0.37).sin()).collect();
        (m, x, vec![0, 1, 1, 0, 1])
    }

    /// Weights of block `li`: the layers in order, then the shortcut.
    fn block_weights(m: &mut Mlp, li: usize) -> &mut Vec<f32> {
        if li < m.layers.len() {
            &mut m.layers[li].w
        } else {
            &mut m.skip.as_mut().unwrap().w
        }
    }

    fn loss_of(m: &Mlp, x: &[f32], y: &[usize]) -> f64 {
        let mut g = Grads::zeros(m);
        let rows: Vec<usize> = (0..y.len()).collect();
        let target = Target::Classes(y, 2);
        let data = TrainingData { x, n_in: 3, target: &target, y_std: &[], weights: &[1.0; 5] };
        batch_gradient(m, &data, &rows, 1.0, None, &mut g)
    }

    #[test]
    fn gradients_match_finite_differences() {
        for act in [Activation::Tanh, Activation::Relu] {
            let (mut m, x, y) = tiny();
            m.activation = act;
            let mut g = Grads::zeros(&m);
            let rows: Vec<usize> = (0..5).collect();
            let target = Target::Classes(&y, 2);
            let data = TrainingData { x: &x, n_in: 3, target: &target, y_std: &[], weights: &[1.0; 5] };
            batch_gradient(&m, &data, &rows, 1.0, None, &mut g);
            let blocks = m.layers.len() + 1; // the layers and the shortcut
            for li in 0..blocks {
                let len = if li < m.layers.len() { m.layers[li].w.len() } else { m.skip.as_ref().unwrap().w.len() };
                for i in 0..len {
                    // small enough not to flip a ReLU unit, large enough for f32 rounding
                    let h = 1e-3f32;
                    let orig = block_weights(&mut m, li)[i];
                    block_weights(&mut m, li)[i] = orig + h;
                    let up = loss_of(&m, &x, &y);
                    block_weights(&mut m, li)[i] = orig - h;
                    let down = loss_of(&m, &x, &y);
                    block_weights(&mut m, li)[i] = orig;
                    let numeric = (up - down) / (2.0 * h as f64);
                    let analytic = g.w[li][i] as f64;
                    assert!((numeric - analytic).abs() < 2e-3 * (1.0 + numeric.abs()), "{act:?} block {li} w{i}: {numeric} vs {analytic}");
                }
            }
        }
    }

    #[test]
    fn softmax_and_regression_gradients_match_finite_differences() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let x: Vec<f32> = (0..12).map(|i| ((i as f32) * 0.71).cos()).collect();
        let y = [0usize, 2, 1, 2];
        let yv = [0.5f64, -1.0, 2.0, 0.1];
        for (head, k) in [(Head::Softmax, 3), (Head::Identity, 1)] {
            let mut m = Mlp::new(3, &[5], k, Activation::Tanh, head, false, &mut rng);
            let target = if head == Head::Softmax { Target::Classes(&y, 3) } else { Target::Values(&yv) };
            let rows = [0usize, 1, 2, 3];
            let mut g = Grads::zeros(&m);
            let data = TrainingData { x: &x, n_in: 3, target: &target, y_std: &yv, weights: &[1.0; 4] };
            batch_gradient(&m, &data, &rows, 1.0, None, &mut g);
            let h = 1e-2f32;
            for i in 0..m.layers[0].w.len() {
                let orig = m.layers[0].w[i];
                let loss = |v: f32, m: &mut Mlp| {
                    m.layers[0].w[i] = v;
                    let mut gg = Grads::zeros(m);
                    batch_gradient(m, &data, &rows, 1.0, None, &mut gg)
                };
                let numeric = (loss(orig + h, &mut m) - loss(orig - h, &mut m)) / (2.0 * h as f64);
                m.layers[0].w[i] = orig;
                assert!((numeric - g.w[0][i] as f64).abs() < 2e-3 * (1.0 + numeric.abs()), "{head:?} w{i}");
            }
        }
    }

    #[test]
    fn adam_step_matches_hand_computation() {
        let mut m = Mlp {
            layers: vec![Dense { n_in: 1, n_out: 1, w: vec![0.5], b: vec![0.1] }],
            activation: Activation::Relu,
            head: Head::Identity,
            y_mean: 0.0,
            y_scale: 1.0,
            baseline: vec![0.0],
            skip: None,
        };
        let grads = Grads { w: vec![vec![0.2]], b: vec![vec![-0.4]] };
        let opts = MlpOptions { learning_rate: 0.01, l2: 0.0, ..Default::default() };
        let mut st = OptStateHandle::new(&m);
        step(&mut m, &grads, &mut st, &opts);
        // first Adam step: m_hat = g, v_hat = g^2 -> update = lr * g / (|g| + eps) = lr * sign(g)
        assert!((m.layers[0].w[0] - (0.5 - 0.01)).abs() < 1e-6);
        assert!((m.layers[0].b[0] - (0.1 + 0.01)).abs() < 1e-6);
        // second step with the same gradient: m = .19*g/.19, v likewise -> again lr * sign(g)
        step(&mut m, &grads, &mut st, &opts);
        assert!((m.layers[0].w[0] - (0.5 - 0.02)).abs() < 1e-6);
        // SGD with momentum 0.9, lr 0.1: v1 = -0.02, w = 0.48; v2 = -0.018 - 0.02 = -0.038
        let mut m2 = m.clone();
        m2.layers[0].w[0] = 0.5;
        let sgd = MlpOptions { learning_rate: 0.1, l2: 0.0, optimizer: Optimizer::Sgd { momentum: 0.9 }, ..Default::default() };
        let mut st2 = OptStateHandle::new(&m2);
        step(&mut m2, &grads, &mut st2, &sgd);
        assert!((m2.layers[0].w[0] - 0.48).abs() < 1e-6);
        step(&mut m2, &grads, &mut st2, &sgd);
        assert!((m2.layers[0].w[0] - (0.48 - 0.038)).abs() < 1e-6);
    }

    /// y = 1 when x0 * x1 > 0: not linearly separable.
    fn xor_data(n: usize) -> (Matrix, Vec<usize>) {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let mut rows = Vec::new();
        let mut y = Vec::new();
        for _ in 0..n {
            let a: f64 = rng.gen_range(-1.0..1.0);
            let b: f64 = rng.gen_range(-1.0..1.0);
            y.push(usize::from(a * b > 0.0));
            rows.push(vec![a, b]);
        }
        (Matrix::from_rows(&rows), y)
    }

    #[test]
    fn learns_xor_and_is_deterministic() {
        let (x, y) = xor_data(2000);
        let opts = MlpOptions { hidden: vec![16, 8], dropout: 0.0, epochs: 60, ..Default::default() };
        let w = vec![1.0; y.len()];
        let a = fit(&x, &Target::Classes(&y, 2), &w, &opts, &Parallel::serial(), &Silent);
        let b = fit(&x, &Target::Classes(&y, 2), &w, &opts, &Parallel::new(2), &Silent);
        assert_eq!(a.mlp, b.mlp, "same seed, same network, whatever the thread count");
        let mut out = [0.0];
        let correct = (0..x.rows)
            .filter(|&i| {
                a.mlp.predict(x.row(i), &mut out);
                (out[0] >= 0.5) == (y[i] == 1)
            })
            .count();
        assert!(correct as f64 / x.rows as f64 > 0.9, "accuracy {}", correct as f64 / x.rows as f64);
        let c = fit(&x, &Target::Classes(&y, 2), &w, &MlpOptions { seed: 7, ..opts }, &Parallel::serial(), &Silent);
        assert_ne!(a.mlp, c.mlp);
    }

    /// Keeps the progress messages of a fit.
    struct Recorder(RefCell<Vec<String>>);

    impl Monitor for Recorder {
        fn checkpoint(&self) {}
        fn verbose(&self) -> bool {
            true
        }
        fn progress(&self, message: &str) {
            self.0.borrow_mut().push(message.to_string());
        }
    }

    #[test]
    fn reports_each_epoch_with_validation_loss_and_auc() {
        let (x, y) = xor_data(1000);
        let opts = MlpOptions { hidden: vec![16, 8], epochs: 3, early_stopping: true, patience: 10, ..Default::default() };
        let rec = Recorder(RefCell::new(Vec::new()));
        let f = fit(&x, &Target::Classes(&y, 2), &vec![1.0; 1000], &opts, &Parallel::serial(), &rec);
        let lines = rec.0.borrow();
        let epochs: Vec<&String> = lines.iter().filter(|l| l.starts_with("mlp epoch ")).collect();
        assert_eq!(epochs.len(), 3, "{lines:?}");
        for (i, line) in epochs.iter().enumerate() {
            assert!(line.starts_with(&format!("mlp epoch {}/3: loss ", i + 1)), "{line}");
            let val = format!("validation loss {:.5}", f.history[i].val_loss.unwrap());
            assert!(line.contains(&val), "{line} lacks {val}");
            let auc: f64 = line.split("validation AUC ").nth(1).unwrap().split(',').next().unwrap().parse().unwrap();
            assert!(auc > 0.5 && auc <= 1.0, "{line}");
            assert!(line.contains("elapsed") && line.contains("left"), "{line}");
        }
        // regression has no AUC
        let yv: Vec<f64> = (0..x.rows).map(|i| x.row(i)[0]).collect();
        let rec = Recorder(RefCell::new(Vec::new()));
        fit(&x, &Target::Values(&yv), &vec![1.0; 1000], &MlpOptions { epochs: 1, ..opts }, &Parallel::serial(), &rec);
        assert!(rec.0.borrow().iter().all(|l| !l.contains("AUC")));
    }

    #[test]
    fn dropout_masks_are_the_draws_of_gen_f64() {
        for p in [0.0, 1e-9, 0.2, 0.5, 0.75, 0.999] {
            let mut a = ChaCha8Rng::seed_from_u64(5);
            let mut b = ChaCha8Rng::seed_from_u64(5);
            let keep = 1.0 / (1.0 - p) as f32;
            let expected: Vec<f32> = (0..5000).map(|_| if b.gen::<f64>() < p { 0.0 } else { keep }).collect();
            assert_eq!(dropout_mask(&mut a, 5000, p), expected, "p = {p}");
        }
    }

    #[test]
    fn early_stopping_restores_the_best_epoch() {
        // labels are coin flips: the validation loss cannot keep improving, the network overfits
        let (x, _) = xor_data(300);
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let y: Vec<usize> = (0..300).map(|_| rng.gen_range(0..2)).collect();
        let opts = MlpOptions { hidden: vec![64], dropout: 0.0, epochs: 200, patience: 3, learning_rate: 0.01, ..Default::default() };
        let f = fit(&x, &Target::Classes(&y, 2), &vec![1.0; 300], &opts, &Parallel::serial(), &Silent);
        assert!(f.history.len() < 200, "stopped early");
        let best = f.history.iter().filter_map(|h| h.val_loss).fold(f64::INFINITY, f64::min);
        // the kept weights are the best seen: an epoch's, or the linear starting point's
        assert!(f.best_val_loss.unwrap() <= best);
        if f.best_epoch > 0 {
            assert_eq!(f.history[f.best_epoch - 1].val_loss, Some(best));
        }
    }

    #[test]
    fn input_gradient_matches_finite_differences_and_ig_is_complete() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        for (head, k, out) in [(Head::Sigmoid, 1, 0), (Head::Softmax, 3, 2), (Head::Identity, 1, 0)] {
            for act in [Activation::Tanh, Activation::Relu] {
                let mut m = Mlp::new(4, &[6, 5], k, act, head, true, &mut rng);
                m.skip.as_mut().unwrap().w.iter_mut().enumerate().for_each(|(i, w)| *w = 0.05 * i as f32 - 0.2);
                m.y_scale = 2.0;
                m.baseline = vec![0.1, -0.2, 0.0, 0.3];
                let x = [0.7, -0.4, 1.2, -0.9];
                let (_, g) = m.output_and_input_gradient(&x, out);
                for i in 0..4 {
                    // f32 network: a larger step keeps rounding noise well below the tolerance
                    let h = 5e-3;
                    let mut up = x;
                    up[i] += h;
                    let mut down = x;
                    down[i] -= h;
                    let numeric = (m.output_and_input_gradient(&up, out).0 - m.output_and_input_gradient(&down, out).0) / (2.0 * h);
                    assert!((numeric - g[i]).abs() < 1e-3 * (1.0 + numeric.abs()), "{head:?} {act:?} x{i}: {numeric} vs {}", g[i]);
                }
                let (contrib, f_base) = m.integrated_gradients(&x, out, 1024);
                let f_x = m.output_and_input_gradient(&x, out).0;
                let sum: f64 = contrib.iter().sum();
                assert!((sum - (f_x - f_base)).abs() < 2e-3 * (1.0 + f_x.abs()), "{head:?} {act:?}: {sum} vs {}", f_x - f_base);
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn subnormals_are_flushed_inside_and_kept_outside() {
        use std::hint::black_box;
        let tiny = f32::MIN_POSITIVE / 4.0;
        assert!(tiny > 0.0 && !tiny.is_normal());
        assert_eq!(flush_denormals(|| black_box(tiny) * black_box(1.0f32)), 0.0);
        assert_eq!(black_box(tiny) * black_box(1.0f32), tiny, "the caller's mode is restored");
    }

    #[test]
    fn regression_unscales_its_output() {
        let rows: Vec<Vec<f64>> = (0..400).map(|i| vec![(i as f64) / 200.0 - 1.0]).collect();
        let y: Vec<f64> = rows.iter().map(|r| 100.0 + 30.0 * r[0] * r[0]).collect();
        let x = Matrix::from_rows(&rows);
        let opts = MlpOptions { hidden: vec![16], dropout: 0.0, epochs: 150, early_stopping: false, ..Default::default() };
        let f = fit(&x, &Target::Values(&y), &vec![1.0; 400], &opts, &Parallel::serial(), &Silent);
        let mut out = [0.0];
        f.mlp.predict(&[0.0], &mut out);
        assert!((out[0] - 100.0).abs() < 3.0, "{}", out[0]);
        f.mlp.predict(&[0.9], &mut out);
        assert!((out[0] - (100.0 + 30.0 * 0.81)).abs() < 4.0, "{}", out[0]);
    }
}
