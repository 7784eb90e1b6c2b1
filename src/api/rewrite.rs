//! Whole-row scoring calls rewritten to column arguments.
//!
//! `insight.predict_purchase('m', c)` makes PostgreSQL build a whole tuple for `c` on every row
//! (heap_form_tuple: about a quarter of the scoring time), only for us to take it apart again.
//! A planner support function rewrites such calls, when `c` is a plain table (or materialized
//! view) row of the query, into `insight._score_columns('m', kind, rowtype, c.ctid, c.col1, ...,
//! c.colN)`: every column is passed as its own argument and nothing is built. Binding is still by
//! column name at run time (through `rowtype`), so a newly deployed version with other features
//! works; a NULL ctid marks a NULL-extended outer-join row, which scores NULL like a NULL row.
//!
//! The two targets are LANGUAGE C functions that anyone may call by hand, with any arguments:
//! each argument is read with the type the call really passes (data::row::ColumnBinding checks
//! it against the row type), never with a type taken on trust.

use crate::api::predict::{
    call_site, finite_outputs, output_value, with_slot, CallSite, Output, ScoreOut,
};
use crate::data::encode::{Encode, Fold};
use crate::data::row::ColumnBinding;
use crate::error::InsightError;
use pgrx::prelude::*;

/// Index of the first column argument: model, output kind, row type, ctid come first.
const FIRST_COLUMN_ARG: usize = 4;

/// The three targets of the rewrite, by what they return.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Target {
    /// _score_columns, float8: predict, predict_proba, predict_purchase, segment_distance
    Score,
    /// _class_columns, text: predict_class
    Class,
    /// _segment_columns, int4: segment
    Segment,
}

impl Target {
    fn accepts(self, o: Output) -> bool {
        match self {
            Target::Score => matches!(
                o,
                Output::Predict | Output::Proba | Output::Purchase | Output::SegmentDistance
            ),
            Target::Class => o == Output::Class,
            Target::Segment => o == Output::Segment,
        }
    }

    fn wrong_output(self) -> &'static str {
        match self {
            Target::Score => "the output argument of _score_columns must be 0, 1, 2 or 5",
            Target::Class => "the output argument of _class_columns must be 3",
            Target::Segment => "the output argument of _segment_columns must be 4",
        }
    }
}

/// Scores one rewritten call of `target`; None means SQL NULL.
///
/// # Safety
/// `fcinfo` must be the FunctionCallInfo of a running call of one of the two targets.
unsafe fn score_columns(fcinfo: pg_sys::FunctionCallInfo, target: Target) -> Option<ScoreOut> {
    let nargs = (*fcinfo).nargs as usize;
    let args = (*fcinfo).args.as_slice(nargs);
    if nargs < FIRST_COLUMN_ARG
        || args[0].isnull
        || args[1].isnull
        || args[2].isnull
        || args[3].isnull
    {
        return None; // NULL model text, or a NULL-extended outer-join row
    }
    // the first four arguments have declared types (text, int, oid, tid): PostgreSQL checked them
    let model = match crate::data::row::text_str(args[0].value) {
        Ok(m) => m,
        Err(_) => InsightError::data(
            "the model name is not valid UTF-8",
            "Name models in UTF-8 (pg_insight reads text in UTF-8).",
        )
        .raise(),
    };
    let output = Output::from_i32(args[1].value.value() as i32);
    let rowtype = pg_sys::Oid::from(args[2].value.value() as u32);
    let flinfo = (*fcinfo).flinfo;
    let run = |site: &mut CallSite| {
        with_slot(site, model, |slot| {
            let output = output.filter(|o| target.accepts(*o)).ok_or_else(|| {
                InsightError::invalid_parameter(
                    target.wrong_output(),
                    "insight._score_columns, _class_columns and _segment_columns are written by the planner; call insight.predict or insight.segment instead.",
                )
            })?;
            if !slot
                .columns
                .as_ref()
                .is_some_and(|c| c.rowtype() == rowtype && c.current())
            {
                slot.columns = None;
                let features = &slot.model.preprocessor.features;
                slot.columns = Some(ColumnBinding::bind(
                    flinfo,
                    nargs,
                    FIRST_COLUMN_ARG,
                    rowtype,
                    features,
                    model,
                )?);
            }
            let crate::api::predict::Slot {
                model: m,
                x,
                out,
                folded,
                columns,
                ..
            } = slot;
            let binding = columns.as_ref().unwrap();
            match folded {
                Some(fl) if output.foldable() => {
                    let mut fold = Fold::new(fl, m, model);
                    binding.visit(args, &mut fold)?;
                    out[0] = fl.finish(fold.z);
                }
                _ => {
                    binding.visit(
                        args,
                        &mut Encode {
                            pre: &m.preprocessor,
                            x,
                            model_name: model,
                        },
                    )?;
                    m.predict_encoded(x, out);
                }
            }
            finite_outputs(model, out)?;
            output_value(model, m, out, output)
        })
    };
    Some(match call_site(fcinfo) {
        Some(site) => run(site),
        None => run(&mut CallSite::default()),
    })
}

