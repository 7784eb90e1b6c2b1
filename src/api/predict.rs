//! Scoring: insight.predict / predict_proba / predict_class / predict_purchase / explain.
//!
//! The hot path, per row: find this call's slot (a short linear scan by model text), deform the
//! row once into reused buffers with the row type -> feature mapping cached in the slot, encode
//! into a reused vector and run the kernel. Nothing is allocated per row for numeric features.
//! Which version a name means is looked up once per statement (see store::cache).

use crate::error::{ident, InsightError, OrRaise, Result};
use crate::ml::metrics::argmax;
use crate::ml::model::{FoldedLinear, Model, Task};
use crate::ml::preprocess::{PrepError, ValueKind, Value};
use crate::store::{cache, catalog};
use pgrx::prelude::*;
use pgrx::AnyElement;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// How one attribute's datum is read.
enum AttrRead {
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    Numeric,
    Bool,
    Date,
    Timestamp,
    Text,
    Enum(HashMap<u32, String>),
}

/// A row type bound to a model's features.
struct Binding {
    typid: pg_sys::Oid,
    typmod: i32,
    tupdesc: pg_sys::TupleDesc,
    /// per model feature: attribute index and how to read it
    reads: Vec<(usize, AttrRead)>,
    /// When every attribute up to the last one a feature needs has a fixed width, the byte
    /// offset of each feature's value in a tuple without NULLs (PostgreSQL's attcacheoff idea):
    /// such rows are read directly instead of deformed.
    fixed_offsets: Option<Vec<usize>>,
    /// Attributes a tuple must have for `fixed_offsets` to apply.
    fixed_natts: u16,
    values: Vec<pg_sys::Datum>,
    nulls: Vec<bool>,
}

impl Drop for Binding {
    fn drop(&mut self) {
        unsafe { pg_sys::FreeTupleDesc(self.tupdesc) }
    }
}

struct Slot {
    key: String,
    stamp: (i64, u32),
    model_id: i64,
    model: Rc<Model>,
    folded: Option<FoldedLinear>,
    /// The argument type last seen and whether it is a row type (saves a catalog call per row).
    arg_type: (pg_sys::Oid, bool),
    binding: Option<Binding>,
    /// For calls rewritten to column arguments: the row type and, per feature, the argument
    /// index and how to read it.
    columns: Option<(pg_sys::Oid, Vec<(usize, AttrRead)>)>,
    x: Vec<f64>,
    out: Vec<f64>,
}

/// PostgreSQL functions called once per scored row, declared here without pgrx's error guard:
/// pgrx wraps every pg_sys call in a sigsetjmp, which costs more than the call itself on this
/// path. Each of these only reads memory and cannot raise an ERROR for the valid inputs we pass
/// (a detoasted heap tuple with its own descriptor; plain getters), so there is no longjmp to catch.
mod unguarded {
    use pgrx::pg_sys;
    extern "C-unwind" {
        pub fn heap_deform_tuple(
            tuple: pg_sys::HeapTuple,
            desc: pg_sys::TupleDesc,
            values: *mut pg_sys::Datum,
            isnull: *mut bool,
        );
        pub fn GetCurrentStatementStartTimestamp() -> pg_sys::TimestampTz;
        pub fn GetCurrentCommandId(used: bool) -> pg_sys::CommandId;
    }
}

thread_local! {
    static SLOTS: RefCell<Vec<Slot>> = const { RefCell::new(Vec::new()) };
}
const MAX_SLOTS: usize = 16;

/// Scores `row` with `model` and hands the outputs to `f`.
fn with_scores<R>(model: &str, row: &AnyElement, f: impl FnOnce(&Model, &[f64], &[f64]) -> Result<R>) -> R {
    scores(model, row, false, f)
}

/// Finds (or creates) this model text's slot, re-resolving the name once per statement, and
/// runs `f` on it.
fn with_slot<R>(model: &str, f: impl FnOnce(&mut Slot) -> Result<R>) -> R {
    SLOTS
        .with(|slots| {
            let mut slots = slots.borrow_mut();
            let stamp = unsafe {
                (unguarded::GetCurrentStatementStartTimestamp(), unguarded::GetCurrentCommandId(false))
            };
            let idx = match slots.iter().position(|s| s.key == model) {
                Some(i) => {
                    if slots[i].stamp != stamp {
                        let id = catalog::resolve(&catalog::parse_ref(model)?)?;
                        if id != slots[i].model_id {
                            let m = cache::load(id)?;
                            let s = &mut slots[i];
                            s.x = vec![0.0; m.preprocessor.width];
                            s.out = vec![0.0; m.outputs()];
                            s.folded = m.fold_linear();
                            s.model = m;
                            s.model_id = id;
                            s.binding = None;
                            s.columns = None;
                        }
                        slots[i].stamp = stamp;
                    }
                    i
                }
                None => {
                    let id = catalog::resolve(&catalog::parse_ref(model)?)?;
                    let m = cache::load(id)?;
                    if slots.len() >= MAX_SLOTS {
                        slots.remove(0);
                    }
                    slots.push(Slot {
                        key: model.to_string(),
                        stamp,
                        model_id: id,
                        x: vec![0.0; m.preprocessor.width],
                        out: vec![0.0; m.outputs()],
                        folded: m.fold_linear(),
                        arg_type: (pg_sys::InvalidOid, false),
                        model: m,
                        binding: None,
                        columns: None,
                    });
                    slots.len() - 1
                }
            };
            f(&mut slots[idx])
        })
        .or_raise()
}

