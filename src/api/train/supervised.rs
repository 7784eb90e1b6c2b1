//! The steps of training on a target, for any algorithm: labels to classes, the held-out split
//! (stratified for classes), preprocessing fitted on the training rows, the algorithm's recipe,
//! test metrics and permutation importance.

use crate::data::reader::Frame;
use crate::error::{ident, InsightError, Result};
use crate::ml::algorithms::logistic::balanced_weights;
use crate::ml::algorithms::{ClassifierOptions, FitContext, Fitted, Recipe, Target, TrainingData};
use crate::ml::importance::{self, Truth};
use crate::ml::report_data::{self, ReportData};
use crate::ml::metrics;
use crate::ml::model::{Model, Task};
use crate::ml::preprocess::{
    looks_like_free_text, ColumnSpec, Encoding, PrepError, PrepOptions, Preprocessor, RawColumn,
    TextColumns, ValueKind, NULL_CODE,
};
use crate::ml::split;
use crate::ml::text::model::TextTarget;
use serde_json::{json, Map, Value};

/// A classification target with more classes than this is almost surely a mistake.
const MAX_CLASSES: usize = 100;
/// Permutation importance uses at most this many test rows, each column shuffled this often.
const IMPORTANCE_MAX_ROWS: usize = 20_000;
const IMPORTANCE_REPEATS: usize = 3;

/// A trained model with its test metrics and the options it was trained with.
pub struct Trained {
    pub model: Model,
    pub metrics: Map<String, Value>,
    pub options: Map<String, Value>,
    /// The numbers behind the report's charts (insight.report), from the test split.
    pub report: Option<ReportData>,
}

/// What every supervised fit starts from.
pub struct Inputs<'a> {
    pub frame: &'a Frame,
    pub specs: &'a [ColumnSpec],
    pub prep: &'a PrepOptions,
    pub recipe: &'a dyn Recipe,
    pub test_size: f64,
    pub seed: u64,
    pub ctx: &'a FitContext<'a>,
    /// insight.retrain: the deployed version, scored on the new test rows too.
    pub champion: Option<&'a Model>,
}

/// The champion's test metrics on the challenger's test rows, when it reads the same columns
/// (and, for a classifier, knows the same classes): else why they cannot be compared.
fn champion_metrics(
    inp: &Inputs,
    model: &Model,
    test_idx: &[usize],
    metric: impl Fn(&[f64]) -> Value,
) -> Option<std::result::Result<Value, String>> {
    let champion = inp.champion?;
    let same_columns = champion.preprocessor.features.len() == inp.specs.len()
        && champion
            .preprocessor
            .features
            .iter()
            .zip(inp.specs)
            .all(|(f, s)| f.name == s.name && f.kind == s.kind);
    if !same_columns {
        return Some(Err("the deployed version reads other columns".into()));
    }
    if champion.task != model.task || champion.classes != model.classes {
        return Some(Err(format!(
            "the deployed version is a {} model with classes {:?}",
            champion.task.as_str(),
            champion.classes
        )));
    }
    Some(match score_rows(champion, inp.frame, test_idx) {
        Ok(out) => Ok(metric(&out)),
        Err(e) => Err(format!(
            "the deployed version cannot score the new rows: {e:?}"
        )),
    })
}

/// Adds what the champion scores on the same test rows to the challenger's metrics.
fn add_champion(metrics: &mut Value, found: Option<std::result::Result<Value, String>>) {
    match found {
        Some(Ok(m)) => metrics["champion"] = m,
        Some(Err(why)) => metrics["champion"] = json!({ "not_comparable": why }),
        None => {}
    }
}

