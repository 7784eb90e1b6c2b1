//! Scoring: insight.predict / predict_proba / predict_class / predict_purchase / explain.
//!
//! The hot path, per row: this call site's state (in fn_extra), the slot of the model text, the
//! row read through its binding (src/data/row.rs) straight into the folded linear score or into a
//! reused encoded vector, and the kernel. Nothing is allocated per row for numeric features.
//!
//! State lives per call site, in the FmgrInfo of the scorer call (fn_extra, in the query's
//! function memory context): a re-planned query (after ALTER TABLE, for instance) starts afresh.
//! Because a call site can outlive a statement (PL/pgSQL keeps expressions across statements
//! and, in procedures, across COMMITs), the name -> version resolution and the bindings are
//! redone whenever the Stamp (statement, command, transaction) changes.

use crate::data::encode::{Encode, Fold};
use crate::data::row::{whole_row, ColumnBinding, FeatureSink, RowBinding};
use crate::error::{InsightError, OrRaise, Result};
use crate::ml::model::{FoldedLinear, Model, Task};
use crate::spi::type_name;
use crate::store::{cache, catalog};
use pgrx::prelude::*;
use pgrx::AnyElement;
use std::rc::Rc;

/// Changes whenever a new statement, command, transaction or subtransaction starts: inside a
/// procedure or DO block that commits, statement start and command id repeat, the local
/// transaction id does not; after a subtransaction rolls back (an EXCEPTION block), the command
/// id goes on, the subtransaction id does not come back.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    statement: i64,
    command: u32,
    transaction: u32,
    subtransaction: u32,
}

/// Read on every scored row, so called without pgrx's error guard (a sigsetjmp per call): all
/// are plain getters that cannot raise an ERROR.
mod unguarded {
    use pgrx::pg_sys;
    extern "C-unwind" {
        pub fn GetCurrentStatementStartTimestamp() -> pg_sys::TimestampTz;
        pub fn GetCurrentCommandId(used: bool) -> pg_sys::CommandId;
        pub fn GetCurrentSubTransactionId() -> pg_sys::SubTransactionId;
    }
}

impl Stamp {
    #[inline(always)]
    pub(crate) fn now() -> Stamp {
        // SAFETY: getters of backend-local state; MyProc is set in every backend and worker
        unsafe {
            Stamp {
                statement: unguarded::GetCurrentStatementStartTimestamp(),
                command: unguarded::GetCurrentCommandId(false),
                transaction: (*pg_sys::MyProc).lxid,
                subtransaction: unguarded::GetCurrentSubTransactionId(),
            }
        }
    }
}

/// What a call site keeps per model text.
pub(crate) struct Slot {
    key: Vec<u8>,
    stamp: Stamp,
    stored: catalog::StoredModel,
    pub(crate) model: Rc<Model>,
    pub(crate) folded: Option<FoldedLinear>,
    /// The argument type last seen and whether it is a row type (saves a catalog call per row).
    arg_type: (pg_sys::Oid, bool),
    row: Option<RowBinding>,
    /// For calls rewritten to column arguments (api::rewrite).
    pub(crate) columns: Option<ColumnBinding>,
    pub(crate) x: Vec<f64>,
    pub(crate) out: Vec<f64>,
}

/// One call site's state: a slot per model text (usually one).
#[derive(Default)]
pub(crate) struct CallSite {
    slots: Vec<Slot>,
}

/// Slots kept per call site when the model text varies from row to row.
const MAX_SLOTS: usize = 16;

/// The state of the call behind `fcinfo`, created on its first row.
///
/// # Safety
/// `fcinfo` must be the FunctionCallInfo of a running call of a scalar scorer (fn_extra is
/// ours: PostgreSQL leaves it to the function).
pub(crate) unsafe fn call_site<'a>(fcinfo: pg_sys::FunctionCallInfo) -> Option<&'a mut CallSite> {
    let flinfo = (*fcinfo).flinfo;
    if flinfo.is_null() {
        return None;
    }
    if (*flinfo).fn_extra.is_null() {
        let site = pgrx::PgMemoryContexts::For((*flinfo).fn_mcxt)
            .leak_and_drop_on_delete(CallSite::default());
        (*flinfo).fn_extra = site.cast();
    }
    Some(&mut *((*flinfo).fn_extra as *mut CallSite))
}

