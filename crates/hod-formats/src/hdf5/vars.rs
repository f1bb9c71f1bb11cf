//! From a dataset's messages to a [`ScannedVariable`]: dtype, chunk shape, codecs and chunk refs.

use super::chunks::{self, Geometry};
use super::io::{Src, corrupt, unsupported};
use super::messages::{self, Dataspace, Datatype, Filter, Layout};
use super::object::{self, Message, kind};
use crate::FormatError;
use hod_core::{ArrayMeta, ChunkEntry, ChunkLoc, Codec, DType, Endian};

/// HDF5 filter identifiers.
const DEFLATE: u16 = 1;
const SHUFFLE: u16 = 2;
const FLETCHER32: u16 = 3;

/// The storage of one dataset: shape, type, chunking, codecs and chunks. Dims, fill value and
/// attributes are filled in by the caller.
pub(super) struct Storage {
    pub meta: ArrayMeta,
    pub chunks: Vec<ChunkEntry>,
}

/// Why a dataset is skipped, or a hard error for a corrupt file.
pub(super) enum Skip {
    Reason(String),
    Error(FormatError),
}

impl From<FormatError> for Skip {
    fn from(e: FormatError) -> Self {
        match e {
            FormatError::Unsupported { what, .. } => Skip::Reason(what),
            e => Skip::Error(e),
        }
    }
}

/// The dataspace of a dataset (`None`: null dataspace).
pub(super) fn dataspace(msgs: &[Message]) -> Result<Option<Dataspace>, FormatError> {
    let m = required(msgs, kind::DATASPACE, "dataspace")?;
    object::not_shared(m, "dataspace")?;
    messages::dataspace(&mut m.body.clone())
}

fn required<'m>(msgs: &'m [Message], k: u16, what: &str) -> Result<&'m Message, FormatError> {
    object::find(msgs, k).ok_or_else(|| {
        let at = msgs.first().map_or(0, |m| m.body.here());
        corrupt(at, format!("dataset has no {what} message"))
    })
}

/// Reads the dataset's storage.
pub(super) fn storage(src: &Src, msgs: &[Message], space: &Dataspace) -> Result<Storage, Skip> {
    let m = required(msgs, kind::DATATYPE, "datatype")?;
    object::not_shared(m, "datatype")?;
    let dt = messages::datatype(&mut m.body.clone())?;
    let (dtype, endian) = numeric(&dt).ok_or_else(|| Skip::Reason(format!("{} data", dt.describe())))?;
    let esize = dtype.size() as u64;
    let layout_msg = required(msgs, kind::LAYOUT, "layout")?;
    let at = layout_msg.body.here();
    let layout = messages::layout(&mut layout_msg.body.clone())?;
    let filters = match object::find(msgs, kind::FILTERS) {
        Some(m) => messages::filters(&mut m.body.clone())?,
        None => Vec::new(),
    };
    let shape = space.dims.clone();
    let codecs = codecs(&filters, dtype)?;
    let nbytes = shape
        .iter()
        .try_fold(esize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| Skip::Error(corrupt(at, format!("dataset shape {shape:?} overflows"))))?;
    let (chunk_shape, chunks) = match layout {
        Layout::Compact(bytes) => {
            let entry = ChunkEntry {
                index: vec![0; shape.len()],
                loc: ChunkLoc::Inline(bytes),
            };
            (shape.clone(), if nbytes > 0 { vec![entry] } else { Vec::new() })
        }
        Layout::Contiguous { addr, size } => contiguous(src, &shape, nbytes, addr, size)?,
        Layout::Chunked { dims, addr, index } => {
            if dims.len() != shape.len() {
                return Err(Skip::Error(corrupt(
                    at,
                    format!("chunk rank {} for a dataset of rank {}", dims.len(), shape.len()),
                )));
            }
            // HDF5 refuses chunks larger than a fixed-size dimension, and before 2.0 chunks of
            // 4 GiB or more; checking both bounds what a decoder of a corrupt file allocates.
            let chunk_bytes = dims.iter().try_fold(esize, |a, &d| a.checked_mul(d));
            let too_big = dims
                .iter()
                .zip(&space.max)
                .any(|(&c, &m)| m != u64::MAX && c > m.max(1));
            let chunk_bytes = chunk_bytes.filter(|_| !too_big).ok_or_else(|| {
                Skip::Error(corrupt(
                    at,
                    format!("chunk shape {dims:?} for a dataset of shape {:?}", space.max),
                ))
            })?;
            if chunk_bytes > u64::from(u32::MAX) {
                return Err(Skip::Reason(format!(
                    "chunks of {chunk_bytes} bytes (4 GiB or more)"
                )));
            }
            let raw = match addr {
                None => Vec::new(),
                Some(addr) => {
                    let g = Geometry {
                        shape: &shape,
                        max: &space.max,
                        chunk: &dims,
                        chunk_bytes,
                        filtered: !filters.is_empty(),
                    };
                    chunks::collect(src, &index, addr, &g)?
                }
            };
            let mut entries = Vec::with_capacity(raw.len());
            for c in raw {
                if c.mask != 0 {
                    return Err(Skip::Reason(format!(
                        "chunk {:?} skips filters (mask {:#x})",
                        c.index, c.mask
                    )));
                }
                entries.push(ChunkEntry {
                    index: c.index,
                    loc: ChunkLoc::Range {
                        offset: c.offset,
                        length: c.size,
                    },
                });
            }
            (dims, entries)
        }
    };
    let mut meta = ArrayMeta::new(Vec::new(), shape, chunk_shape, dtype, endian);
    meta.codecs = codecs;
    Ok(Storage { meta, chunks })
}

