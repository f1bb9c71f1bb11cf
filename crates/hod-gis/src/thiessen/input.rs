//! Stations from CSV or GeoJSON, and the basin from GeoJSON or shapefile features.

use super::Station;
use crate::GisError;
use geo::MultiPolygon;
use geojson::{GeoJson, Geometry, GeometryValue, JsonValue, feature::Id};

fn parse_err(what: &str, message: String) -> GisError {
    GisError::Parse {
        what: what.into(),
        message,
    }
}

/// Splits one CSV line into trimmed fields, dropping the double quotes around a field (quoted
/// fields may not hold commas).
pub(crate) fn fields(line: &str) -> Vec<&str> {
    line.split(',')
        .map(|f| f.trim().trim_matches('"').trim())
        .collect()
}

/// The non-blank, non-comment (`#`) lines, numbered from 1.
pub(crate) fn lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
}

/// Stations from CSV text: `id,lon,lat` rows, with or without a header. A header may name the
/// columns in any order (`id`/`station`/`name`, `lon`/`longitude`/`x`, `lat`/`latitude`/`y`).
///
/// # Errors
/// [`GisError::Parse`] naming the line of a row that does not parse.
pub fn stations_from_csv(text: &str) -> Result<Vec<Station>, GisError> {
    const WHAT: &str = "stations CSV";
    let mut rows = lines(text).peekable();
    let mut cols = (0, 1, 2);
    if let Some(&(n, first)) = rows.peek() {
        let f = fields(first);
        let numeric = f.len() >= 3 && f[1].parse::<f64>().is_ok() && f[2].parse::<f64>().is_ok();
        if !numeric {
            let find = |names: &[&str]| {
                f.iter()
                    .position(|c| names.iter().any(|n| c.eq_ignore_ascii_case(n)))
                    .ok_or_else(|| {
                        parse_err(
                            WHAT,
                            format!("line {n}: header {first:?} has no {} column", names[0]),
                        )
                    })
            };
            cols = (
                find(&["id", "station", "name", "station_id", "code"])?,
                find(&["lon", "longitude", "x", "lng"])?,
                find(&["lat", "latitude", "y"])?,
            );
            rows.next();
        }
    }
    rows.map(|(n, line)| {
        let f = fields(line);
        let get = |i: usize| {
            f.get(i)
                .copied()
                .ok_or_else(|| parse_err(WHAT, format!("line {n}: too few columns")))
        };
        let num = |i: usize| {
            let v = get(i)?;
            v.parse::<f64>()
                .map_err(|_| parse_err(WHAT, format!("line {n}: {v:?} is not a number")))
        };
        Ok(Station::new(get(cols.0)?, num(cols.1)?, num(cols.2)?))
    })
    .collect()
}

/// Stations from GeoJSON: Point (or MultiPoint) features; the id is the feature's `id`, else
/// its `id`/`station`/`name` property, else its position (1, 2, ...).
///
/// # Errors
/// [`GisError::Parse`] when the text is not GeoJSON or holds something other than points.
pub fn stations_from_geojson(text: &str) -> Result<Vec<Station>, GisError> {
    const WHAT: &str = "stations GeoJSON";
    let gj: GeoJson = text.parse().map_err(|e| parse_err(WHAT, format!("{e}")))?;
    let features: Vec<(Option<String>, Geometry)> = match gj {
        GeoJson::Geometry(g) => vec![(None, g)],
        GeoJson::Feature(f) => f
            .geometry
            .clone()
            .map(|g| (feature_id(&f), g))
            .into_iter()
            .collect(),
        GeoJson::FeatureCollection(fc) => fc
            .features
            .iter()
            .filter_map(|f| f.geometry.clone().map(|g| (feature_id(f), g)))
            .collect(),
    };
    let mut out = Vec::new();
    for (id, g) in features {
        let mut push = |pos: &[f64], id: Option<String>| match pos {
            [lon, lat, ..] => {
                let id = id.unwrap_or_else(|| (out.len() + 1).to_string());
                out.push(Station::new(id, *lon, *lat));
                Ok(())
            }
            _ => Err(parse_err(WHAT, "a point with fewer than 2 coordinates".into())),
        };
        match &g.value {
            GeometryValue::Point { coordinates } => push(coordinates.as_slice(), id)?,
            GeometryValue::MultiPoint { coordinates } => {
                for (k, p) in coordinates.iter().enumerate() {
                    push(p.as_slice(), id.as_ref().map(|id| format!("{id}-{}", k + 1)))?;
                }
            }
            other => {
                return Err(parse_err(
                    WHAT,
                    format!("stations must be points, found a {}", other.type_name()),
                ));
            }
        }
    }
    Ok(out)
}

fn feature_id(f: &geojson::Feature) -> Option<String> {
    match &f.id {
        Some(Id::String(s)) => return Some(s.clone()),
        Some(Id::Number(n)) => return Some(n.to_string()),
        None => {}
    }
    let props = f.properties.as_ref()?;
    ["id", "station", "name"]
        .iter()
        .find_map(|k| match props.get(*k)? {
            JsonValue::String(s) => Some(s.clone()),
            JsonValue::Number(n) => Some(n.to_string()),
            _ => None,
        })
}

/// The basin from GeoJSON text: every Polygon and MultiPolygon (in a Geometry, Feature or
/// FeatureCollection) as one multipolygon, coordinates `[lon, lat]`.
///
/// # Errors
/// [`GisError::Parse`] when the text is not GeoJSON or holds no polygon.
pub fn basin_from_geojson(text: &str) -> Result<MultiPolygon<f64>, GisError> {
    basin_from_features(crate::vector::parse_geojson("basin GeoJSON", text)?)
}

/// All polygons of `features` as one multipolygon (a basin given as several features).
///
/// # Errors
/// [`GisError::Parse`] when there is no polygon.
pub fn basin_from_features(features: Vec<crate::vector::Feature>) -> Result<MultiPolygon<f64>, GisError> {
    let polys: Vec<_> = features.into_iter().flat_map(|f| f.geometry.0).collect();
    if polys.is_empty() {
        return Err(parse_err("basin", "no Polygon or MultiPolygon in it".into()));
    }
    Ok(MultiPolygon::new(polys))
}
