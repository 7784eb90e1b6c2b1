//! insight.report: a model version's report as one self-contained HTML page. This module gathers
//! what the page shows from the catalog (and, with a relation, scores it); `crate::report` lays
//! it out and `ml::report_data` computes the charts' numbers.

use crate::api::evaluate::{self, Scored};
use crate::api::regclass::RegClass;
use crate::data::columns;
use crate::data::reader::TargetColumn;
use crate::error::{required, InsightError, OrRaise, Result};
use crate::ml::linalg::Matrix;
use crate::ml::model::{Model, Task};
use crate::ml::parallel::Parallel;
use crate::ml::report_data::{self, ReportData};
use crate::report::{self, Deployment, DriftPoint, HistoryPoint, Profile, Report};
use crate::store::{cache, catalog};
use pgrx::prelude::*;
use pgrx::JsonB;
use serde_json::Value;

/// Rows a relation-based segment map or value chart reads at most (a seeded choice of rows is
/// drawn, the rest are not encoded).
const MAX_REPORT_ROWS: usize = 1_000_000;

/// The page for model version `model` ('name' for the deployed version or 'name@3'); with
/// `relation`, the evaluation charts are computed on its rows (held-out data with the training
/// columns), otherwise drawn from what training stored from its test split.
#[pg_extern(stable, parallel_restricted)]
fn report(model: Option<&str>, relation: default!(Option<RegClass>, "NULL")) -> String {
    let run = || -> Result<String> {
        let model = required(model, "model", "Name a model, e.g. insight.report('churn').")?;
        let relid = relation.map(|r| r.oid()).transpose()?;
        Ok(report::render(&gather(model, relid)?).0)
    };
    run().or_raise()
}

fn text(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or_default().to_string()
}

/// The key metric of a task for the history chart, and whether higher is better.
fn key_metric(task: &str) -> Option<(&'static str, bool)> {
    match task {
        "binary_classification" => Some(("roc_auc", true)),
        "multiclass_classification" => Some(("accuracy", true)),
        "regression" => Some(("r2", true)),
        "segmentation" => Some(("silhouette", true)),
        "recommendation" => Some(("precision_at_k", true)),
        _ => None,
    }
}

