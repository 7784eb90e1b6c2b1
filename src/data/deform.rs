//! Deforming a composite value (a whole-row argument) with every offset checked against the
//! value's length.
//!
//! PostgreSQL's heap_deform_tuple trusts the descriptor it is given. A value made before an
//! ALTER TABLE changed its row type (a PL/pgSQL variable kept across the ALTER) does not match
//! the type's descriptor any more: a column read as text where an integer was stored takes a
//! garbage length and the walk leaves the value. Here such a walk stops with an error instead;
//! a stale value whose old layout happens to fit the new one is read as PostgreSQL itself would
//! read it. Composite values never hold TOAST pointers (PostgreSQL flattens them into the value),
//! so one found here means the layout does not match either. Attributes are deformed only up to
//! the last one a model needs (heap_deform_tuple does all).

use pgrx::pg_sys;

// varlena headers are read here byte by byte, as PostgreSQL lays them out on little-endian
// machines (every platform pgrx builds for)
const _: () = assert!(
    cfg!(target_endian = "little"),
    "varlena header reading assumes little-endian"
);

/// The value does not fit its row type's descriptor.
pub struct Mismatch;

/// Deforms attributes `0..n` of the composite value `td` described by `desc` into `values` and
/// `nulls` (attributes past the value's own count are NULL, as for a column added later).
///
/// # Safety
/// `td` must point to a composite value of at least its varlena size; `desc` must have at least
/// `n` attributes; `values` and `nulls` at least `n` elements.
pub unsafe fn deform(
    td: pg_sys::HeapTupleHeader,
    desc: pg_sys::TupleDesc,
    n: usize,
    values: &mut [pg_sys::Datum],
    nulls: &mut [bool],
) -> Result<(), Mismatch> {
    let total = pgrx::varlena::varsize_4b(td as *const pg_sys::varlena);
    let hoff = (*td).t_hoff as usize;
    let natts = ((*td).t_infomask2 as u32 & pg_sys::HEAP_NATTS_MASK) as usize;
    let has_nulls = (*td).t_infomask as u32 & pg_sys::HEAP_HASNULL != 0;
    let bitmap_end = std::mem::offset_of!(pg_sys::HeapTupleHeaderData, t_bits)
        + if has_nulls { natts.div_ceil(8) } else { 0 };
    if hoff > total || bitmap_end > hoff {
        return Err(Mismatch);
    }
    let bits = (td as *const u8).add(std::mem::offset_of!(pg_sys::HeapTupleHeaderData, t_bits));
    let data = (td as *const u8).add(hoff);
    let len = total - hoff;
    let attrs = (*desc).attrs.as_slice((*desc).natts as usize);
    let mut off = 0usize;
    for i in 0..n {
        if i >= natts || (has_nulls && *bits.add(i >> 3) & (1 << (i & 7)) == 0) {
            values[i] = pg_sys::Datum::from(0usize);
            nulls[i] = true;
            continue;
        }
        nulls[i] = false;
        let a = &attrs[i];
        match a.attlen {
            l if l > 0 => {
                off = align(off, a.attalign as u8);
                let l = l as usize;
                if off + l > len {
                    return Err(Mismatch);
                }
                let p = data.add(off);
                values[i] = if a.attbyval {
                    by_value(p, l)?
                } else {
                    pg_sys::Datum::from(p)
                };
                off += l;
            }
            -1 => {
                // a varlena is aligned unless it starts with a short (1-byte) header; the bytes
                // skipped by alignment are zero, a short header never is
                if off < len && *data.add(off) == 0 {
                    off = align(off, a.attalign as u8);
                }
                if off >= len {
                    return Err(Mismatch);
                }
                let p = data.add(off);
                let size = match *p {
                    0x01 => return Err(Mismatch), // a TOAST or expanded-object pointer
                    b if b & 0x01 == 0x01 => (b >> 1) as usize,
                    _ if off + 4 > len => return Err(Mismatch),
                    _ => (std::ptr::read_unaligned(p as *const u32) >> 2) as usize,
                };
                if size < 1 || off + size > len || (*p & 0x01 == 0 && size < 4) {
                    return Err(Mismatch);
                }
                values[i] = pg_sys::Datum::from(p);
                off += size;
            }
            -2 => {
                let s = std::slice::from_raw_parts(data.add(off), len - off.min(len));
                let nul = s.iter().position(|&b| b == 0).ok_or(Mismatch)?;
                values[i] = pg_sys::Datum::from(data.add(off));
                off += nul + 1;
            }
            _ => return Err(Mismatch),
        }
    }
    Ok(())
}

/// `off` rounded up to PostgreSQL's alignment code ('c', 's', 'i', 'd').
#[inline(always)]
pub fn align(off: usize, code: u8) -> usize {
    let a = match code {
        b'c' => 1,
        b's' => 2,
        b'i' => 4,
        _ => 8,
    };
    off.div_ceil(a) * a
}

/// A by-value attribute of `l` bytes at `p`, as PostgreSQL's fetch_att reads it.
#[inline(always)]
unsafe fn by_value(p: *const u8, l: usize) -> Result<pg_sys::Datum, Mismatch> {
    let v: u64 = match l {
        1 => *p as u64,
        2 => std::ptr::read_unaligned(p as *const u16) as u64,
        4 => std::ptr::read_unaligned(p as *const u32) as u64,
        8 => std::ptr::read_unaligned(p as *const u64),
        _ => return Err(Mismatch),
    };
    Ok(pg_sys::Datum::from(v as usize))
}
