//! Bounded reads from the file and a little-endian cursor over the bytes read.

use crate::{FormatError, ReadAt};
use hod_core::Format;

/// The file plus what the superblock says about its addresses.
pub(super) struct Src<'a> {
    src: &'a dyn ReadAt,
    size: u64,
    /// Byte offset that HDF5 addresses are relative to (the superblock's base address).
    pub base: u64,
    /// Size of an address in bytes.
    pub offset_size: u8,
    /// Size of a length in bytes.
    pub length_size: u8,
}

impl<'a> Src<'a> {
    pub(super) fn new(src: &'a dyn ReadAt) -> Self {
        Src {
            src,
            size: src.size(),
            base: 0,
            offset_size: 8,
            length_size: 8,
        }
    }

    pub(super) fn size(&self) -> u64 {
        self.size
    }

    /// The absolute file offset of an HDF5 address.
    pub(super) fn abs(&self, addr: u64) -> Result<u64, FormatError> {
        self.base
            .checked_add(addr)
            .ok_or_else(|| corrupt(addr, "address overflows"))
    }

    /// Exactly `len` bytes at HDF5 address `addr`, as a cursor; never allocates past the file end.
    pub(super) fn cursor(&self, addr: u64, len: u64) -> Result<Cursor, FormatError> {
        let start = self.abs(addr)?;
        let end = start
            .checked_add(len)
            .ok_or_else(|| corrupt(start, "length overflows"))?;
        if end > self.size {
            return Err(FormatError::Truncated {
                format: Format::Hdf5,
                needed: end,
                size: self.size,
            });
        }
        let buf = crate::read(self.src, start, len)?;
        if (buf.len() as u64) < len {
            return Err(FormatError::Truncated {
                format: Format::Hdf5,
                needed: end,
                size: start + buf.len() as u64,
            });
        }
        Ok(Cursor::new(buf, start, self.offset_size, self.length_size))
    }

    /// Up to `len` bytes at `addr` (fewer where the file ends): for structures whose size is only
    /// known after their first bytes.
    pub(super) fn cursor_upto(&self, addr: u64, len: u64) -> Result<Cursor, FormatError> {
        let start = self.abs(addr)?;
        self.cursor(addr, len.min(self.size.saturating_sub(start)))
    }
}

/// A "corrupt HDF5" error at an absolute byte offset.
pub(super) fn corrupt(offset: u64, what: impl Into<String>) -> FormatError {
    FormatError::Corrupt {
        format: Format::Hdf5,
        offset,
        what: what.into(),
    }
}

/// An "unsupported HDF5 feature" error.
pub(super) fn unsupported(what: impl Into<String>) -> FormatError {
    FormatError::Unsupported {
        format: Format::Hdf5,
        what: what.into(),
    }
}

/// Little-endian reads over bytes that came from absolute file offset `start`.
#[derive(Debug, Clone)]
pub(super) struct Cursor {
    buf: Vec<u8>,
    pos: usize,
    start: u64,
    offset_size: u8,
    length_size: u8,
}

impl Cursor {
    pub(super) fn new(buf: Vec<u8>, start: u64, offset_size: u8, length_size: u8) -> Self {
        Cursor {
            buf,
            pos: 0,
            start,
            offset_size,
            length_size,
        }
    }

    /// Absolute file offset of the current position.
    pub(super) fn here(&self) -> u64 {
        self.start + self.pos as u64
    }

    pub(super) fn pos(&self) -> usize {
        self.pos
    }

    pub(super) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// A "corrupt" error at the current position.
    pub(super) fn corrupt(&self, what: impl Into<String>) -> FormatError {
        corrupt(self.here(), what)
    }

    pub(super) fn bytes(&mut self, n: usize) -> Result<&[u8], FormatError> {
        if n > self.remaining() {
            return Err(self.corrupt(format!(
                "needs {n} bytes, structure has {} left",
                self.remaining()
            )));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    pub(super) fn skip(&mut self, n: usize) -> Result<(), FormatError> {
        self.bytes(n).map(|_| ())
    }

    /// A sub-cursor over the next `n` bytes.
    pub(super) fn sub(&mut self, n: usize) -> Result<Cursor, FormatError> {
        let start = self.here();
        let (o, l) = (self.offset_size, self.length_size);
        Ok(Cursor::new(self.bytes(n)?.to_vec(), start, o, l))
    }

    /// Everything from the current position on.
    pub(super) fn rest(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    /// An unsigned little-endian integer of `n` <= 8 bytes.
    pub(super) fn uint(&mut self, n: usize) -> Result<u64, FormatError> {
        if n > 8 {
            return Err(self.corrupt(format!("{n}-byte integer")));
        }
        Ok(self
            .bytes(n)?
            .iter()
            .rev()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }

    pub(super) fn u8(&mut self) -> Result<u8, FormatError> {
        Ok(self.bytes(1)?[0])
    }

    pub(super) fn u16(&mut self) -> Result<u16, FormatError> {
        Ok(self.uint(2)? as u16)
    }

    pub(super) fn u32(&mut self) -> Result<u32, FormatError> {
        Ok(self.uint(4)? as u32)
    }

    pub(super) fn u64(&mut self) -> Result<u64, FormatError> {
        self.uint(8)
    }

    /// A file address; `None` for the undefined address (all bits set).
    pub(super) fn addr(&mut self) -> Result<Option<u64>, FormatError> {
        let n = usize::from(self.offset_size);
        let v = self.uint(n)?;
        let undef = if n >= 8 { u64::MAX } else { (1u64 << (8 * n)) - 1 };
        Ok((v != undef).then_some(v))
    }

    /// A file address that must be defined.
    pub(super) fn req_addr(&mut self, what: &str) -> Result<u64, FormatError> {
        let at = self.here();
        self.addr()?
            .ok_or_else(|| corrupt(at, format!("undefined address for {what}")))
    }

    pub(super) fn length_size(&self) -> u8 {
        self.length_size
    }

    /// A length field.
    pub(super) fn length(&mut self) -> Result<u64, FormatError> {
        self.uint(usize::from(self.length_size))
    }

    /// Checks a 4-byte signature.
    pub(super) fn signature(&mut self, sig: &[u8; 4]) -> Result<(), FormatError> {
        let at = self.here();
        let got = self.bytes(4)?;
        if got != sig {
            return Err(corrupt(
                at,
                format!(
                    "expected signature {:?}, found {:?}",
                    String::from_utf8_lossy(sig),
                    String::from_utf8_lossy(got)
                ),
            ));
        }
        Ok(())
    }
}

impl Cursor {
    /// An offset into a local heap, stored with the size of an address.
    pub(super) fn heap_offset(&mut self) -> Result<u64, FormatError> {
        self.uint(usize::from(self.offset_size))
    }
}
