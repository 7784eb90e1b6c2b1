//! What every aggregate with an `internal` state needs (training aggregates, customer-value
//! aggregates): reading arguments by position, the aggregate's memory context, and a state box
//! that says whose it is.
//!
//! Functions that take `internal` cannot be called from SQL with a value (there is no cast to
//! internal), and only superusers may build aggregates on them; still, each checks that an
//! aggregate calls it and that the state is of its own kind (a magic number at the start of the
//! box) before touching it, so a superuser's aggregate that mixes another state in gets an
//! error, not a crash.

use crate::error::InsightError;
use pgrx::prelude::*;
use pgrx::PgMemoryContexts;

/// A kind of aggregate state: its magic number and the aggregates it serves (for messages).
pub trait StateKind: Sized {
    const MAGIC: u64;
    const AGGREGATES: &'static str;
}

#[repr(C)]
pub struct Boxed<T> {
    magic: u64,
    /// None once combine moved the content into another state.
    pub state: Option<T>,
}

/// Argument `i`, None when NULL or absent.
pub(crate) unsafe fn arg(fcinfo: pg_sys::FunctionCallInfo, i: usize) -> Option<pg_sys::Datum> {
    let n = (*fcinfo).nargs as usize;
    if i >= n {
        return None;
    }
    let a = (*fcinfo).args.as_slice(n)[i];
    (!a.isnull).then_some(a.value)
}

/// The aggregate's memory context; an error when not called by an aggregate.
pub(crate) unsafe fn aggregate_context<T: StateKind>(
    fcinfo: pg_sys::FunctionCallInfo,
    function: &str,
) -> pg_sys::MemoryContext {
    let mut ctx: pg_sys::MemoryContext = std::ptr::null_mut();
    if pg_sys::AggCheckCallContext(fcinfo, &mut ctx) == 0 || ctx.is_null() {
        InsightError::not_supported(
            format!("{function} is a support function of pg_insight's aggregates and cannot be called on its own"),
            format!("Call {}.", T::AGGREGATES),
        )
        .raise()
    }
    ctx
}

/// The state behind an `internal` argument; an error for anything that is not a `T`.
pub(crate) unsafe fn state_at<'a, T: StateKind>(d: pg_sys::Datum) -> &'a mut Boxed<T> {
    let p = d.cast_mut_ptr::<Boxed<T>>();
    if p.is_null() || (*p).magic != T::MAGIC {
        InsightError::not_supported(
            format!(
                "the state passed to a pg_insight aggregate function is not a state of {}",
                T::AGGREGATES
            ),
            format!(
                "Call {}; do not build other aggregates on their support functions.",
                T::AGGREGATES
            ),
        )
        .raise()
    }
    &mut *p
}

/// A new state in `ctx`, dropped when the context is.
pub(crate) unsafe fn new_state<T: StateKind>(
    ctx: pg_sys::MemoryContext,
    state: T,
) -> pg_sys::Datum {
    let p = PgMemoryContexts::For(ctx).leak_and_drop_on_delete(Boxed {
        magic: T::MAGIC,
        state: Some(state),
    });
    pg_sys::Datum::from(p)
}

/// The bytes of a varlena argument (text, bytea, jsonb).
pub(crate) unsafe fn varlena_bytes<'a>(d: pg_sys::Datum) -> &'a [u8] {
    let p = pg_sys::pg_detoast_datum_packed(d.cast_mut_ptr());
    pgrx::varlena::varlena_to_byte_slice(p)
}

/// Returns SQL NULL from a C function.
pub(crate) unsafe fn null(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    (*fcinfo).isnull = true;
    pg_sys::Datum::from(0)
}

