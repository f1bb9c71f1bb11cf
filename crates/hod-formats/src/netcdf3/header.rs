//! Parsing of the netCDF classic header (CDF-1, CDF-2 and CDF-5), following the "NetCDF
//! Classic and 64-bit Offset Format" grammar of the netCDF users' guide.

use crate::FormatError;
use hod_core::{DType, Format, float_attr};

const NC_DIMENSION: u64 = 0x0A;
const NC_VARIABLE: u64 = 0x0B;
const NC_ATTRIBUTE: u64 = 0x0C;

/// External data type of a variable or attribute (`nc_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum NcType {
    Byte,
    Char,
    Short,
    Int,
    Float,
    Double,
    UByte,
    UShort,
    UInt,
    Int64,
    UInt64,
}

impl NcType {
    /// The type for a code; the unsigned and 64-bit types exist only in CDF-5.
    fn from_code(code: u64, cdf5: bool) -> Option<Self> {
        Some(match (code, cdf5) {
            (1, _) => NcType::Byte,
            (2, _) => NcType::Char,
            (3, _) => NcType::Short,
            (4, _) => NcType::Int,
            (5, _) => NcType::Float,
            (6, _) => NcType::Double,
            (7, true) => NcType::UByte,
            (8, true) => NcType::UShort,
            (9, true) => NcType::UInt,
            (10, true) => NcType::Int64,
            (11, true) => NcType::UInt64,
            _ => return None,
        })
    }

    /// Element type of the stored values; `NC_CHAR` arrays become raw bytes (`uint8`).
    pub(super) fn dtype(self) -> DType {
        match self {
            NcType::Byte => DType::I8,
            NcType::Char | NcType::UByte => DType::U8,
            NcType::Short => DType::I16,
            NcType::UShort => DType::U16,
            NcType::Int => DType::I32,
            NcType::UInt => DType::U32,
            NcType::Float => DType::F32,
            NcType::Double => DType::F64,
            NcType::Int64 => DType::I64,
            NcType::UInt64 => DType::U64,
        }
    }

    pub(super) fn size(self) -> u64 {
        self.dtype().size() as u64
    }
}

/// A dimension; `len` 0 marks the record (UNLIMITED) dimension.
#[derive(Debug)]
pub(super) struct Dim {
    pub name: String,
    pub len: u64,
}

/// An attribute with its values as stored (big-endian, without padding).
#[derive(Debug)]
pub(super) struct Attr {
    pub name: String,
    pub ty: NcType,
    pub raw: Vec<u8>,
}

/// A variable's header entry.
#[derive(Debug)]
pub(super) struct Var {
    /// Offset of the variable's header entry.
    pub at: u64,
    pub name: String,
    pub dimids: Vec<usize>,
    pub attrs: Vec<Attr>,
    pub ty: NcType,
    pub begin: u64,
}

/// The parsed header.
#[derive(Debug)]
pub(super) struct Header {
    /// Number of records; `None` when STREAMING (to be derived from the file size).
    pub numrecs: Option<u64>,
    pub dims: Vec<Dim>,
    pub attrs: Vec<Attr>,
    pub vars: Vec<Var>,
    /// Byte length of the header.
    pub len: u64,
}

impl Header {
    /// Index of the record dimension, if any.
    pub(super) fn record_dim(&self) -> Option<usize> {
        self.dims.iter().position(|d| d.len == 0)
    }
}

/// Why a parse stopped.
#[derive(Debug)]
pub(super) enum ParseError {
    /// The buffer (a prefix of the file) ends before byte `needed`: read more and retry.
    Short { needed: u64 },
    /// The header is invalid.
    Bad(FormatError),
}

impl From<FormatError> for ParseError {
    fn from(e: FormatError) -> Self {
        ParseError::Bad(e)
    }
}

fn corrupt(offset: u64, what: impl Into<String>) -> ParseError {
    ParseError::Bad(FormatError::Corrupt {
        format: Format::Netcdf3,
        offset,
        what: what.into(),
    })
}

