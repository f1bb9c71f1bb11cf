//! Watershed delineation from a DEM: depression filling, flat resolution, D8 flow directions,
//! flow accumulation, stream cells, outlet relocation, catchments and basin polygons.
//!
//! The steps share one representation of flow: a [`FlowDir`] grid of `u8` codes 0..=7 for the
//! eight neighbours in the order N, NE, E, SE, S, SW, W, NW (pysheds's `dirmap` order),
//! [`OUTLET`] for a cell whose water leaves the grid (grid edge, next to nodata, or a pit) and
//! [`NO_DATA`]. [`flowdir::Encoding`] converts to and from the codes other tools use.
//!
//! Cells are addressed by a `u32` index internally wherever a buffer holds indices (priority
//! queues, stacks), so grids must have fewer than 2³² cells; docs/watershed.md states the bytes
//! per cell each step needs.

pub mod accumulation;
pub mod area;
pub mod catchment;
pub mod fill;
pub mod flats;
pub mod flowdir;
pub mod polygonize;
#[cfg(test)]
mod random_dirs;
pub mod snap;
pub mod streams;

use crate::{GisError, GridGeometry, Raster};

/// Flow-direction code of a cell that drains out of the grid (edge, nodata neighbour, pit).
pub const OUTLET: u8 = 8;
/// Flow-direction code of a nodata cell.
pub const NO_DATA: u8 = 255;
/// Row offsets of the eight neighbours N, NE, E, SE, S, SW, W, NW.
pub const DR: [isize; 8] = [-1, -1, 0, 1, 1, 1, 0, -1];
/// Column offsets of the eight neighbours N, NE, E, SE, S, SW, W, NW.
pub const DC: [isize; 8] = [0, 1, 1, 1, 0, -1, -1, -1];

/// D8 flow directions with this crate's codes (see the module docs).
pub type FlowDir = Raster<u8>;

/// Index of the neighbour of cell `i` (at `row`, `col`) in direction `k`, if inside the grid.
#[inline]
pub(crate) fn neighbour(geom: &GridGeometry, row: usize, col: usize, k: usize) -> Option<usize> {
    let r = row.checked_add_signed(DR[k])?;
    let c = col.checked_add_signed(DC[k])?;
    (r < geom.rows && c < geom.cols).then_some(r * geom.cols + c)
}

/// The cell a D8 code points to, or `None` for outlets, nodata and directions off the grid.
#[inline]
pub(crate) fn downstream(geom: &GridGeometry, i: usize, code: u8) -> Option<usize> {
    if code >= 8 {
        return None;
    }
    neighbour(geom, i / geom.cols, i % geom.cols, code as usize)
}

/// Refuses grids whose cell indices do not fit the `u32` index buffers.
pub(crate) fn check_size(geom: &GridGeometry) -> Result<(), GisError> {
    if geom.len() >= u32::MAX as usize {
        return Err(GisError::Invalid(format!(
            "grid of {} x {} cells is too large (at most 2^32 - 1 cells)",
            geom.rows, geom.cols
        )));
    }
    Ok(())
}

/// One bit per cell.
pub(crate) struct BitSet(Vec<u64>);

impl BitSet {
    pub(crate) fn new(n: usize) -> BitSet {
        BitSet(vec![0; n.div_ceil(64)])
    }
    #[inline]
    pub(crate) fn get(&self, i: usize) -> bool {
        self.0.get(i / 64).is_some_and(|w| w >> (i % 64) & 1 == 1)
    }
    #[inline]
    pub(crate) fn set(&mut self, i: usize) {
        if let Some(w) = self.0.get_mut(i / 64) {
            *w |= 1 << (i % 64);
        }
    }
}

/// A DEM as `f32` (4 bytes per cell), the precision every step here works in; NaN = nodata.
pub fn to_f32(dem: &Raster<f64>) -> Raster<f32> {
    Raster {
        geom: dem.geom.clone(),
        data: dem.data.iter().map(|&v| v as f32).collect(),
        nodata: dem.nodata,
    }
}
