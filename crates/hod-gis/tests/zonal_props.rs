#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Properties of exact coverage fractions on random polygons.

use geo_types::{Coord, LineString, MultiPolygon, Polygon};
use hod_gis::GridGeometry;
use hod_gis::zonal::coverage;
use proptest::prelude::*;

/// A grid over x -3..5, y -4..4 (holding every star polygon), with cells of `d × 0.75 d`.
fn grid(d: f64) -> GridGeometry {
    GridGeometry {
        cols: (8.0 / d).ceil() as usize,
        rows: (8.0 / (0.75 * d)).ceil() as usize,
        x0: -3.0,
        y0: 4.0,
        dx: d,
        dy: d * 0.75,
        crs: None,
    }
}

fn mp(rings: Vec<Vec<(f64, f64)>>) -> MultiPolygon<f64> {
    let ls = |r: &Vec<(f64, f64)>| LineString(r.iter().map(|&(x, y)| Coord { x, y }).collect());
    MultiPolygon(vec![Polygon::new(
        ls(&rings[0]),
        rings[1..].iter().map(ls).collect(),
    )])
}

/// A star-shaped polygon around (cx, cy): random radii at increasing angles.
fn star() -> impl Strategy<Value = Vec<(f64, f64)>> {
    (
        -0.5f64..2.0,
        -0.5f64..1.5,
        prop::collection::vec((0.05f64..1.5, 0.0f64..1.0), 3..25),
        any::<bool>(),
    )
        .prop_map(|(cx, cy, spokes, reverse)| {
            let n = spokes.len() as f64;
            let mut pts: Vec<(f64, f64)> = spokes
                .iter()
                .enumerate()
                .map(|(i, &(r, jitter))| {
                    let a = (i as f64 + 0.9 * jitter) / n * std::f64::consts::TAU;
                    (cx + r * a.cos(), cy + r * a.sin())
                })
                .collect();
            if reverse {
                pts.reverse();
            }
            pts.push(pts[0]);
            pts
        })
}

fn shoelace(r: &[(f64, f64)]) -> f64 {
    r.windows(2)
        .map(|w| w[0].0 * w[1].1 - w[1].0 * w[0].1)
        .sum::<f64>()
        / 2.0
}

/// The part of a ring on one side of the vertical line x = `at` (Sutherland–Hodgman).
fn clip(ring: &[(f64, f64)], at: f64, keep_left: bool) -> Vec<(f64, f64)> {
    let inside = |p: (f64, f64)| if keep_left { p.0 <= at } else { p.0 >= at };
    let mut out = Vec::new();
    for w in ring.windows(2) {
        let (a, b) = (w[0], w[1]);
        if inside(a) {
            out.push(a);
        }
        if inside(a) != inside(b) {
            let t = (at - a.0) / (b.0 - a.0);
            out.push((at, a.1 + t * (b.1 - a.1)));
        }
    }
    if let Some(&f) = out.first() {
        out.push(f);
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn fractions_are_in_0_1_and_sum_to_the_area(ring in star(), d in 0.05f64..0.6) {
        let g = grid(d);
        let c = coverage(&g, &mp(vec![ring.clone()]));
        prop_assert!(c.fractions.iter().all(|f| (0.0..=1.0).contains(f)));
        // Star polygons may self-overlap near the centre only when spokes cross, which the
        // increasing angles prevent, so the area is the shoelace area (inside the grid here).
        let total: f64 = c.fractions.iter().sum::<f64>() * g.dx * g.dy;
        let area = shoelace(&ring).abs();
        prop_assert!((total - area).abs() <= 1e-9 * area.max(1.0), "{total} vs {area}");
    }

    #[test]
    fn unions_of_cells_are_exactly_covered(c0 in 0usize..10, r0 in 0usize..10, w in 1usize..8, h in 1usize..8,
                                          hole in any::<bool>()) {
        let g = GridGeometry { cols: 20, rows: 20, x0: 100.0, y0: 50.0, dx: 0.25, dy: 0.25, crs: None };
        let x = |c: usize| g.x0 + c as f64 * g.dx;
        let y = |r: usize| g.y0 - r as f64 * g.dy;
        let outer = vec![(x(c0), y(r0)), (x(c0 + w + 2), y(r0)), (x(c0 + w + 2), y(r0 + h + 2)),
                         (x(c0), y(r0 + h + 2)), (x(c0), y(r0))];
        let inner = vec![(x(c0 + 1), y(r0 + 1)), (x(c0 + 1), y(r0 + h + 1)), (x(c0 + w + 1), y(r0 + h + 1)),
                         (x(c0 + w + 1), y(r0 + 1)), (x(c0 + 1), y(r0 + 1))];
        let rings = if hole { vec![outer, inner] } else { vec![outer] };
        let cov = coverage(&g, &mp(rings));
        for r in 0..20 {
            for c in 0..20 {
                let in_outer = (r0..r0 + h + 2).contains(&r) && (c0..c0 + w + 2).contains(&c);
                let in_inner = (r0 + 1..r0 + h + 1).contains(&r) && (c0 + 1..c0 + w + 1).contains(&c);
                let want = if in_outer && !(hole && in_inner) { 1.0 } else { 0.0 };
                prop_assert_eq!(cov.get(r, c), want, "cell {},{}", r, c);
            }
        }
    }

    #[test]
    fn halves_add_up(ring in star(), cut in 0.0f64..1.0, d in 0.05f64..0.6) {
        // Split at a vertical line through the polygon (star polygons are not convex, but the
        // clipped rings still cover exactly the points on each side: pieces touch along the cut).
        let (w, e) = ring.iter().fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.0), b.max(p.0)));
        let at = w + cut * (e - w);
        let g = grid(d);
        let whole = coverage(&g, &mp(vec![ring.clone()]));
        let left = coverage(&g, &mp(vec![clip(&ring, at, true)]));
        let right = coverage(&g, &mp(vec![clip(&ring, at, false)]));
        for r in 0..g.rows {
            for c in 0..g.cols {
                let sum = left.get(r, c) + right.get(r, c);
                prop_assert!((sum - whole.get(r, c)).abs() < 1e-9, "cell {},{}: {} + {} vs {}",
                    r, c, left.get(r, c), right.get(r, c), whole.get(r, c));
            }
        }
    }
}
