//! Polygons (GeoJSON Polygon / MultiPolygon, Feature, FeatureCollection, or shapefiles, read by
//! `hod_gis::vector`), the grid cells whose centre lies inside them, and each cell's exact
//! covered fraction (`hod_gis::zonal`).

use crate::select::{Bbox, Role, is_longitude, role};
use crate::{DataCube, QueryError};
use geo_types::{Coord, LineString, MultiPolygon};
use hod_index::DatasetMeta;
use std::path::Path;

/// One polygon: an exterior ring and its holes, as `(x, y)` vertices.
#[derive(Debug, Clone, PartialEq)]
pub struct Polygon {
    /// Rings; the first is the exterior, the others holes.
    pub rings: Vec<Vec<(f64, f64)>>,
}

/// A set of polygons (the union of a GeoJSON file's geometries).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Area {
    /// The polygons.
    pub polygons: Vec<Polygon>,
}

impl Area {
    /// Parses GeoJSON text: a Polygon or MultiPolygon geometry, a Feature, or a FeatureCollection
    /// (all its polygonal features). Coordinates are taken as `[x, y]` in the dataset's CRS.
    ///
    /// # Errors
    /// [`QueryError::Invalid`] when the text is not GeoJSON or holds no polygon.
    pub fn from_geojson(text: &str) -> Result<Area, QueryError> {
        let features = hod_gis::vector::parse_geojson("GeoJSON", text)
            .map_err(|e| QueryError::Invalid(e.to_string()))?;
        Ok(Area::from_features(&features))
    }

    /// Reads a `.geojson`/`.json` or `.shp` (+ `.dbf`) file: the union of its polygon features.
    ///
    /// # Errors
    /// [`QueryError::Invalid`] naming the file when it cannot be read or holds no polygon.
    pub fn from_path(path: &Path) -> Result<Area, QueryError> {
        let features = hod_gis::vector::read_path(path).map_err(|e| QueryError::Invalid(e.to_string()))?;
        Ok(Area::from_features(&features))
    }

    /// The polygons of some features.
    pub fn from_features(features: &[hod_gis::vector::Feature]) -> Area {
        let ring = |r: &LineString<f64>| r.0.iter().map(|c| (c.x, c.y)).collect::<Vec<_>>();
        let polygons = features
            .iter()
            .flat_map(|f| f.geometry.0.iter())
            .map(|p| Polygon {
                rings: std::iter::once(ring(p.exterior()))
                    .chain(p.interiors().iter().map(ring))
                    .collect(),
            })
            .collect();
        Area { polygons }
    }

    /// The same polygons as `geo` types.
    pub fn to_multipolygon(&self) -> MultiPolygon<f64> {
        let ls = |r: &Vec<(f64, f64)>| LineString(r.iter().map(|&(x, y)| Coord { x, y }).collect());
        MultiPolygon(
            self.polygons
                .iter()
                .filter_map(|p| {
                    let (ext, holes) = p.rings.split_first()?;
                    Some(geo_types::Polygon::new(ls(ext), holes.iter().map(ls).collect()))
                })
                .collect(),
        )
    }

    /// `(west, south, east, north)` of all vertices.
    pub fn bounds(&self) -> (f64, f64, f64, f64) {
        let pts = self.polygons.iter().flat_map(|p| p.rings.iter().flatten());
        pts.fold(
            (f64::MAX, f64::MAX, f64::MIN, f64::MIN),
            |(w, s, e, n), &(x, y)| (w.min(x), s.min(y), e.max(x), n.max(y)),
        )
    }

    /// Whether the point is inside (even-odd rule over each polygon's rings, so holes are
    /// outside). A longitude off by a multiple of 360° from the polygon's is brought onto it.
    pub fn contains(&self, x: f64, y: f64) -> bool {
        let (w, _, e, _) = self.bounds();
        let x = [x, x - 360.0, x + 360.0]
            .into_iter()
            .find(|c| *c >= w && *c <= e)
            .unwrap_or(x);
        self.polygons.iter().any(|p| {
            p.rings
                .iter()
                .fold(false, |inside, ring| inside ^ ring_contains(ring, x, y))
        })
    }
}

