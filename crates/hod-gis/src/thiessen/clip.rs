//! A basin's rings in the plane and the exact area of its intersection with a convex cell.
//!
//! Each ring is clipped against the cell's half-planes with Sutherland & Hodgman (1974),
//! "Reentrant polygon clipping", CACM 17(1). For a convex clip region the output ring may hold
//! zero-width bridges, but its winding number equals the input's inside the region and is zero
//! outside, so its signed area is exactly the area of ring ∩ cell. Shells are oriented
//! counter-clockwise and holes clockwise, so the signed areas of all rings add up.

/// A point in the plane.
pub(crate) type P = (f64, f64);

/// The points `(x, y)` with `nx·x + ny·y ≤ c`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HalfPlane {
    pub nx: f64,
    pub ny: f64,
    pub c: f64,
}

impl HalfPlane {
    /// Positive outside, negative inside, zero on the line.
    fn eval(&self, p: P) -> f64 {
        self.nx * p.0 + self.ny * p.1 - self.c
    }
}

/// An axis-aligned box `(xmin, ymin, xmax, ymax)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Bbox(pub f64, pub f64, pub f64, pub f64);

impl Bbox {
    pub(crate) fn of(pts: &[P]) -> Bbox {
        pts.iter().fold(
            Bbox(f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY),
            |b, &(x, y)| Bbox(b.0.min(x), b.1.min(y), b.2.max(x), b.3.max(y)),
        )
    }

    pub(crate) fn overlaps(&self, o: &Bbox) -> bool {
        self.0 <= o.2 && o.0 <= self.2 && self.1 <= o.3 && o.1 <= self.3
    }

    /// The four half-planes bounding the box.
    fn half_planes(&self) -> [HalfPlane; 4] {
        [
            HalfPlane {
                nx: 1.0,
                ny: 0.0,
                c: self.2,
            },
            HalfPlane {
                nx: -1.0,
                ny: 0.0,
                c: -self.0,
            },
            HalfPlane {
                nx: 0.0,
                ny: 1.0,
                c: self.3,
            },
            HalfPlane {
                nx: 0.0,
                ny: -1.0,
                c: -self.1,
            },
        ]
    }
}

/// Signed area (shoelace), positive for counter-clockwise rings; the ring is open (the last
/// point is not the first repeated). Coordinates are taken relative to the first point to keep
/// the products small.
pub(crate) fn signed_area(ring: &[P]) -> f64 {
    let Some(&(x0, y0)) = ring.first() else { return 0.0 };
    let mut s = 0.0;
    for w in ring.windows(2) {
        let (a, b) = ((w[0].0 - x0, w[0].1 - y0), (w[1].0 - x0, w[1].1 - y0));
        s += a.0 * b.1 - b.0 * a.1;
    }
    0.5 * s
}

/// `ring` clipped to one half-plane (Sutherland–Hodgman step), into `out`.
fn clip_into(ring: &[P], h: &HalfPlane, out: &mut Vec<P>) {
    out.clear();
    let Some(&last) = ring.last() else { return };
    let (mut prev, mut sp) = (last, h.eval(last));
    for &cur in ring {
        let sc = h.eval(cur);
        if sc <= 0.0 {
            if sp > 0.0 {
                out.push(cross(prev, sp, cur, sc));
            }
            out.push(cur);
        } else if sp <= 0.0 {
            out.push(cross(prev, sp, cur, sc));
        }
        (prev, sp) = (cur, sc);
    }
}

/// Where segment a→b crosses the line, given the signed values at its ends (of opposite signs).
fn cross(a: P, sa: f64, b: P, sb: f64) -> P {
    let t = sa / (sa - sb);
    (a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1))
}

/// `ring` ∩ the intersection of `planes` (a convex region), by successive clipping.
pub(crate) fn clip_ring(ring: &[P], planes: impl IntoIterator<Item = HalfPlane>) -> Vec<P> {
    let mut cur = ring.to_vec();
    let mut next = Vec::with_capacity(ring.len());
    for h in planes {
        if cur.is_empty() {
            break;
        }
        clip_into(&cur, &h, &mut next);
        std::mem::swap(&mut cur, &mut next);
    }
    cur
}

/// A ring and its bounding box.
#[derive(Debug, Clone)]
struct Ring {
    pts: Vec<P>,
    bbox: Bbox,
}

