//! Read any part of a dataset: variables × time range × bbox, reading only the chunks the
//! selection touches, decoded as CF says (each source file's own packing, fills → NaN).
//!
//! Selection semantics (`select` module) follow xarray's `.sel` with slices: inclusive ends,
//! latitude in either direction, longitudes wrapped onto the dataset's convention (0..360 or
//! -180..180) and split where a bbox crosses the seam.

pub mod basin_mean;
mod error;
pub mod netcdf;
pub mod polygon;
mod read;
pub mod select;
pub mod text;
pub mod zarr;

pub use error::QueryError;
pub use read::{DataCube, Request, Stats, read};
pub use select::{Bbox, parse_time};
