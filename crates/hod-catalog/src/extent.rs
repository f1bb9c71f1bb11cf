//! Where and when a dataset's data lie: its horizontal axes, its extent in longitude/latitude
//! (cell edges, so a grid's extent covers its cells), and its time range.

use crate::CatalogError;
use hod_core::time::CfTime;
use hod_index::{DatasetMeta, VariableMeta};
use hod_query::select::{Role, is_longitude, role};
use hod_store::Store;

/// Points per bbox edge transformed when a grid is projected (as rasterio's `transform_bounds`).
const DENSIFY: usize = 21;

/// A 1-D horizontal coordinate of a dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    /// The coordinate variable.
    pub name: String,
    /// Its dimension.
    pub dim: String,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// Spacing (absolute), when there are two values or more.
    pub step: Option<f64>,
    /// Number of values.
    pub len: u64,
}

impl Axis {
    /// `[min, max]` widened by half a step on each side: the cells' outer edges.
    pub fn edges(&self) -> (f64, f64) {
        let h = self.step.unwrap_or(0.0) / 2.0;
        (self.min - h, self.max + h)
    }
}

/// `[west, south, east, north]` in degrees, west > east when the box crosses the antimeridian.
pub type LonLatBox = [f64; 4];

/// The 1-D coordinate of `role` (x or y), from the manifest's first/last summaries.
pub fn axis(meta: &DatasetMeta, wanted: Role) -> Option<Axis> {
    meta.coords.iter().find_map(|(name, s)| {
        let v = meta.variables.get(name)?;
        if v.array.dims.len() != 1 || role(name, v) != wanted || s.len == 0 {
            return None;
        }
        let (min, max) = (s.first.min(s.last), s.first.max(s.last));
        Some(Axis {
            name: name.clone(),
            dim: v.array.dims[0].clone(),
            min,
            max,
            step: (s.len > 1).then(|| (max - min) / (s.len - 1) as f64),
            len: s.len,
        })
    })
}

/// The PROJ string of a projected dataset (GeoTIFF scans record `crs_proj4`).
pub fn proj_string(meta: &DatasetMeta) -> Option<String> {
    meta.variables.values().find_map(|v| {
        ["crs_proj4", "crs"].iter().find_map(|k| {
            v.array
                .attrs
                .get(*k)
                .and_then(|a| a.as_str())
                .filter(|s| s.trim_start().starts_with("+proj"))
                .map(str::to_string)
        })
    })
}

/// A longitude range moved onto -180..180: full circle, plain, or crossing the antimeridian
/// (then west > east).
pub fn wrap_lon(west: f64, east: f64) -> (f64, f64) {
    if east - west >= 360.0 - 1e-9 {
        return (-180.0, 180.0);
    }
    let w = (west + 180.0).rem_euclid(360.0) - 180.0;
    let e = w + (east - west);
    (w, if e > 180.0 { e - 360.0 } else { e })
}

/// The dataset's horizontal extent in longitude/latitude: grid cell edges for geographic grids,
/// the densified boundary of a projected grid transformed to WGS 84, the point of a station
/// series with scalar latitude/longitude; `None` when the data say nothing about where they are.
///
/// # Errors
/// A store error reading a scalar position.
pub async fn lonlat_box(store: &Store, meta: &DatasetMeta) -> Result<Option<LonLatBox>, CatalogError> {
    let (x, y) = (axis(meta, Role::X), axis(meta, Role::Y));
    if let (Some(x), Some(y)) = (&x, &y) {
        let (x0, x1) = x.edges();
        let (y0, y1) = y.edges();
        let geographic = meta
            .variables
            .get(&x.name)
            .is_some_and(|v| is_longitude(&x.name, v));
        if geographic {
            let (w, e) = wrap_lon(x0, x1);
            return Ok(Some([w, y0.max(-90.0), e, y1.min(90.0)]));
        }
        let Some(proj) = proj_string(meta) else {
            return Ok(None);
        };
        // A CRS proj4rs cannot handle leaves the position unknown rather than failing the ingest.
        return Ok(projected_box(&proj, [x0, y0, x1, y1]).ok());
    }
    // A station series: scalar latitude and longitude variables.
    let scalar = |wanted: Role| {
        meta.variables
            .iter()
            .find(|(n, v)| v.array.shape.is_empty() && role(n, v) == wanted)
            .map(|(n, _)| n.clone())
    };
    if let (Some(xn), Some(yn)) = (scalar(Role::X), scalar(Role::Y)) {
        let lon = hod_index::read_variable(store, meta, &xn, true).await?;
        let lat = hod_index::read_variable(store, meta, &yn, true).await?;
        if let (Some(&lon), Some(&lat)) = (lon.first(), lat.first())
            && lon.is_finite()
            && lat.is_finite()
        {
            let (w, _) = wrap_lon(lon, lon);
            return Ok(Some([w, lat, w, lat]));
        }
    }
    Ok(None)
}

