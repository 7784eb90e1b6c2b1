//! Customer-value aggregates over raw orders: `insight.clv_summary(order_date, amount,
//! calibration_end [, unit])` -> insight.clv_stats, one row per customer with GROUP BY, in the
//! convention of the `lifetimes` package (ml::clv::summary). PARALLEL SAFE: each worker
//! summarises its rows, combine adds per purchase day.
//!
//! The support functions are C functions declared in sql/finalize.sql (see api::agg_state for
//! how a state is checked).

use crate::api::agg_state::{
    aggregate_context, arg, combine_flat, composite, flat_arg_mut, new_flat, null, state_arg,
    varlena_bytes, StateKind,
};
use crate::error::{InsightError, OrRaise, Result};
use crate::ml::clv::summary::{flat, Purchases, Unit};
use pgrx::prelude::*;

impl StateKind for Purchases {
    const KIND: u8 = 2;
    const NAME: &'static str = "clv_summary";
    const AGGREGATES: &'static str =
        "insight.clv_summary(order_date, amount, calibration_end [, unit])";

    fn encode(&self) -> Vec<u8> {
        flat::from_purchases(self)
    }

    fn decode(bytes: &[u8]) -> std::result::Result<Purchases, String> {
        flat::to_purchases(bytes, MAX_DAYS).ok_or_else(|| {
            "days not ascending, an amount below 0 or not finite, or too many days".into()
        })
    }
}

/// Most distinct purchase days one customer's state may hold (a century of days).
const MAX_DAYS: usize = 36_600;

unsafe fn unit_arg(fcinfo: pg_sys::FunctionCallInfo) -> Result<Unit> {
    if (*fcinfo).nargs < 5 {
        return Ok(Unit::Week);
    }
    let Some(d) = arg(fcinfo, 4) else {
        return Err(InsightError::null_value(
            "unit must not be NULL",
            "Use 'day', 'week' (the default) or 'month'.",
        ));
    };
    let s = std::str::from_utf8(varlena_bytes(d)).unwrap_or("");
    Unit::parse(s).ok_or_else(|| {
        InsightError::invalid_parameter(
            format!("unit must be day, week or month, got \"{}\"", s.escape_default()),
            "week divides days by 7 and month by 30, as lifetimes does with freq 'D' and freq_multiplier 7 or 30.",
        )
    })
}

fn amount_of(d: pg_sys::Datum) -> Result<f64> {
    let v = unsafe { pgrx::direct_function_call::<f64>(pg_sys::numeric_float8, &[Some(d)]) }
        .unwrap_or(f64::NAN);
    if !v.is_finite() {
        return Err(InsightError::data(
            "an order amount is NaN or too large for float8",
            "Filter those orders out.",
        ));
    }
    if v < 0.0 {
        return Err(InsightError::data(
            format!("an order amount is negative ({v})"),
            "The models take purchases: net refunds into their orders first, or filter them out (WHERE amount >= 0).",
        ));
    }
    Ok(v)
}

fn too_much() -> InsightError {
    InsightError::out_of_range(
        "a customer's order amounts add up beyond float8",
        "Check the amounts' unit (cents in a dollars column?), or filter absurd amounts out.",
    )
}