fn gather(model_ref: &str, relid: Option<pg_sys::Oid>) -> Result<Report> {
    let stored = catalog::resolve(&catalog::parse_ref(model_ref)?)?;
    let id = stored.id;
    let model = cache::load(stored)?;
    // every column but the weights, which the analyst may not read (and the page does not need)
    let report_data = catalog::report_data_expression();
    let row = crate::spi::select_one::<JsonB>(
        &format!(
            "SELECT pg_catalog.jsonb_build_object('name', m.name, 'version', m.version, 'task', m.task,
                    'algorithm', m.algorithm, 'relation', m.relation, 'target', m.target,
                    'features', m.features, 'options', m.options, 'metrics', m.metrics,
                    'n_rows', m.n_rows, 'train_seconds', m.train_seconds,
                    'created_at', pg_catalog.to_char(m.created_at, 'YYYY-MM-DD HH24:MI:SSOF'),
                    'created_by', m.created_by, 'report_data', {report_data})
               FROM insight.models m WHERE m.id OPERATOR(pg_catalog.=) $1"
        ),
        &[id.into()],
    )
    .map(|j| j.0)
    .ok_or_else(|| InsightError::undefined_object(format!("model \"{model_ref}\" was dropped while its report was drawn"), "Try again."))?;
    let name = text(&row, "name");
    let task = text(&row, "task");
    let key = key_metric(&task);

    let deployments = json_rows(
        "SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('version', m.version,
                'at', pg_catalog.to_char(d.deployed_at, 'YYYY-MM-DD HH24:MI:SSOF'), 'by', d.deployed_by,
                'cause', d.cause, 'reason', d.reason, 'model_id', d.model_id) ORDER BY d.id)
           FROM insight.deployments d JOIN insight.models m ON m.id OPERATOR(pg_catalog.=) d.model_id
          WHERE d.name OPERATOR(pg_catalog.=) $1",
        &[&name],
    );
    let deployed = deployments.last().and_then(|d| d["model_id"].as_i64()) == Some(id);
    let deployments = deployments
        .iter()
        .map(|d| Deployment {
            version: d["version"].as_i64().unwrap_or(0) as i32,
            at: text(d, "at"),
            by: text(d, "by"),
            cause: text(d, "cause"),
            reason: text(d, "reason"),
        })
        .collect();

    // each version's test metric at training, then every recorded evaluation, in time order
    let history = match key {
        Some((metric, _)) => json_rows(
            "SELECT pg_catalog.jsonb_agg(h ORDER BY h.at, h.version) FROM (
                SELECT m.version, m.created_at AS at, 'training' AS source,
                       m.metrics OPERATOR(pg_catalog.->>) $2 AS value
                  FROM insight.models m WHERE m.name OPERATOR(pg_catalog.=) $1
                UNION ALL
                SELECT e.version, e.evaluated_at, e.source, e.metrics OPERATOR(pg_catalog.->>) $2
                  FROM insight.evaluations e WHERE e.name OPERATOR(pg_catalog.=) $1) h
              WHERE h.value IS NOT NULL",
            &[name.as_str(), metric],
        ),
        None => Vec::new(),
    }
    .iter()
    .filter_map(|h| {
        Some(HistoryPoint {
            version: h["version"].as_i64()? as i32,
            at: text(h, "at"),
            source: text(h, "source"),
            value: h["value"].as_str()?.parse().ok()?,
        })
    })
    .collect();

    let drift = json_rows(
        "SELECT pg_catalog.jsonb_agg(d ORDER BY d.at) FROM (
            SELECT pg_catalog.to_char(recorded_at, 'YYYY-MM-DD HH24:MI:SSOF') AS at,
                   pg_catalog.max(psi) FILTER (WHERE feature OPERATOR(pg_catalog.=) '(score)') AS score,
                   pg_catalog.max(psi) FILTER (WHERE feature OPERATOR(pg_catalog.<>) '(score)') AS worst
              FROM insight.drift_history WHERE name OPERATOR(pg_catalog.=) $1 GROUP BY recorded_at) d",
        &[&name],
    )
    .iter()
    .map(|d| DriftPoint {
        at: text(d, "at"),
        score_psi: d["score"].as_f64(),
        worst_input_psi: d["worst"].as_f64(),
    })
    .collect();

    let mut importance: Vec<(String, f64)> = row["metrics"]["feature_importance"]
        .as_object()
        .map(|m| m.iter().filter_map(|(k, v)| Some((k.clone(), v.as_f64()?))).collect())
        .unwrap_or_default();
    importance.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));

    let (data, data_source) = match relid {
        Some(relid) => {
            let (d, source) = from_relation(model_ref, &model, id, relid)?;
            (Some(d), source)
        }
        None => stored_data(&row, &task),
    };

    Ok(Report {
        name,
        version: row["version"].as_i64().unwrap_or(0) as i32,
        algorithm: text(&row, "algorithm"),
        task,
        relation: text(&row, "relation"),
        target: row["target"].as_str().map(str::to_string),
        features: row["features"].clone(),
        options: row["options"].clone(),
        metrics: row["metrics"].clone(),
        n_rows: row["n_rows"].as_i64().unwrap_or(0),
        train_seconds: row["train_seconds"].as_f64().unwrap_or(0.0),
        created_at: text(&row, "created_at"),
        created_by: text(&row, "created_by"),
        deployed,
        deployments,
        key_metric: key.map(|(m, h)| (m.to_string(), h)),
        history,
        drift,
        importance,
        profile: profile(&model),
        data,
        data_source,
        generated_at: crate::spi::select_one::<String>(
            "SELECT pg_catalog.to_char(pg_catalog.statement_timestamp(), 'YYYY-MM-DD HH24:MI:SSOF')",
            &[],
        )
        .unwrap_or_default(),
    })
}

