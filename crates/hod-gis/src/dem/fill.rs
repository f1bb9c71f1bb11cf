//! Depression filling by Priority-Flood (Barnes, Lehman & Mulla 2014, "Priority-Flood: An
//! optimal depression-filling and watershed-labeling algorithm for digital elevation models",
//! Computers & Geosciences 62, 117–127), tile by tile as in Barnes (2016, "Parallel
//! Priority-Flood depression filling for trillion cell digital elevation models on desktops or
//! clusters", Computers & Geosciences 96, 56–68), so that each flood runs in a core's cache and
//! the tiles run in parallel:
//!
//! 1. Each 256 × 256 tile is filled as if its perimeter drained out, and the watersheds of its
//!    seeds are labelled; where two labels meet, and where a label reaches nodata or the grid
//!    edge, the level of the crossing is recorded. The perimeter keeps its elevations.
//! 2. The spill graph (labels as nodes, the outlet as one more, crossings inside tiles and
//!    across tile borders as edges) gives each label its spill level: the lowest level over
//!    which it reaches the outlet.
//! 3. In each tile the cells below the spill level of their watershed are raised to it, by a
//!    flood from the perimeter cells that the spill raises.
//!
//! The flood inside a tile is Zhou, Sun & Fu's variant (2016, "An efficient variant of the
//! Priority-Flood algorithm for filling depressions in raster digital elevation models", Computers
//! & Geosciences 90, 87–96): cells raised inside a depression go through a plain stack (Barnes's
//! Algorithm 2 uses a queue; within one level the order does not matter), and so do cells found
//! higher than the cell that reached them (the "trace" of a slope): such a cell keeps its own
//! elevation whatever is processed later, since it drains over its lower neighbour, so it needs the
//! priority queue only when it has an unvisited lower neighbour, whose level may still come from
//! elsewhere. Most cells of a DEM are on slopes, so most never enter the priority queue, which is a
//! radix heap: levels only rise. The result is the unique filled surface (each cell at the lowest
//! level over which it can drain to an outlet), the same as one Priority-Flood over the whole grid,
//! bit for bit: every level is one of the input elevations, taken by comparisons only.
//!
//! The grid edge and nodata cells are outlets. Memory: the DEM itself (filled in place), one bit
//! per cell of the tiles the first step raised anything in, the elevations and labels of the
//! tiles' perimeters (8 bytes per perimeter cell, 1/64 of the cells), the spill graph (a few
//! edges per label) and, per thread, one tile's buffers (≈ 0.6 MB).

mod radix_heap;
mod spill;
mod tile;

use super::check_size;
use crate::{GisError, Raster};
use rayon::prelude::*;
use tile::{Halo, Scratch, Tile};

/// Side of the square tiles, in cells: a tile's buffers (≈ 0.6 MB) stay in a core's cache.
const TILE: usize = 256;

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

/// The inverse of [`sortable`].
#[inline]
fn unsortable(k: u32) -> f32 {
    f32::from_bits(if k >> 31 == 1 { k & !(1 << 31) } else { !k })
}

/// Fills every depression of `dem` (NaN = nodata) up to its spill elevation, in place, so that
/// every valid cell has a non-ascending path to the edge or to nodata. Never lowers a cell.
///
/// # Errors
/// [`GisError::Invalid`] for grids of 2³² cells or more.
pub fn fill_depressions(dem: &mut Raster<f32>) -> Result<FillStats, GisError> {
    fill_in_tiles(dem, TILE)
}

