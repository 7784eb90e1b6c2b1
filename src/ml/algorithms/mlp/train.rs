//! Training: options, the mini-batch gradient (forward and backward over a shard of rows), the
//! Adam / SGD step, and the epoch loop shared by the native backend here and the candle backend.

use super::kernels::{add_outer, axpy32, flush_denormals};
use super::{Activation, Head, Mlp};
use crate::ml::linalg::Matrix;
use crate::ml::monitor::Monitor;
use crate::ml::parallel::Parallel;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::Instant;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Optimizer {
    Adam {
        beta1: f64,
        beta2: f64,
        epsilon: f64,
    },
    Sgd {
        momentum: f64,
    },
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
            optimizer: Optimizer::Adam {
                beta1: 0.9,
                beta2: 0.999,
                epsilon: 1e-8,
            },
            l2: 1e-4,
            early_stopping: true,
            patience: 5,
            validation_fraction: 0.1,
            skip: true,
            seed: 42,
        }
    }
}

pub use crate::ml::algorithms::Target;

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

/// Gradients of all layers, same shapes as the weights.
pub struct Grads {
    pub w: Vec<Vec<f32>>,
    pub b: Vec<Vec<f32>>,
}

impl Grads {
    pub(super) fn zeros(m: &Mlp) -> Grads {
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
    batch_pass(Pass {
        m,
        data,
        rows,
        weight_norm,
        drop,
        grads: Some(grads),
    })
}

/// The summed weighted loss of `rows` without dropout: the forward pass only.
pub(super) fn batch_loss(m: &Mlp, data: &TrainingData, rows: &[usize]) -> f64 {
    batch_pass(Pass {
        m,
        data,
        rows,
        weight_norm: 1.0,
        drop: None,
        grads: None,
    })
}

/// One pass over a batch: forward, and backward when there are `grads` to fill.
struct Pass<'a, 'r> {
    m: &'a Mlp,
    data: &'a TrainingData<'a>,
    rows: &'a [usize],
    weight_norm: f64,
    drop: Option<(f64, &'r mut ChaCha8Rng)>,
    grads: Option<&'r mut Grads>,
}

fn batch_pass(p: Pass) -> f64 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU supports the features the function is compiled for
            return unsafe { batch_pass_avx2(p) };
        }
    }
    batch_pass_impl::<false>(p)
}

/// batch_pass compiled for AVX2 + FMA, chosen at run time: the baseline x86-64 build has 4-lane
/// SSE2 and no FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn batch_pass_avx2(p: Pass) -> f64 {
    batch_pass_impl::<true>(p)
}

