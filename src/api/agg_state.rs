//! The transition state of pg_insight's aggregates (training aggregates, customer-value
//! aggregates): the SQL type `insight.agg_state`, and what every support function needs
//! (arguments by position, the aggregate's memory context, the state).
//!
//! Why a type of our own and not `internal`: Citus distributes an aggregate's partial
//! aggregation (worker_partial_agg on the workers, coord_combine_agg on the coordinator) only
//! when its transition type is a real type with text input and output (Citus's
//! AggregateEnabledCustom refuses pseudo-types), and PostgreSQL's own parallel aggregation
//! needs no serial/deserial functions for such a type.
//!
//! A training state (kmeans_agg, fit_agg: a sample of up to millions of values) is in memory an
//! expanded object (PostgreSQL's expandeddatum.h): a header in a small memory context of its
//! own, under the aggregate's context, that points to the Rust state; the Rust state is dropped
//! when that context is deleted. Transition functions change it in place through the
//! read-write pointer. A customer-grain state (rfm, clv_summary: a few bytes, one per customer)
//! stays flat and is changed in place as bytes (see "states changed in place" below for why).
//! When PostgreSQL stores or ships a state (a parallel worker's partial state, a Citus
//! worker's, a value in a table) it is flat: varlena header, "PGIS", kind, version, and the
//! kind's own bytes. The text form is `<kind>:<base64 of those bytes>`.
//!
//! Anyone may call the support functions (Citus checks EXECUTE as the calling user), so each
//! one is safe with any argument: it refuses to run outside an aggregate
//! (AggCheckCallContext), and a state it did not make in this call is read as if a stranger
//! wrote it: a flat state is decoded with a length limit and checked by its kind's `decode`,
//! an expanded one must carry our methods, our magic number and the caller's kind.

use crate::error::InsightError;
use base64::Engine;
use pgrx::prelude::*;
use pgrx::PgMemoryContexts;
use std::any::Any;
use std::borrow::Cow;

/// A kind of aggregate state.
pub trait StateKind: Clone + 'static {
    /// Its tag in the flat form; one per kind.
    const KIND: u8;
    /// Its name in the text form.
    const NAME: &'static str;
    /// The aggregates it serves (for messages).
    const AGGREGATES: &'static str;
    fn encode(&self) -> Vec<u8>;
    /// The state from `encode`'s bytes, checked as if a stranger wrote them.
    fn decode(bytes: &[u8]) -> std::result::Result<Self, String>;
}

/// `encode` for a state that bincode writes as it is.
pub(crate) fn bincode_encode<T: serde::Serialize>(v: &T) -> Vec<u8> {
    bincode::serialize(v).expect("serialising to a Vec cannot fail")
}

/// `decode` for such a state: no length in the bytes may claim more than there is.
pub(crate) fn bincode_decode<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
) -> std::result::Result<T, String> {
    use bincode::Options;
    bincode::DefaultOptions::new()
        .with_fixint_encoding()
        .with_limit(bytes.len() as u64)
        .deserialize(bytes)
        .map_err(|e| e.to_string())
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

// ------------------------------------------------------------------------------------------
// the flat form

const MAGIC: [u8; 4] = *b"PGIS";
const VERSION: u8 = 1;
/// Bytes before a kind's own: "PGIS", kind, version, two zero bytes.
const PREFIX: usize = 8;
const VARHDRSZ: usize = 4;
/// PostgreSQL's MaxAllocSize: the largest palloc, and so the largest flat state.
const MAX_ALLOC: usize = 0x3fff_ffff;

fn prefix(kind: u8) -> [u8; PREFIX] {
    [MAGIC[0], MAGIC[1], MAGIC[2], MAGIC[3], kind, VERSION, 0, 0]
}

/// The kind's bytes of a flat state (after the varlena header), checked against `kind`.
fn payload(flat: &[u8], kind: u8) -> std::result::Result<&[u8], String> {
    if flat.len() < PREFIX || flat[..4] != MAGIC || flat[6..8] != [0, 0] {
        return Err("it is not a pg_insight aggregate state".into());
    }
    if flat[5] != VERSION {
        return Err(format!(
            "it is of format version {}, this build reads {VERSION}",
            flat[5]
        ));
    }
    if flat[4] != kind {
        return Err(format!("it is a state of {}", kind_name(flat[4])));
    }
    Ok(&flat[PREFIX..])
}

/// Kinds: name, and a check of a flat state's bytes (the input function's).
fn kinds() -> [(
    u8,
    &'static str,
    fn(&[u8]) -> std::result::Result<(), String>,
); 3] {
    use crate::api::aggregate::State as Training;
    use crate::ml::clv::rfm::Rfm;
    use crate::ml::clv::summary::Purchases;
    fn check<T: StateKind>(b: &[u8]) -> std::result::Result<(), String> {
        T::decode(b).map(drop)
    }
    [
        (Training::KIND, Training::NAME, check::<Training>),
        (Purchases::KIND, Purchases::NAME, check::<Purchases>),
        (Rfm::KIND, Rfm::NAME, check::<Rfm>),
    ]
}

fn kind_name(kind: u8) -> &'static str {
    kinds()
        .iter()
        .find(|k| k.0 == kind)
        .map_or("an unknown kind", |k| k.1)
}

