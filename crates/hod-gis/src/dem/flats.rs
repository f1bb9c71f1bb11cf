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
//! (the paper's label grid). Flat cells are never on the grid edge nor next to nodata (those are
//! outlets), so their neighbours are at fixed index offsets with no checks. Within a flat the
//! levels of two neighbours differ by at most one in each search, so the mask difference of
//! neighbours, `2 × Δtowards − Δaway`, follows from the levels modulo 3: the paper's heights and
//! full masks are not needed, and a cell's whole state fits one `u16` (which neighbours are in its
//! flat, and each search's level mod 3 and whether it reached the cell).
//!
//! Passes: one scan of the flat cells in parallel bands of rows (neighbour bits and the edges;
//! a cell beside a drained cell of its elevation takes the first such, whose mask is below every
//! flat cell's); the two searches level by level over all flats at once, each large level split
//! between threads (a cell reached twice in one level gets the same bits either way, so plain
//! atomic loads and stores suffice); one parallel pass choosing the directions. Labelling the
//! flats to process them in parallel (tried) cost more passes than two cores win back. Memory
//! while it runs, only when there are flats: 2 bytes per cell plus the edge lists and BFS levels
//! (4 bytes per listed cell).

use super::flowdir::FLAT;
use super::{DC, DR, FlowDir, NO_DATA, OUTLET};
use crate::Raster;
use rayon::prelude::*;
use std::sync::atomic::{AtomicU16, Ordering::Relaxed};

// A flat cell's state, one `u16`: which neighbours are in its flat, and for each search whether
// it reached the cell and at which level modulo 3 (neighbours' levels differ by at most one, so
// that is all the final pass needs to compare their masks).
/// Bit k: neighbour k is a flat cell of the same elevation (so in the same flat).
const SAME: u16 = 0xff;
/// Away level mod 3 (2 bits) and whether the away search reached the cell.
const AWAY_SHIFT: u32 = 8;
const AWAY: u16 = 1 << 10;
/// Towards level mod 3 (2 bits) and whether the towards search reached the cell.
const TOWARDS_SHIFT: u32 = 11;
const TOWARDS: u16 = 1 << 13;
/// First of the level bits.
const LEVELS: u32 = 8;

