//! Extensible array chunk index (layout version 4+, one unlimited dimension).
//!
//! Elements live in the index block, then in data blocks that the index block or super blocks
//! point to; super block `s` has `2^(s/2)` data blocks of `2^((s+1)/2) * min` elements. Element
//! `k` is the chunk whose grid index, with the unlimited dimension moved first, has row-major
//! offset `k` over the maximum chunk grid.

use super::chunks::Geometry;
use super::io::{Cursor, Src, corrupt};
use crate::FormatError;

/// Parameters from the header that locate elements.
struct Params {
    esize: u64,
    page_elmts: u64,
    /// Bytes of a block's offset field.
    arr_off: u64,
    nsblks: u64,
    max_index: u64,
}

/// Receives each allocated element: chunk grid index, chunk address, and the rest of the element
/// (stored size and filter mask when filtered).
pub(super) type Push<'a> = dyn FnMut(Vec<u64>, u64, &mut Cursor) -> Result<(), FormatError> + 'a;

/// Collects the allocated chunks of the extensible array whose header is at `addr`.
pub(super) fn collect(src: &Src, addr: u64, g: &Geometry, push: &mut Push) -> Result<(), FormatError> {
    let o = u64::from(src.offset_size);
    let l = u64::from(src.length_size);
    let mut h = src.cursor(addr, 12 + 6 * l + o)?;
    h.signature(b"EAHD")?;
    h.skip(2)?; // version, class
    let esize = u64::from(h.u8()?);
    let max_bits = u32::from(h.u8()?);
    let iblk_elmts = u64::from(h.u8()?);
    let dblk_min = u64::from(h.u8()?);
    let sblk_min_ptrs = u64::from(h.u8()?);
    let page_bits = u32::from(h.u8()?);
    for _ in 0..4 {
        h.length()?; // super and data block counts and sizes
    }
    let max_index = h.length()?;
    h.length()?; // element count
    let iblock = h.addr()?;
    if esize < o
        || max_bits > 64
        || page_bits >= 32
        || !dblk_min.is_power_of_two()
        || !sblk_min_ptrs.is_power_of_two()
        || max_index > src.size() / esize
    {
        return Err(corrupt(src.abs(addr)?, "extensible array header parameters"));
    }
    let Some(iblock) = iblock else { return Ok(()) };
    let p = Params {
        esize,
        page_elmts: 1 << page_bits,
        arr_off: u64::from(max_bits.div_ceil(8)),
        nsblks: 1 + u64::from(max_bits.saturating_sub(dblk_min.trailing_zeros())),
        max_index,
    };
    let order = Order::new(g);
    let mut emit = |k: u64, e: &mut Cursor| -> Result<(), FormatError> {
        match e.addr()? {
            Some(at) => push(order.index(k), at, e),
            None => Ok(()),
        }
    };

    // Index block: its own elements, then data block and super block addresses.
    let iblock_nsblks = 2 * u64::from(sblk_min_ptrs.trailing_zeros());
    let ndblk_addrs = 2 * (sblk_min_ptrs - 1);
    let nsblk_addrs = p.nsblks.saturating_sub(iblock_nsblks);
    let mut c = src.cursor(
        iblock,
        6 + o + iblk_elmts * esize + (ndblk_addrs + nsblk_addrs) * o,
    )?;
    c.signature(b"EAIB")?;
    c.skip(2 + o as usize)?;
    for k in 0..iblk_elmts {
        let mut e = c.sub(esize as usize)?;
        if k < max_index {
            emit(k, &mut e)?;
        }
    }
    let dblks = (0..ndblk_addrs)
        .map(|_| c.addr())
        .collect::<Result<Vec<_>, _>>()?;
    let sblks = (0..nsblk_addrs)
        .map(|_| c.addr())
        .collect::<Result<Vec<_>, _>>()?;

    let mut k = iblk_elmts;
    let mut dblks = dblks.into_iter();
    for s in 0..p.nsblks {
        if k >= max_index {
            break;
        }
        let ndblks = 1u64 << (s / 2);
        let nelmts = (1u64 << s.div_ceil(2)) * dblk_min;
        let addrs: Vec<Option<u64>> = if s < iblock_nsblks {
            dblks.by_ref().take(ndblks as usize).collect()
        } else {
            match sblks.get((s - iblock_nsblks) as usize).copied().flatten() {
                Some(sb) => super_block(src, sb, ndblks, nelmts, &p)?,
                None => Vec::new(),
            }
        };
        for (d, dblk) in addrs.into_iter().enumerate() {
            let first = k + d as u64 * nelmts;
            if let Some(dblk) = dblk.filter(|_| first < max_index) {
                data_block(src, dblk, first, nelmts, &p, &mut emit)?;
            }
        }
        k = k.saturating_add(ndblks.saturating_mul(nelmts));
    }
    Ok(())
}