/// Ray casting: crossings of a ray to +x.
fn ring_contains(ring: &[(f64, f64)], x: f64, y: f64) -> bool {
    let mut inside = false;
    let n = ring.len();
    for i in 0..n {
        let (xi, yi) = ring[i];
        let (xj, yj) = ring[(i + n - 1) % n];
        if (yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi {
            inside = !inside;
        }
    }
    inside
}

/// The bbox to read for exact coverage: the polygon's bounds grown by one cell of the dataset's
/// x and y coordinates (from their summaries), so that every cell it touches is read.
pub fn coverage_bbox(meta: &DatasetMeta, area: &Area) -> Bbox {
    let (w, s, e, n) = area.bounds();
    let step = |want: Role| {
        meta.variables
            .iter()
            .filter(|(k, v)| hod_core::is_coordinate(k, &v.array) && role(k, v) == want)
            .filter_map(|(k, _)| meta.coords.get(k))
            .filter(|c| c.len > 1)
            .map(|c| ((c.last - c.first) / (c.len - 1) as f64).abs())
            .fold(0.0, f64::max)
    };
    let (dx, dy) = (step(Role::X), step(Role::Y));
    Bbox {
        west: w - dx,
        south: s - dy,
        east: e + dx,
        north: n + dy,
    }
}

/// Exact coverage of the cube's cells by the area: sets the values of cells the area does not
/// touch to NaN and returns the 2-D `coverage_fraction` (y, x) with each cell's covered fraction.
///
/// # Errors
/// [`QueryError::Invalid`] when the cube has no x/y coordinates or they are not a regular grid.
pub fn apply_coverage(meta: &DatasetMeta, cube: &mut DataCube, area: &Area) -> Result<DataCube, QueryError> {
    let coord_of = |dim: &str| {
        meta.variables
            .iter()
            .find(|(k, v)| hod_core::is_coordinate(k, &v.array) && v.array.dims[0] == dim)
    };
    let find = |want: Role| {
        cube.dims
            .iter()
            .position(|d| coord_of(d).is_some_and(|(k, v)| role(k, v) == want))
    };
    let (Some(xd), Some(yd)) = (find(Role::X), find(Role::Y)) else {
        return Err(QueryError::Invalid(format!(
            "'{}' has no x/y dimensions for coverage fractions",
            cube.name
        )));
    };
    let lon = coord_of(&cube.dims[xd]).is_some_and(|(k, v)| is_longitude(k, v));
    // A read across the seam joins two pieces; unwrap them into one increasing run.
    let mut xs = cube.coords[xd].clone();
    if lon {
        for i in 1..xs.len() {
            while xs[i] < xs[i - 1] {
                xs[i] += 360.0;
            }
        }
    }
    let crs = lon.then(|| "EPSG:4326".to_string());
    let (grid, ascending) = hod_gis::zonal::grid_from_centers(&xs, &cube.coords[yd], crs)
        .map_err(|e| QueryError::Invalid(format!("'{}': {e}", cube.name)))?;
    let cov = hod_gis::zonal::coverage(&grid, &area.to_multipolygon());
    let (ny, nx) = (grid.rows, grid.cols);
    let mut fractions = vec![0.0; ny * nx];
    for (yi, row) in fractions.chunks_mut(nx).enumerate() {
        let r = if ascending { ny - 1 - yi } else { yi };
        for (xi, f) in row.iter_mut().enumerate() {
            *f = cov.get(r, xi);
        }
    }
    let rank = cube.shape.len();
    let mut pos = vec![0usize; rank];
    for v in cube.values.iter_mut() {
        if fractions[pos[yd] * nx + pos[xd]] == 0.0 {
            *v = f64::NAN;
        }
        for d in (0..rank).rev() {
            pos[d] += 1;
            if pos[d] < cube.shape[d] {
                break;
            }
            pos[d] = 0;
        }
    }
    let mut attrs = hod_core::Attrs::new();
    attrs.insert(
        "long_name".into(),
        "fraction of the cell inside the polygon".into(),
    );
    attrs.insert("units".into(), "1".into());
    Ok(DataCube {
        name: "coverage_fraction".into(),
        dims: vec![cube.dims[yd].clone(), cube.dims[xd].clone()],
        shape: vec![ny, nx],
        coords: vec![cube.coords[yd].clone(), cube.coords[xd].clone()],
        time_dims: vec![false, false],
        values: fractions,
        attrs,
    })
}

/// Coverage-weighted mean of a cube's valid values: Σ f·v / Σ f over the cells, with `f` from
/// [`apply_coverage`]'s `coverage_fraction` (same y, x as the cube's last two grid dimensions).
pub fn coverage_mean(cube: &DataCube, fractions: &DataCube) -> Option<f64> {
    let plane = fractions.values.len();
    if plane == 0 || !cube.values.len().is_multiple_of(plane) || !cube.dims.ends_with(&fractions.dims) {
        return None;
    }
    let (mut s, mut w) = (0.0, 0.0);
    for step in cube.values.chunks(plane) {
        for (v, f) in step.iter().zip(&fractions.values) {
            if !v.is_nan() && *f > 0.0 {
                s += f * v;
                w += f;
            }
        }
    }
    (w > 0.0).then(|| s / w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holes_and_wrapping() {
        let a = Area::from_geojson(
            r#"{"type":"Polygon","coordinates":[[[-10,0],[10,0],[10,10],[-10,10],[-10,0]],[[-2,2],[2,2],[2,8],[-2,8],[-2,2]]]}"#,
        )
        .unwrap();
        assert!(a.contains(5.0, 5.0));
        assert!(!a.contains(0.0, 5.0), "in the hole");
        assert!(a.contains(355.0, 5.0), "0..360 longitude");
        assert!(!a.contains(20.0, 5.0));
        assert_eq!(a.bounds(), (-10.0, 0.0, 10.0, 10.0));
        assert!(Area::from_geojson(r#"{"type":"Point","coordinates":[0,0]}"#).is_err());
        assert!(Area::from_geojson("nope").is_err());
    }
}
