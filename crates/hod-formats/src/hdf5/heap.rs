//! Heaps: local heaps (group link names), global heaps (variable-length data) and fractal heaps
//! (dense link and attribute storage).

use super::io::{Cursor, Src, corrupt, unsupported};
use crate::FormatError;
use std::collections::HashMap;

/// The data segment of a local heap.
pub(super) fn local_heap(src: &Src, addr: u64) -> Result<Vec<u8>, FormatError> {
    let mut c = src.cursor_upto(addr, 8 + 3 * 8)?;
    c.signature(b"HEAP")?;
    c.skip(4)?; // version, reserved
    let size = c.length()?;
    c.length()?; // free list head
    let data = c.req_addr("local heap data segment")?;
    Ok(src.cursor(data, size)?.rest().to_vec())
}

/// The NUL-terminated string at `offset` of a local heap's data.
pub(super) fn heap_string(heap: &[u8], offset: u64, at: u64) -> Result<String, FormatError> {
    let s = usize::try_from(offset)
        .ok()
        .and_then(|o| heap.get(o..))
        .ok_or_else(|| corrupt(at, format!("link name offset {offset} is outside the local heap")))?;
    let end = s.iter().position(|&b| b == 0).unwrap_or(s.len());
    Ok(String::from_utf8_lossy(&s[..end]).into_owned())
}

/// Global heap collections read so far, by address.
#[derive(Default)]
pub(super) struct GlobalHeap {
    collections: HashMap<u64, HashMap<u16, (u64, u64)>>,
}

impl GlobalHeap {
    /// The bytes of object `index` of the collection at `addr`.
    pub(super) fn object(&mut self, src: &Src, addr: u64, index: u32) -> Result<Vec<u8>, FormatError> {
        if let std::collections::hash_map::Entry::Vacant(e) = self.collections.entry(addr) {
            e.insert(read_collection(src, addr)?);
        }
        let found = u16::try_from(index)
            .ok()
            .and_then(|i| self.collections.get(&addr).and_then(|c| c.get(&i)));
        match found {
            Some(&(at, len)) => Ok(src.cursor(at, len)?.rest().to_vec()),
            None => Err(corrupt(
                src.abs(addr)?,
                format!("global heap collection has no object {index}"),
            )),
        }
    }
}

/// Object index → (address, size) of one global heap collection.
fn read_collection(src: &Src, addr: u64) -> Result<HashMap<u16, (u64, u64)>, FormatError> {
    let mut c = src.cursor_upto(addr, 16)?;
    c.signature(b"GCOL")?;
    c.skip(4)?; // version, reserved
    let size = c.length()?;
    let mut c = src.cursor(addr, size)?;
    let head = 8 + usize::from(src.length_size);
    c.skip(head)?;
    let mut objects = HashMap::new();
    while c.remaining() >= 8 + usize::from(src.length_size) {
        let index = c.u16()?;
        if index == 0 {
            break; // free space: the rest of the collection
        }
        c.skip(6)?; // reference count, reserved
        let len = c.length()?;
        let at = addr.saturating_add(c.pos() as u64);
        let padded = usize::try_from(len.div_ceil(8) * 8).map_err(|_| c.corrupt("object size"))?;
        c.skip(padded.min(c.remaining()))?;
        objects.insert(index, (at, len));
    }
    Ok(objects)
}

/// A fractal heap header: what is needed to find managed objects.
pub(super) struct FractalHeap {
    addr: u64,
    width: u64,
    start_block: u64,
    max_direct: u64,
    offset_bytes: usize,
    length_bytes: usize,
    root: Option<u64>,
    root_rows: u64,
}

impl FractalHeap {
    pub(super) fn open(src: &Src, addr: u64) -> Result<Self, FormatError> {
        let mut c = src.cursor_upto(addr, 256)?;
        c.signature(b"FRHP")?;
        c.skip(1)?; // version
        c.u16()?; // heap ID length
        let filters_len = c.u16()?;
        c.u8()?; // flags
        let max_managed = u64::from(c.u32()?);
        c.length()?; // next huge ID
        c.addr()?; // huge object B-tree
        c.length()?; // free space
        c.addr()?; // free space manager
        for _ in 0..8 {
            c.length()?; // managed/allocated space, iterator offset, object counts and sizes
        }
        let width = u64::from(c.u16()?);
        let start_block = c.length()?;
        let max_direct = c.length()?;
        let max_heap_bits = u32::from(c.u16()?);
        c.u16()?; // starting rows
        let root = c.addr()?;
        let root_rows = u64::from(c.u16()?);
        if filters_len != 0 {
            return Err(unsupported(format!(
                "filtered fractal heap at byte {}",
                src.abs(addr)?
            )));
        }
        if !width.is_power_of_two()
            || !start_block.is_power_of_two()
            || !max_direct.is_power_of_two()
            || max_direct < start_block
        {
            return Err(corrupt(src.abs(addr)?, "fractal heap doubling table parameters"));
        }
        let max_direct_bits = max_direct.trailing_zeros();
        Ok(FractalHeap {
            addr,
            width,
            start_block,
            max_direct,
            offset_bytes: max_heap_bits.div_ceil(8) as usize,
            length_bytes: (max_direct_bits.div_ceil(8) as usize).min(limit_enc_size(max_managed)),
            root,
            root_rows,
        })
    }

