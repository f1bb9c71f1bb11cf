//! Format scanners and chunk decoders.
//!
//! A scanner reads only a file's headers and indexes (never the data payload) through
//! [`ReadAt`] and yields a [`ScannedFile`]: variables with their metadata and a reference for
//! every stored chunk. [`decode_chunk`] turns one chunk's stored bytes back into elements.
//!
//! ```no_run
//! use hod_formats::{scan, FileSource, ScanOptions};
//! let src = FileSource::open("era5_t2m_20190301.nc")?;
//! let file = scan(&src, &ScanOptions::default())?;
//! for v in &file.variables {
//!     println!("{} {:?} {:?}", v.name, v.meta.dims, v.meta.shape);
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod blosc;
mod codecs;
mod encode;
mod error;
pub mod geotiff;
pub mod grib;
pub mod hdf5;
pub mod netcdf3;
mod source;

pub use codecs::{decode_chunk, decode_chunk_cow};
pub use encode::encode_chunk;
pub use error::FormatError;
pub use hod_core::{Format, ReadAt, ScannedFile};
pub use source::{FileSource, SliceSource};

/// Options for [`scan`].
#[derive(Debug, Clone, Default)]
pub struct ScanOptions {
    /// Text of a wgrib2 `.idx` inventory for a GRIB2 file; message offsets then come from it
    /// instead of walking the file.
    pub grib_idx: Option<String>,
}

/// Recognises a format from the first bytes of a file.
pub fn sniff(head: &[u8]) -> Option<Format> {
    match head {
        [b'C', b'D', b'F', 1 | 2 | 5, ..] => Some(Format::Netcdf3),
        [0x89, b'H', b'D', b'F', b'\r', b'\n', 0x1a, b'\n', ..] => Some(Format::Hdf5),
        [b'G', b'R', b'I', b'B', _, _, _, 1, ..] => Some(Format::Grib1),
        [b'G', b'R', b'I', b'B', _, _, _, 2, ..] => Some(Format::Grib2),
        [b'I', b'I', 42, 0, ..]
        | [b'M', b'M', 0, 42, ..]
        | [b'I', b'I', 43, 0, ..]
        | [b'M', b'M', 0, 43, ..] => Some(Format::Geotiff),
        _ => None,
    }
}

/// Scans one file: sniffs its format from the first bytes and runs that format's scanner.
///
/// # Errors
/// [`FormatError::Unrecognised`] when the magic bytes match no format, or the scanner's error
/// naming what is wrong and where.
pub fn scan(src: &dyn ReadAt, opts: &ScanOptions) -> Result<ScannedFile, FormatError> {
    let head = read(src, 0, src.size().min(16))?;
    match sniff(&head) {
        Some(Format::Netcdf3) => netcdf3::scan(src),
        Some(Format::Hdf5) => hdf5::scan(src),
        Some(Format::Grib1 | Format::Grib2) => grib::scan(src, opts.grib_idx.as_deref()),
        Some(Format::Geotiff) => geotiff::scan(src),
        _ => Err(FormatError::Unrecognised {
            head: head.iter().take(8).copied().collect(),
        }),
    }
}

/// Reads through `src`, turning an I/O failure into [`FormatError::Read`] with its byte range.
pub(crate) fn read(src: &dyn ReadAt, offset: u64, len: u64) -> Result<Vec<u8>, FormatError> {
    src.read_at(offset, len)
        .map_err(|source| FormatError::Read { offset, len, source })
}
