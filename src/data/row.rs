//! A scorer's row argument bound to a model's features: which attribute (or, for rewritten calls,
//! which argument) feeds which feature, and how its datum is read.
//!
//! Everything that depends only on the row type is done once, when a binding is made: attribute
//! lookup by name, type checks, enum labels, the fixed-offset layout. Each row is then read in
//! place or deformed once into reused buffers.
//!
//! A binding is valid only while its row type is unchanged, and ALTER TABLE changes a table's
//! row layout without changing its type oid (and PostgreSQL keeps no typmod for named row types).
//! So a binding of a named row type remembers the type cache entry and its `tupDesc_identifier`,
//! which PostgreSQL changes whenever it rebuilds the type's descriptor, and `fits` compares it on
//! every row (one load: type cache entries live as long as the backend). Registered anonymous
//! record types never change (keyed by typmod). The reads of a rewritten call come from the
//! call's own argument types, never from the catalog, so a lying caller cannot make a datum be
//! read as another type.

use crate::data::deform;
use crate::error::{ident, InsightError, Result};
use crate::ml::preprocess::{Feature, Value, ValueKind};
use crate::spi::type_name;
use pgrx::prelude::*;
use std::collections::HashMap;
use std::ffi::CStr;

/// Takes a row's feature values, in feature order, as a binding reads them. A trait rather than a
/// closure so that `take` can be #[inline(always)]: a per-feature closure was compiled out of line
/// (a call with a full prologue per feature, 8% of a 20-feature scoring).
pub trait FeatureSink {
    fn take(&mut self, j: usize, v: Value<'_>) -> Result<()>;
}

/// How one datum is read.
pub enum AttrRead {
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
    /// char(n): read without its trailing blanks, as `::text` (and so training) reads it
    Bpchar,
    /// name: a C string in a fixed NAMEDATALEN (64) bytes, not a varlena
    Name,
    /// unknown: an untyped literal in ROW('west', ...), a C string read as the text it is (only
    /// in whole-row values, whose deform found its NUL inside the value)
    Unknown,
    Enum(HashMap<u32, String>),
}

/// A text datum that cannot be read: not valid UTF-8 (possible in databases of other
/// encodings), or a name whose 64 bytes hold no end (a stale row value).
pub enum BadText {
    NotUtf8,
    Unterminated,
}

const EPOCH_SHIFT_DAYS: f64 = 10957.0; // 1970-01-01 -> 2000-01-01

impl AttrRead {
    /// How a value of type `typ` is read (a domain as its base type); None for types no model
    /// input can take.
    pub fn for_type(typ: pg_sys::Oid) -> Option<AttrRead> {
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
            pg_sys::TEXTOID | pg_sys::VARCHAROID => AttrRead::Text,
            pg_sys::BPCHAROID => AttrRead::Bpchar,
            pg_sys::NAMEOID => AttrRead::Name,
            pg_sys::UNKNOWNOID => AttrRead::Unknown,
            t if unsafe { pg_sys::type_is_enum(t) } => AttrRead::Enum(enum_labels(t)),
            _ => return None,
        })
    }

    /// The kind of value this read gives.
    fn kind(&self) -> ValueKind {
        use AttrRead::*;
        match self {
            Int2 | Int4 | Int8 | Float4 | Float8 | Numeric => ValueKind::Number,
            Bool => ValueKind::Boolean,
            Date => ValueKind::Date,
            Timestamp => ValueKind::Timestamp,
            Text | Bpchar | Name | Unknown | Enum(_) => ValueKind::Text,
        }
    }

    /// Whether this read gives what a feature of `kind` takes (ValueKind::takes).
    pub fn serves(&self, kind: ValueKind) -> bool {
        kind.takes(self.kind())
    }

    /// Fixed-width types passed by value: readable straight from a tuple at a known offset.
    fn is_fixed(&self) -> bool {
        use AttrRead::*;
        matches!(
            self,
            Int2 | Int4 | Int8 | Float4 | Float8 | Bool | Date | Timestamp
        )
    }
}

