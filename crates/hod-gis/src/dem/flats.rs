//! Drainage across flats (Barnes, Lehman & Mulla 2014, "An efficient assignment of drainage
//! direction over flat surfaces in raster digital elevation models", Computers & Geosciences 62,
//! 128–135).
//!
//! A flat is a connected area of equal elevation of cells without a lower neighbour, with the
//! drained cells beside it through which it drains (its low edges). Two
//! breadth-first searches give each flat cell a mask value: one grows from the flat's edges
//! next to higher terrain ("away from higher"), one from the cells through which the flat drains
//! ("towards lower"); the mask is `2 × towards + (height − away)`, so water moves towards the
//! outlets first and away from higher ground second, and every flat cell has a neighbour in its
//! flat with a strictly smaller mask. Each flat cell then drains to its lowest-mask neighbour.
//! Cells in flats that cannot drain (pits of an unfilled DEM) become outlets.
//!
//! Flats are labelled first (the paper's label grid, here each flat's cells listed together);
//! they are independent, so the two searches run flat by flat in parallel, each on arrays of its
//! own cells. Memory while it runs, only when there are flats: a `u32` per cell (position of a
//! flat cell in its flat), then per flat cell 4 bytes (the list), 1 byte (its direction) and, per
//! flat being processed, 12 bytes (two search distances and a queue).

use super::flowdir::FLAT;
use super::{DC, DR, FlowDir, NO_DATA, OUTLET};
use crate::Raster;
use rayon::prelude::*;

/// A flat cell already listed in its flat.
const LISTED: u8 = 10;
/// Flats are handed to threads in groups of about this many cells.
const GROUP_CELLS: usize = 1 << 16;

/// Gives every [`FLAT`] cell of `dirs` a direction across its flat of `dem`, or [`OUTLET`] when
/// the flat has no way out.
pub(crate) fn resolve(dem: &Raster<f32>, dirs: &mut FlowDir) {
    let cols = dirs.geom.cols;
    let z = &dem.data;
    let d = &mut dirs.data;
    if !d.contains(&FLAT) {
        return;
    }
    // Flat cells are never on the grid edge nor next to nodata (those are outlets, see
    // `flowdir::d8`), so all eight neighbours are valid cells at fixed index offsets.
    let off: [isize; 8] = std::array::from_fn(|k| DR[k] * cols as isize + DC[k]);
    // Label: the cells of each flat, listed together (`cells[starts[f]..starts[f + 1]]`), and
    // each flat cell's position in its flat.
    let mut pos = vec![0u32; d.len()];
    let mut cells: Vec<u32> = Vec::new();
    let mut starts: Vec<u32> = vec![0];
    for i in 0..d.len() {
        if d[i] != FLAT {
            continue;
        }
        let first = cells.len();
        let ze = z[i];
        d[i] = LISTED;
        cells.push(i as u32);
        let mut k = first;
        while let Some(&c) = cells.get(k) {
            for o in off {
                let n = (c as usize).wrapping_add_signed(o);
                if d[n] == FLAT && z[n] == ze {
                    d[n] = LISTED;
                    pos[n] = (cells.len() - first) as u32;
                    cells.push(n as u32);
                }
            }
            k += 1;
        }
        starts.push(cells.len() as u32);
    }
    // Groups of whole flats, each with its slice of the output.
    let mut out = vec![OUTLET; cells.len()];
    let mut jobs = Vec::new();
    {
        let mut rest: &mut [u8] = &mut out;
        let mut f = 0;
        while f + 1 < starts.len() {
            let mut g = f + 1;
            while g + 1 < starts.len() && ((starts[g] - starts[f]) as usize) < GROUP_CELLS {
                g += 1;
            }
            let (mine, tail) = std::mem::take(&mut rest).split_at_mut((starts[g] - starts[f]) as usize);
            rest = tail;
            jobs.push((&starts[f..=g], mine));
            f = g;
        }
    }
    let (d_ro, pos, cells) = (&*d, &pos, &cells);
    jobs.into_par_iter().for_each(|(bounds, out)| {
        let mut scratch = Scratch::default();
        let base = bounds[0] as usize;
        for w in bounds.windows(2) {
            let (a, b) = (w[0] as usize, w[1] as usize);
            drain(
                &cells[a..b],
                z,
                d_ro,
                pos,
                &off,
                &mut scratch,
                &mut out[a - base..b - base],
            );
        }
    });
    for (&c, &o) in cells.iter().zip(&out) {
        d[c as usize] = o;
    }
}

