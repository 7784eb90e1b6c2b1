//! Training aggregates: one model per group in one query.
//!
//! ```sql
//! SELECT region, insight.kmeans_agg(ARRAY[recency, frequency, monetary], 4) FROM customers GROUP BY region;
//! SELECT insight.fit_agg('logistic', ARRAY[age, visits_30d], purchased) FROM customers;
//! ```
//! Each group's rows go into a bounded, order-independent sample (ml::reservoir: the
//! `sample_size` rows of lowest hash priority), so memory per group is bounded and a parallel
//! aggregate (each worker samples its rows; combine merges samples) gives exactly the serial
//! result. The final function trains on the sample with the pipeline insight.train uses
//! (api::train::Setup) and returns a bundle (ml::bundle) that insight.save_model stores.
//!
//! The support functions are C functions declared in sql/finalize.sql, so that an argument is
//! read only when needed (options and the algorithm once per group, not per row). Their state
//! is an `insight.agg_state` (api::agg_state: why, and how each function checks what it gets).

use crate::api::agg_state::{
    aggregate_context as context, arg, bincode_encode, combine, give, keep, new_state, null,
    state_arg, state_arg_mut, varlena_bytes, StateKind,
};
use crate::api::train::{self, Setup};
use crate::data::reader::{Frame, TargetColumn};
use crate::data::row::{read_datum, AttrRead};
use crate::error::{ident, InsightError, OrRaise, Result};
use crate::ml::algorithms::{self, Learns};
use crate::ml::bundle::Bundle;
use crate::ml::preprocess::Value as Read;
use crate::ml::preprocess::{ColumnSpec, RawColumn, ValueKind};
use crate::ml::reservoir::{Entry, Label, Reservoir};
use pgrx::prelude::*;
use pgrx::JsonB;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Rows kept per group by default, and at most.
const SAMPLE_SIZE: usize = 100_000;
const MAX_SAMPLE_SIZE: usize = 10_000_000;
/// Inputs per row at most.
const MAX_WIDTH: usize = 10_000;
/// Sampled values per group at most (rows x inputs: 800 MB of float8).
const MAX_SAMPLED_VALUES: usize = 100_000_000;
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
enum TargetKind {
    /// kmeans_agg
    None,
    /// boolean, text-like: labels
    Text,
    /// integers: labels for classifiers, values for regression
    Integer,
    /// float, numeric: values (labels for logistic)
    Float,
}

/// One group's state: what to train, and the sample.
#[derive(Serialize, Deserialize, Clone, Debug)]
struct Job {
    /// kmeans, or the algorithm fit_agg names
    algorithm: String,
    /// The options as the algorithm reads them (k included for kmeans_agg), as JSON text
    /// (bincode, which serialises the state, cannot read a serde_json::Value back).
    options: String,
    /// The options argument's bytes and k, as the group's first row gave them: every other row
    /// must give the same.
    options_raw: Vec<u8>,
    k: i32,
    target: TargetKind,
    width: usize,
    test_size: f64,
    seed: i64,
    capacity: usize,
    /// Rows left out: NULL inputs array or NULL target.
    skipped: u64,
}

#[derive(Clone)]
pub(crate) struct State {
    job: Job,
    sample: Reservoir,
}

impl StateKind for State {
    const KIND: u8 = 1;
    const NAME: &'static str = "training";
    const AGGREGATES: &'static str = "insight.kmeans_agg(...) or insight.fit_agg(...)";

    fn encode(&self) -> Vec<u8> {
        bincode_encode(&Stored {
            job: self.job.clone(),
            seen: self.sample.seen,
            entries: self.sample.entries().cloned().collect(),
        })
    }

    fn decode(bytes: &[u8]) -> std::result::Result<State, String> {
        decode_state(bytes)
    }
}

/// The flat state.
#[derive(Serialize, Deserialize)]
struct Stored {
    job: Job,
    seen: u64,
    entries: Vec<Entry>,
}

enum Kind {
    KMeans,
    Fit,
}

// ------------------------------------------------------------------------------------------
// arguments

unsafe fn text_arg(d: pg_sys::Datum, what: &str) -> Result<String> {
    std::str::from_utf8(varlena_bytes(d))
        .map(str::to_string)
        .map_err(|_| {
            InsightError::invalid_parameter(
                format!("{what} is not valid UTF-8"),
                "Pass plain text.",
            )
        })
}