/// The basin in the plane: oriented rings and an index of their edges.
#[derive(Debug, Clone)]
pub(crate) struct PlaneBasin {
    rings: Vec<Ring>,
    pub(crate) bbox: Bbox,
    grid: EdgeGrid,
}

/// What of the basin lies inside a cell.
pub(crate) enum Piece {
    /// Nothing.
    Empty,
    /// The whole cell.
    Whole,
    /// These rings (signed: holes are clockwise).
    Rings(Vec<Vec<P>>),
}

impl PlaneBasin {
    /// `polygons`: each a shell followed by its holes, open rings in any orientation.
    pub(crate) fn new(polygons: Vec<Vec<Vec<P>>>) -> PlaneBasin {
        let mut rings = Vec::new();
        for poly in polygons {
            for (k, mut pts) in poly.into_iter().enumerate() {
                if pts.len() < 3 {
                    continue;
                }
                // shells counter-clockwise (positive), holes clockwise (negative)
                if (signed_area(&pts) > 0.0) != (k == 0) {
                    pts.reverse();
                }
                let bbox = Bbox::of(&pts);
                rings.push(Ring { pts, bbox });
            }
        }
        let bbox = Bbox::of(
            &rings
                .iter()
                .flat_map(|r| r.pts.iter().copied())
                .collect::<Vec<_>>(),
        );
        let grid = EdgeGrid::new(&rings, bbox);
        PlaneBasin { rings, bbox, grid }
    }

    /// Rings as given to `new` after orientation (for output).
    pub(crate) fn rings(&self) -> impl Iterator<Item = &[P]> {
        self.rings.iter().map(|r| r.pts.as_slice())
    }

    /// The part of the basin inside the convex `cell`, which is the intersection of `planes`.
    pub(crate) fn piece(&self, cell: &[P], planes: &[HalfPlane]) -> Piece {
        if cell.len() < 3 {
            return Piece::Empty;
        }
        let bb = Bbox::of(cell);
        if !bb.overlaps(&self.bbox) {
            return Piece::Empty;
        }
        if !self.grid.any_edge_in(&self.rings, &bb) {
            // no boundary crosses the cell: it is wholly inside or wholly outside
            let n = cell.len() as f64;
            let c = cell
                .iter()
                .fold((0.0, 0.0), |s, p| (s.0 + p.0 / n, s.1 + p.1 / n));
            return if self.contains(c) {
                Piece::Whole
            } else {
                Piece::Empty
            };
        }
        let mut out = Vec::new();
        for r in self.rings.iter().filter(|r| r.bbox.overlaps(&bb)) {
            // the box first: cheap, and it cuts a long ring down to the part near the cell
            let clipped = clip_ring(&r.pts, bb.half_planes().into_iter().chain(planes.iter().copied()));
            if clipped.len() >= 3 {
                out.push(clipped);
            }
        }
        if out.is_empty() {
            Piece::Empty
        } else {
            Piece::Rings(out)
        }
    }

    /// Even-odd point-in-polygon over all rings (holes are outside).
    pub(crate) fn contains(&self, p: P) -> bool {
        let mut inside = false;
        for r in self.rings.iter().filter(|r| p.1 >= r.bbox.1 && p.1 <= r.bbox.3) {
            let pts = &r.pts;
            let mut j = pts.len() - 1;
            for i in 0..pts.len() {
                let (a, b) = (pts[i], pts[j]);
                if (a.1 > p.1) != (b.1 > p.1) && p.0 < (b.0 - a.0) * (p.1 - a.1) / (b.1 - a.1) + a.0 {
                    inside = !inside;
                }
                j = i;
            }
        }
        inside
    }
}

/// A uniform grid of buckets over the basin, each listing the edges whose box overlaps it.
#[derive(Debug, Clone)]
struct EdgeGrid {
    x0: f64,
    y0: f64,
    dx: f64,
    dy: f64,
    nx: usize,
    ny: usize,
    /// Bucket `k` holds `edges[start[k]..start[k + 1]]`, as (ring, first vertex).
    start: Vec<usize>,
    edges: Vec<(u32, u32)>,
}

