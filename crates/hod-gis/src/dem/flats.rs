//! Drainage across flats (Barnes, Lehman & Mulla 2014, "An efficient assignment of drainage
//! direction over flat surfaces in raster digital elevation models", Computers & Geosciences 62,
//! 128–135).
//!
//! A flat is a connected area of equal elevation holding cells without a lower neighbour. Two
//! breadth-first searches give each such cell a mask value: one grows from the flat's edges
//! next to higher terrain ("away from higher"), one from the cells through which the flat drains
//! ("towards lower"); the mask is `2 × towards + (height − away)`, so water moves towards the
//! outlets first and away from higher ground second, and every flat cell has a neighbour in its
//! flat with a strictly smaller mask. Each flat cell then drains to its lowest-mask neighbour.
//! Cells in flats that cannot drain (pits of an unfilled DEM) become outlets.
//!
//! Memory while it runs, only when there are flats: a `u32` flat label and a `u32` mask per cell
//! (8 bytes per cell), plus the BFS queues (4 bytes per queued cell).

use super::flowdir::FLAT;
use super::{FlowDir, NO_DATA, OUTLET, neighbour};
use crate::Raster;

/// Gives every [`FLAT`] cell of `dirs` a direction across its flat of `dem`, or [`OUTLET`] when
/// the flat has no way out.
pub(crate) fn resolve(dem: &Raster<f32>, dirs: &mut FlowDir) {
    let g = dirs.geom.clone();
    let z = &dem.data;
    let d = &mut dirs.data;
    if !d.contains(&FLAT) {
        return;
    }
    let n = g.len();
    let gr = &g;
    let neighbours = |i: usize| {
        let (r, c) = (i / gr.cols, i % gr.cols);
        (0..8).filter_map(move |k| neighbour(gr, r, c, k).map(|n| (k, n)))
    };
    // Edges: drained cells beside a flat cell of the same elevation, and flat cells beside
    // higher ground.
    let mut low = Vec::new();
    let mut high = Vec::new();
    for i in 0..n {
        match d[i] {
            NO_DATA => {}
            FLAT => {
                if neighbours(i).any(|(_, m)| d[m] != NO_DATA && z[m] > z[i]) {
                    high.push(i as u32);
                }
            }
            _ => {
                if neighbours(i).any(|(_, m)| d[m] == FLAT && z[m] == z[i]) {
                    low.push(i as u32);
                }
            }
        }
    }
    // Label each flat by flood fill from its low edges over equal elevation.
    let mut label = vec![0u32; n];
    let mut heights = vec![0u32];
    let mut stack = Vec::new();
    for &s in &low {
        if label[s as usize] != 0 {
            continue;
        }
        let l = heights.len() as u32;
        heights.push(0);
        label[s as usize] = l;
        stack.push(s);
        while let Some(c) = stack.pop() {
            let c = c as usize;
            for (_, m) in neighbours(c) {
                if label[m] == 0 && d[m] != NO_DATA && z[m] == z[c] {
                    label[m] = l;
                    stack.push(m as u32);
                }
            }
        }
    }
    // Away from higher: BFS levels from the high edges of drainable flats.
    let mut mask = vec![0u32; n];
    let mut level: Vec<u32> = high.into_iter().filter(|&h| label[h as usize] != 0).collect();
    let mut next = Vec::new();
    let mut loops = 0u32;
    while !level.is_empty() {
        loops += 1;
        for &c in &level {
            let c = c as usize;
            if mask[c] != 0 {
                continue;
            }
            mask[c] = loops;
            heights[label[c] as usize] = loops;
            for (_, m) in neighbours(c) {
                if label[m] == label[c] && d[m] == FLAT && mask[m] == 0 {
                    next.push(m as u32);
                }
            }
        }
        std::mem::swap(&mut level, &mut next);
        next.clear();
    }
    // Towards lower: BFS levels from the low edges; combine with the first gradient. `done`
    // marks visited cells (the away values are still in `mask`).
    let mut done = super::BitSet::new(n);
    level = low;
    loops = 0;
    while !level.is_empty() {
        loops += 1;
        for &c in &level {
            let c = c as usize;
            if done.get(c) {
                continue;
            }
            done.set(c);
            let away = mask[c];
            let towards = loops.saturating_mul(2);
            mask[c] = if away > 0 {
                towards.saturating_add(heights[label[c] as usize] - away)
            } else {
                towards
            };
            for (_, m) in neighbours(c) {
                if label[m] == label[c] && d[m] == FLAT && !done.get(m) {
                    next.push(m as u32);
                }
            }
        }
        std::mem::swap(&mut level, &mut next);
        next.clear();
    }
    for i in 0..n {
        if d[i] != FLAT {
            continue;
        }
        let mut best = (mask[i], OUTLET);
        if label[i] != 0 {
            for (k, m) in neighbours(i) {
                if label[m] == label[i] && mask[m] < best.0 {
                    best = (mask[m], k as u8);
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