/// `need_encoded`: fill the encoded input vector even when the folded fast path could skip it.
fn scores<R>(
    model: &str,
    row: &AnyElement,
    need_encoded: bool,
    f: impl FnOnce(&Model, &[f64], &[f64]) -> Result<R>,
) -> R {
    with_slot(model, |slot| {
            let typoid = row.oid();
            if slot.arg_type.0 != typoid {
                slot.arg_type = (typoid, unsafe { pg_sys::type_is_rowtype(typoid) });
            }
            if !need_encoded && slot.folded.is_some() && slot.arg_type.1 {
                let z = unsafe { fold_row(slot, model, row.datum())? };
                let Slot { model: m, x, out, folded, .. } = slot;
                out[0] = folded.as_ref().unwrap().finish(z);
                return f(m, x, out);
            }
            unsafe { encode_input(slot, model, row)? };
            let Slot { model: m, x, out, .. } = slot;
            m.predict_encoded(x, out);
            f(m, x, out)
    })
}

unsafe fn encode_input(slot: &mut Slot, model_name: &str, row: &AnyElement) -> Result<()> {
    let typoid = row.oid();
    if pg_sys::type_is_rowtype(typoid) {
        encode_row(slot, model_name, row.datum())
    } else if pg_sys::get_element_type(typoid) != pg_sys::InvalidOid {
        encode_array(slot, model_name, row.datum())
    } else {
        Err(InsightError::datatype_mismatch(
            format!("cannot score a value of type {}", type_name(typoid)),
            "Pass a table row (insight.predict('model', c) FROM customers c) or a numeric array in the model's feature order.",
        ))
    }
}

fn type_name(oid: pg_sys::Oid) -> String {
    catalog::select_one::<String>("SELECT format_type($1, NULL)", &[oid.into()])
        .unwrap_or_else(|| "unknown".into())
}

fn encode_err(model_name: &str, e: PrepError) -> InsightError {
    match e {
        PrepError::Null { feature } => InsightError::null_value(
            format!("column {} is NULL and model \"{model_name}\" was trained with impute = error", ident(&feature)),
            "Pass a value, or retrain with options => '{\"impute\": \"mean\"}'.",
        ),
        PrepError::NotFinite { feature } => InsightError::data(
            format!("feature {} is NaN or Infinity", ident(&feature)),
            "Pass finite numbers; NULL is imputed.",
        ),
        PrepError::WrongKind { feature, expected } => InsightError::datatype_mismatch(
            format!("feature {} must be {expected} for model \"{model_name}\"", ident(&feature)),
            "Check the column types against insight.model_info(model)->'features'.",
        ),
        PrepError::AllNull { feature } => InsightError::data(format!("feature {} has no values", ident(&feature)), ""),
    }
}

/// Evaluates the folded linear score straight from the row: a tuple without NULLs whose
/// features sit at fixed offsets is read in place; any other is deformed first.
unsafe fn fold_row(slot: &mut Slot, model_name: &str, datum: pg_sys::Datum) -> Result<f64> {
    let td = whole_row(datum);
    ensure_binding(slot, model_name, td)?;
    let (b, fl) = (slot.binding.as_ref().unwrap(), slot.folded.as_ref().unwrap());
    let features = &slot.model.preprocessor.features;
    let mut z = fl.base;
    if let Some(offsets) = &b.fixed_offsets {
        let infomask = (*td).t_infomask as u32;
        let natts = ((*td).t_infomask2 as u32 & pg_sys::HEAP_NATTS_MASK) as u16;
        if infomask & pg_sys::HEAP_HASNULL == 0 && natts >= b.fixed_natts {
            let data = (td as *const u8).add((*td).t_hoff as usize);
            for (j, ((_, read), off)) in b.reads.iter().zip(offsets).enumerate() {
                let v = read_datum(read, fixed_datum(read, data.add(*off)));
                z += fl.term(j, v, &features[j].name).map_err(|e| encode_err(model_name, e))?;
            }
            return Ok(z);
        }
    }
    deform_tuple(slot, td);
    let (b, fl) = (slot.binding.as_ref().unwrap(), slot.folded.as_ref().unwrap());
    let features = &slot.model.preprocessor.features;
    for (j, (att, read)) in b.reads.iter().enumerate() {
        let v = if b.nulls[*att] { Value::Null } else { read_datum(read, b.values[*att]) };
        z += fl.term(j, v, &features[j].name).map_err(|e| encode_err(model_name, e))?;
    }
    Ok(z)
}

