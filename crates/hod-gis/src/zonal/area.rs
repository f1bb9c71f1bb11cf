//! Cell areas: planar for projected grids, true area on a sphere or the WGS84 ellipsoid for
//! longitude/latitude grids. All cells of a row of a regular lon/lat grid have the same area.

use crate::GridGeometry;

/// Sphere radius exactextract uses for `area_spherical_m2` (its `SphericalAreaRaster`: the WGS84
/// equatorial radius), so that our means and areas match it.
pub const EXACTEXTRACT_RADIUS: f64 = 6_378_137.0;

/// WGS84 semi-major axis (m) and flattening.
const WGS84_A: f64 = 6_378_137.0;
const WGS84_F: f64 = 1.0 / 298.257_223_563;

/// How cell areas are measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AreaModel {
    /// `dx · dy` in the grid's units (projected grids).
    Planar,
    /// Area on a sphere of this radius (m): `R² · Δλ · |sin φ₁ − sin φ₂|`, exactextract's
    /// formula with [`EXACTEXTRACT_RADIUS`].
    Sphere {
        /// Radius in metres.
        radius: f64,
    },
    /// Area on the WGS84 ellipsoid (the closed form of the area of a latitude zone).
    Wgs84,
}

/// Area of each row's cells (row 0 first): m² for the sphere and ellipsoid (longitude/latitude
/// degrees expected, latitudes clamped to ±90°), squared grid units for [`AreaModel::Planar`].
pub fn row_areas(grid: &GridGeometry, model: AreaModel) -> Vec<f64> {
    const PI_180: f64 = std::f64::consts::PI / 180.0;
    (0..grid.rows)
        .map(|i| {
            // The same operations as exactextract's SphericalAreaRaster, for identical results.
            let y = grid.y0 - (i as f64 + 0.5) * grid.dy;
            let ymin = (y - 0.5 * grid.dy).clamp(-90.0, 90.0);
            let ymax = (y + 0.5 * grid.dy).clamp(-90.0, 90.0);
            match model {
                AreaModel::Planar => grid.dx * grid.dy,
                AreaModel::Sphere { radius } => {
                    radius * radius * PI_180 * ((ymin * PI_180).sin() - (ymax * PI_180).sin()).abs() * grid.dx
                }
                AreaModel::Wgs84 => {
                    grid.dx / 360.0 * (zone_wgs84(ymax * PI_180) - zone_wgs84(ymin * PI_180)).abs()
                }
            }
        })
        .collect()
}

/// Area of the WGS84 ellipsoid between the equator and latitude `phi` (radians), all the way
/// round: `π b² (sin φ / (1 − e² sin² φ) + atanh(e sin φ) / e)`.
fn zone_wgs84(phi: f64) -> f64 {
    let e2 = WGS84_F * (2.0 - WGS84_F);
    let e = e2.sqrt();
    let b = WGS84_A * (1.0 - WGS84_F);
    let s = phi.sin();
    std::f64::consts::PI * b * b * (s / (1.0 - e2 * s * s) + (e * s).atanh() / e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn global(d: f64) -> GridGeometry {
        GridGeometry {
            cols: (360.0 / d) as usize,
            rows: (180.0 / d) as usize,
            x0: -180.0,
            y0: 90.0,
            dx: d,
            dy: d,
            crs: Some("EPSG:4326".into()),
        }
    }

    #[test]
    fn whole_earth() {
        let g = global(1.0);
        let total = |m| row_areas(&g, m).iter().sum::<f64>() * g.cols as f64;
        let r = EXACTEXTRACT_RADIUS;
        let sphere = total(AreaModel::Sphere { radius: r });
        assert!((sphere / (4.0 * std::f64::consts::PI * r * r) - 1.0).abs() < 1e-12);
        // WGS84 surface area: 510 065 621.724 km² (NIMA TR8350.2 table 3.5 rounds it this way).
        let wgs = total(AreaModel::Wgs84);
        assert!((wgs / 5.100_656_217_24e14 - 1.0).abs() < 1e-10, "{wgs}");
        assert_eq!(row_areas(&g, AreaModel::Planar)[0], 1.0);
    }
}
