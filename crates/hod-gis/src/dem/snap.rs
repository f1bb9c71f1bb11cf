//! Outlet relocation: moving a gauge's coordinates onto the modelled river.
//!
//! - With the drainage area the gauge reports: the cell within the search radius whose upstream
//!   area matches it best (the automatic outlet relocation of Xie et al.), so that a gauge on a
//!   main river does not snap onto a tributary next to it.
//! - Without: the cell of highest accumulation within the radius, or the nearest cell whose
//!   accumulation exceeds a threshold (pysheds's `snap_to_mask(acc > threshold, xy)`).
//!
//! Distances are between the point and cell centres, in cells (`Δx/dx`, `Δy/dy`); ties go to
//! the nearer cell, then to the first in row-major order. pysheds measures to cell north-west
//! corners instead and reports the corner as the snapped point.

use crate::{GisError, GridGeometry};

/// Search radius in cells for an outlet given with its drainage area but no radius or threshold:
/// a gauge's coordinates are typically off the modelled river by up to a few hundred metres to
/// a few kilometres (10 cells ≈ 0.9 km on `dem/dem.tif`'s 3″ cells, 4.6 km on 15″ ones), and
/// within that distance the area match (not the distance) picks the cell, so a generous fixed
/// radius is safe.
pub const DEFAULT_AREA_RADIUS: f64 = 10.0;

/// How to move an outlet.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Snap {
    /// Keep the cell containing the point.
    None,
    /// Within this radius (cells): best area match when the area is known, else highest
    /// accumulation.
    Radius(f64),
    /// The nearest cell with accumulation above this many cells (best area match among those
    /// within the radius of the nearest, when the area is known).
    Threshold(f64),
}

/// Where an outlet went.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Snapped {
    /// Row and column of the chosen cell.
    pub cell: (usize, usize),
    /// Distance in cells from the cell containing the point to the chosen cell.
    pub moved_cells: f64,
}

/// The cell containing (`x`, `y`); a point within 1e-6 cell of a cell edge counts as on the
/// edge, and a point on an edge belongs to the cell east / south of it (so pysheds's corner
/// coordinates map back to their own cell).
pub fn locate(geom: &GridGeometry, x: f64, y: f64) -> Option<(usize, usize)> {
    let snap = |f: f64| {
        if (f - f.round()).abs() < 1e-6 {
            f.round()
        } else {
            f.floor()
        }
    };
    let c = snap((x - geom.x0) / geom.dx);
    let r = snap((geom.y0 - y) / geom.dy);
    (c >= 0.0 && r >= 0.0 && (c as usize) < geom.cols && (r as usize) < geom.rows)
        .then_some((r as usize, c as usize))
}

/// Distance in cells from (`x`, `y`) to the centre of cell (`r`, `c`).
fn dist(geom: &GridGeometry, x: f64, y: f64, r: usize, c: usize) -> f64 {
    let (cx, cy) = geom.cell_center(r, c);
    ((cx - x) / geom.dx).hypot((cy - y) / geom.dy)
}