/// The heap tuple header of a whole-row value.
#[inline(always)]
unsafe fn whole_row(datum: pg_sys::Datum) -> pg_sys::HeapTupleHeader {
    let p = datum.cast_mut_ptr::<pg_sys::varlena>();
    // A whole-row value is normally a plain 4-byte-header varlena; only a toasted or short one
    // (e.g. read from a composite column) needs detoasting.
    (if (*(p as *const u8)) & 0x03 == 0 { p } else { pg_sys::pg_detoast_datum(p) }) as pg_sys::HeapTupleHeader
}

/// Binds the row type to the model's features unless it is bound already.
#[inline(always)]
unsafe fn ensure_binding(slot: &mut Slot, model_name: &str, td: pg_sys::HeapTupleHeader) -> Result<()> {
    let typid = (*td).t_choice.t_datum.datum_typeid;
    let typmod = (*td).t_choice.t_datum.datum_typmod;
    let rebind = match &slot.binding {
        Some(b) => b.typid != typid || b.typmod != typmod,
        None => true,
    };
    if rebind {
        slot.binding = None;
        slot.binding = Some(bind(typid, typmod, &slot.model, model_name)?);
    }
    Ok(())
}

/// Deforms the row into the binding's buffers.
unsafe fn deform_tuple(slot: &mut Slot, td: pg_sys::HeapTupleHeader) {
    let b = slot.binding.as_mut().unwrap();
    let mut tuple: pg_sys::HeapTupleData = std::mem::zeroed();
    tuple.t_len = pgrx::varlena::varsize_4b(td as *const pg_sys::varlena) as u32;
    tuple.t_data = td;
    unguarded::heap_deform_tuple(&mut tuple, b.tupdesc, b.values.as_mut_ptr(), b.nulls.as_mut_ptr());
}

unsafe fn encode_row(slot: &mut Slot, model_name: &str, datum: pg_sys::Datum) -> Result<()> {
    let td = whole_row(datum);
    ensure_binding(slot, model_name, td)?;
    deform_tuple(slot, td);
    let Slot { binding, x, model, .. } = slot;
    let b = binding.as_mut().unwrap();
    let pre = &model.preprocessor;
    for (j, (att, read)) in b.reads.iter().enumerate() {
        let v = if b.nulls[*att] { Value::Null } else { read_datum(read, b.values[*att]) };
        pre.encode(j, v, x).map_err(|e| encode_err(model_name, e))?;
    }
    Ok(())
}

const EPOCH_SHIFT_DAYS: f64 = 10957.0; // 1970-01-01 -> 2000-01-01

#[inline(always)]
unsafe fn read_datum(read: &AttrRead, d: pg_sys::Datum) -> Value<'_> {
    match read {
        AttrRead::Float8 => Value::Number(f64::from_bits(d.value() as u64)),
        AttrRead::Int4 => Value::Number(d.value() as i32 as f64),
        AttrRead::Int8 => Value::Number(d.value() as i64 as f64),
        AttrRead::Int2 => Value::Number(d.value() as i16 as f64),
        AttrRead::Float4 => Value::Number(f32::from_bits(d.value() as u32) as f64),
        AttrRead::Bool => Value::Number(if d.value() & 0xff != 0 { 1.0 } else { 0.0 }),
        AttrRead::Numeric => {
            Value::Number(pgrx::direct_function_call::<f64>(pg_sys::numeric_float8, &[Some(d)]).unwrap_or(f64::NAN))
        }
        AttrRead::Date => {
            let v = d.value() as i32;
            if v == i32::MAX || v == i32::MIN {
                Value::Number(f64::INFINITY)
            } else {
                Value::Number(v as f64 + EPOCH_SHIFT_DAYS)
            }
        }
        AttrRead::Timestamp => {
            let v = d.value() as i64;
            if v == i64::MAX || v == i64::MIN {
                Value::Number(f64::INFINITY)
            } else {
                Value::Number(v as f64 / 86_400_000_000.0 + EPOCH_SHIFT_DAYS)
            }
        }
        AttrRead::Text => {
            let p = pg_sys::pg_detoast_datum_packed(d.cast_mut_ptr());
            Value::Text(pgrx::varlena::text_to_rust_str_unchecked(p))
        }
        AttrRead::Enum(labels) => Value::Text(labels.get(&(d.value() as u32)).map_or("", |s| s.as_str())),
    }
}

fn base_read(typ: pg_sys::Oid) -> Option<AttrRead> {
    let base = unsafe { pg_sys::getBaseType(typ) };
    Some(match base {
        pg_sys::INT2OID => AttrRead::Int2,
        pg_sys::INT4OID => AttrRead::Int4,
        pg_sys::INT8OID => AttrRead::Int8,
        pg_sys::FLOAT4OID => AttrRead::Float4,
        pg_sys::FLOAT8OID => AttrRead::Float8,
        pg_sys::NUMERICOID => AttrRead::Numeric,
        pg_sys::BOOLOID => AttrRead::Bool,
        pg_sys::DATEOID => AttrRead::Date,
        pg_sys::TIMESTAMPOID | pg_sys::TIMESTAMPTZOID => AttrRead::Timestamp,
        pg_sys::TEXTOID | pg_sys::VARCHAROID | pg_sys::BPCHAROID | pg_sys::NAMEOID => AttrRead::Text,
        t if unsafe { pg_sys::type_is_enum(t) } => {
            let labels = Spi::connect(|c| {
                c.select("SELECT oid::int8, enumlabel::text FROM pg_enum WHERE enumtypid = $1", None, &[t.into()])
                    .map(|rows| {
                        rows.filter_map(|r| {
                            Some((r.get::<i64>(1).ok()?? as u32, r.get::<String>(2).ok()??))
                        })
                        .collect::<HashMap<u32, String>>()
                    })
                    .unwrap_or_default()
            });
            AttrRead::Enum(labels)
        }
        _ => return None,
    })
}