/// The rows of a query that returns one jsonb_agg, given text arguments.
fn json_rows(query: &str, args: &[&str]) -> Vec<Value> {
    let datums: Vec<pgrx::datum::DatumWithOid> = args.iter().map(|&p| p.into()).collect();
    match crate::spi::select_one::<JsonB>(query, &datums) {
        Some(JsonB(Value::Array(rows))) => rows,
        _ => Vec::new(),
    }
}

/// The chart data training stored, or why there is none.
fn stored_data(row: &Value, task: &str) -> (Option<ReportData>, String) {
    let stored = ReportData::from_json(&row["report_data"]).filter(ReportData::bounded);
    let relation = text(row, "relation");
    match stored {
        Some(d) => {
            let source = match (&d, task) {
                (ReportData::Segments(_), _) => format!("The segment map is drawn from a sample of the training rows of {relation}."),
                (ReportData::Value(_), _) => format!("Distributions over the customers of {relation} the model was fitted on."),
                (ReportData::Ranking(_), _) => format!("Held-out interactions of {relation}, split off at training."),
                _ => format!("Evaluation on the test split of {relation} held out at training ({} rows).", row["metrics"]["n_test"].as_u64().unwrap_or(0)),
            };
            (Some(d), source)
        }
        None => (
            None,
            "This version has no stored chart data (trained before this release, built by an aggregate or re-cut): pass a relation, insight.report(model, 'held_out_rows'), to compute the charts on it.".into(),
        ),
    }
}

/// A segmentation's profile grid: z of every input's mean per segment.
fn profile(model: &Model) -> Option<Profile> {
    let p = model.estimator.segment_profile()?;
    let rows = crate::ml::profile::rows(&model.preprocessor, p);
    let mut features: Vec<String> = Vec::new();
    for r in &rows {
        if !features.contains(&r.feature) {
            features.push(r.feature.clone());
        }
    }
    let k = p.sizes.len();
    let mut z = vec![vec![f64::NAN; features.len()]; k];
    for r in &rows {
        let f = features.iter().position(|f| *f == r.feature).unwrap_or(0);
        if let Some(cell) = z.get_mut(r.segment.wrapping_sub(1)).and_then(|row| row.get_mut(f)) {
            *cell = r.z.unwrap_or(f64::NAN);
        }
    }
    Some(Profile {
        segments: (1..=k as i32).collect(),
        customers: p.sizes.iter().map(|&s| s as i64).collect(),
        features,
        z,
    })
}

