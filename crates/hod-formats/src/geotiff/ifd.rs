//! TIFF structure: the header, the chain of IFDs and the values of their entries.

use crate::{FormatError, ReadAt, read};
use hod_core::{Endian, Format};

/// Most IFDs followed along the chain (a COG has the image, its overviews and masks).
const MAX_IFDS: usize = 1024;

/// Classic TIFF or BigTIFF, and the byte order of every number in the file.
#[derive(Debug, Clone, Copy)]
pub(super) struct Layout {
    pub big: bool,
    pub endian: Endian,
}

/// One IFD entry, its value not yet read.
#[derive(Debug, Clone)]
pub(super) struct Entry {
    pub tag: u16,
    typ: u16,
    count: u64,
    /// The value field as stored: the value itself when it fits, else its offset.
    field: [u8; 8],
    /// Where that field is in the file (for error messages).
    field_at: u64,
}

/// One image file directory: its entries, sorted as stored.
#[derive(Debug, Clone)]
pub(super) struct Ifd {
    pub offset: u64,
    pub entries: Vec<Entry>,
}

impl Ifd {
    pub fn get(&self, tag: u16) -> Option<&Entry> {
        self.entries.iter().find(|e| e.tag == tag)
    }
}

pub(super) fn corrupt(offset: u64, what: impl Into<String>) -> FormatError {
    FormatError::Corrupt {
        format: Format::Geotiff,
        offset,
        what: what.into(),
    }
}

/// Reads exactly `len` bytes at `offset`, or says the file is truncated.
pub(super) fn read_exact(src: &dyn ReadAt, offset: u64, len: u64) -> Result<Vec<u8>, FormatError> {
    let size = src.size();
    if offset.checked_add(len).is_none_or(|end| end > size) {
        return Err(FormatError::Truncated {
            format: Format::Geotiff,
            needed: offset.saturating_add(len),
            size,
        });
    }
    let bytes = read(src, offset, len)?;
    if (bytes.len() as u64) < len {
        return Err(FormatError::Truncated {
            format: Format::Geotiff,
            needed: offset + len,
            size: offset + bytes.len() as u64,
        });
    }
    Ok(bytes)
}

impl Layout {
    /// Reads the header: byte order, classic/BigTIFF, and the first IFD's offset.
    pub fn read_header(src: &dyn ReadAt) -> Result<(Layout, u64), FormatError> {
        let head = read_exact(src, 0, 8)?;
        let endian = match head.get(..2) {
            Some(b"II") => Endian::Little,
            Some(b"MM") => Endian::Big,
            _ => return Err(corrupt(0, "byte order mark is neither II nor MM")),
        };
        let mut layout = Layout { big: false, endian };
        match layout.uint(&head[2..4]) {
            42 => Ok((layout, layout.uint(&head[4..8]))),
            43 => {
                layout.big = true;
                let more = read_exact(src, 8, 8)?;
                if layout.uint(&head[4..6]) != 8 || layout.uint(&head[6..8]) != 0 {
                    return Err(corrupt(4, "BigTIFF offset size is not 8"));
                }
                Ok((layout, layout.uint(&more)))
            }
            v => Err(corrupt(2, format!("TIFF magic is {v}, not 42 or 43"))),
        }
    }

    /// An unsigned integer of 1 to 8 bytes in the file's byte order.
    pub fn uint(self, b: &[u8]) -> u64 {
        let fold = |v: u64, &x: &u8| (v << 8) | u64::from(x);
        match self.endian {
            Endian::Big => b.iter().fold(0, fold),
            Endian::Little => b.iter().rev().fold(0, fold),
        }
    }

    /// Every IFD of the chain, first one first.
    pub fn ifd_chain(self, src: &dyn ReadAt, first: u64) -> Result<Vec<Ifd>, FormatError> {
        let mut ifds: Vec<Ifd> = Vec::new();
        let mut next = first;
        while next != 0 {
            if ifds.iter().any(|i| i.offset == next) || ifds.len() >= MAX_IFDS {
                return Err(corrupt(next, "IFD chain loops or is too long"));
            }
            let (ifd, after) = self.read_ifd(src, next)?;
            ifds.push(ifd);
            next = after;
        }
        if ifds.is_empty() {
            return Err(corrupt(if self.big { 8 } else { 4 }, "file has no IFD"));
        }
        Ok(ifds)
    }

