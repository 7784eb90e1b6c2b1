//! Feed-forward neural network (multi-layer perceptron): dense layers with ReLU or tanh, a sigmoid,
//! softmax or identity head, and an optional linear shortcut from the inputs to the output.
//!
//! This file holds the network and its scoring (forward pass, input gradients, integrated
//! gradients); [`kernels`] the f32 SIMD kernels every pass runs on; [`train`] training (inverted
//! dropout, Adam or SGD, L2 decay, mini-batches, class weights, early stopping with the best
//! weights restored) behind a [`Trainer`] backend with one shared epoch loop.
//!
//! Heads: one sigmoid output with binary cross-entropy (binary classification), k softmax outputs
//! with cross-entropy (multiclass), one linear output with squared error on a standardised target
//! (regression). Weights are f32, input-major (see [`Dense`]); losses are accumulated in f64.
//! Training is deterministic for a given seed: initialisation, shuffling and dropout masks all
//! come from one seeded ChaCha stream, and parallel shards are summed in a fixed order.

#[cfg(feature = "candle")]
pub mod candle;
mod kernels;
mod recipe;
#[cfg(test)]
mod tests;
mod train;

pub use kernels::flush_denormals;
pub use recipe::ALGORITHM;
pub use train::*;

use kernels::accumulate_impl;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::cell::RefCell;

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

impl Activation {
    #[inline]
    fn apply_all(self, v: &mut [f32]) {
        match self {
            Activation::Relu => v.iter_mut().for_each(|x| *x = x.max(0.0)),
            Activation::Tanh => v.iter_mut().for_each(|x| *x = x.tanh()),
        }
    }
}

/// What a forward pass over rows keeps for the backward pass: `acts[0]` the input, `acts[l + 1]`
/// the output of layer l after its activation and dropout (the last: the logits, shortcut
/// included), and the dropout multipliers of each hidden layer (empty without dropout).
struct RowsPass {
    acts: Vec<Vec<f32>>,
    masks: Vec<Vec<f32>>,
    p_drop: f64,
}

thread_local! {
    /// Per-thread scratch for single-row scoring: no allocation per row.
    static SCRATCH: RefCell<(Vec<f32>, Vec<f32>, Vec<f32>)> = const { RefCell::new((Vec::new(), Vec::new(), Vec::new())) };
}

/// Wider hidden layers, or more of them, than training makes (options.hidden: at most 8 layers of
/// 4096 units) are not networks anyone trained: a stored row claiming them is refused.
const MAX_HIDDEN_WIDTH: usize = 4096;
const MAX_HIDDEN_LAYERS: usize = 8;
/// The memory one batch of integrated-gradient path points may take (see integrated_gradients).
const EXPLAIN_BATCH_BYTES: usize = 32 << 20;

impl Mlp {
    /// Checks a decoded network's shapes against the model's inputs, outputs and task (see
    /// Model::check): every pass indexes by them.
    pub fn check(
        &self,
        inputs: usize,
        outputs: usize,
        task: crate::ml::model::Task,
    ) -> Result<(), String> {
        use crate::ml::model::Task;
        let dense_ok = |d: &Dense| {
            d.n_in > 0
                && d.n_out > 0
                && d.n_in <= MAX_HIDDEN_WIDTH.max(inputs)
                && d.n_out <= MAX_HIDDEN_WIDTH.max(outputs)
                && d.w.len() == d.n_in * d.n_out
                && d.b.len() == d.n_out
                && d.w.iter().chain(&d.b).all(|v| v.is_finite())
        };
        let shape_err =
            || format!("its network does not fit {inputs} inputs and {outputs} outputs");
        let (first, last) = match (self.layers.first(), self.layers.last()) {
            (Some(f), Some(l)) if self.layers.len() <= MAX_HIDDEN_LAYERS + 1 => (f, l),
            (Some(_), Some(_)) => {
                return Err(format!("its network has {} layers", self.layers.len()))
            }
            _ => return Err("its network has no layers".into()),
        };
        if first.n_in != inputs || last.n_out != outputs || !self.layers.iter().all(dense_ok) {
            return Err(shape_err());
        }
        if self.layers.windows(2).any(|p| p[0].n_out != p[1].n_in) {
            return Err(shape_err());
        }
        if let Some(s) = &self.skip {
            if s.n_in != inputs || s.n_out != outputs || !dense_ok(s) {
                return Err(shape_err());
            }
        }
        let head_ok = matches!(
            (self.head, task),
            (Head::Sigmoid, Task::Binary)
                | (Head::Softmax, Task::Multiclass)
                | (Head::Identity, Task::Regression)
        );
        if !head_ok
            || self.baseline.len() != inputs
            || !self.baseline.iter().all(|v| v.is_finite())
            || !self.y_scale.is_finite()
            || !self.y_mean.is_finite()
        {
            return Err(format!(
                "its network head or baseline does not fit a {} model",
                task.as_str()
            ));
        }
        Ok(())
    }

