//! Small read-only SPI helpers shared by `data` and `store`.
//!
//! Every statement run through here names its functions, types and operators with their schema
//! (`pg_catalog.`, `OPERATOR(pg_catalog.=)`): a caller's search_path may put a schema with
//! look-alike objects first, and internal SQL must not call them.

use pgrx::datum::DatumWithOid;
use pgrx::prelude::*;

/// Runs a single-value query read-only, in the snapshot of the statement that called us, as a
/// STABLE function must see data: a scorer in a cursor opened before a deployment keeps
/// resolving the version the cursor's snapshot sees, and parallel workers (where only read-only
/// SPI is allowed) see what the leader sees. pgrx's own SPI calls switch to read-write, with a
/// fresh snapshot per statement, once the transaction has written anything; so this calls SPI
/// itself. None for no row or a NULL value.
pub fn select_one<T: FromDatum>(query: &str, args: &[DatumWithOid<'_>]) -> Option<T> {
    select(query, args, true)
}

/// As select_one, but in a fresh snapshot (read-write SPI): under READ COMMITTED it sees what other
/// sessions committed since the calling statement began, e.g. while it waited for a lock.
pub fn select_one_fresh<T: FromDatum>(query: &str, args: &[DatumWithOid<'_>]) -> Option<T> {
    select(query, args, false)
}

fn select<T: FromDatum>(query: &str, args: &[DatumWithOid<'_>], read_only: bool) -> Option<T> {
    let cmd = std::ffi::CString::new(query).expect("queries have no NUL");
    let mut types: Vec<pg_sys::Oid> = args.iter().map(|a| a.oid()).collect();
    let mut values: Vec<pg_sys::Datum> = args
        .iter()
        .map(|a| {
            a.datum()
                .map_or(pg_sys::Datum::from(0usize), |d| d.sans_lifetime())
        })
        .collect();
    let nulls: Vec<std::ffi::c_char> = args
        .iter()
        .map(|a| if a.datum().is_some() { b' ' } else { b'n' } as std::ffi::c_char)
        .collect();
    // SAFETY: connect and finish pair up (an ERROR in between ends the transaction, which resets
    // SPI); the value is converted into an owned T before SPI_finish frees the tuple table
    unsafe {
        pg_sys::SPI_connect();
        let rc = pg_sys::SPI_execute_with_args(
            cmd.as_ptr(),
            args.len() as i32,
            types.as_mut_ptr(),
            values.as_mut_ptr(),
            nulls.as_ptr(),
            read_only,
            1,
        );
        let table = pg_sys::SPI_tuptable;
        let value = if rc == pg_sys::SPI_OK_SELECT as i32
            && pg_sys::SPI_processed > 0
            && !table.is_null()
        {
            let mut isnull = false;
            let d = pg_sys::SPI_getbinval(*(*table).vals, (*table).tupdesc, 1, &mut isnull);
            T::from_polymorphic_datum(d, isnull, pg_sys::SPI_gettypeid((*table).tupdesc, 1))
        } else {
            None
        };
        pg_sys::SPI_finish();
        value
    }
}

/// The SQL name of a type, as format_type prints it.
pub fn type_name(oid: pg_sys::Oid) -> String {
    select_one::<String>("SELECT pg_catalog.format_type($1, NULL)", &[oid.into()])
        .unwrap_or_else(|| "unknown".into())
}