unsafe fn step(fcinfo: pg_sys::FunctionCallInfo) -> Result<pg_sys::Datum> {
    aggregate_context::<Purchases>(fcinfo, "insight._clv_summary_step");
    let cal = match arg(fcinfo, 3) {
        Some(d) => d.value() as i32,
        None => {
            return Err(InsightError::null_value(
                "calibration_end must not be NULL",
                "Pass the last day of the calibration period, e.g. '1997-09-30'; orders after it are left out.",
            ))
        }
    };
    if cal == i32::MIN || cal == i32::MAX {
        return Err(InsightError::invalid_parameter(
            "calibration_end must be a date, not infinity",
            "Pass the last day of the calibration period, e.g. '1997-09-30'.",
        ));
    }
    let unit = unit_arg(fcinfo)?;
    let (mut datum, mut b) = match flat_arg_mut::<Purchases>(fcinfo) {
        Some(held) => held,
        None => new_flat::<Purchases>(&flat::new(cal, unit, 4)),
    };
    let h = flat::header(b)
        .ok_or_else(|| InsightError::corrupt("a clv_summary state cannot be read", ""))?;
    if h.calibration_end != cal || h.unit != unit {
        return Err(InsightError::invalid_parameter(
            "calibration_end and unit must be the same for every order of a customer",
            "Pass constants, e.g. insight.clv_summary(order_date, amount, '1997-09-30', 'week').",
        ));
    }
    // an order without a date is left out; one without an amount is an error
    let Some(day) = arg(fcinfo, 1) else {
        return Ok(datum);
    };
    let Some(amount) = arg(fcinfo, 2) else {
        return Err(InsightError::null_value(
            "an order amount is NULL",
            "Pass 0 for orders without an amount, or filter them out.",
        ));
    };
    let day = day.value() as i32;
    if day == i32::MIN || day == i32::MAX {
        return Err(InsightError::data(
            "an order date is infinity",
            "Filter those orders out.",
        ));
    }
    let amount = amount_of(amount)?;
    loop {
        match flat::add(b, day, amount) {
            flat::Added::Done(true) => break,
            flat::Added::Done(false) => return Err(too_much()),
            flat::Added::Full => (datum, b) = new_flat::<Purchases>(&flat::grown(b)),
        }
    }
    if h.n >= MAX_DAYS && flat::header(b).is_some_and(|now| now.n > MAX_DAYS) {
        return Err(InsightError::data(
            format!("a customer has more than {MAX_DAYS} purchase days"),
            "Group by customer: GROUP BY customer_id.",
        ));
    }
    Ok(datum)
}

function_info_v1!(pg_finfo_insight_clv_summary_step);
/// insight._clv_summary_step(insight.agg_state, date, numeric, date [, text]) RETURNS insight.agg_state
#[no_mangle]
#[doc(hidden)]
#[pg_guard]
pub unsafe extern "C-unwind" fn insight_clv_summary_step(
    fcinfo: pg_sys::FunctionCallInfo,
) -> pg_sys::Datum {
    step(fcinfo).or_raise()
}

function_info_v1!(pg_finfo_insight_clv_summary_combine);
/// insight._clv_summary_combine(insight.agg_state, insight.agg_state) RETURNS insight.agg_state
#[no_mangle]
#[doc(hidden)]
#[pg_guard]
pub unsafe extern "C-unwind" fn insight_clv_summary_combine(
    fcinfo: pg_sys::FunctionCallInfo,
) -> pg_sys::Datum {
    aggregate_context::<Purchases>(fcinfo, "insight._clv_summary_combine");
    combine_flat::<Purchases>(fcinfo, |a, b| {
        if a.calibration_end != b.calibration_end || a.unit != b.unit {
            InsightError::invalid_parameter(
                "calibration_end and unit must be the same for every order of a customer",
                "Pass constants.",
            )
            .raise()
        }
        if !a.merge(b) {
            too_much().raise()
        }
        if a.days.len() > MAX_DAYS {
            InsightError::data(
                format!("a customer has more than {MAX_DAYS} purchase days"),
                "Group by customer.",
            )
            .raise()
        }
    })
}

function_info_v1!(pg_finfo_insight_clv_summary_final);
/// insight._clv_summary_final(insight.agg_state) RETURNS insight.clv_stats: NULL for a customer without
/// a purchase on or before the calibration end.
#[no_mangle]
#[doc(hidden)]
#[pg_guard]
pub unsafe extern "C-unwind" fn insight_clv_summary_final(
    fcinfo: pg_sys::FunctionCallInfo,
) -> pg_sys::Datum {
    aggregate_context::<Purchases>(fcinfo, "insight._clv_summary_final");
    let stats = state_arg::<Purchases>(fcinfo, 0).and_then(|p| p.stats());
    let Some(s) = stats else {
        return null(fcinfo);
    };
    if !s.monetary_value.is_finite() {
        too_much().raise()
    }
    composite(
        fcinfo,
        "insight._clv_summary_final",
        "insight.clv_stats",
        &[
            pg_sys::INT4OID,
            pg_sys::FLOAT8OID,
            pg_sys::FLOAT8OID,
            pg_sys::FLOAT8OID,
        ],
        vec![
            pg_sys::Datum::from(s.frequency),
            s.recency.into_datum().expect("float8"),
            s.t.into_datum().expect("float8"),
            s.monetary_value.into_datum().expect("float8"),
        ],
    )
}

// ------------------------------------------------------------------------------------------
// scoring a lifetime-value model

use crate::api::predict::{call_site, scores, CallSite};
use crate::ml::clv::bgnbd::{self, Customer};
use crate::ml::clv::Transactions;
use crate::ml::model::{Estimator, Model};
use pgrx::AnyElement;