impl EdgeGrid {
    fn new(rings: &[Ring], bbox: Bbox) -> EdgeGrid {
        let n_edges: usize = rings.iter().map(|r| r.pts.len()).sum();
        // about one edge per bucket along a boundary: n buckets on a side keeps each short list
        let side = ((n_edges as f64).sqrt().ceil() as usize).clamp(1, 1024);
        let (w, h) = (
            (bbox.2 - bbox.0).max(f64::MIN_POSITIVE),
            (bbox.3 - bbox.1).max(f64::MIN_POSITIVE),
        );
        let mut g = EdgeGrid {
            x0: bbox.0,
            y0: bbox.1,
            dx: w / side as f64,
            dy: h / side as f64,
            nx: side,
            ny: side,
            start: vec![0; side * side + 1],
            edges: Vec::new(),
        };
        let mut spans = Vec::with_capacity(n_edges);
        for (ri, r) in rings.iter().enumerate() {
            for i in 0..r.pts.len() {
                let (a, b) = (r.pts[i], r.pts[(i + 1) % r.pts.len()]);
                let span = g.span(&Bbox(a.0.min(b.0), a.1.min(b.1), a.0.max(b.0), a.1.max(b.1)));
                for k in g.buckets(span) {
                    g.start[k + 1] += 1;
                }
                spans.push((ri as u32, i as u32, span));
            }
        }
        for k in 0..side * side {
            g.start[k + 1] += g.start[k];
        }
        let mut fill = g.start.clone();
        g.edges = vec![(0, 0); g.start[side * side]];
        for (ri, i, span) in spans {
            for k in g.buckets(span) {
                g.edges[fill[k]] = (ri, i);
                fill[k] += 1;
            }
        }
        g
    }

    /// Bucket column and row ranges (inclusive) overlapping `b`, clamped to the grid.
    fn span(&self, b: &Bbox) -> (usize, usize, usize, usize) {
        let col = |x: f64| (((x - self.x0) / self.dx).floor().max(0.0) as usize).min(self.nx - 1);
        let row = |y: f64| (((y - self.y0) / self.dy).floor().max(0.0) as usize).min(self.ny - 1);
        (col(b.0), row(b.1), col(b.2), row(b.3))
    }

    fn buckets(&self, span: (usize, usize, usize, usize)) -> impl Iterator<Item = usize> + use<> {
        buckets(self.nx, span)
    }

    /// Whether some edge's box overlaps `b`.
    fn any_edge_in(&self, rings: &[Ring], b: &Bbox) -> bool {
        self.buckets(self.span(b)).any(|k| {
            self.edges[self.start[k]..self.start[k + 1]]
                .iter()
                .any(|&(ri, i)| {
                    let pts = &rings[ri as usize].pts;
                    let (a, c) = (pts[i as usize], pts[(i as usize + 1) % pts.len()]);
                    Bbox(a.0.min(c.0), a.1.min(c.1), a.0.max(c.0), a.1.max(c.1)).overlaps(b)
                })
        })
    }
}

/// Bucket numbers of an inclusive column/row span on a grid `nx` buckets wide.
fn buckets(nx: usize, (c0, r0, c1, r1): (usize, usize, usize, usize)) -> impl Iterator<Item = usize> {
    (r0..=r1).flat_map(move |r| (c0..=c1).map(move |c| r * nx + c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn square_with_hole_clipped_by_half_plane() {
        let shell = vec![(0.0, 0.0), (0.0, 4.0), (4.0, 4.0), (4.0, 0.0)]; // clockwise on purpose
        let hole = vec![(1.0, 1.0), (3.0, 1.0), (3.0, 3.0), (1.0, 3.0)];
        let basin = PlaneBasin::new(vec![vec![shell, hole]]);
        assert_eq!(basin.rings().map(signed_area).sum::<f64>(), 12.0);
        // x ≤ 2: half of it
        let planes = [HalfPlane {
            nx: 1.0,
            ny: 0.0,
            c: 2.0,
        }];
        let cell = [(-10.0, -10.0), (2.0, -10.0), (2.0, 10.0), (-10.0, 10.0)];
        let Piece::Rings(rings) = basin.piece(&cell, &planes) else {
            panic!()
        };
        let a: f64 = rings.iter().map(|r| signed_area(r)).sum();
        assert!((a - 6.0).abs() < 1e-12);
        assert!(!basin.contains((2.0, 2.0)) && basin.contains((0.5, 2.0)));
    }
}