/// Gives every [`FLAT`] cell of `dirs` a direction across its flat of `dem`, or [`OUTLET`] when
/// the flat has no way out.
pub(crate) fn resolve(dem: &Raster<f32>, dirs: &mut FlowDir) {
    let cols = dirs.geom.cols;
    let z = &dem.data;
    if !dirs.data.contains(&FLAT) {
        return;
    }
    let n = dirs.data.len();
    // Flat cells are interior with valid neighbours (see `flowdir::d8`): fixed offsets.
    let off: [isize; 8] = std::array::from_fn(|k| DR[k] * cols as isize + DC[k]);
    let nb = move |i: usize, k: usize| i.wrapping_add_signed(off[k]);
    // Bands of rows (about 2^16 cells) for the per-cell passes, which run in parallel.
    let band = cols * (1usize << 16).div_ceil(cols.max(1));
    let mut state: Vec<AtomicU16> = (0..n).into_par_iter().map(|_| AtomicU16::new(0)).collect();
    // Edges, found from the flat cells: flat cells beside higher ground ("high", away level 1)
    // and flat cells beside a drained cell of the same elevation ("low", towards level 1), which
    // drain to the first such neighbour (its mask is below every flat cell's).
    let d = &dirs.data;
    let rows = n / cols;
    let edges: Vec<(Vec<u32>, Vec<u32>, Vec<u8>)> = state
        .par_chunks_mut(band)
        .enumerate()
        .map(|(b, out)| {
            let (mut high, mut low, mut low_dir) = (Vec::new(), Vec::new(), Vec::new());
            // Row by row in runs of `RUN` columns, each neighbour direction over the whole run,
            // so that the compiler vectorizes the comparisons.
            const RUN: usize = 64;
            for (rr, out) in out.chunks_mut(cols).enumerate() {
                let r = b * (band / cols) + rr;
                if r == 0 || r + 1 >= rows {
                    continue;
                }
                for c0 in (1..cols - 1).step_by(RUN) {
                    let w = RUN.min(cols - 1 - c0);
                    let i0 = r * cols + c0;
                    let (zc, dc) = (&z[i0..i0 + w], &d[i0..i0 + w]);
                    let (mut higher, mut same, mut drains) = ([false; RUN], [0u16; RUN], [0u8; RUN]);
                    for k in 0..8 {
                        let o = nb(i0, k);
                        let (zn, dn) = (&z[o..o + w], &d[o..o + w]);
                        for ((((h, s), dr), (&zc, &zn)), &dn) in higher
                            .iter_mut()
                            .zip(&mut same)
                            .zip(&mut drains)
                            .zip(zc.iter().zip(zn))
                            .zip(dn)
                        {
                            let eq = zn == zc;
                            *h |= zn > zc;
                            *s |= u16::from(eq & (dn == FLAT)) << k;
                            *dr |= u8::from(eq & (dn != FLAT) & (dn != NO_DATA)) << k;
                        }
                    }
                    for (j, &dc) in dc.iter().enumerate() {
                        if dc != FLAT {
                            continue;
                        }
                        let i = i0 + j;
                        *out[c0 + j].get_mut() = same[j];
                        if higher[j] {
                            high.push(i as u32);
                        }
                        if drains[j] != 0 {
                            low.push(i as u32);
                            low_dir.push(drains[j].trailing_zeros() as u8);
                        }
                    }
                }
            }
            (high, low, low_dir)
        })
        .collect();
    let high: Vec<u32> = edges.iter().flat_map(|e| e.0.iter().copied()).collect();
    let low: Vec<u32> = edges.iter().flat_map(|e| e.1.iter().copied()).collect();
    for (_, l, k) in &edges {
        for (&c, &k) in l.iter().zip(k) {
            dirs.data[c as usize] = k;
        }
    }
    drop(edges);
    // Away from higher, then towards lower: BFS levels over the flat cells of the same elevation
    // (adjacent flat cells of equal elevation are in the same flat, so no labels are needed).
    search(&state, high, AWAY, AWAY_SHIFT, nb);
    search(&state, low, TOWARDS, TOWARDS_SHIFT, nb);
    // Each other flat cell drains to its lowest-mask neighbour in the flat, where the mask is
    // `2 × towards + (height − away)` (first in N, NE, … order among equals); flats the towards
    // search never reached have no way out. Within a flat, neighbours' levels differ by at most
    // one, so the mask difference `2 × Δtowards − Δaway` follows from the levels mod 3. A flat
    // the away search never reached (no higher ground beside it) has away 0 everywhere.
    let state = &state;
    // key[own levels][neighbour levels]: (v + 4) × 8 for the mask difference v = 2 × Δtowards −
    // Δaway when v < 0, else 0xff (levels: the 6 state bits from `LEVELS`).
    let key: Vec<u8> = (0..1usize << 12)
        .map(|x| {
            let (own, other) = ((x >> 6) as u16, (x & 0x3f) as u16);
            let lv = |s: u16, shift: u32| s >> (shift - LEVELS) & 3;
            let v = 2 * delta(lv(other, TOWARDS_SHIFT), lv(own, TOWARDS_SHIFT))
                - delta(lv(other, AWAY_SHIFT), lv(own, AWAY_SHIFT));
            if v < 0 { ((v + 4) as u8) << 3 } else { 0xff }
        })
        .collect();
    let key = &key;
    dirs.data.par_chunks_mut(band).enumerate().for_each(|(b, out)| {
        for (j, o) in out.iter_mut().enumerate() {
            if *o != FLAT {
                continue;
            }
            let i = b * band + j;
            let s = state[i].load(Relaxed);
            if s & TOWARDS == 0 {
                *o = OUTLET;
                continue;
            }
            // The first neighbour with the least key, `(v + 4) × 8 + k` for `v < 0`.
            let row = &key[usize::from(s >> LEVELS & 0x3f) << 6..][..64];
            let mut best = 0xffu8;
            for k in 0..8 {
                let sm = state[nb(i, k)].load(Relaxed);
                let kk = if s >> k & 1 == 1 {
                    row[usize::from(sm >> LEVELS & 0x3f)] | k as u8
                } else {
                    0xff
                };
                best = best.min(kk);
            }
            let dir = if best < 32 { best & 7 } else { OUTLET };
            *o = dir;
        }
    });
}

/// `x − y` for levels known modulo 3 that differ by at most one.
#[inline]
fn delta(x: u16, y: u16) -> i32 {
    [0, 1, -1][usize::from((x + 3 - y) % 3)]
}

