//! The steps of training a recommender (als, item_knn, popularity) on a relation of
//! interactions: the customer, item and strength columns named by options, the keys read as text
//! whatever their type, duplicates summed, about `test_size` of every customer's items held out
//! to measure the model, the algorithm's recipe fitted on the rest. The stored model keeps every
//! interaction (held-out ones too) as what each customer already has.

use super::supervised::{object, Trained};
use super::Setup;
use crate::api::monitor::PgMonitor;
use crate::data::columns::{self, ColumnInfo};
use crate::data::reader::{self, ReadSpec};
use crate::error::{ident, InsightError, Result};
use crate::ml::algorithms::FitContext;
use crate::ml::model::Model;
use crate::ml::parallel::Parallel;
use crate::ml::preprocess::{RawColumn, ValueKind, NULL_CODE};
use crate::ml::recommend::interactions::Interactions;
use crate::ml::recommend::{Recommender, Scorer};
use pgrx::prelude::*;
use serde_json::{json, Value};
use std::time::Instant;

/// Held-out metrics are at this cut-off, over at most this many customers.
const EVAL_K: usize = 10;
const EVAL_MAX_CUSTOMERS: usize = 10_000;
/// List lengths of the report's ranking curves (EVAL_K among them).
const REPORT_KS: [usize; 7] = [1, 2, 3, 5, 10, 15, 20];
/// A strength beyond this would overflow the f32 the factors are fitted in.
const MAX_STRENGTH: f64 = 1e30;

/// The interaction columns: (option key, default column).
const COLUMNS: [(&str, Option<&str>); 3] = [
    ("customer", Some("customer_id")),
    ("item", Some("item_id")),
    ("strength", None),
];

/// What train stores for a recommender.
pub struct TrainedRecommender {
    pub trained: Trained,
    pub threads: usize,
    pub n_rows: usize,
    pub read_seconds: f64,
    pub features: Value,
}

/// The columns the options name (or the defaults), checked against the relation.
fn interaction_columns<'a>(
    cols: &'a [ColumnInfo],
    options: &Value,
    relation: &str,
    algorithm: &str,
) -> Result<Vec<Option<&'a ColumnInfo>>> {
    let mut out = Vec::new();
    let mut names: Vec<&str> = Vec::new();
    for (key, default) in COLUMNS {
        let name = match options.get(key) {
            None | Some(Value::Null) => default,
            Some(Value::String(s)) => Some(s.as_str()),
            Some(v) => {
                return Err(InsightError::invalid_parameter(
                    format!("option \"{key}\" of algorithm {algorithm} must name a column, got {v}"),
                    "e.g. options => '{\"customer\": \"customer_id\", \"item\": \"product_id\", \"strength\": \"quantity\"}'.",
                ))
            }
        };
        let Some(name) = name else {
            out.push(None);
            continue;
        };
        if names.contains(&name) {
            return Err(InsightError::invalid_parameter(
                format!(
                    "options customer, item and strength name column {} twice",
                    ident(name)
                ),
                "Name three different columns (strength is optional).",
            ));
        }
        names.push(name);
        let c = columns::find(cols, name, relation, key)?;
        if key == "strength" && !matches!(c.kind, Some(ValueKind::Number | ValueKind::Boolean)) {
            return Err(InsightError::datatype_mismatch(
                format!(
                    "strength column {} has type {}, but a strength is a number",
                    ident(name),
                    c.sql_type
                ),
                "Use a quantity, a rating or a count (int, numeric, float8), or leave strength out: each interaction then counts 1.",
            ));
        }
        out.push(Some(c));
    }
    Ok(out)
}

/// Compact ids for the dictionary codes of the rows kept: (id of each kept row, keys by id).
fn compact(column: &RawColumn, keep: &[bool]) -> (Vec<u32>, Vec<String>) {
    let RawColumn::Text { dict, codes } = column else {
        unreachable!("keys are read as text")
    };
    let mut id_of = vec![u32::MAX; dict.len()];
    let mut keys = Vec::new();
    let mut ids = Vec::with_capacity(codes.len());
    for (&c, &k) in codes.iter().zip(keep) {
        if !k {
            continue;
        }
        let slot = &mut id_of[c as usize];
        if *slot == u32::MAX {
            *slot = keys.len() as u32;
            keys.push(dict[c as usize].clone());
        }
        ids.push(*slot);
    }
    (ids, keys)
}