function_info_v1!(pg_finfo_insight_score_columns);

/// insight._score_columns(model text, output int, rowtype oid, row_ctid tid, VARIADIC "any")
/// RETURNS float8 (the target of the planner rewrite; not meant to be called by hand).
#[no_mangle]
#[doc(hidden)]
#[pg_guard]
pub unsafe extern "C-unwind" fn insight_score_columns(
    fcinfo: pg_sys::FunctionCallInfo,
) -> pg_sys::Datum {
    match score_columns(fcinfo, Target::Score) {
        Some(ScoreOut::Number(v)) => pg_sys::Datum::from(v.to_bits() as usize),
        Some(ScoreOut::Label(_)) | None => {
            (*fcinfo).isnull = true;
            pg_sys::Datum::from(0)
        }
    }
}

function_info_v1!(pg_finfo_insight_class_columns);

/// insight._class_columns(...) RETURNS text: the rewrite target of predict_class.
#[no_mangle]
#[doc(hidden)]
#[pg_guard]
pub unsafe extern "C-unwind" fn insight_class_columns(
    fcinfo: pg_sys::FunctionCallInfo,
) -> pg_sys::Datum {
    match score_columns(fcinfo, Target::Class) {
        Some(ScoreOut::Label(s)) => s.into_datum().unwrap(),
        _ => {
            (*fcinfo).isnull = true;
            pg_sys::Datum::from(0)
        }
    }
}

function_info_v1!(pg_finfo_insight_segment_columns);

/// insight._segment_columns(...) RETURNS int4: the rewrite target of segment.
#[no_mangle]
#[doc(hidden)]
#[pg_guard]
pub unsafe extern "C-unwind" fn insight_segment_columns(
    fcinfo: pg_sys::FunctionCallInfo,
) -> pg_sys::Datum {
    match score_columns(fcinfo, Target::Segment) {
        Some(ScoreOut::Number(v)) => pg_sys::Datum::from(v as i32),
        _ => {
            (*fcinfo).isnull = true;
            pg_sys::Datum::from(0)
        }
    }
}

function_info_v1!(pg_finfo_insight_predict_support);

