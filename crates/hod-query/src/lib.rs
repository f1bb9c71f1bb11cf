//! Read any part of a dataset: variables × time range × bbox, reading only the chunks the
//! selection touches, decoded as CF says (each source file's own packing, fills → NaN).
//!
//! Selection semantics (`select` module) follow xarray's `.sel` with slices: inclusive ends,
//! latitude in either direction, longitudes wrapped onto the dataset's convention (0..360 or
//! -180..180) and split where a bbox crosses the seam.
//!
//! Execution (`plan`, `fetch`): plan the chunks, fetch each source object's byte ranges in few
//! coalesced requests, decode on blocking threads, assemble block by block along the first
//! dimension within a memory budget, into a [`sink::Sink`] ([`read_to`]) or in memory ([`read`]).

pub mod basin_mean;
pub mod deaccumulate;
mod error;
mod fetch;
pub mod netcdf;
mod plan;
pub mod polygon;
mod read;
pub mod select;
pub mod sink;
pub mod text;
pub mod weights_cache;
pub mod zarr;

pub use error::QueryError;
pub use read::{DataCube, Request, Stats, read, read_to};
pub use select::{Bbox, parse_time};
