//! Boosting against scikit-learn's HistGradientBoosting on the same rows and hyper-parameters
//! (tests/reference/gbdt_reference.py), and against planted structure.

use super::boost::{fit, BoostOptions};
use crate::ml::algorithms::Target;
use crate::ml::linalg::Matrix;
use crate::ml::monitor::Silent;
use crate::ml::parallel::Parallel;

/// tests/reference/data/gbdt_reference.csv: inputs, targets and scikit-learn's predictions
/// (the forest tests read it too).
pub(crate) struct Reference {
    pub x: Matrix,
    pub y_binary: Vec<usize>,
    pub y_class: Vec<usize>,
    pub y_value: Vec<f64>,
    pub p_binary: Vec<f64>,
    pub p_class: Vec<[f64; 3]>,
    pub value_hat: Vec<f64>,
}

pub(crate) fn reference() -> Reference {
    let text = include_str!("../../../../tests/reference/data/gbdt_reference.csv");
    let mut rows = Vec::new();
    let mut r = Reference {
        x: Matrix::zeros(0, 5),
        y_binary: vec![],
        y_class: vec![],
        y_value: vec![],
        p_binary: vec![],
        p_class: vec![],
        value_hat: vec![],
    };
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let num = |s: &str| s.parse::<f64>().unwrap_or(f64::NAN);
        rows.push((0..5).map(|j| num(f[j])).collect::<Vec<f64>>());
        r.y_binary.push(f[5].parse().unwrap());
        r.y_class.push(f[6].parse().unwrap());
        r.y_value.push(num(f[7]));
        r.p_binary.push(num(f[8]));
        r.p_class.push([num(f[9]), num(f[10]), num(f[11])]);
        r.value_hat.push(num(f[12]));
    }
    r.x = Matrix::from_rows(&rows);
    r
}

/// What tests/reference/gbdt_reference.py gives scikit-learn: its defaults, 30 rounds, no early
/// stopping.
fn sklearn_options() -> BoostOptions {
    BoostOptions {
        rounds: 30,
        seed: 1,
        ..BoostOptions::default()
    }
}

#[test]
fn binary_multiclass_and_regression_equal_scikit_learn() {
    let r = reference();
    let n = r.x.rows;
    let ones = vec![1.0; n];
    let par = Parallel::new(2);
    let o = sklearn_options();
    let mut out = [0.0; 3];

    let b = fit(
        &r.x,
        &Target::Classes(&r.y_binary, 2),
        &ones,
        &o,
        &par,
        &Silent,
    );
    let mut worst = 0.0f64;
    for i in 0..n {
        b.model.raw(r.x.row(i), &mut out);
        let p = 1.0 / (1.0 + (-out[0]).exp());
        worst = worst.max((p - r.p_binary[i]).abs());
    }
    eprintln!("binary: max |P - scikit-learn's| = {worst:e}");
    assert!(worst < 1e-6, "binary: max |P - scikit-learn's| = {worst}");

    let m = fit(
        &r.x,
        &Target::Classes(&r.y_class, 3),
        &ones,
        &o,
        &par,
        &Silent,
    );
    let mut worst = 0.0f64;
    for i in 0..n {
        m.model.raw(r.x.row(i), &mut out);
        crate::ml::linalg::softmax_in_place(&mut out);
        for (p, want) in out.iter().zip(&r.p_class[i]) {
            worst = worst.max((p - want).abs());
        }
    }
    eprintln!("multiclass: max |P - scikit-learn's| = {worst:e}");
    assert!(
        worst < 1e-6,
        "multiclass: max |P - scikit-learn's| = {worst}"
    );
    assert_eq!(m.model.trees.len(), 90);

    let v = fit(&r.x, &Target::Values(&r.y_value), &ones, &o, &par, &Silent);
    let mut worst = 0.0f64;
    for i in 0..n {
        v.model.raw(r.x.row(i), &mut out);
        worst = worst.max((out[0] - r.value_hat[i]).abs());
    }
    eprintln!("regression: max |value - scikit-learn's| = {worst:e}");
    assert!(
        worst < 1e-6,
        "regression: max |value - scikit-learn's| = {worst}"
    );
}