/// The data block addresses of a super block.
fn super_block(
    src: &Src,
    addr: u64,
    ndblks: u64,
    nelmts: u64,
    p: &Params,
) -> Result<Vec<Option<u64>>, FormatError> {
    let o = u64::from(src.offset_size);
    let bitmaps = if nelmts > p.page_elmts {
        ndblks * (nelmts / p.page_elmts).div_ceil(8)
    } else {
        0
    };
    let mut c = src.cursor(addr, 6 + o + p.arr_off + bitmaps + ndblks * o)?;
    c.signature(b"EASB")?;
    c.skip((2 + o + p.arr_off + bitmaps) as usize)?;
    (0..ndblks).map(|_| c.addr()).collect()
}

/// Emits the elements of one data block, whose first element is element `first`.
fn data_block(
    src: &Src,
    addr: u64,
    first: u64,
    nelmts: u64,
    p: &Params,
    emit: &mut dyn FnMut(u64, &mut Cursor) -> Result<(), FormatError>,
) -> Result<(), FormatError> {
    let o = u64::from(src.offset_size);
    let mut head = src.cursor(addr, 6 + o)?;
    head.signature(b"EADB")?;
    let prefix = 6 + o + p.arr_off;
    let n = nelmts.min(p.max_index - first);
    // Paged blocks hold their elements in pages, each followed by a checksum.
    let (start, page) = if nelmts > p.page_elmts {
        (prefix + 4, p.page_elmts)
    } else {
        (prefix, nelmts)
    };
    let mut k = 0;
    while k < n {
        let pg = k / page;
        let count = page.min(n - k);
        let at = addr.saturating_add(start + pg * (page * p.esize + 4));
        let mut c = src.cursor(at, count * p.esize)?;
        for j in 0..count {
            let mut e = c.sub(p.esize as usize)?;
            emit(first + k + j, &mut e)?;
        }
        k += count;
    }
    Ok(())
}

/// Maps an element number to a chunk grid index: row-major over the maximum chunk grid with
/// the unlimited dimension first (HDF5 "swizzles" it there).
struct Order {
    unlimited: usize,
    /// Per swizzled dimension: the product of the grid sizes after it.
    down: Vec<u64>,
    sizes: Vec<u64>,
}

impl Order {
    fn new(g: &Geometry) -> Self {
        let grid: Vec<u64> = g
            .max
            .iter()
            .zip(g.shape)
            .zip(g.chunk)
            .map(|((&m, &s), &c)| {
                if m == u64::MAX {
                    s.div_ceil(c)
                } else {
                    m.div_ceil(c)
                }
            })
            .collect();
        let unlimited = g.max.iter().position(|&m| m == u64::MAX).unwrap_or(0);
        let mut sizes = grid.clone();
        if unlimited < sizes.len() {
            let u = sizes.remove(unlimited);
            sizes.insert(0, u);
        }
        let mut down = vec![1u64; sizes.len()];
        for i in (0..sizes.len().saturating_sub(1)).rev() {
            down[i] = down[i + 1].saturating_mul(sizes[i + 1]);
        }
        Order {
            unlimited,
            down,
            sizes,
        }
    }

    fn index(&self, k: u64) -> Vec<u64> {
        let mut idx: Vec<u64> = self
            .down
            .iter()
            .zip(&self.sizes)
            .enumerate()
            .map(|(i, (&d, &s))| {
                let q = k / d.max(1);
                if i == 0 { q } else { q % s.max(1) }
            })
            .collect();
        if self.unlimited < idx.len() {
            let u = idx.remove(0);
            idx.insert(self.unlimited, u);
        }
        idx
    }
}
