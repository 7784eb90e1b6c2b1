use super::kernels::flush_denormals;
use super::train::{batch_gradient, batch_loss, step, Grads, OptStateHandle, TrainingData};
use super::*;
use crate::ml::linalg::Matrix;
use crate::ml::monitor::{Monitor, Silent};
use crate::ml::parallel::Parallel;
use rand::SeedableRng;

fn tiny() -> (Mlp, Vec<f32>, Vec<usize>) {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut m = Mlp::new(
        3,
        &[4, 3],
        1,
        Activation::Tanh,
        Head::Sigmoid,
        true,
        &mut rng,
    );
    // a non-zero shortcut, so its gradients are checked too
    m.skip
        .as_mut()
        .unwrap()
        .w
        .iter_mut()
        .enumerate()
        .for_each(|(i, w)| *w = 0.1 * i as f32 - 0.1);
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
    let data = TrainingData {
        x,
        n_in: 3,
        target: &target,
        y_std: &[],
        weights: &[1.0; 5],
    };
    batch_gradient(m, &data, &rows, 1.0, None, &mut g)
}

#[test]
fn the_forward_only_loss_is_the_gradient_pass_loss() {
    let (m, x, y) = tiny();
    let rows: Vec<usize> = (0..y.len()).collect();
    let target = Target::Classes(&y, 2);
    let data = TrainingData {
        x: &x,
        n_in: 3,
        target: &target,
        y_std: &[],
        weights: &[1.0, 2.0, 1.0, 0.5, 1.0],
    };
    let mut g = Grads::zeros(&m);
    assert_eq!(
        batch_loss(&m, &data, &rows),
        batch_gradient(&m, &data, &rows, 1.0, None, &mut g)
    );
}

#[test]
fn gradients_match_finite_differences() {
    for act in [Activation::Tanh, Activation::Relu] {
        let (mut m, x, y) = tiny();
        m.activation = act;
        let mut g = Grads::zeros(&m);
        let rows: Vec<usize> = (0..5).collect();
        let target = Target::Classes(&y, 2);
        let data = TrainingData {
            x: &x,
            n_in: 3,
            target: &target,
            y_std: &[],
            weights: &[1.0; 5],
        };
        batch_gradient(&m, &data, &rows, 1.0, None, &mut g);
        let blocks = m.layers.len() + 1; // the layers and the shortcut
        for li in 0..blocks {
            let len = if li < m.layers.len() {
                m.layers[li].w.len()
            } else {
                m.skip.as_ref().unwrap().w.len()
            };
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
                assert!(
                    (numeric - analytic).abs() < 2e-3 * (1.0 + numeric.abs()),
                    "{act:?} block {li} w{i}: {numeric} vs {analytic}"
                );
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
        let target = if head == Head::Softmax {
            Target::Classes(&y, 3)
        } else {
            Target::Values(&yv)
        };
        let rows = [0usize, 1, 2, 3];
        let mut g = Grads::zeros(&m);
        let data = TrainingData {
            x: &x,
            n_in: 3,
            target: &target,
            y_std: &yv,
            weights: &[1.0; 4],
        };
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
            assert!(
                (numeric - g.w[0][i] as f64).abs() < 2e-3 * (1.0 + numeric.abs()),
                "{head:?} w{i}"
            );
        }
    }
}

#[test]
fn adam_step_matches_hand_computation() {
    let mut m = Mlp {
        layers: vec![Dense {
            n_in: 1,
            n_out: 1,
            w: vec![0.5],
            b: vec![0.1],
        }],
        activation: Activation::Relu,
        head: Head::Identity,
        y_mean: 0.0,
        y_scale: 1.0,
        baseline: vec![0.0],
        skip: None,
    };
    let grads = Grads {
        w: vec![vec![0.2]],
        b: vec![vec![-0.4]],
    };
    let opts = MlpOptions {
        learning_rate: 0.01,
        l2: 0.0,
        ..Default::default()
    };
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
    let sgd = MlpOptions {
        learning_rate: 0.1,
        l2: 0.0,
        optimizer: Optimizer::Sgd { momentum: 0.9 },
        ..Default::default()
    };
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
    let opts = MlpOptions {
        hidden: vec![16, 8],
        dropout: 0.0,
        epochs: 60,
        ..Default::default()
    };
    let w = vec![1.0; y.len()];
    let a = fit(
        &x,
        &Target::Classes(&y, 2),
        &w,
        &opts,
        &Parallel::serial(),
        &Silent,
    );
    let b = fit(
        &x,
        &Target::Classes(&y, 2),
        &w,
        &opts,
        &Parallel::new(2),
        &Silent,
    );
    assert_eq!(
        a.mlp, b.mlp,
        "same seed, same network, whatever the thread count"
    );
    let mut out = [0.0];
    let correct = (0..x.rows)
        .filter(|&i| {
            a.mlp.predict(x.row(i), &mut out);
            (out[0] >= 0.5) == (y[i] == 1)
        })
        .count();
    assert!(
        correct as f64 / x.rows as f64 > 0.9,
        "accuracy {}",
        correct as f64 / x.rows as f64
    );
    let c = fit(
        &x,
        &Target::Classes(&y, 2),
        &w,
        &MlpOptions { seed: 7, ..opts },
        &Parallel::serial(),
        &Silent,
    );
    assert_ne!(a.mlp, c.mlp);
}

