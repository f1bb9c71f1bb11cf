//! Drainage across flats (Barnes, Lehman & Mulla 2014, "An efficient assignment of drainage
//! direction over flat surfaces in raster digital elevation models", Computers & Geosciences 62,
//! 128–135).
//!
//! A flat is a connected area of equal elevation of cells without a lower neighbour, with the
//! drained cells beside it through which it drains (its low edges). Two
//! breadth-first searches give each such cell a mask value: one grows from the flat's edges
//! next to higher terrain ("away from higher"), one from the cells through which the flat drains
//! ("towards lower"); the mask is `2 × towards + (height − away)`, so water moves towards the
//! outlets first and away from higher ground second, and every flat cell has a neighbour in its
//! flat with a strictly smaller mask. Each flat cell then drains to its lowest-mask neighbour.
//! Cells in flats that cannot drain (pits of an unfilled DEM) become outlets.
//!
//! Adjacent flat cells of equal elevation always belong to the same flat, so flats need no labels
//! (the paper's label grid); the per-flat height the paper adds only shifts a flat's masks by a
//! constant, so one global constant replaces it. Flat cells are never on the grid edge nor next
//! to nodata (those are outlets), so their neighbours are at fixed index offsets with no checks.
//! The searches run over all flats at once, in one thread: labelling the flats to process them in
//! parallel (tried) costs more passes than two cores win back. Memory while it runs, only when
//! there are flats: a `u32` mask per cell, one bit per cell, plus the BFS queues (4 bytes per
//! queued cell).

use super::flowdir::FLAT;
use super::{BitSet, DC, DR, FlowDir, NO_DATA, OUTLET};
use crate::Raster;

/// Gives every [`FLAT`] cell of `dirs` a direction across its flat of `dem`, or [`OUTLET`] when
/// the flat has no way out.
pub(crate) fn resolve(dem: &Raster<f32>, dirs: &mut FlowDir) {
    let cols = dirs.geom.cols;
    let z = &dem.data;
    let d = &mut dirs.data;
    if !d.contains(&FLAT) {
        return;
    }
    let n = d.len();
    // Flat cells are interior with valid neighbours (see `flowdir::d8`): fixed offsets.
    let off: [isize; 8] = std::array::from_fn(|k| DR[k] * cols as isize + DC[k]);
    let nb = move |i: usize, k: usize| i.wrapping_add_signed(off[k]);
    // Edges, found from the flat cells: flat cells beside higher ground ("high", away level 1)
    // and flat cells beside a drained cell of the same elevation (towards level 1).
    let mut mask = vec![0u32; n];
    let mut done = BitSet::new(n);
    let mut high = Vec::new();
    let mut low = Vec::new();
    for i in 0..n {
        if d[i] != FLAT {
            continue;
        }
        let (mut higher, mut drains) = (false, false);
        for k in 0..8 {
            let m = nb(i, k);
            higher |= z[m] > z[i];
            drains |= d[m] != FLAT && d[m] != NO_DATA && z[m] == z[i];
        }
        if higher {
            mask[i] = 1;
            high.push(i as u32);
        }
        if drains {
            low.push(i as u32);
        }
    }
    // Away from higher: BFS levels over flat cells of the same elevation (adjacent flat cells of
    // equal elevation are in the same flat, so no labels are needed). Cells are marked when
    // queued, so each is queued once.
    let mut level = high;
    let mut next = Vec::new();
    let mut loops = 1u32;
    while !level.is_empty() {
        for &c in &level {
            let c = c as usize;
            for k in 0..8 {
                let m = nb(c, k);
                if d[m] == FLAT && mask[m] == 0 && z[m] == z[c] {
                    mask[m] = loops + 1;
                    next.push(m as u32);
                }
            }
        }
        std::mem::swap(&mut level, &mut next);
        next.clear();
        loops += 1;
    }
    // Barnes et al. subtract each away value from its flat's height to keep the mask positive;
    // within a flat any common constant orders cells the same, so the highest height will do.
    let height = loops;
    // Towards lower: BFS levels from the flat cells beside drained cells (the drained cells, the
    // paper's level 0, get mask 2 implicitly below), combined with the away values in `mask`;
    // `done` marks queued cells.
    let combine = |away: u32, towards: u32| {
        if away > 0 {
            towards.saturating_add(height - away)
        } else {
            towards
        }
    };
    for &c in &low {
        done.set(c as usize);
        mask[c as usize] = combine(mask[c as usize], 4);
    }
    level = low;
    loops = 2;
    while !level.is_empty() {
        let towards = (loops + 1).saturating_mul(2);
        for &c in &level {
            let c = c as usize;
            for k in 0..8 {
                let m = nb(c, k);
                if d[m] == FLAT && !done.get(m) && z[m] == z[c] {
                    done.set(m);
                    mask[m] = combine(mask[m], towards);
                    next.push(m as u32);
                }
            }
        }
        std::mem::swap(&mut level, &mut next);
        next.clear();
        loops += 1;
    }
    // Each flat cell drains to its lowest-mask neighbour in the flat, a drained cell of the same
    // elevation first (mask 2, below every flat cell's); flats the second search never reached
    // have no way out. Directions are written in place, so flat membership is `done` from here.
    for i in 0..n {
        if d[i] != FLAT {
            continue;
        }
        let mut best = (mask[i], OUTLET);
        if done.get(i) {
            for k in 0..8 {
                let m = nb(i, k);
                if z[m] != z[i] {
                    continue;
                }
                // A neighbour of the same elevation is in this flat, so reached (`done`), or a
                // drained cell (flat cells have no nodata neighbours).
                let mk = if done.get(m) { mask[m] } else { 2 };
                if mk < best.0 {
                    best = (mk, k as u8);
                }
            }
        }
        d[i] = best.1;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::flowdir::d8;
    use super::*;
    use crate::GridGeometry;

    #[test]
    fn flat_drains_to_its_outlet_away_from_higher_ground() {
        // A 3x5 flat at 5 inside a rim at 9, draining through one gap on the east side.
        #[rustfmt::skip]
        let data = vec![
            9., 9., 9., 9., 9., 9., 9.,
            9., 5., 5., 5., 5., 5., 9.,
            9., 5., 5., 5., 5., 5., 4.,
            9., 5., 5., 5., 5., 5., 9.,
            9., 9., 9., 9., 9., 9., 9.,
        ];
        let geom = GridGeometry {
            cols: 7,
            rows: 5,
            x0: 0.0,
            y0: 5.0,
            dx: 1.0,
            dy: 1.0,
            crs: None,
        };
        let dem = Raster {
            geom,
            data,
            nodata: None,
        };
        let dirs = d8(&dem).unwrap();
        // The cell beside the gap drains east into it.
        assert_eq!(dirs.data[2 * 7 + 5], 2);
        // Every interior cell reaches the gap cell (2, 6).
        for r in 1..4 {
            for c in 1..6 {
                let mut i = r * 7 + c;
                let mut steps = 0;
                while i != 2 * 7 + 6 {
                    let k = dirs.data[i];
                    assert!(k < 8, "cell {i} has code {k}");
                    i = super::super::downstream(&dirs.geom, i, k).unwrap();
                    steps += 1;
                    assert!(steps < 50);
                }
            }
        }
    }
}
