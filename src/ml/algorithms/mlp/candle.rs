//! The MLP on candle tensors (feature `candle`; with `cuda`, on a GPU): bulk scoring
//! ([`predict_batch`], used by insight.score_table) and training ([`fit`], used by insight.train
//! when `insight.device` = cuda). Both use the native network's layout and the native epoch loop,
//! so a seed gives the same mini-batches and dropout masks: candle and the native kernels agree to
//! 1e-4 on scores and to floating-point rounding on training.

use super::{
    dropout_mask, run_epochs, Activation, Head, Mlp, MlpFit, MlpOptions, Optimizer, Start, Target,
    Trainer, SHARD_ROWS,
};
use crate::ml::linalg::Matrix;
use crate::ml::monitor::Monitor;
use crate::ml::parallel::Parallel;
use candle_core::{DType, Device, Tensor, Var, D};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Where to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceKind {
    Cpu,
    Cuda,
}

pub fn device(kind: DeviceKind) -> Result<Device, String> {
    match kind {
        DeviceKind::Cpu => Ok(Device::Cpu),
        DeviceKind::Cuda if cfg!(feature = "cuda") => {
            Device::new_cuda(0).map_err(|e| format!("no CUDA device is usable: {e}"))
        }
        DeviceKind::Cuda => {
            Err("this build has no CUDA support (build with --features cuda)".into())
        }
    }
}

fn err(e: candle_core::Error) -> String {
    e.to_string()
}

/// Scores the rows of `x` (encoded inputs): one output row per input row, laid out as the native
/// `Mlp::predict` writes them (probabilities, or values).
pub fn predict_batch(m: &Mlp, x: &Matrix, dev: &Device) -> Result<Vec<f64>, String> {
    let input: Vec<f32> = x.data.iter().map(|v| *v as f32).collect();
    let x0 = Tensor::from_vec(input, (x.rows, x.cols), dev).map_err(err)?;
    let mut params = Vec::new();
    for block in m.layers.iter().chain(m.skip.iter()) {
        params.push(Tensor::from_slice(&block.w, (block.n_in, block.n_out), dev).map_err(err)?);
        params.push(Tensor::from_slice(&block.b, (block.n_out,), dev).map_err(err)?);
    }
    let a = logits(&x0, &params, m, &[]).map_err(err)?;
    let out = match m.head {
        Head::Sigmoid => candle_nn::ops::sigmoid(&a),
        Head::Softmax => candle_nn::ops::softmax_last_dim(&a),
        Head::Identity => a.affine(m.y_scale, m.y_mean),
    }
    .map_err(err)?;
    let v: Vec<f32> = out
        .flatten_all()
        .and_then(|t| t.to_vec1::<f32>())
        .map_err(err)?;
    Ok(v.into_iter().map(|x| x as f64).collect())
}

/// Output logits of the rows `x` for a network shaped like `net` with the weights `params`
/// (weight, bias per block: the layers, then the shortcut); `masks`: one dropout multiplier
/// tensor per hidden layer, or none. Scoring and training both run this.
fn logits(
    x: &Tensor,
    params: &[Tensor],
    net: &Mlp,
    masks: &[Tensor],
) -> candle_core::Result<Tensor> {
    let nl = net.layers.len();
    let mut a = x.clone();
    for li in 0..nl {
        let z = a
            .matmul(&params[2 * li])?
            .broadcast_add(&params[2 * li + 1])?;
        a = if li + 1 == nl {
            z
        } else {
            let h = match net.activation {
                Activation::Relu => z.relu()?,
                Activation::Tanh => z.tanh()?,
            };
            match masks.get(li) {
                Some(mask) => h.mul(mask)?,
                None => h,
            }
        };
    }
    if net.skip.is_some() {
        a = (a + x
            .matmul(&params[2 * nl])?
            .broadcast_add(&params[2 * nl + 1])?)?;
    }
    Ok(a)
}

