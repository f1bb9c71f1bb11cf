//! Bounds-checked big-endian field access within one GRIB message or section.

use crate::FormatError;
use hod_core::Format;

/// A byte slice that knows its offset in the file, so errors can say where they are.
#[derive(Clone, Copy)]
pub(super) struct Bytes<'a> {
    pub data: &'a [u8],
    /// File offset of `data[0]`.
    pub base: u64,
    pub format: Format,
}

impl<'a> Bytes<'a> {
    pub fn new(data: &'a [u8], base: u64, format: Format) -> Self {
        Bytes { data, base, format }
    }

    pub fn corrupt(&self, pos: usize, what: impl Into<String>) -> FormatError {
        FormatError::Corrupt {
            format: self.format,
            offset: self.base + pos as u64,
            what: what.into(),
        }
    }

    pub fn unsupported(&self, what: impl Into<String>) -> FormatError {
        FormatError::Unsupported {
            format: self.format,
            what: what.into(),
        }
    }

    pub fn slice(&self, pos: usize, len: usize) -> Result<&'a [u8], FormatError> {
        pos.checked_add(len)
            .and_then(|end| self.data.get(pos..end))
            .ok_or_else(|| self.corrupt(pos, format!("{len} bytes needed but the message ends first")))
    }

    /// The sub-slice `[pos, pos+len)` as its own `Bytes`.
    pub fn sub(&self, pos: usize, len: usize) -> Result<Bytes<'a>, FormatError> {
        Ok(Bytes::new(
            self.slice(pos, len)?,
            self.base + pos as u64,
            self.format,
        ))
    }

    /// Unsigned big-endian integer of `n` ≤ 8 bytes.
    pub fn uint(&self, pos: usize, n: usize) -> Result<u64, FormatError> {
        Ok(self
            .slice(pos, n)?
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }

    pub fn u8(&self, pos: usize) -> Result<u8, FormatError> {
        Ok(self.slice(pos, 1)?[0])
    }

    pub fn u16(&self, pos: usize) -> Result<u16, FormatError> {
        Ok(self.uint(pos, 2)? as u16)
    }

    pub fn u32(&self, pos: usize) -> Result<u32, FormatError> {
        Ok(self.uint(pos, 4)? as u32)
    }

    /// GRIB sign-and-magnitude integer of `n` bytes (top bit is the sign).
    pub fn signed(&self, pos: usize, n: usize) -> Result<i64, FormatError> {
        let v = self.uint(pos, n)?;
        let sign_bit = 1u64 << (8 * n - 1);
        let mag = (v & (sign_bit - 1)) as i64;
        Ok(if v & sign_bit != 0 { -mag } else { mag })
    }
}

/// Reads `nbits`-wide unsigned integers from a bit stream, most significant bit first.
pub(super) struct BitReader<'a> {
    data: &'a [u8],
    bit: usize,
}

impl<'a> BitReader<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        BitReader { data, bit: 0 }
    }

    /// The next `nbits` (≤ 32) bits, or `None` past the end.
    pub fn read(&mut self, nbits: usize) -> Option<u64> {
        if nbits == 0 {
            return Some(0);
        }
        let end = self.bit.checked_add(nbits)?;
        if nbits > 32 || end > self.data.len() * 8 {
            return None;
        }
        let mut v = 0u64;
        let mut left = nbits;
        while left > 0 {
            let byte = u64::from(self.data[self.bit / 8]);
            let avail = 8 - self.bit % 8;
            let take = avail.min(left);
            let bits = (byte >> (avail - take)) & ((1 << take) - 1);
            v = (v << take) | bits;
            self.bit += take;
            left -= take;
        }
        Some(v)
    }

    /// Skips to the next byte boundary.
    pub fn align(&mut self) {
        self.bit = self.bit.div_ceil(8) * 8;
    }
}

/// Big-endian IBM System/360 single-precision float (GRIB1 reference values), exact in f64.
pub(super) fn ibm_f32(b: [u8; 4]) -> f64 {
    let sign = if b[0] & 0x80 != 0 { -1.0 } else { 1.0 };
    let exp = i32::from(b[0] & 0x7f);
    let mant = (u32::from(b[1]) << 16) | (u32::from(b[2]) << 8) | u32::from(b[3]);
    sign * f64::from(mant) * 2f64.powi(4 * (exp - 64) - 24)
}

/// `base`^`exp` by repeated multiplication or division, as ecCodes' `codes_power` computes
/// scale factors (so that decoded values round the same way).
pub(super) fn codes_power(exp: i64, base: f64) -> f64 {
    let mut r = 1.0;
    if exp < 0 {
        for _ in 0..exp.unsigned_abs().min(400) {
            r /= base;
        }
    } else {
        for _ in 0..exp.min(400) {
            r *= base;
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ibm_floats() {
        // 0x42640000 = 100.0 in IBM hex float; 0xC2640000 = -100.0.
        assert_eq!(ibm_f32([0x42, 0x64, 0, 0]), 100.0);
        assert_eq!(ibm_f32([0xC2, 0x64, 0, 0]), -100.0);
        assert_eq!(ibm_f32([0, 0, 0, 0]), 0.0);
    }

    #[test]
    fn bits_cross_bytes() {
        let mut r = BitReader::new(&[0b1010_1100, 0b0101_0000]);
        assert_eq!(r.read(3), Some(0b101));
        assert_eq!(r.read(7), Some(0b0110001));
        r.align();
        assert_eq!(r.read(8), None);
    }
}