/// [`fill_depressions`] with tiles of `side` × `side` cells.
fn fill_in_tiles(dem: &mut Raster<f32>, side: usize) -> Result<FillStats, GisError> {
    let g = dem.geom.clone();
    check_size(&g)?;
    let (rows, cols) = (g.rows, g.cols);
    if g.is_empty() {
        return Ok(FillStats::default());
    }
    let tile_cols = cols.div_ceil(side);
    let tiles: Vec<Tile> = (0..rows.div_ceil(side) * tile_cols)
        .map(|k| {
            let (r0, c0) = (k / tile_cols * side, k % tile_cols * side);
            Tile {
                r0,
                c0,
                h: side.min(rows - r0),
                w: side.min(cols - c0),
            }
        })
        .collect();
    let z = &mut dem.data;
    // The elevations of each tile's sides (which the first step does not change): the halo of
    // the tiles around it, and the levels at which water crosses tile borders.
    let values: Vec<[Vec<f32>; 4]> = tiles
        .par_iter()
        .map(|t| {
            let row = |r: usize| z[(t.r0 + r) * cols + t.c0..][..t.w].to_vec();
            let col = |c: usize| (0..t.h).map(|r| z[(t.r0 + r) * cols + t.c0 + c]).collect();
            [row(0), row(t.h - 1), col(0), col(t.w - 1)]
        })
        .collect();
    // Each tile's rows, as slices the tiles can fill in parallel.
    let mut parts: Vec<Vec<&mut [f32]>> = tiles.iter().map(|t| Vec::with_capacity(t.h)).collect();
    for (r, row) in z.chunks_mut(cols).enumerate() {
        let mut rest = row;
        for part in &mut parts[r / side * tile_cols..(r / side + 1) * tile_cols] {
            let (seg, tail) = rest.split_at_mut(side.min(rest.len()));
            part.push(seg);
            rest = tail;
        }
    }
    let tile_rows = tiles.len() / tile_cols;
    let halo = |k: usize| {
        let (tr, tc) = (k / tile_cols, k % tile_cols);
        let at = |dr: isize, dc: isize| {
            let (r, c) = (tr.checked_add_signed(dr)?, tc.checked_add_signed(dc)?);
            (r < tile_rows && c < tile_cols).then(|| &values[r * tile_cols + c])
        };
        let corner = |dr, dc, edge: usize, first: bool| {
            at(dr, dc)
                .and_then(|v| if first { v[edge].first() } else { v[edge].last() })
                .copied()
                .unwrap_or(f32::NAN)
        };
        Halo {
            sides: [
                at(-1, 0).map(|v| &v[1][..]),
                at(1, 0).map(|v| &v[0][..]),
                at(0, -1).map(|v| &v[3][..]),
                at(0, 1).map(|v| &v[2][..]),
            ],
            corners: [
                corner(-1, -1, 1, false),
                corner(-1, 1, 1, true),
                corner(1, -1, 0, false),
                corner(1, 1, 0, true),
            ],
        }
    };
    let graphs: Vec<_> = parts
        .par_iter_mut()
        .zip(&tiles)
        .enumerate()
        .map_init(Scratch::new, |s, (k, (rows, &t))| {
            tile::label(rows, t, &halo(k), s)
        })
        .collect();
    let (first, spill) = spill::levels(&values, &tiles, &graphs, tile_cols);
    let raised = parts
        .into_par_iter()
        .zip(tiles.par_iter().zip(&graphs).zip(first))
        .map_init(Scratch::new, |s, (mut rows, ((&t, g), first))| {
            g.raised_cells + tile::raise(&mut rows, t, g, |l| spill[(first + l) as usize], s)
        })
        .sum();
    Ok(FillStats { raised })
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
    fn any_tiling_gives_the_same_bits() {
        let mut rng = hod_testkit::rng::Lcg(7);
        for case in 0..300 {
            let (rows, cols) = (1 + rng.next(23) as usize, 1 + rng.next(23) as usize);
            let nodata = rng.next(4) * 5;
            let data = (0..rows * cols)
                .map(|_| {
                    if rng.next(100) < nodata {
                        f32::NAN
                    } else {
                        rng.next(7) as f32
                    }
                })
                .collect();
            let raw = grid(rows, cols, data);
            let mut whole = raw.clone();
            let want = fill_in_tiles(&mut whole, 64).unwrap();
            for side in [1, 2, 3, 4, 5, 8] {
                let mut tiled = raw.clone();
                let got = fill_in_tiles(&mut tiled, side).unwrap();
                assert_eq!(got, want, "case {case}, tiles of {side}");
                let bits = |r: &Raster<f32>| r.data.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                assert_eq!(
                    bits(&tiled),
                    bits(&whole),
                    "case {case} ({rows} x {cols}), tiles of {side}"
                );
            }
        }
    }

    #[test]
    fn sortable_keeps_order() {
        let v = [-1e9f32, -2.5, -0.0, 0.0, 1e-30, 3.0, 1e30];
        for w in v.windows(2) {
            assert!(sortable(w[0]) <= sortable(w[1]));
        }
        for x in v {
            assert_eq!(unsortable(sortable(x)).to_bits(), x.to_bits());
        }
    }
}