fn enum_labels(t: pg_sys::Oid) -> HashMap<u32, String> {
    Spi::connect(|c| {
        c.select(
            "SELECT oid::pg_catalog.int8, enumlabel::pg_catalog.text FROM pg_catalog.pg_enum
              WHERE enumtypid OPERATOR(pg_catalog.=) $1",
            None,
            &[t.into()],
        )
        .map(|rows| {
            rows.filter_map(|r| Some((r.get::<i64>(1).ok()?? as u32, r.get::<String>(2).ok()??)))
                .collect::<HashMap<u32, String>>()
        })
        .unwrap_or_default()
    })
}

/// Whether the database's encoding is UTF-8, where PostgreSQL itself guarantees valid text
/// (SQL_ASCII and the others do not). It cannot change during a backend's life.
fn utf8_database() -> bool {
    static UTF8: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *UTF8.get_or_init(|| unsafe { pg_sys::GetDatabaseEncoding() } == pg_sys::pg_enc::PG_UTF8 as i32)
}

/// Bytes as &str: unchecked where the database guarantees UTF-8, checked elsewhere.
#[inline(always)]
unsafe fn utf8(bytes: &[u8]) -> std::result::Result<&str, BadText> {
    if utf8_database() {
        Ok(std::str::from_utf8_unchecked(bytes))
    } else {
        std::str::from_utf8(bytes).map_err(|_| BadText::NotUtf8)
    }
}

/// A text datum as &str. A constant (the usual model name) has a plain in-line header, so the
/// detoast call (guarded, per row) is made only for compressed or out-of-line values.
///
/// # Safety
/// `d` must be a text datum.
#[inline]
pub unsafe fn text_str<'a>(d: pg_sys::Datum) -> std::result::Result<&'a str, BadText> {
    let p = d.cast_mut_ptr::<pg_sys::varlena>();
    let toasted = pgrx::varlena::varatt_is_4b_c(p) || pgrx::varlena::varatt_is_1b_e(p);
    let p = if toasted {
        pg_sys::pg_detoast_datum_packed(p)
    } else {
        p
    };
    utf8(pgrx::varlena::varlena_to_byte_slice(p))
}

/// Reads one datum of the type `read` was made for.
///
/// # Safety
/// `d` must be a valid datum of that type.
#[inline(always)]
pub unsafe fn read_datum(
    read: &AttrRead,
    d: pg_sys::Datum,
) -> std::result::Result<Value<'_>, BadText> {
    Ok(match read {
        AttrRead::Numeric => Value::Number(
            pgrx::direct_function_call::<f64>(pg_sys::numeric_float8, &[Some(d)])
                .unwrap_or(f64::NAN),
        ),
        AttrRead::Text => {
            let p = pg_sys::pg_detoast_datum_packed(d.cast_mut_ptr());
            Value::Text(utf8(pgrx::varlena::varlena_to_byte_slice(p))?)
        }
        AttrRead::Bpchar => {
            let p = pg_sys::pg_detoast_datum_packed(d.cast_mut_ptr());
            Value::Text(utf8(pgrx::varlena::varlena_to_byte_slice(p))?.trim_end_matches(' '))
        }
        AttrRead::Name => {
            let bytes = std::slice::from_raw_parts(
                d.cast_mut_ptr::<u8>() as *const u8,
                pg_sys::NAMEDATALEN as usize,
            );
            let end = bytes
                .iter()
                .position(|&b| b == 0)
                .ok_or(BadText::Unterminated)?;
            Value::Text(utf8(&bytes[..end])?)
        }
        AttrRead::Unknown => Value::Text(utf8(
            CStr::from_ptr(d.cast_mut_ptr::<std::ffi::c_char>()).to_bytes(),
        )?),
        AttrRead::Enum(labels) => {
            Value::Text(labels.get(&(d.value() as u32)).map_or("", |s| s.as_str()))
        }
        fixed => Value::Number(fixed_number(fixed, d.value() as u64)),
    })
}

