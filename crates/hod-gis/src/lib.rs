//! Hydrological GIS computation on grids and geometries: watershed delineation from a DEM,
//! exact basin averages, Thiessen polygons and kriging.
//!
//! Algorithms work on in-memory [`Raster`]s and never touch files or the network; the readers
//! and writers here turn bytes or text into rasters and back, so every step is testable alone.
//!
//! ```
//! use hod_gis::ascii;
//! let text = "ncols 2\nnrows 1\nxllcorner 0\nyllcorner 0\ncellsize 1\nNODATA_value -9999\n1 -9999\n";
//! let grid = ascii::parse(text)?;
//! assert_eq!(grid.geom.cell_center(0, 1), (1.5, 0.5));
//! assert!(grid.value(0, 1).is_nan());
//! # Ok::<(), hod_gis::GisError>(())
//! ```

pub mod ascii;
pub mod dem;
mod error;
pub mod geotiff;
pub mod kriging;
mod raster;
pub mod thiessen;
pub mod vector;
pub mod zonal;

pub use error::GisError;
pub use raster::{GridGeometry, Raster};