/// One trainable tensor with its optimiser state (Adam's moments, or SGD's velocity in `m`).
struct Param {
    var: Var,
    m: Tensor,
    v: Tensor,
    /// L2 weight decay applies to weights, not biases (as in the native backend).
    decay: bool,
}

/// Candle training state: the rows, targets and row weights on the device, and the parameters.
pub struct CandleTrainer<'a> {
    dev: Device,
    x: Tensor,
    /// Sigmoid: 0/1 as f32; softmax: class index as u32; identity: standardised value as f32.
    y: Tensor,
    w: Tensor,
    row_weights: &'a [f64],
    /// Weights and bias of each block: the layers in order, then the shortcut.
    params: Vec<Param>,
    /// Head, activation, sizes and the fields that do not train (scaling, baseline).
    template: Mlp,
    opts: &'a MlpOptions,
    t: i32,
    loss: Option<Tensor>,
}

impl<'a> CandleTrainer<'a> {
    pub fn new(
        start: &Start,
        n_in: usize,
        target: &Target,
        weights: &'a [f64],
        opts: &'a MlpOptions,
        dev: &Device,
    ) -> Result<Self, String> {
        let n = weights.len();
        let x = Tensor::from_slice(&start.xf, (n, n_in), dev).map_err(err)?;
        let y = match target {
            Target::Classes(y, 2) => {
                Tensor::from_vec(y.iter().map(|c| *c as f32).collect::<Vec<_>>(), n, dev)
            }
            Target::Classes(y, _) => {
                Tensor::from_vec(y.iter().map(|c| *c as u32).collect::<Vec<_>>(), n, dev)
            }
            Target::Values(_) => Tensor::from_vec(
                start.y_std.iter().map(|v| *v as f32).collect::<Vec<_>>(),
                n,
                dev,
            ),
            Target::None => return Err("networks learn classes or values".into()),
        }
        .map_err(err)?;
        let w = Tensor::from_vec(
            weights.iter().map(|v| *v as f32).collect::<Vec<_>>(),
            n,
            dev,
        )
        .map_err(err)?;
        let mut params = Vec::new();
        for block in start.mlp.layers.iter().chain(start.mlp.skip.iter()) {
            for (data, shape, decay) in [
                (&block.w, vec![block.n_in, block.n_out], true),
                (&block.b, vec![block.n_out], false),
            ] {
                let var = Var::from_slice(data, shape.as_slice(), dev).map_err(err)?;
                let zeros = var.zeros_like().map_err(err)?;
                params.push(Param {
                    m: zeros.clone(),
                    v: zeros,
                    var,
                    decay,
                });
            }
        }
        Ok(CandleTrainer {
            dev: dev.clone(),
            x,
            y,
            w,
            row_weights: weights,
            params,
            template: start.mlp.clone(),
            opts,
            t: 0,
            loss: None,
        })
    }

    /// Summed weighted loss of the rows `idx` (u32 indices into the data).
    fn loss_sum(
        &self,
        idx: &Tensor,
        masks: &[Tensor],
        detach: bool,
    ) -> candle_core::Result<Tensor> {
        let xb = self.x.index_select(idx, 0)?;
        let yb = self.y.index_select(idx, 0)?;
        let wb = self.w.index_select(idx, 0)?;
        // detached weights: evaluation without recording the graph
        let params: Vec<Tensor> = self
            .params
            .iter()
            .map(|p| {
                if detach {
                    p.var.as_tensor().detach()
                } else {
                    p.var.as_tensor().clone()
                }
            })
            .collect();
        let z = logits(&xb, &params, &self.template, masks)?;
        let per_row = match self.template.head {
            Head::Sigmoid => {
                // log(1 + e^z) - y z, written so that large |z| does not overflow
                let z = z.squeeze(1)?;
                let softplus = (z.relu()? + z.abs()?.neg()?.exp()?.affine(1.0, 1.0)?.log()?)?;
                (softplus - yb.mul(&z)?)?
            }
            Head::Softmax => candle_nn::ops::log_softmax(&z, D::Minus1)?
                .gather(&yb.unsqueeze(1)?, 1)?
                .squeeze(1)?
                .neg()?,
            Head::Identity => (z.squeeze(1)? - yb)?.sqr()?.affine(0.5, 0.0)?,
        };
        per_row.mul(&wb)?.sum_all()
    }