/// The interactions with the customers and items that have none left dropped (ids renumbered).
fn without_empty(
    all: Interactions,
    customers: Vec<String>,
    items: Vec<String>,
) -> (Interactions, Vec<String>, Vec<String>) {
    let used = |csr: &crate::ml::recommend::interactions::Csr, n: usize| -> Vec<bool> {
        (0..n).map(|r| !csr.range(r).is_empty()).collect()
    };
    let (users_used, items_used) = (
        used(&all.by_user, all.n_users),
        used(&all.by_item, all.n_items),
    );
    if users_used.iter().all(|&u| u) && items_used.iter().all(|&i| i) {
        return (all, customers, items);
    }
    let renumber = |used: &[bool]| -> Vec<u32> {
        let mut next = 0u32;
        used.iter()
            .map(|&u| {
                let id = if u { next } else { u32::MAX };
                next += u32::from(u);
                id
            })
            .collect()
    };
    let (new_user, new_item) = (renumber(&users_used), renumber(&items_used));
    let (mut us, mut is, mut ss) = (vec![], vec![], vec![]);
    for u in 0..all.n_users {
        for (i, s) in all.by_user.row(u) {
            us.push(new_user[u]);
            is.push(new_item[i]);
            ss.push(s);
        }
    }
    let keep = |keys: Vec<String>, used: &[bool]| -> Vec<String> {
        keys.into_iter()
            .zip(used)
            .filter_map(|(k, &u)| u.then_some(k))
            .collect()
    };
    let (customers, items) = (keep(customers, &users_used), keep(items, &items_used));
    let all = Interactions::from_triples(customers.len(), items.len(), &us, &is, &ss);
    (all, customers, items)
}