/// Keeps the progress messages of a fit.
struct Recorder(RefCell<Vec<String>>);

impl Monitor for Recorder {
    fn checkpoint(&self) {}
    fn wants_progress(&self) -> bool {
        true
    }
    fn progress(&self, message: &str) {
        self.0.borrow_mut().push(message.to_string());
    }
    fn warn(&self, message: &str) {
        self.0.borrow_mut().push(format!("WARNING: {message}"));
    }
    fn notice(&self, message: &str) {
        self.0.borrow_mut().push(format!("NOTICE: {message}"));
    }
}

#[test]
fn reports_each_epoch_with_validation_loss_and_auc() {
    let (x, y) = xor_data(1000);
    let opts = MlpOptions {
        hidden: vec![16, 8],
        epochs: 3,
        early_stopping: true,
        patience: 10,
        ..Default::default()
    };
    let rec = Recorder(RefCell::new(Vec::new()));
    let f = fit(
        &x,
        &Target::Classes(&y, 2),
        &vec![1.0; 1000],
        &opts,
        &Parallel::serial(),
        &rec,
    );
    let lines = rec.0.borrow();
    let epochs: Vec<&String> = lines
        .iter()
        .filter(|l| l.starts_with("mlp epoch "))
        .collect();
    assert_eq!(epochs.len(), 3, "{lines:?}");
    for (i, line) in epochs.iter().enumerate() {
        assert!(
            line.starts_with(&format!("mlp epoch {}/3: loss ", i + 1)),
            "{line}"
        );
        let val = format!("validation loss {:.5}", f.history[i].val_loss.unwrap());
        assert!(line.contains(&val), "{line} lacks {val}");
        let auc: f64 = line
            .split("validation AUC ")
            .nth(1)
            .unwrap()
            .split(',')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(auc > 0.5 && auc <= 1.0, "{line}");
        assert!(line.contains("elapsed") && line.contains("left"), "{line}");
    }
    // regression has no AUC
    let yv: Vec<f64> = (0..x.rows).map(|i| x.row(i)[0]).collect();
    let rec = Recorder(RefCell::new(Vec::new()));
    fit(
        &x,
        &Target::Values(&yv),
        &vec![1.0; 1000],
        &MlpOptions { epochs: 1, ..opts },
        &Parallel::serial(),
        &rec,
    );
    assert!(rec.0.borrow().iter().all(|l| !l.contains("AUC")));
}

#[test]
fn dropout_masks_are_the_draws_of_gen_f64() {
    for p in [0.0, 1e-9, 0.2, 0.5, 0.75, 0.999] {
        let mut a = ChaCha8Rng::seed_from_u64(5);
        let mut b = ChaCha8Rng::seed_from_u64(5);
        let keep = 1.0 / (1.0 - p) as f32;
        let expected: Vec<f32> = (0..5000)
            .map(|_| if b.gen::<f64>() < p { 0.0 } else { keep })
            .collect();
        assert_eq!(dropout_mask(&mut a, 5000, p), expected, "p = {p}");
    }
}

#[test]
fn early_stopping_restores_the_best_epoch() {
    // labels are coin flips: the validation loss cannot keep improving, the network overfits
    let (x, _) = xor_data(300);
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let y: Vec<usize> = (0..300).map(|_| rng.gen_range(0..2)).collect();
    let opts = MlpOptions {
        hidden: vec![64],
        dropout: 0.0,
        epochs: 200,
        patience: 3,
        learning_rate: 0.01,
        ..Default::default()
    };
    let f = fit(
        &x,
        &Target::Classes(&y, 2),
        &vec![1.0; 300],
        &opts,
        &Parallel::serial(),
        &Silent,
    );
    assert!(f.history.len() < 200, "stopped early");
    let best = f
        .history
        .iter()
        .filter_map(|h| h.val_loss)
        .fold(f64::INFINITY, f64::min);
    // the kept weights are the best seen: an epoch's, or the linear starting point's
    assert!(f.best_val_loss.unwrap() <= best);
    if f.best_epoch > 0 {
        assert_eq!(f.history[f.best_epoch - 1].val_loss, Some(best));
    }
}

