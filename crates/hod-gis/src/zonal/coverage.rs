//! Exact fraction of each grid cell covered by a (multi)polygon.
//!
//! Method: in grid units (cells are unit squares, `u` east, `v` south from the window's
//! north-west corner), the area of a ring's interior inside row band `[r, r+1]` and column
//! `[c, c+1]` is `±∫ clamp(v(u) − r, 0, 1) du` along the ring, restricted to `u ∈ [c, c+1]`.
//! Each edge is split where it crosses cell lines (the traversal of Baston's exactextract, also
//! Amanatides & Woo 1987); a piece inside cell `(r, c)` adds its trapezoid `du · (v̄ − r)` there and
//! a full `du` to every row north of it. The second part is accumulated once per cell and summed
//! up each column at the end, so the work is O(boundary cells + window cells).

use crate::GridGeometry;
use geo_types::{LineString, MultiPolygon};

/// Vertices this close to a cell line (in cells) are put on it, so that polygons built from cell
/// edges give exactly 0 or 1.
const SNAP: f64 = 1e-10;
/// Fractions this close to 0 or 1 are rounding noise.
const NOISE: f64 = 1e-12;

/// Covered fractions over a window of the grid (the cells the polygon's bounding box touches).
#[derive(Debug, Clone, PartialEq)]
pub struct Coverage {
    /// Grid row of the window's first row.
    pub row0: usize,
    /// Grid column of the window's first column.
    pub col0: usize,
    /// Window rows.
    pub rows: usize,
    /// Window columns.
    pub cols: usize,
    /// Fraction of each window cell inside the polygon, in `[0, 1]`, row-major.
    pub fractions: Vec<f64>,
}

impl Coverage {
    /// Fraction of grid cell (`row`, `col`) covered; 0 outside the window.
    pub fn get(&self, row: usize, col: usize) -> f64 {
        if row < self.row0 || col < self.col0 || row - self.row0 >= self.rows || col - self.col0 >= self.cols
        {
            return 0.0;
        }
        self.fractions
            .get((row - self.row0) * self.cols + col - self.col0)
            .copied()
            .unwrap_or(0.0)
    }

    /// `(grid row, grid column, fraction)` of the cells with a fraction above 0.
    pub fn covered(&self) -> impl Iterator<Item = (usize, usize, f64)> + '_ {
        self.fractions
            .iter()
            .enumerate()
            .filter(|(_, f)| **f > 0.0)
            .map(|(i, &f)| (self.row0 + i / self.cols, self.col0 + i % self.cols, f))
    }
}

