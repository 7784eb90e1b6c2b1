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
