//! Decoders for the header messages a scanner needs: dataspace, datatype, layout, filter
//! pipeline, attribute, link, link info and attribute info.

use super::io::{Cursor, unsupported};
use crate::FormatError;

/// A dataspace: the array shape (empty for a scalar) and maximum shape.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Dataspace {
    pub dims: Vec<u64>,
    pub max: Vec<u64>,
}

/// Dataspace message; `None` for a null dataspace (no elements).
pub(super) fn dataspace(c: &mut Cursor) -> Result<Option<Dataspace>, FormatError> {
    let version = c.u8()?;
    let rank = usize::from(c.u8()?);
    let flags = c.u8()?;
    match version {
        1 => c.skip(5)?,
        2 => {
            if c.u8()? == 2 {
                return Ok(None);
            }
        }
        v => return Err(c.corrupt(format!("dataspace version {v}"))),
    }
    if rank > 32 {
        return Err(c.corrupt(format!("dataspace rank {rank}")));
    }
    let dims = (0..rank).map(|_| c.length()).collect::<Result<Vec<_>, _>>()?;
    let max = if flags & 1 != 0 {
        // All bits set means unlimited, whatever the size of lengths.
        let unlimited = u64::MAX >> (64 - 8 * u32::from(c.length_size()));
        let max = (0..rank).map(|_| c.length()).collect::<Result<Vec<_>, _>>()?;
        max.into_iter()
            .map(|m| if m == unlimited { u64::MAX } else { m })
            .collect()
    } else {
        dims.clone()
    };
    Ok(Some(Dataspace { dims, max }))
}

/// The datatypes the scanner distinguishes.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Datatype {
    /// Integer of `size` bytes.
    Int {
        size: u32,
        signed: bool,
        big_endian: bool,
    },
    /// IEEE float of `size` bytes.
    Float { size: u32, big_endian: bool },
    /// Fixed-length string.
    FixedString { size: u32 },
    /// Variable-length string (global heap).
    VlenString,
    /// Variable-length sequence of a base type (global heap).
    VlenSeq(Box<Datatype>),
    /// Object reference (an object header address).
    ObjectRef { size: u32 },
    /// Anything else: class number and size.
    Other { class: u8, size: u32 },
}

impl Datatype {
    /// Size of one element as stored.
    pub(super) fn size(&self, offset_size: u8) -> u32 {
        match self {
            Datatype::Int { size, .. }
            | Datatype::Float { size, .. }
            | Datatype::FixedString { size }
            | Datatype::ObjectRef { size }
            | Datatype::Other { size, .. } => *size,
            // Length, then the global heap ID (collection address, object index).
            Datatype::VlenString | Datatype::VlenSeq(_) => 4 + u32::from(offset_size) + 4,
        }
    }

    /// A short description for skip reasons.
    pub(super) fn describe(&self) -> String {
        match self {
            Datatype::VlenString => "variable-length string".into(),
            Datatype::VlenSeq(_) => "variable-length sequence".into(),
            Datatype::FixedString { .. } => "fixed-length string".into(),
            Datatype::ObjectRef { .. } => "object reference".into(),
            Datatype::Other { class, .. } => match class {
                4 => "bitfield".into(),
                5 => "opaque".into(),
                6 => "compound".into(),
                8 => "enum".into(),
                10 => "array".into(),
                c => format!("datatype class {c}"),
            },
            Datatype::Int { size, .. } => format!("{size}-byte integer"),
            Datatype::Float { size, .. } => format!("{size}-byte float"),
        }
    }
}

/// Datatype message.
pub(super) fn datatype(c: &mut Cursor) -> Result<Datatype, FormatError> {
    let cv = c.u8()?;
    let class = cv & 0x0f;
    let bits = c.bytes(3)?.to_vec();
    let size = c.u32()?;
    Ok(match class {
        0 => Datatype::Int {
            size,
            big_endian: bits[0] & 1 != 0,
            signed: bits[0] & 0x08 != 0,
        },
        // Bit 6 with bit 0 is VAX order, which is not plain big or little endian.
        1 if bits[0] & 0x40 == 0 => Datatype::Float {
            size,
            big_endian: bits[0] & 1 != 0,
        },
        3 => Datatype::FixedString { size },
        7 if bits[0] & 0x0f == 0 => Datatype::ObjectRef { size },
        9 => {
            if bits[0] & 0x0f == 1 {
                Datatype::VlenString
            } else {
                Datatype::VlenSeq(Box::new(datatype(c)?))
            }
        }
        class => Datatype::Other { class, size },
    })
}

