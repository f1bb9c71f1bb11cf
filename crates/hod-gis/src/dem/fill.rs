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

use super::{BitSet, Neighbours, check_size};
use crate::{GisError, Raster};
use std::collections::VecDeque;

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
    let mut open = RadixHeap::new();
    let mut pit: VecDeque<u32> = VecDeque::new();
    let mut trace: VecDeque<u32> = VecDeque::new();
    seed(z, rows, cols, &nb, &mut closed, &mut open);
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
                if closed.get(n) {
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
                open.push(sortable(zc), i as u32);
            }
            continue;
        } else if let Some(i) = open.pop() {
            i as usize
        } else {
            break;
        };
        // `i` is at its final level: lower or equal neighbours are raised to it (a depression),
        // higher ones start a slope trace.
        let zc = z[i];
        nb.each(i, |n| {
            if closed.get(n) {
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

/// Seeds the flood with every valid cell on the grid edge or next to nodata, and closes nodata
/// cells so that the flood needs no NaN test. Only a DEM with nodata pays for a neighbour scan.
fn seed(z: &[f32], rows: usize, cols: usize, nb: &Neighbours, closed: &mut BitSet, open: &mut RadixHeap) {
    let mut push = |i: usize, closed: &mut BitSet| {
        if !closed.get(i) && !z[i].is_nan() {
            closed.set(i);
            open.push(sortable(z[i]), i as u32);
        }
    };
    for c in 0..cols {
        push(c, closed);
        push((rows - 1) * cols + c, closed);
    }
    for r in 1..rows.saturating_sub(1) {
        push(r * cols, closed);
        push(r * cols + cols - 1, closed);
    }
    // A branch-free test per block, so that the scan runs at memory speed.
    let has_nan = |b: &[f32]| b.iter().fold(false, |a, v| a | v.is_nan());
    for (b, block) in z.chunks(4096).enumerate() {
        if !has_nan(block) {
            continue;
        }
        for (k, v) in block.iter().enumerate() {
            if v.is_nan() {
                let i = b * 4096 + k;
                closed.set(i);
                nb.each(i, |n| push(n, closed));
            }
        }
    }
}

/// A monotone priority queue of cell indices by `u32` key, a radix heap (Ahuja, Mehlhorn, Orlin
/// & Tarjan 1990, "Faster algorithms for the shortest path problem", Journal of the ACM 37(2),
/// 365–380): no key pushed is below the last one popped, which holds for Priority-Flood. Bucket 0
/// holds the keys equal to the last popped, bucket `b` those whose highest bit that differs from
/// it is bit `b - 1`. When bucket 0 is empty, the lowest non-empty bucket's minimum becomes the
/// last popped and its entries move to lower buckets: each entry moves at most 32 times, and a
/// DEM of whole metres has few levels, so pushes and pops are a few instructions each instead
/// of a binary heap's log n cache-missing steps. Entries pack the key and the index in a `u64`.
struct RadixHeap {
    last: u32,
    buckets: [Vec<u64>; 33],
}

impl RadixHeap {
    fn new() -> RadixHeap {
        RadixHeap {
            last: 0,
            buckets: std::array::from_fn(|_| Vec::new()),
        }
    }

    #[inline]
    fn bucket(&self, key: u32) -> usize {
        (32 - (key ^ self.last).leading_zeros()) as usize
    }

    #[inline]
    fn push(&mut self, key: u32, i: u32) {
        debug_assert!(key >= self.last, "radix heap keys must not decrease");
        let b = self.bucket(key);
        self.buckets[b].push(u64::from(key) << 32 | u64::from(i));
    }

    fn pop(&mut self) -> Option<u32> {
        if self.buckets[0].is_empty() {
            let b = (1..self.buckets.len()).find(|&b| !self.buckets[b].is_empty())?;
            let mut moving = std::mem::take(&mut self.buckets[b]);
            self.last = moving.iter().map(|e| (e >> 32) as u32).min()?;
            for &e in &moving {
                let to = self.bucket((e >> 32) as u32);
                self.buckets[to].push(e);
            }
            // Keep the allocation for the bucket's next fill.
            moving.clear();
            self.buckets[b] = moving;
        }
        self.buckets[0].pop().map(|e| e as u32)
    }
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
