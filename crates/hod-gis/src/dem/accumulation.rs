//! Flow accumulation: how many cells (or how much area) drain through each cell, the cell itself
//! included (as pysheds counts).
//!
//! Cells are visited in topological order without a queue: in-degree counting (Kahn 1962), where
//! each cell with no unvisited upstream cell passes its total downstream and the walk continues
//! from the receiving cell as soon as its last upstream cell has been counted. O(cells). Where
//! each cell drains is resolved once, row by row, so the walk follows fixed index offsets.
//!
//! Cell counts run on bands of rows in parallel, after Barnes 2017 (Parallel non-divergent flow
//! accumulation for trillion cell digital elevation models on desktops or clusters.
//! Environmental Modelling & Software 92, 202–212): each band counts its cells' in-degrees (from
//! the neighbours' codes, so it writes only its own cells) and walks its own rows, handing a
//! flow that leaves the band to a list instead of following it; one pass then
//! adds those flows and walks on from every cell they complete. The in-degrees count every
//! upstream cell, so a cell waiting for another band's flow stays unvisited until that pass, and
//! each cell still passes its total on once, complete: integer counts are the same as in one
//! band. Areas (f64) run in one band, so their summation order, hence every bit, does not depend
//! on the number of threads.
//!
//! Memory: the result (4 bytes per cell for counts, 8 for areas) and one byte per cell of
//! in-degree, plus at most 16 bytes per cell of a band's first and last rows for the flows
//! handed between bands.