#[test]
fn an_interaction_that_a_linear_model_cannot_see_is_learned() {
    // label = x1 > 0 XOR x2 > 0 (90% of the time): no single input says anything about it
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    let n = 20_000;
    let rows: Vec<Vec<f64>> = (0..n)
        .map(|_| (0..4).map(|_| rng.gen_range(-1.0..1.0)).collect())
        .collect();
    let y: Vec<usize> = rows
        .iter()
        .map(|r| usize::from(((r[0] > 0.0) ^ (r[1] > 0.0)) ^ (rng.gen::<f64>() < 0.1)))
        .collect();
    let x = Matrix::from_rows(&rows);
    let (train, test): (Vec<usize>, Vec<usize>) = (0..n).partition(|i| i % 5 != 0);
    let xt = x.select_rows(&train);
    let yt: Vec<usize> = train.iter().map(|&i| y[i]).collect();
    let mut o = sklearn_options();
    o.rounds = 100;
    o.early_stopping = true;
    let f = fit(
        &xt,
        &Target::Classes(&yt, 2),
        &vec![1.0; train.len()],
        &o,
        &Parallel::new(2),
        &Silent,
    );
    let mut out = [0.0];
    let scores: Vec<f64> = test
        .iter()
        .map(|&i| {
            f.model.raw(x.row(i), &mut out);
            out[0]
        })
        .collect();
    let labels: Vec<bool> = test.iter().map(|&i| y[i] == 1).collect();
    let auc = crate::ml::metrics::roc_auc(&scores, &labels);
    // the Bayes rate: 90% of the labels follow the rule, AUC 0.9
    assert!(auc > 0.88, "AUC {auc}");
    assert!(f.validation_rows > 0 && f.best_round <= f.rounds_run);
}

#[test]
fn the_same_seed_gives_the_same_model_whatever_the_threads() {
    let r = reference();
    let n = r.x.rows;
    let mut o = sklearn_options();
    o.subsample = 0.7;
    o.colsample = 0.6;
    o.early_stopping = true;
    let run = |par: &Parallel| {
        fit(
            &r.x,
            &Target::Classes(&r.y_class, 3),
            &vec![1.0; n],
            &o,
            par,
            &Silent,
        )
        .model
    };
    let a = run(&Parallel::serial());
    assert_eq!(a, run(&Parallel::new(2)));
    o.seed = 2;
    let c = fit(
        &r.x,
        &Target::Classes(&r.y_class, 3),
        &vec![1.0; n],
        &o,
        &Parallel::serial(),
        &Silent,
    )
    .model;
    assert_ne!(a, c);
}

#[test]
fn tree_shap_of_the_ensemble_adds_up_to_the_raw_score() {
    let r = reference();
    let n = r.x.rows;
    let o = sklearn_options();
    let f = fit(
        &r.x,
        &Target::Classes(&r.y_class, 3),
        &vec![1.0; n],
        &o,
        &Parallel::new(2),
        &Silent,
    );
    let mut raw = [0.0; 3];
    let mut worst = 0.0f64;
    for i in (0..n).step_by(7) {
        f.model.raw(r.x.row(i), &mut raw);
        for (c, want) in raw.iter().enumerate() {
            let (phi, base) = f.model.shap(r.x.row(i), c);
            worst = worst.max((base + phi.iter().sum::<f64>() - want).abs());
        }
    }
    assert!(worst < 1e-9, "max |expected + sum of SHAP - raw| = {worst}");
    // and each tree's values are the Shapley values by definition
    let row = r.x.row(3);
    for t in f.model.trees.iter().take(6) {
        let mut phi = vec![0.0; 5];
        crate::ml::trees::shap::add_tree_shap(t, row, &mut phi);
        let want = crate::ml::trees::shap::tests::brute_force(t, row);
        for (a, b) in phi.iter().zip(&want) {
            assert!((a - b).abs() < 1e-12, "{phi:?} vs {want:?}");
        }
    }
}

