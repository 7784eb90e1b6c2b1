//! The `mlp` entry of the algorithm registry: its options, and fitting on insight.device.

use super::{fit, MlpFit, MlpOptions};
use crate::ml::algorithms::{
    Algorithm, Device, FitContext, Fitted, Learns, Recipe, RecipeContext, TrainingData,
};
use crate::ml::model::Estimator;
use crate::ml::options::Options;
use crate::ml::problem::Problem;
use serde_json::{json, Value};

pub static ALGORITHM: Algorithm = Algorithm {
    name: "mlp",
    learns: &[Learns::Classes, Learns::Values],
    default_for: None,
    options: &[
        "hidden",
        "activation",
        "dropout",
        "epochs",
        "batch_size",
        "learning_rate",
        "optimizer",
        "beta1",
        "beta2",
        "epsilon",
        "momentum",
        "l2",
        "early_stopping",
        "patience",
        "validation_fraction",
        "skip_connection",
        "seed",
    ],
    native_inputs: false,
    all_text_is_free: false,
    recipe: read_recipe,
};

fn read_recipe(o: &Options, ctx: &RecipeContext) -> Result<Box<dyn Recipe>, Problem> {
    let d = MlpOptions::default();
    let optimizer = match o.choice("optimizer", "adam", &["adam", "sgd"])? {
        "sgd" => {
            for k in ["beta1", "beta2", "epsilon"] {
                o.not_applicable(
                    k,
                    format!(
                        "Option \"{k}\" applies to optimizer adam; this network trains with sgd."
                    ),
                );
            }
            super::Optimizer::Sgd {
                momentum: o.f64_in("momentum", 0.9, 0.0, 0.999, "a number from 0 to 0.999")?,
            }
        }
        _ => {
            o.not_applicable("momentum", "Option \"momentum\" applies to optimizer sgd; set \"optimizer\": \"sgd\" to use it.");
            super::Optimizer::Adam {
                beta1: o.f64_in("beta1", 0.9, 0.0, 0.9999, "a number from 0 to 0.9999")?,
                beta2: o.f64_in("beta2", 0.999, 0.0, 0.999999, "a number from 0 to 0.999999")?,
                epsilon: o.f64_in("epsilon", 1e-8, 1e-12, 1.0, "a number from 1e-12 to 1")?,
            }
        }
    };
    let early_stopping = o.bool("early_stopping", d.early_stopping)?;
    let (patience, validation_fraction) = if early_stopping {
        (
            o.usize_in("patience", d.patience, 1, 1000)?,
            o.f64_in(
                "validation_fraction",
                d.validation_fraction,
                0.01,
                0.5,
                "a number from 0.01 to 0.5",
            )?,
        )
    } else {
        for k in ["patience", "validation_fraction"] {
            o.not_applicable(
                k,
                format!("Option \"{k}\" applies to early stopping, which is off."),
            );
        }
        (d.patience, d.validation_fraction)
    };
    Ok(Box::new(MlpOptions {
        hidden: o.usize_list("hidden", &d.hidden, 1, 4096, 8)?,
        activation: match o.choice("activation", "relu", &["relu", "tanh"])? {
            "tanh" => super::Activation::Tanh,
            _ => super::Activation::Relu,
        },
        dropout: o.f64_in("dropout", d.dropout, 0.0, 0.9, "a number from 0 to 0.9")?,
        epochs: o.usize_in("epochs", d.epochs, 1, 10_000)?,
        batch_size: o.usize_in("batch_size", d.batch_size, 1, 65_536)?,
        learning_rate: o.f64_in(
            "learning_rate",
            d.learning_rate,
            1e-8,
            10.0,
            "a number from 1e-8 to 10",
        )?,
        optimizer,
        l2: o.f64_in("l2", d.l2, 0.0, 10.0, "a number from 0 to 10")?,
        early_stopping,
        patience,
        validation_fraction,
        skip: o.bool("skip_connection", d.skip)?,
        seed: o.usize_in("seed", ctx.seed as usize, 0, usize::MAX)? as u64,
    }))
}

impl Recipe for MlpOptions {
    /// On the CPU the native kernels train (faster there than candle's, measured in benches/);
    /// on a GPU candle tensors. Both run the same epoch loop with the same batches and masks.
    fn fit(&self, data: &TrainingData, ctx: &FitContext) -> Result<Fitted, Problem> {
        let f = match ctx.device {
            Device::Cpu => fit(
                data.x,
                &data.target,
                data.weights,
                self,
                ctx.par,
                ctx.monitor,
            ),
            Device::Cuda => fit_cuda(data, self, ctx)?,
        };
        // as for the other classifiers: iterations are epochs here, and a network has converged
        // when early stopping ended it before the epoch limit (the validation loss had stopped
        // improving for `patience` epochs)
        let converged = self.early_stopping
            && f.history.len() < self.epochs
            && f.best_val_loss.is_some_and(f64::is_finite);
        let info = json!({
            "iterations": f.history.len(),
            "converged": converged,
            "device": if ctx.device == Device::Cuda { "cuda" } else { "cpu" },
            "epochs_run": f.history.len(),
            "best_epoch": f.best_epoch,
            "final_train_loss": finite(f.history.last().map_or(f64::NAN, |h| h.loss)),
            "best_validation_loss": finite(f.best_val_loss.unwrap_or(f64::NAN)),
        });
        Ok(Fitted {
            estimator: Estimator::Mlp(f.mlp),
            info: info.as_object().cloned().unwrap_or_default(),
        })
    }

