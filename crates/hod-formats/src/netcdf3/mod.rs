//! Scanner for netCDF classic files: CDF-1 (classic), CDF-2 (64-bit offset) and CDF-5 (64-bit
//! data).
//!
//! Only the header is read. The data are uncompressed big-endian arrays at the offsets the header
//! gives, so every chunk is a byte range:
//! - a fixed-size variable is contiguous from its `begin`: rank >= 3 is chunked
//!   `(1, …, 1, y, x)`, one chunk per index of the leading dimensions; rank <= 2 is one chunk;
//! - record variables (first dimension UNLIMITED) are interleaved record by record, record `r` of
//!   a variable at `begin + r * recsize`; they are chunked like fixed ones, except that rank <= 2
//!   has chunk size 1 along the record dimension.
//!
//! `NC_CHAR` arrays are given as `uint8` (one byte per character, the string length being the
//! last dimension). `_FillValue` becomes [`ArrayMeta::fill_value`]; netCDF's default fill values
//! are not applied, as xarray does not apply them either.

mod header;
#[cfg(test)]
mod tests;

use crate::{FormatError, ReadAt, read};
use header::{Attr, Header, ParseError, Var, attr_first_f64, attr_json};
use hod_core::{ArrayMeta, Attrs, ChunkEntry, ChunkLoc, Endian, Format, ScannedFile, ScannedVariable};

/// Bytes read first; most headers are far smaller. Longer headers are read in growing steps.
const FIRST_READ: u64 = 16 * 1024;

/// Scans a netCDF classic, 64-bit offset or CDF-5 file from its header.
///
/// # Errors
/// [`FormatError::Corrupt`] for a malformed header, [`FormatError::Truncated`] when the header or
/// a variable's data would extend past the end of the file, [`FormatError::Read`] on I/O failure.
pub fn scan(src: &dyn ReadAt) -> Result<ScannedFile, FormatError> {
    let size = src.size();
    let h = read_header(src, size)?;
    let records = Records::new(&h, size)?;
    // Variables' data never overlap, so together they reference at most the file's size: this
    // bounds the number of chunk entries a corrupt header can make us allocate.
    let mut budget = size;
    let variables = h
        .vars
        .iter()
        .map(|v| variable(&h, &records, v, size, &mut budget))
        .collect::<Result<_, _>>()?;
    Ok(ScannedFile {
        format: Format::Netcdf3,
        attrs: h.attrs.iter().map(|a| (a.name.clone(), attr_json(a))).collect(),
        variables,
    })
}

/// Reads the first bytes and parses them, reading more while the header goes on.
fn read_header(src: &dyn ReadAt, size: u64) -> Result<Header, FormatError> {
    let mut buf = read(src, 0, size.min(FIRST_READ))?;
    loop {
        let needed = match header::parse(&buf, size) {
            Ok(h) => return Ok(h),
            Err(ParseError::Bad(e)) => return Err(e),
            Err(ParseError::Short { needed }) => needed,
        };
        let have = buf.len() as u64;
        let want = needed.max(have.saturating_mul(2)).min(size);
        let more = read(src, have, want - have)?;
        if more.is_empty() {
            // The source ends before the size it reported.
            return Err(FormatError::Truncated {
                format: Format::Netcdf3,
                needed,
                size: have,
            });
        }
        buf.extend_from_slice(&more);
    }
}

/// The record layout: how many records and how far apart.
struct Records {
    count: u64,
    /// Bytes from one record to the next (`recsize`).
    stride: u64,
}

impl Records {
    fn new(h: &Header, file_size: u64) -> Result<Self, FormatError> {
        let Some(rd) = h.record_dim() else {
            return Ok(Records { count: 0, stride: 0 });
        };
        let rec_vars: Vec<&Var> = h.vars.iter().filter(|v| v.dimids.first() == Some(&rd)).collect();
        let sizes = rec_vars
            .iter()
            .map(|v| record_bytes(h, v))
            .collect::<Result<Vec<_>, _>>()?;
        // Each record variable's slab is padded to four bytes, except when the first is the only
        // one with data (netCDF-C's `NC_computeshapes`): then records are packed.
        let padded = |s: u64| s.checked_next_multiple_of(4);
        let stride = sizes
            .iter()
            .try_fold(0u64, |acc, &s| acc.checked_add(padded(s)?))
            .ok_or_else(|| corrupt(rec_vars.first().map_or(0, |v| v.at), "record size overflows"))?;
        let stride = match sizes.first() {
            Some(&first) if padded(first) == Some(stride) => first,
            _ => stride,
        };
        let count = match h.numrecs {
            Some(n) => n,
            // STREAMING: as many whole records as the file holds.
            None => {
                let start = rec_vars.iter().map(|v| v.begin).min().unwrap_or(file_size);
                file_size.saturating_sub(start).checked_div(stride).unwrap_or(0)
            }
        };
        Ok(Records { count, stride })
    }
}