/// Where a chunked dataset's chunk index is and what kind it is.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum ChunkIndex {
    /// Version 1 B-tree (layout version 3, or 4 with index type 0).
    BtreeV1,
    /// One chunk, the whole dataset; with its stored size and filter mask when filtered.
    Single { filtered: Option<(u64, u32)> },
    /// Unfiltered chunks stored contiguously in grid order.
    Implicit,
    /// Fixed array.
    FixedArray,
    /// Extensible array.
    ExtensibleArray,
    /// Version 2 B-tree.
    BtreeV2,
}

/// Data layout message.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Layout {
    /// Data stored in the header.
    Compact(Vec<u8>),
    /// One block of `size` bytes, or none yet.
    Contiguous { addr: Option<u64>, size: u64 },
    /// Chunks of `dims` (element-size dimension dropped) found through an index at `addr`.
    Chunked {
        dims: Vec<u64>,
        addr: Option<u64>,
        index: ChunkIndex,
    },
}

pub(super) fn layout(c: &mut Cursor) -> Result<Layout, FormatError> {
    let version = c.u8()?;
    // Version 5 (HDF5 2.0) encodes like version 4; its chunk indexes size the filtered-chunk
    // length field differently, which the index walkers derive from the record sizes.
    if !matches!(version, 3..=5) {
        return Err(unsupported(format!("data layout message version {version}")));
    }
    let class = c.u8()?;
    Ok(match class {
        0 => {
            let n = usize::from(c.u16()?);
            Layout::Compact(c.bytes(n)?.to_vec())
        }
        1 => Layout::Contiguous {
            addr: c.addr()?,
            size: c.length()?,
        },
        2 if version == 3 => {
            let ndims = usize::from(c.u8()?);
            let addr = c.addr()?;
            let dims = (0..ndims)
                .map(|_| c.u32().map(u64::from))
                .collect::<Result<Vec<_>, _>>()?;
            Layout::Chunked {
                dims: drop_element_dim(c, dims)?,
                addr,
                index: ChunkIndex::BtreeV1,
            }
        }
        2 => {
            let flags = c.u8()?;
            let ndims = usize::from(c.u8()?);
            let enc = usize::from(c.u8()?);
            let dims = (0..ndims).map(|_| c.uint(enc)).collect::<Result<Vec<_>, _>>()?;
            let index = match c.u8()? {
                1 => {
                    let filtered = if flags & 0x02 != 0 {
                        Some((c.length()?, c.u32()?))
                    } else {
                        None
                    };
                    ChunkIndex::Single { filtered }
                }
                2 => ChunkIndex::Implicit,
                3 => {
                    c.skip(1)?;
                    ChunkIndex::FixedArray
                }
                4 => {
                    c.skip(5)?;
                    ChunkIndex::ExtensibleArray
                }
                5 => {
                    c.skip(6)?;
                    ChunkIndex::BtreeV2
                }
                t => return Err(c.corrupt(format!("chunk index type {t}"))),
            };
            let addr = c.addr()?;
            Layout::Chunked {
                dims: drop_element_dim(c, dims)?,
                addr,
                index,
            }
        }
        3 => return Err(unsupported("virtual dataset layout")),
        k => return Err(c.corrupt(format!("layout class {k}"))),
    })
}

fn drop_element_dim(c: &Cursor, mut dims: Vec<u64>) -> Result<Vec<u64>, FormatError> {
    if dims.pop().is_none() || dims.contains(&0) {
        return Err(c.corrupt(format!("chunk dimensions {dims:?}")));
    }
    Ok(dims)
}