/// The bytes of a flat state of this payload; an error beyond what palloc gives.
fn flat_len(payload: &[u8]) -> usize {
    let n = VARHDRSZ + PREFIX + payload.len();
    if n > MAX_ALLOC {
        InsightError::out_of_range(
            "an aggregate state is larger than 1 GB",
            "Lower options.sample_size, or aggregate smaller groups.",
        )
        .raise()
    }
    n
}

/// A new flat state (palloc'd varlena) of `prefix + payload`.
unsafe fn flat_datum(kind: u8, payload: &[u8]) -> pg_sys::Datum {
    let n = flat_len(payload);
    let p = pg_sys::palloc(n) as *mut u8;
    write_flat(p, n, kind, payload);
    pg_sys::Datum::from(p)
}

unsafe fn write_flat(p: *mut u8, n: usize, kind: u8, payload: &[u8]) {
    pgrx::set_varsize_4b(p as *mut pg_sys::varlena, n as i32);
    let out = std::slice::from_raw_parts_mut(p.add(VARHDRSZ), n - VARHDRSZ);
    out[..PREFIX].copy_from_slice(&prefix(kind));
    out[PREFIX..].copy_from_slice(payload);
}

/// The bytes of a varlena argument (text, bytea, jsonb, a flat state).
pub(crate) unsafe fn varlena_bytes<'a>(d: pg_sys::Datum) -> &'a [u8] {
    let p = pg_sys::pg_detoast_datum_packed(d.cast_mut_ptr());
    pgrx::varlena::varlena_to_byte_slice(p)
}

// ------------------------------------------------------------------------------------------
// the expanded form

/// What the expanded object's header points to (Rust memory, dropped with the object's context).
struct Slot {
    kind: u8,
    value: Box<dyn Any>,
    encode: fn(&dyn Any) -> Vec<u8>,
    /// The bytes get_flat_size computed, for the flatten_into call that follows it.
    flat: Option<Vec<u8>>,
}

#[repr(C)]
struct Expanded {
    /// First, as PostgreSQL requires.
    hdr: pg_sys::ExpandedObjectHeader,
    magic: u64,
    slot: *mut Slot,
}

const EXPANDED_MAGIC: u64 = 0x5047_494e_5345_5850; // "PGINSEXP"

static METHODS: pg_sys::ExpandedObjectMethods = pg_sys::ExpandedObjectMethods {
    get_flat_size: Some(flat_size),
    flatten_into: Some(flatten_into),
};

fn encode_any<T: StateKind>(v: &dyn Any) -> Vec<u8> {
    v.downcast_ref::<T>()
        .expect("a slot holds its kind")
        .encode()
}

#[pg_guard]
unsafe extern "C-unwind" fn flat_size(eoh: *mut pg_sys::ExpandedObjectHeader) -> pg_sys::Size {
    let slot = &mut *(*(eoh as *mut Expanded)).slot;
    let bytes = (slot.encode)(&*slot.value);
    let n = flat_len(&bytes);
    slot.flat = Some(bytes);
    n
}

#[pg_guard]
unsafe extern "C-unwind" fn flatten_into(
    eoh: *mut pg_sys::ExpandedObjectHeader,
    result: *mut std::ffi::c_void,
    allocated: pg_sys::Size,
) {
    let slot = &mut *(*(eoh as *mut Expanded)).slot;
    let bytes = slot
        .flat
        .take()
        .unwrap_or_else(|| (slot.encode)(&*slot.value));
    if allocated != VARHDRSZ + PREFIX + bytes.len() {
        InsightError::internal("an aggregate state changed while it was being flattened").raise()
    }
    write_flat(result as *mut u8, allocated, slot.kind, &bytes);
}