/// The chart data computed on the rows of `relid`.
fn from_relation(model_ref: &str, model: &Model, id: i64, relid: pg_sys::Oid) -> Result<(ReportData, String)> {
    let relation = columns::relation_name(relid);
    let data = match model.task {
        Task::Binary | Task::Multiclass | Task::Regression => {
            let Scored { model, outputs, target, .. } = evaluate::score_relation(model_ref, relid)?;
            match (target, model.task) {
                (TargetColumn::Text(labels), Task::Binary) => {
                    let idx = evaluate::class_indices(&model, &labels)?;
                    let truth: Vec<bool> = idx.iter().map(|&c| c == 1).collect();
                    ReportData::Binary(report_data::binary(&outputs, &truth, model.threshold))
                }
                (TargetColumn::Text(labels), _) => {
                    let idx = evaluate::class_indices(&model, &labels)?;
                    ReportData::Multiclass(report_data::multiclass(&outputs, &model.classes, &idx))
                }
                (TargetColumn::Number(y), _) => ReportData::Regression(report_data::regression(&outputs, &y)),
            }
        }
        Task::Segmentation => {
            let (x, rows) = encoded_rows(model_ref, model, relid, Some(report_data::SAMPLE_POINTS))?;
            let mut out = vec![0.0; model.outputs().max(1)];
            let segments: Vec<usize> = (0..x.rows)
                .map(|r| {
                    model.predict_encoded(x.row(r), &mut out);
                    out[0].max(1.0) as usize
                })
                .collect();
            let mut map = report_data::segment_map(&x, &segments, 42);
            map.rows = rows as u64;
            ReportData::Segments(map)
        }
        Task::LifetimeValue => {
            let (x, _) = encoded_rows(model_ref, model, relid, None)?;
            let unit = crate::spi::select_one::<String>(
                "SELECT options OPERATOR(pg_catalog.->>) 'unit' FROM insight.models WHERE id OPERATOR(pg_catalog.=) $1",
                &[id.into()],
            )
            .unwrap_or_else(|| "week".into());
            let v = report_data::value_distributions(model, &x, report_data::year_in(&unit), &unit)
                .ok_or_else(|| InsightError::not_supported(format!("model \"{model_ref}\" has no value charts"), "Report a BG/NBD, Pareto/NBD or Gamma-Gamma model."))?;
            ReportData::Value(v)
        }
        Task::Recommendation => {
            let r = crate::api::recommend::recommender(model);
            let held = crate::api::recommend::held_out(id, r, relid)?;
            if held.tests.is_empty() {
                return Err(InsightError::data(
                    format!("relation {relation} has no interactions to evaluate against"),
                    "Pass held-out (customer, item) rows with the training columns.",
                ));
            }
            let ks: Vec<usize> = [1, 2, 3, 5, 10, 15, 20].into_iter().filter(|&k| k <= r.items.len()).collect();
            let par = Parallel::new(crate::gucs::threads());
            let curve = r.evaluate_customers_at(&held.tests, &ks, &par, &crate::api::monitor::PgMonitor::new());
            ReportData::Ranking(report_data::RankingCurves::of(&curve, &[]))
        }
    };
    let source = match &data {
        ReportData::Segments(m) => format!("The segment map is drawn from {} rows of {relation} ({} read).", m.points.len(), m.rows),
        ReportData::Value(v) => format!("Distributions over the {} customers of {relation}.", v.customers),
        ReportData::Ranking(c) => format!("Held-out interactions of {} customers in {relation}.", c.customers),
        ReportData::Binary(c) => format!("Evaluation on the {} labelled rows of {relation}.", c.rows),
        ReportData::Regression(c) => format!("Evaluation on the {} labelled rows of {relation}.", c.rows),
        ReportData::Multiclass(c) => format!("Evaluation on the {} labelled rows of {relation}.", c.confusion.iter().flatten().sum::<u64>()),
    };
    Ok((data, source))
}

/// The model's inputs read from `relid` and encoded: every row, or a seeded choice of at most
/// `sample` of them; with the number of rows read.
fn encoded_rows(model_ref: &str, model: &Model, relid: pg_sys::Oid, sample: Option<usize>) -> Result<(Matrix, usize)> {
    let (relation, frame) = evaluate::read_features(model, relid, model_ref)?;
    let n = frame.n_rows;
    if n == 0 {
        return Err(InsightError::data(format!("relation {relation} has no rows"), "Report on a relation with customers in it."));
    }
    if n > MAX_REPORT_ROWS && sample.is_none() {
        return Err(InsightError::invalid_parameter(
            format!("relation {relation} has {n} rows; a report reads at most {MAX_REPORT_ROWS}"),
            "Pass a sample, e.g. a view with TABLESAMPLE.",
        ));
    }
    let rows: Vec<usize> = match sample {
        Some(s) if n > s => {
            use rand::SeedableRng;
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(42);
            let mut r = rand::seq::index::sample(&mut rng, n, s).into_vec();
            r.sort_unstable();
            r
        }
        _ => (0..n).collect(),
    };
    let x = model.preprocessor.encode_rows(&frame.columns, &rows).map_err(|e| {
        InsightError::data(format!("rows of {relation} cannot be encoded: {e:?}"), "Check the column values.")
    })?;
    Ok((x, n))
}
