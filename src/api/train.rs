//! insight.train: read a relation, fit preprocessing and an estimator, evaluate on a held-out
//! split, store the model as a new version and maybe deploy it.

use crate::api::monitor::PgMonitor;
use crate::api::options::Options;
use crate::data::columns::{self, ColumnInfo};
use crate::data::reader::{self, Frame, ReadSpec, TargetColumn, TargetRead};
use crate::error::{ident, no_null_elements, required, InsightError, OrRaise, Result};
use crate::ml::linalg::Matrix;
use crate::ml::metrics;
use crate::ml::model::{Estimator, Model, Task};
use crate::ml::monitor::Monitor;
use crate::ml::parallel::Parallel;
use crate::ml::preprocess::{ColumnSpec, Impute, PrepError, PrepOptions, Preprocessor, ValueKind};
use crate::ml::importance::{self, Truth};
use crate::ml::{linear, logistic, mlp, split};
use crate::store::catalog;
use pgrx::prelude::*;
use pgrx::{JsonB, PgRelation};
use serde_json::{json, Value};
use std::time::Instant;

pub const ALGORITHMS: &[&str] = &["logistic", "linear", "mlp"];
/// Algorithms of the API that later releases add; named in the error for clarity.
const PLANNED: &[&str] = &["kmeans", "agglomerative", "bgnbd", "gamma_gamma", "text_logistic", "als"];

const LOGISTIC_KEYS: &[&str] =
    &["l2", "max_iter", "tol", "class_weight", "threshold", "positive_class", "impute", "max_categories", "scale"];
const LINEAR_KEYS: &[&str] = &["l2", "impute", "max_categories", "scale"];
const MLP_KEYS: &[&str] = &[
    "hidden", "activation", "dropout", "epochs", "batch_size", "learning_rate", "optimizer", "beta1", "beta2",
    "epsilon", "momentum", "l2", "early_stopping", "patience", "validation_fraction", "class_weight", "threshold",
    "positive_class", "impute", "max_categories", "scale", "seed", "skip_connection",
];
/// A classification target with more classes than this is almost surely a mistake.
const MAX_CLASSES: usize = 100;


#[pg_extern(volatile, parallel_unsafe)]
#[allow(clippy::too_many_arguments)]
fn train(
    name: Option<&str>,
    relation: Option<PgRelation>,
    target: default!(Option<&str>, "NULL"),
    algorithm: default!(Option<&str>, "NULL"),
    features: default!(Option<Vec<Option<String>>>, "NULL"),
    exclude: default!(Option<Vec<Option<String>>>, "NULL"),
    options: default!(Option<JsonB>, "'{}'"),
    test_size: default!(Option<f64>, 0.2),
    seed: default!(Option<i64>, 42),
    deploy: default!(Option<&str>, "'if_better'"),
) -> TableIterator<
    'static,
    (
        name!(model_id, i64),
        name!(name, String),
        name!(version, i32),
        name!(algorithm, String),
        name!(deployed, bool),
        name!(metrics, JsonB),
    ),
> {
    let req = (|| -> Result<Request> {
        let relation = required(relation, "relation", "Name a table or view, e.g. 'customers'.")?;
        let relid = relation.oid();
        drop(relation);
        Ok(Request {
            name: required(name, "name", "Name the model, e.g. 'purchase_propensity'.")?,
            relid,
            target,
            algorithm,
            features: no_null_elements(features, "features")?,
            exclude: no_null_elements(exclude, "exclude")?,
            options: required(options, "options", "Pass '{}' for the defaults.")?.0,
            test_size: required(test_size, "test_size", "Leave it out for the default 0.2.")?,
            seed: required(seed, "seed", "Leave it out for the default 42.")?,
            deploy: required(deploy, "deploy", "Use 'always', 'if_better' (the default) or 'never'.")?,
        })
    })()
    .or_raise();
    let row = run(&req).or_raise();
    TableIterator::once(row)
}

pub struct Request<'a> {
    pub name: &'a str,
    pub relid: pg_sys::Oid,
    pub target: Option<&'a str>,
    pub algorithm: Option<&'a str>,
    pub features: Option<Vec<String>>,
    pub exclude: Option<Vec<String>>,
    pub options: Value,
    pub test_size: f64,
    pub seed: i64,
    pub deploy: &'a str,
}

