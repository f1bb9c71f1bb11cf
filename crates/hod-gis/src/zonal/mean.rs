//! Polygon weights on a grid and weighted means of gridded values.

use super::{AreaModel, coverage, row_areas};
use crate::{GisError, GridGeometry};
use geo_types::MultiPolygon;

/// What a cell's weight is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Weighting {
    /// The covered fraction alone.
    Coverage,
    /// Covered fraction × the cell's area (exactextract's `coverage_weight=area_spherical_m2`
    /// with [`AreaModel::Sphere`] of [`super::EXACTEXTRACT_RADIUS`]).
    Area(AreaModel),
}

/// How weights are rounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    /// Exact coverage × area in `f64`.
    #[default]
    Exact,
    /// As exactextract 0.3 computes them: coverage stored as `float32`, multiplied by the area
    /// as `float32`. Reproduces its means bit for bit; they differ from the exact ones by up to
    /// a few 1e-9 relative on strongly varying fields.
    Float32,
}

/// The cells a polygon covers and their weights.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Weights {
    /// `(row-major grid index, weight)` of each covered cell, weight > 0, in index order.
    pub cells: Vec<(usize, f64)>,
}

impl Weights {
    /// Sum of the weights (with [`Weighting::Area`], the covered area).
    pub fn total(&self) -> f64 {
        self.cells.iter().map(|c| c.1).sum()
    }
}

/// Revision of what [`weights`] computes: bump it whenever a change gives different weights for
/// the same input, so that weights saved by an older build (`hod_query::weights_cache`) are not
/// reused.
pub const WEIGHTS_REVISION: u32 = 1;

/// Weights of the cells of `grid` covered by `shape`.
pub fn weights(
    grid: &GridGeometry,
    shape: &MultiPolygon<f64>,
    weighting: Weighting,
    precision: Precision,
) -> Weights {
    let cov = coverage(grid, shape);
    let areas = match weighting {
        Weighting::Coverage => None,
        Weighting::Area(m) => Some(row_areas(grid, m)),
    };
    let mut cells: Vec<(usize, f64)> = cov
        .covered()
        .map(|(r, c, f)| {
            let a = areas.as_ref().and_then(|a| a.get(r)).copied().unwrap_or(1.0);
            let w = match precision {
                Precision::Exact => f * a,
                Precision::Float32 => f64::from((f as f32) * (a as f32)),
            };
            (r * grid.cols + c, w)
        })
        .filter(|c| c.1 > 0.0)
        .collect();
    cells.sort_unstable_by_key(|c| c.0);
    Weights { cells }
}

/// Weighted mean of `values` (one grid plane, row-major) over the valid (non-NaN) covered cells,
/// the weights renormalised over those; NaN when none is valid.
pub fn weighted_mean(values: &[f64], w: &Weights) -> f64 {
    let (mut sum, mut total) = (0.0, 0.0);
    for &(i, wt) in &w.cells {
        if let Some(&v) = values.get(i)
            && !v.is_nan()
        {
            sum += v * wt;
            total += wt;
        }
    }
    if total > 0.0 { sum / total } else { f64::NAN }
}

/// A north-up [`GridGeometry`] from the cell-centre coordinates of a regular grid, as rasterio /
/// rioxarray derive a transform: `dx = (x[n−1] − x[0]) / (n − 1)`, origin half a cell out.
/// Returns whether `y` runs south to north (then data row `i` is grid row `rows − 1 − i`).
///
/// # Errors
/// [`GisError::Invalid`] when an axis has fewer than 2 points or is not evenly spaced (within
/// 1e-3 of a cell, which float32 coordinates meet).
pub fn grid_from_centers(
    x: &[f64],
    y: &[f64],
    crs: Option<String>,
) -> Result<(GridGeometry, bool), GisError> {
    let step = |v: &[f64], what: &str| -> Result<f64, GisError> {
        let (Some(&a), Some(&b)) = (v.first(), v.last()) else {
            return Err(GisError::Invalid(format!("{what}: no coordinates")));
        };
        if v.len() < 2 || a == b || !(a.is_finite() && b.is_finite()) {
            return Err(GisError::Invalid(format!(
                "{what}: needs at least 2 distinct coordinates to know the cell size"
            )));
        }
        let d = (b - a) / (v.len() - 1) as f64;
        if let Some((i, bad)) = v
            .iter()
            .enumerate()
            .find(|(i, c)| ((**c - a) - *i as f64 * d).abs() > 1e-3 * d.abs())
        {
            return Err(GisError::Invalid(format!(
                "{what} is not evenly spaced: point {i} is {bad}, expected {}",
                a + i as f64 * d
            )));
        }
        Ok(d)
    };
    let (dx, dy) = (step(x, "x")?, step(y, "y")?);
    if dx < 0.0 {
        return Err(GisError::Invalid("x must increase".into()));
    }
    let ascending = dy > 0.0;
    let (x_first, y_first, y_last) = (x[0], y[0], y[y.len() - 1]);
    let north = if ascending { y_last } else { y_first };
    Ok((
        GridGeometry {
            cols: x.len(),
            rows: y.len(),
            x0: x_first - dx / 2.0,
            y0: north + dy.abs() / 2.0,
            dx,
            dy: dy.abs(),
            crs,
        },
        ascending,
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use geo_types::{Coord, LineString, Polygon};

    #[test]
    fn centres_to_grid_and_renormalised_mean() {
        let (g, asc) = grid_from_centers(&[0.5, 1.5, 2.5], &[0.5, 1.5], Some("EPSG:4326".into())).unwrap();
        assert!(asc);
        assert_eq!(
            (g.x0, g.y0, g.dx, g.dy, g.cols, g.rows),
            (0.0, 2.0, 1.0, 1.0, 3, 2)
        );
        assert!(grid_from_centers(&[0.0, 1.0, 5.0], &[0.0, 1.0], None).is_err());
        assert!(grid_from_centers(&[0.0], &[0.0, 1.0], None).is_err());
        let square = MultiPolygon(vec![Polygon::new(
            LineString(
                [(0.0, 0.0), (1.5, 0.0), (1.5, 2.0), (0.0, 2.0)]
                    .iter()
                    .map(|&(x, y)| Coord { x, y })
                    .collect(),
            ),
            vec![],
        )]);
        let w = weights(&g, &square, Weighting::Coverage, Precision::Exact);
        assert_eq!(w.cells, vec![(0, 1.0), (1, 0.5), (3, 1.0), (4, 0.5)]);
        let vals = [1.0, 4.0, 9.0, f64::NAN, 2.0, 9.0];
        assert_eq!(weighted_mean(&vals, &w), (1.0 + 2.0 + 1.0) / 2.0);
        assert!(weighted_mean(&[f64::NAN; 6], &w).is_nan());
    }
}