/// Exact covered fraction of every cell of `grid` that `shape` touches.
///
/// Rings may run either way round; the first ring of each polygon is its exterior, the others
/// holes. Parts outside the grid are ignored. On a geographic grid ([`GridGeometry::is_geographic`])
/// the polygon is also tried shifted by ±360° so that −180..180 polygons fit 0..360 grids and
/// the other way round (a polygon across the grid's seam gets both parts).
pub fn coverage(grid: &GridGeometry, shape: &MultiPolygon<f64>) -> Coverage {
    let empty = Coverage {
        row0: 0,
        col0: 0,
        rows: 0,
        cols: 0,
        fractions: Vec::new(),
    };
    let Some((w, s, e, n)) = bounds(shape) else {
        return empty;
    };
    let shifts: &[f64] = if grid.is_geographic() {
        &[0.0, -360.0, 360.0]
    } else {
        &[0.0]
    };
    let (gx1, gy1) = (
        grid.x0 + grid.cols as f64 * grid.dx,
        grid.y0 - grid.rows as f64 * grid.dy,
    );
    // Grid index windows of each shift that overlaps the grid, and their union.
    let col_range = |lo: f64, hi: f64| {
        let a = ((lo - grid.x0) / grid.dx).floor().clamp(0.0, grid.cols as f64) as usize;
        let b = ((hi - grid.x0) / grid.dx).ceil().clamp(0.0, grid.cols as f64) as usize;
        (a, b)
    };
    let used: Vec<f64> = shifts
        .iter()
        .copied()
        .filter(|sh| w + sh < gx1 && e + sh > grid.x0 && s < grid.y0 && n > gy1)
        .collect();
    if used.is_empty() {
        return empty;
    }
    let r0 = ((grid.y0 - n) / grid.dy).floor().clamp(0.0, grid.rows as f64) as usize;
    let r1 = ((grid.y0 - s) / grid.dy).ceil().clamp(0.0, grid.rows as f64) as usize;
    let (mut c0, mut c1) = (usize::MAX, 0);
    for sh in &used {
        let (a, b) = col_range(w + sh, e + sh);
        (c0, c1) = (c0.min(a), c1.max(b));
    }
    if r1 <= r0 || c1 <= c0 {
        return empty;
    }
    let mut acc = Accumulator::new(r1 - r0, c1 - c0);
    for sh in used {
        let to_local = |x: f64, y: f64| {
            (
                snap((x + sh - grid.x0) / grid.dx - c0 as f64),
                snap((grid.y0 - y) / grid.dy - r0 as f64),
            )
        };
        for poly in &shape.0 {
            let rings =
                std::iter::once((poly.exterior(), 1.0)).chain(poly.interiors().iter().map(|r| (r, -1.0)));
            for (ring, role) in rings {
                acc.add_ring(ring, role, &to_local);
            }
        }
    }
    Coverage {
        row0: r0,
        col0: c0,
        rows: r1 - r0,
        cols: c1 - c0,
        fractions: acc.finish(),
    }
}

fn bounds(shape: &MultiPolygon<f64>) -> Option<(f64, f64, f64, f64)> {
    let mut pts = shape.0.iter().flat_map(|p| p.exterior().0.iter());
    let first = pts.next()?;
    Some(pts.fold((first.x, first.y, first.x, first.y), |(w, s, e, n), c| {
        (w.min(c.x), s.min(c.y), e.max(c.x), n.max(c.y))
    }))
}

fn snap(x: f64) -> f64 {
    let r = x.round();
    if (x - r).abs() <= SNAP { r } else { x }
}

/// Per window cell: `t` = trapezoids of the pieces inside it, `d` = their `du`, which count in
/// full for every row north of it. `d` has one extra row for the pieces south of the window.
struct Accumulator {
    rows: usize,
    cols: usize,
    t: Vec<f64>,
    d: Vec<f64>,
}

impl Accumulator {
    fn new(rows: usize, cols: usize) -> Accumulator {
        Accumulator {
            rows,
            cols,
            t: vec![0.0; rows * cols],
            d: vec![0.0; (rows + 1) * cols],
        }
    }

    /// Adds a ring's covered area with sign `role` (+1 exterior, −1 hole), whatever its
    /// orientation.
    fn add_ring(&mut self, ring: &LineString<f64>, role: f64, to_local: &impl Fn(f64, f64) -> (f64, f64)) {
        let pts: Vec<(f64, f64)> = ring.0.iter().map(|c| to_local(c.x, c.y)).collect();
        let (Some(&first), Some(&last)) = (pts.first(), pts.last()) else {
            return;
        };
        let closing = (first != last).then_some((last, first));
        let edges = pts.windows(2).map(|w| (w[0], w[1])).chain(closing);
        // Shoelace in the same convention as the walk: positive for the orientation whose
        // contributions come out positive.
        let signed: f64 = edges.clone().map(|(a, b)| (b.0 - a.0) * (a.1 + b.1)).sum();
        if signed == 0.0 || !signed.is_finite() {
            return;
        }
        let weight = role * signed.signum();
        for (a, b) in edges {
            self.add_edge(a, b, weight);
        }
    }