impl Slot {
    fn new(key: &[u8], stamp: Stamp, stored: catalog::StoredModel, model: Rc<Model>) -> Slot {
        Slot {
            key: key.to_vec(),
            stamp,
            stored,
            x: vec![0.0; model.preprocessor.width],
            out: vec![0.0; model.outputs()],
            folded: model.fold_linear(),
            arg_type: (pg_sys::InvalidOid, false),
            model,
            row: None,
            columns: None,
        }
    }
}

fn load(model: &str) -> Result<(catalog::StoredModel, Rc<Model>)> {
    let stored = catalog::resolve(&catalog::parse_ref(model)?)?;
    let m = cache::load(stored)?;
    refuse_recommender(model, &m)?;
    Ok((stored, m))
}

/// A recommender scores customers' items, not rows: every row scorer refuses it.
pub(crate) fn refuse_recommender(model_name: &str, m: &Model) -> Result<()> {
    if m.task == Task::Recommendation {
        return Err(InsightError::not_supported(
            format!("model \"{model_name}\" is a recommender: it scores items for a customer, not rows"),
            "Use insight.recommend(model, customer, k), insight.similar_items(model, item, k) or insight.evaluate_recommender(model, test_relation, k).",
        ));
    }
    Ok(())
}

/// Finds (or creates) the slot of `model` in `site`, resolves the name again once per Stamp,
/// and runs `f` on it.
pub(crate) fn with_slot<R>(
    site: &mut CallSite,
    model: &str,
    f: impl FnOnce(&mut Slot) -> Result<R>,
) -> R {
    let run = || -> Result<R> {
        let stamp = Stamp::now();
        let slots = &mut site.slots;
        let idx = match slots.iter().position(|s| s.key == model.as_bytes()) {
            Some(i) => {
                if slots[i].stamp != stamp {
                    let (stored, m) = load(model)?;
                    let s = &mut slots[i];
                    if stored != s.stored {
                        *s = Slot::new(model.as_bytes(), stamp, stored, m);
                    } else {
                        // bindings are made again each statement: enum labels, renamed columns
                        s.row = None;
                        s.columns = None;
                        s.stamp = stamp;
                    }
                }
                i
            }
            None => {
                let (stored, m) = load(model)?;
                if slots.len() >= MAX_SLOTS {
                    slots.remove(0);
                }
                slots.push(Slot::new(model.as_bytes(), stamp, stored, m));
                slots.len() - 1
            }
        };
        f(&mut slots[idx])
    };
    run().or_raise()
}

/// Scores `row` with `model` and hands the outputs to `f`. `need_encoded`: fill the encoded
/// input vector even when the folded fast path could skip it.
pub(crate) fn scores<R>(
    site: &mut CallSite,
    model: &str,
    row: &AnyElement,
    need_encoded: bool,
    f: impl FnOnce(&Model, &[f64], &[f64]) -> Result<R>,
) -> R {
    with_slot(site, model, |slot| {
        let typoid = row.oid();
        if slot.arg_type.0 != typoid {
            slot.arg_type = (typoid, unsafe { pg_sys::type_is_rowtype(typoid) });
        }
        let is_row = slot.arg_type.1;
        if !is_row && unsafe { pg_sys::get_element_type(typoid) } == pg_sys::InvalidOid {
            return Err(InsightError::datatype_mismatch(
                format!("cannot score a value of type {}", type_name(typoid)),
                "Pass a table row (insight.predict('model', c) FROM customers c) or a numeric array in the model's feature order.",
            ));
        }
        let Slot {
            model: m,
            x,
            out,
            folded,
            row: binding,
            ..
        } = slot;
        match folded {
            Some(fl) if is_row && !need_encoded => {
                let mut fold = Fold::new(fl, m, model);
                unsafe { visit_row(binding, m, model, row.datum(), &mut fold)? };
                out[0] = fl.finish(fold.z);
                finite_outputs(model, out)?;
                return f(m, x, out);
            }
            _ => {
                let mut encode = Encode {
                    pre: &m.preprocessor,
                    x,
                    model_name: model,
                };
                if is_row {
                    unsafe { visit_row(binding, m, model, row.datum(), &mut encode)? }
                } else {
                    unsafe {
                        crate::data::array::visit(row.datum(), &m.preprocessor, model, &mut encode)?
                    }
                }
            }
        }
        m.predict_encoded(x, out);
        finite_outputs(model, out)?;
        f(m, x, out)
    })
}