/// Relocates the outlet at (`x`, `y`) using `acc` (cells draining through each cell, `u32::MAX`
/// = nodata) and, when the gauge `area_km2` is known, `upstream_km2` (same grid).
///
/// # Errors
/// [`GisError::Invalid`] when the point is outside the grid or no cell qualifies.
pub fn snap(
    geom: &GridGeometry,
    acc: &[u32],
    upstream_km2: Option<(&[f64], f64)>,
    x: f64,
    y: f64,
    how: Snap,
) -> Result<Snapped, GisError> {
    let (r0, c0) = locate(geom, x, y)
        .ok_or_else(|| GisError::Invalid(format!("outlet ({x}, {y}) is outside the grid")))?;
    let valid = |i: usize| acc.get(i).is_some_and(|&a| a != u32::MAX);
    // Rings of cells around (r0, c0), out to `reach` (Chebyshev) cells; every cell of ring `k` is
    // at least k - 0.5 cells from the point.
    let ring = |k: usize, f: &mut dyn FnMut(usize, usize)| {
        let (rl, rh) = (r0.saturating_sub(k), (r0 + k).min(geom.rows - 1));
        let (cl, ch) = (c0.saturating_sub(k), (c0 + k).min(geom.cols - 1));
        for r in rl..=rh {
            for c in cl..=ch {
                if r.abs_diff(r0) == k || c.abs_diff(c0) == k {
                    f(r, c);
                }
            }
        }
    };
    let reach = geom.rows.max(geom.cols);
    let chosen = match how {
        Snap::None => {
            if !valid(r0 * geom.cols + c0) {
                return Err(GisError::Invalid(format!(
                    "outlet ({x}, {y}) is on a nodata cell"
                )));
            }
            Some((r0, c0))
        }
        Snap::Threshold(t) => {
            let mut best: Option<(f64, usize, usize)> = None;
            for k in 0..=reach {
                if best.is_some_and(|b| k as f64 - 0.5 > b.0) {
                    break;
                }
                ring(k, &mut |r, c| {
                    let i = r * geom.cols + c;
                    if valid(i) && f64::from(acc[i]) > t {
                        let dd = dist(geom, x, y, r, c);
                        if best.is_none_or(|b| (dd, i) < (b.0, b.1 * geom.cols + b.2)) {
                            best = Some((dd, r, c));
                        }
                    }
                });
            }
            match (best, upstream_km2) {
                (Some((dd, r, c)), Some(area)) => best_area(geom, acc, area, x, y, (r, c), dd.max(1.0)),
                (b, _) => b.map(|b| (b.1, b.2)),
            }
        }
        Snap::Radius(radius) => match upstream_km2 {
            Some(area) => best_area(geom, acc, area, x, y, (r0, c0), radius),
            None => {
                let mut best: Option<(u32, f64, usize, usize)> = None;
                for k in 0..=(radius.ceil() as usize + 1).min(reach) {
                    ring(k, &mut |r, c| {
                        let i = r * geom.cols + c;
                        let dd = dist(geom, x, y, r, c);
                        if valid(i) && dd <= radius.max(0.71) {
                            let better = best.is_none_or(|b| acc[i] > b.0 || (acc[i] == b.0 && dd < b.1));
                            if better {
                                best = Some((acc[i], dd, r, c));
                            }
                        }
                    });
                }
                best.map(|b| (b.2, b.3))
            }
        },
    };
    let (r, c) =
        chosen.ok_or_else(|| GisError::Invalid(format!("no cell qualifies for outlet ({x}, {y})")))?;
    Ok(Snapped {
        cell: (r, c),
        moved_cells: (r.abs_diff(r0) as f64).hypot(c.abs_diff(c0) as f64),
    })
}

/// The cell within `radius` cells of `around` whose upstream area is closest to the gauge's.
fn best_area(
    geom: &GridGeometry,
    acc: &[u32],
    (up, want): (&[f64], f64),
    x: f64,
    y: f64,
    around: (usize, usize),
    radius: f64,
) -> Option<(usize, usize)> {
    let k = radius.ceil() as usize + 1;
    let mut best: Option<(f64, f64, usize, usize)> = None;
    for r in around.0.saturating_sub(k)..=(around.0 + k).min(geom.rows - 1) {
        for c in around.1.saturating_sub(k)..=(around.1 + k).min(geom.cols - 1) {
            let i = r * geom.cols + c;
            let (Some(&a), Some(&u)) = (acc.get(i), up.get(i)) else {
                continue;
            };
            let (cx, cy) = geom.cell_center(around.0, around.1);
            let from_centre =
                ((cx - geom.cell_center(r, c).0) / geom.dx).hypot((cy - geom.cell_center(r, c).1) / geom.dy);
            if a == u32::MAX || u.is_nan() || from_centre > radius.max(0.71) {
                continue;
            }
            let err = (u - want).abs();
            let dd = dist(geom, x, y, r, c);
            if best.is_none_or(|b| (err, dd) < (b.0, b.1)) {
                best = Some((err, dd, r, c));
            }
        }
    }
    best.map(|b| (b.2, b.3))
}
