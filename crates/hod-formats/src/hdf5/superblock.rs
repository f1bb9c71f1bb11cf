//! The superblock: address sizes, base address and the root group's object header.

use super::io::{Src, corrupt, unsupported};
use crate::FormatError;

const MAGIC: &[u8; 8] = b"\x89HDF\r\n\x1a\n";

/// Reads the superblock at `at` (0, or 512, 1024, … after a user block) and sets the address
/// sizes and base of `src`. Returns the root group's object header address.
pub(super) fn read(src: &mut Src, at: u64) -> Result<u64, FormatError> {
    let mut c = src.cursor_upto(at, 128)?;
    if c.bytes(8)? != MAGIC {
        return Err(corrupt(at, "no HDF5 signature"));
    }
    let version = c.u8()?;
    let (offset_size, length_size) = match version {
        0 | 1 => {
            c.skip(4)?; // free-space, root symbol table entry, reserved, shared header versions
            let o = c.u8()?;
            let l = c.u8()?;
            c.skip(1 + 4 + 4)?; // reserved, group K values, consistency flags
            if version == 1 {
                c.skip(4)?; // indexed storage K, reserved
            }
            (o, l)
        }
        2 | 3 => {
            let o = c.u8()?;
            let l = c.u8()?;
            c.skip(1)?; // consistency flags
            (o, l)
        }
        v => return Err(unsupported(format!("superblock version {v}"))),
    };
    for (what, n) in [("offsets", offset_size), ("lengths", length_size)] {
        if !matches!(n, 2 | 4 | 8) {
            return Err(corrupt(at + 13, format!("size of {what} is {n}")));
        }
    }
    let mut c = super::io::Cursor::new(c.rest().to_vec(), c.here(), offset_size, length_size);
    let base = c.addr()?.unwrap_or(0);
    src.offset_size = offset_size;
    src.length_size = length_size;
    // Addresses are relative to the base, which is where the superblock is unless it says otherwise.
    src.base = if base == 0 { at } else { base };
    match version {
        0 | 1 => {
            c.skip(3 * usize::from(offset_size))?; // free-space, end-of-file, driver info addresses
            c.skip(usize::from(offset_size))?; // root entry: link name offset
            c.req_addr("root group object header")
        }
        _ => {
            c.skip(2 * usize::from(offset_size))?; // superblock extension, end-of-file
            c.req_addr("root group object header")
        }
    }
}

/// Finds the superblock: at 0 or at a power of two from 512 on.
pub(super) fn locate(src: &Src) -> Result<u64, FormatError> {
    let mut at = 0u64;
    while at + 8 <= src.size() {
        if src.cursor(at, 8)?.bytes(8)? == MAGIC {
            return Ok(at);
        }
        at = if at == 0 { 512 } else { at * 2 };
    }
    Err(corrupt(0, "no HDF5 superblock signature found"))
}