pub fn run(req: &Request) -> Result<(i64, String, i32, String, bool, JsonB)> {
    let started = Instant::now();
    catalog::validate_name(req.name)?;
    if !(req.test_size > 0.0 && req.test_size < 1.0) {
        return Err(InsightError::invalid_parameter(
            format!("test_size must be between 0 and 1 (exclusive), got {}", req.test_size),
            "Use e.g. test_size => 0.2 to hold out 20% of the rows for evaluation.",
        ));
    }
    if !["always", "if_better", "never"].contains(&req.deploy) {
        return Err(InsightError::invalid_parameter(
            format!("deploy must be always, if_better or never, got \"{}\"", req.deploy),
            "if_better deploys the new version when its test metric beats the deployed one.",
        ));
    }
    let relation = columns::relation_name(req.relid);
    let cols = columns::relation_columns(req.relid);

    // target and task
    let target_col = match req.target {
        Some(t) => Some(columns::find(&cols, t, &relation, "target")?.clone()),
        None => None,
    };
    let algorithm = pick_algorithm(req.algorithm, target_col.as_ref(), &relation)?;
    let target_col = target_col.ok_or_else(|| {
        InsightError::invalid_parameter(
            format!("algorithm {algorithm} needs a target column"),
            "Name the column to predict, e.g. target => 'purchased'.",
        )
    })?;
    let classification = match algorithm {
        "logistic" => true,
        "linear" => false,
        _ => target_is_labels(&target_col, &relation),
    };
    if target_col.kind.is_none() || (!classification && target_col.kind != Some(ValueKind::Number)) {
        return Err(InsightError::datatype_mismatch(
            format!(
                "target column {} has type {}, which algorithm {algorithm} cannot predict",
                ident(&target_col.name),
                target_col.sql_type
            ),
            if classification {
                "A classification target must be boolean, text, an enum or an integer.".to_string()
            } else {
                "A regression target must be numeric; for labels use algorithm => 'logistic'.".to_string()
            },
        ));
    }

    // options
    let allowed: &[&str] = match algorithm {
        "mlp" => MLP_KEYS,
        "logistic" => LOGISTIC_KEYS,
        _ => LINEAR_KEYS,
    };
    let opts = Options::new(&req.options, algorithm, allowed)?;
    let prep = PrepOptions {
        impute: Impute::parse(opts.choice("impute", "mean", &["mean", "median", "zero", "error"])?).unwrap(),
        max_categories: opts.usize_in("max_categories", 20, 1, 1000)?,
        scale: opts.bool("scale", true)?,
    };
    // every option is checked before any data is read
    if algorithm == "mlp" {
        crate::gucs::check_device()?;
    }
    let recipe = match algorithm {
        "mlp" => Recipe::Mlp(parse_mlp_options(&opts, req.seed as u64)?),
        "logistic" => Recipe::Logistic { l2: opts.f64_in("l2", 1.0, 0.0, 1e12, "a number >= 0")? },
        _ => Recipe::Linear { l2: opts.f64_in("l2", 0.0, 0.0, 1e12, "a number >= 0")? },
    };
    let class_cfg = if classification { Some(ClassifierConfig::parse(&opts)?) } else { None };

    // features
    let feats = choose_features(&cols, req.features.as_deref(), req.exclude.as_deref(), &target_col, &relation)?;
    let inputs: Vec<(String, ValueKind)> = feats.iter().map(|c| (c.name.clone(), c.kind.unwrap())).collect();
    let monitor = PgMonitor::new();
    let frame = reader::read(&ReadSpec {
        relation: &relation,
        inputs: &inputs,
        target: Some((&target_col.name, if classification { TargetRead::Text } else { TargetRead::Number })),
    })?;
    if frame.skipped_null_target > 0 {
        notice!(
            "{} rows with a NULL {} were left out of training",
            frame.skipped_null_target,
            ident(&target_col.name)
        );
    }
    if frame.n_rows == 0 {
        return Err(InsightError::data(
            format!(
                "relation {relation} has no rows{} to train on",
                if frame.skipped_null_target > 0 { " with a non-NULL target" } else { "" }
            ),
            "Load data first, or point train at a table or view that returns rows.",
        ));
    }
    let specs: Vec<ColumnSpec> = feats
        .iter()
        .map(|c| ColumnSpec { name: c.name.clone(), sql_type: c.sql_type.clone(), kind: c.kind.unwrap() })
        .collect();
    let threads = crate::gucs::threads();
    let par = Parallel::new(threads);
    let seed = req.seed as u64;

    let fitted = if classification {
        let labels = match &frame.target {
            Some(TargetColumn::Text(v)) => v,
            _ => unreachable!(),
        };
        let cfg = class_cfg.as_ref().unwrap();
        fit_classifier(&frame, labels, &specs, &prep, cfg, &recipe, &target_col, req.test_size, seed, &par, &monitor)?
    } else {
        let y = match &frame.target {
            Some(TargetColumn::Number(v)) => v,
            _ => unreachable!(),
        };
        fit_regressor(&frame, y, &specs, &prep, &recipe, req.test_size, seed, &par, &monitor)?
    };
    let Fitted { model, mut metrics, options: resolved_options } = fitted;
    let train_seconds = started.elapsed().as_secs_f64();
    if let Value::Object(m) = &mut metrics {
        m.insert("train_seconds".into(), json!(train_seconds));
        m.insert("threads".into(), json!(threads));
    }
    let features_json = features_json(&model, req.test_size, req.seed);
    let (id, version) = catalog::insert(catalog::NewModel {
        name: req.name,
        task: model.task.as_str(),
        algorithm,
        relation: &relation,
        target: Some(&target_col.name),
        features: features_json,
        options: resolved_options,
        metrics: metrics.clone(),
        weights: model.encode(),
        n_rows: frame.n_rows as i64,
        train_seconds,
    });
    let deployed = decide_deploy(req.name, req.deploy, model.task, &metrics, id);
    if monitor.verbose() {
        notice!("trained {}@{version} ({algorithm}) on {} rows in {:.2}s", req.name, frame.n_rows, train_seconds);
    }
    Ok((id, req.name.to_string(), version, algorithm.to_string(), deployed, JsonB(metrics)))
}

