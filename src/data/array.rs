//! A scorer's numeric-array argument, bound to a model's features by position.

use crate::data::row::{read_datum, AttrRead, FeatureSink};
use crate::error::{ident, InsightError, Result};
use crate::ml::preprocess::Preprocessor;
use crate::ml::preprocess::{Value, ValueKind};
use crate::spi::type_name;
use pgrx::prelude::*;

/// Hands each element j of the array `datum` to `sink`, after checking that it can carry the
/// model's features (one dimension, one number per feature, no text features).
///
/// # Safety
/// `datum` must be an array datum.
pub unsafe fn visit(
    datum: pg_sys::Datum,
    pre: &Preprocessor,
    model_name: &str,
    sink: &mut impl FeatureSink,
) -> Result<()> {
    let features = &pre.features;
    if let Some(t) = features.iter().find(|f| f.kind == ValueKind::Text) {
        return Err(InsightError::not_supported(
            format!(
                "model \"{model_name}\" has text feature {}, which an array cannot carry",
                ident(&t.name)
            ),
            "Score it with a row: insight.predict('model', t) FROM your_table t.",
        ));
    }
    let arr = pg_sys::pg_detoast_datum(datum.cast_mut_ptr()) as *mut pg_sys::ArrayType;
    let ndim = (*arr).ndim;
    let elem = (*arr).elemtype;
    let mut raw = pgrx::array::RawArray::from_ptr(std::ptr::NonNull::new_unchecked(arr));
    let n = raw.len();
    if ndim > 1 || n != features.len() {
        return Err(InsightError::array_length(
            format!(
                "array has {n} elements{} but model \"{model_name}\" has {} features",
                if ndim > 1 {
                    format!(" in {ndim} dimensions")
                } else {
                    String::new()
                },
                features.len()
            ),
            format!(
                "Pass a one-dimensional array in this order: {}.",
                features
                    .iter()
                    .map(|f| ident(&f.name))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    let has_nulls = pg_sys::array_contains_nulls(arr);
    macro_rules! fast {
        ($t:ty) => {{
            let data: &[$t] = raw.data::<$t>().as_ref();
            for (j, v) in data.iter().enumerate() {
                sink.take(j, Value::Number(*v as f64))?;
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
    pg_sys::deconstruct_array(
        arr,
        elem,
        typlen as i32,
        byval,
        align,
        &mut elems,
        &mut nulls,
        &mut count,
    );
    let elems = std::slice::from_raw_parts(elems, count as usize);
    let nulls = std::slice::from_raw_parts(nulls, count as usize);
    for j in 0..count as usize {
        // numbers only: the read cannot fail
        let v = if nulls[j] {
            Value::Null
        } else {
            read_datum(&read, elems[j]).unwrap_or(Value::Null)
        };
        sink.take(j, v)?;
    }
    Ok(())
}