/// The transaction model (BG/NBD or Pareto/NBD) behind `m`, and the customer `x` (frequency,
/// recency, t) checked.
fn history(model_name: &str, m: &Model, x: &[f64], what: &str) -> Result<(Transactions, Customer)> {
    let t = match &m.estimator {
        Estimator::BgNbd(p) => Transactions::BgNbd(*p),
        Estimator::ParetoNbd(p) => Transactions::ParetoNbd(*p),
        _ => {
            return Err(InsightError::not_supported(
                format!("{what} needs a BG/NBD or Pareto/NBD model, but model \"{model_name}\" is not one (its task: {})", m.task.as_str()),
                "Train one with algorithm => 'bgnbd' on customers' frequency, recency and t (insight.clv_summary).",
            ))
        }
    };
    let c = bgnbd::customer_of(x).map_err(|why| {
        InsightError::data(
            format!("cannot score {why}"),
            "Pass a customer's summary as insight.clv_summary gives it.",
        )
    })?;
    Ok((t, c))
}

/// A score, or 22003 where the model's formula gives no finite number for these inputs (an
/// absurd horizon or discount, parameters at the edge of the formula's domain).
fn finite(v: f64, what: &str) -> Result<f64> {
    if v.is_finite() {
        // -0 is 0
        Ok(v + 0.0)
    } else {
        Err(InsightError::out_of_range(
            format!("the model gives no finite {what} for this customer and horizon"),
            "Use a horizon and discount rate in the range of the data, or retrain (a penalised fit has parameters at the edge of the formulas).",
        ))
    }
}

fn with_site<R>(fcinfo: pg_sys::FunctionCallInfo, run: impl FnOnce(&mut CallSite) -> R) -> R {
    // SAFETY: pgrx hands a scalar function its own FunctionCallInfo
    match unsafe { call_site(fcinfo) } {
        Some(site) => run(site),
        None => run(&mut CallSite::default()),
    }
}

/// The probability that a customer with this history (a row with the model's frequency,
/// recency and t columns, or ARRAY[frequency, recency, t]) is still alive.
#[pg_extern(stable, parallel_safe)]
fn p_alive(model: &str, row_or_array: AnyElement, fcinfo: pg_sys::FunctionCallInfo) -> f64 {
    with_site(fcinfo, |site| {
        scores(site, model, &row_or_array, true, |m, x, _| {
            let (p, c) = history(model, m, x, "insight.p_alive")?;
            finite(p.p_alive(&c), "P(alive)")
        })
    })
}

/// The purchases a customer with this history is expected to make in the next `horizon` units
/// (the model's unit: weeks for insight.clv_summary's default).
#[pg_extern(stable, parallel_safe)]
fn expected_purchases(
    model: &str,
    row_or_array: AnyElement,
    horizon: f64,
    fcinfo: pg_sys::FunctionCallInfo,
) -> f64 {
    with_site(fcinfo, |site| {
        scores(site, model, &row_or_array, true, |m, x, _| {
            if !(horizon.is_finite() && horizon >= 0.0) {
                return Err(InsightError::invalid_parameter(
                    format!("horizon must be a finite number >= 0, got {horizon}"),
                    "Pass the number of units ahead, e.g. 52 for a year in weeks.",
                ));
            }
            let (p, c) = history(model, m, x, "insight.expected_purchases")?;
            finite(p.expected_purchases(&c, horizon), "expected purchases")
        })
    })
}