/// Reads a whole-row value through the slot's binding, binding its row type first when the
/// binding is missing or no longer fits.
///
/// # Safety
/// `datum` must be a composite datum.
#[inline(always)]
unsafe fn visit_row(
    binding: &mut Option<RowBinding>,
    model: &Model,
    model_name: &str,
    datum: pg_sys::Datum,
    sink: &mut impl FeatureSink,
) -> Result<()> {
    let td = whole_row(datum);
    if !binding.as_ref().is_some_and(|b| b.fits(td)) {
        *binding = None;
        *binding = Some(RowBinding::bind(
            td,
            &model.preprocessor.features,
            model_name,
        )?);
    }
    binding.as_mut().unwrap().visit(td, sink)
}

/// What a scorer returns.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Output {
    Predict = 0,
    Proba = 1,
    Purchase = 2,
    Class = 3,
    Segment = 4,
    SegmentDistance = 5,
}

impl Output {
    pub(crate) fn from_i32(v: i32) -> Option<Output> {
        [
            Output::Predict,
            Output::Proba,
            Output::Purchase,
            Output::Class,
            Output::Segment,
            Output::SegmentDistance,
        ]
        .into_iter()
        .find(|o| *o as i32 == v)
    }

    /// The outputs a folded linear model (one dot product) can give.
    pub(crate) fn foldable(self) -> bool {
        matches!(self, Output::Predict | Output::Proba | Output::Purchase)
    }
}

pub(crate) enum ScoreOut {
    Number(f64),
    Label(String),
}

fn needs_binary(model_name: &str, m: &Model, what: &str) -> Result<()> {
    if m.task != Task::Binary {
        return Err(InsightError::not_supported(
            format!("{what} needs a binary classifier, but model \"{model_name}\" is a {} model", m.task.as_str()),
            match m.task {
                Task::Multiclass => "Use insight.predict_class for the label or insight.predict for the class number.",
                Task::Segmentation => "Use insight.segment for the segment number.",
                _ => "Use insight.predict for the predicted value.",
            },
        ));
    }
    Ok(())
}

fn needs_segmentation(model_name: &str, m: &Model, what: &str) -> Result<()> {
    if m.task != Task::Segmentation {
        return Err(InsightError::not_supported(
            format!(
                "{what} needs a segmentation model, but model \"{model_name}\" is a {} model",
                m.task.as_str()
            ),
            "Train one with algorithm => 'kmeans'; for this model use insight.predict.",
        ));
    }
    Ok(())
}

/// A model's outputs must be numbers: finite inputs far outside the training range (1e308) can
/// still make a score NaN (inf - inf), which would then be ranked, averaged and written as if it
/// were one.
#[inline(always)]
pub(crate) fn finite_outputs(model_name: &str, out: &[f64]) -> Result<()> {
    if out.iter().all(|v| v.is_finite()) {
        Ok(())
    } else {
        Err(not_finite(model_name))
    }
}

#[cold]
fn not_finite(model_name: &str) -> InsightError {
    InsightError::data(
        format!("model \"{model_name}\" gives a score that is not a number for this row"),
        "Its inputs are far outside the values the model was trained on (e.g. 1e308): check or clip them.",
    )
}

fn no_classes(model_name: &str, task: Task) -> InsightError {
    InsightError::not_supported(
        format!(
            "model \"{model_name}\" is a {} model and has no classes",
            task.as_str()
        ),
        if task == Task::Segmentation {
            "Use insight.segment for the segment number."
        } else {
            "Use insight.predict for the predicted value."
        },
    )
}

