//! Basin masks to polygons: the cell edges between a basin and the rest, traced into rings.
//!
//! Edges are oriented with the basin on their left, so outer rings run counter-clockwise and
//! holes clockwise (RFC 7946's right-hand rule). Where two basin cells touch only at a corner
//! the tracer turns towards the basin, keeping 4-connected parts apart: parts meeting at a
//! point become separate polygons of a multipolygon, and a ring that would touch itself is split
//! there into an outer ring and a hole touching it (both valid in the OGC model). Each ring is
//! then assigned to its 4-connected part of the basin. Only corners where the boundary turns
//! are kept.
//!
//! Memory: one byte per grid vertex of the basin's bounding box, a `u32` part label per cell of
//! the box, and the rings.

use crate::Raster;
use std::collections::HashMap;

/// A polygon: its outer ring, then its holes; each ring closed (first point repeated last).
pub type Polygon = Vec<Ring>;

/// A closed ring of (x, y) points.
pub type Ring = Vec<(f64, f64)>;

// Directions of travel along an edge, as bits of the per-vertex outgoing-edge set.
const EAST: u8 = 0;
const NORTH: u8 = 1;
const WEST: u8 = 2;
const SOUTH: u8 = 3;

/// The polygons covering the cells of `labels` equal to `label` within the inclusive box
/// `(row0, col0, row1, col1)`, in the grid's coordinates.
pub fn polygons(labels: &Raster<u32>, label: u32, bbox: (usize, usize, usize, usize)) -> Vec<Polygon> {
    let g = &labels.geom;
    let (r0, c0, r1, c1) = (
        bbox.0,
        bbox.1,
        bbox.2.min(g.rows.saturating_sub(1)),
        bbox.3.min(g.cols.saturating_sub(1)),
    );
    if r0 > r1 || c0 > c1 {
        return Vec::new();
    }
    let (h, w) = (r1 - r0 + 1, c1 - c0 + 1);
    let inside = |r: isize, c: isize| {
        r >= 0
            && c >= 0
            && (r as usize) < h
            && (c as usize) < w
            && labels.data.get((r as usize + r0) * g.cols + c as usize + c0) == Some(&label)
    };
    // Outgoing edges per vertex (vertex (i, j) = north-west corner of box cell (i, j)).
    let vw = w + 1;
    let mut out = vec![0u8; (h + 1) * vw];
    for r in 0..h as isize {
        for c in 0..w as isize {
            if !inside(r, c) {
                continue;
            }
            let (ru, cu) = (r as usize, c as usize);
            if !inside(r - 1, c) {
                out[ru * vw + cu + 1] |= 1 << WEST;
            }
            if !inside(r + 1, c) {
                out[(ru + 1) * vw + cu] |= 1 << EAST;
            }
            if !inside(r, c - 1) {
                out[ru * vw + cu] |= 1 << SOUTH;
            }
            if !inside(r, c + 1) {
                out[(ru + 1) * vw + cu + 1] |= 1 << NORTH;
            }
        }
    }
    let step = |v: usize, dir: u8| match dir {
        EAST => v + 1,
        NORTH => v - vw,
        WEST => v - 1,
        _ => v + vw,
    };
    // The basin cell on the left of an edge leaving `v` in `dir`.
    let left_cell = |v: usize, dir: u8| {
        let (i, j) = (v / vw, v % vw);
        match dir {
            EAST => (i - 1, j),
            NORTH => (i - 1, j - 1),
            WEST => (i, j - 1),
            _ => (i, j),
        }
    };
    let part = parts(&inside, h, w);
    let mut rings: Vec<(u32, Vec<usize>)> = Vec::new();
    for start in 0..out.len() {
        while out[start] != 0 {
            let first = out[start].trailing_zeros() as u8;
            let (li, lj) = left_cell(start, first);
            let owner = part[li * w + lj];
            out[start] &= !(1 << first);
            let mut corners = vec![start];
            let (mut v, mut dir) = (step(start, first), first);
            loop {
                // Prefer turning left (towards the basin), then straight, then right.
                let avail = out[v] | if v == start { 1 << first } else { 0 };
                let Some(next) = [(dir + 1) % 4, dir, (dir + 3) % 4]
                    .into_iter()
                    .find(|d| avail >> d & 1 == 1)
                else {
                    break;
                };
                if v == start && next == first {
                    break;
                }
                out[v] &= !(1 << next);
                if next != dir {
                    corners.push(v);
                }
                v = step(v, next);
                dir = next;
            }
            split_at_repeats(corners, &mut |ring| rings.push((owner, ring)));
        }
    }
    // Group rings by part: the counter-clockwise one is the outer ring.
    let coord = |v: usize| {
        let (i, j) = (v / vw, v % vw);
        (g.x0 + (j + c0) as f64 * g.dx, g.y0 - (i + r0) as f64 * g.dy)
    };
    // Per part: the outer ring (once found) and the holes.
    let mut by_part: HashMap<u32, (Option<Ring>, Vec<Ring>)> = HashMap::new();
    let mut order = Vec::new();
    for (owner, ring) in rings {
        let mut pts: Vec<(f64, f64)> = ring.iter().map(|&v| coord(v)).collect();
        if let Some(&p) = pts.first() {
            pts.push(p);
        }
        let entry = by_part.entry(owner).or_insert_with(|| {
            order.push(owner);
            (None, Vec::new())
        });
        if signed_area(&pts) > 0.0 && entry.0.is_none() {
            entry.0 = Some(pts);
        } else {
            entry.1.push(pts);
        }
    }
    order
        .into_iter()
        .filter_map(|p| by_part.remove(&p))
        .filter_map(|(outer, holes)| {
            outer.map(|o| {
                let mut poly = vec![o];
                poly.extend(holes);
                poly
            })
        })
        .collect()
}