    fn index(&self, rows: &[usize]) -> candle_core::Result<Tensor> {
        Tensor::from_vec(
            rows.iter().map(|r| *r as u32).collect::<Vec<_>>(),
            rows.len(),
            &self.dev,
        )
    }

    fn step_inner(
        &mut self,
        rows: &[usize],
        batch_weight: f64,
        shard_seeds: &[u64],
    ) -> candle_core::Result<()> {
        let idx = self.index(rows)?;
        // the native backend's masks, drawn in its order (per shard, layer by layer)
        let hidden: Vec<usize> = self.template.layers[..self.template.layers.len() - 1]
            .iter()
            .map(|l| l.n_out)
            .collect();
        let mut masks = Vec::new();
        if self.opts.dropout > 0.0 {
            let mut per_layer: Vec<Vec<f32>> = hidden
                .iter()
                .map(|w| Vec::with_capacity(rows.len() * w))
                .collect();
            for (shard, seed) in rows.chunks(SHARD_ROWS).zip(shard_seeds) {
                let mut rng = ChaCha8Rng::seed_from_u64(*seed);
                for (li, width) in hidden.iter().enumerate() {
                    per_layer[li].extend(dropout_mask(
                        &mut rng,
                        shard.len() * width,
                        self.opts.dropout,
                    ));
                }
            }
            for (li, width) in hidden.iter().enumerate() {
                masks.push(Tensor::from_vec(
                    std::mem::take(&mut per_layer[li]),
                    (rows.len(), *width),
                    &self.dev,
                )?);
            }
        }
        let sum = self.loss_sum(&idx, &masks, false)?;
        let grads = sum.affine(1.0 / batch_weight, 0.0)?.backward()?;
        self.t += 1;
        let lr = self.opts.learning_rate;
        for p in &mut self.params {
            let Some(g) = grads.get(&p.var) else { continue };
            let cur = p.var.as_tensor().detach();
            let g = if p.decay && self.opts.l2 > 0.0 {
                (g + cur.affine(self.opts.l2, 0.0)?)?
            } else {
                g.clone()
            };
            let new = match self.opts.optimizer {
                Optimizer::Adam {
                    beta1,
                    beta2,
                    epsilon,
                } => {
                    p.m = (p.m.affine(beta1, 0.0)? + g.affine(1.0 - beta1, 0.0)?)?;
                    p.v = (p.v.affine(beta2, 0.0)? + g.sqr()?.affine(1.0 - beta2, 0.0)?)?;
                    let c1 = 1.0 - beta1.powi(self.t);
                    let c2 = 1.0 - beta2.powi(self.t);
                    let denom = p.v.affine(1.0 / c2, 0.0)?.sqrt()?.affine(1.0, epsilon)?;
                    (cur - p.m.affine(lr / c1, 0.0)?.div(&denom)?)?
                }
                Optimizer::Sgd { momentum } => {
                    p.m = (p.m.affine(momentum, 0.0)? - g.affine(lr, 0.0)?)?;
                    (cur + &p.m)?
                }
            };
            p.var.set(&new)?;
        }
        let sum = sum.detach();
        self.loss = Some(match self.loss.take() {
            Some(acc) => (acc + sum)?,
            None => sum,
        });
        Ok(())
    }
}