fn pick_algorithm(
    requested: Option<&str>,
    target: Option<&ColumnInfo>,
    relation: &str,
) -> Result<&'static str> {
    if let Some(a) = requested {
        if let Some(known) = ALGORITHMS.iter().find(|k| **k == a) {
            return Ok(known);
        }
        let hint = if PLANNED.contains(&a) {
            format!("Algorithm {a} is part of the API but not in this release; available: {}.", ALGORITHMS.join(", "))
        } else {
            format!("Available algorithms: {}.", ALGORITHMS.join(", "))
        };
        return Err(InsightError::invalid_parameter(format!("unknown algorithm \"{a}\""), hint));
    }
    let Some(t) = target else {
        return Err(InsightError::invalid_parameter(
            "train needs a target column or an algorithm",
            "Pass target => 'column_to_predict'; segmentation (no target) arrives with algorithm => 'kmeans'.",
        ));
    };
    Ok(if target_is_labels(t, relation) { "logistic" } else { "linear" })
}

/// Whether a target holds labels (classification) rather than a quantity (regression):
/// boolean, text and enum targets, and integers with at most 20 distinct values.
fn target_is_labels(t: &ColumnInfo, relation: &str) -> bool {
    match t.kind {
        Some(ValueKind::Boolean) | Some(ValueKind::Text) => true,
        Some(ValueKind::Number) if t.sql_type == "integer" || t.sql_type == "smallint" || t.sql_type == "bigint" => {
            // few distinct integers are labels (0/1, ratings); many are a quantity
            let q = format!("SELECT pg_catalog.count(*) FROM (SELECT DISTINCT {} FROM {relation} LIMIT 21) d", ident(&t.name));
            let distinct = Spi::get_one::<i64>(&q).ok().flatten().unwrap_or(0);
            distinct <= 20
        }
        _ => false,
    }
}

