//! Cell areas: exact on the WGS84 ellipsoid for geographic grids, `dx × dy` otherwise.

use crate::GridGeometry;

const A: f64 = 6_378_137.0;
const F: f64 = 1.0 / 298.257_223_563;

/// Area (m² per radian of longitude) between the equator and latitude `lat` (degrees) on the
/// WGS84 ellipsoid: `b²/2 · (sinφ/(1−e²sin²φ) + atanh(e·sinφ)/e)`, the integral of the
/// ellipsoid's area element (e.g. Snyder 1987, "Map Projections — A Working Manual", eq. 3-12).
fn zone(lat: f64) -> f64 {
    let e2 = F * (2.0 - F);
    let e = e2.sqrt();
    let b2 = A * A * (1.0 - e2);
    let s = lat.to_radians().sin();
    b2 / 2.0 * (s / (1.0 - e2 * s * s) + (e * s).atanh() / e)
}

/// Area in km² of a cell in `row`: on the WGS84 ellipsoid when the grid is geographic, else
/// `dx × dy` taken as metres.
pub fn cell_area_km2(geom: &GridGeometry, row: usize) -> f64 {
    if geom.is_geographic() {
        let north = geom.y0 - row as f64 * geom.dy;
        let south = north - geom.dy;
        (zone(north.clamp(-90.0, 90.0)) - zone(south.clamp(-90.0, 90.0))).abs() * geom.dx.to_radians() / 1e6
    } else {
        geom.dx * geom.dy / 1e6
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_whole_ellipsoid_has_its_known_area() {
        // WGS84 surface area 510 065 621.7 km².
        let g = GridGeometry {
            cols: 1,
            rows: 1,
            x0: -180.0,
            y0: 90.0,
            dx: 360.0,
            dy: 180.0,
            crs: Some("EPSG:4326".into()),
        };
        assert!((cell_area_km2(&g, 0) - 510_065_621.7).abs() < 1.0);
    }
}