/// Our expanded object behind `d`, and whether `d` is its read-write pointer; None for a flat
/// (or toasted) value.
unsafe fn expanded(d: pg_sys::Datum) -> Option<(*mut Slot, bool)> {
    let p = d.cast_mut_ptr::<u8>();
    // VARATT_IS_EXTERNAL_EXPANDED: a 1-byte external header (0x01 on little-endian) and tag
    let tag = (*p == 0x01).then(|| *p.add(1) as u32)?;
    let rw = match tag {
        pg_sys::vartag_external::VARTAG_EXPANDED_RW => true,
        pg_sys::vartag_external::VARTAG_EXPANDED_RO => false,
        _ => return None,
    };
    let eoh = pg_sys::DatumGetEOHP(d);
    if !std::ptr::eq((*eoh).eoh_methods, &METHODS)
        || (*(eoh as *mut Expanded)).magic != EXPANDED_MAGIC
    {
        InsightError::not_supported(
            "the value passed as a pg_insight aggregate state is not one",
            "Call pg_insight's aggregates; do not build other aggregates on their support functions.",
        )
        .raise()
    }
    Some(((*(eoh as *mut Expanded)).slot, rw))
}

fn wrong_kind<T: StateKind>(why: &str) -> ! {
    InsightError::corrupt(
        format!("a state passed to {} cannot be read: {why}", T::AGGREGATES),
        format!(
            "Call {}; do not build other aggregates on their support functions.",
            T::AGGREGATES
        ),
    )
    .raise()
}

/// A new state in a context of its own under `ctx`; its read-write pointer and the state.
pub(crate) unsafe fn new_state<'a, T: StateKind>(
    ctx: pg_sys::MemoryContext,
    state: T,
) -> (pg_sys::Datum, &'a mut T) {
    let own = pg_sys::AllocSetContextCreateInternal(
        ctx,
        c"pg_insight aggregate state".as_ptr(),
        0,
        1024,
        8 * 1024,
    );
    let e = pg_sys::MemoryContextAllocZero(own, std::mem::size_of::<Expanded>()) as *mut Expanded;
    pg_sys::EOH_init_header(&mut (*e).hdr, &METHODS, own);
    (*e).magic = EXPANDED_MAGIC;
    (*e).slot = PgMemoryContexts::For(own).leak_and_drop_on_delete(Slot {
        kind: T::KIND,
        value: Box::new(state),
        encode: encode_any::<T>,
        flat: None,
    });
    let value = (*(*e).slot).value.downcast_mut::<T>().expect("just made");
    (pg_sys::Datum::from((*e).hdr.eoh_rw_ptr.as_mut_ptr()), value)
}

/// The state in argument `i` to read: ours in memory, or decoded from its flat form.
pub(crate) unsafe fn state_arg<'a, T: StateKind>(
    fcinfo: pg_sys::FunctionCallInfo,
    i: usize,
) -> Option<Cow<'a, T>> {
    let d = arg(fcinfo, i)?;
    Some(match expanded(d) {
        Some((slot, _)) => Cow::Borrowed(held::<T>(slot)),
        None => Cow::Owned(decoded::<T>(d)),
    })
}

unsafe fn held<'a, T: StateKind>(slot: *mut Slot) -> &'a mut T {
    let slot = &mut *slot;
    if slot.kind != T::KIND {
        wrong_kind::<T>(&format!("it is a state of {}", kind_name(slot.kind)))
    }
    slot.flat = None;
    slot.value
        .downcast_mut::<T>()
        .expect("a slot holds its kind")
}

unsafe fn decoded<T: StateKind>(d: pg_sys::Datum) -> T {
    payload(varlena_bytes(d), T::KIND)
        .and_then(T::decode)
        .unwrap_or_else(|why| wrong_kind::<T>(&why))
}

/// Where a transition or combine function of an expanded kind keeps the state it returns.
/// Where every function of the calling aggregate is pg_insight's (`own`), the state lives under
/// the aggregate's context and its read-write pointer goes back, to be changed in place by the
/// next row. Otherwise (a window aggregate, someone's aggregate built on these functions) the
/// read-write pointer must not leave: a PL/pgSQL function handed one takes ownership of the
/// object (TransferExpandedObject), and when it returns the same pointer the aggregate keeps a
/// state whose memory is freed with the function's context. There the state is made in the
/// per-call context and returned flat.
pub(crate) struct Keep {
    ctx: pg_sys::MemoryContext,
    own: bool,
}

