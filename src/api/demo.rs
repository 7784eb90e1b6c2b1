//! Seeded demo / test data: customers with a planted purchase model, their orders, and the truth.

use crate::error::InsightError;
use crate::ml::synth;
use pgrx::prelude::*;
use pgrx::{AnyNumeric, JsonB};
use serde_json::json;

const MAX_DEMO_CUSTOMERS: i32 = 50_000_000;

fn check_n(n: i32) {
    if !(0..=MAX_DEMO_CUSTOMERS).contains(&n) {
        InsightError::invalid_parameter(
            format!("customers must be from 0 to {MAX_DEMO_CUSTOMERS}, got {n}"),
            "Ask for e.g. 10000 customers.",
        )
        .raise();
    }
}

fn numeric(v: f64) -> AnyNumeric {
    AnyNumeric::try_from(v).unwrap_or_default()
}

fn date(unix_days: i32) -> pgrx::datum::Date {
    // pgrx dates count days from 2000-01-01
    pgrx::datum::Date::saturating_from_raw(unix_days - 10957)
}

/// `customers` synthetic customers; the same seed gives the same customers. `purchased` is drawn
/// from the known logistic model that insight.demo_truth() returns.
#[pg_extern(immutable, parallel_safe)]
#[allow(clippy::type_complexity)]
fn demo_customers(
    customers: default!(i32, 10000),
    seed: default!(i64, 42),
) -> TableIterator<
    'static,
    (
        name!(customer_id, i64),
        name!(age, Option<i32>),
        name!(region, String),
        name!(channel, String),
        name!(tenure_days, i32),
        name!(visits_30d, i32),
        name!(email_opens_30d, Option<i32>),
        name!(support_tickets, i32),
        name!(avg_order_value, Option<AnyNumeric>),
        name!(days_since_last_purchase, i32),
        name!(is_member, bool),
        name!(signup_date, pgrx::datum::Date),
        name!(purchased, bool),
    ),
> {
    check_n(customers);
    let seed = seed as u64;
    TableIterator::new((0..customers as u64).map(move |i| {
        let c = synth::customer(seed, i);
        (
            c.customer_id,
            c.age,
            c.region.to_string(),
            c.channel.to_string(),
            c.tenure_days,
            c.visits_30d,
            c.email_opens_30d,
            c.support_tickets,
            c.avg_order_value.map(numeric),
            c.days_since_last_purchase,
            c.is_member,
            date(c.signup_date),
            c.purchased,
        )
    }))
}

/// The orders of the first `customers` demo customers of this seed.
#[pg_extern(immutable, parallel_safe)]
fn demo_orders(
    customers: default!(i32, 10000),
    seed: default!(i64, 42),
) -> TableIterator<
    'static,
    (
        name!(order_id, i64),
        name!(customer_id, i64),
        name!(order_date, pgrx::datum::Date),
        name!(amount, AnyNumeric),
    ),
> {
    check_n(customers);
    let seed = seed as u64;
    TableIterator::new((0..customers as u64).flat_map(move |i| {
        let c = synth::customer(seed, i);
        synth::orders_of(seed, &c).into_iter().map(|o| {
            (
                o.order_id,
                o.customer_id,
                date(o.order_date),
                numeric(o.amount),
            )
        })
    }))
}

/// Product interactions of the first `customers` demo customers of this seed, drawn from
/// planted tastes (ml::synth::interactions_of): each customer buys mostly from one or two of
/// eight categories (`coffee-07` is a coffee product); `planted_taste` is the main one.
#[pg_extern(immutable, parallel_safe)]
fn demo_interactions(
    customers: default!(i32, 10000),
    seed: default!(i64, 42),
) -> TableIterator<
    'static,
    (
        name!(customer_id, i64),
        name!(product_id, String),
        name!(quantity, i32),
        name!(interacted_on, pgrx::datum::Date),
        name!(planted_taste, String),
    ),
