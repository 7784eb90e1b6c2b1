//! The MLP forward pass on candle tensors (feature `candle`; with `cuda`, on a GPU). Used for
//! bulk scoring (insight.score_table, insight.evaluate) when `insight.device` asks for it; the
//! weights are the native network's, and the results agree with the native kernel to 1e-4.

use super::linalg::Matrix;
use super::mlp::{Activation, Head, Mlp};
use candle_core::{Device, Tensor};

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
        DeviceKind::Cuda => Err("this build has no CUDA support (build with --features cuda)".into()),
    }
}

fn err(e: candle_core::Error) -> String {
    e.to_string()
}

/// Scores the rows of `x` (encoded inputs): one output row per input row, laid out as the native
/// `Mlp::predict` writes them (probabilities, or values).
pub fn predict_batch(m: &Mlp, x: &Matrix, dev: &Device) -> Result<Vec<f64>, String> {
    let rows = x.rows;
    let input: Vec<f32> = x.data.iter().map(|v| *v as f32).collect();
    let x0 = Tensor::from_vec(input, (rows, x.cols), dev).map_err(err)?;
    let mut a = x0.clone();
    let last = m.layers.len() - 1;
    for (li, layer) in m.layers.iter().enumerate() {
        let w = Tensor::from_slice(&layer.w, (layer.n_in, layer.n_out), dev).map_err(err)?;
        let b = Tensor::from_slice(&layer.b, (layer.n_out,), dev).map_err(err)?;
        let z = a.matmul(&w).and_then(|z| z.broadcast_add(&b)).map_err(err)?;
        a = if li == last {
            z
        } else {
            match m.activation {
                Activation::Relu => z.relu(),
                Activation::Tanh => z.tanh(),
            }
            .map_err(err)?
        };
    }
    if let Some(sk) = &m.skip {
        let w = Tensor::from_slice(&sk.w, (sk.n_in, sk.n_out), dev).map_err(err)?;
        let b = Tensor::from_slice(&sk.b, (sk.n_out,), dev).map_err(err)?;
        let s = x0.matmul(&w).and_then(|s| s.broadcast_add(&b)).map_err(err)?;
        a = (a + s).map_err(err)?;
    }
    let out = match m.head {
        Head::Sigmoid => candle_nn::ops::sigmoid(&a),
        Head::Softmax => candle_nn::ops::softmax_last_dim(&a),
        Head::Identity => a.affine(m.y_scale, m.y_mean),
    }
    .map_err(err)?;
    let v: Vec<f32> = out.flatten_all().and_then(|t| t.to_vec1::<f32>()).map_err(err)?;
    Ok(v.into_iter().map(|x| x as f64).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ml::mlp::{fit, MlpOptions, Target};
    use crate::ml::monitor::Silent;
    use crate::ml::parallel::Parallel;

    #[test]
    fn candle_and_native_agree_on_the_same_weights() {
        let rows: Vec<Vec<f64>> = (0..300).map(|i| vec![(i as f64 * 0.1).sin(), (i as f64 * 0.07).cos(), (i % 5) as f64 - 2.0]).collect();
        let x = Matrix::from_rows(&rows);
        let y: Vec<usize> = rows.iter().map(|r| usize::from(r[0] * r[1] > 0.0)).collect();
        let yk: Vec<usize> = rows.iter().map(|r| ((r[2] + 2.0) as usize) % 3).collect();
        let yv: Vec<f64> = rows.iter().map(|r| 10.0 + r[0] * 3.0 - r[1]).collect();
        let opts = MlpOptions { epochs: 5, ..Default::default() };
        let w = vec![1.0; rows.len()];
        for (target, k) in [(Target::Classes(&y, 2), 1), (Target::Classes(&yk, 3), 3), (Target::Values(&yv), 1)] {
            for act in [Activation::Relu, Activation::Tanh] {
                let net = fit(&x, &target, &w, &MlpOptions { activation: act, ..opts.clone() }, &Parallel::serial(), &Silent).mlp;
                let batch = predict_batch(&net, &x, &Device::Cpu).unwrap();
                let mut out = vec![0.0; k];
                for r in 0..x.rows {
                    net.predict(x.row(r), &mut out);
                    for c in 0..k {
                        let tol = 1e-4 * (1.0 + out[c].abs());
                        assert!((batch[r * k + c] - out[c]).abs() < tol, "row {r} output {c}: {} vs {}", batch[r * k + c], out[c]);
                    }
                }
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