/// The number held by the bits of a fixed-width by-value datum (dates and timestamps as days
/// since 1970-01-01, their infinities as infinity).
#[inline(always)]
fn fixed_number(read: &AttrRead, bits: u64) -> f64 {
    match read {
        AttrRead::Float8 => f64::from_bits(bits),
        AttrRead::Int4 => bits as i32 as f64,
        AttrRead::Int8 => bits as i64 as f64,
        AttrRead::Int2 => bits as i16 as f64,
        AttrRead::Float4 => f32::from_bits(bits as u32) as f64,
        AttrRead::Bool => {
            if bits & 0xff != 0 {
                1.0
            } else {
                0.0
            }
        }
        AttrRead::Date => match bits as i32 {
            i32::MAX | i32::MIN => f64::INFINITY,
            v => v as f64 + EPOCH_SHIFT_DAYS,
        },
        AttrRead::Timestamp => match bits as i64 {
            i64::MAX | i64::MIN => f64::INFINITY,
            v => v as f64 / 86_400_000_000.0 + EPOCH_SHIFT_DAYS,
        },
        _ => unreachable!("only fixed-width reads hold their value in the datum"),
    }
}

fn bad_text(column: &str, why: BadText) -> InsightError {
    match why {
        BadText::NotUtf8 => InsightError::data(
            format!("column {} holds text that is not valid UTF-8", ident(column)),
            "pg_insight reads text in UTF-8: use a database with ENCODING 'UTF8'.",
        ),
        BadText::Unterminated => InsightError::datatype_mismatch(
            format!("column {} does not hold a valid name", ident(column)),
            "The row value was probably made before an ALTER TABLE changed its type: read the row again.",
        ),
    }
}

/// The error for a column of a type the model's feature cannot take.
fn wrong_type(column: &str, typ: pg_sys::Oid, f: &Feature, model_name: &str) -> InsightError {
    InsightError::datatype_mismatch(
        format!(
            "column {} has type {}, but model \"{model_name}\" was trained on it as {} ({})",
            ident(column),
            type_name(typ),
            crate::data::columns::kind_name(f.kind),
            f.sql_type
        ),
        "Cast the column in a view or in the ROW(...) you pass.",
    )
}

/// The error for a row that lacks a column the model needs.
fn missing_column(
    features: &[Feature],
    model_name: &str,
    feature: &str,
    have: &[&str],
) -> InsightError {
    let missing: Vec<String> = features
        .iter()
        .filter(|g| !have.contains(&g.name.as_str()))
        .map(|g| ident(&g.name))
        .collect();
    InsightError::undefined_column(
        format!("the row passed to model \"{model_name}\" has no column {}", ident(feature)),
        format!(
            "The model needs columns {}; missing: {}. Pass a row of the training table or a view with those columns.",
            features.iter().map(|g| ident(&g.name)).collect::<Vec<_>>().join(", "),
            missing.join(", ")
        ),
    )
}

/// A row type's live (not dropped) attributes: (index, name, type).
unsafe fn live_attributes(desc: pg_sys::TupleDesc) -> Vec<(usize, String, pg_sys::Oid)> {
    (*desc)
        .attrs
        .as_slice((*desc).natts as usize)
        .iter()
        .enumerate()
        .filter(|(_, a)| !a.attisdropped)
        .map(|(i, a)| {
            (
                i,
                CStr::from_ptr(a.attname.data.as_ptr())
                    .to_string_lossy()
                    .into_owned(),
                a.atttypid,
            )
        })
        .collect()
}