> {
    check_n(customers);
    let seed = seed as u64;
    TableIterator::new((1..=customers as i64).flat_map(move |c| {
        let taste = synth::CATEGORIES[synth::tastes_of(seed, c).0];
        synth::interactions_of(seed, c).into_iter().map(move |x| {
            (
                x.customer_id,
                x.product,
                x.quantity,
                date(x.day),
                taste.to_string(),
            )
        })
    }))
}

/// A product review by each of the first `customers` demo customers of this seed, in English
/// or Chinese, drawn from planted causes (ml::synth_reviews): aspects such as delivery or taste,
/// good or bad, and the customer's support tickets (demo_customers) decide the rating;
/// `satisfied` is a rating of 4 or 5. One review in ten is a stock one-liner ("good", "很好").
#[pg_extern(immutable, parallel_safe)]
fn demo_reviews(
    customers: default!(i32, 10000),
    seed: default!(i64, 42),
) -> TableIterator<
    'static,
    (
        name!(customer_id, i64),
        name!(language, String),
        name!(review, String),
        name!(rating, i32),
        name!(satisfied, bool),
    ),
> {
    check_n(customers);
    let seed = seed as u64;
    TableIterator::new((1..=customers as i64).map(move |c| {
        let r = crate::ml::synth_reviews::review_of(seed, c);
        (
            r.customer_id,
            r.language.to_string(),
            r.text,
            r.rating,
            r.satisfied,
        )
    }))
}

/// Behaviour of the first `customers` demo customers of this seed (join on customer_id), with
/// the planted segment each was drawn from (see demo_truth()->'segments').
#[pg_extern(immutable, parallel_safe)]
fn demo_behaviour(
    customers: default!(i32, 10000),
    seed: default!(i64, 42),
) -> TableIterator<
    'static,
    (
        name!(customer_id, i64),
        name!(sessions_30d, i32),
        name!(minutes_per_session, f64),
        name!(orders_12m, i32),
        name!(spend_12m, AnyNumeric),
        name!(discount_share, f64),
        name!(planted_segment, String),
    ),
> {
    check_n(customers);
    let seed = seed as u64;
    TableIterator::new((0..customers as u64).map(move |i| {
        let b = synth::behaviour(seed, i);
        (
            b.customer_id,
            b.sessions_30d,
            b.minutes_per_session,
            b.orders_12m,
            numeric(b.spend_12m),
            b.discount_share,
            synth::SEGMENTS[b.segment].0.to_string(),
        )
    }))
}

/// The planted truth behind the demo data: the log-odds model of `purchased` (demo_customers),
/// the BG/NBD and Gamma-Gamma processes of the orders (demo_orders) and the behavioural
/// segments (demo_behaviour).
#[pg_extern(immutable, parallel_safe)]
fn demo_truth() -> JsonB {
    let drivers: serde_json::Map<String, serde_json::Value> = synth::PURCHASE_TRUTH
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    let channel: serde_json::Map<String, serde_json::Value> = synth::CHANNEL_EFFECT
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    JsonB(json!({
        "target": "purchased",
        "intercept": synth::PURCHASE_INTERCEPT,
        "drivers": drivers,
        "channel_effect_vs_web": channel,
        "noise_features": synth::NOISE_FEATURES,
        "orders": {
            "unit": "week",
            "bgnbd": { "r": synth::ORDERS_BGNBD.0, "alpha": synth::ORDERS_BGNBD.1, "a": synth::ORDERS_BGNBD.2, "b": synth::ORDERS_BGNBD.3 },
            "gamma_gamma": { "p": synth::ORDERS_GAMMA_GAMMA.0, "q": synth::ORDERS_GAMMA_GAMMA.1, "v": synth::ORDERS_GAMMA_GAMMA.2 },
        },
        "segments": synth::SEGMENTS.iter().map(|(name, share, centre)| json!({
            "segment": name,
            "share": share,
            "centre": synth::BEHAVIOUR_COLUMNS.iter().zip(centre).map(|(c, v)| (c.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
        })).collect::<Vec<_>>(),
        "scale": "log-odds per standard deviation of the latent driver (is_member: per member)",
    }))
}