/// Planner support function of the row scorers (SupportRequestSimplify): see the module
/// comment. Returns NULL (no rewrite) for anything but a whole-row Var of a plain table or
/// materialized view of the current query level.
#[no_mangle]
#[doc(hidden)]
#[pg_guard]
pub unsafe extern "C-unwind" fn insight_predict_support(
    fcinfo: pg_sys::FunctionCallInfo,
) -> pg_sys::Datum {
    let none = pg_sys::Datum::from(0);
    let req = (*fcinfo).args.as_slice(1)[0]
        .value
        .cast_mut_ptr::<pg_sys::Node>();
    if req.is_null() || (*req).type_ != pg_sys::NodeTag::T_SupportRequestSimplify {
        return none;
    }
    let req = req as *mut pg_sys::SupportRequestSimplify;
    let (root, fexpr) = ((*req).root, (*req).fcall);
    if root.is_null() || fexpr.is_null() || (*root).parse.is_null() {
        return none;
    }
    let args = (*fexpr).args;
    if args.is_null() || (*args).length != 2 {
        return none;
    }
    let row = pg_sys::list_nth(args, 1) as *mut pg_sys::Node;
    if (*row).type_ != pg_sys::NodeTag::T_Var {
        return none;
    }
    let var = row as *mut pg_sys::Var;
    if (*var).varattno != 0 || (*var).varlevelsup != 0 || (*var).vartype == pg_sys::RECORDOID {
        return none;
    }
    let rtable = (*(*root).parse).rtable;
    let varno = (*var).varno;
    if rtable.is_null() || varno < 1 || varno > (*rtable).length {
        return none;
    }
    let rte = pg_sys::list_nth(rtable, varno - 1) as *mut pg_sys::RangeTblEntry;
    if (*rte).rtekind != pg_sys::RTEKind::RTE_RELATION
        || !((*rte).relkind as u8 == b'r' || (*rte).relkind as u8 == b'm')
    {
        return none;
    }
    // on Citus, the workers rewrite the call for their own shard (store::citus); a query that
    // reads any Citus table may ship the call to them, so none is rewritten there
    if crate::store::citus::present() {
        let relids: Vec<pg_sys::Oid> = (0..(*rtable).length)
            .map(|i| pg_sys::list_nth(rtable, i) as *mut pg_sys::RangeTblEntry)
            .filter(|r| (**r).rtekind == pg_sys::RTEKind::RTE_RELATION)
            .map(|r| (*r).relid)
            .collect();
        if crate::store::citus::any_citus_table(relids) {
            return none;
        }
    }
    let name = std::ffi::CStr::from_ptr(pg_sys::get_func_name((*fexpr).funcid))
        .to_string_lossy()
        .into_owned();
    let (output, target, rettype) = match name.as_str() {
        "predict" => (Output::Predict, "_score_columns", pg_sys::FLOAT8OID),
        "predict_proba" => (Output::Proba, "_score_columns", pg_sys::FLOAT8OID),
        "predict_purchase" => (Output::Purchase, "_score_columns", pg_sys::FLOAT8OID),
        "predict_class" => (Output::Class, "_class_columns", pg_sys::TEXTOID),
        "segment" => (Output::Segment, "_segment_columns", pg_sys::INT4OID),
        "segment_distance" => (Output::SegmentDistance, "_score_columns", pg_sys::FLOAT8OID),
        _ => return none,
    };
    let nsp = pg_sys::get_func_namespace((*fexpr).funcid);
    let nspname = std::ffi::CStr::from_ptr(pg_sys::get_namespace_name(nsp))
        .to_string_lossy()
        .into_owned();
    let signature = format!(
        "{}.{target}(pg_catalog.text,pg_catalog.int4,pg_catalog.oid,pg_catalog.tid,\"any\")",
        pgrx::spi::quote_identifier(&nspname)
    );
    let Some(target_oid) = pgrx::direct_function_call::<pg_sys::Oid>(
        pg_sys::to_regprocedure,
        &[signature.as_str().into_datum()],
    ) else {
        return none;
    };
    // the row type's live columns, in order
    let desc = pg_sys::lookup_rowtype_tupdesc((*var).vartype, -1);
    let natts = (*desc).natts as usize;
    let cols: Vec<(i16, pg_sys::Oid, i32, pg_sys::Oid)> = (*desc)
        .attrs
        .as_slice(natts)
        .iter()
        .filter(|a| !a.attisdropped)
        .map(|a| (a.attnum, a.atttypid, a.atttypmod, a.attcollation))
        .collect();
    crate::data::row::release_tupdesc(desc);
    if cols.len() + FIRST_COLUMN_ARG > pg_sys::FUNC_MAX_ARGS as usize {
        return none;
    }
    let mut list = pg_sys::lappend(std::ptr::null_mut(), pg_sys::list_nth(args, 0));
    let kind = pg_sys::makeConst(
        pg_sys::INT4OID,
        -1,
        pg_sys::InvalidOid,
        4,
        pg_sys::Datum::from(output as i32 as usize),
        false,
        true,
    );
    list = pg_sys::lappend(list, kind.cast());
    let rowtype = pg_sys::makeConst(
        pg_sys::OIDOID,
        -1,
        pg_sys::InvalidOid,
        4,
        pg_sys::Datum::from((*var).vartype.to_u32() as usize),
        false,
        true,
    );
    list = pg_sys::lappend(list, rowtype.cast());
    let ctid = pg_sys::makeVar(
        varno,
        pg_sys::SelfItemPointerAttributeNumber as i16,
        pg_sys::TIDOID,
        -1,
        pg_sys::InvalidOid,
        0,
    );
    list = pg_sys::lappend(list, ctid.cast());
    for (attnum, typ, typmod, coll) in cols {
        list = pg_sys::lappend(
            list,
            pg_sys::makeVar(varno, attnum, typ, typmod, coll, 0).cast(),
        );
    }
    let call = pg_sys::makeFuncExpr(
        target_oid,
        rettype,
        list,
        if rettype == pg_sys::TEXTOID {
            pg_sys::DEFAULT_COLLATION_OID
        } else {
            pg_sys::InvalidOid
        },
        (*fexpr).inputcollid,
        pg_sys::CoercionForm::COERCE_EXPLICIT_CALL,
    );
    (*call).location = (*fexpr).location;
    pg_sys::Datum::from(call as usize)
}