#[inline(always)]
fn batch_pass_impl<const FMA: bool>(p: Pass) -> f64 {
    let Pass {
        m,
        data,
        rows,
        weight_norm,
        drop,
        grads,
    } = p;
    let TrainingData {
        x,
        n_in,
        target,
        y_std,
        weights,
    } = *data;
    let bsz = rows.len();
    let nl = m.layers.len();
    let mut input = Vec::with_capacity(bsz * n_in);
    for &r in rows {
        input.extend_from_slice(&x[r * n_in..(r + 1) * n_in]);
    }
    let pass = m.forward_rows::<FMA>(input, bsz, drop);
    let k = m.n_outputs();
    // output deltas and loss
    let logits = &pass.acts[nl];
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
                loss += wgt * (crate::ml::algorithms::logistic::log1pexp(zf) - yi * zf);
                d[0] = (wgt * (crate::ml::linalg::sigmoid(zf) - yi) / weight_norm) as f32;
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
    let Some(grads) = grads else {
        return loss;
    };
    let mut scratch = Vec::new();
    if m.skip.is_some() {
        let (gw, gb) = (&mut grads.w[nl], &mut grads.b[nl]);
        for bi in 0..bsz {
            axpy32(1.0, &delta[bi * k..(bi + 1) * k], gb);
        }
        add_outer::<FMA>(gw, &pass.acts[0], &delta, bsz, n_in, k, &mut scratch);
    }
    // backward: dz of layer li, its weight and bias gradients, then dz of the layer below
    let mut dz = delta;
    for li in (0..nl).rev() {
        let layer = &m.layers[li];
        for bi in 0..bsz {
            axpy32(
                1.0,
                &dz[bi * layer.n_out..(bi + 1) * layer.n_out],
                &mut grads.b[li],
            );
        }
        add_outer::<FMA>(
            &mut grads.w[li],
            &pass.acts[li],
            &dz,
            bsz,
            layer.n_in,
            layer.n_out,
            &mut scratch,
        );
        if li > 0 {
            dz = m.backward_layer::<FMA>(li, &dz, bsz, &pass, &mut scratch);
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
        Optimizer::Adam {
            beta1,
            beta2,
            epsilon,
        } => {
            let (b1, b2, eps) = (beta1 as f32, beta2 as f32, epsilon as f32);
            let k = Adam {
                lr,
                b1,
                b2,
                eps,
                c1: 1.0 - b1.powi(s.t),
                c2: 1.0 - b2.powi(s.t),
                decay: l2,
            };
            for (li, layer) in m.layers.iter_mut().chain(m.skip.iter_mut()).enumerate() {
                adam(
                    &mut layer.w,
                    &grads.w[li],
                    &mut s.m_w[li],
                    &mut s.v_w[li],
                    &k,
                );
                adam(
                    &mut layer.b,
                    &grads.b[li],
                    &mut s.m_b[li],
                    &mut s.v_b[li],
                    &Adam { decay: 0.0, ..k },
                );
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
fn eval_loss(m: &Mlp, data: &TrainingData, rows: &[usize], par: &Parallel) -> f64 {
    let chunks: Vec<&[usize]> = rows.chunks(1024).collect();
    let total: f64 = par
        .map(&chunks, |c| flush_denormals(|| batch_loss(m, data, c)))
        .iter()
        .sum();
    let wsum: f64 = rows.iter().map(|&r| data.weights[r]).sum();
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
    fn step(
        &mut self,
        rows: &[usize],
        batch_weight: f64,
        shard_seeds: &[u64],
    ) -> Result<(), String>;
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
    // `rng.gen::<f64>() < p` without a branch per unit (its outcome is random, so it mispredicts
    // often; drawing masks was a fifth of training time): gen::<f64>() is (next_u64 >> 11) *
    // 2^-53, so for an integer n below 2^53, n * 2^-53 < p exactly when n < ceil(p * 2^53).
    // Same draws, same masks.
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
    pub fn new(
        x: &Matrix,
        target: &Target,
        weights: &[f64],
        opts: &MlpOptions,
        par: &Parallel,
        monitor: &dyn Monitor,
    ) -> Start {
        let n = x.rows;
        let n_in = x.cols;
        let xf: Vec<f32> = x.data.iter().map(|v| *v as f32).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
        let (head, k) = match target {
            Target::Classes(_, 2) => (Head::Sigmoid, 1),
            Target::Classes(_, k) => (Head::Softmax, *k),
            Target::Values(_) => (Head::Identity, 1),
            Target::None => unreachable!("networks learn classes or values (the registry says so)"),
        };
        let mut mlp = Mlp::new(
            n_in,
            &opts.hidden,
            k,
            opts.activation,
            head,
            opts.skip,
            &mut rng,
        );
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
        Start {
            mlp,
            xf,
            y_std,
            train_rows,
            val_rows,
            rng,
        }
    }
}

/// The native backend: batch_gradient over shards in parallel, summed in shard order (so results
/// do not depend on the thread count), then one optimiser step.
pub struct NativeTrainer<'a> {
    mlp: Mlp,
    state: OptStateHandle,
    data: TrainingData<'a>,
    opts: &'a MlpOptions,
    par: &'a Parallel,
    loss: f64,
}

impl<'a> NativeTrainer<'a> {
    pub fn new(mlp: Mlp, data: TrainingData<'a>, opts: &'a MlpOptions, par: &'a Parallel) -> Self {
        NativeTrainer {
            state: OptStateHandle::new(&mlp),
            mlp,
            data,
            opts,
            par,
            loss: 0.0,
        }
    }
}

impl Trainer for NativeTrainer<'_> {
    fn step(
        &mut self,
        rows: &[usize],
        batch_weight: f64,
        shard_seeds: &[u64],
    ) -> Result<(), String> {
        let NativeTrainer {
            mlp,
            state,
            data,
            opts,
            par,
            loss,
        } = self;
        let shards: Vec<(&[usize], u64)> = rows
            .chunks(SHARD_ROWS)
            .zip(shard_seeds.iter().copied())
            .collect();
        let mlp_ref = &*mlp;
        let parts = par.map(&shards, |(rows, seed)| {
            let mut g = Grads::zeros(mlp_ref);
            let mut r = ChaCha8Rng::seed_from_u64(*seed);
            let l = flush_denormals(|| {
                batch_gradient(
                    mlp_ref,
                    data,
                    rows,
                    batch_weight,
                    Some((opts.dropout, &mut r)),
                    &mut g,
                )
            });
            (l, g)
        });
        // the first shard's gradient is the sum's start (no zeroing and copying per batch); the
        // others are added in shard order
        let mut parts = parts.into_iter();
        let (l0, mut grads) = parts.next().expect("a batch has rows");
        *loss += l0;
        for (l, g) in parts {
            *loss += l;
            for (acc, part) in grads
                .w
                .iter_mut()
                .zip(&g.w)
                .chain(grads.b.iter_mut().zip(&g.b))
            {
                axpy32(1.0, part, acc);
            }
        }
        let grads = &grads;
        flush_denormals(|| step(mlp, grads, state, opts));
        Ok(())
    }

    fn take_loss(&mut self) -> Result<f64, String> {
        Ok(std::mem::take(&mut self.loss))
    }

    fn loss(&mut self, rows: &[usize]) -> Result<f64, String> {
        Ok(eval_loss(&self.mlp, &self.data, rows, self.par))
    }

    fn network(&self) -> Result<Mlp, String> {
        Ok(self.mlp.clone())
    }
}

/// Trains a network on the encoded rows `x` with per-row `weights`, on the native kernels.
pub fn fit(
    x: &Matrix,
    target: &Target,
    weights: &[f64],
    opts: &MlpOptions,
    par: &Parallel,
    monitor: &dyn Monitor,
) -> MlpFit {
    let start = Start::new(x, target, weights, opts, par, monitor);
    let data = TrainingData {
        x: &start.xf,
        n_in: x.cols,
        target,
        y_std: &start.y_std,
        weights,
    };
    let mut trainer = NativeTrainer::new(start.mlp.clone(), data, opts, par);
    run_epochs(&mut trainer, &start, x, target, weights, opts, monitor)
        .expect("the native backend does not fail")
}

/// The epoch loop shared by the backends: shuffled mini-batches, per-shard dropout seeds, query
/// cancel checks, validation loss (and AUC for binary targets, when progress is wanted) per epoch, early
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
        for batch in train_rows.chunks(bs) {
            // every batch: a batch of a wide network is a second of work (two layers of 4096:
            // 17 M parameters x 32 rows x 6), so every 64th batch left cancel a minute away
            monitor.checkpoint();
            let bw: f64 = batch.iter().map(|&r| weights[r]).sum::<f64>().max(1e-300);
            // each shard draws its dropout masks from its own seeded stream
            let seeds: Vec<u64> = batch.chunks(SHARD_ROWS).map(|_| rng.gen::<u64>()).collect();
            trainer.step(batch, bw, &seeds)?;
            wsum += bw;
        }
        let loss = trainer.take_loss()? / wsum.max(1e-300);
        monitor.checkpoint();
        let val_loss = if val_rows.is_empty() {
            None
        } else {
            Some(trainer.loss(val_rows)?)
        };
        history.push(EpochStats {
            epoch,
            loss,
            val_loss,
        });
        if monitor.wants_progress() {
            let elapsed = started.elapsed().as_secs_f64();
            let eta = elapsed / epoch as f64 * (opts.epochs - epoch) as f64;
            let auc = match target {
                Target::Classes(y, 2) if !val_rows.is_empty() => {
                    Some(validation_auc(&trainer.network()?, x, y, val_rows))
                }
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
        Some((v, m, e)) => MlpFit {
            mlp: m,
            history,
            best_epoch: e,
            best_val_loss: Some(v),
        },
        None => {
            let last = history.last().and_then(|h| h.val_loss);
            MlpFit {
                mlp: trainer.network()?,
                history,
                best_epoch: epochs_run,
                best_val_loss: last,
            }
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
    crate::ml::metrics::roc_auc(&scores, &labels)
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
            let fit = crate::ml::algorithms::logistic::fit(
                xs,
                &ys,
                *n_classes,
                &w,
                &crate::ml::algorithms::logistic::LogisticOptions::default(),
                par,
                monitor,
            );
            (fit.coef, fit.intercept)
        }
        Target::Values(_) => {
            let ys: Vec<f64> = rows.iter().map(|&r| y_std[r]).collect();
            // a warm start only: inputs too large to solve for leave the shortcut at zero
            let Ok(fit) = crate::ml::algorithms::linear::fit(xs, &ys, &w, 1.0, par, monitor) else {
                return;
            };
            (fit.coef, vec![fit.intercept])
        }
        Target::None => unreachable!("networks learn classes or values (the registry says so)"),
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
