//! insight.train: the training pipeline, the same for every algorithm. Resolve the relation and
//! its columns, pick the algorithm (ml::algorithms), read and check every option before any data
//! is read, read, split, preprocess, fit, evaluate, store, deploy. What differs between
//! algorithms lives in their modules and is reached through the registry.

mod histories;
mod interactions;
mod retrain;
mod segments;
mod supervised;

use crate::api::lifecycle::decide_deploy;
use crate::api::monitor::PgMonitor;
use crate::api::regclass::RegClass;
use crate::data::columns::{self, ColumnInfo};
use crate::data::reader::{self, ReadSpec, TargetColumn, TargetRead};
use crate::error::{ident, no_null_elements, required, InsightError, OrRaise, Result};
use crate::ml::algorithms::{
    self, Algorithm, ClassifierOptions, FitContext, Learns, RecipeContext,
};
use crate::ml::model::Model;
use crate::ml::options::Options;
use crate::ml::parallel::Parallel;
use crate::ml::preprocess::{ColumnSpec, PrepOptions, ValueKind};
use crate::store::catalog;
use pgrx::prelude::*;
use pgrx::JsonB;
use serde_json::{json, Value};
use std::time::Instant;

#[pg_extern(volatile, parallel_unsafe)]
#[allow(clippy::too_many_arguments)]
fn train(
    name: Option<&str>,
    relation: Option<RegClass>,
    target: default!(Option<&str>, "NULL"),
    algorithm: default!(Option<&str>, "NULL"),
    features: default!(Option<Vec<Option<String>>>, "NULL"),
    exclude: default!(Option<Vec<Option<String>>>, "NULL"),
    options: default!(Option<crate::api::json_arg::JsonArg>, "'{}'"),
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
        let relation = required(
            relation,
            "relation",
            "Name a table or view, e.g. 'customers'.",
        )?;
        let relid = relation.oid()?;
        Ok(Request {
            name: required(name, "name", "Name the model, e.g. 'purchase_propensity'.")?,
            relid,
            target,
            algorithm,
            features: no_null_elements(features, "features")?,
            exclude: no_null_elements(exclude, "exclude")?,
            options: required(options, "options", "Pass '{}' for the defaults.")?
                .parse("options")?,
            test_size: required(test_size, "test_size", "Leave it out for the default 0.2.")?,
            seed: required(seed, "seed", "Leave it out for the default 42.")?,
            deploy: required(
                deploy,
                "deploy",
                "Use 'always', 'if_better' (the default) or 'never'.",
            )?,
            champion: None,
            stored_options: false,
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
    /// insight.retrain: the version deployed now, which the new one must not fall behind.
    pub champion: Option<Champion>,
    /// The options come from a stored recipe (insight.retrain): keys that do not apply any more
    /// are passed over.
    pub stored_options: bool,
}

/// The deployed version a retrain competes with, and by how much the new one may trail it.
pub struct Champion {
    pub model: std::rc::Rc<Model>,
    pub version: i32,
    /// Its stored test metrics (what unsupervised models are compared by).
    pub metrics: Value,
    pub tolerance: f64,
}

pub fn run(req: &Request) -> Result<(i64, String, i32, String, bool, JsonB)> {
    let started = Instant::now();
    catalog::validate_name(req.name)?;
    if !(req.test_size > 0.0 && req.test_size < 1.0) {
        return Err(InsightError::invalid_parameter(
            format!(
                "test_size must be between 0 and 1 (exclusive), got {}",
                req.test_size
            ),
            "Use e.g. test_size => 0.2 to hold out 20% of the rows for evaluation.",
        ));
    }
    crate::api::lifecycle::check_deploy_policy(req.deploy)?;
    let relation = columns::relation_name(req.relid);
    let cols = columns::relation_columns(req.relid);
    let target = match req.target {
        Some(t) => Some(columns::find(&cols, t, &relation, "target")?.clone()),
        None => None,
    };
    let (algorithm, learns, target) = choose_algorithm(req.algorithm, target, &relation)?;

    // every option is read and checked before any data is read
    let options = paired_options(algorithm, &req.options)?;
    let setup = Setup::read(algorithm, learns, &options, req.seed, req.stored_options)?;
    if learns == Learns::Interactions {
        if req.features.is_some() || req.exclude.is_some() {
            return Err(InsightError::invalid_parameter(
                format!("algorithm {} reads the columns options.customer, options.item and options.strength, not features or exclude", algorithm.name),
                "Name the columns through options, e.g. '{\"customer\": \"customer_id\", \"item\": \"product_id\"}'.",
            ));
        }
        let r = interactions::train(
            &setup,
            &cols,
            &relation,
            &options,
            req.test_size,
            req.seed,
            started,
        )?;
        return store(
            req,
            algorithm,
            &relation,
            None,
            r.trained,
            r.threads,
            r.n_rows,
            r.read_seconds,
            r.features,
            started,
        );
    }

    let history_columns: Option<Vec<String>>;
    let features = if learns == Learns::Histories {
        // frequency, recency and t, in this order, named by options (checked as text above)
        if req.features.is_some() || req.exclude.is_some() {
            return Err(InsightError::invalid_parameter(
                format!("algorithm {} reads the columns options.frequency, options.recency and options.t, not features or exclude", algorithm.name),
                "Name other columns through options, e.g. '{\"t\": \"age_weeks\"}'.",
            ));
        }
        history_columns = Some(
            crate::ml::algorithms::history_columns(algorithm.name)
                .iter()
                .map(|(key, default)| {
                    req.options
                        .get(key)
                        .and_then(Value::as_str)
                        .unwrap_or(default)
                        .to_string()
                })
                .collect(),
        );
        if let Some(cols) = &history_columns {
            if (1..cols.len()).any(|j| cols[..j].contains(&cols[j])) {
                return Err(InsightError::invalid_parameter(
                    format!(
                        "algorithm {} reads {} different columns, but the options name {}",
                        algorithm.name,
                        cols.len(),
                        cols.join(", ")
                    ),
                    "Name each of frequency, recency, t (and monetary_value) once.",
                ));
            }
        }
        history_columns.as_deref()
    } else {
        req.features.as_deref()
    };
    // columns options.text names as free text are wanted whatever their look
    let named_text = match &setup.prep.text {
        crate::ml::preprocess::TextColumns::Listed(names) => names.clone(),
        _ => Vec::new(),
    };
    let feats = columns::choose_features(
        &cols,
        features,
        req.exclude.as_deref(),
        target.as_ref(),
        &relation,
        &named_text,
    )?;
    if learns == Learns::Histories {
        if let Some(c) = feats.iter().find(|c| c.kind != Some(ValueKind::Number)) {
            return Err(InsightError::datatype_mismatch(
                format!(
                    "column {} has type {}, but purchase histories are numbers",
                    ident(&c.name),
                    c.sql_type
                ),
                "frequency, recency and t are counts and times, e.g. from insight.clv_summary.",
            ));
        }
    }
    let inputs: Vec<(String, ValueKind)> = feats
        .iter()
        .map(|c| (c.name.clone(), c.kind.unwrap()))
        .collect();
    let how = if learns == Learns::Classes {
        TargetRead::Text
    } else {
        TargetRead::Number
    };
    // the memory the rows will need, against insight.max_train_memory, checked while reading:
    // the read stops once the rows (or the distinct text values) read pass it. (The planner's
    // row count is no guide: it counts rows whose target is NULL, which are not read, and can be
    // stale.)
    let shape = crate::ml::memory::RowShape {
        numeric_inputs: inputs.iter().filter(|(_, k)| k.is_numeric()).count(),
        text_inputs: inputs.iter().filter(|(_, k)| !k.is_numeric()).count(),
        slots_per_text: if setup.prep.native_categories {
            1
        } else {
            setup.prep.max_categories + 1
        },
        target_bytes: match (&target, learns) {
            (None, _) => 0,
            (Some(_), Learns::Classes) => 32,
            _ => 8,
        },
    };
    let budget = crate::gucs::max_train_memory();
    let too_much = |rows: u64| {
        InsightError::out_of_memory(
            format!(
                "training on {relation} needs more than insight.max_train_memory ({} MB): it has more than the {rows} rows that fit ({} bytes a row: {} inputs read, {} encoded)",
                budget >> 20,
                shape.bytes_per_row(),
                inputs.len(),
                shape.encoded_width()
            ),
            "Train on a sample (a view with TABLESAMPLE or LIMIT), on fewer columns (features => ARRAY[...]), with fewer categories (max_categories), or have a superuser raise insight.max_train_memory.",
        )
    };
    let max_rows = shape.rows_within(budget);
    let mut frame = None;
    reader::read_batches(
        &ReadSpec {
            relation: &relation,
            inputs: &inputs,
            target: target.as_ref().map(|t| (t.name.as_str(), how)),
            keys: false,
            text_budget: Some(budget),
            ordered: true,
        },
        (max_rows as usize).saturating_add(1),
        &mut |f| {
            // a frame before the end is handed over only past max_rows rows
            if f.n_rows as u64 > max_rows {
                return Err(too_much(max_rows));
            }
            frame = Some(f);
            Ok(())
        },
    )?;
    let frame = frame.expect("read_batches hands over at least one frame");
    let read_seconds = started.elapsed().as_secs_f64();
    if let (Some(t), true) = (&target, frame.skipped_null_target > 0) {
        notice!(
            "{} rows with a NULL {} were left out of training",
            frame.skipped_null_target,
            ident(&t.name)
        );
    }
    if frame.n_rows == 0 {
        return Err(InsightError::data(
            format!(
                "relation {relation} has no rows{} to train on",
                if frame.skipped_null_target > 0 {
                    " with a non-NULL target"
                } else {
                    ""
                }
            ),
            "Load data first, or point train at a table or view that returns rows.",
        ));
    }
    let specs: Vec<ColumnSpec> = feats
        .iter()
        .map(|c| ColumnSpec {
            name: c.name.clone(),
            sql_type: c.sql_type.clone(),
            kind: c.kind.unwrap(),
        })
        .collect();
    let (trained, threads) = setup.fit(
        &frame,
        &specs,
        target.as_ref().map(|t| t.name.as_str()),
        req.test_size,
        req.seed,
        req.champion.as_ref().map(|c| c.model.as_ref()),
        &RowMemory {
            rows_bytes: shape.bytes_for(frame.n_rows as u64),
            encoded_width: shape.encoded_width(),
        },
    )?;
    let mut features = features_json(&trained.model, req.test_size, req.seed);
    // what insight.drift compares new rows with
    let names: Vec<String> = specs.iter().map(|s| s.name.clone()).collect();
    let reference = crate::ml::drift::Reference::of(&trained.model, &frame.columns, &names);
    features["reference"] = serde_json::to_value(&reference).unwrap_or(Value::Null);
    store(
        req,
        algorithm,
        &relation,
        target.as_ref().map(|t| t.name.as_str()),
        trained,
        threads,
        frame.n_rows,
        read_seconds,
        features,
        started,
    )
}

/// Stores a trained version with its metrics, deploys it by the policy, and makes train's row.
#[allow(clippy::too_many_arguments)]
fn store(
    req: &Request,
    algorithm: &Algorithm,
    relation: &str,
    target: Option<&str>,
    trained: supervised::Trained,
    threads: usize,
    n_rows: usize,
    read_seconds: f64,
    features: Value,
    started: Instant,
) -> Result<(i64, String, i32, String, bool, JsonB)> {
    let supervised::Trained {
        model,
        mut metrics,
        options,
        report,
    } = trained;
    let train_seconds = started.elapsed().as_secs_f64();
    let retrain = req
        .champion
        .as_ref()
        .map(|c| retrain_decision(c, model.task, &metrics));
    if let Some((deploy, reason)) = &retrain {
        metrics.insert(
            "retrain".into(),
            json!({ "deployed": deploy, "reason": reason }),
        );
    }
    metrics.insert("train_seconds".into(), json!(train_seconds));
    metrics.insert("read_seconds".into(), json!(read_seconds));
    metrics.insert("threads".into(), json!(threads));
    let metrics = Value::Object(metrics);
    let (id, version) = catalog::insert(catalog::NewModel {
        name: req.name,
        task: model.task.as_str(),
        algorithm: algorithm.name,
        relation,
        target,
        features,
        options: Value::Object(options),
        metrics: metrics.clone(),
        weights: model.encode(),
        n_rows: n_rows as i64,
        train_seconds,
        report_data: report.map(|r| r.to_json()),
    });
    let deployed = match retrain {
        Some((deploy, reason)) => {
            if deploy {
                catalog::deploy(req.name, id, "retrain", &reason, catalog::Cause::Retrain);
            }
            deploy
        }
        None => decide_deploy(
            req.name,
            req.deploy,
            model.task,
            &metrics,
            id,
            catalog::Cause::Train,
        ),
    };
    if crate::ml::monitor::Monitor::wants_progress(&PgMonitor::new()) {
        notice!(
            "trained {}@{version} ({}) on {} rows in {:.2}s",
            req.name,
            algorithm.name,
            n_rows,
            train_seconds
        );
    }
    Ok((
        id,
        req.name.to_string(),
        version,
        algorithm.name.to_string(),
        deployed,
        JsonB(metrics),
    ))
}

/// Whether a retrained version replaces the champion, and why: for supervised models by the key
/// metric of both on the new test rows (the new one may trail by `tolerance`), else by the
/// stored metrics (segments, histories and recommendations are measured on their own data).
fn retrain_decision(
    c: &Champion,
    task: crate::ml::model::Task,
    metrics: &serde_json::Map<String, Value>,
) -> (bool, String) {
    let key = crate::api::lifecycle::key_metric(task);
    let new = metrics.get(key).and_then(Value::as_f64);
    let (old, basis) = match metrics.get("champion") {
        Some(ch) if ch.get("not_comparable").is_none() => (
            ch.get(key).and_then(Value::as_f64),
            "on the same new test rows",
        ),
        Some(ch) => {
            let why = ch["not_comparable"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            return (
                false,
                format!(
                    "kept undeployed: not comparable with version {}: {why}",
                    c.version
                ),
            );
        }
        None => (
            c.metrics.get(key).and_then(Value::as_f64),
            "by the stored metrics",
        ),
    };
    match (new, old) {
        // "not worse" to rounding: the same model on the same rows may differ in the last bits
        (Some(n), Some(o)) if n >= o - c.tolerance - 1e-9 * o.abs().max(1.0) => (
            true,
            format!("retrain: {key} {n:.4} vs {o:.4} of version {} {basis}", c.version),
        ),
        (Some(n), Some(o)) => (
            false,
            format!(
                "kept undeployed: {key} {n:.4} is below {o:.4} of version {} {basis} by more than the tolerance {}",
                c.version, c.tolerance
            ),
        ),
        _ => (
            false,
            format!("kept undeployed: {key} is missing for the new version or version {}", c.version),
        ),
    }
}

/// The options as the algorithm reads them: for gamma_gamma paired with a transaction model
/// (options.transactions, or options.bgnbd, names a BG/NBD or Pareto/NBD model), that model's
/// parameters copied in as options.transactions_params, so the new model keeps them whatever
/// becomes of the other.
fn paired_options(algorithm: &Algorithm, options: &Value) -> Result<Value> {
    if algorithm.name != "gamma_gamma" || options.get("transactions_params").is_some() {
        return Ok(options.clone());
    }
    let (key, name) = match (options.get("transactions"), options.get("bgnbd")) {
        (Some(v), None) => ("transactions", v),
        (None, Some(v)) => ("bgnbd", v),
        // neither (no pairing), or both (the recipe says which to drop)
        _ => return Ok(options.clone()),
    };
    let name = match name {
        Value::String(n) => n,
        Value::Null => return Ok(options.clone()),
        v => {
            return Err(InsightError::invalid_parameter(
                format!(
                    "option \"{key}\" of algorithm gamma_gamma must name a BG/NBD or Pareto/NBD model, got {v}"
                ),
                "e.g. {\"transactions\": \"my_bgnbd_model\"}.",
            ))
        }
    };
    let m = crate::store::cache::load(catalog::resolve(&catalog::parse_ref(name)?)?)?;
    let transactions = match &m.estimator {
        crate::ml::model::Estimator::BgNbd(b) => crate::ml::clv::Transactions::BgNbd(*b),
        crate::ml::model::Estimator::ParetoNbd(p) => crate::ml::clv::Transactions::ParetoNbd(*p),
        _ => {
            return Err(InsightError::invalid_parameter(
                format!("option \"{key}\" names model \"{name}\", which is not a BG/NBD or Pareto/NBD model"),
                "Train one with algorithm => 'bgnbd' or 'pareto_nbd' on the same customers' frequency, recency and t.",
            ))
        }
    };
    let mut o = options.clone();
    o["transactions_params"] = transactions.to_json();
    Ok(o)
}

/// What the rows of a fit cost in memory, as the caller reads them: their bytes (the fixed cost
/// included) and the encoded inputs per row at most. Setup::fit adds the algorithm's working
/// memory and refuses above insight.max_train_memory.
pub struct RowMemory {
    pub rows_bytes: u64,
    pub encoded_width: usize,
}

/// An algorithm with its options read and checked (before any data is read).
pub struct Setup {
    pub algorithm: &'static Algorithm,
    pub learns: Learns,
    prep: PrepOptions,
    classifier: Option<ClassifierOptions>,
    recipe: Box<dyn algorithms::Recipe>,
}

impl Setup {
    pub fn read(
        algorithm: &'static Algorithm,
        learns: Learns,
        options: &Value,
        seed: i64,
        stored: bool,
    ) -> Result<Setup> {
        let opts = Options::new(options, algorithm.name)?;
        let opts = if stored { opts.stored() } else { opts };
        let prep = if matches!(learns, Learns::Histories | Learns::Interactions) {
            // purchase histories are read as they are: counts and times, never imputed (and
            // interactions are keys and strengths: nothing to preprocess)
            if learns == Learns::Interactions {
                // the interaction columns: checked to be names here, found by interactions.rs
                for key in algorithms::INTERACTION_OPTIONS {
                    opts.string(key)?;
                }
            }
            if learns == Learns::Histories {
                for key in algorithms::PREPROCESSING_OPTIONS {
                    opts.not_applicable(key, "A lifetime-value model reads frequency, recency and t as they are: no scaling, and NULL is an error.");
                }
            }
            PrepOptions {
                impute: crate::ml::preprocess::Impute::Error,
                max_categories: 1,
                scale: false,
                native_categories: false,
                text: crate::ml::preprocess::TextColumns::Listed(Vec::new()),
                ..PrepOptions::default()
            }
        } else {
            PrepOptions::read(&opts, algorithm.native_inputs, algorithm.all_text_is_free)?
        };
        let classifier = match learns {
            Learns::Classes => Some(ClassifierOptions::read(&opts)?),
            Learns::Values => {
                ClassifierOptions::not_for_regression(&opts);
                None
            }
            Learns::Segments | Learns::Histories | Learns::Interactions => None,
        };
        let recipe = (algorithm.recipe)(
            &opts,
            &RecipeContext {
                learns,
                seed: seed as u64,
            },
        )?;
        opts.finish(&algorithm.known_options())?;
        let mut prep = prep;
        if prep.text_vectors == crate::ml::preprocess::TextVectors::Embedding {
            // the sentence model, loaded before any row is read (errors say which setting)
            prep.encoder =
                crate::ml::text::embedded::EncoderHandle(Some(crate::api::embed::encoder()?));
        }
        if recipe.uses_device() {
            crate::gucs::check_device()?;
        }
        Ok(Setup {
            algorithm,
            learns,
            prep,
            classifier,
            recipe,
        })
    }

    /// Preprocesses, fits and evaluates on the rows of `frame` (a target read as text for
    /// classes, as numbers for values, not at all for segments), on insight.threads threads.
    /// Returns the model with its metrics and options, and the thread count.
    #[allow(clippy::too_many_arguments)]
    pub fn fit(
        &self,
        frame: &reader::Frame,
        specs: &[ColumnSpec],
        target: Option<&str>,
        test_size: f64,
        seed: i64,
        champion: Option<&Model>,
        memory: &RowMemory,
    ) -> Result<(supervised::Trained, usize)> {
        let threads = crate::gucs::threads();
        self.check_memory(frame, test_size, threads, memory)?;
        let (par, monitor) = (Parallel::new(threads), PgMonitor::new());
        let ctx = FitContext {
            par: &par,
            monitor: &monitor,
            device: crate::gucs::device(),
        };
        let inp = supervised::Inputs {
            frame,
            specs,
            prep: &self.prep,
            recipe: self.recipe.as_ref(),
            test_size,
            seed: seed as u64,
            ctx: &ctx,
            champion,
        };
        let trained = match (&frame.target, &self.classifier, target) {
            (Some(TargetColumn::Text(labels)), Some(cfg), Some(t)) => supervised::classify(&inp, labels, t, cfg)?,
            (Some(TargetColumn::Number(y)), None, Some(_)) => supervised::regress(&inp, y)?,
            (None, None, None) if self.learns == Learns::Histories => histories::fit(&inp)?,
            (None, None, None) => segments::segment(&inp)?,
            _ => unreachable!("the target is read as text for classes, as numbers for values, not at all for segments"),
        };
        Ok((trained, threads))
    }
}

impl Setup {
    /// Refuses (53200) a fit whose rows and the algorithm's working memory together pass
    /// insight.max_train_memory, before the algorithm allocates anything. Segments add the
    /// silhouette's sample (a copy of at most 10,000 rows and its tiles).
    fn check_memory(
        &self,
        frame: &reader::Frame,
        test_size: f64,
        threads: usize,
        memory: &RowMemory,
    ) -> Result<()> {
        let n = frame.n_rows;
        let classes = match &frame.target {
            Some(TargetColumn::Text(labels)) => labels
                .iter()
                .map(String::as_str)
                .collect::<std::collections::HashSet<&str>>()
                .len(),
            Some(TargetColumn::Number(_)) => 1,
            None => 0,
        };
        let rows = match self.learns {
            Learns::Classes | Learns::Values => n - (n as f64 * test_size).floor() as usize,
            _ => n,
        };
        let shape = crate::ml::memory::FitShape {
            rows,
            inputs: memory.encoded_width,
            classes,
            threads,
        };
        let mut working = self.recipe.working_memory(&shape);
        if self.learns == Learns::Segments {
            working = working.saturating_add(crate::ml::memory::bytes(
                n.min(segments::SILHOUETTE_SAMPLE),
                2 * 8 * memory.encoded_width,
            ));
        }
        crate::ml::memory::check_fit(
            self.algorithm.name,
            memory.rows_bytes,
            working,
            crate::gucs::max_train_memory(),
            self.recipe.memory_hint(),
        )?;
        Ok(())
    }
}

/// The algorithm (named, or the default for the target), what it learns from this target (or
/// without one), and the target column, checked against each other. Where the target's kind
/// decided (a numeric target), a NOTICE says what was chosen and why.
fn choose_algorithm(
    requested: Option<&str>,
    target: Option<ColumnInfo>,
    relation: &str,
) -> Result<(&'static Algorithm, Learns, Option<ColumnInfo>)> {
    let named = match requested {
        Some(a) => Some(algorithms::find(a).ok_or_else(|| {
            let known = algorithms::names().join(", ");
            InsightError::invalid_parameter(
                format!("unknown algorithm \"{a}\""),
                if algorithms::PLANNED.contains(&a) {
                    format!("Algorithm {a} is part of the API but not in this release; available: {known}.")
                } else {
                    format!("Available algorithms: {known}.")
                },
            )
        })?),
        None => None,
    };
    // segments and purchase histories are learned without a target
    let untargeted = named.and_then(|a| match a.learns {
        [Learns::Segments] => Some(Learns::Segments),
        [Learns::Histories] => Some(Learns::Histories),
        [Learns::Interactions] => Some(Learns::Interactions),
        _ => None,
    });
    let target = match (target, named) {
        (Some(t), _) if untargeted.is_some() => {
            return Err(InsightError::invalid_parameter(
                format!(
                    "algorithm {} {} without a target, but target {} was given",
                    named.unwrap().name,
                    match untargeted { Some(Learns::Segments) => "finds segments", Some(Learns::Interactions) => "recommends items from interactions", _ => "models purchase histories" },
                    ident(&t.name)
                ),
                "Leave target out; to predict the column, use a classifier or a regressor.",
            ))
        }
        (None, _) if untargeted.is_some() => return Ok((named.unwrap(), untargeted.unwrap(), None)),
        (Some(t), _) => t,
        (None, Some(a)) => {
            return Err(InsightError::invalid_parameter(
                format!("algorithm {} needs a target column", a.name),
                "Name the column to predict, e.g. target => 'purchased'.",
            ))
        }
        (None, None) => {
            return Err(InsightError::invalid_parameter(
                "train needs a target column or an algorithm",
                "Pass target => 'column_to_predict', or algorithm => 'kmeans' to find segments of similar rows.",
            ))
        }
    };
    let inferred = match named.map(|a| a.learns) {
        Some([_]) => None,
        _ => Some(columns::target_kind(&target, relation)),
    };
    let learns = match (named.map(|a| a.learns), &inferred) {
        (Some([only]), _) => *only,
        (_, Some(k)) if k.labels => Learns::Classes,
        _ => Learns::Values,
    };
    let algorithm = named.unwrap_or_else(|| algorithms::default_for(learns));
    let fits = match learns {
        Learns::Classes => target.kind.is_some(),
        Learns::Values => target.kind == Some(ValueKind::Number),
        Learns::Segments | Learns::Histories | Learns::Interactions => false,
    };
    if !fits {
        let message = match named {
            Some(a) => format!(
                "target column {} has type {}, which algorithm {} cannot predict",
                ident(&target.name),
                target.sql_type,
                a.name
            ),
            None => format!(
                "target column {} has type {}, which pg_insight cannot predict",
                ident(&target.name),
                target.sql_type
            ),
        };
        return Err(InsightError::datatype_mismatch(
            message,
            match (named.is_some(), learns) {
                (true, Learns::Classes) => "A classification target must be boolean, text, an enum or a number.",
                (true, _) => "A regression target must be numeric; for labels use algorithm => 'logistic'.",
                (false, _) => "A target is boolean, text or an enum (classified) or a number (classified or regressed); cast it in a view.",
            },
        ));
    }
    if let (Some(k), Some(ValueKind::Number)) = (&inferred, target.kind) {
        let (other, other_task) = match learns {
            Learns::Classes => ("linear", "regress it"),
            _ => ("logistic", "classify it"),
        };
        let switch = if named.is_some() {
            String::new()
        } else {
            format!("; pass algorithm => '{other}' to {other_task} instead")
        };
        notice!(
            "target {}: {} with {}, as {}{switch}",
            ident(&target.name),
            learns.describe(),
            algorithm.name,
            k.why
        );
    }
    Ok((algorithm, learns, Some(target)))
}

pub(crate) fn features_json(model: &Model, test_size: f64, seed: i64) -> Value {
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