impl Trainer for CandleTrainer<'_> {
    fn step(
        &mut self,
        rows: &[usize],
        batch_weight: f64,
        shard_seeds: &[u64],
    ) -> Result<(), String> {
        self.step_inner(rows, batch_weight, shard_seeds)
            .map_err(err)
    }

    fn take_loss(&mut self) -> Result<f64, String> {
        match self.loss.take() {
            Some(t) => t
                .to_dtype(DType::F64)
                .and_then(|t| t.to_scalar::<f64>())
                .map_err(err),
            None => Ok(0.0),
        }
    }

    fn loss(&mut self, rows: &[usize]) -> Result<f64, String> {
        // in chunks, so that evaluation memory stays bounded on big validation sets
        let mut total = 0.0;
        for chunk in rows.chunks(65536) {
            let idx = self.index(chunk).map_err(err)?;
            let s = self
                .loss_sum(&idx, &[], true)
                .and_then(|t| t.to_dtype(DType::F64)?.to_scalar::<f64>())
                .map_err(err)?;
            total += s;
        }
        let wsum: f64 = rows.iter().map(|&r| self.row_weights[r]).sum();
        Ok(total / wsum.max(1e-300))
    }

    fn network(&self) -> Result<Mlp, String> {
        let mut m = self.template.clone();
        let values = |i: usize| {
            self.params[i]
                .var
                .as_tensor()
                .flatten_all()
                .and_then(|t| t.to_vec1::<f32>())
                .map_err(err)
        };
        let nl = m.layers.len();
        for (bi, block) in m.layers.iter_mut().chain(m.skip.iter_mut()).enumerate() {
            block.w = values(2 * bi)?;
            block.b = values(2 * bi + 1)?;
        }
        debug_assert_eq!(nl + usize::from(m.skip.is_some()), self.params.len() / 2);
        Ok(m)
    }
}

/// Trains a network with candle on `dev`: the same start (initialisation, linear warm start on
/// the CPU, validation split) and the same epoch loop as `mlp::fit`.
pub fn fit(
    x: &Matrix,
    target: &Target,
    weights: &[f64],
    opts: &MlpOptions,
    par: &Parallel,
    monitor: &dyn Monitor,
    dev: &Device,
) -> Result<MlpFit, String> {
    let start = Start::new(x, target, weights, opts, par, monitor);
    let mut trainer = CandleTrainer::new(&start, x.cols, target, weights, opts, dev)?;
    run_epochs(&mut trainer, &start, x, target, weights, opts, monitor)
}

#[cfg(test)]
mod tests {
    use super::super::{fit, MlpOptions, Target};
    use super::*;
    use crate::ml::monitor::Silent;
    use crate::ml::parallel::Parallel;

    #[test]
    fn candle_and_native_agree_on_the_same_weights() {
        let rows: Vec<Vec<f64>> = (0..300)
            .map(|i| {
                vec![
                    (i as f64 * 0.1).sin(),
                    (i as f64 * 0.07).cos(),
                    (i % 5) as f64 - 2.0,
                ]
            })
            .collect();
        let x = Matrix::from_rows(&rows);
        let y: Vec<usize> = rows
            .iter()
            .map(|r| usize::from(r[0] * r[1] > 0.0))
            .collect();
        let yk: Vec<usize> = rows.iter().map(|r| ((r[2] + 2.0) as usize) % 3).collect();
        let yv: Vec<f64> = rows.iter().map(|r| 10.0 + r[0] * 3.0 - r[1]).collect();
        let opts = MlpOptions {
            epochs: 5,
            ..Default::default()
        };
        let w = vec![1.0; rows.len()];
        for (target, k) in [
            (Target::Classes(&y, 2), 1),
            (Target::Classes(&yk, 3), 3),
            (Target::Values(&yv), 1),
        ] {
            for act in [Activation::Relu, Activation::Tanh] {
                let net = fit(
                    &x,
                    &target,
                    &w,
                    &MlpOptions {
                        activation: act,
                        ..opts.clone()
                    },
                    &Parallel::serial(),
                    &Silent,
                )
                .mlp;
                let batch = predict_batch(&net, &x, &Device::Cpu).unwrap();
                let mut out = vec![0.0; k];
                for r in 0..x.rows {
                    net.predict(x.row(r), &mut out);
                    for c in 0..k {
                        let tol = 1e-4 * (1.0 + out[c].abs());
                        assert!(
                            (batch[r * k + c] - out[c]).abs() < tol,
                            "row {r} output {c}: {} vs {}",
                            batch[r * k + c],
                            out[c]
                        );
                    }
                }
            }
        }
    }

