//! The vocabulary every hydro-opendata crate shares.
//!
//! A *scanned file* ([`ScannedFile`]) is what a format scanner yields from reading only a file's
//! headers and indexes: its variables, each with Zarr-style array metadata ([`ArrayMeta`]: dims,
//! shape, chunk shape, dtype, codec chain, fill value, attributes) and a reference for every
//! stored chunk ([`ChunkEntry`]: `(offset, length)` into the file, or a few inline bytes).
//! Virtual datasets are many scanned files combined along one dimension.
//!
//! ```
//! use hod_core::{ArrayMeta, DType, Endian};
//! let meta = ArrayMeta::new(vec!["time".into(), "latitude".into()], vec![24, 33], vec![1, 33], DType::I16, Endian::Big);
//! assert_eq!(meta.chunk_grid(), vec![24, 1]);
//! assert_eq!(meta.chunk_bytes(), 66);
//! ```

mod meta;
pub mod time;
pub mod values;

pub use meta::*;

/// Random-access reads from one object (a local file, an S3 object, a byte slice).
///
/// Scanners are synchronous; an object-store implementation blocks on its runtime from a
/// blocking thread and caches blocks, since scanners make many small reads.
pub trait ReadAt: Send + Sync {
    /// Size of the object in bytes.
    fn size(&self) -> u64;
    /// Reads `len` bytes at `offset`; fewer only when the object ends first.
    ///
    /// # Errors
    /// The underlying I/O error.
    fn read_at(&self, offset: u64, len: u64) -> std::io::Result<Vec<u8>>;
}
