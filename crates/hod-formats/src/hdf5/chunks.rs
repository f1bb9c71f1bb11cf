//! Chunk indexes: from a chunked layout to the file location of every allocated chunk.

use super::btree;
use super::io::{Cursor, Src, corrupt};
use super::messages::ChunkIndex;
use crate::FormatError;

/// One allocated chunk: its chunk-grid index, absolute file offset, stored size, filter mask.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct RawChunk {
    pub index: Vec<u64>,
    pub offset: u64,
    pub size: u64,
    pub mask: u32,
}

/// What the index walkers need to know about the dataset.
pub(super) struct Geometry<'a> {
    pub shape: &'a [u64],
    pub max: &'a [u64],
    pub chunk: &'a [u64],
    /// Bytes of one unfiltered chunk.
    pub chunk_bytes: u64,
    pub filtered: bool,
}

impl Geometry<'_> {
    fn grid(&self, dims: &[u64]) -> Vec<u64> {
        // An unlimited maximum (all bits set) has no fixed grid; the current shape stands in.
        dims.iter()
            .zip(self.shape)
            .zip(self.chunk)
            .map(|((&d, &s), &c)| {
                if d == u64::MAX {
                    s.div_ceil(c)
                } else {
                    d.div_ceil(c)
                }
            })
            .collect()
    }

    fn in_bounds(&self, index: &[u64]) -> bool {
        index.len() == self.shape.len() && index.iter().zip(self.grid(self.shape)).all(|(&i, n)| i < n)
    }
}

/// Every allocated chunk of the chunked dataset whose index is at `addr`.
pub(super) fn collect(
    src: &Src,
    kind: &ChunkIndex,
    addr: u64,
    g: &Geometry,
) -> Result<Vec<RawChunk>, FormatError> {
    let mut out = Vec::new();
    let rank = g.shape.len();
    let o = usize::from(src.offset_size);
    match kind {
        ChunkIndex::BtreeV1 => {
            let key_size = 8 + 8 * (rank + 1);
            btree::v1(src, addr, 1, key_size, &mut |key, child| {
                let size = u64::from(key.u32()?);
                let mask = key.u32()?;
                let mut index = Vec::with_capacity(rank);
                for &c in g.chunk {
                    let off = key.u64()?;
                    if off % c != 0 {
                        return Err(key.corrupt(format!("chunk offset {off} is not a multiple of {c}")));
                    }
                    index.push(off / c);
                }
                out.push(raw(src, index, child, size, mask)?);
                Ok(())
            })?;
        }
        ChunkIndex::Single { filtered } => {
            let (size, mask) = filtered.unwrap_or((g.chunk_bytes, 0));
            out.push(raw(src, vec![0; rank], addr, size, mask)?);
        }
        ChunkIndex::Implicit => {
            let grid = g.grid(g.shape);
            let cap = src.size() / g.chunk_bytes.max(1);
            for (i, index) in grid_indices(&grid, src.abs(addr)?, cap)?.into_iter().enumerate() {
                let at = (i as u64)
                    .checked_mul(g.chunk_bytes)
                    .and_then(|b| b.checked_add(addr));
                let at = at.ok_or_else(|| corrupt(addr, "implicit chunk address overflows"))?;
                out.push(raw(src, index, at, g.chunk_bytes, 0)?);
            }
        }
        ChunkIndex::FixedArray => fixed_array(src, addr, g, o, &mut out)?,
        ChunkIndex::BtreeV2 => {
            btree::v2(src, addr, &mut |r| {
                let at = r.req_addr("chunk")?;
                let (size, mask) = if g.filtered {
                    let n = r.remaining().saturating_sub(4 + 8 * rank);
                    (r.uint(n)?, r.u32()?)
                } else {
                    (g.chunk_bytes, 0)
                };
                let index = (0..rank).map(|_| r.u64()).collect::<Result<Vec<_>, _>>()?;
                out.push(raw(src, index, at, size, mask)?);
                Ok(())
            })?;
        }
        ChunkIndex::ExtensibleArray => {
            super::earray::collect(src, addr, g, &mut |index, at, e| {
                let (size, mask) = if g.filtered {
                    let n = e.remaining().saturating_sub(4);
                    (e.uint(n)?, e.u32()?)
                } else {
                    (g.chunk_bytes, 0)
                };
                out.push(raw(src, index, at, size, mask)?);
                Ok(())
            })?;
        }
    }
    out.retain(|c| g.in_bounds(&c.index));
    Ok(out)
}