    /// Size of the blocks in doubling-table row `row`.
    fn row_size(&self, row: u64) -> Result<u64, FormatError> {
        let shift = u32::try_from(row.saturating_sub(1)).unwrap_or(u32::MAX);
        self.start_block
            .checked_shl(shift)
            .filter(|s| s.trailing_zeros() == self.start_block.trailing_zeros() + shift)
            .ok_or_else(|| corrupt(self.addr, "fractal heap row too large"))
    }

    fn max_direct_rows(&self) -> u64 {
        u64::from(self.max_direct.trailing_zeros() - self.start_block.trailing_zeros()) + 2
    }

    /// The bytes of the managed object with heap ID `id`.
    pub(super) fn object(&self, src: &Src, id: &[u8]) -> Result<Vec<u8>, FormatError> {
        let at = src.abs(self.addr)?;
        let mut c = Cursor::new(id.to_vec(), at, src.offset_size, src.length_size);
        let kind = (c.u8()? >> 4) & 0x03;
        if kind != 0 {
            return Err(unsupported(format!(
                "huge or tiny fractal heap object (heap at byte {at})"
            )));
        }
        let mut off = c.uint(self.offset_bytes)?;
        let len = c.uint(self.length_bytes)?;
        let root = self
            .root
            .ok_or_else(|| corrupt(at, "fractal heap has no root block"))?;
        let (mut block, mut rows) = (root, self.root_rows);
        // Walk down the indirect blocks to the direct block holding `off`.
        for _ in 0..64 {
            if rows == 0 {
                let limit = if block == root && self.root_rows == 0 {
                    self.start_block
                } else {
                    u64::MAX
                };
                if off.checked_add(len).is_none_or(|e| e > limit) {
                    return Err(corrupt(
                        at,
                        format!("heap object at {off}+{len} is outside its block"),
                    ));
                }
                return Ok(src.cursor(block.saturating_add(off), len)?.rest().to_vec());
            }
            let (row, col, start) = self.locate(off, rows)?;
            let entry = self.child(src, block, rows, row * self.width + col)?;
            let child =
                entry.ok_or_else(|| corrupt(at, format!("heap object offset {off} is not allocated")))?;
            off -= start;
            block = child;
            rows = if row < self.max_direct_rows() {
                0
            } else {
                // An indirect block's rows: log2(block size) - log2(start * width) + 1.
                let size = self.row_size(row)?.trailing_zeros();
                let first = self.start_block.trailing_zeros() + self.width.trailing_zeros();
                let rows = size
                    .checked_sub(first)
                    .ok_or_else(|| corrupt(at, "fractal heap indirect block rows"))?;
                u64::from(rows) + 1
            };
            if rows == 0 && off >= self.row_size(row)? {
                return Err(corrupt(at, "heap object offset past its direct block"));
            }
        }
        Err(corrupt(at, "fractal heap too deep"))
    }

    /// Row, column and heap-space start of the block containing `off` in an indirect block.
    fn locate(&self, off: u64, rows: u64) -> Result<(u64, u64, u64), FormatError> {
        let mut start = 0u64;
        for row in 0..rows {
            let size = self.row_size(row)?;
            let span = size.saturating_mul(self.width);
            if off < start.saturating_add(span) {
                let col = (off - start) / size;
                return Ok((row, col, start + col * size));
            }
            start = start.saturating_add(span);
        }
        Err(corrupt(
            self.addr,
            format!("heap offset {off} beyond the indirect block"),
        ))
    }

    /// Address of child `k` of the indirect block at `block` with `rows` rows.
    fn child(&self, src: &Src, block: u64, rows: u64, k: u64) -> Result<Option<u64>, FormatError> {
        let o = u64::from(src.offset_size);
        let header = 4 + 1 + o + self.offset_bytes as u64;
        let direct = rows.min(self.max_direct_rows()) * self.width;
        let pos = if k < direct {
            header + k * o
        } else {
            header + direct * o + (k - direct) * o
        };
        let mut c = src.cursor(block.saturating_add(pos), o)?;
        c.addr()
    }
}

/// Bytes needed to encode `v` (HDF5's `H5VM_limit_enc_size`).
pub(super) fn limit_enc_size(v: u64) -> usize {
    (63 - v.max(1).leading_zeros() as usize) / 8 + 1
}