use super::area::cell_area_km2;
use super::{DC, DR, FlowDir, NO_DATA, OUTLET, neighbour};
use crate::{GisError, Raster};
use rayon::prelude::*;
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
    Ok(Raster {
        geom: dirs.geom.clone(),
        data: accumulate(dirs, |_| 1u32, u32::MAX, None)?,
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
    let weight = |r: usize| areas.get(r).copied().unwrap_or(0.0);
    Ok(Raster {
        geom: dirs.geom.clone(),
        data: accumulate(dirs, weight, f64::NAN, Some(1))?,
        nodata: Some(f64::NAN),
    })
}

/// Accumulates `weight(row)` per cell over `bands` bands of rows (one per thread when `None`);
/// nodata cells get `nodata`.
fn accumulate<T: Copy + AddAssign + Default + Send + Sync>(
    dirs: &FlowDir,
    weight: impl Fn(usize) -> T + Sync,
    nodata: T,
    bands: Option<usize>,
) -> Result<Vec<T>, GisError> {
    let g = &dirs.geom;
    let d = &dirs.data;
    let n = g.len();
    if n == 0 {
        return Ok(Vec::new());
    }
    let off: [isize; 8] = std::array::from_fn(|k| DR[k] * g.cols as isize + DC[k]);
    let bands = bands.unwrap_or_else(rayon::current_num_threads).max(1);
    let band_cells = g.rows.div_ceil(bands) * g.cols;
    let mut indeg = vec![0u8; n];
    let mut acc = vec![T::default(); n];
    let valid: usize = indeg
        .par_chunks_mut(band_cells)
        .zip(acc.par_chunks_mut(band_cells))
        .enumerate()
        .map(|(b, (indeg, acc))| count_band(dirs, b * band_cells, indeg, acc, &weight, nodata))
        .sum();
    // Each band walks its own rows; flows into another band wait in its list.
    let walked: Vec<(usize, Vec<(usize, T)>)> = indeg
        .par_chunks_mut(band_cells)
        .zip(acc.par_chunks_mut(band_cells))
        .enumerate()
        .map(|(b, (indeg, acc))| {
            let mut out = Vec::new();
            let mut visited = 0;
            for start in 0..indeg.len() {
                if indeg[start] == 0 || indeg[start] == SINK {
                    visited += walk(start, b * band_cells, indeg, acc, d, &off, &mut out);
                }
            }
            (visited, out)
        })
        .collect();
    let mut visited = 0usize;
    let mut none = Vec::new();
    for (v, out) in walked {
        visited += v;
        for (j, a) in out {
            acc[j] += a;
            indeg[j] -= 1;
            if indeg[j] == 0 || indeg[j] == SINK {
                visited += walk(j, 0, &mut indeg, &mut acc, d, &off, &mut none);
            }
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

/// Codes of the eight neighbours N, NE, E, SE, S, SW, W, NW when they drain into the cell.
const OPPOSITE: [u8; 8] = [4, 5, 6, 7, 0, 1, 2, 3];

/// Sets the in-degrees and weights of one band of rows (`indeg` and `acc` are its cells, from
/// cell `base`): per cell, the number of neighbours that drain into it (at most 8), or'd with
/// SINK when its own water leaves the grid (outlet, off the edge, into nodata), found here once
/// so that the walk follows fixed index offsets. Each cell reads its neighbours' codes (no
/// writes outside the band), branch-free inside the grid so that the loop vectorises. Returns
/// the band's valid cells.
fn count_band<T: Copy>(
    dirs: &FlowDir,
    base: usize,
    indeg: &mut [u8],
    acc: &mut [T],
    weight: &impl Fn(usize) -> T,
    nodata: T,
) -> usize {
    let (g, d) = (&dirs.geom, &dirs.data);
    let (rows, cols) = (g.rows, g.cols);
    let r0 = base / cols;
    let mut valid = 0;
    for (dr, (deg, acc)) in indeg.chunks_mut(cols).zip(acc.chunks_mut(cols)).enumerate() {
        let r = r0 + dr;
        let w = weight(r);
        let mid = &d[r * cols..(r + 1) * cols];
        valid += mid.iter().filter(|&&k| k != NO_DATA).count();
        for (a, &k) in acc.iter_mut().zip(mid) {
            *a = if k == NO_DATA { nodata } else { w };
        }
        // The outer ring (first and last row and column) with checked neighbours.
        let ring = |c: usize| {
            let k = mid[c];
            if k == NO_DATA {
                return DONE;
            }
            let into = (0..8)
                .filter(|&dir| neighbour(g, r, c, dir).is_some_and(|n| d[n] == OPPOSITE[dir]))
                .count() as u8;
            let out = (k >= 8) || neighbour(g, r, c, usize::from(k)).is_none_or(|j| d[j] == NO_DATA);
            into | if out { SINK } else { 0 }
        };
        if r == 0 || r + 1 == rows || cols < 3 {
            for (c, e) in deg.iter_mut().enumerate() {
                *e = ring(c);
            }
            continue;
        }
        deg[0] = ring(0);
        deg[cols - 1] = ring(cols - 1);
        let n = cols - 2;
        let (up, down) = (&d[(r - 1) * cols..r * cols], &d[(r + 1) * cols..(r + 2) * cols]);
        // Neighbours of cells 1..cols-1, in direction order: N, NE, E, SE, S, SW, W, NW.
        let nb: [&[u8]; 8] = [
            &up[1..=n],
            &up[2..n + 2],
            &mid[2..n + 2],
            &down[2..n + 2],
            &down[1..=n],
            &down[..n],
            &mid[..n],
            &up[..n],
        ];
        let centre = &mid[1..=n];
        for (c, e) in deg[1..=n].iter_mut().enumerate() {
            let k = centre[c];
            let mut into = 0u8;
            let mut out = u8::from(k >= OUTLET);
            for dir in 0..8 {
                let v = nb[dir][c];
                into += u8::from(v == OPPOSITE[dir]);
                out |= u8::from(k == dir as u8) & u8::from(v == NO_DATA);
            }
            *e = if k == NO_DATA { DONE } else { into | (out * SINK) };
        }
    }
    valid
}

/// Walks down from cell `base + start` of a band (`indeg` and `acc` are the band's cells) while
/// each cell reached has no upstream cell left to count; a flow leaving the band goes to `out`.
/// Returns the cells visited.
#[inline]
fn walk<T: Copy + AddAssign>(
    start: usize,
    base: usize,
    indeg: &mut [u8],
    acc: &mut [T],
    d: &[u8],
    off: &[isize; 8],
    out: &mut Vec<(usize, T)>,
) -> usize {
    let mut i = start;
    let mut visited = 0;
    loop {
        let sink = indeg[i] == SINK;
        indeg[i] = DONE;
        visited += 1;
        if sink {
            return visited;
        }
        let a = acc[i];
        let j = (base + i)
            .wrapping_add_signed(off[usize::from(d[base + i])])
            .wrapping_sub(base);
        let (Some(e), Some(t)) = (indeg.get_mut(j), acc.get_mut(j)) else {
            out.push((base.wrapping_add(j), a));
            return visited;
        };
        *t += a;
        *e -= 1;
        if *e != 0 && *e != SINK {
            return visited;
        }
        i = j;
    }
}

#[cfg(test)]
mod tests {
    use super::super::random_dirs::random_dirs;
    use super::*;

    /// Cells through which each cell drains, by following every cell's path to its end.
    fn by_definition(dirs: &FlowDir) -> Vec<u32> {
        let g = &dirs.geom;
        let mut acc: Vec<u32> = dirs
            .data
            .iter()
            .map(|&k| if k == NO_DATA { u32::MAX } else { 0 })
            .collect();
        for start in 0..g.len() {
            let mut i = Some(start).filter(|&i| dirs.data[i] != NO_DATA);
            while let Some(j) = i {
                acc[j] += 1;
                i = super::super::downstream(g, j, dirs.data[j]).filter(|&n| dirs.data[n] != NO_DATA);
            }
        }
        acc
    }

    #[test]
    fn bands_count_the_same_cells_as_the_definition() {
        for (seed, rows, cols, converge) in [
            (1, 1, 1, false),
            (2, 1, 40, false),
            (3, 40, 1, false),
            (4, 7, 9, false),
            (5, 33, 17, false),
            (6, 64, 64, true),
            (7, 50, 80, false),
            (8, 120, 90, true),
        ] {
            let dirs = random_dirs(seed, rows, cols, converge);
            let want = by_definition(&dirs);
            for bands in 1..=6 {
                let got = accumulate(&dirs, |_| 1u32, u32::MAX, Some(bands)).unwrap();
                assert_eq!(got, want, "seed {seed}, {rows} x {cols}, {bands} bands");
            }
            assert_eq!(cells(&dirs).unwrap().data, want);
        }
    }

    #[test]
    fn a_loop_is_named_whatever_the_bands() {
        let mut dirs = random_dirs(9, 30, 30, true);
        // Cells (10, 10) and (10, 11) drain into each other; everything above them loops too.
        dirs.data[10 * 30 + 10] = 2;
        dirs.data[10 * 30 + 11] = 6;
        for bands in 1..=4 {
            let e = accumulate(&dirs, |_| 1u32, u32::MAX, Some(bands)).unwrap_err();
            assert!(e.to_string().contains("row 10, column 10"), "{bands} bands: {e}");
        }
    }
}
