//! B-trees: version 1 (group and chunk indexes of older files) and version 2 (dense links and
//! attributes, chunk indexes of newer files). Only iteration over all records is needed.

use super::heap::limit_enc_size;
use super::io::{Cursor, Src, corrupt};
use crate::FormatError;

const MAX_DEPTH: u32 = 64;

/// How many nodes and records one walk may visit: a node or record takes at least 8 bytes, so a
/// valid tree never needs more; corrupt trees whose nodes share children would.
fn budget(src: &Src) -> usize {
    usize::try_from(src.size() / 8).unwrap_or(usize::MAX).max(1024)
}

fn spend(budget: &mut usize, at: u64) -> Result<(), FormatError> {
    *budget = budget
        .checked_sub(1)
        .ok_or_else(|| corrupt(at, "B-tree has more nodes and records than the file can hold"))?;
    Ok(())
}

/// Calls `leaf(key, child)` for every entry of the leaf nodes of the v1 B-tree at `addr`, whose
/// keys are `key_size` bytes. For group trees the children are symbol table nodes; for chunk
/// trees they are chunks and the key describes the chunk.
pub(super) fn v1(
    src: &Src,
    addr: u64,
    node_type: u8,
    key_size: usize,
    leaf: &mut dyn FnMut(&mut Cursor, u64) -> Result<(), FormatError>,
) -> Result<(), FormatError> {
    let mut budget = budget(src);
    v1_node(src, addr, node_type, key_size, None, &mut budget, leaf)
}

fn v1_node(
    src: &Src,
    addr: u64,
    node_type: u8,
    key_size: usize,
    want_level: Option<u8>,
    budget: &mut usize,
    leaf: &mut dyn FnMut(&mut Cursor, u64) -> Result<(), FormatError>,
) -> Result<(), FormatError> {
    spend(budget, addr)?;
    let o = usize::from(src.offset_size);
    let mut c = src.cursor(addr, 8 + 2 * o as u64)?;
    c.signature(b"TREE")?;
    let t = c.u8()?;
    if t != node_type {
        return Err(c.corrupt(format!("B-tree node type {t}, expected {node_type}")));
    }
    let level = c.u8()?;
    // Levels must decrease by one on the way down, which also bounds recursion.
    if want_level.is_some_and(|w| w != level) || u32::from(level) > MAX_DEPTH {
        return Err(c.corrupt(format!("B-tree node level {level}")));
    }
    let entries = u64::from(c.u16()?);
    let body = entries * (key_size + o) as u64 + key_size as u64;
    let mut c = src.cursor(addr.saturating_add(8 + 2 * o as u64), body)?;
    for _ in 0..entries {
        let mut key = c.sub(key_size)?;
        let child = c.req_addr("B-tree child")?;
        if level == 0 {
            spend(budget, child)?;
            leaf(&mut key, child)?;
        } else {
            v1_node(src, child, node_type, key_size, Some(level - 1), budget, leaf)?;
        }
    }
    Ok(())
}

/// Calls `record` for every record of the v2 B-tree at `addr`; returns the tree's type.
pub(super) fn v2(
    src: &Src,
    addr: u64,
    record: &mut dyn FnMut(&mut Cursor) -> Result<(), FormatError>,
) -> Result<u8, FormatError> {
    let o = u64::from(src.offset_size);
    let mut c = src.cursor(addr, 4 + 2 + 4 + 2 + 2 + 2 + o + 2 + u64::from(src.length_size))?;
    c.signature(b"BTHD")?;
    c.skip(1)?; // version
    let tree_type = c.u8()?;
    let node_size = u64::from(c.u32()?);
    let rec_size = usize::from(c.u16()?);
    let depth = u32::from(c.u16()?);
    c.skip(2)?; // split and merge percentages
    let root = c.addr()?;
    let root_records = u64::from(c.u16()?);
    if depth > MAX_DEPTH || rec_size == 0 {
        return Err(c.corrupt(format!("v2 B-tree depth {depth}, record size {rec_size}")));
    }
    let Some(root) = root else { return Ok(tree_type) };
    let tree = V2 {
        node_size,
        rec_size,
        sizes: pointer_sizes(node_size, rec_size as u64, depth, o),
    };
    let mut budget = budget(src);
    tree.node(src, root, depth, root_records, &mut budget, record)?;
    Ok(tree_type)
}

struct V2 {
    node_size: u64,
    rec_size: usize,
    /// Per depth: (bytes of a child's record count, bytes of a child's total record count).
    sizes: Vec<(usize, usize)>,
}

/// The encoded sizes of child pointers' record counts at each depth (`H5B2__hdr_init`).
fn pointer_sizes(node_size: u64, rec_size: u64, depth: u32, o: u64) -> Vec<(usize, usize)> {
    let prefix = 10; // signature, version, type, checksum
    let leaf_max = node_size.saturating_sub(prefix) / rec_size.max(1);
    let nrec_size = limit_enc_size(leaf_max);
    let mut cum_max = leaf_max;
    let mut out = vec![(nrec_size, 0)];
    let mut cum_size_below = 0usize;
    for _ in 1..=depth {
        let ptr = o + nrec_size as u64 + cum_size_below as u64;
        let max = node_size.saturating_sub(prefix + ptr) / (rec_size + ptr);
        cum_max = max.saturating_add(1).saturating_mul(cum_max).saturating_add(max);
        out.push((nrec_size, cum_size_below));
        cum_size_below = limit_enc_size(cum_max);
    }
    out
}

impl V2 {
    fn node(
        &self,
        src: &Src,
        addr: u64,
        depth: u32,
        nrec: u64,
        budget: &mut usize,
        record: &mut dyn FnMut(&mut Cursor) -> Result<(), FormatError>,
    ) -> Result<(), FormatError> {
        spend(budget, addr)?;
        let mut c = src.cursor(addr, self.node_size)?;
        c.signature(if depth == 0 { b"BTLF" } else { b"BTIN" })?;
        c.skip(2)?; // version, type
        let recs = c.sub(
            usize::try_from(nrec)
                .unwrap_or(usize::MAX)
                .saturating_mul(self.rec_size),
        )?;
        if depth == 0 {
            return self.each(recs, budget, record);
        }
        let (nrec_size, total_size) = self.sizes.get(depth as usize).copied().unwrap_or((1, 0));
        let mut children = Vec::new();
        for _ in 0..=nrec {
            let child = c.req_addr("v2 B-tree child")?;
            let n = c.uint(nrec_size)?;
            c.skip(total_size)?;
            children.push((child, n));
        }
        for (child, n) in children {
            self.node(src, child, depth - 1, n, budget, record)?;
        }
        self.each(recs, budget, record)
    }

    fn each(
        &self,
        mut recs: Cursor,
        budget: &mut usize,
        record: &mut dyn FnMut(&mut Cursor) -> Result<(), FormatError>,
    ) -> Result<(), FormatError> {
        while recs.remaining() >= self.rec_size {
            spend(budget, recs.here())?;
            record(&mut recs.sub(self.rec_size)?)?;
        }
        Ok(())
    }
}