fn raw(src: &Src, index: Vec<u64>, addr: u64, size: u64, mask: u32) -> Result<RawChunk, FormatError> {
    let offset = src.abs(addr)?;
    if offset.checked_add(size).is_none_or(|end| end > src.size()) {
        return Err(corrupt(
            offset,
            format!("chunk of {size} bytes runs past the end of the file"),
        ));
    }
    Ok(RawChunk {
        index,
        offset,
        size,
        mask,
    })
}

/// All chunk-grid indices in row-major order; refuses grids of more than `cap` chunks (what the
/// file could hold).
fn grid_indices(grid: &[u64], at: u64, cap: u64) -> Result<Vec<Vec<u64>>, FormatError> {
    let n = grid.iter().try_fold(1u64, |a, &g| a.checked_mul(g));
    let n = n.filter(|&n| n <= cap).ok_or_else(|| {
        corrupt(
            at,
            format!("chunk grid {grid:?} has more chunks than the file can hold"),
        )
    })?;
    let mut out = Vec::with_capacity(n as usize);
    for mut lin in 0..n {
        let mut index = vec![0; grid.len()];
        for (i, &g) in grid.iter().enumerate().rev() {
            index[i] = lin % g;
            lin /= g;
        }
        out.push(index);
    }
    Ok(out)
}

/// Fixed array index (layout version 4, fixed maximum dimensions).
fn fixed_array(
    src: &Src,
    addr: u64,
    g: &Geometry,
    o: usize,
    out: &mut Vec<RawChunk>,
) -> Result<(), FormatError> {
    let mut h = src.cursor(addr, 4 + 4 + src.length_size as u64 + o as u64 + 4)?;
    h.signature(b"FAHD")?;
    h.skip(2)?; // version, client
    let entry_size = usize::from(h.u8()?);
    let page_bits = u32::from(h.u8()?);
    let nentries = h.length()?;
    let dblock = h.req_addr("fixed array data block")?;
    let grid = g.grid(g.max);
    let indices = grid_indices(&grid, src.abs(addr)?, src.size() / (entry_size.max(1) as u64))?;
    if nentries != indices.len() as u64 || entry_size < o || page_bits > 32 {
        return Err(h.corrupt(format!(
            "fixed array of {nentries} entries for a grid of {grid:?}"
        )));
    }
    let page = 1u64 << page_bits;
    let prefix = 4 + 2 + o as u64;
    let entries: Vec<Cursor> = if nentries > page {
        let npages = nentries.div_ceil(page);
        let first = prefix + npages.div_ceil(8) + 4;
        (0..npages)
            .map(|p| {
                let n = page.min(nentries - p * page);
                let at = dblock.saturating_add(first + p * (page * entry_size as u64 + 4));
                src.cursor(at, n * entry_size as u64)
            })
            .collect::<Result<_, _>>()?
    } else {
        vec![src.cursor(dblock.saturating_add(prefix), nentries * entry_size as u64)?]
    };
    let mut indices = indices.into_iter();
    for mut c in entries {
        while c.remaining() >= entry_size {
            let mut e = c.sub(entry_size)?;
            let Some(index) = indices.next() else { break };
            let Some(at) = e.addr()? else { continue };
            let (size, mask) = if g.filtered {
                let n = entry_size.saturating_sub(o + 4);
                (e.uint(n)?, e.u32()?)
            } else {
                (g.chunk_bytes, 0)
            };
            out.push(raw(src, index, at, size, mask)?);
        }
    }
    Ok(())
}
