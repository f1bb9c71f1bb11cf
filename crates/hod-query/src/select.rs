//! From a request (names, time range, bbox) to index ranges along each dimension.
//!
//! Semantics follow xarray's `.sel` with slices: ends are inclusive; a bbox `W,S,E,N` keeps the
//! grid points with `W <= x <= E` and `S <= y <= N`, whatever the direction the coordinate runs
//! in (descending latitude included); a time range keeps the steps with `start <= t <= end`.

use crate::QueryError;
use hod_core::time::CfTime;
use hod_index::{DatasetMeta, VariableMeta};

/// A bounding box `W,S,E,N` in the dataset's CRS (degrees for lat/lon grids).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bbox {
    /// West (minimum x).
    pub west: f64,
    /// South (minimum y).
    pub south: f64,
    /// East (maximum x).
    pub east: f64,
    /// North (maximum y).
    pub north: f64,
}

impl std::str::FromStr for Bbox {
    type Err = QueryError;

    fn from_str(s: &str) -> Result<Bbox, QueryError> {
        let v: Vec<f64> = s
            .split(',')
            .map(|p| p.trim().parse::<f64>())
            .collect::<Result<_, _>>()
            .map_err(|_| QueryError::Invalid(format!("bbox '{s}' is not four numbers W,S,E,N")))?;
        let [west, south, east, north] = v[..] else {
            return Err(QueryError::Invalid(format!(
                "bbox '{s}' is not four numbers W,S,E,N"
            )));
        };
        if v.iter().any(|x| !x.is_finite()) || south > north {
            return Err(QueryError::Invalid(format!(
                "bbox '{s}': S must not exceed N, and all must be finite"
            )));
        }
        Ok(Bbox {
            west,
            south,
            east,
            north,
        })
    }
}

/// Parses an ISO 8601 date or date-time (`2019-03-10`, `2019-03-10T06`, `2019-03-10T06:30:00Z`) to
/// seconds since 1970.
///
/// # Errors
/// [`QueryError::Invalid`] naming the text.
pub fn parse_time(s: &str) -> Result<f64, QueryError> {
    hod_core::time::parse_datetime(s)
        .map(|t| t.and_utc().timestamp() as f64)
        .ok_or_else(|| QueryError::Invalid(format!("'{s}' is not an ISO 8601 date or date-time")))
}

/// Finds a variable by short name, by the last part of its path, by `long_name` (case-insensitive)
/// or by CF `standard_name`.
///
/// # Errors
/// [`QueryError::Invalid`] listing the names the dataset has.
pub fn resolve<'a>(meta: &'a DatasetMeta, name: &str) -> Result<(&'a str, &'a VariableMeta), QueryError> {
    let attr = |v: &VariableMeta, k: &str| {
        v.array
            .attrs
            .get(k)
            .and_then(|a| a.as_str())
            .map(str::to_lowercase)
    };
    let wanted = name.to_lowercase();
    type Test<'t> = &'t dyn Fn(&str, &VariableMeta) -> bool;
    let tests: [Test; 4] = [
        &|n, _| n == name,
        &|n, _| n.rsplit('/').next() == Some(name),
        &|_, v| attr(v, "long_name").as_deref() == Some(wanted.as_str()),
        &|_, v| attr(v, "standard_name").as_deref() == Some(wanted.as_str()),
    ];
    for test in tests {
        if let Some((n, v)) = meta.variables.iter().find(|(n, v)| test(n, v)) {
            return Ok((n.as_str(), v));
        }
    }
    let names: Vec<&str> = meta.variables.keys().map(String::as_str).collect();
    Err(QueryError::Invalid(format!(
        "dataset '{}' has no variable '{name}' (by name, long_name or standard_name); it has: {}",
        meta.name,
        names.join(", ")
    )))
}

/// What a dimension's coordinate stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Longitude or projected x.
    X,
    /// Latitude or projected y.
    Y,
    /// CF time.
    Time,
    /// Anything else: selected whole.
    Other,
}

/// The role of a coordinate variable, from its CF attributes or, failing those, its name.
pub fn role(name: &str, v: &VariableMeta) -> Role {
    let attr = |k: &str| v.array.attrs.get(k).and_then(|a| a.as_str()).unwrap_or("");
    let short = name.rsplit('/').next().unwrap_or(name).to_lowercase();
    let units = attr("units");
    if matches!(
        attr("standard_name"),
        "longitude" | "projection_x_coordinate" | "grid_longitude"
    ) || attr("axis") == "X"
        || units.starts_with("degrees_east")
        || matches!(short.as_str(), "lon" | "longitude" | "x")
    {
        Role::X
    } else if matches!(
        attr("standard_name"),
        "latitude" | "projection_y_coordinate" | "grid_latitude"
    ) || attr("axis") == "Y"
        || units.starts_with("degrees_north")
        || matches!(short.as_str(), "lat" | "latitude" | "y")
    {
        Role::Y
    } else if units.contains(" since ") {
        Role::Time
    } else {
        Role::Other
    }
}

