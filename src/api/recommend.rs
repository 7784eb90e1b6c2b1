//! Recommendations from a recommender model (als, item_knn, popularity): the top items for a
//! customer with the reason for each, similar items and customers, and ranking metrics on
//! held-out interactions. Customer and item keys of any type are compared as their type's
//! output text, as training read them.

use crate::api::predict::Stamp;
use crate::api::regclass::RegClass;
use crate::data::columns;
use crate::data::reader::{self, ReadSpec};
use crate::error::{ident, required, InsightError, OrRaise, Result};
use crate::ml::model::{Estimator, Model};
use crate::ml::parallel::Parallel;
use crate::ml::preprocess::{RawColumn, ValueKind, NULL_CODE};
use crate::ml::recommend::{Reason, Recommender};
use crate::store::{cache, catalog};
use pgrx::prelude::*;
use pgrx::{AnyElement, JsonB};
use serde_json::{json, Value};
use std::cell::RefCell;
use std::rc::Rc;

thread_local! {
    /// The model the last call resolved, and for which statement: `CROSS JOIN LATERAL
    /// insight.recommend(...)` calls once per customer, and a set-returning function has no
    /// per-call-site state to keep it in.
    static LAST: RefCell<Option<(String, Stamp, i64, Rc<Model>)>> = const { RefCell::new(None) };
}

/// The recommender `model` names, resolved again once per statement, with its model id.
pub(crate) fn load_with_id(model: &str) -> Result<(i64, Rc<Model>)> {
    let stamp = Stamp::now();
    let hit = LAST.with(|l| {
        l.borrow()
            .as_ref()
            .filter(|(name, s, _, _)| name == model && *s == stamp)
            .map(|(_, _, id, m)| (*id, m.clone()))
    });
    if let Some(found) = hit {
        return Ok(found);
    }
    let stored = catalog::resolve(&catalog::parse_ref(model)?)?;
    let m = cache::load(stored)?;
    if !matches!(m.estimator, Estimator::Recommender(_)) {
        return Err(InsightError::not_supported(
            format!(
                "model \"{model}\" is a {} model, not a recommender",
                m.task.as_str()
            ),
            "Train one on interactions with algorithm => 'als', 'item_knn' or 'popularity'.",
        ));
    }
    LAST.with(|l| *l.borrow_mut() = Some((model.to_string(), stamp, stored.id, m.clone())));
    Ok((stored.id, m))
}

/// The recommender `model` names (see `load_with_id`).
fn load(model: &str) -> Result<Rc<Model>> {
    Ok(load_with_id(model)?.1)
}

pub(crate) fn recommender(m: &Model) -> &Recommender {
    match &m.estimator {
        Estimator::Recommender(r) => r,
        _ => unreachable!("load() returns recommenders only"),
    }
}

/// A key as its type's output function writes it (what training read with format('%s', c)).
fn key_text(key: &AnyElement) -> String {
    let (mut out_fn, mut varlena) = (pg_sys::Oid::INVALID, false);
    // SAFETY: `key` is a datum of type `key.oid()` that PostgreSQL handed this call; the output
    // function returns a palloc'd C string, freed after it is copied
    unsafe {
        pg_sys::getTypeOutputInfo(key.oid(), &mut out_fn, &mut varlena);
        let c = pg_sys::OidOutputFunctionCall(out_fn, key.datum());
        let s = std::ffi::CStr::from_ptr(c).to_string_lossy().into_owned();
        pg_sys::pfree(c.cast());
        s
    }
}

/// `k` as a count of items: at least 1, at most the items the model has.
fn count(k: i32, r: &Recommender) -> Result<usize> {
    if k < 1 {
        return Err(InsightError::invalid_parameter(
            format!("k must be at least 1, got {k}"),
            "Ask for the number of items to return, e.g. k => 10.",
        ));
    }
    Ok((k as usize).min(r.items.len()))
}

/// The top `k` items for `customer` that they have not interacted with (all items with
/// `exclude_seen => false`), best first, with the reason: the customer's own item that
/// contributes most to the score, or `popular` for a customer the model has not seen (and for a
/// popularity model). A NULL customer gets no rows.
#[pg_extern(stable, parallel_safe)]
fn recommend(
    model: Option<&str>,
    customer: Option<AnyElement>,
    k: default!(Option<i32>, 10),
    exclude_seen: default!(Option<bool>, true),
) -> TableIterator<
    'static,
    (
        name!(item, String),
        name!(score, f64),
        name!(reason, String),
    ),