pub fn classify(
    inp: &Inputs,
    labels: &[String],
    target: &str,
    cfg: &ClassifierOptions,
) -> Result<Trained> {
    let classes = classes_of(labels, target, cfg)?;
    let k = classes.len();
    let class_of: std::collections::HashMap<&str, usize> = classes
        .iter()
        .enumerate()
        .map(|(i, c)| (c.as_str(), i))
        .collect();
    let y: Vec<usize> = labels.iter().map(|l| class_of[l.as_str()]).collect();
    let (train_idx, test_idx) = match text_groups(inp)? {
        Some(groups) => split::grouped(&groups, inp.test_size, inp.seed),
        None => split::stratified(&y, k, inp.test_size, inp.seed),
    };
    if test_idx.is_empty() {
        return Err(too_few_rows(y.len()));
    }
    let y_train: Vec<usize> = train_idx.iter().map(|&i| y[i]).collect();
    let weights = if cfg.class_weight == "balanced" {
        balanced_weights(&y_train, k)
    } else {
        vec![1.0; y_train.len()]
    };
    let (pre, fitted) = fit(inp, &train_idx, Target::Classes(&y_train, k), &weights)?;
    let model = Model {
        task: if k == 2 {
            Task::Binary
        } else {
            Task::Multiclass
        },
        classes: classes.clone(),
        threshold: cfg.threshold,
        preprocessor: pre,
        estimator: fitted.estimator,
    };
    let outputs = score_rows(&model, inp.frame, &test_idx)?;
    let y_test: Vec<usize> = test_idx.iter().map(|&i| y[i]).collect();
    let score = |outputs: &[f64]| {
        if k == 2 {
            let truth: Vec<bool> = y_test.iter().map(|&c| c == 1).collect();
            metrics::binary(outputs, &truth, cfg.threshold).to_json()
        } else {
            metrics::multiclass(outputs, k, &y_test).to_json()
        }
    };
    let report = if k == 2 {
        let truth: Vec<bool> = y_test.iter().map(|&c| c == 1).collect();
        ReportData::Binary(report_data::binary(&outputs, &truth, cfg.threshold))
    } else {
        ReportData::Multiclass(report_data::multiclass(&outputs, &classes, &y_test))
    };
    let mut metrics = score(&outputs);
    add_champion(
        &mut metrics,
        champion_metrics(inp, &model, &test_idx, score),
    );
    let rows = importance_rows(&test_idx);
    let imp = if k == 2 {
        let truth: Vec<bool> = rows.iter().map(|&i| y[i] == 1).collect();
        importance::permutation(
            &model,
            &inp.frame.columns,
            &rows,
            &Truth::Binary(&truth),
            IMPORTANCE_REPEATS,
            inp.seed,
            inp.ctx.par,
            inp.ctx.monitor,
        )
    } else {
        let truth: Vec<usize> = rows.iter().map(|&i| y[i]).collect();
        importance::permutation(
            &model,
            &inp.frame.columns,
            &rows,
            &Truth::Classes(&truth),
            IMPORTANCE_REPEATS,
            inp.seed,
            inp.ctx.par,
            inp.ctx.monitor,
        )
    };
    add_fit_metrics(&mut metrics, train_idx.len(), fitted.info, &model, &imp);
    let mut options = object(inp.recipe.options());
    options.insert("class_weight".into(), json!(cfg.class_weight));
    options.insert("threshold".into(), json!(cfg.threshold));
    options.insert(
        "positive_class".into(),
        if k == 2 {
            json!(classes[1])
        } else {
            Value::Null
        },
    );
    options.extend(prep_options(inp, &model.preprocessor));
    Ok(Trained {
        model,
        metrics: object(metrics),
        options,
        report: Some(report),
    })
}

pub fn regress(inp: &Inputs, y: &[f64]) -> Result<Trained> {
    let (train_idx, test_idx) = split::random(y.len(), inp.test_size, inp.seed);
    if test_idx.is_empty() || train_idx.is_empty() {
        return Err(too_few_rows(y.len()));
    }
    let y_train: Vec<f64> = train_idx.iter().map(|&i| y[i]).collect();
    let (pre, fitted) = fit(
        inp,
        &train_idx,
        Target::Values(&y_train),
        &vec![1.0; y_train.len()],
    )?;
    let model = Model {
        task: Task::Regression,
        classes: vec![],
        threshold: 0.5,
        preprocessor: pre,
        estimator: fitted.estimator,
    };
    let pred = score_rows(&model, inp.frame, &test_idx)?;
    let truth: Vec<f64> = test_idx.iter().map(|&i| y[i]).collect();
    let report = ReportData::Regression(report_data::regression(&pred, &truth));
    let mut metrics = metrics::regression(&pred, &truth).to_json();
    add_champion(
        &mut metrics,
        champion_metrics(inp, &model, &test_idx, |p| {
            metrics::regression(p, &truth).to_json()
        }),
    );
    let rows = importance_rows(&test_idx);
    let truth: Vec<f64> = rows.iter().map(|&i| y[i]).collect();
    let imp = importance::permutation(
        &model,
        &inp.frame.columns,
        &rows,
        &Truth::Values(&truth),
        IMPORTANCE_REPEATS,
        inp.seed,
        inp.ctx.par,
        inp.ctx.monitor,
    );
    add_fit_metrics(&mut metrics, train_idx.len(), fitted.info, &model, &imp);
    let mut options = object(inp.recipe.options());
    options.extend(prep_options(inp, &model.preprocessor));
    Ok(Trained {
        model,
        metrics: object(metrics),
        options,
        report: Some(report),
    })
}

