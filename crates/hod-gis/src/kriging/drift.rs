//! Drift terms of universal kriging, as PyKrige's `UniversalKriging` builds them.

use crate::{GisError, Raster};

/// The trend universal kriging removes; ordinary kriging is [`Drift::None`] (constant mean).
#[derive(Debug, Clone, Default)]
pub enum Drift {
    /// Ordinary kriging: an unknown constant mean.
    #[default]
    None,
    /// PyKrige's `"regional_linear"`: a mean linear in x and y (in the anisotropy-adjusted
    /// coordinates, as PyKrige does).
    RegionalLinear,
    /// PyKrige's `"external_Z"`: a mean linear in an external variable (e.g. elevation) given on
    /// a grid and interpolated bilinearly at each point.
    External(ExternalDrift),
}

/// An external drift variable on a grid of cell centres, sampled the way PyKrige's
/// `UniversalKriging._calculate_data_point_zscalars` samples `external_drift`.
#[derive(Debug, Clone)]
pub struct ExternalDrift {
    /// Cell-centre x, ascending.
    xs: Vec<f64>,
    /// Cell-centre y, ascending (south first).
    ys: Vec<f64>,
    /// `ys.len() × xs.len()` values, row 0 = southernmost.
    values: Vec<f64>,
}

impl ExternalDrift {
    /// The drift from a raster, with cell centres placed as PyKrige's `read_asc_grid` places
    /// them (`xllcenter + i·dx`, `yllcenter + j·dy`, rows flipped to run south to north).
    pub fn from_raster(raster: &Raster<f64>) -> ExternalDrift {
        let g = &raster.geom;
        let xll = g.x0 + g.dx / 2.0;
        let yll = (g.y0 - g.rows as f64 * g.dy) + g.dy / 2.0;
        let xs = (0..g.cols).map(|i| xll + i as f64 * g.dx).collect();
        let ys = (0..g.rows).map(|j| yll + j as f64 * g.dy).collect();
        let values = raster
            .data
            .chunks(g.cols.max(1))
            .rev()
            .flatten()
            .copied()
            .collect();
        ExternalDrift { xs, ys, values }
    }

    /// The drift value at (`x`, `y`): PyKrige's bilinear interpolation between the bracketing
    /// cell centres (linear along an axis where the point is on a centre line, the cell value
    /// where it is on a centre). NaN where the raster has no data around the point.
    ///
    /// # Errors
    /// [`GisError::Invalid`] when the point lies outside the cell centres, as PyKrige refuses.
    pub fn sample(&self, x: f64, y: f64) -> Result<f64, GisError> {
        let outside = || {
            GisError::Invalid(format!(
                "external drift raster does not cover the point ({x}, {y}) (its cell centres span \
                 x {}..{}, y {}..{})",
                self.xs.first().copied().unwrap_or(f64::NAN),
                self.xs.last().copied().unwrap_or(f64::NAN),
                self.ys.first().copied().unwrap_or(f64::NAN),
                self.ys.last().copied().unwrap_or(f64::NAN),
            ))
        };
        let bracket = |axis: &[f64], v: f64| -> Option<(usize, usize)> {
            let hi = axis.partition_point(|&a| a < v);
            let lo = axis.partition_point(|&a| a <= v).checked_sub(1)?;
            (hi < axis.len()).then_some((lo, hi))
        };
        let (x1, x2) = bracket(&self.xs, x).ok_or_else(outside)?;
        let (y1, y2) = bracket(&self.ys, y).ok_or_else(outside)?;
        let nx = self.xs.len();
        let at = |j: usize, i: usize| self.values.get(j * nx + i).copied().unwrap_or(f64::NAN);
        let (xa, xb, ya, yb) = (self.xs[x1], self.xs[x2], self.ys[y1], self.ys[y2]);
        Ok(if y1 == y2 {
            if x1 == x2 {
                at(y1, x1)
            } else {
                (at(y1, x1) * (xb - x) + at(y2, x2) * (x - xa)) / (xb - xa)
            }
        } else if x1 == x2 {
            (at(y1, x1) * (yb - y) + at(y2, x2) * (y - ya)) / (yb - ya)
        } else {
            (at(y1, x1) * (xb - x) * (yb - y)
                + at(y1, x2) * (x - xa) * (yb - y)
                + at(y2, x1) * (xb - x) * (y - ya)
                + at(y2, x2) * (x - xa) * (y - ya))
                / ((xb - xa) * (yb - ya))
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::GridGeometry;

    #[test]
    fn bilinear_like_pykrige() {
        // 2 × 2 cells of 10, centres at x 5, 15 and y 5, 15; north row first.
        let geom = GridGeometry {
            cols: 2,
            rows: 2,
            x0: 0.0,
            y0: 20.0,
            dx: 10.0,
            dy: 10.0,
            crs: None,
        };
        let r = Raster {
            geom,
            data: vec![3.0, 4.0, 1.0, 2.0],
            nodata: None,
        };
        let d = ExternalDrift::from_raster(&r);
        assert_eq!(d.sample(5.0, 5.0).unwrap(), 1.0);
        assert_eq!(d.sample(10.0, 5.0).unwrap(), 1.5);
        assert_eq!(d.sample(15.0, 10.0).unwrap(), 3.0);
        assert_eq!(d.sample(10.0, 10.0).unwrap(), 2.5);
        assert!(d.sample(4.9, 10.0).is_err());
        assert!(d.sample(10.0, 15.1).is_err());
    }
}