    /// Clips an edge to the window's columns and rows 0..=`rows` (north of the window counts
    /// nothing, south of it a full `du`), then walks it through the cells.
    fn add_edge(&mut self, a: (f64, f64), b: (f64, f64), weight: f64) {
        let (w, h) = (self.cols as f64, self.rows as f64);
        let du = b.0 - a.0;
        if du == 0.0 || !du.is_finite() {
            return;
        }
        // Clip in u to [0, w].
        let (mut t0, mut t1) = ((0.0 - a.0) / du, (w - a.0) / du);
        if t0 > t1 {
            std::mem::swap(&mut t0, &mut t1);
        }
        let (t0, t1) = (t0.max(0.0), t1.min(1.0));
        if t0 >= t1 {
            return;
        }
        let at = |t: f64| {
            let u = if t == 0.0 {
                a.0
            } else if t == 1.0 {
                b.0
            } else {
                (a.0 + t * du).clamp(0.0, w)
            };
            let v = if t == 0.0 {
                a.1
            } else if t == 1.0 {
                b.1
            } else {
                a.1 + t * (b.1 - a.1)
            };
            (u, v)
        };
        let (p, q) = (at(t0), at(t1));
        // Split where v crosses 0 and h; pieces north of the window add nothing, pieces south of
        // it run along v = h.
        let dv = q.1 - p.1;
        let mut cuts = vec![0.0, 1.0];
        for line in [0.0, h] {
            if dv != 0.0 {
                let t = (line - p.1) / dv;
                if t > 0.0 && t < 1.0 {
                    cuts.push(t);
                }
            }
        }
        cuts.sort_by(f64::total_cmp);
        let point = |t: f64| {
            if t == 0.0 {
                p
            } else if t == 1.0 {
                q
            } else {
                (p.0 + t * (q.0 - p.0), p.1 + t * dv)
            }
        };
        for pair in cuts.windows(2) {
            let (s, e) = (point(pair[0]), point(pair[1]));
            let mid = (s.1 + e.1) / 2.0;
            if mid <= 0.0 {
                continue;
            }
            if mid >= h {
                self.walk((s.0, h), (e.0, h), weight);
            } else {
                self.walk((s.0, s.1.clamp(0.0, h)), (e.0, e.1.clamp(0.0, h)), weight);
            }
        }
    }

    /// Walks a piece inside the window through the cells it crosses, in order.
    fn walk(&mut self, a: (f64, f64), b: (f64, f64), weight: f64) {
        let (du, dv) = (b.0 - a.0, b.1 - a.1);
        if du == 0.0 {
            return;
        }
        let (su, sv) = (du.signum(), dv.signum());
        // The next cell line beyond the start in each direction.
        let mut ku = if du > 0.0 {
            a.0.floor() + 1.0
        } else {
            a.0.ceil() - 1.0
        };
        let mut kv = if dv > 0.0 {
            a.1.floor() + 1.0
        } else {
            a.1.ceil() - 1.0
        };
        let before = |k: f64, end: f64, s: f64| if s > 0.0 { k < end } else { k > end };
        let mut prev = a;
        loop {
            let tu = if before(ku, b.0, su) {
                (ku - a.0) / du
            } else {
                f64::INFINITY
            };
            let tv = if dv != 0.0 && before(kv, b.1, sv) {
                (kv - a.1) / dv
            } else {
                f64::INFINITY
            };
            let next = if tu.is_infinite() && tv.is_infinite() {
                b
            } else if tu < tv {
                let p = (ku, a.1 + tu * dv);
                ku += su;
                p
            } else if tv < tu {
                let p = (a.0 + tv * du, kv);
                kv += sv;
                p
            } else {
                let p = (ku, kv);
                ku += su;
                kv += sv;
                p
            };
            self.piece(prev, next, weight);
            if next == b {
                return;
            }
            prev = next;
        }
    }