/// One filter of a pipeline.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Filter {
    pub id: u16,
    pub values: Vec<u32>,
}

/// Filter pipeline message, in encode order.
pub(super) fn filters(c: &mut Cursor) -> Result<Vec<Filter>, FormatError> {
    let version = c.u8()?;
    let n = c.u8()?;
    if version == 1 {
        c.skip(6)?;
    } else if version != 2 {
        return Err(c.corrupt(format!("filter pipeline version {version}")));
    }
    let mut out = Vec::new();
    for _ in 0..n {
        let id = c.u16()?;
        let name_len = if version == 1 || id >= 256 {
            usize::from(c.u16()?)
        } else {
            0
        };
        c.skip(2)?; // flags
        let nvalues = usize::from(c.u16()?);
        // Version 1 pads the name to a multiple of 8 and the values to an even count.
        let name_len = if version == 1 {
            name_len.div_ceil(8) * 8
        } else {
            name_len
        };
        c.skip(name_len)?;
        let values = (0..nvalues).map(|_| c.u32()).collect::<Result<Vec<_>, _>>()?;
        if version == 1 && nvalues % 2 == 1 {
            c.skip(4)?;
        }
        out.push(Filter { id, values });
    }
    Ok(out)
}

/// An attribute: name, type, shape (`None`: null dataspace) and raw value bytes.
pub(super) struct Attribute {
    pub name: String,
    pub dtype: Datatype,
    pub space: Option<Dataspace>,
    pub data: Cursor,
}

/// Attribute message; `None` when its datatype or dataspace is shared (not followed).
pub(super) fn attribute(c: &mut Cursor) -> Result<Option<Attribute>, FormatError> {
    let version = c.u8()?;
    let flags = c.u8()?;
    let name_len = usize::from(c.u16()?);
    let dt_len = usize::from(c.u16()?);
    let ds_len = usize::from(c.u16()?);
    let pad = |n: usize| if version == 1 { n.div_ceil(8) * 8 } else { n };
    match version {
        1 | 2 => {}
        3 => c.skip(1)?, // name character set
        v => return Err(c.corrupt(format!("attribute message version {v}"))),
    }
    let name = c.sub(pad(name_len))?;
    let name = String::from_utf8_lossy(name.rest().get(..name_len).unwrap_or_default());
    let name = name.trim_end_matches('\0').to_string();
    let mut dt = c.sub(pad(dt_len))?;
    let mut ds = c.sub(pad(ds_len))?;
    if version >= 2 && flags & 0x03 != 0 {
        return Ok(None);
    }
    let dtype = datatype(&mut dt)?;
    let space = dataspace(&mut ds)?;
    let n = c.remaining();
    let data = c.sub(n)?;
    Ok(Some(Attribute {
        name,
        dtype,
        space,
        data,
    }))
}

/// A link message: name and, for hard links, the target's object header address.
pub(super) fn link(c: &mut Cursor) -> Result<(String, Option<u64>), FormatError> {
    let version = c.u8()?;
    if version != 1 {
        return Err(c.corrupt(format!("link message version {version}")));
    }
    let flags = c.u8()?;
    let link_type = if flags & 0x08 != 0 { c.u8()? } else { 0 };
    if flags & 0x04 != 0 {
        c.skip(8)?;
    }
    if flags & 0x10 != 0 {
        c.skip(1)?;
    }
    let len = c.uint(1 << (flags & 3))? as usize;
    let name = String::from_utf8_lossy(c.bytes(len)?).into_owned();
    let target = if link_type == 0 { c.addr()? } else { None };
    Ok((name, target))
}

/// Link info or attribute info message: the fractal heap and name-index B-tree of dense storage.
pub(super) fn dense_info(c: &mut Cursor, attribute: bool) -> Result<Option<(u64, u64)>, FormatError> {
    c.skip(1)?; // version
    let flags = c.u8()?;
    if flags & 1 != 0 {
        c.skip(if attribute { 2 } else { 8 })?;
    }
    let heap = c.addr()?;
    let btree = c.addr()?;
    Ok(heap.zip(btree))
}
