//! Catchments: the cells that drain to an outlet. With several outlets each cell belongs to the
//! first outlet downstream of it, so nested outlets give nested basins: the downstream basin
//! keeps only the area between it and the outlets above it, and reports which basins drain into
//! it.
//!
//! Basins are found by walking the flow directions upstream from each outlet ([`walk`],
//! O(basin cells), on all threads). Each basin's km² is summed cell by cell in row-major order,
//! so it does not depend on the walk's order or the number of threads.
//!
//! Memory: a `u32` label and a bit (outlet or not) per cell, 8 bytes per cell on the walks'
//! stacks, and 4 bytes per row per thread.

mod walk;

use super::area::cell_area_km2;
use super::{BitSet, FlowDir, NO_DATA, downstream};
use crate::{GisError, Raster};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

/// One basin's cells per row and bounding box, filled by a walk (one per thread).
struct Rows {
    count: Vec<u32>,
    bbox: (usize, usize, usize, usize),
}

impl Rows {
    const EMPTY: (usize, usize, usize, usize) = (usize::MAX, usize::MAX, 0, 0);

    fn new(rows: usize) -> Rows {
        Rows {
            count: vec![0; rows],
            bbox: Rows::EMPTY,
        }
    }

    #[inline]
    fn add(&mut self, r: usize, c: usize) {
        self.count[r] += 1;
        let b = &mut self.bbox;
        *b = (b.0.min(r), b.1.min(c), b.2.max(r), b.3.max(c));
    }
}

/// `area` added `n` times, one cell at a time rather than `n × area`: where every cell has the
/// same area (projected grids) the sum is then the same, to the bit, in any order of the cells.
fn add_cells(km2: &mut f64, area: f64, n: u32) {
    for _ in 0..n {
        *km2 += area;
    }
}

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
    let (g, d) = (&dirs.geom, &dirs.data);
    let labels: Vec<AtomicU32> = (0..g.len()).map(|_| AtomicU32::new(0)).collect();
    let mut is_outlet = BitSet::new(g.len());
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
        if is_outlet.get(o) {
            return Err(GisError::Invalid(format!(
                "outlets {} and {} are the same cell",
                outlets.iter().position(|&p| p == o).map_or(0, |p| p + 1),
                k + 1
            )));
        }
        labels[o].store(k as u32 + 1, Relaxed);
        is_outlet.set(o);
    }
    let areas: Vec<f64> = (0..g.rows).map(|r| cell_area_km2(g, r)).collect();
    let m = outlets.len();
    let mut own_cells = vec![0u64; m];
    let mut own_km2 = vec![0.0; m];
    let mut bbox = vec![Rows::EMPTY; m];
    let tallies: Vec<Mutex<Rows>> = (0..rayon::current_num_threads().max(1))
        .map(|_| Mutex::new(Rows::new(g.rows)))
        .collect();
    let mut total = vec![0u32; g.rows];
    for (k, &o) in outlets.iter().enumerate() {
        walk::upstream(dirs, &is_outlet, &labels, (o, k as u32 + 1), &tallies);
        let mut bb = Rows::EMPTY;
        for t in &tallies {
            let Ok(mut t) = t.lock() else { continue };
            let b = std::mem::replace(&mut t.bbox, Rows::EMPTY);
            if b == Rows::EMPTY {
                continue;
            }
            for (sum, n) in total[b.0..=b.2].iter_mut().zip(&mut t.count[b.0..=b.2]) {
                *sum += std::mem::take(n);
            }
            bb = (bb.0.min(b.0), bb.1.min(b.1), bb.2.max(b.2), bb.3.max(b.3));
        }
        if bb != Rows::EMPTY {
            for (n, &area) in total[bb.0..=bb.2].iter_mut().zip(&areas[bb.0..=bb.2]) {
                let n = std::mem::take(n);
                own_cells[k] += u64::from(n);
                add_cells(&mut own_km2[k], area, n);
            }
        }
        bbox[k] = bb;
    }
    let labels: Vec<u32> = labels.into_iter().map(AtomicU32::into_inner).collect();
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

#[cfg(test)]
mod tests {
    use super::super::random_dirs::random_dirs;
    use super::*;
    use hod_testkit::rng::Lcg;

    #[test]
    fn labels_and_sums_match_the_definition() {
        // 300 x 300 converging: one basin of most of the grid, so walks split across tasks.
        for (seed, rows, cols, converge) in [
            (1, 1, 1, false),
            (2, 1, 50, false),
            (3, 30, 20, false),
            (4, 60, 70, true),
            (5, 300, 300, true),
            (6, 200, 150, false),
        ] {
            let dirs = random_dirs(seed, rows, cols, converge);
            let (g, d) = (&dirs.geom, &dirs.data);
            let valid: Vec<usize> = (0..g.len()).filter(|&i| d[i] != NO_DATA).collect();
            let mut rng = Lcg(seed);
            let mut outlets: Vec<usize> = Vec::new();
            if converge && d[0] != NO_DATA {
                outlets.push(0);
            }
            for _ in 0..6 {
                let Some(&o) = valid.get(rng.next(valid.len().max(1) as u64) as usize) else {
                    break;
                };
                if !outlets.contains(&o) {
                    outlets.push(o);
                }
            }
            // Each cell's label: the first outlet on its way down (itself included).
            let want: Vec<u32> = (0..g.len())
                .map(|start| {
                    let mut i = Some(start).filter(|&i| d[i] != NO_DATA);
                    while let Some(j) = i {
                        if let Some(k) = outlets.iter().position(|&o| o == j) {
                            return k as u32 + 1;
                        }
                        i = downstream(g, j, d[j]);
                    }
                    0
                })
                .collect();
            let b = basins(&dirs, &outlets).unwrap();
            assert_eq!(b.labels.data, want, "seed {seed}");
            for k in 0..outlets.len() {
                let l = k as u32 + 1;
                let cells: Vec<usize> = (0..g.len()).filter(|&i| want[i] == l).collect();
                let mut km2 = 0.0;
                for &i in &cells {
                    km2 += cell_area_km2(g, i / g.cols);
                }
                let rows = cells.iter().map(|&i| i / g.cols);
                let cols = cells.iter().map(|&i| i % g.cols);
                let bbox = (
                    rows.clone().min().unwrap(),
                    cols.clone().min().unwrap(),
                    rows.max().unwrap(),
                    cols.max().unwrap(),
                );
                assert_eq!(b.own_cells[k], cells.len() as u64, "seed {seed} basin {l}");
                assert_eq!(
                    b.own_km2[k].to_bits(),
                    km2.to_bits(),
                    "seed {seed} basin {l}: row-major sum"
                );
                assert_eq!(b.bbox[k], bbox, "seed {seed} basin {l}");
            }
        }
    }
}