    /// Reads one IFD; returns it and the offset of the next one (0 at the end).
    fn read_ifd(self, src: &dyn ReadAt, offset: u64) -> Result<(Ifd, u64), FormatError> {
        let (count_len, entry_len, field_len) = if self.big { (8, 20, 8) } else { (2, 12, 4) };
        let count = self.uint(&read_exact(src, offset, count_len)?);
        // Each entry takes `entry_len` bytes, so `read_exact` bounds this by the file size.
        let table_len = count
            .checked_mul(entry_len)
            .and_then(|n| n.checked_add(field_len))
            .ok_or_else(|| corrupt(offset, format!("IFD declares {count} entries")))?;
        let table = read_exact(src, offset + count_len, table_len)?;
        let mut entries = Vec::new();
        for (k, e) in table.chunks_exact(entry_len as usize).enumerate() {
            let (head, value) = e.split_at(entry_len as usize - field_len as usize);
            let mut field = [0; 8];
            field[..value.len()].copy_from_slice(value);
            entries.push(Entry {
                tag: self.uint(&head[..2]) as u16,
                typ: self.uint(&head[2..4]) as u16,
                count: self.uint(&head[4..]),
                field,
                field_at: offset + count_len + k as u64 * entry_len + (entry_len - field_len),
            });
        }
        let next = self.uint(table.get(table.len() - field_len as usize..).unwrap_or_default());
        Ok((Ifd { offset, entries }, next))
    }

    /// The raw bytes of an entry's values, with the element size of its type.
    fn raw(self, src: &dyn ReadAt, e: &Entry) -> Result<(Vec<u8>, usize), FormatError> {
        let size: u64 = match e.typ {
            1 | 2 | 6 | 7 => 1,
            3 | 8 => 2,
            4 | 9 | 11 | 13 => 4,
            5 | 10 | 12 | 16 | 17 | 18 => 8,
            t => return Err(corrupt(e.field_at, format!("tag {} has unknown type {t}", e.tag))),
        };
        let len = e
            .count
            .checked_mul(size)
            .ok_or_else(|| corrupt(e.field_at, format!("tag {} count {} overflows", e.tag, e.count)))?;
        let inline = if self.big { 8 } else { 4 };
        let bytes = if len <= inline {
            e.field[..len as usize].to_vec()
        } else {
            read_exact(src, self.uint(&e.field[..inline as usize]), len)?
        };
        Ok((bytes, size as usize))
    }

    /// An entry's values as unsigned integers (BYTE, SHORT, LONG, LONG8, IFD types).
    pub fn uints(self, src: &dyn ReadAt, e: &Entry) -> Result<Vec<u64>, FormatError> {
        if !matches!(e.typ, 1 | 3 | 4 | 7 | 13 | 16 | 18) {
            return Err(corrupt(
                e.field_at,
                format!("tag {} has type {}, not an unsigned integer", e.tag, e.typ),
            ));
        }
        let (bytes, size) = self.raw(src, e)?;
        Ok(bytes.chunks_exact(size).map(|b| self.uint(b)).collect())
    }

    /// An entry's single unsigned value.
    pub fn uint_value(self, src: &dyn ReadAt, e: &Entry) -> Result<u64, FormatError> {
        match self.uints(src, e)?.as_slice() {
            [v] => Ok(*v),
            v => Err(corrupt(
                e.field_at,
                format!("tag {} has {} values, not 1", e.tag, v.len()),
            )),
        }
    }

    /// An entry's values as floats (DOUBLE or FLOAT).
    pub fn floats(self, src: &dyn ReadAt, e: &Entry) -> Result<Vec<f64>, FormatError> {
        let (bytes, size) = self.raw(src, e)?;
        match e.typ {
            12 => Ok(bytes
                .chunks_exact(size)
                .map(|b| f64::from_bits(self.uint(b)))
                .collect()),
            11 => Ok(bytes
                .chunks_exact(size)
                .map(|b| f64::from(f32::from_bits(self.uint(b) as u32)))
                .collect()),
            t => Err(corrupt(
                e.field_at,
                format!("tag {} has type {t}, not DOUBLE or FLOAT", e.tag),
            )),
        }
    }

    /// An entry's bytes, whatever its type (ASCII values keep their NUL).
    pub fn bytes(self, src: &dyn ReadAt, e: &Entry) -> Result<Vec<u8>, FormatError> {
        Ok(self.raw(src, e)?.0)
    }

    /// An entry's ASCII value, without its trailing NUL.
    pub fn ascii(self, src: &dyn ReadAt, e: &Entry) -> Result<String, FormatError> {
        let bytes = self.bytes(src, e)?;
        Ok(String::from_utf8_lossy(&bytes).trim_end_matches('\0').to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SliceSource;

    #[test]
    fn rejects_bad_magic_and_loops() {
        let bad = SliceSource(b"II\x2b\x00\x04\x00\x00\x00");
        assert!(Layout::read_header(&bad).is_err());
        // One IFD with no entries whose "next" points back at itself.
        let looped = [b'I', b'I', 42, 0, 8, 0, 0, 0, 0, 0, 8, 0, 0, 0];
        let src = SliceSource(&looped);
        let (layout, first) = Layout::read_header(&src).unwrap();
        let err = layout.ifd_chain(&src, first).unwrap_err();
        assert!(err.to_string().contains("loops"), "{err}");
    }
}