/// Splits a closed corner sequence wherever a vertex repeats, giving simple rings.
fn split_at_repeats(corners: Vec<usize>, emit: &mut dyn FnMut(Vec<usize>)) {
    let mut stack: Vec<usize> = Vec::with_capacity(corners.len());
    let mut at: HashMap<usize, usize> = HashMap::new();
    for v in corners {
        if let Some(&p) = at.get(&v) {
            let ring: Vec<usize> = stack.drain(p..).collect();
            for u in &ring {
                at.remove(u);
            }
            emit(ring);
        }
        at.insert(v, stack.len());
        stack.push(v);
    }
    if !stack.is_empty() {
        emit(stack);
    }
}

/// 4-connected parts of the cells `inside` marks, labelled from 1 (0 = outside).
fn parts(inside: &dyn Fn(isize, isize) -> bool, h: usize, w: usize) -> Vec<u32> {
    let mut part = vec![0u32; h * w];
    let mut next = 0u32;
    let mut stack = Vec::new();
    for s in 0..h * w {
        if part[s] != 0 || !inside((s / w) as isize, (s % w) as isize) {
            continue;
        }
        next += 1;
        part[s] = next;
        stack.push(s);
        while let Some(c) = stack.pop() {
            let (r, cc) = ((c / w) as isize, (c % w) as isize);
            for (dr, dc) in [(-1, 0), (1, 0), (0, -1), (0, 1)] {
                let (nr, nc) = (r + dr, cc + dc);
                if inside(nr, nc) {
                    let n = nr as usize * w + nc as usize;
                    if part[n] == 0 {
                        part[n] = next;
                        stack.push(n);
                    }
                }
            }
        }
    }
    part
}

/// Twice the signed area of a closed ring (positive = counter-clockwise).
fn signed_area(pts: &[(f64, f64)]) -> f64 {
    pts.windows(2).map(|p| p[0].0 * p[1].1 - p[1].0 * p[0].1).sum()
}

/// The geometry a basin's polygons make as GeoJSON text: a `Polygon` for one part, a
/// `MultiPolygon` for several.
pub fn geojson_geometry(polys: &[Polygon]) -> String {
    let ring = |r: &Vec<(f64, f64)>| {
        let pts: Vec<String> = r.iter().map(|(x, y)| format!("[{x},{y}]")).collect();
        format!("[{}]", pts.join(","))
    };
    let poly = |p: &Polygon| format!("[{}]", p.iter().map(ring).collect::<Vec<_>>().join(","));
    match polys {
        [one] => format!("{{\"type\":\"Polygon\",\"coordinates\":{}}}", poly(one)),
        _ => format!(
            "{{\"type\":\"MultiPolygon\",\"coordinates\":[{}]}}",
            polys.iter().map(poly).collect::<Vec<_>>().join(",")
        ),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn labels(rows: usize, cols: usize, data: Vec<u32>) -> Raster<u32> {
        Raster::unit(rows, cols, data)
    }

    #[test]
    fn ring_with_hole_and_diagonal_part() {
        #[rustfmt::skip]
        let l = labels(5, 5, vec![
            1, 1, 1, 0, 0,
            1, 0, 1, 0, 0,
            1, 1, 1, 0, 0,
            0, 0, 0, 1, 0,
            0, 0, 0, 0, 0,
        ]);
        let p = polygons(&l, 1, (0, 0, 4, 4));
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].len(), 2, "outer ring and hole");
        assert_eq!(p[0][0].len(), 5);
        assert!(signed_area(&p[0][0]) > 0.0 && signed_area(&p[0][1]) < 0.0);
        assert_eq!(signed_area(&p[0][0]) / 2.0 + signed_area(&p[0][1]) / 2.0, 8.0);
        assert_eq!(signed_area(&p[1][0]) / 2.0, 1.0);
    }

    #[test]
    fn self_touching_ring_becomes_outer_ring_and_hole() {
        // A C shape whose tips touch at a corner around the hole cell (1, 1).
        #[rustfmt::skip]
        let l = labels(3, 3, vec![
            1, 1, 1,
            1, 0, 1,
            1, 1, 0,
        ]);
        let p = polygons(&l, 1, (0, 0, 2, 2));
        assert_eq!(p.len(), 1);
        let total: f64 = p[0].iter().map(|r| signed_area(r) / 2.0).sum();
        assert_eq!(total, 7.0);
    }
}