fn choose_features(
    cols: &[ColumnInfo],
    requested: Option<&[String]>,
    exclude: Option<&[String]>,
    target: &ColumnInfo,
    relation: &str,
) -> Result<Vec<ColumnInfo>> {
    let unusable = |c: &ColumnInfo| {
        InsightError::datatype_mismatch(
            format!("feature column {} has type {}, which models cannot use", ident(&c.name), c.sql_type),
            "Use numeric, boolean, date, timestamp, text or enum columns; cast others in a view, or leave this one out.",
        )
    };
    let mut out = Vec::new();
    match requested {
        Some(list) => {
            if list.is_empty() {
                return Err(InsightError::invalid_parameter(
                    "features must not be an empty array",
                    "Pass NULL to use every column but the target, or list the columns to use.",
                ));
            }
            for f in list {
                let c = columns::find(cols, f, relation, "feature")?;
                if c.name == target.name {
                    return Err(InsightError::invalid_parameter(
                        format!("column {} is the target and cannot also be a feature", ident(f)),
                        "Remove it from features.",
                    ));
                }
                if c.kind.is_none() {
                    return Err(unusable(c));
                }
                if !out.iter().any(|o: &ColumnInfo| o.name == c.name) {
                    out.push(c.clone());
                }
            }
        }
        None => {
            let exclude = exclude.unwrap_or(&[]);
            for e in exclude {
                columns::find(cols, e, relation, "excluded")?;
            }
            let mut skipped = Vec::new();
            for c in cols {
                if c.name == target.name || exclude.contains(&c.name) {
                    continue;
                }
                if c.is_primary_key {
                    skipped.push(format!("{} (primary key)", ident(&c.name)));
                    continue;
                }
                if c.kind.is_none() {
                    skipped.push(format!("{} ({})", ident(&c.name), c.sql_type));
                    continue;
                }
                out.push(c.clone());
            }
            if !skipped.is_empty() {
                notice!("not used as features: {}; list features => ARRAY[...] to choose", skipped.join(", "));
            }
        }
    }
    if out.is_empty() {
        return Err(InsightError::invalid_parameter(
            format!("relation {relation} has no usable feature columns"),
            "Name feature columns with features => ARRAY['col', ...].",
        ));
    }
    Ok(out)
}

/// Permutation importance uses at most this many test rows, each column shuffled this often.
const IMPORTANCE_MAX_ROWS: usize = 20_000;
const IMPORTANCE_REPEATS: usize = 3;

fn importance_rows(test_idx: &[usize]) -> Vec<usize> {
    // an even spread over the (sorted) test rows when there are more than the cap
    let step = test_idx.len().div_ceil(IMPORTANCE_MAX_ROWS).max(1);
    test_idx.iter().step_by(step).copied().collect()
}

/// Metric drop per input column (ROC AUC for binary, accuracy for multiclass, R^2 for regression).
fn importance_json(model: &Model, imp: &[f64]) -> Value {
    Value::Object(model.preprocessor.features.iter().zip(imp).map(|(f, v)| (f.name.clone(), num(*v))).collect())
}

/// What to fit, with its parsed hyper-parameters.
enum Recipe {
    Logistic { l2: f64 },
    Linear { l2: f64 },
    Mlp(mlp::MlpOptions),
}

fn parse_mlp_options(opts: &Options, seed: u64) -> Result<mlp::MlpOptions> {
    let d = mlp::MlpOptions::default();
    let optimizer = match opts.choice("optimizer", "adam", &["adam", "sgd"])? {
        "sgd" => mlp::Optimizer::Sgd { momentum: opts.f64_in("momentum", 0.9, 0.0, 0.999, "a number from 0 to 0.999")? },
        _ => mlp::Optimizer::Adam {
            beta1: opts.f64_in("beta1", 0.9, 0.0, 0.9999, "a number from 0 to 0.9999")?,
            beta2: opts.f64_in("beta2", 0.999, 0.0, 0.999999, "a number from 0 to 0.999999")?,
            epsilon: opts.f64_in("epsilon", 1e-8, 1e-12, 1.0, "a number from 1e-12 to 1")?,
        },
    };
    Ok(mlp::MlpOptions {
        hidden: opts.usize_list("hidden", &d.hidden, 1, 4096, 8)?,
        activation: match opts.choice("activation", "relu", &["relu", "tanh"])? {
            "tanh" => mlp::Activation::Tanh,
            _ => mlp::Activation::Relu,
        },
        dropout: opts.f64_in("dropout", d.dropout, 0.0, 0.9, "a number from 0 to 0.9")?,
        epochs: opts.usize_in("epochs", d.epochs, 1, 10_000)?,
        batch_size: opts.usize_in("batch_size", d.batch_size, 1, 65_536)?,
        learning_rate: opts.f64_in("learning_rate", d.learning_rate, 1e-8, 10.0, "a number from 1e-8 to 10")?,
        optimizer,
        l2: opts.f64_in("l2", d.l2, 0.0, 10.0, "a number from 0 to 10")?,
        early_stopping: opts.bool("early_stopping", d.early_stopping)?,
        patience: opts.usize_in("patience", d.patience, 1, 1000)?,
        validation_fraction: opts.f64_in("validation_fraction", d.validation_fraction, 0.01, 0.5, "a number from 0.01 to 0.5")?,
        skip: opts.bool("skip_connection", d.skip)?,
        seed: opts.usize_in("seed", seed as usize, 0, usize::MAX)? as u64,
    })
}

