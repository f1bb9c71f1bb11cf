//! Virtual datasets: many source files combined along a dimension into one dataset of chunk
//! references, published atomically into a store, and exported as kerchunk references.
//!
//! The manifest format is described in `docs/design/manifest.md`.

mod chunks;
mod combine;
mod dataset;
mod error;
pub mod kerchunk;
pub mod manifest;
pub use hod_core::values;
pub mod zarr;

pub use chunks::{ChunkRef, all_chunks};
pub use combine::{Builder, Part, SHARD_FILES, SourceScan, concat_dim};
pub use dataset::{
    IngestHooks, IngestOptions, IngestReport, Objects, Progress, Quiet, STORE_URL, decode_values, ingest,
    ingest_with, kerchunk_refs, list, packing_from_attrs, publish, read_chunks, read_meta, read_shards,
    read_variable, scan_file, unpack,
};
pub use error::IndexError;
pub use manifest::{DatasetMeta, Shard, VariableMeta};
pub use zarr::open;
