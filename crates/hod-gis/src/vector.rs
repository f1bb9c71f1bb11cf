//! Polygon features with their attributes, from GeoJSON or Esri shapefiles.
//!
//! GeoJSON may be a FeatureCollection, a single Feature or a bare geometry; Polygon and
//! MultiPolygon geometries (also inside a GeometryCollection) are kept, other geometry types are
//! skipped. Shapefiles are read from the `.shp` with the `.dbf` beside it for the attributes
//! (and the `.shx` index when present). Coordinates are kept as they are: no reprojection.

use crate::GisError;
use geo_types::{Coord, LineString, MultiPolygon, Polygon};
use serde_json::{Map, Value};
use std::path::Path;

/// One polygonal feature: its geometry and attributes.
#[derive(Debug, Clone, PartialEq)]
pub struct Feature {
    /// The polygons (one for a Polygon).
    pub geometry: MultiPolygon<f64>,
    /// Attributes: GeoJSON `properties`, or the `.dbf` record (keys sorted).
    pub properties: Map<String, Value>,
}

impl Feature {
    /// The attribute `field` as text (numbers without a trailing `.0`), if present and not null.
    pub fn property_text(&self, field: &str) -> Option<String> {
        match self.properties.get(field)? {
            Value::Null => None,
            Value::String(s) => Some(s.trim().to_string()),
            Value::Number(n) => Some(match n.as_f64() {
                Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
                _ => n.to_string(),
            }),
            other => Some(other.to_string()),
        }
    }
}

/// `(west, south, east, north)` of all vertices of the features, or `None` without any.
pub fn bounds(features: &[Feature]) -> Option<(f64, f64, f64, f64)> {
    let mut pts = features
        .iter()
        .flat_map(|f| f.geometry.0.iter())
        .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
        .flat_map(|r| r.0.iter());
    let first = pts.next()?;
    Some(pts.fold((first.x, first.y, first.x, first.y), |(w, s, e, n), c| {
        (w.min(c.x), s.min(c.y), e.max(c.x), n.max(c.y))
    }))
}

/// Reads the polygon features of a `.geojson`/`.json` or `.shp` file (chosen by extension).
///
/// # Errors
/// [`GisError::Parse`] naming the file when it cannot be read or parsed, or holds no polygon.
pub fn read_path(path: &Path) -> Result<Vec<Feature>, GisError> {
    let what = path.display().to_string();
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    if ext == "shp" {
        return read_shapefile(path);
    }
    let text = std::fs::read_to_string(path).map_err(|e| GisError::Parse {
        what: what.clone(),
        message: format!("cannot read: {e}"),
    })?;
    parse_geojson(&what, &text)
}

/// Parses GeoJSON text into its polygon features.
///
/// # Errors
/// [`GisError::Parse`] when the text is not GeoJSON, a polygon's coordinates are malformed, or
/// it holds no Polygon or MultiPolygon.
pub fn parse_geojson(what: &str, text: &str) -> Result<Vec<Feature>, GisError> {
    let err = |message: String| GisError::Parse {
        what: what.to_string(),
        message,
    };
    let gj: geojson::GeoJson = text.parse().map_err(|e| err(format!("not GeoJSON: {e}")))?;
    let mut out = Vec::new();
    match gj {
        geojson::GeoJson::FeatureCollection(fc) => {
            for (i, f) in fc.features.into_iter().enumerate() {
                push_feature(f, &mut out).map_err(|m| err(format!("feature {i}: {m}")))?;
            }
        }
        geojson::GeoJson::Feature(f) => push_feature(f, &mut out).map_err(err)?,
        geojson::GeoJson::Geometry(g) => {
            let mut polys = Vec::new();
            polygons(&g.value, &mut polys)?;
            if !polys.is_empty() {
                out.push(Feature {
                    geometry: MultiPolygon(polys),
                    properties: Map::new(),
                });
            }
        }
    }
    if out.is_empty() {
        return Err(err("holds no Polygon or MultiPolygon".into()));
    }
    Ok(out)
}

fn push_feature(f: geojson::Feature, out: &mut Vec<Feature>) -> Result<(), String> {
    let Some(g) = f.geometry else {
        return Ok(());
    };
    let mut polys = Vec::new();
    polygons(&g.value, &mut polys).map_err(|e| e.to_string())?;
    if !polys.is_empty() {
        out.push(Feature {
            geometry: MultiPolygon(polys),
            properties: f.properties.unwrap_or_default(),
        });
    }
    Ok(())
}