/// Element type and byte order of a numeric datatype.
pub(super) fn numeric(dt: &Datatype) -> Option<(DType, Endian)> {
    let order = |big: bool| if big { Endian::Big } else { Endian::Little };
    match *dt {
        Datatype::Int {
            size,
            signed,
            big_endian,
        } => {
            let t = match (size, signed) {
                (1, true) => DType::I8,
                (2, true) => DType::I16,
                (4, true) => DType::I32,
                (8, true) => DType::I64,
                (1, false) => DType::U8,
                (2, false) => DType::U16,
                (4, false) => DType::U32,
                (8, false) => DType::U64,
                _ => return None,
            };
            Some((t, order(big_endian)))
        }
        Datatype::Float { size: 4, big_endian } => Some((DType::F32, order(big_endian))),
        Datatype::Float { size: 8, big_endian } => Some((DType::F64, order(big_endian))),
        _ => None,
    }
}

/// The decode chain: the encode pipeline reversed.
fn codecs(filters: &[Filter], dtype: DType) -> Result<Vec<Codec>, FormatError> {
    let mut out = Vec::new();
    for f in filters.iter().rev() {
        out.push(match f.id {
            DEFLATE => Codec::Zlib,
            SHUFFLE => Codec::Shuffle {
                element_size: f.values.first().map_or(dtype.size(), |&v| v as usize),
            },
            FLETCHER32 => Codec::Fletcher32,
            id => return Err(unsupported(format!("filter {} (id {id})", filter_name(id)))),
        });
    }
    Ok(out)
}

fn filter_name(id: u16) -> &'static str {
    match id {
        4 => "szip",
        5 => "nbit",
        6 => "scaleoffset",
        307 => "bzip2",
        32001 => "blosc",
        32004 => "lz4",
        32015 => "zstd",
        _ => "unknown",
    }
}

/// Contiguous storage as chunks: the whole array, or for rank >= 3 one chunk per leading index
/// (as netCDF-3 record variables), so a time step can be read alone.
fn contiguous(
    src: &Src,
    shape: &[u64],
    nbytes: u64,
    addr: Option<u64>,
    size: u64,
) -> Result<(Vec<u64>, Vec<ChunkEntry>), FormatError> {
    let Some(addr) = addr.filter(|_| nbytes > 0) else {
        return Ok((shape.to_vec(), Vec::new()));
    };
    let start = src.abs(addr)?;
    if size < nbytes || start.checked_add(nbytes).is_none_or(|end| end > src.size()) {
        return Err(corrupt(
            start,
            format!("contiguous data of {nbytes} bytes (layout says {size}) runs past the end of the file"),
        ));
    }
    let range = |index: Vec<u64>, offset: u64, length: u64| ChunkEntry {
        index,
        loc: ChunkLoc::Range { offset, length },
    };
    if shape.len() >= 3 {
        let slab = nbytes / shape[0];
        let mut chunk = shape.to_vec();
        chunk[0] = 1;
        let entries = (0..shape[0])
            .map(|i| {
                let mut index = vec![0; shape.len()];
                index[0] = i;
                range(index, start + i * slab, slab)
            })
            .collect();
        return Ok((chunk, entries));
    }
    Ok((shape.to_vec(), vec![range(vec![0; shape.len()], start, nbytes)]))
}