/// Whether a coordinate is a longitude in degrees (bboxes then wrap onto its convention).
pub fn is_longitude(name: &str, v: &VariableMeta) -> bool {
    let attr = |k: &str| v.array.attrs.get(k).and_then(|a| a.as_str()).unwrap_or("");
    let short = name.rsplit('/').next().unwrap_or(name).to_lowercase();
    attr("standard_name") == "longitude"
        || attr("units").starts_with("degrees_east")
        || matches!(short.as_str(), "lon" | "longitude")
}

/// Index range `[start, end)` of the points of a monotonic coordinate within `[lo, hi]`.
pub fn index_range(values: &[f64], lo: f64, hi: f64) -> std::ops::Range<usize> {
    let inside = |x: &f64| *x >= lo && *x <= hi;
    match values.iter().position(inside) {
        Some(first) => first..values.iter().rposition(inside).map_or(first + 1, |l| l + 1),
        None => 0..0,
    }
}

/// The x range(s) of a bbox on a longitude axis: the bbox moved onto the axis' convention
/// (0..360 or -180..180), split in two where it crosses the axis' seam (the antimeridian, or 0°
/// on a 0..360 axis). Each range is inclusive.
pub fn longitude_ranges(values: &[f64], west: f64, east: f64) -> Vec<(f64, f64)> {
    let (min, max) = values
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), &x| (a.min(x), b.max(x)));
    if east - west >= 360.0 {
        return vec![(min, max)];
    }
    let seam = if max > 180.0 { 0.0 } else { -180.0 };
    // Move both ends into [seam, seam + 360).
    let wrap = |x: f64| (x - seam).rem_euclid(360.0) + seam;
    let (w, e) = (wrap(west), wrap(east));
    if w <= e {
        vec![(w, e)]
    } else {
        vec![(w, seam + 360.0), (seam, e)]
    }
}

/// Seconds since 1970 of a time coordinate's raw values.
///
/// # Errors
/// [`QueryError::Invalid`] when its units are not CF time units.
pub fn time_values(name: &str, v: &VariableMeta, raw: &[f64]) -> Result<Vec<f64>, QueryError> {
    let attr = |k: &str| v.array.attrs.get(k).and_then(|a| a.as_str());
    let units = attr("units").unwrap_or("");
    let t = CfTime::parse(units, attr("calendar"))
        .map_err(|e| QueryError::Invalid(format!("coordinate '{name}': {e}")))?;
    Ok(raw.iter().map(|&x| t.unix_seconds(x)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descending_latitude_and_inclusive_ends() {
        let lat: Vec<f64> = (0..33).map(|i| 58.0 - 0.25 * i as f64).collect();
        assert_eq!(index_range(&lat, 51.0, 53.0), 20..29);
        assert_eq!(index_range(&lat, 51.5, 51.5), 26..27);
        assert_eq!(index_range(&lat, 60.0, 61.0), 0..0);
    }

    #[test]
    fn longitude_conventions() {
        let lon360: Vec<f64> = (0..144).map(|i| 2.5 * i as f64).collect();
        assert_eq!(
            longitude_ranges(&lon360, -10.0, 10.0),
            vec![(350.0, 360.0), (0.0, 10.0)]
        );
        assert_eq!(longitude_ranges(&lon360, 10.0, 20.0), vec![(10.0, 20.0)]);
        let lon180: Vec<f64> = (0..144).map(|i| -180.0 + 2.5 * i as f64).collect();
        assert_eq!(
            longitude_ranges(&lon180, 170.0, -170.0),
            vec![(170.0, 180.0), (-180.0, -170.0)]
        );
        assert_eq!(longitude_ranges(&lon180, 200.0, 210.0), vec![(-160.0, -150.0)]);
    }

    #[test]
    fn bbox_parsing() {
        assert!("0,51,2,53".parse::<Bbox>().is_ok());
        assert!("0,53,2,51".parse::<Bbox>().is_err());
        assert!("0,51,2".parse::<Bbox>().is_err());
        assert!("a,b,c,d".parse::<Bbox>().is_err());
    }
}