/// One breadth-first search over flat cells of the same elevation from `seeds` (level 1),
/// recording in `state` that a cell was reached (`reached`) and its level mod 3 (at `shift`).
/// Cells are marked when queued, so each is queued once (twice at most when two threads find it
/// at the same time).
fn search(
    state: &[AtomicU16],
    seeds: Vec<u32>,
    reached: u16,
    shift: u32,
    nb: impl Fn(usize, usize) -> usize + Sync,
) {
    for &c in &seeds {
        let s = &state[c as usize];
        s.store(s.load(Relaxed) | reached | 1 << shift, Relaxed);
    }
    // Levels of at least this many cells are split between threads.
    const PAR_MIN: usize = 1 << 12;
    let (mut level, mut next) = (seeds, Vec::new());
    let mut l = 1u16;
    while !level.is_empty() {
        l = (l + 1) % 3;
        let mark = reached | l << shift;
        // Marks each unreached neighbour of `cells` for the next level. Two threads may both
        // take a cell: they store the same bits, and the duplicate only costs a second look.
        let expand = |cells: &[u32], next: &mut Vec<u32>| {
            for &c in cells {
                let c = c as usize;
                let mut same = state[c].load(Relaxed) & SAME;
                while same != 0 {
                    let k = same.trailing_zeros() as usize;
                    same &= same - 1;
                    let m = nb(c, k);
                    let s = state[m].load(Relaxed);
                    if s & reached == 0 {
                        state[m].store(s | mark, Relaxed);
                        next.push(m as u32);
                    }
                }
            }
        };
        if level.len() < PAR_MIN {
            expand(&level, &mut next);
        } else {
            let parts: Vec<Vec<u32>> = level
                .par_chunks(PAR_MIN / 2)
                .map(|cells| {
                    let mut next = Vec::new();
                    expand(cells, &mut next);
                    next
                })
                .collect();
            next = parts.concat();
        }
        std::mem::swap(&mut level, &mut next);
        next.clear();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::flowdir::{d8, steepest};
    use super::super::{BitSet, fill};
    use super::*;
    use hod_testkit::rng::Lcg;

    /// Barnes et al.'s masks as first written here (full levels, `2 × towards + (height −
    /// away)` per cell), to check that the levels mod 3 give the same directions.
    fn reference(dem: &Raster<f32>, d: &mut [u8]) {
        let (cols, z, n) = (dem.geom.cols, &dem.data, d.len());
        let off: [isize; 8] = std::array::from_fn(|k| DR[k] * cols as isize + DC[k]);
        let nb = move |i: usize, k: usize| i.wrapping_add_signed(off[k]);
        let (mut mask, mut done) = (vec![0u32; n], BitSet::new(n));
        let (mut high, mut low) = (Vec::new(), Vec::new());
        for i in (0..n).filter(|&i| d[i] == FLAT) {
            let higher = (0..8).any(|k| z[nb(i, k)] > z[i]);
            let drains = (0..8).any(|k| {
                let m = nb(i, k);
                d[m] != FLAT && d[m] != NO_DATA && z[m] == z[i]
            });
            if higher {
                mask[i] = 1;
                high.push(i);
            }
            if drains {
                low.push(i);
            }
        }
        let (mut level, mut loops) = (high, 1u32);
        while !level.is_empty() {
            let mut next = Vec::new();
            for &c in &level {
                for m in (0..8).map(|k| nb(c, k)) {
                    if d[m] == FLAT && mask[m] == 0 && z[m] == z[c] {
                        mask[m] = loops + 1;
                        next.push(m);
                    }
                }
            }
            (level, loops) = (next, loops + 1);
        }
        let height = loops;
        let combine = |away: u32, towards: u32| {
            if away > 0 {
                towards + height - away
            } else {
                towards
            }
        };
        for &c in &low {
            done.set(c);
            mask[c] = combine(mask[c], 4);
        }
        (level, loops) = (low, 2);
        while !level.is_empty() {
            let mut next = Vec::new();
            for &c in &level {
                for m in (0..8).map(|k| nb(c, k)) {
                    if d[m] == FLAT && !done.get(m) && z[m] == z[c] {
                        done.set(m);
                        mask[m] = combine(mask[m], (loops + 1) * 2);
                        next.push(m);
                    }
                }
            }
            (level, loops) = (next, loops + 1);
        }
        for i in 0..n {
            if d[i] != FLAT {
                continue;
            }
            let mut best = (mask[i], OUTLET);
            for k in (0..8).filter(|_| done.get(i)) {
                let m = nb(i, k);
                let mk = if done.get(m) { mask[m] } else { 2 };
                if z[m] == z[i] && mk < best.0 {
                    best = (mk, k as u8);
                }
            }
            d[i] = best.1;
        }
    }

    #[test]
    fn same_directions_as_the_full_masks() {
        let mut rng = Lcg(7);
        for case in 0..61 {
            // The last one has BFS levels large enough to be split between threads.
            let (rows, cols) = match case {
                60 => (400, 400),
                _ => (5 + rng.next(60) as usize, 5 + rng.next(60) as usize),
            };
            let levels = 2 + rng.next(6);
            let mut data: Vec<f32> = (0..rows * cols).map(|_| rng.next(levels) as f32).collect();
            for _ in 0..rng.next(4) {
                data[rng.next((rows * cols) as u64) as usize] = f32::NAN;
            }
            let mut dem = Raster::unit(rows, cols, data);
            // Unfilled (pits and flats without outlet) and filled (large flats).
            for filled in [false, true] {
                if filled {
                    fill::fill_depressions(&mut dem).unwrap();
                }
                let mut want = steepest(&dem).unwrap().data;
                reference(&dem, &mut want);
                assert_eq!(d8(&dem).unwrap().data, want, "case {case}, filled {filled}");
            }
        }
    }

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
        let dem = Raster::unit(5, 7, data);
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
