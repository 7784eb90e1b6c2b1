//! A jsonb argument read safely. pgrx's JsonB panics (XX000) on documents serde_json cannot
//! hold: numbers beyond float8 (`{"seed": 1e400}`) and nesting deeper than 128. This type takes
//! the datum as it is and parses it when asked, with an error the caller can report (22023).

use crate::error::{InsightError, Result};
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

argument_type!(JsonArg, "jsonb");

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
            if argument == "doc" {
                "Pass the document insight.export_model returned: numbers float8 can hold, nesting at most 128 deep."
            } else {
                "Pass a flat JSON object of options with numbers float8 can hold, e.g. '{\"seed\": 7}'."
            },
        )
    })
}