/// Per-thread buffers, reused from flat to flat.
#[derive(Default)]
struct Scratch {
    away: Vec<u32>,
    towards: Vec<u32>,
    level: Vec<u32>,
    next: Vec<u32>,
}

/// Directions of the cells of one flat (`flat`, global indices; `pos` maps them back).
fn drain(flat: &[u32], z: &[f32], d: &[u8], pos: &[u32], off: &[isize; 8], s: &mut Scratch, out: &mut [u8]) {
    let ze = z[flat[0] as usize];
    let nb = |c: u32, k: usize| (c as usize).wrapping_add_signed(off[k]);
    // In this flat: listed and of its elevation (adjacent flat cells of equal elevation are
    // always in the same flat).
    let inside = |n: usize| d[n] == LISTED && z[n] == ze;
    let m = flat.len();
    s.away.clear();
    s.away.resize(m, 0);
    s.towards.clear();
    s.towards.resize(m, 0);
    // Away from higher: BFS levels from the cells beside higher ground (level 1).
    s.level.clear();
    for (p, &c) in flat.iter().enumerate() {
        if (0..8).any(|k| z[nb(c, k)] > ze) {
            s.away[p] = 1;
            s.level.push(p as u32);
        }
    }
    let mut depth = 1u32;
    while !s.level.is_empty() {
        depth += 1;
        s.next.clear();
        for &p in &s.level {
            for k in 0..8 {
                let n = nb(flat[p as usize], k);
                if inside(n) {
                    let q = pos[n] as usize;
                    if s.away[q] == 0 {
                        s.away[q] = depth;
                        s.next.push(q as u32);
                    }
                }
            }
        }
        std::mem::swap(&mut s.level, &mut s.next);
    }
    // Towards lower: BFS levels from the cells beside a drained cell of the same elevation.
    s.level.clear();
    for (p, &c) in flat.iter().enumerate() {
        if (0..8).any(|k| {
            let n = nb(c, k);
            d[n] != LISTED && d[n] != NO_DATA && z[n] == ze
        }) {
            s.towards[p] = 1;
            s.level.push(p as u32);
        }
    }
    let mut depth = 1u32;
    while !s.level.is_empty() {
        depth += 1;
        s.next.clear();
        for &p in &s.level {
            for k in 0..8 {
                let n = nb(flat[p as usize], k);
                if inside(n) {
                    let q = pos[n] as usize;
                    if s.towards[q] == 0 {
                        s.towards[q] = depth;
                        s.next.push(q as u32);
                    }
                }
            }
        }
        std::mem::swap(&mut s.level, &mut s.next);
    }
    // Mask: either every cell of the flat has an away value or none has (the search reaches the
    // whole flat), so `height − away` with this flat's height orders the cells as Barnes et al.'s
    // global one does. Drained cells (the low edges) rank below every flat cell (mask 0).
    let height = s.away.iter().copied().max().unwrap_or(0) + 1;
    let mask = |q: usize| {
        let a = s.away[q];
        2 * s.towards[q] + if a > 0 { height - a } else { 0 }
    };
    for (p, &c) in flat.iter().enumerate() {
        if s.towards[p] == 0 {
            // The flat has no way out.
            continue;
        }
        let mut best = (mask(p), OUTLET);
        for k in 0..8 {
            let n = nb(c, k);
            if z[n] != ze || d[n] == NO_DATA {
                continue;
            }
            let mk = if d[n] == LISTED { mask(pos[n] as usize) } else { 0 };
            if mk < best.0 {
                best = (mk, k as u8);
            }
        }
        out[p] = best.1;
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