> {
    let run = || -> Result<Vec<(String, f64, String)>> {
        let model = required(model, "model", "Name a recommender, e.g. 'recs'.")?;
        let k = required(k, "k", "Leave it out for the default 10.")?;
        let exclude_seen = required(
            exclude_seen,
            "exclude_seen",
            "Leave it out for the default true.",
        )?;
        let m = load(model)?;
        let r = recommender(&m);
        let k = count(k, r)?;
        let Some(customer) = customer else {
            return Ok(Vec::new());
        };
        let u = r.customer(&key_text(&customer));
        Ok(
            r.recommend(u, k, exclude_seen, &crate::api::monitor::PgMonitor::new())
                .into_iter()
                .map(|rec| {
                    let reason = match rec.reason {
                        Reason::Item(j) => r.items[j].clone(),
                        Reason::Popular => "popular".to_string(),
                    };
                    (r.items[rec.item].clone(), rec.score, reason)
                })
                .collect(),
        )
    };
    TableIterator::new(run().or_raise())
}

/// The `k` items most like `item`: cosine on the item factors (als), the stored neighbours
/// (item_knn).
#[pg_extern(stable, parallel_safe)]
fn similar_items(
    model: Option<&str>,
    item: Option<AnyElement>,
    k: default!(Option<i32>, 10),
) -> TableIterator<'static, (name!(item, String), name!(similarity, f64))> {
    let run = || -> Result<Vec<(String, f64)>> {
        let model = required(model, "model", "Name a recommender, e.g. 'recs'.")?;
        let k = required(k, "k", "Leave it out for the default 10.")?;
        let m = load(model)?;
        let r = recommender(&m);
        let k = count(k, r)?;
        let Some(item) = item else {
            return Ok(Vec::new());
        };
        let key = key_text(&item);
        let i = r.item(&key).ok_or_else(|| {
            InsightError::undefined_object(
                format!("item {key} is not in model \"{model}\""),
                "similar_items knows the items of the training interactions.",
            )
        })?;
        let sims = r.similar_items(i, k).ok_or_else(|| {
            InsightError::not_supported(
                format!("model \"{model}\" is a popularity model: it has no item similarities"),
                "Train als or item_knn for similar items.",
            )
        })?;
        Ok(sims
            .into_iter()
            .map(|(j, s)| (r.items[j].clone(), s))
            .collect())
    };
    TableIterator::new(run().or_raise())
}

/// The `k` customers most like `customer` by cosine on the customer factors (als models).
#[pg_extern(stable, parallel_safe)]
fn similar_customers(
    model: Option<&str>,
    customer: Option<AnyElement>,
    k: default!(Option<i32>, 10),
) -> TableIterator<'static, (name!(customer, String), name!(similarity, f64))> {
    let run = || -> Result<Vec<(String, f64)>> {
        let model = required(model, "model", "Name a recommender, e.g. 'recs'.")?;
        let k = required(k, "k", "Leave it out for the default 10.")?;
        let m = load(model)?;
        let r = recommender(&m);
        if k < 1 {
            return Err(InsightError::invalid_parameter(
                format!("k must be at least 1, got {k}"),
                "Ask for the number of customers to return, e.g. k => 10.",
            ));
        }
        let Some(customer) = customer else {
            return Ok(Vec::new());
        };
        let key = key_text(&customer);
        let u = r.customer(&key).ok_or_else(|| {
            InsightError::undefined_object(
                format!("customer {key} is not in model \"{model}\""),
                "similar_customers knows the customers of the training interactions.",
            )
        })?;
        let sims = r
            .similar_customers(u, (k as usize).min(r.customers.len()))
            .ok_or_else(|| {
                InsightError::not_supported(
                    format!(
                        "model \"{model}\" ({}) has no customer factors",
                        r.algorithm()
                    ),
                    "Train als for similar customers.",
                )
            })?;
        Ok(sims
            .into_iter()
            .map(|(v, s)| (r.customers[v].clone(), s))
            .collect())
    };
    TableIterator::new(run().or_raise())
}

/// Held-out interactions read from a relation with the model's customer and item columns:
/// per customer (None: one the model has not seen) their distinct items (an item the model
/// does not know has an index past its items).
pub(crate) struct HeldOut {
    pub tests: Vec<(Option<usize>, Vec<usize>)>,
    pub unknown_customers: usize,
    pub unknown_items: usize,
    pub skipped: usize,
    pub relation: String,
    pub inputs: Vec<(String, ValueKind)>,
}