/// Transforms a projected box's boundary, `DENSIFY` points per edge, to longitude/latitude.
fn projected_box(proj: &str, [x0, y0, x1, y1]: [f64; 4]) -> Result<LonLatBox, CatalogError> {
    let bad = |e: proj4rs::errors::Error| CatalogError::Crs(format!("CRS '{proj}': {e}"));
    let from = proj4rs::Proj::from_proj_string(proj).map_err(bad)?;
    let to = proj4rs::Proj::from_proj_string("+proj=longlat +datum=WGS84 +no_defs").map_err(bad)?;
    let mut out = [f64::MAX, f64::MAX, f64::MIN, f64::MIN];
    for i in 0..DENSIFY {
        let t = i as f64 / (DENSIFY - 1) as f64;
        let (xi, yi) = (x0 + t * (x1 - x0), y0 + t * (y1 - y0));
        for (x, y) in [(xi, y0), (xi, y1), (x0, yi), (x1, yi)] {
            let mut p = (x, y, 0.0);
            proj4rs::transform::transform(&from, &to, &mut p).map_err(bad)?;
            let (lon, lat) = (p.0.to_degrees(), p.1.to_degrees());
            out = [out[0].min(lon), out[1].min(lat), out[2].max(lon), out[3].max(lat)];
        }
    }
    Ok(out)
}

/// First and last time of the dataset, seconds since 1970: the concat dimension's range, or the
/// range of a time coordinate.
pub fn time_range(meta: &DatasetMeta) -> Option<(f64, f64)> {
    if let Some(r) = meta.concat.as_ref().and_then(|c| c.time_range) {
        return Some(r);
    }
    meta.coords.iter().find_map(|(name, s)| {
        let v = meta.variables.get(name)?;
        let t = cf_time(v)?;
        let (a, b) = (t.unix_seconds(s.first), t.unix_seconds(s.last));
        Some((a.min(b), a.max(b)))
    })
}

/// The CF time units of a coordinate.
pub fn cf_time(v: &VariableMeta) -> Option<CfTime> {
    let attr = |k: &str| v.array.attrs.get(k).and_then(|a| a.as_str());
    CfTime::parse(attr("units")?, attr("calendar")).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longitudes_wrap_onto_minus_180_180() {
        assert_eq!(wrap_lon(248.75, 301.25), (-111.25, -58.75));
        assert_eq!(wrap_lon(-0.5, 359.5), (-180.0, 180.0));
        assert_eq!(wrap_lon(170.0, 200.0), (170.0, -160.0));
        assert_eq!(wrap_lon(-10.125, 2.125), (-10.125, 2.125));
    }

    #[test]
    fn albers_box_matches_proj() {
        // landuse/lcmap_tiny_cog_2019.tif's bounds; rasterio.warp.transform_bounds (densify 21)
        // gives (-119.207479, 44.766627, -118.263151, 45.434019).
        let b = projected_box(
            "+proj=aea +lat_0=23 +lon_0=-96 +lat_1=29.5 +lat_2=45.5 +x_0=0 +y_0=0 +a=6378140 +rf=298.256999999996 +units=m +no_defs",
            [-1801185.0, 2638965.0, -1739745.0, 2700405.0],
        )
        .unwrap();
        let want = [-119.207479, 44.766627, -118.263151, 45.434019];
        for (a, w) in b.iter().zip(want) {
            assert!((a - w).abs() < 1e-4, "{b:?}");
        }
    }
}