fn compatible(kind: ValueKind, read: &AttrRead) -> bool {
    use AttrRead::*;
    match kind {
        ValueKind::Number | ValueKind::Boolean => {
            matches!(read, Int2 | Int4 | Int8 | Float4 | Float8 | Numeric | Bool)
        }
        ValueKind::Date | ValueKind::Timestamp => matches!(read, Date | Timestamp),
        ValueKind::Text => matches!(read, Text | Enum(_)),
    }
}

unsafe fn bind(typid: pg_sys::Oid, typmod: i32, model: &Model, model_name: &str) -> Result<Binding> {
    let src = pg_sys::lookup_rowtype_tupdesc(typid, typmod);
    let tupdesc = {
        let old = pg_sys::MemoryContextSwitchTo(pg_sys::TopMemoryContext);
        let c = pg_sys::CreateTupleDescCopy(src);
        pg_sys::MemoryContextSwitchTo(old);
        c
    };
    if (*src).tdrefcount >= 0 {
        pg_sys::DecrTupleDescRefCount(src);
    }
    let natts = (*tupdesc).natts as usize;
    let attrs = (*tupdesc).attrs.as_slice(natts);
    let live: Vec<(usize, String, pg_sys::Oid)> = attrs
        .iter()
        .enumerate()
        .filter(|(_, a)| !a.attisdropped)
        .map(|(i, a)| {
            let name = std::ffi::CStr::from_ptr(a.attname.data.as_ptr()).to_string_lossy().into_owned();
            (i, name, a.atttypid)
        })
        .collect();
    // from here on, free the copy if binding fails
    let mut binding = Binding {
        typid,
        typmod,
        tupdesc,
        reads: Vec::new(),
        fixed_offsets: None,
        fixed_natts: 0,
        values: vec![pg_sys::Datum::from(0); natts],
        nulls: vec![true; natts],
    };
    let features = &model.preprocessor.features;
    // ROW(a, b, ...) makes a record with fields f1, f2, ...: bound by position. Other records
    // (a subquery's row) carry their column names and bind by name like table rows.
    let anonymous = typid == pg_sys::RECORDOID
        && live.iter().enumerate().all(|(i, (_, n, _))| *n == format!("f{}", i + 1));
    if anonymous && live.len() != features.len() {
        return Err(InsightError::datatype_mismatch(
            format!(
                "ROW(...) has {} fields but model \"{model_name}\" has {} features",
                live.len(),
                features.len()
            ),
            format!(
                "An anonymous ROW binds by position: pass {} in this order.",
                features.iter().map(|f| ident(&f.name)).collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    for (j, f) in features.iter().enumerate() {
        let found = if anonymous { live.get(j) } else { live.iter().find(|(_, n, _)| *n == f.name) };
        let Some((att, att_name, att_type)) = found else {
            let names: Vec<&str> = live.iter().map(|(_, n, _)| n.as_str()).collect();
            return Err(missing_column(model, model_name, &f.name, &names));
        };
        let read = base_read(*att_type);
        match read {
            Some(r) if compatible(f.kind, &r) => binding.reads.push((*att, r)),
            _ => {
                return Err(InsightError::datatype_mismatch(
                    format!(
                        "column {} has type {}, but model \"{model_name}\" was trained on it as {} ({})",
                        ident(att_name),
                        type_name(*att_type),
                        crate::data::columns::kind_name(f.kind),
                        f.sql_type
                    ),
                    "Cast the column in a view or in the ROW(...) you pass.",
                ))
            }
        }
    }
    binding.fixed_offsets = fixed_offsets(attrs, &binding.reads);
    binding.fixed_natts = binding.reads.iter().map(|(a, _)| *a + 1).max().unwrap_or(0) as u16;
    Ok(binding)
}

/// Byte offsets of the features' attributes in a tuple without NULLs, when all attributes up to
/// the last needed one are fixed-width, not dropped, and every needed one is read by value.
fn fixed_offsets(attrs: &[pg_sys::FormData_pg_attribute], reads: &[(usize, AttrRead)]) -> Option<Vec<usize>> {
    let last = reads.iter().map(|(a, _)| *a).max()?;
    let mut offsets = Vec::with_capacity(last + 1);
    let mut off = 0usize;
    for a in &attrs[..=last] {
        if a.attisdropped || a.attlen <= 0 {
            return None;
        }
        let align = match a.attalign as u8 {
            b'c' => 1,
            b's' => 2,
            b'i' => 4,
            _ => 8,
        };
        off = off.div_ceil(align) * align;
        offsets.push(off);
        off += a.attlen as usize;
    }
    let fixed_kind = |r: &AttrRead| {
        matches!(r, AttrRead::Int2 | AttrRead::Int4 | AttrRead::Int8 | AttrRead::Float4 | AttrRead::Float8 | AttrRead::Bool | AttrRead::Date | AttrRead::Timestamp)
    };
    if !reads.iter().all(|(_, r)| fixed_kind(r)) {
        return None;
    }
    Some(reads.iter().map(|(a, _)| offsets[*a]).collect())
}

/// Reads a fixed-width by-value attribute stored at `p`, as a Datum.
#[inline(always)]
unsafe fn fixed_datum(read: &AttrRead, p: *const u8) -> pg_sys::Datum {
    let v: u64 = match read {
        AttrRead::Float8 | AttrRead::Int8 | AttrRead::Timestamp => std::ptr::read_unaligned(p as *const u64),
        AttrRead::Int4 | AttrRead::Float4 | AttrRead::Date => std::ptr::read_unaligned(p as *const u32) as u64,
        AttrRead::Int2 => std::ptr::read_unaligned(p as *const u16) as u64,
        _ => *p as u64,
    };
    pg_sys::Datum::from(v as usize)
}

/// The error for a row that lacks a column the model needs.
fn missing_column(model: &Model, model_name: &str, feature: &str, have: &[&str]) -> InsightError {
    let features = &model.preprocessor.features;
    let missing: Vec<String> =
        features.iter().filter(|g| !have.contains(&g.name.as_str())).map(|g| ident(&g.name)).collect();
    InsightError::undefined_column(
        format!("the row passed to model \"{model_name}\" has no column {}", ident(feature)),
        format!(
            "The model needs columns {}; missing: {}. Pass a row of the training table or a view with those columns.",
            features.iter().map(|g| ident(&g.name)).collect::<Vec<_>>().join(", "),
            missing.join(", ")
        ),
    )
}

unsafe fn encode_array(slot: &mut Slot, model_name: &str, datum: pg_sys::Datum) -> Result<()> {
    let arr = pg_sys::pg_detoast_datum(datum.cast_mut_ptr()) as *mut pg_sys::ArrayType;
    let Slot { x, model, .. } = slot;
    let features = &model.preprocessor.features;
    if let Some(f) = features.iter().find(|f| f.kind == ValueKind::Text) {
        return Err(InsightError::not_supported(
            format!("model \"{model_name}\" has text feature {}, which an array cannot carry", ident(&f.name)),
            "Score it with a row: insight.predict('model', t) FROM your_table t.",
        ));
    }
    let ndim = (*arr).ndim;
    let elem = (*arr).elemtype;
    let mut raw = pgrx::array::RawArray::from_ptr(std::ptr::NonNull::new_unchecked(arr));
    let n = raw.len();
    if ndim > 1 || n != features.len() {
        return Err(InsightError::array_length(
            format!(
                "array has {n} elements{} but model \"{model_name}\" has {} features",
                if ndim > 1 { format!(" in {ndim} dimensions") } else { String::new() },
                features.len()
            ),
            format!(
                "Pass a one-dimensional array in this order: {}.",
                features.iter().map(|f| ident(&f.name)).collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    let pre = &model.preprocessor;
    let has_nulls = pg_sys::array_contains_nulls(arr);
    macro_rules! fast {
        ($t:ty) => {{
            let data: &[$t] = raw.data::<$t>().as_ref();
            for (j, v) in data.iter().enumerate() {
                pre.encode(j, Value::Number(*v as f64), x).map_err(|e| encode_err(model_name, e))?;
            }
            return Ok(());
        }};
    }
    if !has_nulls {
        match elem {
            pg_sys::FLOAT8OID => fast!(f64),
            pg_sys::FLOAT4OID => fast!(f32),
            pg_sys::INT4OID => fast!(i32),
            pg_sys::INT8OID => fast!(i64),
            pg_sys::INT2OID => fast!(i16),
            _ => {}
        }
    }
    let read = match elem {
        pg_sys::FLOAT8OID => AttrRead::Float8,
        pg_sys::FLOAT4OID => AttrRead::Float4,
        pg_sys::INT4OID => AttrRead::Int4,
        pg_sys::INT8OID => AttrRead::Int8,
        pg_sys::INT2OID => AttrRead::Int2,
        pg_sys::NUMERICOID => AttrRead::Numeric,
        other => {
            return Err(InsightError::datatype_mismatch(
                format!("cannot score an array of {}", type_name(other)),
                "Pass an array of int, bigint, numeric, real or double precision.",
            ))
        }
    };
    let (mut typlen, mut byval, mut align) = (0i16, false, 0 as std::os::raw::c_char);
    pg_sys::get_typlenbyvalalign(elem, &mut typlen, &mut byval, &mut align);
    let mut elems: *mut pg_sys::Datum = std::ptr::null_mut();
    let mut nulls: *mut bool = std::ptr::null_mut();
    let mut count = 0i32;
    pg_sys::deconstruct_array(arr, elem, typlen as i32, byval, align, &mut elems, &mut nulls, &mut count);
    let elems = std::slice::from_raw_parts(elems, count as usize);
    let nulls = std::slice::from_raw_parts(nulls, count as usize);
    for j in 0..count as usize {
        let v = if nulls[j] { Value::Null } else { read_datum(&read, elems[j]) };
        pre.encode(j, v, x).map_err(|e| encode_err(model_name, e))?;
    }
    Ok(())
}

fn needs_binary(model_name: &str, m: &Model, what: &str) -> Result<()> {
    if m.task != Task::Binary {
        return Err(InsightError::not_supported(
            format!("{what} needs a binary classifier, but model \"{model_name}\" is a {} model", m.task.as_str()),
            match m.task {
                Task::Multiclass => "Use insight.predict_class for the label or insight.predict for the class number.",
                _ => "Use insight.predict for the predicted value.",
            },
        ));
    }
    Ok(())
}

/// P(positive) for binary classifiers, the value for regression, the class number (0-based, in
/// the order of model_info's classes) for multiclass classifiers.
#[pg_extern(stable, parallel_safe)]
fn predict(model: &str, row_or_array: AnyElement) -> f64 {
    number(score_direct(model, &row_or_array, Output::Predict))
}

/// P(positive class) of a binary classifier.
#[pg_extern(stable, parallel_safe)]
fn predict_proba(model: &str, row_or_array: AnyElement) -> f64 {
    number(score_direct(model, &row_or_array, Output::Proba))
}

/// Purchase propensity: predict_proba of a binary purchase model.
#[pg_extern(stable, parallel_safe)]
fn predict_purchase(model: &str, row_or_array: AnyElement) -> f64 {
    number(score_direct(model, &row_or_array, Output::Purchase))
}

/// The predicted label, at the model's threshold for binary classifiers.
#[pg_extern(stable, parallel_safe)]
fn predict_class(model: &str, row_or_array: AnyElement) -> String {
    match score_direct(model, &row_or_array, Output::Class) {
        ScoreOut::Label(l) => l,
        ScoreOut::Number(_) => unreachable!("predict_class gives labels"),
    }
}

/// Additive explanation of a score: one row per encoded input plus a base row.
/// Linear models: coefficient x scaled value, plus `(intercept)`; the rows sum to the log-odds
/// (binary; the predicted class's score for multiclass) or to the predicted value (regression).
/// Networks: integrated gradients from the mean training row, plus `(baseline)` = the output at
/// that row; the rows sum to the prediction (probability or value) up to the integration error.
#[pg_extern(stable, parallel_safe)]
fn explain(
    model: &str,
    row_or_array: AnyElement,
) -> TableIterator<'static, (name!(feature, String), name!(value, Option<f64>), name!(contribution, f64))> {
    let (names, x, contrib, base, linear) = scores(model, &row_or_array, true, |m, x, out| {
        let k = if m.task == Task::Multiclass { argmax(out) } else { 0 };
        let (c, b) = m.explain(x, k);
        let linear = matches!(m.estimator, crate::ml::model::Estimator::Linear { .. });
        Ok((m.preprocessor.encoded_names(), x.to_vec(), c, b, linear))
    });
    let mut out: Vec<(String, Option<f64>, f64)> =
        names.into_iter().zip(x).zip(contrib).map(|((n, v), c)| (n, Some(v), c)).collect();
    out.push((if linear { "(intercept)" } else { "(baseline)" }.to_string(), None, base));
    TableIterator::new(out)
}

// ---------------------------------------------------------------------------------------------
// Whole-row calls rewritten to column arguments.
//
// `insight.predict_purchase('m', c)` makes PostgreSQL build a whole tuple for `c` on every row
// (heap_form_tuple: about a quarter of the scoring time), only for us to take it apart again.
// A planner support function rewrites such calls, when `c` is a plain table (or materialized
// view) row of the query, into `insight._score_columns('m', kind, rowtype, c.ctid, c.col1, ...,
// c.colN)`: every column is passed as its own argument and nothing is built. Binding is still by
// column name at run time (through `rowtype`), so a newly deployed version with other features
// works; a NULL ctid marks a NULL-extended outer-join row, which scores NULL like a NULL row.
// ---------------------------------------------------------------------------------------------

/// What a rewritten call returns.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Output {
    Predict = 0,
    Proba = 1,
    Purchase = 2,
    Class = 3,
}

impl Output {
    fn from_i32(v: i32) -> Option<Output> {
        [Output::Predict, Output::Proba, Output::Purchase, Output::Class].into_iter().find(|o| *o as i32 == v)
    }
}

/// Index of the first column argument: model, output kind, row type, ctid come first.
const FIRST_COLUMN_ARG: usize = 4;

unsafe fn bind_columns(
    rowtype: pg_sys::Oid,
    nargs: usize,
    model: &Model,
    model_name: &str,
) -> Result<Vec<(usize, AttrRead)>> {
    let desc = pg_sys::lookup_rowtype_tupdesc(rowtype, -1);
    let natts = (*desc).natts as usize;
    let live: Vec<(String, pg_sys::Oid)> = (*desc)
        .attrs
        .as_slice(natts)
        .iter()
        .filter(|a| !a.attisdropped)
        .map(|a| (std::ffi::CStr::from_ptr(a.attname.data.as_ptr()).to_string_lossy().into_owned(), a.atttypid))
        .collect();
    if (*desc).tdrefcount >= 0 {
        pg_sys::DecrTupleDescRefCount(desc);
    }
    if live.len() + FIRST_COLUMN_ARG != nargs {
        return Err(InsightError::datatype_mismatch(
            format!("the row type changed since this query was planned ({} columns now)", live.len()),
            "Run the query again; it is re-planned against the new table definition.",
        ));
    }
    let mut reads = Vec::with_capacity(model.preprocessor.features.len());
    for f in &model.preprocessor.features {
        let Some(i) = live.iter().position(|(n, _)| *n == f.name) else {
            let names: Vec<&str> = live.iter().map(|(n, _)| n.as_str()).collect();
            return Err(missing_column(model, model_name, &f.name, &names));
        };
        let (name, typ) = &live[i];
        match base_read(*typ) {
            Some(r) if compatible(f.kind, &r) => reads.push((FIRST_COLUMN_ARG + i, r)),
            _ => {
                return Err(InsightError::datatype_mismatch(
                    format!(
                        "column {} has type {}, but model \"{model_name}\" was trained on it as {} ({})",
                        ident(name),
                        type_name(*typ),
                        crate::data::columns::kind_name(f.kind),
                        f.sql_type
                    ),
                    "Cast the column in a view or in the ROW(...) you pass.",
                ))
            }
        }
    }
    Ok(reads)
}

/// A text argument as &str. The model name is usually a constant with a plain in-line header, so
/// the (guarded, per-row) detoast call is only made for compressed or out-of-line values.
#[inline]
unsafe fn text_arg<'a>(d: pg_sys::Datum) -> &'a str {
    let p = d.cast_mut_ptr::<pg_sys::varlena>();
    let toasted = pgrx::varlena::varatt_is_4b_c(p) || pgrx::varlena::varatt_is_1b_e(p);
    let p = if toasted { pg_sys::pg_detoast_datum_packed(p) } else { p };
    pgrx::varlena::text_to_rust_str_unchecked(p)
}

/// Scores one rewritten call; None means SQL NULL.
unsafe fn score_columns(fcinfo: pg_sys::FunctionCallInfo) -> Option<ScoreOut> {
    let nargs = (*fcinfo).nargs as usize;
    let args = (*fcinfo).args.as_slice(nargs);
    if args[0].isnull || args[3].isnull || nargs < FIRST_COLUMN_ARG {
        return None; // NULL model text, or a NULL-extended outer-join row
    }
    let model = text_arg(args[0].value);
    let output = Output::from_i32(args[1].value.value() as i32).unwrap_or(Output::Predict);
    let rowtype = pg_sys::Oid::from(args[2].value.value() as u32);
    Some(with_slot(model, |slot| {
        let stale = match &slot.columns {
            Some((t, _)) => *t != rowtype,
            None => true,
        };
        if stale {
            slot.columns = Some((rowtype, bind_columns(rowtype, nargs, &slot.model, model)?));
        }
        let Slot { model: m, x, out, folded, columns, .. } = slot;
        let reads = &columns.as_ref().unwrap().1;
        match folded {
            Some(fl) if output != Output::Class => {
                let mut z = fl.base;
                for (j, (arg, read)) in reads.iter().enumerate() {
                    let a = &args[*arg];
                    let v = if a.isnull { Value::Null } else { read_datum(read, a.value) };
                    z += fl.term(j, v, &m.preprocessor.features[j].name).map_err(|e| encode_err(model, e))?;
                }
                out[0] = fl.finish(z);
            }
            _ => {
                for (j, (arg, read)) in reads.iter().enumerate() {
                    let a = &args[*arg];
                    let v = if a.isnull { Value::Null } else { read_datum(read, a.value) };
                    m.preprocessor.encode(j, v, x).map_err(|e| encode_err(model, e))?;
                }
                m.predict_encoded(x, out);
            }
        }
        output_value(model, m, out, output)
    }))
}

enum ScoreOut {
    Number(f64),
    Label(String),
}

/// What a scorer returns from a model's outputs: the one definition of predict, predict_proba,
/// predict_purchase and predict_class, for direct calls and rewritten ones alike.
fn output_value(model_name: &str, m: &Model, out: &[f64], output: Output) -> Result<ScoreOut> {
    match output {
        Output::Predict => Ok(ScoreOut::Number(m.predict_value(out))),
        Output::Proba | Output::Purchase => {
            needs_binary(model_name, m, if output == Output::Proba { "predict_proba" } else { "predict_purchase" })?;
            Ok(ScoreOut::Number(out[0]))
        }
        Output::Class => match m.task {
            Task::Binary => Ok(ScoreOut::Label(m.classes[usize::from(out[0] >= m.threshold)].clone())),
            Task::Multiclass => Ok(ScoreOut::Label(m.classes[argmax(out)].clone())),
            Task::Regression => Err(InsightError::not_supported(
                format!("model \"{model_name}\" is a regression model and has no classes"),
                "Use insight.predict for the predicted value.",
            )),
        },
    }
}

/// A direct (not rewritten) call of one of the four scorers.
fn score_direct(model: &str, row: &AnyElement, output: Output) -> ScoreOut {
    with_scores(model, row, |m, _x, out| output_value(model, m, out, output))
}

fn number(s: ScoreOut) -> f64 {
    match s {
        ScoreOut::Number(v) => v,
        ScoreOut::Label(_) => unreachable!("numeric outputs give numbers"),
    }
}

/// PostgreSQL's PG_FUNCTION_INFO_V1 for a raw C function: the record the function manager looks
/// up as `pg_finfo_<symbol>` to learn the calling convention.
macro_rules! function_info_v1 {
    ($finfo:ident) => {
        #[no_mangle]
        #[doc(hidden)]
        pub extern "C" fn $finfo() -> &'static pg_sys::Pg_finfo_record {
            const V1: pg_sys::Pg_finfo_record = pg_sys::Pg_finfo_record { api_version: 1 };
            &V1
        }
    };
}

function_info_v1!(pg_finfo_insight_score_columns);

/// insight._score_columns(model text, output int, rowtype oid, row_ctid tid, VARIADIC "any")
/// RETURNS float8 (the target of the planner rewrite; not meant to be called by hand).
#[no_mangle]
#[doc(hidden)]
#[pg_guard]
pub unsafe extern "C-unwind" fn insight_score_columns(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    match score_columns(fcinfo) {
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
pub unsafe extern "C-unwind" fn insight_class_columns(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    match score_columns(fcinfo) {
        Some(ScoreOut::Label(s)) => s.into_datum().unwrap(),
        _ => {
            (*fcinfo).isnull = true;
            pg_sys::Datum::from(0)
        }
    }
}

function_info_v1!(pg_finfo_insight_predict_support);

/// Planner support function of the four scorers (SupportRequestSimplify): see the section
/// comment above. Returns NULL (no rewrite) for anything but a whole-row Var of a plain table or
/// materialized view of the current query level.
#[no_mangle]
#[doc(hidden)]
#[pg_guard]
pub unsafe extern "C-unwind" fn insight_predict_support(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    let none = pg_sys::Datum::from(0);
    let req = (*fcinfo).args.as_slice(1)[0].value.cast_mut_ptr::<pg_sys::Node>();
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
    let name = std::ffi::CStr::from_ptr(pg_sys::get_func_name((*fexpr).funcid)).to_string_lossy().into_owned();
    let (output, target, rettype) = match name.as_str() {
        "predict" => (Output::Predict, "_score_columns", pg_sys::FLOAT8OID),
        "predict_proba" => (Output::Proba, "_score_columns", pg_sys::FLOAT8OID),
        "predict_purchase" => (Output::Purchase, "_score_columns", pg_sys::FLOAT8OID),
        "predict_class" => (Output::Class, "_class_columns", pg_sys::TEXTOID),
        _ => return none,
    };
    let nsp = pg_sys::get_func_namespace((*fexpr).funcid);
    let nspname = std::ffi::CStr::from_ptr(pg_sys::get_namespace_name(nsp)).to_string_lossy().into_owned();
    let signature = format!("{}.{target}(text,integer,oid,tid,\"any\")", pgrx::spi::quote_identifier(&nspname));
    let Some(target_oid) =
        pgrx::direct_function_call::<pg_sys::Oid>(pg_sys::to_regprocedure, &[signature.as_str().into_datum()])
    else {
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
    if (*desc).tdrefcount >= 0 {
        pg_sys::DecrTupleDescRefCount(desc);
    }
    if cols.len() + FIRST_COLUMN_ARG > pg_sys::FUNC_MAX_ARGS as usize {
        return none;
    }
    let mut list = pg_sys::lappend(std::ptr::null_mut(), pg_sys::list_nth(args, 0));
    let kind = pg_sys::makeConst(pg_sys::INT4OID, -1, pg_sys::InvalidOid, 4, pg_sys::Datum::from(output as i32 as usize), false, true);
    list = pg_sys::lappend(list, kind.cast());
    let rowtype = pg_sys::makeConst(pg_sys::OIDOID, -1, pg_sys::InvalidOid, 4, pg_sys::Datum::from((*var).vartype.to_u32() as usize), false, true);
    list = pg_sys::lappend(list, rowtype.cast());
    let ctid = pg_sys::makeVar(varno, pg_sys::SelfItemPointerAttributeNumber as i16, pg_sys::TIDOID, -1, pg_sys::InvalidOid, 0);
    list = pg_sys::lappend(list, ctid.cast());
    for (attnum, typ, typmod, coll) in cols {
        list = pg_sys::lappend(list, pg_sys::makeVar(varno, attnum, typ, typmod, coll, 0).cast());
    }
    let call = pg_sys::makeFuncExpr(
        target_oid,
        rettype,
        list,
        if rettype == pg_sys::TEXTOID { pg_sys::DEFAULT_COLLATION_OID } else { pg_sys::InvalidOid },
        (*fexpr).inputcollid,
        pg_sys::CoercionForm::COERCE_EXPLICIT_CALL,
    );
    (*call).location = (*fexpr).location;
    pg_sys::Datum::from(call as usize)
}