/// The inputs array: float8[] of one dimension (NULL elements are NULL inputs).
unsafe fn features(d: pg_sys::Datum) -> Result<Vec<f64>> {
    let arr = pg_sys::pg_detoast_datum(d.cast_mut_ptr()) as *mut pg_sys::ArrayType;
    if (*arr).elemtype != pg_sys::FLOAT8OID {
        return Err(InsightError::datatype_mismatch(
            "the inputs of a training aggregate must be a float8[] array",
            "Cast them: ARRAY[a, b, c]::float8[].",
        ));
    }
    let ndim = (*arr).ndim;
    if ndim > 1 {
        return Err(InsightError::array_length(
            format!("the inputs array has {ndim} dimensions; a row's inputs are one dimension"),
            "Pass ARRAY[a, b, c] per row.",
        ));
    }
    let array: pgrx::datum::Array<f64> = pgrx::datum::Array::from_polymorphic_datum(
        pg_sys::Datum::from(arr),
        false,
        pg_sys::FLOAT8ARRAYOID,
    )
    .expect("a non-null array");
    let mut out = Vec::with_capacity(array.len());
    for v in array.iter() {
        match v {
            None => out.push(f64::NAN),
            Some(x) if !x.is_finite() => {
                return Err(InsightError::data(
                    format!("the inputs array holds {}", if x.is_nan() { "NaN" } else { "Infinity" }),
                    "Models need finite numbers: use NULL for a missing value (it is imputed) or filter those rows out.",
                ))
            }
            Some(x) => out.push(x),
        }
    }
    Ok(out)
}

fn sample_settings(
    options: &mut serde_json::Map<String, Value>,
    fit: bool,
) -> Result<(usize, f64, i64)> {
    let bad = |key: &str, want: &str, got: &Value| {
        InsightError::invalid_parameter(
            format!("option \"{key}\" of a training aggregate must be {want}"),
            format!("Got {got}."),
        )
    };
    let capacity = match options.remove("sample_size") {
        None => SAMPLE_SIZE,
        Some(v) => match v.as_u64() {
            Some(n) if (10..=MAX_SAMPLE_SIZE as u64).contains(&n) => n as usize,
            _ => {
                return Err(bad(
                    "sample_size",
                    &format!("an integer from 10 to {MAX_SAMPLE_SIZE}"),
                    &v,
                ))
            }
        },
    };
    let test_size = match options.remove("test_size") {
        None => 0.2,
        Some(v) if !fit => {
            return Err(bad(
                "test_size",
                "left out: segmentation has no test split",
                &v,
            ))
        }
        Some(v) => match v.as_f64() {
            Some(t) if t > 0.0 && t < 1.0 => t,
            _ => return Err(bad("test_size", "a number between 0 and 1 (exclusive)", &v)),
        },
    };
    // the seed stays in the options too: the algorithm reads it (its restarts, its split)
    let seed = match options.get("seed") {
        None => 42,
        Some(v) => match v.as_i64() {
            Some(s) if s >= 0 => s,
            _ => return Err(bad("seed", "a non-negative integer", v)),
        },
    };
    Ok((capacity, test_size, seed))
}

fn target_kind(typ: pg_sys::Oid) -> Option<(TargetKind, AttrRead)> {
    let read = AttrRead::for_type(typ)?;
    let kind = match read {
        AttrRead::Bool | AttrRead::Text | AttrRead::Bpchar | AttrRead::Name | AttrRead::Enum(_) => {
            TargetKind::Text
        }
        AttrRead::Int2 | AttrRead::Int4 | AttrRead::Int8 => TargetKind::Integer,
        AttrRead::Float4 | AttrRead::Float8 | AttrRead::Numeric => TargetKind::Float,
        _ => return None,
    };
    Some((kind, read))
}

/// What `algorithm` learns from a target of this kind: classes or values. mlp classifies
/// boolean, text and integer targets and regresses float and numeric ones.
fn learns(algorithm: &algorithms::Algorithm, target: TargetKind) -> Result<Learns> {
    let can = |l: Learns| algorithm.learns.contains(&l);
    match target {
        TargetKind::None => Ok(Learns::Segments),
        TargetKind::Text | TargetKind::Integer if can(Learns::Classes) => Ok(Learns::Classes),
        TargetKind::Float if can(Learns::Values) => Ok(Learns::Values),
        TargetKind::Float if can(Learns::Classes) => Ok(Learns::Classes),
        TargetKind::Integer if can(Learns::Values) => Ok(Learns::Values),
        _ => Err(InsightError::datatype_mismatch(
            format!(
                "algorithm {} predicts numbers, but the target is not a number",
                algorithm.name
            ),
            "Use a numeric target, or algorithm 'logistic' or 'mlp' to classify.",
        )),
    }
}

