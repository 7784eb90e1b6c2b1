//! Small read-only SPI helpers shared by `data` and `store`.
//!
//! Every statement run through here names its functions, types and operators with their schema
//! (`pg_catalog.`, `OPERATOR(pg_catalog.=)`): a caller's search_path may put a schema with
//! look-alike objects first, and internal SQL must not call them.

use pgrx::datum::DatumWithOid;
use pgrx::prelude::*;

/// Runs a read-only single-value query. Scoring runs inside parallel workers, where only
/// read-only SPI is allowed (pgrx's Spi::get_one marks the transaction as writing).
pub fn select_one<T: FromDatum + IntoDatum>(query: &str, args: &[DatumWithOid<'_>]) -> Option<T> {
    Spi::connect(|c| c.select(query, Some(1), args).ok()?.first().get_one::<T>().ok()?)
}

/// The SQL name of a type, as format_type prints it.
pub fn type_name(oid: pg_sys::Oid) -> String {
    select_one::<String>("SELECT pg_catalog.format_type($1, NULL)", &[oid.into()]).unwrap_or_else(|| "unknown".into())
}