    /// Largest |candle - native| over the scores of every row, and over the per-epoch losses.
    fn training_gap(x: &Matrix, target: &Target, k: usize, opts: &MlpOptions) -> (f64, f64) {
        let w: Vec<f64> = (0..x.rows).map(|i| 1.0 + (i % 3) as f64 * 0.5).collect();
        let native = fit(x, target, &w, opts, &Parallel::serial(), &Silent);
        let tensors = super::fit(
            x,
            target,
            &w,
            opts,
            &Parallel::serial(),
            &Silent,
            &Device::Cpu,
        )
        .unwrap();
        assert_eq!(native.history.len(), tensors.history.len());
        assert_eq!(native.best_epoch, tensors.best_epoch);
        let (mut a, mut b) = (vec![0.0; k], vec![0.0; k]);
        let mut score_gap = 0.0f64;
        for r in 0..x.rows {
            native.mlp.predict(x.row(r), &mut a);
            tensors.mlp.predict(x.row(r), &mut b);
            for c in 0..k {
                score_gap = score_gap.max((a[c] - b[c]).abs() / (1.0 + a[c].abs()));
            }
        }
        let loss_gap = native
            .history
            .iter()
            .zip(&tensors.history)
            .map(|(n, t)| (n.loss - t.loss).abs())
            .fold(0.0, f64::max);
        (score_gap, loss_gap)
    }

    #[test]
    fn candle_training_matches_native_training() {
        let rows: Vec<Vec<f64>> = (0..400)
            .map(|i| {
                vec![
                    (i as f64 * 0.1).sin(),
                    (i as f64 * 0.07).cos(),
                    (i % 5) as f64 - 2.0,
                ]
            })
            .collect();
        let x = Matrix::from_rows(&rows);
        let y: Vec<usize> = rows
            .iter()
            .map(|r| usize::from(r[0] * r[1] > 0.0))
            .collect();
        let yk: Vec<usize> = rows.iter().map(|r| ((r[2] + 2.0) as usize) % 3).collect();
        let yv: Vec<f64> = rows.iter().map(|r| 10.0 + r[0] * 3.0 - r[1]).collect();
        let sgd = MlpOptions {
            hidden: vec![16, 8],
            epochs: 4,
            dropout: 0.3,
            l2: 1e-3,
            learning_rate: 0.05,
            optimizer: Optimizer::Sgd { momentum: 0.9 },
            // the last epoch's weights are compared, not a possibly identical early-stopping pick
            early_stopping: false,
            ..Default::default()
        };
        for (target, k) in [
            (Target::Classes(&y, 2), 1),
            (Target::Classes(&yk, 3), 3),
            (Target::Values(&yv), 1),
        ] {
            for act in [Activation::Relu, Activation::Tanh] {
                // same batches, same dropout masks, same updates: only rounding differs
                let (score, loss) = training_gap(
                    &x,
                    &target,
                    k,
                    &MlpOptions {
                        activation: act,
                        ..sgd.clone()
                    },
                );
                assert!(
                    score < 1e-5 && loss < 1e-5,
                    "sgd {act:?} k={k}: scores {score:e}, losses {loss:e}"
                );
                let adam = MlpOptions {
                    activation: act,
                    epochs: 4,
                    dropout: 0.3,
                    early_stopping: false,
                    ..Default::default()
                };
                let (score, loss) = training_gap(&x, &target, k, &adam);
                assert!(
                    score < 1e-5 && loss < 1e-5,
                    "adam {act:?} k={k}: scores {score:e}, losses {loss:e}"
                );
            }
        }
    }

    #[test]
    fn cuda_without_support_is_a_clear_error() {
        if !cfg!(feature = "cuda") {
            let e = device(DeviceKind::Cuda).unwrap_err();
            assert!(e.contains("--features cuda"), "{e}");
        }
        assert!(device(DeviceKind::Cpu).is_ok());
    }
}