fn mlp_options_json(o: &mlp::MlpOptions) -> Value {
    let mut v = json!({
        "hidden": o.hidden, "activation": format!("{:?}", o.activation).to_lowercase(), "dropout": o.dropout,
        "epochs": o.epochs, "batch_size": o.batch_size, "learning_rate": o.learning_rate, "l2": o.l2,
        "early_stopping": o.early_stopping, "patience": o.patience, "validation_fraction": o.validation_fraction,
        "skip_connection": o.skip, "seed": o.seed,
    });
    let extra = match o.optimizer {
        mlp::Optimizer::Adam { beta1, beta2, epsilon } => {
            json!({"optimizer": "adam", "beta1": beta1, "beta2": beta2, "epsilon": epsilon})
        }
        mlp::Optimizer::Sgd { momentum } => json!({"optimizer": "sgd", "momentum": momentum}),
    };
    if let (Value::Object(a), Value::Object(b)) = (&mut v, extra) {
        a.extend(b);
    }
    v
}

/// Trains a network on `insight.device`: the native kernels on the CPU (faster there than
/// candle's, measured in benches/), candle tensors on a GPU. Both run the same epoch loop with
/// the same batches and dropout masks.
fn fit_mlp(x: &Matrix, target: &mlp::Target, weights: &[f64], o: &mlp::MlpOptions, par: &Parallel, monitor: &dyn Monitor) -> Result<mlp::MlpFit> {
    #[cfg(feature = "candle")]
    if crate::gucs::DEVICE.get() == crate::gucs::Device::Cuda {
        use crate::ml::candle_backend;
        let dev = candle_backend::device(crate::gucs::device_kind())
            .map_err(|e| InsightError::not_supported(format!("insight.device: {e}"), "SET insight.device = cpu"))?;
        return candle_backend::fit(x, target, weights, o, par, monitor, &dev).map_err(|e| {
            InsightError::device(
                format!("training on cuda failed: {e}"),
                "Lower options.batch_size or the layer widths if the GPU ran out of memory, or SET insight.device = cpu.",
            )
        });
    }
    Ok(mlp::fit(x, target, weights, o, par, monitor))
}

fn mlp_fit_info(f: &mlp::MlpFit) -> Value {
    json!({
        "device": format!("{:?}", crate::gucs::DEVICE.get()).to_lowercase(),
        "epochs_run": f.history.len(),
        "best_epoch": f.best_epoch,
        "final_train_loss": num(f.history.last().map_or(f64::NAN, |h| h.loss)),
        "best_validation_loss": num(f.best_val_loss.unwrap_or(f64::NAN)),
    })
}

struct Fitted {
    model: Model,
    metrics: Value,
    options: Value,
}

fn prep_error(e: PrepError) -> InsightError {
    match e {
        PrepError::Null { feature } => InsightError::null_value(
            format!("column {} contains NULL and options.impute is \"error\"", ident(&feature)),
            "Use impute mean, median or zero, or filter the NULL rows out.",
        ),
        PrepError::AllNull { feature } => InsightError::data(
            format!("column {} has no non-NULL values in the training rows", ident(&feature)),
            "Leave it out with exclude => ARRAY['...'].",
        ),
        PrepError::WrongKind { feature, expected } => InsightError::datatype_mismatch(
            format!("column {} does not hold {expected}", ident(&feature)),
            "Check the column type.",
        ),
        PrepError::NotFinite { feature } => InsightError::data(
            format!("column {} contains NaN or Infinity", ident(&feature)),
            "Replace them with NULL or filter those rows out.",
        ),
    }
}

/// Sorts labels numerically when they all are numbers, else as text.
fn sort_labels(labels: &mut [String]) {
    if labels.iter().all(|l| l.parse::<f64>().is_ok()) {
        labels.sort_by(|a, b| a.parse::<f64>().unwrap().total_cmp(&b.parse::<f64>().unwrap()));
    } else {
        labels.sort();
    }
}