#[test]
fn tree_shap_equals_the_shap_package_on_scikit_learns_trees() {
    // tests/reference/shap_reference.py: shap 0.51's TreeExplainer on scikit-learn's
    // HistGradientBoostingClassifier, the same rows and hyper-parameters as here
    let r = reference();
    let n = r.x.rows;
    let f = fit(
        &r.x,
        &Target::Classes(&r.y_binary, 2),
        &vec![1.0; n],
        &sklearn_options(),
        &Parallel::new(2),
        &Silent,
    );
    let text = include_str!("../../../../tests/reference/data/shap_reference.csv");
    let mut worst = 0.0f64;
    for line in text.lines().skip(1) {
        let v: Vec<f64> = line.split(',').map(|s| s.parse().unwrap()).collect();
        let (phi, base) = f.model.shap(r.x.row(v[0] as usize), 0);
        worst = worst.max((base - v[1]).abs());
        for (a, b) in phi.iter().zip(&v[2..]) {
            worst = worst.max((a - b).abs());
        }
    }
    eprintln!("max |TreeSHAP - shap's| = {worst:e}");
    assert!(worst < 1e-6, "max |TreeSHAP - shap's| = {worst}");
}

#[test]
fn explaining_a_hand_made_chain_of_splits_is_priced_out() {
    use crate::ml::trees::tree::{chain, MAX_DEPTH};
    // the deepest chain a model row may hold: TreeSHAP would take leaves x depth^2 steps
    let n = MAX_DEPTH - 1;
    let chain = chain(n);
    let crafted = super::boost::Boosted {
        outputs: 1,
        base: vec![0.0],
        trees: vec![chain],
    };
    assert!(crafted.check(1).is_ok());
    assert!(crafted.shap_cost() > 1e10, "{}", crafted.shap_cost());
    // what training grows costs little
    let r = reference();
    let n = r.x.rows;
    let f = fit(
        &r.x,
        &Target::Classes(&r.y_binary, 2),
        &vec![1.0; n],
        &sklearn_options(),
        &Parallel::serial(),
        &Silent,
    );
    assert!(f.model.shap_cost() < 1e6, "{}", f.model.shap_cost());
}

/// Splits on coded categories equal scikit-learn's native categorical splits
/// (tests/reference/gbdt_categorical_reference.py: `plan` with 12 codes, two of them too rare
/// to sort, and `city` with 40 codes and missing values, as preprocess codes them).
#[test]
fn category_splits_equal_scikit_learn() {
    let text = include_str!("../../../../tests/reference/data/gbdt_categorical_reference.csv");
    let (mut rows, mut y_binary, mut y_value, mut p_binary, mut value_hat) =
        (vec![], vec![], vec![], vec![], vec![]);
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let num = |s: &str| s.parse::<f64>().unwrap_or(f64::NAN);
        rows.push((0..4).map(|j| num(f[j])).collect::<Vec<f64>>());
        y_binary.push(f[4].parse::<usize>().unwrap());
        y_value.push(num(f[5]));
        p_binary.push(num(f[6]));
        value_hat.push(num(f[7]));
    }
    let x = Matrix::from_rows(&rows);
    let ones = vec![1.0; x.rows];
    let par = Parallel::new(2);
    let o = BoostOptions {
        levels: vec![0, 0, 12, 40],
        ..sklearn_options()
    };
    let mut out = [0.0];
    let b = fit(&x, &Target::Classes(&y_binary, 2), &ones, &o, &par, &Silent);
    assert!(
        b.model.trees.iter().any(|t| !t.category_sets.is_empty()),
        "no tree split on a category"
    );
    let mut worst = 0.0f64;
    for i in 0..x.rows {
        b.model.raw(x.row(i), &mut out);
        worst = worst.max((crate::ml::linalg::sigmoid(out[0]) - p_binary[i]).abs());
    }
    eprintln!("binary, categories: max |P - scikit-learn's| = {worst:e}");
    assert!(worst < 1e-6, "binary: max |P - scikit-learn's| = {worst}");

    let v = fit(&x, &Target::Values(&y_value), &ones, &o, &par, &Silent);
    let mut worst = 0.0f64;
    for i in 0..x.rows {
        v.model.raw(x.row(i), &mut out);
        worst = worst.max((out[0] - value_hat[i]).abs());
    }
    eprintln!("regression, categories: max |value - scikit-learn's| = {worst:e}");
    assert!(
        worst < 1e-6,
        "regression: max |value - scikit-learn's| = {worst}"
    );

    // the same rows as numbers (codes split at thresholds) fit the classes worse
    let numeric = fit(
        &x,
        &Target::Classes(&y_binary, 2),
        &ones,
        &sklearn_options(),
        &par,
        &Silent,
    );
    assert!(b.train_loss < numeric.train_loss);
}