pub(crate) unsafe fn keep<T: StateKind>(fcinfo: pg_sys::FunctionCallInfo, function: &str) -> Keep {
    let ctx = aggregate_context::<T>(fcinfo, function);
    if crate::api::agg_caller::own_aggregate(fcinfo) {
        Keep { ctx, own: true }
    } else {
        Keep {
            ctx: pg_sys::CurrentMemoryContext,
            own: false,
        }
    }
}

impl Keep {
    /// The context a new state goes in.
    pub(crate) fn ctx(&self) -> pg_sys::MemoryContext {
        self.ctx
    }
}

/// What the function returns for state `d` (see Keep).
pub(crate) unsafe fn give(keep: &Keep, d: pg_sys::Datum) -> pg_sys::Datum {
    if keep.own {
        d
    } else {
        // the detoaster flattens an expanded object into a new value
        pg_sys::Datum::from(pg_sys::pg_detoast_datum(d.cast_mut_ptr()))
    }
}

/// The state in argument 0 to change: in place when it is our read-write pointer and the
/// aggregate is ours; otherwise a copy in a new object (see Keep). Return it through `give`.
/// None when the argument is NULL.
pub(crate) unsafe fn state_arg_mut<'a, T: StateKind>(
    fcinfo: pg_sys::FunctionCallInfo,
    keep: &Keep,
) -> Option<(pg_sys::Datum, &'a mut T)> {
    let d = arg(fcinfo, 0)?;
    Some(match expanded(d) {
        Some((slot, true)) if keep.own => (d, held::<T>(slot)),
        Some((slot, _)) => new_state(keep.ctx, held::<T>(slot).clone()),
        None => new_state(keep.ctx, decoded::<T>(d)),
    })
}

/// The combine function's work for an expanded kind: `merge(into, from)` when both are there.
/// The second state is another's (a worker's, read from its flat form): read, not changed.
pub(crate) unsafe fn combine<T: StateKind>(
    fcinfo: pg_sys::FunctionCallInfo,
    keep: &Keep,
    merge: impl FnOnce(&mut T, T),
) -> pg_sys::Datum {
    let other = state_arg::<T>(fcinfo, 1).map(Cow::into_owned);
    let d = match (state_arg_mut::<T>(fcinfo, keep), other) {
        (None, None) => return null(fcinfo),
        (Some((d, _)), None) => d,
        (None, Some(o)) => new_state(keep.ctx, o).0,
        (Some((d, s)), Some(o)) => {
            merge(s, o);
            d
        }
    };
    give(keep, d)
}

// ------------------------------------------------------------------------------------------
// states changed in place in their flat form (rfm, clv_summary)
//
// A customer-grain aggregate runs once per customer: an expanded object's memory context per
// group would cost a kilobyte each, and PostgreSQL's hash aggregate walks every group's
// context for each new group (hash_agg_check_limits: quadratic). So these kinds keep their
// state flat, a palloc'd varlena that the transition function changes in place (allowed when
// an aggregate calls it: the state is the aggregate's own copy). A state that must grow is
// returned as a new value; PostgreSQL copies it into the aggregate's context and frees the old.

/// The kind's bytes of the flat state in argument 0, to change in place, with the datum to
/// return; None when NULL. Every flat state was checked when it was made (by the input
/// function or by this code); here only its prefix is, and the kind checks what it reads.
pub(crate) unsafe fn flat_arg_mut<'a, T: StateKind>(
    fcinfo: pg_sys::FunctionCallInfo,
) -> Option<(pg_sys::Datum, &'a mut [u8])> {
    let d = arg(fcinfo, 0)?;
    Some(flat_mut::<T>(d))
}

/// A flat state's datum (detoasted to a 4-byte header, which may copy it) and its kind's bytes.
pub(crate) unsafe fn flat_mut<'a, T: StateKind>(d: pg_sys::Datum) -> (pg_sys::Datum, &'a mut [u8]) {
    if let Some((slot, _)) = expanded(d) {
        wrong_kind::<T>(&format!("it is a state of {}", kind_name((*slot).kind)))
    }
    let p = pg_sys::pg_detoast_datum(d.cast_mut_ptr());
    let n = pgrx::varlena::varsize_any_exhdr(p);
    let bytes = std::slice::from_raw_parts_mut(pgrx::varlena::vardata_any(p) as *mut u8, n);
    if let Err(why) = payload(bytes, T::KIND) {
        wrong_kind::<T>(&why)
    }
    (pg_sys::Datum::from(p), &mut bytes[PREFIX..])
}

/// A new flat state of the kind's bytes, in the current memory context (the aggregate copies
/// what a transition function returns into its own).
pub(crate) unsafe fn new_flat<'a, T: StateKind>(payload: &[u8]) -> (pg_sys::Datum, &'a mut [u8]) {
    flat_mut::<T>(flat_datum(T::KIND, payload))
}

