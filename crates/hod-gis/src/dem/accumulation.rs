//! Flow accumulation: how many cells (or how much area) drain through each cell, the cell itself
//! included (as pysheds counts).
//!
//! Cells are visited in topological order without a queue: in-degree counting (Kahn 1962), where
//! each cell with no unvisited upstream cell passes its total downstream and the walk continues
//! from the receiving cell as soon as its last upstream cell has been counted. O(cells). Where
//! each cell drains is resolved once, row by row, so the walk follows fixed index offsets.
//! Memory: the result (4 bytes per cell for counts, 8 for areas) and one byte per cell of
//! in-degree.

use super::area::cell_area_km2;
use super::{DC, DR, FlowDir, NO_DATA, neighbour};
use crate::{GisError, Raster};
use std::ops::AddAssign;

const DONE: u8 = u8::MAX;
/// Flag (in the in-degree byte) of a cell whose water leaves the grid.
const SINK: u8 = 0x10;

/// Cells draining through each cell (itself included); nodata cells are `u32::MAX`, which is the
/// raster's nodata value.
///
/// # Errors
/// [`GisError::Invalid`] when the directions loop (naming a cell on the loop).
pub fn cells(dirs: &FlowDir) -> Result<Raster<u32>, GisError> {
    let mut acc = accumulate(dirs, |_| 1u32)?;
    for (a, &d) in acc.iter_mut().zip(&dirs.data) {
        if d == NO_DATA {
            *a = u32::MAX;
        }
    }
    Ok(Raster {
        geom: dirs.geom.clone(),
        data: acc,
        nodata: Some(f64::from(u32::MAX)),
    })
}

/// Upstream area in km² of each cell (itself included), from [`cell_area_km2`]; nodata cells are
/// NaN.
///
/// # Errors
/// [`GisError::Invalid`] when the directions loop.
pub fn area_km2(dirs: &FlowDir) -> Result<Raster<f64>, GisError> {
    let areas: Vec<f64> = (0..dirs.geom.rows)
        .map(|r| cell_area_km2(&dirs.geom, r))
        .collect();
    let cols = dirs.geom.cols.max(1);
    let mut acc = accumulate(dirs, |i| areas.get(i / cols).copied().unwrap_or(0.0))?;
    for (a, &d) in acc.iter_mut().zip(&dirs.data) {
        if d == NO_DATA {
            *a = f64::NAN;
        }
    }
    Ok(Raster {
        geom: dirs.geom.clone(),
        data: acc,
        nodata: Some(f64::NAN),
    })
}

fn accumulate<T: Copy + AddAssign + Default>(
    dirs: &FlowDir,
    weight: impl Fn(usize) -> T,
) -> Result<Vec<T>, GisError> {
    let g = &dirs.geom;
    let d = &dirs.data;
    let (rows, cols) = (g.rows, g.cols);
    let n = g.len();
    let off: [isize; 8] = std::array::from_fn(|k| DR[k] * cols as isize + DC[k]);
    // Per cell: the number of upstream cells not yet counted (at most 8), and SINK when its
    // water leaves the grid (outlet, off the edge, into nodata), found here once by row and
    // column so that the walk below follows fixed index offsets.
    let mut indeg = vec![0u8; n];
    let mut acc = vec![T::default(); n];
    let mut valid = 0usize;
    for r in 0..rows {
        let interior_row = r > 0 && r + 1 < rows;
        for c in 0..cols {
            let i = r * cols + c;
            let k = d[i];
            if k == NO_DATA {
                indeg[i] = DONE;
                continue;
            }
            valid += 1;
            acc[i] = weight(i);
            let j = if k >= 8 {
                None
            } else if interior_row && c > 0 && c + 1 < cols {
                Some(i.wrapping_add_signed(off[k as usize]))
            } else {
                neighbour(g, r, c, k as usize)
            };
            match j.filter(|&j| d[j] != NO_DATA) {
                Some(j) => indeg[j] += 1,
                None => indeg[i] |= SINK,
            }
        }
    }
    let mut visited = 0usize;
    for start in 0..n {
        if indeg[start] != 0 && indeg[start] != SINK {
            continue;
        }
        let mut i = start;
        loop {
            let sink = indeg[i] == SINK;
            indeg[i] = DONE;
            visited += 1;
            if sink {
                break;
            }
            let j = i.wrapping_add_signed(off[d[i] as usize]);
            let a = acc[i];
            acc[j] += a;
            indeg[j] -= 1;
            if indeg[j] != 0 && indeg[j] != SINK {
                break;
            }
            i = j;
        }
    }
    if visited != valid {
        let i = indeg.iter().position(|&k| k != DONE).unwrap_or(0);
        return Err(GisError::Invalid(format!(
            "flow directions loop: cell at row {}, column {} is on or below a loop",
            i / g.cols.max(1),
            i % g.cols.max(1)
        )));
    }
    Ok(acc)
}