#[allow(clippy::too_many_arguments)]
fn fit_classifier(
    frame: &Frame,
    labels: &[String],
    specs: &[ColumnSpec],
    prep: &PrepOptions,
    cfg: &ClassifierConfig,
    recipe: &Recipe,
    target: &ColumnInfo,
    test_size: f64,
    seed: u64,
    par: &Parallel,
    monitor: &dyn Monitor,
) -> Result<Fitted> {
    let mut classes: Vec<String> = labels.to_vec();
    classes.sort();
    classes.dedup();
    if classes.len() < 2 {
        return Err(InsightError::data(
            format!(
                "target column {} has only one value (\"{}\") in {} rows; a classifier needs at least two classes",
                ident(&target.name),
                classes.first().map_or("", |s| s.as_str()),
                labels.len()
            ),
            "Train on data that contains both outcomes, e.g. buyers and non-buyers.",
        ));
    }
    if classes.len() > MAX_CLASSES {
        return Err(InsightError::data(
            format!("target column {} has more than {MAX_CLASSES} distinct values", ident(&target.name)),
            "For a numeric quantity use algorithm => 'linear'; for labels, group rare ones first.",
        ));
    }
    sort_labels(&mut classes);
    if let Some(pos) = cfg.positive_class.clone() {
        if classes.len() != 2 {
            return Err(InsightError::invalid_parameter(
                "option \"positive_class\" applies to binary targets only",
                format!("This target has {} classes.", classes.len()),
            ));
        }
        let i = classes.iter().position(|c| *c == pos).ok_or_else(|| {
            InsightError::invalid_parameter(
                format!("option \"positive_class\" is \"{pos}\", which is not a value of the target"),
                format!("Values: {}.", classes.join(", ")),
            )
        })?;
        if i == 0 {
            classes.swap(0, 1);
        }
    }
    let k = classes.len();
    let class_of: std::collections::HashMap<&str, usize> =
        classes.iter().enumerate().map(|(i, c)| (c.as_str(), i)).collect();
    let y: Vec<usize> = labels.iter().map(|l| class_of[l.as_str()]).collect();
    let (train_idx, test_idx) = split::stratified(&y, k, test_size, seed);
    if test_idx.is_empty() {
        return Err(InsightError::data(
            format!("too few rows ({}) to hold out a test split", y.len()),
            "Add rows or raise test_size.",
        ));
    }
    let pre = Preprocessor::fit(specs, &frame.columns, &train_idx, prep).map_err(prep_error)?;
    let x_train: Matrix = pre.encode_rows(&frame.columns, &train_idx).map_err(prep_error)?;
    let y_train: Vec<usize> = train_idx.iter().map(|&i| y[i]).collect();
    let class_weight = cfg.class_weight;
    let weights = if class_weight == "balanced" {
        logistic::balanced_weights(&y_train, k)
    } else {
        vec![1.0; y_train.len()]
    };
    let threshold = cfg.threshold;
    let (estimator, fit_info, hyper) = match recipe {
        Recipe::Mlp(o) => {
            let f = fit_mlp(&x_train, &mlp::Target::Classes(&y_train, k), &weights, o, par, monitor)?;
            {
                let info = mlp_fit_info(&f);
                (Estimator::Mlp(f.mlp), info, mlp_options_json(o))
            }
        }
        Recipe::Logistic { l2 } | Recipe::Linear { l2 } => {
            let lopts = logistic::LogisticOptions { l2: *l2, max_iter: cfg.max_iter, tol: cfg.tol };
            let fit = logistic::fit(&x_train, &y_train, k, &weights, &lopts, par, monitor);
            if !fit.converged {
                warning!(
                    "logistic regression stopped after {} iterations before converging; raise options.max_iter or l2",
                    fit.iterations
                );
            }
            (
                Estimator::Linear { coef: fit.coef, intercept: fit.intercept },
                json!({ "iterations": fit.iterations, "converged": fit.converged }),
                json!({ "l2": l2, "max_iter": lopts.max_iter, "tol": lopts.tol }),
            )
        }
    };
    drop(x_train);
    let model = Model {
        task: if k == 2 { Task::Binary } else { Task::Multiclass },
        classes: classes.clone(),
        threshold,
        preprocessor: pre,
        estimator,
    };
    let x_test = model.preprocessor.encode_rows(&frame.columns, &test_idx).map_err(prep_error)?;
    let y_test: Vec<usize> = test_idx.iter().map(|&i| y[i]).collect();
    let mut out = vec![0.0; model.outputs()];
    let mut metrics_json = if k == 2 {
        let mut scores = Vec::with_capacity(test_idx.len());
        for r in 0..x_test.rows {
            model.predict_encoded(x_test.row(r), &mut out);
            scores.push(out[0]);
        }
        let truth: Vec<bool> = y_test.iter().map(|&c| c == 1).collect();
        binary_metrics_json(&metrics::binary(&scores, &truth, threshold))
    } else {
        let mut proba = Vec::with_capacity(test_idx.len() * k);
        for r in 0..x_test.rows {
            model.predict_encoded(x_test.row(r), &mut out);
            proba.extend_from_slice(&out);
        }
        multiclass_metrics_json(&metrics::multiclass(&proba, k, &y_test))
    };
    let eval_rows = importance_rows(&test_idx);
    let imp = if k == 2 {
        let truth: Vec<bool> = eval_rows.iter().map(|&i| y[i] == 1).collect();
        importance::permutation(&model, &frame.columns, &eval_rows, &Truth::Binary(&truth), IMPORTANCE_REPEATS, seed, monitor)
    } else {
        let truth: Vec<usize> = eval_rows.iter().map(|&i| y[i]).collect();
        importance::permutation(&model, &frame.columns, &eval_rows, &Truth::Classes(&truth), IMPORTANCE_REPEATS, seed, monitor)
    };
    add_fit_metrics(&mut metrics_json, train_idx.len(), fit_info, &model, &imp);
    let mut options = hyper;
    if let Value::Object(o) = &mut options {
        o.insert("class_weight".into(), json!(class_weight));
        o.insert("threshold".into(), json!(threshold));
        o.insert("positive_class".into(), if k == 2 { json!(classes[1]) } else { Value::Null });
    }
    add_prep_options(&mut options, prep);
    Ok(Fitted { model, metrics: metrics_json, options })
}

