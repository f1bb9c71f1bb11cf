//! The group hierarchy: finds every dataset (path and object header) and reads attributes.

use super::btree;
use super::heap::{self, FractalHeap};
use super::io::{Src, corrupt};
use super::messages::{self, Attribute};
use super::object::{self, Message, kind};
use crate::FormatError;
use std::collections::HashSet;

/// A dataset found in the hierarchy.
pub(super) struct Object {
    /// Path without the leading slash.
    pub path: String,
    /// Object header address.
    pub addr: u64,
    pub msgs: Vec<Message>,
}

/// Every dataset below the root group (whose messages are `root`), depth first. Objects
/// reachable by several links are listed once.
pub(super) fn datasets(src: &Src, root_addr: u64, root: &[Message]) -> Result<Vec<Object>, FormatError> {
    let mut seen = HashSet::from([root_addr]);
    let mut out = Vec::new();
    let mut stack = vec![(String::new(), members(src, root)?)];
    while let Some((prefix, links)) = stack.pop() {
        for (name, addr) in links {
            if !seen.insert(addr) {
                continue;
            }
            let path = format!("{prefix}{name}");
            let msgs = object::read(src, addr)?;
            if object::find(&msgs, kind::LAYOUT).is_some() {
                out.push(Object { path, addr, msgs });
            } else if is_group(&msgs) {
                stack.push((format!("{path}/"), members(src, &msgs)?));
            }
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

fn is_group(msgs: &[Message]) -> bool {
    msgs.iter()
        .any(|m| matches!(m.kind, kind::SYMBOL_TABLE | kind::LINK_INFO | kind::LINK))
}

/// The hard links of a group: (name, object header address).
fn members(src: &Src, msgs: &[Message]) -> Result<Vec<(String, u64)>, FormatError> {
    let mut out = Vec::new();
    for m in msgs {
        match m.kind {
            kind::LINK => {
                if let (name, Some(addr)) = messages::link(&mut m.body.clone())? {
                    out.push((name, addr));
                }
            }
            kind::LINK_INFO => {
                if let Some((heap_addr, tree)) = messages::dense_info(&mut m.body.clone(), false)? {
                    let fh = FractalHeap::open(src, heap_addr)?;
                    btree::v2(src, tree, &mut |r| {
                        r.skip(4)?; // name hash
                        let id = r.rest().to_vec();
                        let bytes = fh.object(src, &id)?;
                        let mut c = super::io::Cursor::new(bytes, r.here(), src.offset_size, src.length_size);
                        if let (name, Some(addr)) = messages::link(&mut c)? {
                            out.push((name, addr));
                        }
                        Ok(())
                    })?;
                }
            }
            kind::SYMBOL_TABLE => symbol_table(src, &mut m.body.clone(), &mut out)?,
            _ => {}
        }
    }
    Ok(out)
}

/// An old-style group: a v1 B-tree of symbol table nodes, names in a local heap.
fn symbol_table(
    src: &Src,
    c: &mut super::io::Cursor,
    out: &mut Vec<(String, u64)>,
) -> Result<(), FormatError> {
    let tree = c.req_addr("group B-tree")?;
    let names = heap::local_heap(src, c.req_addr("group local heap")?)?;
    let o = u64::from(src.offset_size);
    btree::v1(src, tree, 0, usize::from(src.length_size), &mut |_, snod| {
        let mut h = src.cursor(snod, 8)?;
        h.signature(b"SNOD")?;
        h.skip(2)?;
        let n = u64::from(h.u16()?);
        let mut e = src.cursor(snod.saturating_add(8), n * (2 * o + 24))?;
        for _ in 0..n {
            let at = e.here();
            let name = e.heap_offset()?;
            let addr = e.req_addr("symbol table entry")?;
            e.skip(24)?;
            out.push((heap::heap_string(&names, name, at)?, addr));
        }
        Ok(())
    })
}

/// All attributes of an object: compact ones in the header and dense ones in a fractal heap.
pub(super) fn attributes(src: &Src, msgs: &[Message]) -> Result<Vec<Attribute>, FormatError> {
    let mut out = Vec::new();
    for m in msgs {
        match m.kind {
            kind::ATTRIBUTE => out.extend(messages::attribute(&mut m.body.clone())?),
            kind::ATTRIBUTE_INFO => {
                if let Some((heap_addr, tree)) = messages::dense_info(&mut m.body.clone(), true)? {
                    let fh = FractalHeap::open(src, heap_addr)?;
                    let t = btree::v2(src, tree, &mut |r| {
                        let id = r.bytes(8)?.to_vec();
                        let bytes = fh.object(src, &id)?;
                        let mut c = super::io::Cursor::new(bytes, r.here(), src.offset_size, src.length_size);
                        out.extend(messages::attribute(&mut c)?);
                        Ok(())
                    })?;
                    if t != 8 {
                        return Err(corrupt(
                            src.abs(tree)?,
                            format!("attribute name index has type {t}"),
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    Ok(out)
}