/// Matches the model's features to named attributes: per feature, the attribute's position in
/// `live` and how to read it.
fn match_features(
    live: &[(usize, String, pg_sys::Oid)],
    features: &[Feature],
    model_name: &str,
    by_position: bool,
) -> Result<Vec<(usize, AttrRead)>> {
    let mut reads = Vec::with_capacity(features.len());
    for (j, f) in features.iter().enumerate() {
        let found = if by_position {
            Some(j).filter(|&i| i < live.len())
        } else {
            live.iter().position(|(_, n, _)| *n == f.name)
        };
        let Some(i) = found else {
            let names: Vec<&str> = live.iter().map(|(_, n, _)| n.as_str()).collect();
            return Err(missing_column(features, model_name, &f.name, &names));
        };
        let (_, name, typ) = &live[i];
        match AttrRead::for_type(*typ) {
            Some(r) if r.serves(f.kind) => reads.push((i, r)),
            _ => return Err(wrong_type(name, *typ, f, model_name)),
        }
    }
    Ok(reads)
}

/// PostgreSQL's ReleaseTupleDesc: descriptors of record types registered in shared memory (any
/// session that ran a parallel query has them) are not reference-counted, and decrementing one
/// is an ERROR ("tupdesc reference ... is not owned by resource owner").
///
/// # Safety
/// `desc` must come from lookup_rowtype_tupdesc.
pub unsafe fn release_tupdesc(desc: pg_sys::TupleDesc) {
    if (*desc).tdrefcount >= 0 {
        pg_sys::DecrTupleDescRefCount(desc);
    }
}

/// The type cache entry of a named row type and its descriptor identifier now.
unsafe fn typcache_entry(typid: pg_sys::Oid) -> (*const pg_sys::TypeCacheEntry, u64) {
    let entry = pg_sys::lookup_type_cache(typid, pg_sys::TYPECACHE_TUPDESC as i32);
    (entry, (*entry).tupDesc_identifier)
}

/// Where a binding's row type stands: named types are checked against the type cache.
struct TypeVersion {
    typid: pg_sys::Oid,
    typmod: i32,
    /// null for registered anonymous records, which never change
    entry: *const pg_sys::TypeCacheEntry,
    identifier: u64,
}

impl TypeVersion {
    unsafe fn now(typid: pg_sys::Oid, typmod: i32) -> TypeVersion {
        if typid == pg_sys::RECORDOID {
            TypeVersion {
                typid,
                typmod,
                entry: std::ptr::null(),
                identifier: 0,
            }
        } else {
            let (entry, identifier) = typcache_entry(typid);
            TypeVersion {
                typid,
                typmod,
                entry,
                identifier,
            }
        }
    }

    #[inline(always)]
    fn current(&self, typid: pg_sys::Oid, typmod: i32) -> bool {
        // SAFETY: type cache entries are never freed
        self.typid == typid
            && self.typmod == typmod
            && (self.entry.is_null()
                || unsafe { (*self.entry).tupDesc_identifier } == self.identifier)
    }
}

/// A whole-row value's type bound to a model's features.
pub struct RowBinding {
    version: TypeVersion,
    /// a copy of the row type's descriptor, in TopMemoryContext (freed on drop)
    tupdesc: pg_sys::TupleDesc,
    /// per model feature: attribute index and how to read it
    reads: Vec<(usize, AttrRead)>,
    /// When every attribute up to the last one a feature needs has a fixed width, the byte
    /// offset of each feature's value in a tuple without NULLs (PostgreSQL's attcacheoff idea):
    /// such rows are read in place instead of deformed.
    fixed_offsets: Option<Vec<usize>>,
    /// Attributes up to the last one a feature needs: what is deformed, and what a tuple must
    /// have for `fixed_offsets` to apply.
    needed: usize,
    /// Bytes of data a tuple must have for `fixed_offsets` to apply: the end of the last
    /// needed attribute (a shorter value is not of this layout).
    fixed_len: usize,
    values: Vec<pg_sys::Datum>,
    nulls: Vec<bool>,
}

impl Drop for RowBinding {
    fn drop(&mut self) {
        unsafe { pg_sys::FreeTupleDesc(self.tupdesc) }
    }
}