    /// A piece inside one cell (or along the south edge of the window).
    fn piece(&mut self, a: (f64, f64), b: (f64, f64), weight: f64) {
        let du = (b.0 - a.0) * weight;
        if du == 0.0 {
            return;
        }
        let c = (((a.0 + b.0) / 2.0).floor().max(0.0) as usize).min(self.cols - 1);
        let vm = (a.1 + b.1) / 2.0;
        let r = (vm.floor().max(0.0) as usize).min(self.rows);
        if r < self.rows {
            self.t[r * self.cols + c] += du * (vm - r as f64);
        }
        self.d[r * self.cols + c] += du;
    }

    /// Fractions: each cell's trapezoids plus the `du` of everything south of it in its column.
    fn finish(self) -> Vec<f64> {
        let (rows, cols) = (self.rows, self.cols);
        let mut out = self.t;
        let mut below: Vec<f64> = self.d[rows * cols..].to_vec();
        for r in (0..rows).rev() {
            let row = r * cols..(r + 1) * cols;
            for ((o, b), d) in out[row.clone()]
                .iter_mut()
                .zip(below.iter_mut())
                .zip(&self.d[row])
            {
                let f = *o + *b;
                *o = if f < NOISE {
                    0.0
                } else if f > 1.0 - NOISE {
                    1.0
                } else {
                    f
                };
                *b += d;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use geo_types::{Coord, Polygon};

    fn grid(cols: usize, rows: usize, x0: f64, y0: f64, d: f64) -> GridGeometry {
        GridGeometry {
            cols,
            rows,
            x0,
            y0,
            dx: d,
            dy: d,
            crs: Some("EPSG:4326".into()),
        }
    }

    fn poly(rings: &[&[(f64, f64)]]) -> MultiPolygon<f64> {
        let ls = |r: &[(f64, f64)]| LineString(r.iter().map(|&(x, y)| Coord { x, y }).collect());
        MultiPolygon(vec![Polygon::new(
            ls(rings[0]),
            rings[1..].iter().map(|r| ls(r)).collect(),
        )])
    }

    #[test]
    fn square_on_cell_lines_is_exact() {
        let g = grid(4, 4, 0.0, 4.0, 1.0);
        let c = coverage(&g, &poly(&[&[(1.0, 1.0), (3.0, 1.0), (3.0, 3.0), (1.0, 3.0)]]));
        for r in 0..4 {
            for col in 0..4 {
                let inside = (1..3).contains(&r) && (1..3).contains(&col);
                assert_eq!(c.get(r, col), if inside { 1.0 } else { 0.0 }, "{r},{col}");
            }
        }
    }

    #[test]
    fn triangle_halves_and_holes() {
        let g = grid(2, 2, 0.0, 2.0, 1.0);
        // Clockwise triangle below the diagonal of the whole grid.
        let c = coverage(&g, &poly(&[&[(0.0, 0.0), (2.0, 2.0), (2.0, 0.0)]]));
        assert_eq!(
            [c.get(0, 0), c.get(0, 1), c.get(1, 0), c.get(1, 1)],
            [0.0, 0.5, 0.5, 1.0]
        );
        let holed = poly(&[
            &[(-1.0, -1.0), (3.0, -1.0), (3.0, 3.0), (-1.0, 3.0)],
            &[(0.5, 0.5), (1.5, 0.5), (1.5, 1.5), (0.5, 1.5)],
        ]);
        let c = coverage(&g, &holed);
        assert_eq!(
            c.fractions,
            vec![0.75; 4],
            "a polygon larger than the grid, with a hole"
        );
    }

    #[test]
    fn longitudes_wrap() {
        let g = grid(360, 2, 0.0, 1.0, 1.0);
        let c = coverage(&g, &poly(&[&[(-1.5, 0.0), (1.5, 0.0), (1.5, 1.0), (-1.5, 1.0)]]));
        let total: f64 = c.fractions.iter().sum();
        assert_eq!(total, 3.0);
        assert_eq!(
            (c.get(0, 358), c.get(0, 359), c.get(0, 0), c.get(0, 1)),
            (0.5, 1.0, 1.0, 0.5)
        );
    }
}