/// The combine function's work for any state: `merge(into, from)` when both are there; a state
/// from a short-lived context (the second one, deserialised) is moved into `ctx`.
pub(crate) unsafe fn combine<T: StateKind>(
    fcinfo: pg_sys::FunctionCallInfo,
    ctx: pg_sys::MemoryContext,
    merge: impl FnOnce(&mut T, T),
) -> pg_sys::Datum {
    let (a, b) = (arg(fcinfo, 0), arg(fcinfo, 1));
    let take = |d: pg_sys::Datum| state_at::<T>(d).state.take();
    match (a, b) {
        (None, None) => null(fcinfo),
        (Some(a), None) => a,
        (None, Some(b)) => match take(b) {
            Some(s) => new_state(ctx, s),
            None => null(fcinfo),
        },
        (Some(a), Some(b)) => {
            let other = take(b);
            let into = state_at::<T>(a);
            match (&mut into.state, other) {
                (_, None) => {}
                (None, Some(o)) => into.state = Some(o),
                (Some(s), Some(o)) => merge(s, o),
            }
            a
        }
    }
}

/// The serial function's work for a state that bincode writes as it is: the state's bytes, NULL
/// for no state.
pub(crate) unsafe fn serial<T: StateKind + serde::Serialize>(
    fcinfo: pg_sys::FunctionCallInfo,
    function: &str,
) -> pg_sys::Datum {
    aggregate_context::<T>(fcinfo, function);
    let Some(s) = arg(fcinfo, 0).and_then(|d| state_at::<T>(d).state.as_ref()) else {
        return null(fcinfo);
    };
    bincode::serialize(s)
        .expect("serialising to a Vec cannot fail")
        .into_datum()
        .expect("bytea")
}

/// The deserial function's work for such a state: the bytes read back with a limit (no length
/// in them may claim more than there is) and `valid` checked, as if a stranger wrote them; the
/// state goes in the calling (per-tuple) context, and combine moves it into the aggregate's.
pub(crate) unsafe fn deserial<T: StateKind + serde::de::DeserializeOwned>(
    fcinfo: pg_sys::FunctionCallInfo,
    function: &str,
    valid: impl Fn(&T) -> bool,
) -> pg_sys::Datum {
    aggregate_context::<T>(fcinfo, function);
    let Some(d) = arg(fcinfo, 0) else {
        return null(fcinfo);
    };
    use bincode::Options;
    let bytes = varlena_bytes(d);
    let state: T = bincode::DefaultOptions::new()
        .with_fixint_encoding()
        .with_limit(bytes.len() as u64)
        .deserialize(bytes)
        .ok()
        .filter(|s| valid(s))
        .unwrap_or_else(|| {
            InsightError::corrupt(
                format!("a partial state of {} cannot be read", T::AGGREGATES),
                "",
            )
            .raise()
        });
    new_state(pg_sys::CurrentMemoryContext, state)
}

/// A final function's composite result: `values` as a row of the function's declared result
/// type, which must have exactly these column `types` (an error if the type was altered).
pub(crate) unsafe fn composite(
    fcinfo: pg_sys::FunctionCallInfo,
    function: &str,
    type_name: &str,
    types: &[pg_sys::Oid],
    mut values: Vec<pg_sys::Datum>,
) -> pg_sys::Datum {
    let n = types.len();
    let mut desc: pg_sys::TupleDesc = std::ptr::null_mut();
    if pg_sys::get_call_result_type(fcinfo, std::ptr::null_mut(), &mut desc)
        != pg_sys::TypeFuncClass::TYPEFUNC_COMPOSITE
        || desc.is_null()
        || (*desc).natts as usize != n
        || (*desc)
            .attrs
            .as_slice(n)
            .iter()
            .map(|a| a.atttypid)
            .ne(types.iter().copied())
        || values.len() != n
    {
        InsightError::corrupt(
            format!("{function} must return {type_name}"),
            "Reinstall the extension.",
        )
        .raise()
    }
    let desc = pg_sys::BlessTupleDesc(desc);
    let mut nulls = vec![false; n];
    let tuple = pg_sys::heap_form_tuple(desc, values.as_mut_ptr(), nulls.as_mut_ptr());
    pg_sys::HeapTupleHeaderGetDatum((*tuple).t_data)
}