/// The value of a customer over the next `horizon` months (a whole number), discounted by
/// `discount_rate` a month, from a Gamma-Gamma model paired with a BG/NBD or Pareto/NBD model
/// (options.transactions at training), as lifetimes' GammaGammaFitter.customer_lifetime_value
/// computes it. The row has
/// the model's frequency, recency, t and monetary_value columns (or ARRAY[...] in that order).
#[pg_extern(stable, parallel_safe)]
fn predict_clv(
    model: &str,
    row_or_array: AnyElement,
    horizon: f64,
    discount_rate: default!(f64, 0.0),
    fcinfo: pg_sys::FunctionCallInfo,
) -> f64 {
    with_site(fcinfo, |site| {
        scores(site, model, &row_or_array, true, |m, x, _| {
            let Estimator::GammaGamma {
                model: gg,
                transactions: paired,
                per_month,
            } = &m.estimator
            else {
                return Err(InsightError::not_supported(
                    format!("insight.predict_clv needs a Gamma-Gamma model, but model \"{model}\" is a {} model", m.task.as_str()),
                    "Train one with algorithm => 'gamma_gamma' and options => '{\"transactions\": \"your_bgnbd_model\"}'.",
                ));
            };
            let Some(transactions) = paired else {
                return Err(InsightError::not_supported(
                    format!("Gamma-Gamma model \"{model}\" was trained without a BG/NBD or Pareto/NBD model to count transactions"),
                    "Train it again with options => '{\"transactions\": \"your_bgnbd_model\"}'.",
                ));
            };
            if !(horizon.is_finite()
                && horizon >= 0.0
                && horizon.fract() == 0.0
                && horizon <= 1200.0)
            {
                return Err(InsightError::invalid_parameter(
                    format!(
                        "horizon must be a whole number of months from 0 to 1200, got {horizon}"
                    ),
                    "lifetimes' customer_lifetime_value sums whole months, e.g. 12 for a year.",
                ));
            }
            if !(discount_rate.is_finite() && discount_rate > -1.0) {
                return Err(InsightError::invalid_parameter(
                    format!("discount_rate must be a monthly rate above -1, got {discount_rate}"),
                    "e.g. 0.01 for 1% a month.",
                ));
            }
            let c = bgnbd::customer_of(x)
                .and_then(|c| bgnbd::check_monetary(x[3]).map(|_| c))
                .map_err(|why| {
                    InsightError::data(
                        format!("cannot value {why}"),
                        "Pass a customer's summary as insight.clv_summary gives it.",
                    )
                })?;
            finite(
                gg.clv(
                    transactions,
                    &c,
                    x[3],
                    horizon as u32,
                    discount_rate,
                    *per_month,
                ),
                "lifetime value",
            )
        })
    })
}

// ------------------------------------------------------------------------------------------
// RFM

use crate::ml::clv::rfm::{self, Decimal, Rfm};

impl StateKind for Rfm {
    const KIND: u8 = 3;
    const NAME: &'static str = "rfm";
    const AGGREGATES: &'static str = "insight.rfm(order_date, amount, as_of)";

    fn encode(&self) -> Vec<u8> {
        self.to_flat().to_vec()
    }

    fn decode(bytes: &[u8]) -> std::result::Result<Rfm, String> {
        Rfm::from_flat(bytes)
            .ok_or_else(|| "another length, a scale beyond 12 decimals, or first after last".into())
    }
}

fn overflow() -> InsightError {
    InsightError::data(
        "a customer's amounts add up beyond 10^26",
        "Group by customer: GROUP BY customer_id.",
    )
}

unsafe fn rfm_step(fcinfo: pg_sys::FunctionCallInfo) -> Result<pg_sys::Datum> {
    aggregate_context::<Rfm>(fcinfo, "insight._rfm_step");
    let as_of = match arg(fcinfo, 3) {
        Some(d) if !matches!(d.value() as i32, i32::MIN | i32::MAX) => d.value() as i32,
        Some(_) => {
            return Err(InsightError::invalid_parameter(
                "as_of must be a date, not infinity",
                "Pass the day the analysis is made for, e.g. current_date.",
            ))
        }
        None => {
            return Err(InsightError::null_value(
                "as_of must not be NULL",
                "Pass the day the analysis is made for, e.g. current_date.",
            ))
        }
    };
    let (datum, b) = match flat_arg_mut::<Rfm>(fcinfo) {
        Some(held) => held,
        None => new_flat::<Rfm>(&Rfm::new(as_of).to_flat()),
    };
    let mut r = Rfm::decode(b)
        .map_err(|why| InsightError::corrupt(format!("an rfm state cannot be read: {why}"), ""))?;
    if r.as_of != as_of {
        return Err(InsightError::invalid_parameter(
            "as_of must be the same for every order of a customer",
            "Pass a constant, e.g. insight.rfm(order_date, amount, '2026-06-30').",
        ));
    }
    let Some(day) = arg(fcinfo, 1) else {
        return Ok(datum);
    };
    let day = day.value() as i32;
    if day == i32::MIN || day == i32::MAX {
        return Err(InsightError::data(
            "an order date is infinity",
            "Filter those orders out.",
        ));
    }
    let Some(amount) = arg(fcinfo, 2) else {
        return Err(InsightError::null_value(
            "an order amount is NULL",
            "Pass 0 for orders without an amount, or filter them out.",
        ));
    };
    let text: &std::ffi::CStr = pgrx::direct_function_call(pg_sys::numeric_out, &[Some(amount)])
        .expect("numeric_out returns text");
    let text = text.to_str().unwrap_or("");
    let value = Decimal::parse(text).ok_or_else(|| {
        InsightError::data(
            format!(
                "an order amount ({text}) is not a finite amount with at most {} decimals",
                rfm::MAX_SCALE
            ),
            "Round amounts, e.g. round(amount, 2), or filter NaN and infinite amounts out.",
        )
    })?;
    if !r.add(day, value) {
        return Err(overflow());
    }
    b.copy_from_slice(&r.to_flat());
    Ok(datum)
}