/// The combine function's work for a flat kind: `merge(into, from)` of the two states read,
/// returned as a new flat state.
pub(crate) unsafe fn combine_flat<T: StateKind>(
    fcinfo: pg_sys::FunctionCallInfo,
    merge: impl FnOnce(&mut T, T),
) -> pg_sys::Datum {
    let other = state_arg::<T>(fcinfo, 1).map(Cow::into_owned);
    match (state_arg::<T>(fcinfo, 0).map(Cow::into_owned), other) {
        (None, None) => null(fcinfo),
        (Some(_), None) => arg(fcinfo, 0).expect("not NULL"),
        (None, Some(o)) => new_flat::<T>(&o.encode()).0,
        (Some(mut s), Some(o)) => {
            merge(&mut s, o);
            new_flat::<T>(&s.encode()).0
        }
    }
}

/// Returns SQL NULL from a C function.
pub(crate) unsafe fn null(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    (*fcinfo).isnull = true;
    pg_sys::Datum::from(0)
}

// ------------------------------------------------------------------------------------------
// text input and output

fn bad_text(why: impl std::fmt::Display) -> ! {
    InsightError::invalid_text(
        format!("invalid input syntax for type insight.agg_state: {why}"),
        "A state's text is what its output gave: <kind>:<base64>, kind training, clv_summary or rfm.",
    )
    .raise()
}

/// insight.agg_state_in(cstring) RETURNS insight.agg_state: the kind's bytes checked as its
/// aggregates' functions check them.
unsafe fn state_in(text: &std::ffi::CStr) -> pg_sys::Datum {
    let text = text
        .to_str()
        .unwrap_or_else(|_| bad_text("it is not UTF-8"));
    let (name, b64) = text
        .split_once(':')
        .unwrap_or_else(|| bad_text("no ':' after the kind"));
    let Some((kind, _, check)) = kinds().into_iter().find(|k| k.1 == name) else {
        bad_text(format!("unknown kind \"{}\"", name.escape_default()))
    };
    // whitespace is allowed anywhere (PostgreSQL's encode(..., 'base64') breaks lines)
    let b64: String = b64.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap_or_else(|e| bad_text(format!("the text after \"{name}:\" is not base64 ({e})")));
    check(&bytes).unwrap_or_else(|why| {
        bad_text(format!("a state of kind {name} that cannot be read: {why}"))
    });
    flat_datum(kind, &bytes)
}

unsafe fn state_out(d: pg_sys::Datum) -> std::ffi::CString {
    // an expanded state is flattened by the detoaster
    let flat = varlena_bytes(d);
    let known = flat.len() >= PREFIX && kinds().iter().any(|k| k.0 == flat[4]);
    let checked = if known {
        payload(flat, flat[4]).map(drop)
    } else {
        Err("it is not a pg_insight aggregate state of a known kind".to_string())
    };
    if let Err(why) = checked {
        InsightError::corrupt(
            format!("an insight.agg_state value cannot be shown: {why}"),
            "",
        )
        .raise()
    }
    let text = format!(
        "{}:{}",
        kind_name(flat[4]),
        base64::engine::general_purpose::STANDARD.encode(&flat[PREFIX..])
    );
    std::ffi::CString::new(text).expect("base64 has no NUL")
}

function_info_v1!(pg_finfo_insight_agg_state_in);
/// insight.agg_state_in(cstring) RETURNS insight.agg_state
#[no_mangle]
#[doc(hidden)]
#[pg_guard]
pub unsafe extern "C-unwind" fn insight_agg_state_in(
    fcinfo: pg_sys::FunctionCallInfo,
) -> pg_sys::Datum {
    let Some(d) = arg(fcinfo, 0) else {
        return null(fcinfo);
    };
    state_in(std::ffi::CStr::from_ptr(d.cast_mut_ptr()))
}

function_info_v1!(pg_finfo_insight_agg_state_out);
/// insight.agg_state_out(insight.agg_state) RETURNS cstring
#[no_mangle]
#[doc(hidden)]
#[pg_guard]
pub unsafe extern "C-unwind" fn insight_agg_state_out(
    fcinfo: pg_sys::FunctionCallInfo,
) -> pg_sys::Datum {
    let Some(d) = arg(fcinfo, 0) else {
        return null(fcinfo);
    };
    let text = state_out(d);
    pg_sys::Datum::from(pg_sys::pstrdup(text.as_ptr()))
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