pub fn train(
    setup: &Setup,
    cols: &[ColumnInfo],
    relation: &str,
    options: &Value,
    test_size: f64,
    seed: i64,
    started: Instant,
) -> Result<TrainedRecommender> {
    let algorithm = setup.algorithm.name;
    let chosen = interaction_columns(cols, options, relation, algorithm)?;
    let inputs: Vec<(String, ValueKind)> = chosen
        .iter()
        .enumerate()
        .filter_map(|(j, c)| {
            c.map(|c| {
                // keys as text whatever their type; a boolean strength as 0/1
                let kind = if j < 2 {
                    ValueKind::Text
                } else {
                    c.kind.unwrap_or(ValueKind::Number)
                };
                (c.name.clone(), kind)
            })
        })
        .collect();
    let frame = reader::read(&ReadSpec {
        relation,
        inputs: &inputs,
        target: None,
        keys: true,
        text_budget: Some(crate::gucs::max_train_memory()),
        ordered: true,
    })?;
    let read_seconds = started.elapsed().as_secs_f64();
    let n = frame.n_rows;
    let strength: Option<&[f64]> = match frame.columns.get(2) {
        Some(RawColumn::Number(v)) => Some(v),
        _ => None,
    };
    let key_null = |j: usize, r: usize| match &frame.columns[j] {
        RawColumn::Text { codes, .. } => codes[r] == NULL_CODE,
        RawColumn::Number(_) => false,
    };
    let mut keep = vec![true; n];
    let mut skipped = 0usize;
    for (r, k) in keep.iter_mut().enumerate() {
        let s = strength.map(|s| s[r]);
        if key_null(0, r) || key_null(1, r) || s.is_some_and(f64::is_nan) {
            *k = false;
            skipped += 1;
        } else if let Some(s) = s.filter(|s| !s.is_finite() || s.abs() > MAX_STRENGTH) {
            return Err(InsightError::data(
                format!(
                    "strength column {} holds {s}, which is infinite or beyond ±1e30",
                    ident(&inputs[2].0)
                ),
                "Pass finite quantities, ratings or counts.",
            ));
        }
    }
    if skipped > 0 {
        notice!("{skipped} rows with a NULL customer, item or strength were left out of training");
    }
    let (users, customers) = compact(&frame.columns[0], &keep);
    let (items, item_keys) = compact(&frame.columns[1], &keep);
    let values: Vec<f32> = match strength {
        Some(s) => s
            .iter()
            .zip(&keep)
            .filter(|(_, &k)| k)
            .map(|(&v, _)| v as f32)
            .collect(),
        None => vec![1.0; users.len()],
    };
    let all = Interactions::from_triples(customers.len(), item_keys.len(), &users, &items, &values);
    // customers and items whose every pair summed to nothing (bought and returned) are no part
    // of the model: not recommended, not known
    let (all, customers, item_keys) = without_empty(all, customers, item_keys);
    if all.nnz() == 0 {
        return Err(InsightError::data(
            format!("relation {relation} has no interactions to learn from"),
            "Point train at (customer, item[, strength]) rows; rows whose strengths sum to 0 or less per customer and item are no interaction.",
        ));
    }
    let used_items = all.by_item.ptr.windows(2).filter(|w| w[1] > w[0]).count();
    if used_items < 2 {
        return Err(InsightError::data(
            format!("the interactions of {relation} involve {used_items} item: there is nothing to choose between"),
            "A recommender needs interactions with at least two items.",
        ));
    }

    let threads = crate::gucs::threads();
    let (par, monitor) = (Parallel::new(threads), PgMonitor::new());
    let ctx = FitContext {
        par: &par,
        monitor: &monitor,
        device: crate::gucs::device(),
    };
    let (train, held) = all.hold_out(test_size, seed as u64);
    let n_train = train.nnz();
    let fit_started = Instant::now();
    let (scorer, info) = setup.recipe.fit_interactions(&train, &ctx)?;
    let fit_seconds = fit_started.elapsed().as_secs_f64();

    // measured on the held-out items, each customer's training items left out
    let measured = Recommender::new(customers.clone(), item_keys.clone(), train.by_user, scorer);
    // one ranking per customer serves the stored metrics (at EVAL_K) and the report's curves
    let at = |r: &Recommender| r.evaluate_at(&held, &REPORT_KS, EVAL_MAX_CUSTOMERS, &par, &monitor);
    let curve = at(&measured);
    let test = curve[REPORT_KS.iter().position(|&k| k == EVAL_K).unwrap_or(0)].clone();
    let Recommender { scorer, seen, .. } = measured;
    let baseline_curve = at(&Recommender::new(
        customers.clone(),
        item_keys.clone(),
        seen,
        Scorer::Popularity,
    ));
    let baseline = baseline_curve[REPORT_KS.iter().position(|&k| k == EVAL_K).unwrap_or(0)].clone();
    let report = crate::ml::report_data::RankingCurves::of(&curve, &baseline_curve);

    let recommender = Recommender::new(customers, item_keys, all.by_user, scorer);
    let mut metrics = object(serde_json::to_value(&test).unwrap_or(Value::Null));
    metrics.insert("test_customers".into(), json!(test.customers));
    metrics.remove("customers");
    metrics.insert(
        "test_interactions".into(),
        json!(held.iter().map(Vec::len).sum::<usize>()),
    );
    metrics.insert("customers".into(), json!(recommender.customers.len()));
    metrics.insert("items".into(), json!(recommender.items.len()));
    metrics.insert("interactions".into(), json!(recommender.seen.nnz()));
    metrics.insert("n_train".into(), json!(n_train));
    metrics.insert("skipped_rows".into(), json!(skipped));
    metrics.insert(
        "baseline_popularity".into(),
        json!({
            "precision_at_k": baseline.precision_at_k,
            "recall_at_k": baseline.recall_at_k,
            "ndcg_at_k": baseline.ndcg_at_k,
            "map_at_k": baseline.map_at_k,
        }),
    );
    metrics.insert("fit_seconds".into(), json!(fit_seconds));
    metrics.extend(info);

    let mut opts = object(setup.recipe.options());
    let mut features = serde_json::Map::new();
    for ((key, _), c) in COLUMNS.iter().zip(&chosen) {
        opts.insert((*key).into(), json!(c.map(|c| c.name.clone())));
        features.insert(
            (*key).into(),
            c.map_or(
                Value::Null,
                |c| json!({ "name": c.name, "type": c.sql_type }),
            ),
        );
    }
    let model = Model::recommender(recommender);
    Ok(TrainedRecommender {
        trained: Trained {
            model,
            metrics,
            options: opts,
            report: Some(crate::ml::report_data::ReportData::Ranking(report)),
        },
        threads,
        n_rows: n,
        read_seconds,
        features: json!({
            "interactions": features,
            "split": { "test_size": test_size, "seed": seed, "held_out": "per customer" },
        }),
    })
}
