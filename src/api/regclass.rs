//! A regclass argument read as its OID, checked by us. pgrx's PgRelation opens the relation while
//! reading the argument, so an OID that names no relation (`0::regclass`, a dropped table's old
//! OID) was PostgreSQL's internal error XX000 before any of our code ran; here it is 42P01, and
//! an index, sequence or composite type is 42809, each naming the argument.

use crate::error::{InsightError, Result};
use pgrx::prelude::*;

/// A regclass argument, not yet checked.
pub struct RegClass(pg_sys::Oid);

impl FromDatum for RegClass {
    unsafe fn from_polymorphic_datum(
        datum: pg_sys::Datum,
        is_null: bool,
        _: pg_sys::Oid,
    ) -> Option<RegClass> {
        // regclass is an oid passed by value
        (!is_null).then(|| RegClass(pg_sys::Oid::from(datum.value() as u32)))
    }
}

argument_type!(RegClass, "regclass");

impl RegClass {
    /// The OID, where it names a table, view, materialized view, foreign or partitioned table.
    pub fn oid(&self) -> Result<pg_sys::Oid> {
        checked(self.0)
    }
}

/// `relid`, where it names a table, view, materialized view, foreign or partitioned table: 42P01
/// where it names nothing, 42809 for an index, sequence, composite type or TOAST table.
pub fn checked(relid: pg_sys::Oid) -> Result<pg_sys::Oid> {
    // the relation cache, as regclass's input function reads it (not the statement's snapshot)
    // SAFETY: a syscache lookup by OID; 0 (no relation) for an OID of nothing
    let kind = unsafe { pg_sys::get_rel_relkind(relid) } as u8;
    match kind {
        b'r' | b'v' | b'm' | b'f' | b'p' => Ok(relid),
        0 => Err(InsightError::undefined_table(
            format!("relation with OID {} does not exist", relid.to_u32()),
            "Name a table or view, e.g. 'customers' or 'sales.orders'.",
        )),
        k => {
            let what = match k {
                b'i' | b'I' => "an index",
                b'S' => "a sequence",
                b'c' => "a composite type",
                b't' => "a TOAST table",
                _ => "not a table",
            };
            Err(InsightError::wrong_object_type(
                format!(
                    "{} is {what}, not a table or view",
                    crate::data::columns::relation_name(relid)
                ),
                "Name a table, view or materialized view.",
            ))
        }
    }
}
