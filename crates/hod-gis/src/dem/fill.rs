//! Depression filling by Priority-Flood (Barnes, Lehman & Mulla 2014, "Priority-Flood: An
//! optimal depression-filling and watershed-labeling algorithm for digital elevation models",
//! Computers & Geosciences 62, 117–127) in the variant of Zhou, Sun & Fu (2016, "An efficient
//! variant of the Priority-Flood algorithm for filling depressions in raster digital elevation
//! models", Computers & Geosciences 90, 87–96): cells raised inside a depression go through a
//! plain FIFO queue (Barnes's Algorithm 2), and so do cells found higher than the cell that
//! reached them (the "trace" of a slope): such a cell keeps its own elevation whatever is
//! processed later, since it drains over its lower neighbour, so it needs the priority queue
//! only when it has an unvisited lower neighbour, whose level may still come from elsewhere. Most
//! cells of a DEM are on slopes, so most never enter the heap. The result is the unique filled
//! surface (each cell at the lowest level over which it can drain to an outlet), the same as
//! plain Priority-Flood's.
//!
//! The grid edge and nodata cells are outlets: the flood starts from every valid cell on the edge
//! or next to nodata. Memory: the DEM itself (filled in place), one bit per cell for "closed",
//! and 8 bytes per cell in the heap (sortable elevation bits and the `u32` index packed into a
//! `u64`), 4 per cell in the FIFO queues.

use super::{BitSet, DC, DR, Neighbours, check_size};
use crate::{GisError, Raster};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

/// What filling changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FillStats {
    /// Cells raised.
    pub raised: u64,
}

/// Maps an `f32` to a `u32` that sorts in the same order (for finite values).
#[inline]
fn sortable(v: f32) -> u32 {
    let b = v.to_bits();
    if b >> 31 == 1 { !b } else { b | 1 << 31 }
}

/// Fills every depression of `dem` (NaN = nodata) up to its spill elevation, in place, so that
/// every valid cell has a non-ascending path to the edge or to nodata. Never lowers a cell.
///
/// # Errors
/// [`GisError::Invalid`] for grids of 2³² cells or more.
pub fn fill_depressions(dem: &mut Raster<f32>) -> Result<FillStats, GisError> {
    let g = dem.geom.clone();
    check_size(&g)?;
    let (rows, cols) = (g.rows, g.cols);
    let nb = Neighbours::new(rows, cols);
    let z = &mut dem.data;
    let mut closed = BitSet::new(g.len());
    let mut open: BinaryHeap<Reverse<u64>> = BinaryHeap::new();
    let mut pit: VecDeque<u32> = VecDeque::new();
    let mut trace: VecDeque<u32> = VecDeque::new();
    let key = |v: f32, i: usize| Reverse(u64::from(sortable(v)) << 32 | i as u64);
    for r in 0..rows {
        for c in 0..cols {
            let i = r * cols + c;
            if z[i].is_nan() {
                continue;
            }
            let on_edge = r == 0 || c == 0 || r + 1 == rows || c + 1 == cols;
            let by_nodata = !on_edge
                && (0..8).any(|k| {
                    let n = (r as isize + DR[k]) as usize * cols + (c as isize + DC[k]) as usize;
                    z[n].is_nan()
                });
            if on_edge || by_nodata {
                closed.set(i);
                open.push(key(z[i], i));
            }
        }
    }
    let mut stats = FillStats::default();
    loop {
        // Cells raised in a depression first (all at the current level), then slope cells,
        // then the lowest cell of the boundary.
        let i = if let Some(i) = pit.pop_front() {
            i as usize
        } else if let Some(i) = trace.pop_front() {
            // `i` keeps its elevation. Its higher neighbours do too: take them now. A lower one
            // must wait for its level, so `i` joins the boundary in the heap.
            let i = i as usize;
            let zc = z[i];
            let mut lower = false;
            nb.each(i, |n| {
                if closed.get(n) || z[n].is_nan() {
                    return;
                }
                if z[n] > zc {
                    closed.set(n);
                    trace.push_back(n as u32);
                } else {
                    lower = true;
                }
            });
            if lower {
                open.push(key(zc, i));
            }
            continue;
        } else if let Some(Reverse(k)) = open.pop() {
            (k & 0xffff_ffff) as usize
        } else {
            break;
        };
        // `i` is at its final level: lower or equal neighbours are raised to it (a depression),
        // higher ones start a slope trace.
        let zc = z[i];
        nb.each(i, |n| {
            if closed.get(n) || z[n].is_nan() {
                return;
            }
            closed.set(n);
            if z[n] <= zc {
                if z[n] < zc {
                    stats.raised += 1;
                }
                z[n] = zc;
                pit.push_back(n as u32);
            } else {
                trace.push_back(n as u32);
            }
        });
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn grid(rows: usize, cols: usize, data: Vec<f32>) -> Raster<f32> {
        Raster::unit(rows, cols, data)
    }

    #[test]
    fn fills_a_pit_to_its_spill_point() {
        #[rustfmt::skip]
        let mut dem = grid(4, 4, vec![
            9., 9., 9., 9.,
            9., 1., 2., 9.,
            9., 3., 9., 9.,
            9., 5., 9., 9.,
        ]);
        fill_depressions(&mut dem).unwrap();
        assert_eq!(dem.data[5], 5.0);
        assert_eq!(dem.data[6], 5.0);
        assert_eq!(dem.data[9], 5.0);
    }

    #[test]
    fn nodata_is_an_outlet() {
        #[rustfmt::skip]
        let mut dem = grid(3, 4, vec![
            9., 9., 9., 9.,
            9., 1., f32::NAN, 9.,
            9., 9., 9., 9.,
        ]);
        fill_depressions(&mut dem).unwrap();
        assert_eq!(dem.data[5], 1.0);
        assert!(dem.data[6].is_nan());
    }

    #[test]
    fn sortable_keeps_order() {
        let v = [-1e9f32, -2.5, -0.0, 0.0, 1e-30, 3.0, 1e30];
        for w in v.windows(2) {
            assert!(sortable(w[0]) <= sortable(w[1]));
        }
    }
}