pub(crate) fn held_out(id: i64, r: &Recommender, relid: pg_sys::Oid) -> Result<HeldOut> {
    let options = crate::spi::select_one::<JsonB>(
        "SELECT options FROM insight.models WHERE id OPERATOR(pg_catalog.=) $1",
        &[id.into()],
    )
    .map(|j| j.0)
    .unwrap_or(Value::Null);
    let relation = columns::relation_name(relid);
    let cols = columns::relation_columns(relid);
    let mut inputs = Vec::new();
    for key in ["customer", "item"] {
        let name = options.get(key).and_then(Value::as_str).unwrap_or_default();
        let c = columns::find(&cols, name, &relation, key)?;
        inputs.push((c.name.clone(), ValueKind::Text));
    }
    let frame = reader::read(&ReadSpec {
        relation: &relation,
        inputs: &inputs,
        target: None,
        keys: true,
        text_budget: None,
        ordered: false,
    })?;
    let (
        RawColumn::Text {
            dict: cd,
            codes: cc,
        },
        RawColumn::Text {
            dict: id,
            codes: ic,
        },
    ) = (&frame.columns[0], &frame.columns[1])
    else {
        unreachable!("keys are read as text")
    };
    // per test customer (by dictionary code): their distinct test items
    let customer_of: Vec<Option<usize>> = cd.iter().map(|c| r.customer(c)).collect();
    let item_of: Vec<usize> = id
        .iter()
        .enumerate()
        .map(|(j, i)| r.item(i).unwrap_or(r.items.len() + j))
        .collect();
    let mut held: Vec<Vec<usize>> = vec![Vec::new(); cd.len()];
    let mut skipped = 0usize;
    for (&c, &i) in cc.iter().zip(ic) {
        if c == NULL_CODE || i == NULL_CODE {
            skipped += 1;
            continue;
        }
        held[c as usize].push(item_of[i as usize]);
    }
    let tests: Vec<(Option<usize>, Vec<usize>)> = held
        .into_iter()
        .enumerate()
        .filter(|(_, items)| !items.is_empty())
        .map(|(c, mut items)| {
            items.sort_unstable();
            items.dedup();
            (customer_of[c], items)
        })
        .collect();
    let unknown_customers = tests.iter().filter(|(u, _)| u.is_none()).count();
    let unknown_items = item_of.iter().filter(|&&i| i >= r.items.len()).count();
    Ok(HeldOut {
        tests,
        unknown_customers,
        unknown_items,
        skipped,
        relation,
        inputs,
    })
}

/// Ranking metrics of the model's top `k` against the interactions in `test_relation` (the
/// columns the model was trained on, by name): precision@k, recall@k, NDCG@k, MAP@k over the
/// customers in it, and the coverage of the items. Each customer's recommendations leave out
/// what they had in training; a customer the model has not seen gets the popular items, an item
/// it does not know counts as missed.
#[pg_extern(stable, parallel_restricted)]
fn evaluate_recommender(
    model: Option<&str>,
    test_relation: Option<RegClass>,
    k: default!(Option<i32>, 10),
) -> JsonB {
    let run = || -> Result<Value> {
        let model = required(model, "model", "Name a recommender, e.g. 'recs'.")?;
        let rel = required(
            test_relation,
            "test_relation",
            "Name a table or view of held-out interactions.",
        )?;
        let k = required(k, "k", "Leave it out for the default 10.")?;
        let relid = rel.oid()?;
        let (id, m) = load_with_id(model)?;
        let r = recommender(&m);
        let k = count(k, r)?;
        let HeldOut {
            tests,
            unknown_customers,
            unknown_items,
            skipped,
            relation,
            inputs,
        } = held_out(id, r, relid)?;
        let par = Parallel::new(crate::gucs::threads());
        let metrics = r.evaluate_customers(&tests, k, &par, &crate::api::monitor::PgMonitor::new());
        let mut out = serde_json::to_value(&metrics).unwrap_or(Value::Null);
        out["unknown_customers"] = json!(unknown_customers);
        out["unknown_items"] = json!(unknown_items);
        out["skipped_rows"] = json!(skipped);
        if tests.is_empty() {
            return Err(InsightError::data(
                format!("relation {relation} has no interactions to evaluate against"),
                format!(
                    "Pass held-out ({}, {}) rows.",
                    ident(&inputs[0].0),
                    ident(&inputs[1].0)
                ),
            ));
        }
        Ok(out)
    };
    JsonB(run().or_raise())
}
