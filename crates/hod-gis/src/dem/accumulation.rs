//! Flow accumulation: how many cells (or how much area) drain through each cell, the cell itself
//! included (as pysheds counts).
//!
//! Cells are visited in topological order without a queue: in-degree counting (Kahn 1962), where
//! each cell with no unvisited upstream cell passes its total downstream and the walk continues
//! from the receiving cell as soon as its last upstream cell has been counted. O(cells).
//! Memory: the result (4 bytes per cell for counts, 8 for areas) and one byte per cell of
//! in-degree.

use super::area::cell_area_km2;
use super::{FlowDir, NO_DATA, downstream};
use crate::{GisError, Raster};
use std::ops::AddAssign;

const DONE: u8 = u8::MAX;

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
    let n = g.len();
    let mut indeg = vec![0u8; n];
    let mut acc = vec![T::default(); n];
    let mut valid = 0usize;
    for i in 0..n {
        if d[i] == NO_DATA {
            indeg[i] = DONE;
            continue;
        }
        valid += 1;
        acc[i] = weight(i);
        if let Some(j) = downstream(g, i, d[i])
            && d[j] != NO_DATA
        {
            indeg[j] += 1;
        }
    }
    let mut visited = 0usize;
    for start in 0..n {
        if indeg[start] != 0 {
            continue;
        }
        let mut i = start;
        loop {
            indeg[i] = DONE;
            visited += 1;
            let Some(j) = downstream(g, i, d[i]).filter(|&j| d[j] != NO_DATA) else {
                break;
            };
            let a = acc[i];
            acc[j] += a;
            indeg[j] -= 1;
            if indeg[j] != 0 {
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