function_info_v1!(pg_finfo_insight_rfm_step);
/// insight._rfm_step(insight.agg_state, date, numeric, date) RETURNS insight.agg_state
#[no_mangle]
#[doc(hidden)]
#[pg_guard]
pub unsafe extern "C-unwind" fn insight_rfm_step(
    fcinfo: pg_sys::FunctionCallInfo,
) -> pg_sys::Datum {
    rfm_step(fcinfo).or_raise()
}

function_info_v1!(pg_finfo_insight_rfm_combine);
/// insight._rfm_combine(insight.agg_state, insight.agg_state) RETURNS insight.agg_state
#[no_mangle]
#[doc(hidden)]
#[pg_guard]
pub unsafe extern "C-unwind" fn insight_rfm_combine(
    fcinfo: pg_sys::FunctionCallInfo,
) -> pg_sys::Datum {
    aggregate_context::<Rfm>(fcinfo, "insight._rfm_combine");
    combine_flat::<Rfm>(fcinfo, |a, b| {
        if a.as_of != b.as_of {
            InsightError::invalid_parameter(
                "as_of must be the same for every order of a customer",
                "Pass a constant.",
            )
            .raise()
        }
        if !a.merge(&b) {
            overflow().raise()
        }
    })
}

function_info_v1!(pg_finfo_insight_rfm_final);
/// insight._rfm_final(insight.agg_state) RETURNS insight.rfm_stats: NULL without an order on or before as_of.
#[no_mangle]
#[doc(hidden)]
#[pg_guard]
pub unsafe extern "C-unwind" fn insight_rfm_final(
    fcinfo: pg_sys::FunctionCallInfo,
) -> pg_sys::Datum {
    aggregate_context::<Rfm>(fcinfo, "insight._rfm_final");
    let Some(s) = state_arg::<Rfm>(fcinfo, 0).and_then(|r| r.stats()) else {
        return null(fcinfo);
    };
    let text = std::ffi::CString::new(s.monetary.to_text()).expect("digits");
    let monetary: pgrx::AnyNumeric = pgrx::direct_function_call(
        pg_sys::numeric_in,
        &[
            Some(pg_sys::Datum::from(text.as_ptr())),
            Some(pg_sys::Datum::from(pg_sys::InvalidOid)),
            Some(pg_sys::Datum::from(-1i32)),
        ],
    )
    .expect("numeric_in returns a numeric");
    let monetary = monetary.into_datum().expect("numeric");
    composite(
        fcinfo,
        "insight._rfm_final",
        "insight.rfm_stats",
        &[
            pg_sys::INT4OID,
            pg_sys::INT4OID,
            pg_sys::NUMERICOID,
            pg_sys::INT4OID,
        ],
        vec![
            pg_sys::Datum::from(s.recency_days),
            pg_sys::Datum::from(s.frequency.min(i32::MAX as i64) as i32),
            monetary,
            pg_sys::Datum::from(s.tenure_days),
        ],
    )
}

/// The named RFM segment of recency, frequency and monetary scores (1 to 5 each, 5 the best:
/// the most recent, most frequent, highest spending), by the map in the README.
#[pg_extern(immutable, parallel_safe)]
fn rfm_segment(r_score: i32, f_score: i32, m_score: i32) -> &'static str {
    rfm::segment(r_score, f_score, m_score).unwrap_or_else(|| {
        InsightError::invalid_parameter(
            format!("RFM scores must be 1 to 5, got ({r_score}, {f_score}, {m_score})"),
            "Score with ntile(5) OVER (ORDER BY ...): recency descending, frequency and monetary ascending.",
        )
        .raise()
    })
}