/// The logistic options, parsed and range-checked.
pub struct ClassifierConfig {
    max_iter: usize,
    tol: f64,
    threshold: f64,
    class_weight: &'static str,
    positive_class: Option<String>,
}

impl ClassifierConfig {
    fn parse(opts: &Options) -> Result<Self> {
        Ok(ClassifierConfig {
            max_iter: opts.usize_in("max_iter", 100, 1, 100_000)?,
            tol: opts.f64_in("tol", 1e-10, 1e-16, 1.0, "a number in (0, 1]")?,
            threshold: opts.f64_in("threshold", 0.5, 0.0, 1.0, "a number from 0 to 1")?,
            class_weight: opts.choice("class_weight", "none", &["none", "balanced"])?,
            positive_class: opts.string("positive_class")?,
        })
    }
}

#[allow(clippy::too_many_arguments)]
fn fit_regressor(
    frame: &Frame,
    y: &[f64],
    specs: &[ColumnSpec],
    prep: &PrepOptions,
    recipe: &Recipe,
    test_size: f64,
    seed: u64,
    par: &Parallel,
    monitor: &dyn Monitor,
) -> Result<Fitted> {
    let (train_idx, test_idx) = split::random(y.len(), test_size, seed);
    if test_idx.is_empty() || train_idx.is_empty() {
        return Err(InsightError::data(
            format!("too few rows ({}) to hold out a test split", y.len()),
            "Add rows or raise test_size.",
        ));
    }
    let pre = Preprocessor::fit(specs, &frame.columns, &train_idx, prep).map_err(prep_error)?;
    let x_train = pre.encode_rows(&frame.columns, &train_idx).map_err(prep_error)?;
    let y_train: Vec<f64> = train_idx.iter().map(|&i| y[i]).collect();
    let ones = vec![1.0; y_train.len()];
    let (estimator, fit_info, mut hyper) = match recipe {
        Recipe::Mlp(o) => {
            let f = fit_mlp(&x_train, &mlp::Target::Values(&y_train), &ones, o, par, monitor)?;
            {
                let info = mlp_fit_info(&f);
                (Estimator::Mlp(f.mlp), info, mlp_options_json(o))
            }
        }
        Recipe::Linear { l2 } | Recipe::Logistic { l2 } => {
            let fit = linear::fit(&x_train, &y_train, &ones, *l2, par, monitor);
            (Estimator::Linear { coef: fit.coef, intercept: vec![fit.intercept] }, json!({}), json!({ "l2": l2 }))
        }
    };
    drop(x_train);
    let model = Model { task: Task::Regression, classes: vec![], threshold: 0.5, preprocessor: pre, estimator };
    let x_test = model.preprocessor.encode_rows(&frame.columns, &test_idx).map_err(prep_error)?;
    let mut pred = Vec::with_capacity(test_idx.len());
    let mut out = [0.0];
    for r in 0..x_test.rows {
        model.predict_encoded(x_test.row(r), &mut out);
        pred.push(out[0]);
    }
    let truth: Vec<f64> = test_idx.iter().map(|&i| y[i]).collect();
    let mut metrics_json = regression_metrics_json(&metrics::regression(&pred, &truth));
    let eval_rows = importance_rows(&test_idx);
    let truth: Vec<f64> = eval_rows.iter().map(|&i| y[i]).collect();
    let imp = importance::permutation(&model, &frame.columns, &eval_rows, &Truth::Values(&truth), IMPORTANCE_REPEATS, seed, monitor);
    add_fit_metrics(&mut metrics_json, train_idx.len(), fit_info, &model, &imp);
    add_prep_options(&mut hyper, prep);
    let options = hyper;
    Ok(Fitted { model, metrics: metrics_json, options })
}