    fn options(&self) -> Value {
        let mut v = json!({
            "hidden": self.hidden, "activation": format!("{:?}", self.activation).to_lowercase(),
            "dropout": self.dropout, "epochs": self.epochs, "batch_size": self.batch_size,
            "learning_rate": self.learning_rate, "l2": self.l2, "early_stopping": self.early_stopping,
            "patience": self.patience, "validation_fraction": self.validation_fraction,
            "skip_connection": self.skip, "seed": self.seed,
        });
        let extra = match self.optimizer {
            super::Optimizer::Adam {
                beta1,
                beta2,
                epsilon,
            } => {
                json!({"optimizer": "adam", "beta1": beta1, "beta2": beta2, "epsilon": epsilon})
            }
            super::Optimizer::Sgd { momentum } => json!({"optimizer": "sgd", "momentum": momentum}),
        };
        if let (Value::Object(a), Value::Object(b)) = (&mut v, extra) {
            a.extend(b);
        }
        v
    }

    fn uses_device(&self) -> bool {
        true
    }

    /// Float32 parameters P (the layers, and the linear shortcut) times the copies a fit holds
    /// at once: the network being trained, its starting point, the best epoch's and the one
    /// replacing it, two optimiser moments (Adam's m and v; allocated for sgd too), and one
    /// gradient per 16-row shard of a mini-batch (all of a batch's shard gradients are alive
    /// until they are summed); plus activations: a shard's forward and backward pass per thread,
    /// and the 1024-row chunks of the validation loss per thread. (On insight.device = cuda the
    /// network lives on the GPU, but the same host copies are made.)
    fn working_memory(&self, shape: &crate::ml::memory::FitShape) -> u64 {
        use crate::ml::memory::bytes;
        let outputs = if shape.classes > 2 { shape.classes } else { 1 };
        let mut widths = vec![shape.inputs];
        widths.extend_from_slice(&self.hidden);
        widths.push(outputs);
        let mut params = widths
            .windows(2)
            .fold(0usize, |p, w| p.saturating_add(w[0].saturating_mul(w[1]).saturating_add(w[1])));
        if self.skip {
            params = params.saturating_add(shape.inputs.saturating_mul(outputs) + outputs);
        }
        let batch = self.batch_size.min(shape.rows.max(1));
        let shards = batch.div_ceil(super::train::SHARD_ROWS);
        let copies = 4 + 2 + shards;
        let units: usize = widths.iter().fold(0usize, |a, &w| a.saturating_add(w));
        let threads = shape.threads.max(1);
        // activations, pre-activations and dropout masks of a shard; two per 1024-row chunk
        let shard_acts = bytes(super::train::SHARD_ROWS * 3, 4).saturating_mul(units as u64);
        let chunk_acts = bytes(1024 * 2, 4).saturating_mul(units as u64);
        bytes(params, 4)
            .saturating_mul(copies as u64)
            .saturating_add(shard_acts.max(chunk_acts).saturating_mul(threads as u64))
    }

    fn memory_hint(&self) -> &'static str {
        "Use narrower layers (options.hidden) or a smaller options.batch_size"
    }
}

/// JSON has no NaN.
fn finite(x: f64) -> Value {
    if x.is_finite() {
        json!(x)
    } else {
        Value::Null
    }
}

#[cfg(feature = "candle")]
fn fit_cuda(data: &TrainingData, o: &MlpOptions, ctx: &FitContext) -> Result<MlpFit, Problem> {
    let dev = super::candle::device(super::candle::DeviceKind::Cuda)
        .map_err(|e| Problem::device(format!("insight.device: {e}"), "SET insight.device = cpu"))?;
    super::candle::fit(data.x, &data.target, data.weights, o, ctx.par, ctx.monitor, &dev).map_err(|e| {
        Problem::device(
            format!("training on cuda failed: {e}"),
            "Lower options.batch_size or the layer widths if the GPU ran out of memory, or SET insight.device = cpu.",
        )
    })
}

/// Without candle there is no GPU path; the SQL layer refuses insight.device = cuda before any
/// data is read, so this is a last line of defence.
#[cfg(not(feature = "candle"))]
fn fit_cuda(_: &TrainingData, _: &MlpOptions, _: &FitContext) -> Result<MlpFit, Problem> {
    Err(Problem::device(
        "insight.device is cuda, but this pg_insight build has no CUDA support",
        "SET insight.device = cpu, or install a build made with --features cuda on a machine with a GPU.",
    ))
}
