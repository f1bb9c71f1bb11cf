use hod_core::Format;

/// A file could not be scanned or a chunk could not be decoded.
///
/// Messages say what is wrong and where (byte offset, variable); the caller adds the file name.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// Reading bytes from the source failed.
    #[error("cannot read {len} bytes at offset {offset}: {source}")]
    Read {
        /// Offset of the read.
        offset: u64,
        /// Length of the read.
        len: u64,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file ends before a structure it declares.
    #[error("{format} file is truncated: needs bytes up to {needed} but has {size}")]
    Truncated {
        /// Format being read.
        format: Format,
        /// Offset that was needed.
        needed: u64,
        /// Actual size.
        size: u64,
    },
    /// A structure is malformed.
    #[error("corrupt {format} at byte {offset}: {what}")]
    Corrupt {
        /// Format being read.
        format: Format,
        /// Byte offset of the bad structure.
        offset: u64,
        /// What is wrong.
        what: String,
    },
    /// A valid feature this implementation does not handle.
    #[error("unsupported {format} feature: {what}")]
    Unsupported {
        /// Format being read.
        format: Format,
        /// The feature.
        what: String,
    },
    /// The first bytes match no known format.
    #[error("not a netCDF, HDF5, GRIB or TIFF file (starts with {head:02x?})")]
    Unrecognised {
        /// The first bytes.
        head: Vec<u8>,
    },
    /// A chunk failed to decode.
    #[error("cannot decode chunk: {0}")]
    Decode(String),
}