/// Test metrics common to every algorithm: training size, what the fit reported, and the
/// permutation importance of each input column.
fn add_fit_metrics(metrics: &mut Value, n_train: usize, fit_info: Value, model: &Model, importance: &[f64]) {
    if let Value::Object(m) = metrics {
        m.insert("n_train".into(), json!(n_train));
        if let Value::Object(info) = fit_info {
            m.extend(info);
        }
        m.insert("feature_importance".into(), importance_json(model, importance));
    }
}

/// The preprocessing options, stored with the algorithm's hyper-parameters.
fn add_prep_options(options: &mut Value, prep: &PrepOptions) {
    if let Value::Object(o) = options {
        o.insert("impute".into(), json!(format!("{:?}", prep.impute).to_lowercase()));
        o.insert("max_categories".into(), json!(prep.max_categories));
        o.insert("scale".into(), json!(prep.scale));
    }
}

/// JSON has no NaN: undefined metrics (e.g. AUC of a one-class test split) become null.
pub fn num(x: f64) -> Value {
    if x.is_finite() {
        json!(x)
    } else {
        Value::Null
    }
}

pub fn binary_metrics_json(m: &metrics::BinaryMetrics) -> Value {
    json!({
        "accuracy": num(m.accuracy), "precision": num(m.precision), "recall": num(m.recall),
        "f1": num(m.f1), "roc_auc": num(m.roc_auc), "log_loss": num(m.log_loss),
        "positive_rate": num(m.positive_rate), "n_test": m.n,
    })
}

pub fn multiclass_metrics_json(m: &metrics::MulticlassMetrics) -> Value {
    json!({
        "accuracy": num(m.accuracy), "precision": num(m.precision), "recall": num(m.recall),
        "f1": num(m.f1), "roc_auc": num(m.roc_auc), "log_loss": num(m.log_loss), "n_test": m.n,
    })
}

pub fn regression_metrics_json(m: &metrics::RegressionMetrics) -> Value {
    json!({ "rmse": num(m.rmse), "mae": num(m.mae), "r2": num(m.r2), "n_test": m.n })
}

fn features_json(model: &Model, test_size: f64, seed: i64) -> Value {
    let cols: Vec<Value> = model
        .preprocessor
        .features
        .iter()
        .map(|f| {
            json!({
                "name": f.name, "type": f.sql_type, "kind": columns::kind_name(f.kind),
                "encoding": serde_json::to_value(&f.encoding).unwrap_or(Value::Null),
                "encoded": f.encoded_names(),
            })
        })
        .collect();
    json!({ "columns": cols, "width": model.preprocessor.width, "classes": model.classes,
            "split": { "test_size": test_size, "seed": seed } })
}

/// The metric that decides "better": ROC AUC for classifiers, R^2 for regression.
pub fn key_metric(task: Task) -> &'static str {
    match task {
        Task::Binary | Task::Multiclass => "roc_auc",
        Task::Regression => "r2",
    }
}

fn decide_deploy(name: &str, policy: &str, task: Task, metrics: &Value, id: i64) -> bool {
    let key = key_metric(task);
    let (deploy, reason) = match policy {
        "always" => (true, "deploy => always".to_string()),
        "never" => (false, String::new()),
        _ => match catalog::deployed_metrics(name) {
            None => (true, "first deployed version".to_string()),
            Some((_, old)) => {
                let new_v = metrics.get(key).and_then(Value::as_f64);
                let old_v = old.get(key).and_then(Value::as_f64);
                match (new_v, old_v) {
                    (Some(n), Some(o)) if n > o => (true, format!("{key} {n:.4} > {o:.4}")),
                    (Some(_), None) => (true, format!("deployed version has no {key}")),
                    _ => (false, String::new()),
                }
            }
        },
    };
    if deploy {
        catalog::deploy(name, id, policy, &reason);
    }
    deploy
}