/// Collects the polygons of a geometry (recursing into collections).
fn polygons(g: &geojson::GeometryValue, out: &mut Vec<Polygon<f64>>) -> Result<(), GisError> {
    use geojson::GeometryValue as G;
    match g {
        G::Polygon { coordinates } => out.push(polygon(coordinates)?),
        G::MultiPolygon { coordinates } => {
            for p in coordinates {
                out.push(polygon(p)?);
            }
        }
        G::GeometryCollection { geometries } => {
            for g in geometries {
                polygons(&g.value, out)?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn polygon(rings: &[Vec<geojson::Position>]) -> Result<Polygon<f64>, GisError> {
    let ring = |r: &Vec<geojson::Position>| -> Result<LineString<f64>, GisError> {
        r.iter()
            .map(|p| match p.as_slice() {
                [x, y, ..] if x.is_finite() && y.is_finite() => Ok(Coord { x: *x, y: *y }),
                _ => Err(GisError::Parse {
                    what: "GeoJSON".into(),
                    message: format!("bad position {p:?}"),
                }),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(LineString)
    };
    let mut it = rings.iter();
    let exterior = it
        .next()
        .map(ring)
        .transpose()?
        .unwrap_or_else(|| LineString(vec![]));
    let holes = it.map(ring).collect::<Result<Vec<_>, _>>()?;
    Ok(Polygon::new(exterior, holes))
}

/// Reads a shapefile's polygons and their `.dbf` attributes.
///
/// # Errors
/// [`GisError::Parse`] naming the file when the `.shp` or `.dbf` is missing or malformed, a
/// shape is not a polygon, or there is no polygon at all.
pub fn read_shapefile(path: &Path) -> Result<Vec<Feature>, GisError> {
    let err = |message: String| GisError::Parse {
        what: path.display().to_string(),
        message,
    };
    let mut reader = shapefile::Reader::from_path(path).map_err(|e| err(e.to_string()))?;
    let mut out = Vec::new();
    for (i, item) in reader.iter_shapes_and_records().enumerate() {
        let (shape, record) = item.map_err(|e| err(format!("record {i}: {e}")))?;
        let geometry: MultiPolygon<f64> = match shape {
            shapefile::Shape::Polygon(p) => p.try_into(),
            shapefile::Shape::PolygonM(p) => p.try_into(),
            shapefile::Shape::PolygonZ(p) => p.try_into(),
            shapefile::Shape::NullShape => continue,
            other => {
                return Err(err(format!(
                    "record {i} is a {}, not a polygon",
                    other.shapetype()
                )));
            }
        }
        .map_err(|e| err(format!("record {i}: {e}")))?;
        let mut fields: Vec<(String, Value)> = record.into_iter().map(|(k, v)| (k, field_value(v))).collect();
        fields.sort_by(|a, b| a.0.cmp(&b.0));
        out.push(Feature {
            geometry,
            properties: fields.into_iter().collect(),
        });
    }
    if out.is_empty() {
        return Err(err("holds no polygon".into()));
    }
    Ok(out)
}

fn field_value(v: shapefile::dbase::FieldValue) -> Value {
    use shapefile::dbase::FieldValue as F;
    let num = |x: f64| serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number);
    match v {
        F::Character(s) => s.map_or(Value::Null, |s| Value::String(s.trim().to_string())),
        F::Numeric(x) => x.map_or(Value::Null, num),
        F::Float(x) => x.map_or(Value::Null, |x| num(f64::from(x))),
        F::Logical(b) => b.map_or(Value::Null, Value::Bool),
        F::Integer(i) => Value::from(i),
        F::Currency(x) | F::Double(x) => num(x),
        F::Memo(s) => Value::String(s),
        other => Value::String(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn geojson_kinds() {
        let bare = r#"{"type":"MultiPolygon","coordinates":[[[[0,0],[1,0],[1,1],[0,0]]],[[[2,2],[3,2],[3,3],[2,2]]]]}"#;
        let f = parse_geojson("t", bare).unwrap();
        assert_eq!((f.len(), f[0].geometry.0.len()), (1, 2));
        let fc = r#"{"type":"FeatureCollection","features":[
            {"type":"Feature","properties":{"id":7},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}},
            {"type":"Feature","properties":{"id":"b"},"geometry":{"type":"Point","coordinates":[0,0]}},
            {"type":"Feature","properties":{"id":"c"},"geometry":null},
            {"type":"Feature","properties":{"id":"d"},"geometry":{"type":"Polygon","coordinates":[[[5,5],[6,5],[6,6],[5,5]],[[5.5,5.2],[5.8,5.2],[5.8,5.5],[5.5,5.2]]]}}]}"#;
        let f = parse_geojson("t", fc).unwrap();
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].property_text("id").as_deref(), Some("7"));
        assert_eq!(f[1].geometry.0[0].interiors().len(), 1);
        assert_eq!(bounds(&f), Some((0.0, 0.0, 6.0, 6.0)));
        assert!(parse_geojson("t", r#"{"type":"Point","coordinates":[0,0]}"#).is_err());
        assert!(parse_geojson("t", "nope").unwrap_err().to_string().contains("t:"));
    }
}