/// The free-text columns options.text names must be text columns among the inputs.
fn check_text_columns(inp: &Inputs) -> Result<()> {
    if let TextColumns::Listed(names) = &inp.prep.text {
        for n in names {
            match inp.specs.iter().find(|s| &s.name == n) {
                Some(s) if s.kind == ValueKind::Text => {}
                Some(s) => return Err(InsightError::invalid_parameter(
                    format!(
                        "option \"text\" names column {}, which is {}, not text",
                        ident(n),
                        s.sql_type
                    ),
                    "Name text, varchar or char columns that hold free text (reviews, comments).",
                )),
                None => {
                    return Err(InsightError::invalid_parameter(
                        format!(
                            "option \"text\" names column {}, which is not an input of this model",
                            ident(n)
                        ),
                        format!(
                            "Inputs: {}.",
                            inp.specs
                                .iter()
                                .map(|s| s.name.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    ))
                }
            }
        }
    }
    Ok(())
}

/// With free text among the inputs, the rows' groups for the train/test split: identical texts
/// (of the first free-text column) are one group, so that a review and its copy are not split
/// across training and test; NULL texts each their own.
fn text_groups(inp: &Inputs) -> Result<Option<Vec<u64>>> {
    check_text_columns(inp)?;
    let all: Vec<usize> = (0..inp.frame.n_rows).collect();
    for (spec, col) in inp.specs.iter().zip(&inp.frame.columns) {
        let RawColumn::Text { dict, codes } = col else {
            continue;
        };
        let free = match &inp.prep.text {
            TextColumns::All => true,
            TextColumns::Listed(names) => names.contains(&spec.name),
            TextColumns::Auto => looks_like_free_text(dict, codes, &all, inp.prep.max_categories),
        };
        if free {
            return Ok(Some(
                codes
                    .iter()
                    .enumerate()
                    .map(|(r, &c)| {
                        if c == NULL_CODE {
                            (1 << 32) + r as u64
                        } else {
                            c as u64
                        }
                    })
                    .collect(),
            ));
        }
    }
    Ok(None)
}

/// Preprocessing fitted on the training rows (text models on the classes, where there is free
/// text: their out-of-fold scores are the training inputs), then the algorithm on the encoded
/// rows.
fn fit(
    inp: &Inputs,
    train_idx: &[usize],
    target: Target,
    weights: &[f64],
) -> Result<(Preprocessor, Fitted)> {
    let mut pre = Preprocessor::fit(inp.specs, &inp.frame.columns, train_idx, inp.prep)
        .map_err(prep_error)?;
    // a text column alone needs no cross-fitting: the model over its scores only calibrates
    // them (the ranking, and so the ROC AUC, is the text model's), and one fit instead of
    // folds + 1 is most of the training time
    let mut prep = inp.prep.clone();
    if inp.specs.len() == 1 {
        prep.text_fit.folds = 0;
    }
    let text_started = std::time::Instant::now();
    let oof = match target {
        Target::Classes(y, k) => pre
            .fit_text(
                &inp.frame.columns,
                train_idx,
                &TextTarget {
                    classes: y,
                    n_classes: k,
                    weights,
                },
                &prep,
                inp.ctx.par,
                inp.ctx.monitor,
            )
            .map_err(prep_error)?,
        _ => Vec::new(),
    };
    if let Some(col) = pre.unfitted_text() {
        return Err(free_text_needs_classes(col));
    }
    let text_seconds = if oof.is_empty() {
        f64::NAN
    } else {
        text_started.elapsed().as_secs_f64()
    };
    let mut x = pre
        .encode_rows(&inp.frame.columns, train_idx)
        .map_err(prep_error)?;
    for (j, scores) in oof {
        let f = &pre.features[j];
        let k = f.width();
        for r in 0..x.rows {
            x.row_mut(r)[f.offset..f.offset + k].copy_from_slice(&scores[r * k..(r + 1) * k]);
        }
    }
    let started = std::time::Instant::now();
    let levels = pre.input_levels();
    let mut fitted = inp.recipe.fit(
        &TrainingData {
            x: &x,
            target,
            weights,
            levels: &levels,
        },
        inp.ctx,
    )?;
    fitted.info.insert(
        "fit_seconds".into(),
        serde_json::json!(started.elapsed().as_secs_f64()),
    );
    if !text_seconds.is_nan() {
        // featurising free text and fitting its text models (out of fold too)
        fitted
            .info
            .insert("text_seconds".into(), serde_json::json!(text_seconds));
    }
    fitted.estimator.center_categories(&pre, &x);
    Ok((pre, fitted))
}

/// The model's outputs for the given rows, concatenated (k per row for multiclass).
fn score_rows(model: &Model, frame: &Frame, rows: &[usize]) -> Result<Vec<f64>> {
    let x = model
        .preprocessor
        .encode_rows(&frame.columns, rows)
        .map_err(prep_error)?;
    let mut out = vec![0.0; model.outputs()];
    let mut all = Vec::with_capacity(rows.len() * out.len());
    for r in 0..x.rows {
        model.predict_encoded(x.row(r), &mut out);
        all.extend_from_slice(&out);
    }
    Ok(all)
}

/// The distinct labels in class order (numeric when all are numbers, else text), the positive
/// class last for binary targets.
fn classes_of(labels: &[String], target: &str, cfg: &ClassifierOptions) -> Result<Vec<String>> {
    let mut classes: Vec<String> = labels.to_vec();
    classes.sort();
    classes.dedup();
    if classes.len() < 2 {
        return Err(InsightError::data(
            format!(
                "target column {} has only one value (\"{}\") in {} rows; a classifier needs at least two classes",
                ident(target),
                classes.first().map_or("", |s| s.as_str()),
                labels.len()
            ),
            "Train on data that contains both outcomes, e.g. buyers and non-buyers.",
        ));
    }
    if classes.len() > MAX_CLASSES {
        return Err(InsightError::data(
            format!(
                "target column {} has more than {MAX_CLASSES} distinct values",
                ident(target)
            ),
            "For a numeric quantity use algorithm => 'linear'; for labels, group rare ones first.",
        ));
    }
    if classes.iter().all(|l| l.parse::<f64>().is_ok()) {
        classes.sort_by(|a, b| {
            a.parse::<f64>()
                .unwrap()
                .total_cmp(&b.parse::<f64>().unwrap())
        });
    }
    if let Some(pos) = &cfg.positive_class {
        if classes.len() != 2 {
            return Err(InsightError::invalid_parameter(
                "option \"positive_class\" applies to binary targets only",
                format!("This target has {} classes.", classes.len()),
            ));
        }
        let i = classes.iter().position(|c| c == pos).ok_or_else(|| {
            InsightError::invalid_parameter(
                format!(
                    "option \"positive_class\" is \"{pos}\", which is not a value of the target"
                ),
                format!("Values: {}.", classes.join(", ")),
            )
        })?;
        if i == 0 {
            classes.swap(0, 1);
        }
    }
    Ok(classes)
}

fn too_few_rows(n: usize) -> InsightError {
    InsightError::data(
        format!("too few rows ({n}) to hold out a test split"),
        "Add rows or raise test_size.",
    )
}

fn importance_rows(test_idx: &[usize]) -> Vec<usize> {
    // an even spread over the (sorted) test rows when there are more than the cap
    let step = test_idx.len().div_ceil(IMPORTANCE_MAX_ROWS).max(1);
    test_idx.iter().step_by(step).copied().collect()
}

/// Test metrics common to every algorithm: training size, what the fit reported, and the
/// permutation importance of each input column (the drop of ROC AUC for binary, accuracy for
/// multiclass, R^2 for regression).
fn add_fit_metrics(
    metrics: &mut Value,
    n_train: usize,
    fit_info: Map<String, Value>,
    model: &Model,
    importance: &[f64],
) {
    if let Value::Object(m) = metrics {
        m.insert("n_train".into(), json!(n_train));
        m.extend(fit_info);
        let imp = model
            .preprocessor
            .features
            .iter()
            .zip(importance)
            .map(|(f, v)| (f.name.clone(), metrics::finite(*v)));
        m.insert("feature_importance".into(), Value::Object(imp.collect()));
    }
}

pub(super) fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// The preprocessing options as stored, with the text options where the model has free text.
fn prep_options(inp: &Inputs, pre: &Preprocessor) -> Map<String, Value> {
    let mut o = object(inp.prep.to_json());
    let text: Vec<String> = pre
        .features
        .iter()
        .filter(|f| matches!(f.encoding, Encoding::Text(_) | Encoding::Embedded(_)))
        .map(|f| f.name.clone())
        .collect();
    if !text.is_empty() {
        o.extend(object(inp.prep.text_json(&text)));
    }
    o
}

/// A free-text column in a model that does not learn classes.
pub fn free_text_needs_classes(column: &str) -> InsightError {
    InsightError::not_supported(
        format!(
            "column {} is free text (options.text), which needs a classification target",
            ident(column)
        ),
        "Text models learn from labels (e.g. satisfied or not); for regression or segmentation leave the column out, or treat it as categories with options => '{\"text\": []}'.",
    )
}

pub fn prep_error(e: PrepError) -> InsightError {
    match e {
        PrepError::Null { feature } => InsightError::null_value(
            format!(
                "column {} contains NULL and options.impute is \"error\"",
                ident(&feature)
            ),
            "Use impute mean, median or zero, or filter the NULL rows out.",
        ),
        PrepError::AllNull { feature } => InsightError::data(
            format!(
                "column {} has no non-NULL values in the training rows",
                ident(&feature)
            ),
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
        PrepError::TooLarge { feature } => InsightError::data(
            format!(
                "column {} holds values beyond 1e150, too large to fit a model on",
                ident(&feature)
            ),
            "Rescale the column (e.g. divide by a power of ten) or filter those rows out.",
        ),
        PrepError::Embedding { feature, message } => crate::api::embed::failed(&feature, &message),
    }
}
