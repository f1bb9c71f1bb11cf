//! Catchments: the cells that drain to an outlet, found by walking the flow directions upstream
//! from it (O(catchment cells)). With several outlets each cell belongs to the first outlet
//! downstream of it, so nested outlets give nested basins: the downstream basin keeps only the
//! area between it and the outlets above it, and reports which basins drain into it.
//!
//! Memory: a `u32` label per cell and 4 bytes per cell on the upstream stack.

use super::area::cell_area_km2;
use super::{FlowDir, NO_DATA, downstream, neighbour};
use crate::{GisError, Raster};

/// Basins of several outlets.
#[derive(Debug, Clone)]
pub struct Basins {
    /// Per cell: 0 outside every basin, else 1 + the index of the outlet it drains to first.
    pub labels: Raster<u32>,
    /// Per outlet: cells of its own basin (without the basins nested above it).
    pub own_cells: Vec<u64>,
    /// Per outlet: km² of its own basin ([`cell_area_km2`]).
    pub own_km2: Vec<f64>,
    /// Per outlet: all cells upstream of it, nested basins included.
    pub cells: Vec<u64>,
    /// Per outlet: km² upstream of it, nested basins included.
    pub km2: Vec<f64>,
    /// Per outlet: the outlet whose basin it drains into, if any.
    pub drains_to: Vec<Option<usize>>,
    /// Per outlet: bounding box of its own basin, `(row0, col0, row1, col1)` inclusive.
    pub bbox: Vec<(usize, usize, usize, usize)>,
}

/// Delineates the basins of `outlets` (cell indices, row-major).
///
/// # Errors
/// [`GisError::Invalid`] when an outlet is outside the grid, on nodata, or repeated.
pub fn basins(dirs: &FlowDir, outlets: &[usize]) -> Result<Basins, GisError> {
    let g = &dirs.geom;
    let d = &dirs.data;
    let mut labels = vec![0u32; g.len()];
    for (k, &o) in outlets.iter().enumerate() {
        match d.get(o) {
            None => return Err(GisError::Invalid(format!("outlet {} is outside the grid", k + 1))),
            Some(&NO_DATA) => {
                return Err(GisError::Invalid(format!(
                    "outlet {} is on a nodata cell (row {}, column {})",
                    k + 1,
                    o / g.cols,
                    o % g.cols
                )));
            }
            Some(_) => {}
        }
        if labels[o] != 0 {
            return Err(GisError::Invalid(format!(
                "outlets {} and {} are the same cell",
                labels[o],
                k + 1
            )));
        }
        labels[o] = k as u32 + 1;
    }
    let areas: Vec<f64> = (0..g.rows).map(|r| cell_area_km2(g, r)).collect();
    let m = outlets.len();
    let mut own_cells = vec![0u64; m];
    let mut own_km2 = vec![0.0; m];
    let mut bbox = vec![(usize::MAX, usize::MAX, 0, 0); m];
    let mut stack: Vec<u32> = Vec::new();
    for (k, &o) in outlets.iter().enumerate() {
        let l = k as u32 + 1;
        stack.push(o as u32);
        while let Some(c) = stack.pop() {
            let c = c as usize;
            let (r, col) = (c / g.cols, c % g.cols);
            own_cells[k] += 1;
            own_km2[k] += areas[r];
            let b = &mut bbox[k];
            *b = (b.0.min(r), b.1.min(col), b.2.max(r), b.3.max(col));
            for dir in 0..8 {
                // Neighbour in direction `dir` drains here if it points the opposite way.
                if let Some(n) = neighbour(g, r, col, dir)
                    && labels[n] == 0
                    && d[n] == ((dir + 4) % 8) as u8
                {
                    labels[n] = l;
                    stack.push(n as u32);
                }
            }
        }
    }
    let drains_to: Vec<Option<usize>> = outlets
        .iter()
        .map(|&o| {
            downstream(g, o, d[o])
                .map(|j| labels[j])
                .filter(|&l| l != 0)
                .map(|l| l as usize - 1)
        })
        .collect();
    // Totals: add each basin to every basin downstream of it (chains are short).
    let mut cells = own_cells.clone();
    let mut km2 = own_km2.clone();
    for k in 0..m {
        let mut next = drains_to[k];
        let mut hops = 0;
        while let Some(j) = next
            && hops < m
        {
            cells[j] += own_cells[k];
            km2[j] += own_km2[k];
            next = drains_to[j];
            hops += 1;
        }
    }
    Ok(Basins {
        labels: Raster {
            geom: g.clone(),
            data: labels,
            nodata: None,
        },
        own_cells,
        own_km2,
        cells,
        km2,
        drains_to,
        bbox,
    })
}