/// The job a group's first row describes, its options checked by the algorithm as
/// insight.train checks them.
fn new_job(
    kind: &Kind,
    algorithm: &str,
    k: i32,
    options: Value,
    options_raw: Vec<u8>,
    target: TargetKind,
) -> Result<Job> {
    let Value::Object(mut o) = options else {
        return Err(InsightError::invalid_parameter(
            "options of a training aggregate must be a JSON object",
            "e.g. '{\"sample_size\": 50000}'.",
        ));
    };
    let (capacity, test_size, seed) = sample_settings(&mut o, matches!(kind, Kind::Fit))?;
    let alg = match kind {
        Kind::KMeans => {
            if let Some(v) = o.get("k") {
                if v.as_i64() != Some(k as i64) {
                    return Err(InsightError::invalid_parameter(
                        format!("kmeans_agg takes k as its second argument ({k}), but options also say k = {v}"),
                        "Leave k out of the options.",
                    ));
                }
            }
            o.insert("k".into(), json!(k));
            algorithms::find("kmeans").expect("kmeans is registered")
        }
        Kind::Fit => {
            let a = algorithms::find(algorithm).ok_or_else(|| {
                InsightError::invalid_parameter(
                    format!("unknown algorithm \"{algorithm}\""),
                    format!(
                        "fit_agg trains {}.",
                        algorithms::ALGORITHMS
                            .iter()
                            .filter(|a| (a.learns.contains(&Learns::Classes)
                                || a.learns.contains(&Learns::Values))
                                && !a.all_text_is_free)
                            .map(|a| a.name)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            })?;
            if let [untargeted @ (Learns::Segments | Learns::Histories | Learns::Interactions)] =
                a.learns
            {
                return Err(InsightError::invalid_parameter(
                    format!(
                        "fit_agg trains supervised models, but {} is a {} algorithm",
                        a.name,
                        untargeted.describe()
                    ),
                    "Use insight.kmeans_agg(inputs, k) for segments, insight.train for the others.",
                ));
            }
            if a.all_text_is_free {
                return Err(InsightError::invalid_parameter(
                    format!("fit_agg trains on numeric arrays, but {} learns from text columns", a.name),
                    "Use logistic for the same model over numbers; text models train with insight.train.",
                ));
            }
            a
        }
    };
    let options = Value::Object(o);
    // every option is checked now, at the group's first row, not after the whole scan
    Setup::read(alg, learns(alg, target)?, &options, seed, false)?;
    Ok(Job {
        algorithm: alg.name.to_string(),
        options: options.to_string(),
        options_raw,
        k,
        target,
        width: 0,
        test_size,
        seed,
        capacity,
        skipped: 0,
    })
}

fn not_same(what: &str) -> InsightError {
    InsightError::invalid_parameter(
        format!("{what} must be the same for every row of a group"),
        "Pass constants, e.g. insight.kmeans_agg(ARRAY[a, b], 4, '{\"seed\": 1}').",
    )
}

// ------------------------------------------------------------------------------------------
// transition functions

unsafe fn step(fcinfo: pg_sys::FunctionCallInfo, kind: Kind) -> pg_sys::Datum {
    let name = match kind {
        Kind::KMeans => "insight._kmeans_agg_step",
        Kind::Fit => "insight._fit_agg_step",
    };
    let keep = keep::<State>(fcinfo, name);
    let (datum, s) = match state_arg_mut::<State>(fcinfo, &keep) {
        Some(held) => held,
        None => new_state(keep.ctx(), first_row(fcinfo, &kind).or_raise()),
    };
    same_as_first(fcinfo, &kind, &s.job).or_raise();
    add_row(fcinfo, &kind, s).or_raise();
    give(&keep, datum)
}

/// Where the inputs array is among the arguments (after the state, and fit_agg's algorithm).
fn inputs_at(kind: &Kind) -> usize {
    match kind {
        Kind::KMeans => 1,
        Kind::Fit => 2,
    }
}

unsafe fn k_arg(fcinfo: pg_sys::FunctionCallInfo, kind: &Kind) -> Result<i32> {
    match kind {
        Kind::KMeans => match arg(fcinfo, 2) {
            Some(d) => Ok(d.value() as i32),
            None => Err(InsightError::null_value(
                "k must not be NULL",
                "Pass the number of segments, e.g. 4.",
            )),
        },
        Kind::Fit => Ok(0),
    }
}

unsafe fn options_raw<'a>(fcinfo: pg_sys::FunctionCallInfo, kind: &Kind) -> &'a [u8] {
    arg(fcinfo, inputs_at(kind) + 2).map_or(&b""[..], |d| varlena_bytes(d))
}

unsafe fn algorithm_arg(fcinfo: pg_sys::FunctionCallInfo, kind: &Kind) -> Result<String> {
    match kind {
        Kind::KMeans => Ok("kmeans".into()),
        Kind::Fit => match arg(fcinfo, 1) {
            Some(d) => text_arg(d, "algorithm"),
            None => Err(InsightError::null_value(
                "algorithm must not be NULL",
                "Pass 'logistic', 'linear' or 'mlp'.",
            )),
        },
    }
}

/// The type of fit_agg's target: from the call, or, where the caller passes no call expression
/// (Citus's worker_partial_agg calls the transition function so), the declared type of the
/// overload called. sql/finalize.sql declares fit_agg for each target type, besides anyelement,
/// because Citus distributes no polymorphic aggregate.
unsafe fn target_type(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Oid {
    let t = pg_sys::get_fn_expr_argtype((*fcinfo).flinfo, 3);
    if t != pg_sys::InvalidOid {
        return t;
    }
    let mut types: *mut pg_sys::Oid = std::ptr::null_mut();
    let mut n: i32 = 0;
    pg_sys::get_func_signature((*(*fcinfo).flinfo).fn_oid, &mut types, &mut n);
    match (n > 3 && !types.is_null()).then(|| *types.add(3)) {
        Some(t) if t != pg_sys::ANYELEMENTOID => t,
        _ => pg_sys::InvalidOid,
    }
}

/// The job of a group's first row: its algorithm, k, options and target type, checked.
unsafe fn first_row(fcinfo: pg_sys::FunctionCallInfo, kind: &Kind) -> Result<State> {
    let k = k_arg(fcinfo, kind)?;
    let algorithm = algorithm_arg(fcinfo, kind)?;
    let options: Value = match arg(fcinfo, inputs_at(kind) + 2) {
        None => json!({}),
        Some(d) => crate::api::json_arg::parse_jsonb(d, "options")?,
    };
    let target =
        match kind {
            Kind::KMeans => TargetKind::None,
            Kind::Fit => {
                let t = target_type(fcinfo);
                target_kind(t).map(|(k, _)| k).ok_or_else(|| {
                    InsightError::datatype_mismatch(
                    format!("a target of type {} cannot be learned", crate::spi::type_name(t)),
                    "Use a boolean, integer, numeric, float or text target (or cast it to one).",
                )
                })?
            }
        };
    let job = new_job(
        kind,
        &algorithm,
        k,
        options,
        options_raw(fcinfo, kind).to_vec(),
        target,
    )?;
    let sample = Reservoir::new(job.capacity, job.seed as u64);
    Ok(State { job, sample })
}

/// Every row of a group passes the first row's k, options and algorithm (compared as bytes:
/// no parsing per row).
unsafe fn same_as_first(fcinfo: pg_sys::FunctionCallInfo, kind: &Kind, job: &Job) -> Result<()> {
    if k_arg(fcinfo, kind)? != job.k {
        return Err(not_same("k"));
    }
    if options_raw(fcinfo, kind) != job.options_raw.as_slice() {
        return Err(not_same("options"));
    }
    if let Kind::Fit = kind {
        let same = arg(fcinfo, 1).is_some_and(|d| varlena_bytes(d) == job.algorithm.as_bytes());
        if !same {
            return Err(not_same("algorithm"));
        }
    }
    Ok(())
}

unsafe fn add_row(fcinfo: pg_sys::FunctionCallInfo, kind: &Kind, s: &mut State) -> Result<()> {
    let Some(d) = arg(fcinfo, inputs_at(kind)) else {
        s.job.skipped = s.job.skipped.saturating_add(1);
        return Ok(());
    };
    let values = features(d)?;
    if values.is_empty() || values.len() > MAX_WIDTH {
        return Err(InsightError::array_length(
            format!(
                "the inputs array has {} elements; a model takes 1 to {MAX_WIDTH}",
                values.len()
            ),
            "Pass the row's inputs, e.g. ARRAY[recency, frequency, monetary].",
        ));
    }
    if s.job.width == 0 {
        if values.len().saturating_mul(s.job.capacity) > MAX_SAMPLED_VALUES {
            return Err(InsightError::invalid_parameter(
                format!(
                    "a sample of {} rows of {} inputs is more than {MAX_SAMPLED_VALUES} values",
                    s.job.capacity,
                    values.len()
                ),
                "Lower options.sample_size.",
            ));
        }
        s.job.width = values.len();
    } else if values.len() != s.job.width {
        return Err(InsightError::array_length(
            format!(
                "the inputs array has {} elements, but the group's first row had {}",
                values.len(),
                s.job.width
            ),
            "Every row of a group must pass the same inputs, in the same order.",
        ));
    }
    let label = match kind {
        Kind::KMeans => Label::None,
        Kind::Fit => {
            let Some(t) = arg(fcinfo, 3) else {
                s.job.skipped = s.job.skipped.saturating_add(1);
                return Ok(());
            };
            let typ = target_type(fcinfo);
            let (tk, read) = target_kind(typ)
                .ok_or_else(|| InsightError::datatype_mismatch("the target's type changed", ""))?;
            if tk != s.job.target {
                return Err(not_same("the target's type"));
            }
            match read_datum(&read, t) {
                Ok(Read::Number(v)) if !v.is_finite() => {
                    return Err(InsightError::data(
                        "the target holds NaN or Infinity",
                        "Filter those rows out, e.g. WHERE target <> 'NaN'.",
                    ))
                }
                Ok(Read::Number(v)) if matches!(read, AttrRead::Bool) => {
                    Label::Text(if v != 0.0 { "true" } else { "false" }.into())
                }
                Ok(Read::Number(v)) => Label::Number(v),
                Ok(Read::Text(t)) => Label::Text(t.to_string()),
                Ok(Read::Null) => {
                    s.job.skipped = s.job.skipped.saturating_add(1);
                    return Ok(());
                }
                Err(_) => {
                    return Err(InsightError::data(
                        "the target holds text that is not valid in this database's encoding",
                        "Clean the target column.",
                    ))
                }
            }
        }
    };
    if s.sample.offer(&values, label) {
        check_sample_memory(kind_name(kind), &s.job, s.sample.len())?;
    }
    Ok(())
}

fn kind_name(kind: &Kind) -> &'static str {
    match kind {
        Kind::KMeans => "insight.kmeans_agg",
        Kind::Fit => "insight.fit_agg",
    }
}

/// The bytes a target label takes in a group's sample and its training rows (as training reads
/// one: 8 a number, 32 a label read as text).
fn target_bytes(t: TargetKind) -> usize {
    match t {
        TargetKind::None => 0,
        TargetKind::Text => 32,
        TargetKind::Integer | TargetKind::Float => 8,
    }
}

/// 53200 once a group holds more sampled rows than insight.max_train_memory leaves room for:
/// each kept row costs its place in the sample and its share of the final function's training
/// rows (ml::memory::sample_row_bytes), so the group stops before it holds more than its
/// training could use, not after the whole scan.
fn check_sample_memory(aggregate: &str, job: &Job, held: usize) -> Result<()> {
    let budget = crate::gucs::max_train_memory();
    let fits = crate::ml::memory::sample_rows_within(budget, job.width, target_bytes(job.target));
    if held as u64 <= fits {
        return Ok(());
    }
    Err(InsightError::out_of_memory(
        format!(
            "a group of {aggregate} needs more than insight.max_train_memory ({} MB): its sample passed the {fits} rows of {} inputs that fit ({} bytes a row: the sampled row and the rows its model trains on), of options.sample_size {}",
            budget >> 20,
            job.width,
            crate::ml::memory::sample_row_bytes(job.width, target_bytes(job.target)),
            job.capacity
        ),
        format!(
            "Lower options.sample_size{}, pass fewer inputs, or have a superuser raise insight.max_train_memory.",
            if fits >= 10 { format!(" to at most {fits}") } else { String::new() }
        ),
    ))
}

function_info_v1!(pg_finfo_insight_kmeans_agg_step);
/// insight._kmeans_agg_step(insight.agg_state, float8[], int [, jsonb]) RETURNS insight.agg_state
#[no_mangle]
#[doc(hidden)]
#[pg_guard]
pub unsafe extern "C-unwind" fn insight_kmeans_agg_step(
    fcinfo: pg_sys::FunctionCallInfo,
) -> pg_sys::Datum {
    step(fcinfo, Kind::KMeans)
}

function_info_v1!(pg_finfo_insight_fit_agg_step);
/// insight._fit_agg_step(insight.agg_state, text, float8[], anyelement [, jsonb]) RETURNS insight.agg_state
#[no_mangle]
#[doc(hidden)]
#[pg_guard]
pub unsafe extern "C-unwind" fn insight_fit_agg_step(
    fcinfo: pg_sys::FunctionCallInfo,
) -> pg_sys::Datum {
    step(fcinfo, Kind::Fit)
}

// ------------------------------------------------------------------------------------------
// combine

fn same_job(a: &Job, b: &Job) -> bool {
    a.algorithm == b.algorithm
        && a.options_raw == b.options_raw
        && a.k == b.k
        && a.target == b.target
        && a.capacity == b.capacity
        && a.seed == b.seed
        && (a.width == 0 || b.width == 0 || a.width == b.width)
}

function_info_v1!(pg_finfo_insight_agg_combine);
/// insight._agg_combine(insight.agg_state, insight.agg_state) RETURNS insight.agg_state: merges
/// a worker's sample into the leader's.
#[no_mangle]
#[doc(hidden)]
#[pg_guard]
pub unsafe extern "C-unwind" fn insight_agg_combine(
    fcinfo: pg_sys::FunctionCallInfo,
) -> pg_sys::Datum {
    let keep = keep::<State>(fcinfo, "insight._agg_combine");
    combine::<State>(fcinfo, &keep, |s, o| {
        if !same_job(&s.job, &o.job) {
            not_same("the algorithm, k, options and target type").raise()
        }
        s.job.skipped = s.job.skipped.saturating_add(o.job.skipped);
        s.job.width = s.job.width.max(o.job.width);
        s.sample.merge(o.sample);
        check_sample_memory("a training aggregate", &s.job, s.sample.len()).or_raise();
    })
}

/// A job read from a flat state: the algorithm, options and split checked as a group's first
/// row checks them (the bytes may be anyone's).
fn check_job(j: &Job) -> std::result::Result<(), String> {
    let alg = algorithms::find(&j.algorithm).ok_or("an unknown algorithm")?;
    let kmeans = j.target == TargetKind::None;
    let supervised = alg.learns.contains(&Learns::Classes) || alg.learns.contains(&Learns::Values);
    if kmeans != (alg.name == "kmeans") || (!kmeans && (!supervised || alg.all_text_is_free)) {
        return Err(format!("algorithm {} with that target", alg.name));
    }
    let options: Value =
        serde_json::from_str(&j.options).map_err(|_| "options that are not JSON")?;
    if kmeans && options.get("k").and_then(Value::as_i64) != Some(j.k as i64) {
        return Err("a k that differs from its options".into());
    }
    if !(j.test_size > 0.0 && j.test_size < 1.0) || j.seed < 0 {
        return Err("a test size or seed out of range".into());
    }
    learns(alg, j.target)
        .and_then(|l| Setup::read(alg, l, &options, j.seed, false))
        .map(drop)
        .map_err(|e| e.message)
}

fn decode_state(bytes: &[u8]) -> std::result::Result<State, String> {
    let s: Stored = crate::api::agg_state::bincode_decode(bytes)?;
    let j = &s.job;
    if j.capacity == 0 || j.capacity > MAX_SAMPLE_SIZE || j.width > MAX_WIDTH {
        return Err("its sample size or width is out of range".into());
    }
    check_job(j)?;
    if s.entries.iter().any(|e| e.values.len() != j.width)
        || (j.width == 0 && !s.entries.is_empty())
    {
        return Err("a sampled row of another width".into());
    }
    if s.entries.iter().any(|e| {
        matches!(e.label, Label::Number(v) if !v.is_finite())
            || e.values.iter().any(|v| v.is_infinite())
    }) {
        return Err("a sampled input or target that is infinite or NaN".into());
    }
    check_sample_memory("a training aggregate", j, s.entries.len()).map_err(|e| e.message)?;
    let labels_fit = s.entries.iter().all(|e| {
        matches!(
            (j.target, &e.label),
            (TargetKind::None, Label::None)
                | (TargetKind::Text, Label::Text(_))
                | (TargetKind::Integer | TargetKind::Float, Label::Number(_))
        )
    });
    if !labels_fit {
        return Err("a sampled target of another kind".into());
    }
    let sample = Reservoir::from_parts(j.capacity, j.seed as u64, s.seen, s.entries)?;
    Ok(State { job: s.job, sample })
}

// ------------------------------------------------------------------------------------------
// final: train on the sample

function_info_v1!(pg_finfo_insight_agg_final);
/// insight._agg_final(insight.agg_state) RETURNS bytea: the group's model as a bundle (NULL for a group
/// without usable rows).
#[no_mangle]
#[doc(hidden)]
#[pg_guard]
pub unsafe extern "C-unwind" fn insight_agg_final(
    fcinfo: pg_sys::FunctionCallInfo,
) -> pg_sys::Datum {
    context::<State>(fcinfo, "insight._agg_final");
    let state = state_arg::<State>(fcinfo, 0);
    match state.filter(|s| !s.sample.is_empty()) {
        None => null(fcinfo),
        Some(s) => {
            let bytes = train_group(&s).or_raise();
            bytes.into_datum().expect("bytea")
        }
    }
}

fn label_text(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

fn train_group(s: &State) -> Result<Vec<u8>> {
    let started = std::time::Instant::now();
    let job = &s.job;
    let algorithm = algorithms::find(&job.algorithm)
        .ok_or_else(|| InsightError::corrupt("a training aggregate's algorithm is unknown", ""))?;
    let learns = learns(algorithm, job.target)?;
    let options: Value = serde_json::from_str(&job.options).map_err(|_| {
        InsightError::corrupt("a training aggregate's options cannot be read back", "")
    })?;
    let setup = Setup::read(algorithm, learns, &options, job.seed, false)?;
    // lowest priority first: an order that depends on the rows only
    let mut entries: Vec<&Entry> = s.sample.entries().collect();
    entries.sort();
    let n = entries.len();
    let columns: Vec<RawColumn> = (0..job.width)
        .map(|j| RawColumn::Number(entries.iter().map(|e| e.values[j]).collect()))
        .collect();
    let target = match learns {
        Learns::Segments | Learns::Histories | Learns::Interactions => None,
        Learns::Classes => Some(TargetColumn::Text(
            entries
                .iter()
                .map(|e| match &e.label {
                    Label::Text(t) => t.clone(),
                    Label::Number(v) => label_text(*v),
                    Label::None => String::new(),
                })
                .collect(),
        )),
        Learns::Values => Some(TargetColumn::Number(
            entries
                .iter()
                .map(|e| {
                    if let Label::Number(v) = e.label {
                        v
                    } else {
                        f64::NAN
                    }
                })
                .collect(),
        )),
    };
    let frame = Frame {
        columns,
        target,
        n_rows: n,
        skipped_null_target: 0,
    };
    let specs: Vec<ColumnSpec> = (0..job.width)
        .map(|j| ColumnSpec {
            name: format!("x{}", j + 1),
            sql_type: "double precision".into(),
            kind: ValueKind::Number,
        })
        .collect();
    let target_name = (learns != Learns::Segments).then_some("target");
    // the sample and its training rows, as the steps charged them; the fit adds the
    // algorithm's own working memory (ml::memory::check_fit)
    let memory = train::RowMemory {
        rows_bytes: crate::ml::memory::sample_row_bytes(job.width, target_bytes(job.target))
            .saturating_mul(n as u64)
            .saturating_add(crate::ml::memory::FIXED_BYTES),
        encoded_width: job.width,
    };
    let (trained, threads) = setup.fit(
        &frame,
        &specs,
        target_name,
        job.test_size,
        job.seed,
        None,
        &memory,
    )?;
    let mut metrics = trained.metrics;
    // rows offered to the sample: every row but those left out (NULL inputs or target)
    let rows = s.sample.seen;
    metrics.insert("rows_seen".into(), json!(rows.saturating_add(job.skipped)));
    metrics.insert("rows_skipped".into(), json!(job.skipped));
    metrics.insert("sampled".into(), json!((n as u64) < rows));
    metrics.insert("sample_rows".into(), json!(n));
    metrics.insert(
        "train_seconds".into(),
        json!(started.elapsed().as_secs_f64()),
    );
    metrics.insert("threads".into(), json!(threads));
    let mut options = trained.options;
    options.insert("sample_size".into(), json!(job.capacity));
    if learns != Learns::Segments {
        options.insert("test_size".into(), json!(job.test_size));
    }
    Ok(Bundle {
        algorithm: job.algorithm.clone(),
        options: Value::Object(options).to_string(),
        metrics: Value::Object(metrics).to_string(),
        n_rows: rows,
        test_size: job.test_size,
        seed: job.seed,
        model: trained.model.encode(),
    }
    .encode())
}

// ------------------------------------------------------------------------------------------
// save_model

/// Stores a model made by insight.kmeans_agg or insight.fit_agg as a new version of `name`,
/// its inputs named `features` (in the order of the aggregate's array) so that the scorers bind
/// table rows by column name. Returns the row insight.train returns.
#[pg_extern(volatile, parallel_unsafe)]
fn save_model(
    name: Option<&str>,
    model: Option<&[u8]>,
    features: Option<Vec<Option<String>>>,
    target: default!(Option<&str>, "NULL"),
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
    TableIterator::once(save(name, model, features, target, deploy).or_raise())
}

fn save(
    name: Option<&str>,
    model: Option<&[u8]>,
    features: Option<Vec<Option<String>>>,
    target: Option<&str>,
    deploy: Option<&str>,
) -> Result<(i64, String, i32, String, bool, JsonB)> {
    use crate::error::{no_null_elements, required};
    use crate::store::catalog;
    let name = required(name, "name", "Name the model, e.g. 'segments_north'.")?;
    let bytes = required(
        model,
        "model",
        "Pass the value insight.kmeans_agg or insight.fit_agg returned.",
    )?;
    let features = required(no_null_elements(features, "features")?, "features", "Name the inputs in the order of the aggregate's array, e.g. ARRAY['recency', 'frequency'].")?;
    let deploy = required(
        deploy,
        "deploy",
        "Use 'always', 'if_better' (the default) or 'never'.",
    )?;
    catalog::validate_name(name)?;
    crate::api::lifecycle::check_deploy_policy(deploy)?;
    let mut u = Bundle::decode(bytes).map_err(|why| {
        InsightError::invalid_parameter(
            format!("model is not a trained model: {why}"),
            "Pass the bytea insight.kmeans_agg(...) or insight.fit_agg(...) returned, unchanged.",
        )
    })?;
    let algorithm = algorithms::find(&u.algorithm).ok_or_else(|| {
        InsightError::invalid_parameter(
            format!(
                "model was trained by algorithm \"{}\", which this release does not have",
                u.algorithm
            ),
            "Train it again.",
        )
    })?;
    let inputs = &mut u.model.preprocessor.features;
    if features.len() != inputs.len() {
        return Err(InsightError::array_length(
            format!(
                "features names {} inputs, but the model has {}",
                features.len(),
                inputs.len()
            ),
            "Name every element of the aggregate's inputs array, in order.",
        ));
    }
    for (i, f) in features.iter().enumerate() {
        if f.is_empty()
            || f.len() > 63
            || f.chars().any(char::is_control)
            || features[..i].contains(f)
        {
            return Err(InsightError::invalid_parameter(
                format!(
                    "feature name {} is empty, longer than 63 bytes, holds a control character or is given twice",
                    ident(f)
                ),
                "Use the column names the model will score, each once.",
            ));
        }
    }
    // the inputs were x1, x2, ... in training; the metrics that name them follow
    if let Some(Value::Object(importance)) = u.metrics.get_mut("feature_importance") {
        let renamed = inputs
            .iter()
            .zip(&features)
            .filter_map(|(input, f)| importance.remove(&input.name).map(|v| (f.clone(), v)))
            .collect();
        *importance = renamed;
    }
    for (input, f) in inputs.iter_mut().zip(&features) {
        input.name = f.clone();
    }
    u.model.prepare();
    // what kmeans_agg and fit_agg train: k-means, and every supervised algorithm
    let aggregated = algorithm.name == "kmeans"
        || algorithm
            .learns
            .iter()
            .any(|l| matches!(l, Learns::Classes | Learns::Values));
    if !aggregated || u.model.task == crate::ml::model::Task::LifetimeValue {
        return Err(InsightError::invalid_parameter(
            format!(
                "model was trained by algorithm \"{}\", which the training aggregates do not train",
                algorithm.name
            ),
            "Pass the bytea insight.kmeans_agg(...) or insight.fit_agg(...) returned, unchanged.",
        ));
    }
    let supervised = u.model.task != crate::ml::model::Task::Segmentation;
    let target = if supervised {
        Some(target.unwrap_or("target"))
    } else {
        None
    };
    if let Some(t) = target {
        if t.is_empty()
            || t.len() > 63
            || t.chars().any(char::is_control)
            || features.iter().any(|f| f == t)
        {
            return Err(InsightError::invalid_parameter(
                format!("target name {} is empty, longer than 63 bytes, holds a control character or is one of the features", ident(t)),
                "Name the column that holds the label, e.g. target => 'purchased'.",
            ));
        }
    }
    let metrics = Value::Object(u.metrics);
    let train_seconds = metrics
        .get("train_seconds")
        .and_then(Value::as_f64)
        .unwrap_or(0.0);
    let relation = if supervised {
        "(insight.fit_agg)"
    } else {
        "(insight.kmeans_agg)"
    };
    let (id, version) = catalog::insert(catalog::NewModel {
        name,
        task: u.model.task.as_str(),
        algorithm: algorithm.name,
        relation,
        target,
        features: train::features_json(&u.model, u.test_size, u.seed),
        options: Value::Object(u.options),
        metrics: metrics.clone(),
        weights: u.model.encode(),
        n_rows: u.n_rows.min(i64::MAX as u64) as i64,
        train_seconds,
        report_data: None,
    });
    let deployed = crate::api::lifecycle::decide_deploy(
        name,
        deploy,
        u.model.task,
        &metrics,
        id,
        crate::store::catalog::Cause::Train,
    );
    Ok((
        id,
        name.to_string(),
        version,
        algorithm.name.to_string(),
        deployed,
        JsonB(metrics),
    ))
}