/// The heap tuple header of a whole-row value.
///
/// # Safety
/// `datum` must be a composite datum.
#[inline(always)]
pub unsafe fn whole_row(datum: pg_sys::Datum) -> pg_sys::HeapTupleHeader {
    let p = datum.cast_mut_ptr::<pg_sys::varlena>();
    // A whole-row value is normally a plain 4-byte-header varlena; only a toasted or short one
    // (e.g. read from a composite column) needs detoasting.
    (if (*(p as *const u8)) & 0x03 == 0 {
        p
    } else {
        pg_sys::pg_detoast_datum(p)
    }) as pg_sys::HeapTupleHeader
}

impl RowBinding {
    /// Binds the row type of `td` to `features`: by column name, or by position for an anonymous
    /// `ROW(...)` (a record whose fields are f1, f2, ...).
    ///
    /// # Safety
    /// `td` must be the header of a valid composite datum.
    pub unsafe fn bind(
        td: pg_sys::HeapTupleHeader,
        features: &[Feature],
        model_name: &str,
    ) -> Result<RowBinding> {
        let typid = (*td).t_choice.t_datum.datum_typeid;
        let typmod = (*td).t_choice.t_datum.datum_typmod;
        let version = TypeVersion::now(typid, typmod);
        let src = pg_sys::lookup_rowtype_tupdesc(typid, typmod);
        let tupdesc = {
            let old = pg_sys::MemoryContextSwitchTo(pg_sys::TopMemoryContext);
            let c = pg_sys::CreateTupleDescCopy(src);
            pg_sys::MemoryContextSwitchTo(old);
            c
        };
        release_tupdesc(src);
        let natts = (*tupdesc).natts as usize;
        // from here on, the copy is freed if binding fails
        let mut binding = RowBinding {
            version,
            tupdesc,
            reads: Vec::new(),
            fixed_offsets: None,
            needed: 0,
            fixed_len: 0,
            values: vec![pg_sys::Datum::from(0); natts],
            nulls: vec![true; natts],
        };
        let live = live_attributes(tupdesc);
        // ROW(a, b, ...) makes a record with fields f1, f2, ...: bound by position. Other records
        // (a subquery's row) carry their column names and bind by name like table rows.
        let anonymous = typid == pg_sys::RECORDOID
            && live
                .iter()
                .enumerate()
                .all(|(i, (_, n, _))| *n == format!("f{}", i + 1));
        if anonymous && live.len() != features.len() {
            return Err(InsightError::datatype_mismatch(
                format!(
                    "ROW(...) has {} fields but model \"{model_name}\" has {} features",
                    live.len(),
                    features.len()
                ),
                format!(
                    "An anonymous ROW binds by position: pass {} in this order.",
                    features
                        .iter()
                        .map(|f| ident(&f.name))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        binding.reads = match_features(&live, features, model_name, anonymous)?
            .into_iter()
            .map(|(i, r)| (live[i].0, r))
            .collect();
        let attrs = (*tupdesc).attrs.as_slice(natts);
        binding.needed = binding.reads.iter().map(|(a, _)| *a + 1).max().unwrap_or(0);
        binding.fixed_offsets = fixed_offsets(attrs, &binding.reads);
        if binding.fixed_offsets.is_some() {
            binding.fixed_len = layout_end(attrs, binding.needed);
        }
        Ok(binding)
    }

    /// Whether this binding reads rows like `td`: same row type, unchanged since binding.
    ///
    /// # Safety
    /// `td` must be the header of a valid composite datum.
    #[inline(always)]
    pub unsafe fn fits(&self, td: pg_sys::HeapTupleHeader) -> bool {
        self.version.current(
            (*td).t_choice.t_datum.datum_typeid,
            (*td).t_choice.t_datum.datum_typmod,
        )
    }

    /// Hands each model feature j of the row `td` to `sink`: read in place when the row has no
    /// NULLs and the features sit at fixed offsets, else after one deform.
    ///
    /// # Safety
    /// `td` must be the header of a valid composite datum for which `fits` holds.
    #[inline(always)]
    pub unsafe fn visit(
        &mut self,
        td: pg_sys::HeapTupleHeader,
        sink: &mut impl FeatureSink,
    ) -> Result<()> {
        if let Some(offsets) = &self.fixed_offsets {
            let infomask = (*td).t_infomask as u32;
            let natts = ((*td).t_infomask2 as u32 & pg_sys::HEAP_NATTS_MASK) as usize;
            let data_len = pgrx::varlena::varsize_4b(td as *const pg_sys::varlena)
                .saturating_sub((*td).t_hoff as usize);
            if infomask & pg_sys::HEAP_HASNULL == 0
                && natts >= self.needed
                && data_len >= self.fixed_len
            {
                let data = (td as *const u8).add((*td).t_hoff as usize);
                for (j, ((_, read), off)) in self.reads.iter().zip(offsets).enumerate() {
                    sink.take(j, fixed_value(read, data.add(*off)))?;
                }
                return Ok(());
            }
        }
        deform::deform(td, self.tupdesc, self.needed, &mut self.values, &mut self.nulls).map_err(|_| {
            InsightError::datatype_mismatch(
                format!("a row value does not match its row type {}", type_name(self.version.typid)),
                "It was made before an ALTER TABLE changed that type (a PL/pgSQL variable kept across the ALTER?): read the row again.",
            )
        })?;
        for (j, (att, read)) in self.reads.iter().enumerate() {
            let v = if self.nulls[*att] {
                Value::Null
            } else {
                read_datum(read, self.values[*att])
                    .map_err(|e| bad_text(&attname(self.tupdesc, *att), e))?
            };
            sink.take(j, v)?;
        }
        Ok(())
    }
}

unsafe fn attname(desc: pg_sys::TupleDesc, att: usize) -> String {
    let a = &(*desc).attrs.as_slice((*desc).natts as usize)[att];
    CStr::from_ptr(a.attname.data.as_ptr())
        .to_string_lossy()
        .into_owned()
}

/// Byte offsets of the features' attributes in a tuple without NULLs, when all attributes up to
/// the last needed one are fixed-width, not dropped, and every needed one is read by value.
fn fixed_offsets(
    attrs: &[pg_sys::FormData_pg_attribute],
    reads: &[(usize, AttrRead)],
) -> Option<Vec<usize>> {
    let last = reads.iter().map(|(a, _)| *a).max()?;
    if !reads.iter().all(|(_, r)| r.is_fixed()) {
        return None;
    }
    let mut offsets = Vec::with_capacity(last + 1);
    let mut off = 0usize;
    for a in &attrs[..=last] {
        if a.attisdropped || a.attlen <= 0 {
            return None;
        }
        off = deform::align(off, a.attalign as u8);
        offsets.push(off);
        off += a.attlen as usize;
    }
    Some(reads.iter().map(|(a, _)| offsets[*a]).collect())
}

/// Where the first `n` attributes end in a tuple without NULLs, all fixed-width (see
/// fixed_offsets, which holds when this is called).
fn layout_end(attrs: &[pg_sys::FormData_pg_attribute], n: usize) -> usize {
    attrs[..n].iter().fold(0, |off, a| {
        deform::align(off, a.attalign as u8) + a.attlen as usize
    })
}

/// Reads a fixed-width by-value attribute stored at `p`.
#[inline(always)]
unsafe fn fixed_value(read: &AttrRead, p: *const u8) -> Value<'static> {
    let v: u64 = match read {
        AttrRead::Float8 | AttrRead::Int8 | AttrRead::Timestamp => {
            std::ptr::read_unaligned(p as *const u64)
        }
        AttrRead::Int4 | AttrRead::Float4 | AttrRead::Date => {
            std::ptr::read_unaligned(p as *const u32) as u64
        }
        AttrRead::Int2 => std::ptr::read_unaligned(p as *const u16) as u64,
        _ => *p as u64,
    };
    Value::Number(fixed_number(read, v))
}

/// The columns of a table row passed as separate arguments (a planner-rewritten call, see
/// api::rewrite) bound to a model's features. The names come from the row type, the types from
/// the call itself; they must agree.
pub struct ColumnBinding {
    version: TypeVersion,
    /// per model feature: argument index and how to read it
    reads: Vec<(usize, AttrRead)>,
    /// per model feature: the column's name, for messages
    columns: Vec<String>,
}

impl ColumnBinding {
    /// Binds arguments `first..nargs` of the call behind `flinfo`, which carry the live columns of
    /// `rowtype` in order.
    ///
    /// # Safety
    /// `flinfo` must be the FmgrInfo of the running call.
    pub unsafe fn bind(
        flinfo: *mut pg_sys::FmgrInfo,
        nargs: usize,
        first: usize,
        rowtype: pg_sys::Oid,
        features: &[Feature],
        model_name: &str,
    ) -> Result<ColumnBinding> {
        let lying = |what: String| {
            InsightError::datatype_mismatch(
                what,
                "insight._score_columns, _class_columns and _segment_columns are written by the planner from insight.predict(model, table_row) or insight.segment(model, table_row); call those instead.",
            )
        };
        if flinfo.is_null() || pg_sys::get_fn_expr_variadic(flinfo) {
            return Err(lying(
                "the column arguments must be passed one by one".into(),
            ));
        }
        let version = TypeVersion::now(rowtype, -1);
        let desc = pg_sys::lookup_rowtype_tupdesc(rowtype, -1);
        let live = live_attributes(desc);
        release_tupdesc(desc);
        if live.len() + first != nargs {
            return Err(InsightError::datatype_mismatch(
                format!(
                    "row type {} has {} columns, but {} were passed",
                    type_name(rowtype),
                    live.len(),
                    nargs.saturating_sub(first)
                ),
                "Run the query again: after ALTER TABLE it is planned anew.",
            ));
        }
        for (k, (_, name, typ)) in live.iter().enumerate() {
            let arg_type = pg_sys::get_fn_expr_argtype(flinfo, (first + k) as i32);
            if arg_type != *typ {
                return Err(lying(format!(
                    "argument {} has type {}, but column {} of {} has type {}",
                    first + k + 1,
                    if arg_type == pg_sys::InvalidOid {
                        "unknown".to_string()
                    } else {
                        type_name(arg_type)
                    },
                    ident(name),
                    type_name(rowtype),
                    type_name(*typ)
                )));
            }
        }
        let matched = match_features(&live, features, model_name, false)?;
        let columns = matched.iter().map(|(i, _)| live[*i].1.clone()).collect();
        let reads = matched.into_iter().map(|(i, r)| (first + i, r)).collect();
        Ok(ColumnBinding {
            version,
            reads,
            columns,
        })
    }

    /// Whether the row type is unchanged since binding.
    pub fn current(&self) -> bool {
        self.version.current(self.version.typid, -1)
    }

    pub fn rowtype(&self) -> pg_sys::Oid {
        self.version.typid
    }

    /// Hands each model feature j to `sink`.
    ///
    /// # Safety
    /// `args` must be the arguments of the call this binding was made for.
    #[inline(always)]
    pub unsafe fn visit(
        &self,
        args: &[pg_sys::NullableDatum],
        sink: &mut impl FeatureSink,
    ) -> Result<()> {
        for (j, (arg, read)) in self.reads.iter().enumerate() {
            let a = &args[*arg];
            let v = if a.isnull {
                Value::Null
            } else {
                read_datum(read, a.value).map_err(|e| bad_text(&self.columns[j], e))?
            };
            sink.take(j, v)?;
        }
        Ok(())
    }
}