    /// model_info's view of a network: its shape, not its weights.
    pub fn parameters(&self, inputs: &[String]) -> serde_json::Value {
        serde_json::json!({
            "layers": self.layers.iter().map(|l| serde_json::json!({"inputs": l.n_in, "outputs": l.n_out})).collect::<Vec<_>>(),
            "activation": format!("{:?}", self.activation).to_lowercase(),
            "head": format!("{:?}", self.head).to_lowercase(),
            "n_parameters": self.n_parameters(),
            "skip_connection": self.skip.is_some(),
            "inputs": inputs,
        })
    }

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
                    w: (0..i * o)
                        .map(|_| rng.gen_range(-limit..limit) as f32)
                        .collect(),
                    b: vec![0.0; o],
                }
            })
            .collect();
        let mut layers: Vec<Dense> = layers;
        let skip = skip.then(|| {
            if let Some(last) = layers.last_mut() {
                last.w.iter_mut().for_each(|w| *w *= 0.1);
            }
            Dense {
                n_in,
                n_out,
                w: vec![0.0; n_in * n_out],
                b: vec![0.0; n_out],
            }
        });
        Mlp {
            layers,
            activation,
            head,
            y_mean: 0.0,
            y_scale: 1.0,
            baseline: vec![0.0; n_in],
            skip,
        }
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
    unsafe fn forward_avx2(
        &self,
        x: &[f64],
        a: &mut Vec<f32>,
        b: &mut Vec<f32>,
        shortcut: &mut Vec<f32>,
        out: &mut [f64],
    ) {
        self.forward::<true>(x, a, b, shortcut, out)
    }

    /// Scores one row with scratch buffers `a`, `b` (layer activations) and `shortcut`.
    #[inline(always)]
    fn forward<const FMA: bool>(
        &self,
        x: &[f64],
        a: &mut Vec<f32>,
        b: &mut Vec<f32>,
        shortcut: &mut Vec<f32>,
        out: &mut [f64],
    ) {
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
        let xf: Vec<f32> = x.iter().map(|v| *v as f32).collect();
        let (values, grads) = flush_denormals(|| self.outputs_and_input_gradients(&xf, 1, output));
        (values[0], grads.iter().map(|g| *g as f64).collect())
    }

    /// For `n` encoded points (`x`: n rows of the input width, row-major), output `output` at
    /// each and its gradient with respect to the inputs (n rows), on the same forward and
    /// backward passes as training (integrated gradients take 1024 points per explanation).
    fn outputs_and_input_gradients(
        &self,
        x: &[f32],
        n: usize,
        output: usize,
    ) -> (Vec<f64>, Vec<f32>) {
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                // SAFETY: the CPU supports the features the function is compiled for
                return unsafe { self.input_gradients_avx2(x, n, output) };
            }
        }
        self.input_gradients::<false>(x, n, output)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn input_gradients_avx2(
        &self,
        x: &[f32],
        n: usize,
        output: usize,
    ) -> (Vec<f64>, Vec<f32>) {
        self.input_gradients::<true>(x, n, output)
    }

    #[inline(always)]
    fn input_gradients<const FMA: bool>(
        &self,
        x: &[f32],
        n: usize,
        output: usize,
    ) -> (Vec<f64>, Vec<f32>) {
        let n_in = x.len() / n.max(1);
        let nl = self.layers.len();
        let k = self.n_outputs();
        let pass = self.forward_rows::<FMA>(x.to_vec(), n, None);
        // the outputs, and d output / d logits
        let mut values = Vec::with_capacity(n);
        let mut delta = vec![0.0f32; n * k];
        for r in 0..n {
            let z: Vec<f64> = pass.acts[nl][r * k..(r + 1) * k]
                .iter()
                .map(|v| *v as f64)
                .collect();
            let d = &mut delta[r * k..(r + 1) * k];
            match self.head {
                Head::Sigmoid => {
                    let p = crate::ml::linalg::sigmoid(z[0]);
                    values.push(p);
                    d[0] = (p * (1.0 - p)) as f32;
                }
                Head::Identity => {
                    values.push(z[0] * self.y_scale + self.y_mean);
                    d[0] = self.y_scale as f32;
                }
                Head::Softmax => {
                    let mut p = z;
                    crate::ml::linalg::softmax_in_place(&mut p);
                    let pc = p[output];
                    values.push(pc);
                    for (j, dj) in d.iter_mut().enumerate() {
                        *dj = (pc * (f64::from(u8::from(j == output)) - p[j])) as f32;
                    }
                }
            }
        }
        let mut wt = Vec::new();
        let mut d_input = vec![0.0f32; n * n_in];
        if let Some(sk) = &self.skip {
            kernels::add_times_transpose::<FMA>(&mut d_input, &delta, &sk.w, n, n_in, k, &mut wt);
        }
        for li in (0..nl).rev() {
            delta = self.backward_layer::<FMA>(li, &delta, n, &pass, &mut wt);
        }
        for (t, d) in d_input.iter_mut().zip(&delta) {
            *t += d;
        }
        (values, d_input)
    }

    /// The forward pass over `n` rows (`input`: n x n_in, row-major), keeping what a backward
    /// pass needs. `drop`: inverted dropout on the hidden layers, masks drawn from the stream.
    #[inline(always)]
    fn forward_rows<const FMA: bool>(
        &self,
        input: Vec<f32>,
        n: usize,
        drop: Option<(f64, &mut ChaCha8Rng)>,
    ) -> RowsPass {
        let nl = self.layers.len();
        let (p_drop, mut rng) = match drop {
            Some((p, r)) if p > 0.0 => (p, Some(r)),
            _ => (0.0, None),
        };
        let mut pass = RowsPass {
            acts: Vec::with_capacity(nl + 1),
            masks: Vec::with_capacity(nl),
            p_drop,
        };
        pass.acts.push(input);
        for (li, layer) in self.layers.iter().enumerate() {
            let prev = &pass.acts[li];
            let mut out = vec![0.0f32; n * layer.n_out];
            let hidden = li + 1 < nl;
            for bi in 0..n {
                let z = &mut out[bi * layer.n_out..(bi + 1) * layer.n_out];
                z.copy_from_slice(&layer.b);
                accumulate_impl::<FMA>(
                    &layer.w,
                    layer.n_out,
                    &prev[bi * layer.n_in..(bi + 1) * layer.n_in],
                    z,
                );
                if hidden {
                    self.activation.apply_all(z);
                }
            }
            let mut mask = Vec::new();
            if let (true, Some(rng)) = (hidden, rng.as_deref_mut()) {
                mask = dropout_mask(rng, out.len(), p_drop);
                for (o, k) in out.iter_mut().zip(&mask) {
                    *o *= k;
                }
            }
            pass.masks.push(mask);
            pass.acts.push(out);
        }
        if let Some(sk) = &self.skip {
            let k = sk.n_out;
            let n_in = sk.n_in;
            let (inputs, rest) = pass.acts.split_at_mut(1);
            let logits = &mut rest[nl - 1];
            for bi in 0..n {
                let z = &mut logits[bi * k..(bi + 1) * k];
                for (zo, bias) in z.iter_mut().zip(&sk.b) {
                    *zo += bias;
                }
                accumulate_impl::<FMA>(&sk.w, k, &inputs[0][bi * n_in..(bi + 1) * n_in], z);
            }
        }
        pass
    }

    /// d/d(input of layer `li`) from `dz` = d/d(output z of layer li) over the rows of `pass`:
    /// dz · Wᵀ, then, below the first layer, through the activation and dropout of the previous
    /// layer's output (out = act(z) * mask, mask 0 or keep; d out/dz = act'(z) * mask), written
    /// without branches per unit so that the loops vectorise.
    #[inline(always)]
    fn backward_layer<const FMA: bool>(
        &self,
        li: usize,
        dz: &[f32],
        n: usize,
        pass: &RowsPass,
        wt: &mut Vec<f32>,
    ) -> Vec<f32> {
        let layer = &self.layers[li];
        let mut da = vec![0.0f32; n * layer.n_in];
        kernels::add_times_transpose::<FMA>(&mut da, dz, &layer.w, n, layer.n_in, layer.n_out, wt);
        if li == 0 {
            return da;
        }
        let out = &pass.acts[li];
        let mask = &pass.masks[li - 1];
        match (self.activation, mask.is_empty()) {
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
                let keep = 1.0 / (1.0 - pass.p_drop) as f32;
                for ((v, o), k) in da.iter_mut().zip(out).zip(mask) {
                    let h = o / keep;
                    *v *= (1.0 - h * h) * k;
                }
            }
        }
        da
    }

    /// Integrated gradients from the training-mean baseline along the straight path to `x`
    /// (midpoint rule, `steps` points): per-input contributions that add up to
    /// output(x) - output(baseline), and output(baseline). With ReLU the path crosses kinks, so
    /// the error shrinks as 1/steps (about 0.1% of the output change at 1024 steps). The points
    /// go through the network in batches of 256.
    pub fn integrated_gradients(&self, x: &[f64], output: usize, steps: usize) -> (Vec<f64>, f64) {
        let d = x.len();
        if d == 0 {
            return (Vec::new(), self.output_and_input_gradient(x, output).0);
        }
        let base = if self.baseline.len() == d {
            self.baseline.clone()
        } else {
            vec![0.0; d]
        };
        let mut total = vec![0.0f64; d];
        // up to 256 path points per batch, fewer for wide networks: a batch keeps every layer's
        // activations and gradients, 8 bytes per unit per point, within EXPLAIN_BATCH_BYTES
        let units: usize = d + self.layers.iter().map(|l| l.n_out).sum::<usize>();
        let per_batch = (EXPLAIN_BATCH_BYTES / (8 * units.max(1))).clamp(1, 256);
        let mut points: Vec<f32> = Vec::with_capacity(per_batch * d);
        let mut k = 0;
        while k < steps {
            let n = (steps - k).min(per_batch);
            points.clear();
            for s in k..k + n {
                let t = (s as f64 + 0.5) / steps as f64;
                points.extend((0..d).map(|i| (base[i] + t * (x[i] - base[i])) as f32));
            }
            let (_, g) = flush_denormals(|| self.outputs_and_input_gradients(&points, n, output));
            for row in g.chunks(d) {
                for (t, gi) in total.iter_mut().zip(row) {
                    *t += *gi as f64;
                }
            }
            k += n;
        }
        let contrib = (0..d)
            .map(|i| (x[i] - base[i]) * total[i] / steps as f64)
            .collect();
        let (f_base, _) = self.output_and_input_gradient(&base, output);
        (contrib, f_base)
    }

    fn finish(&self, logits: &[f32], out: &mut [f64]) {
        match self.head {
            Head::Sigmoid => out[0] = crate::ml::linalg::sigmoid(logits[0] as f64),
            Head::Identity => out[0] = logits[0] as f64 * self.y_scale + self.y_mean,
            Head::Softmax => {
                for (o, l) in out.iter_mut().zip(logits) {
                    *o = *l as f64;
                }
                crate::ml::linalg::softmax_in_place(out);
            }
        }
    }
}