#[test]
fn input_gradient_matches_finite_differences_and_ig_is_complete() {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    for (head, k, out) in [
        (Head::Sigmoid, 1, 0),
        (Head::Softmax, 3, 2),
        (Head::Identity, 1, 0),
    ] {
        for act in [Activation::Tanh, Activation::Relu] {
            let mut m = Mlp::new(4, &[6, 5], k, act, head, true, &mut rng);
            m.skip
                .as_mut()
                .unwrap()
                .w
                .iter_mut()
                .enumerate()
                .for_each(|(i, w)| *w = 0.05 * i as f32 - 0.2);
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
                let numeric = (m.output_and_input_gradient(&up, out).0
                    - m.output_and_input_gradient(&down, out).0)
                    / (2.0 * h);
                assert!(
                    (numeric - g[i]).abs() < 1e-3 * (1.0 + numeric.abs()),
                    "{head:?} {act:?} x{i}: {numeric} vs {}",
                    g[i]
                );
            }
            let (contrib, f_base) = m.integrated_gradients(&x, out, 1024);
            let f_x = m.output_and_input_gradient(&x, out).0;
            let sum: f64 = contrib.iter().sum();
            assert!(
                (sum - (f_x - f_base)).abs() < 2e-3 * (1.0 + f_x.abs()),
                "{head:?} {act:?}: {sum} vs {}",
                f_x - f_base
            );
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
    // bits, not ==: with DAZ on, a comparison sees the subnormal as zero too
    assert_eq!(
        (black_box(tiny) * black_box(1.0f32)).to_bits(),
        tiny.to_bits(),
        "the caller's mode is restored"
    );
}

#[cfg(target_arch = "x86_64")]
#[test]
fn the_callers_float_mode_is_restored_when_the_closure_panics() {
    // read MXCSR itself: with DAZ on, comparisons see subnormals as zero too
    #[allow(deprecated)]
    let mxcsr = || unsafe { std::arch::x86_64::_mm_getcsr() };
    let before = mxcsr();
    let r = std::panic::catch_unwind(|| flush_denormals(|| -> f64 { panic!("a kernel failed") }));
    assert!(r.is_err());
    assert_eq!(mxcsr(), before, "FTZ/DAZ stayed on after a panic");
}

#[test]
fn regression_unscales_its_output() {
    let rows: Vec<Vec<f64>> = (0..400).map(|i| vec![(i as f64) / 200.0 - 1.0]).collect();
    let y: Vec<f64> = rows.iter().map(|r| 100.0 + 30.0 * r[0] * r[0]).collect();
    let x = Matrix::from_rows(&rows);
    let opts = MlpOptions {
        hidden: vec![16],
        dropout: 0.0,
        epochs: 150,
        early_stopping: false,
        ..Default::default()
    };
    let f = fit(
        &x,
        &Target::Values(&y),
        &vec![1.0; 400],
        &opts,
        &Parallel::serial(),
        &Silent,
    );
    let mut out = [0.0];
    f.mlp.predict(&[0.0], &mut out);
    assert!((out[0] - 100.0).abs() < 3.0, "{}", out[0]);
    f.mlp.predict(&[0.9], &mut out);
    assert!((out[0] - (100.0 + 30.0 * 0.81)).abs() < 4.0, "{}", out[0]);
}

/// The epoch loop asks the monitor before every mini-batch (a batch of a wide network is seconds
/// of work: once every 64 batches left a cancel a minute away).
#[test]
fn training_asks_the_monitor_before_every_batch() {
    let (x, y) = xor_data(640);
    let opts = MlpOptions {
        hidden: vec![8],
        epochs: 2,
        batch_size: 32,
        early_stopping: false,
        ..Default::default()
    };
    let w = vec![1.0; y.len()];
    let count = crate::ml::monitor::Counting::new(None);
    fit(&x, &Target::Classes(&y, 2), &w, &opts, &Parallel::serial(), &count);
    // 20 batches an epoch
    assert!(count.checks() >= 2 * 20, "{}", count.checks());
}