/// Parses the header from `buf`, the first bytes of a file of `file_size` bytes.
pub(super) fn parse(buf: &[u8], file_size: u64) -> Result<Header, ParseError> {
    let mut c = Cursor {
        buf,
        pos: 0,
        file_size,
        wide: false,
    };
    let magic = c.take(4)?;
    let version = match magic {
        [b'C', b'D', b'F', v @ (1 | 2 | 5)] => *v,
        _ => return Err(corrupt(0, format!("bad netCDF3 magic {magic:02x?}"))),
    };
    // CDF-5 widens every count, length and dimension id to 64 bits; CDF-2 only `begin`.
    c.wide = version == 5;
    let numrecs = c.count()?;
    let streaming = if c.wide {
        numrecs == u64::MAX
    } else {
        numrecs == u64::from(u32::MAX)
    };

    let dims = c.list(NC_DIMENSION, "NC_DIMENSION", 8, |c| {
        let name = c.name()?;
        let len = c.count()?;
        Ok(Dim { name, len })
    })?;
    if dims.iter().filter(|d| d.len == 0).count() > 1 {
        return Err(corrupt(8, "more than one UNLIMITED dimension"));
    }
    let attrs = c.attrs()?;
    let vars = c.list(NC_VARIABLE, "NC_VARIABLE", 28, |c| c.var(&dims, version))?;
    Ok(Header {
        numrecs: (!streaming).then_some(numrecs),
        dims,
        attrs,
        vars,
        len: c.pos as u64,
    })
}

/// Reads big-endian fields from a prefix of the file.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    file_size: u64,
    wide: bool,
}

