//! A jsonb argument read safely. pgrx's JsonB panics (XX000) on documents serde_json cannot
//! hold: numbers beyond float8 (`{"seed": 1e400}`) and nesting deeper than 128. This type takes
//! the datum as it is and parses it when asked, with an error the caller can report (22023).

use crate::error::{InsightError, Result};
use pgrx::pgrx_sql_entity_graph::metadata::{
    ArgumentError, ReturnsError, ReturnsRef, SqlMappingRef, SqlTranslatable,
};
use pgrx::prelude::*;
use serde_json::Value;

/// A jsonb argument, not yet parsed.
pub struct JsonArg(pg_sys::Datum);

impl FromDatum for JsonArg {
    unsafe fn from_polymorphic_datum(
        datum: pg_sys::Datum,
        is_null: bool,
        _: pg_sys::Oid,
    ) -> Option<JsonArg> {
        (!is_null).then_some(JsonArg(datum))
    }
}

unsafe impl SqlTranslatable for JsonArg {
    const TYPE_IDENT: &'static str = pgrx::pgrx_sql_entity_graph::pgrx_resolved_type!(JsonArg);
    const TYPE_ORIGIN: pgrx::pgrx_sql_entity_graph::metadata::TypeOrigin =
        pgrx::pgrx_sql_entity_graph::metadata::TypeOrigin::External;
    const ARGUMENT_SQL: std::result::Result<SqlMappingRef, ArgumentError> =
        Ok(SqlMappingRef::literal("jsonb"));
    const RETURN_SQL: std::result::Result<ReturnsRef, ReturnsError> =
        Ok(ReturnsRef::One(SqlMappingRef::literal("jsonb")));
}

impl JsonArg {
    /// The document, or 22023 naming the argument when serde_json cannot hold it.
    pub fn parse(&self, argument: &str) -> Result<Value> {
        // SAFETY: the datum is a jsonb argument of the current call
        unsafe { parse_jsonb(self.0, argument) }
    }
}

/// # Safety
/// `d` must be a jsonb datum.
pub unsafe fn parse_jsonb(d: pg_sys::Datum, argument: &str) -> Result<Value> {
    let text: &std::ffi::CStr =
        pgrx::direct_function_call(pg_sys::jsonb_out, &[Some(d)]).expect("jsonb_out returns text");
    serde_json::from_str(text.to_str().unwrap_or("")).map_err(|e| {
        InsightError::invalid_parameter(
            format!("{argument} cannot be read: {e}"),
            "Pass a flat JSON object of options with numbers float8 can hold, e.g. '{\"seed\": 7}'.",
        )
    })
}

// SAFETY: declared as jsonb in SQL (ARGUMENT_SQL above), so the datum is a jsonb; NULL is None
unsafe impl<'fcx> pgrx::callconv::ArgAbi<'fcx> for JsonArg {
    unsafe fn unbox_arg_unchecked(arg: pgrx::callconv::Arg<'_, 'fcx>) -> Self {
        let index = arg.index();
        unsafe { arg.unbox_arg_using_from_datum() }.unwrap_or_else(|| {
            InsightError::null_value(format!("argument {index} must not be NULL"), "").raise()
        })
    }

    unsafe fn unbox_nullable_arg(
        arg: pgrx::callconv::Arg<'_, 'fcx>,
    ) -> pgrx::nullable::Nullable<Self> {
        unsafe { arg.unbox_arg_using_from_datum() }.into()
    }
}