/// What a scorer returns from a model's outputs: the one definition of predict, predict_proba,
/// predict_purchase and predict_class, for direct calls and rewritten ones alike.
pub(crate) fn output_value(
    model_name: &str,
    m: &Model,
    out: &[f64],
    output: Output,
) -> Result<ScoreOut> {
    match output {
        Output::Predict => Ok(ScoreOut::Number(m.predict_value(out))),
        Output::Proba | Output::Purchase => {
            needs_binary(
                model_name,
                m,
                if output == Output::Proba {
                    "predict_proba"
                } else {
                    "predict_purchase"
                },
            )?;
            Ok(ScoreOut::Number(out[0]))
        }
        Output::Class => match m.task {
            Task::Binary | Task::Multiclass => Ok(ScoreOut::Label(m.label(out).to_string())),
            _ => Err(no_classes(model_name, m.task)),
        },
        Output::Segment => {
            needs_segmentation(model_name, m, "insight.segment")?;
            Ok(ScoreOut::Number(out[0]))
        }
        Output::SegmentDistance => {
            needs_segmentation(model_name, m, "insight.segment_distance")?;
            Ok(ScoreOut::Number(out[1]))
        }
    }
}

/// A direct (not rewritten) call of a scorer.
pub(crate) fn score_direct(
    fcinfo: pg_sys::FunctionCallInfo,
    model: &str,
    row: &AnyElement,
    output: Output,
) -> ScoreOut {
    let run = |site: &mut CallSite| {
        scores(site, model, row, false, |m, _x, out| {
            output_value(model, m, out, output)
        })
    };
    // SAFETY: pgrx hands a scalar function its own FunctionCallInfo
    match unsafe { call_site(fcinfo) } {
        Some(site) => run(site),
        None => run(&mut CallSite::default()),
    }
}

pub(crate) fn number(s: ScoreOut) -> f64 {
    match s {
        ScoreOut::Number(v) => v,
        ScoreOut::Label(_) => unreachable!("numeric outputs give numbers"),
    }
}

/// P(positive) for binary classifiers, the value for regression, the class number (0-based, in
/// the order of model_info's classes) for multiclass classifiers.
#[pg_extern(stable, parallel_safe)]
fn predict(model: &str, row_or_array: AnyElement, fcinfo: pg_sys::FunctionCallInfo) -> f64 {
    number(score_direct(fcinfo, model, &row_or_array, Output::Predict))
}

/// P(positive class) of a binary classifier.
#[pg_extern(stable, parallel_safe)]
fn predict_proba(model: &str, row_or_array: AnyElement, fcinfo: pg_sys::FunctionCallInfo) -> f64 {
    number(score_direct(fcinfo, model, &row_or_array, Output::Proba))
}

/// Purchase propensity: predict_proba of a binary purchase model.
#[pg_extern(stable, parallel_safe)]
fn predict_purchase(
    model: &str,
    row_or_array: AnyElement,
    fcinfo: pg_sys::FunctionCallInfo,
) -> f64 {
    number(score_direct(fcinfo, model, &row_or_array, Output::Purchase))
}

/// The predicted label, at the model's threshold for binary classifiers.
#[pg_extern(stable, parallel_safe)]
fn predict_class(
    model: &str,
    row_or_array: AnyElement,
    fcinfo: pg_sys::FunctionCallInfo,
) -> String {
    match score_direct(fcinfo, model, &row_or_array, Output::Class) {
        ScoreOut::Label(l) => l,
        ScoreOut::Number(_) => unreachable!("predict_class gives labels"),
    }
}

/// The probability of every class of a classifier, as jsonb {label: probability}.
#[pg_extern(stable, parallel_safe)]
fn predict_probas(
    model: &str,
    row_or_array: AnyElement,
    fcinfo: pg_sys::FunctionCallInfo,
) -> pgrx::JsonB {
    let run = |site: &mut CallSite| {
        scores(site, model, &row_or_array, false, |m, _x, out| {
            let probas: Vec<f64> = match m.task {
                Task::Binary => vec![1.0 - out[0], out[0]],
                Task::Multiclass => out.to_vec(),
                _ => return Err(no_classes(model, m.task)),
            };
            let map = m
                .classes
                .iter()
                .cloned()
                .zip(probas.into_iter().map(serde_json::Value::from));
            Ok(pgrx::JsonB(serde_json::Value::Object(map.collect())))
        })
    };
    // SAFETY: pgrx hands a scalar function its own FunctionCallInfo
    match unsafe { call_site(fcinfo) } {
        Some(site) => run(site),
        None => run(&mut CallSite::default()),
    }
}