/// Bytes of one record of a record variable.
fn record_bytes(h: &Header, v: &Var) -> Result<u64, FormatError> {
    v.dimids
        .iter()
        .skip(1)
        .filter_map(|&d| h.dims.get(d))
        .try_fold(v.ty.size(), |acc, d| acc.checked_mul(d.len))
        .ok_or_else(|| corrupt(v.at, format!("variable {}: size overflows", v.name)))
}

fn variable(
    h: &Header,
    records: &Records,
    v: &Var,
    file_size: u64,
    budget: &mut u64,
) -> Result<ScannedVariable, FormatError> {
    let record_dim = h.record_dim();
    let is_record = record_dim.is_some() && v.dimids.first() == record_dim.as_ref();
    if v.dimids.iter().skip(1).any(|&d| Some(d) == record_dim) {
        return Err(corrupt(
            v.at,
            format!("variable {}: the UNLIMITED dimension is not its first", v.name),
        ));
    }
    let (dims, shape): (Vec<String>, Vec<u64>) = v
        .dimids
        .iter()
        .filter_map(|&d| h.dims.get(d))
        .map(|d| (d.name.clone(), if d.len == 0 { records.count } else { d.len }))
        .unzip();
    let rank = shape.len();
    // Number of leading dimensions chunked by 1.
    let lead = match rank {
        3.. => rank - 2,
        1.. if is_record => 1,
        _ => 0,
    };
    let mut chunk_shape = shape.clone();
    chunk_shape[..lead].fill(1);
    let dtype = v.ty.dtype();
    let mut meta = ArrayMeta::new(dims, shape.clone(), chunk_shape, dtype, Endian::Big);
    meta.fill_value = v
        .attrs
        .iter()
        .find(|a| a.name == "_FillValue")
        .and_then(attr_first_f64);
    meta.attrs = var_attrs(&v.attrs);

    let overflow = || corrupt(v.at, format!("variable {}: size overflows", v.name));
    let chunk_bytes = product(&shape[lead..], dtype.size() as u64).ok_or_else(overflow)?;
    let n_chunks = product(&shape[..lead], 1).ok_or_else(overflow)?;
    let chunks = if chunk_bytes == 0 || n_chunks == 0 {
        Vec::new()
    } else {
        // Byte distance between neighbouring chunks along each leading dimension.
        let mut strides = (0..lead)
            .map(|k| product(&shape[k + 1..lead], chunk_bytes))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(overflow)?;
        if is_record {
            strides[0] = records.stride;
        }
        let last_end = shape[..lead]
            .iter()
            .zip(&strides)
            .try_fold(v.begin.checked_add(chunk_bytes), |end, (&n, &s)| {
                Some(end?.checked_add((n - 1).checked_mul(s)?))
            })
            .flatten()
            .ok_or_else(overflow)?;
        if last_end > file_size {
            return Err(FormatError::Truncated {
                format: Format::Netcdf3,
                needed: last_end,
                size: file_size,
            });
        }
        if v.begin < h.len {
            return Err(corrupt(
                v.at,
                format!(
                    "variable {}: data begin at {}, inside the header",
                    v.name, v.begin
                ),
            ));
        }
        *budget = n_chunks
            .checked_mul(chunk_bytes)
            .and_then(|b| budget.checked_sub(b))
            .ok_or_else(|| {
                corrupt(
                    v.at,
                    format!(
                        "variable {}: the variables' data add up to more than the file",
                        v.name
                    ),
                )
            })?;
        (0..n_chunks)
            .map(|i| chunk(i, &shape[..lead], &strides, rank, v.begin, chunk_bytes))
            .collect()
    };
    Ok(ScannedVariable {
        name: v.name.clone(),
        meta,
        chunks,
    })
}

/// The `i`-th chunk (C order over the leading dimensions `lead_shape`).
fn chunk(i: u64, lead_shape: &[u64], strides: &[u64], rank: usize, begin: u64, length: u64) -> ChunkEntry {
    let mut index = vec![0; rank];
    let mut rest = i;
    let mut offset = begin;
    for ((slot, &n), &stride) in index[..lead_shape.len()]
        .iter_mut()
        .zip(lead_shape)
        .zip(strides)
        .rev()
    {
        *slot = rest % n;
        rest /= n;
        // Cannot overflow: the last chunk's end was checked against the file size.
        offset += *slot * stride;
    }
    ChunkEntry {
        index,
        loc: ChunkLoc::Range { offset, length },
    }
}

/// `init` times the product of `dims`, or `None` on overflow.
fn product(dims: &[u64], init: u64) -> Option<u64> {
    dims.iter().try_fold(init, |acc, &d| acc.checked_mul(d))
}

/// A variable's attributes, without `_FillValue` (which goes to the fill value).
fn var_attrs(attrs: &[Attr]) -> Attrs {
    attrs
        .iter()
        .filter(|a| a.name != "_FillValue")
        .map(|a| (a.name.clone(), attr_json(a)))
        .collect()
}

fn corrupt(offset: u64, what: impl Into<String>) -> FormatError {
    FormatError::Corrupt {
        format: Format::Netcdf3,
        offset,
        what: what.into(),
    }
}