impl<'a> Cursor<'a> {
    /// The next `n` bytes.
    fn take(&mut self, n: u64) -> Result<&'a [u8], ParseError> {
        let end = (self.pos as u64).saturating_add(n);
        if end > self.file_size {
            return Err(ParseError::Bad(FormatError::Truncated {
                format: Format::Netcdf3,
                needed: end,
                size: self.file_size,
            }));
        }
        match self.buf.get(self.pos..end as usize) {
            Some(b) => {
                self.pos = end as usize;
                Ok(b)
            }
            None => Err(ParseError::Short { needed: end }),
        }
    }

    fn uint(&mut self, n: u64) -> Result<u64, ParseError> {
        Ok(self.take(n)?.iter().fold(0, |acc, &b| acc << 8 | u64::from(b)))
    }

    /// A tag, which is always four bytes.
    fn tag(&mut self) -> Result<u64, ParseError> {
        self.uint(4)
    }

    /// A NON_NEG count or length: four bytes, eight in CDF-5.
    fn count(&mut self) -> Result<u64, ParseError> {
        self.uint(if self.wide { 8 } else { 4 })
    }

    /// Skips the padding to the next four-byte boundary.
    fn pad(&mut self) -> Result<(), ParseError> {
        self.take((4 - self.pos as u64 % 4) % 4).map(drop)
    }

    fn name(&mut self) -> Result<String, ParseError> {
        let at = self.pos as u64;
        let n = self.count()?;
        let bytes = self.take(n)?;
        self.pad()?;
        String::from_utf8(bytes.to_vec()).map_err(|_| corrupt(at, "name is not UTF-8"))
    }

    /// A `tag nelems [item ...]` list or ABSENT (two zeros). `min_item` is the fewest bytes
    /// one item takes, to reject absurd counts before parsing them.
    fn list<T>(
        &mut self,
        tag: u64,
        what: &str,
        min_item: u64,
        mut item: impl FnMut(&mut Self) -> Result<T, ParseError>,
    ) -> Result<Vec<T>, ParseError> {
        let at = self.pos as u64;
        let found = self.tag()?;
        let n = self.count()?;
        if found == 0 && n == 0 {
            return Ok(Vec::new());
        }
        if found != tag {
            return Err(corrupt(
                at,
                format!("expected {what} tag or ABSENT, found {found:#x}"),
            ));
        }
        self.check_room(n, min_item)?;
        (0..n).map(|_| item(self)).collect()
    }

    /// Fails early when `n` items of at least `min_item` bytes cannot fit in the file.
    fn check_room(&self, n: u64, min_item: u64) -> Result<(), ParseError> {
        let needed = n.saturating_mul(min_item).saturating_add(self.pos as u64);
        if needed > self.file_size {
            return Err(ParseError::Bad(FormatError::Truncated {
                format: Format::Netcdf3,
                needed,
                size: self.file_size,
            }));
        }
        Ok(())
    }

    fn attrs(&mut self) -> Result<Vec<Attr>, ParseError> {
        self.list(NC_ATTRIBUTE, "NC_ATTRIBUTE", 12, |c| {
            let name = c.name()?;
            let at = c.pos as u64;
            let ty = c.ty(at)?;
            let n = c.count()?;
            let raw = c.take(n.saturating_mul(ty.size()))?.to_vec();
            c.pad()?;
            Ok(Attr { name, ty, raw })
        })
    }

    fn ty(&mut self, at: u64) -> Result<NcType, ParseError> {
        let code = self.tag()?;
        NcType::from_code(code, self.wide).ok_or_else(|| corrupt(at, format!("unknown nc_type {code}")))
    }

    fn var(&mut self, dims: &[Dim], version: u8) -> Result<Var, ParseError> {
        let var_at = self.pos as u64;
        let name = self.name()?;
        let rank = self.count()?;
        self.check_room(rank, 4)?;
        let dimids = (0..rank)
            .map(|_| {
                let at = self.pos as u64;
                let id = self.count()?;
                usize::try_from(id)
                    .ok()
                    .filter(|&i| i < dims.len())
                    .ok_or_else(|| corrupt(at, format!("variable {name}: no dimension with id {id}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let attrs = self.attrs()?;
        let at = self.pos as u64;
        let ty = self.ty(at)?;
        // vsize is redundant (and saturates for big variables): sizes are computed from shapes.
        self.count()?;
        let begin = self.uint(if version == 1 { 4 } else { 8 })?;
        Ok(Var {
            at: var_at,
            name,
            dimids,
            attrs,
            ty,
            begin,
        })
    }
}

/// An attribute's values as JSON: text as a string (trailing NULs dropped), one number as a
/// scalar, several as an array.
pub(super) fn attr_json(a: &Attr) -> serde_json::Value {
    if a.ty == NcType::Char {
        let text = String::from_utf8_lossy(&a.raw);
        return text.trim_end_matches('\0').into();
    }
    let mut values = numbers(a);
    if values.len() == 1 {
        values.swap_remove(0)
    } else {
        values.into()
    }
}

/// The first value of an attribute as stored, as a float (for `_FillValue`).
pub(super) fn attr_first_f64(a: &Attr) -> Option<f64> {
    if a.ty == NcType::Char {
        return a.raw.first().map(|&b| f64::from(b));
    }
    numbers(a).first().and_then(hod_core::attr_f64)
}

fn numbers(a: &Attr) -> Vec<serde_json::Value> {
    use serde_json::Value;
    let raw = a.raw.as_slice();
    match a.ty {
        NcType::Byte => raw.iter().map(|&b| Value::from(b as i8)).collect(),
        NcType::Char | NcType::UByte => raw.iter().map(|&b| Value::from(b)).collect(),
        NcType::Short => be(raw, |b: [u8; 2]| i16::from_be_bytes(b).into()),
        NcType::UShort => be(raw, |b: [u8; 2]| u16::from_be_bytes(b).into()),
        NcType::Int => be(raw, |b: [u8; 4]| i32::from_be_bytes(b).into()),
        NcType::UInt => be(raw, |b: [u8; 4]| u32::from_be_bytes(b).into()),
        NcType::Int64 => be(raw, |b: [u8; 8]| i64::from_be_bytes(b).into()),
        NcType::UInt64 => be(raw, |b: [u8; 8]| u64::from_be_bytes(b).into()),
        NcType::Float => be(raw, |b: [u8; 4]| float_attr(f32::from_be_bytes(b).into())),
        NcType::Double => be(raw, |b: [u8; 8]| float_attr(f64::from_be_bytes(b))),
    }
}

fn be<const N: usize>(raw: &[u8], f: impl Fn([u8; N]) -> serde_json::Value) -> Vec<serde_json::Value> {
    raw.as_chunks::<N>().0.iter().map(|&b| f(b)).collect()
}
