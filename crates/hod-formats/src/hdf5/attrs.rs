//! Attribute values as JSON, and the netCDF-4 / dimension-scale attributes read as structure.

use super::heap::GlobalHeap;
use super::io::{Cursor, Src};
use super::messages::{Attribute, Datatype};
use crate::FormatError;
use hod_core::float_attr;
use serde_json::Value;

/// Attributes that describe HDF5/netCDF-4 structure rather than data.
pub(super) const INTERNAL: &[&str] = &[
    "DIMENSION_LIST",
    "REFERENCE_LIST",
    "CLASS",
    "_Netcdf4Dimid",
    "_Netcdf4Coordinates",
    "_nc3_strict",
    "_NCProperties",
    "_FillValue",
];

/// Number of elements of an attribute (0 for a null dataspace).
fn count(a: &Attribute) -> u64 {
    a.space.as_ref().map_or(0, |s| s.dims.iter().product())
}

/// The elements' bytes, one cursor per element; checks they fit in the stored data.
fn elements(a: &Attribute, offset_size: u8) -> Result<Vec<Cursor>, FormatError> {
    let size = u64::from(a.dtype.size(offset_size));
    let n = count(a);
    let mut data = a.data.clone();
    if n.checked_mul(size)
        .is_none_or(|total| total > data.remaining() as u64)
        || size == 0 && n > 0
    {
        return Err(data.corrupt(format!(
            "attribute {} declares {n} elements of {size} bytes in {} bytes",
            a.name,
            data.remaining()
        )));
    }
    (0..n).map(|_| data.sub(size as usize)).collect()
}

/// One number of a numeric type.
fn number(dtype: &Datatype, c: &mut Cursor) -> Result<Option<Num>, FormatError> {
    let (size, big) = match dtype {
        Datatype::Int { size, big_endian, .. } | Datatype::Float { size, big_endian } => (*size, *big_endian),
        _ => return Ok(None),
    };
    let mut b = c.bytes(size as usize)?.to_vec();
    if big {
        b.reverse();
    }
    let raw = b.iter().rev().fold(0u64, |acc, &x| (acc << 8) | u64::from(x));
    Ok(match (dtype, size) {
        (Datatype::Float { .. }, 4) => Some(Num::F(f64::from(f32::from_bits(raw as u32)))),
        (Datatype::Float { .. }, 8) => Some(Num::F(f64::from_bits(raw))),
        (Datatype::Int { signed: true, .. }, 1 | 2 | 4 | 8) => {
            let shift = 64 - 8 * size;
            Some(Num::I(((raw << shift) as i64) >> shift))
        }
        (Datatype::Int { signed: false, .. }, 1 | 2 | 4 | 8) => Some(Num::U(raw)),
        _ => None,
    })
}

/// A decoded number, keeping integers exact.
enum Num {
    F(f64),
    I(i64),
    U(u64),
}

impl Num {
    fn json(&self) -> Value {
        match *self {
            Num::F(v) => float_attr(v),
            Num::I(v) => v.into(),
            Num::U(v) => v.into(),
        }
    }

    fn f64(&self) -> f64 {
        match *self {
            Num::F(v) => v,
            Num::I(v) => v as f64,
            Num::U(v) => v as f64,
        }
    }
}

/// The bytes of a variable-length element of `elem`-byte items (a global heap object, cut to the
/// element's length).
fn vlen_bytes(src: &Src, heap: &mut GlobalHeap, c: &mut Cursor, elem: u64) -> Result<Vec<u8>, FormatError> {
    let len = u64::from(c.u32()?).saturating_mul(elem);
    let coll = c.addr()?;
    let index = c.u32()?;
    match coll {
        Some(coll) if len > 0 => {
            let mut bytes = heap.object(src, coll, index)?;
            bytes.truncate(usize::try_from(len).unwrap_or(usize::MAX));
            Ok(bytes)
        }
        _ => Ok(Vec::new()),
    }
}

fn text(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// The attribute's value as JSON (one element: a scalar, else an array); `None` for types that
/// have no JSON form here (references, compounds, …).
pub(super) fn value(src: &Src, heap: &mut GlobalHeap, a: &Attribute) -> Result<Option<Value>, FormatError> {
    let mut items = Vec::new();
    for mut e in elements(a, src.offset_size)? {
        let v = match &a.dtype {
            Datatype::FixedString { .. } => Value::String(text(e.rest())),
            Datatype::VlenString => Value::String(text(&vlen_bytes(src, heap, &mut e, 1)?)),
            dt => match number(dt, &mut e)? {
                Some(n) => n.json(),
                None => return Ok(None),
            },
        };
        items.push(v);
    }
    Ok(match items.len() {
        0 if matches!(a.dtype, Datatype::FixedString { .. } | Datatype::VlenString) => {
            Some(Value::String(String::new()))
        }
        0 => None,
        1 => items.pop(),
        _ => Some(Value::Array(items)),
    })
}

/// The first element of a numeric attribute as f64 (for `_FillValue`).
pub(super) fn first_f64(src: &Src, a: &Attribute) -> Result<Option<f64>, FormatError> {
    let Some(mut e) = elements(a, src.offset_size)?.into_iter().next() else {
        return Ok(None);
    };
    Ok(number(&a.dtype, &mut e)?.map(|n| n.f64()))
}

/// The attribute as one string (fixed or variable length), if it is one.
pub(super) fn string(src: &Src, heap: &mut GlobalHeap, a: &Attribute) -> Result<Option<String>, FormatError> {
    Ok(match value(src, heap, a)? {
        Some(Value::String(s)) => Some(s),
        _ => None,
    })
}

/// `DIMENSION_LIST`: per dimension, the object header address of its first dimension scale.
pub(super) fn dimension_list(
    src: &Src,
    heap: &mut GlobalHeap,
    a: &Attribute,
) -> Result<Option<Vec<Option<u64>>>, FormatError> {
    let Datatype::VlenSeq(base) = &a.dtype else {
        return Ok(None);
    };
    if !matches!(**base, Datatype::ObjectRef { .. }) {
        return Ok(None);
    }
    let mut out = Vec::new();
    for mut e in elements(a, src.offset_size)? {
        let bytes = vlen_bytes(src, heap, &mut e, u64::from(src.offset_size))?;
        let mut r = Cursor::new(bytes, e.here(), src.offset_size, src.length_size);
        out.push(if r.remaining() >= usize::from(src.offset_size) {
            r.addr()?
        } else {
            None
        });
    }
    Ok(Some(out))
}
