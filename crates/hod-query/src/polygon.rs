//! Polygons (GeoJSON Polygon / MultiPolygon, Feature, FeatureCollection) and the grid cells whose
//! centre lies inside them.

use crate::QueryError;
use serde_json::Value;

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
        let v: Value =
            serde_json::from_str(text).map_err(|e| QueryError::Invalid(format!("not GeoJSON: {e}")))?;
        let mut area = Area::default();
        collect(&v, &mut area)?;
        if area.polygons.is_empty() {
            return Err(QueryError::Invalid(
                "the GeoJSON holds no Polygon or MultiPolygon".into(),
            ));
        }
        Ok(area)
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

fn collect(v: &Value, area: &mut Area) -> Result<(), QueryError> {
    let bad = |what: &str| QueryError::Invalid(format!("GeoJSON: {what}"));
    match v.get("type").and_then(Value::as_str) {
        Some("FeatureCollection") => {
            for f in v
                .get("features")
                .and_then(Value::as_array)
                .ok_or_else(|| bad("features is not a list"))?
            {
                collect(f, area)?;
            }
        }
        Some("Feature") => {
            if let Some(g) = v.get("geometry").filter(|g| !g.is_null()) {
                collect(g, area)?;
            }
        }
        Some("GeometryCollection") => {
            for g in v
                .get("geometries")
                .and_then(Value::as_array)
                .ok_or_else(|| bad("geometries is not a list"))?
            {
                collect(g, area)?;
            }
        }
        Some("Polygon") => area
            .polygons
            .push(polygon(v.get("coordinates")).ok_or_else(|| bad("bad Polygon coordinates"))?),
        Some("MultiPolygon") => {
            for p in v
                .get("coordinates")
                .and_then(Value::as_array)
                .ok_or_else(|| bad("bad MultiPolygon"))?
            {
                area.polygons
                    .push(polygon(Some(p)).ok_or_else(|| bad("bad MultiPolygon coordinates"))?);
            }
        }
        _ => {}
    }
    Ok(())
}

fn polygon(coords: Option<&Value>) -> Option<Polygon> {
    let rings = coords?
        .as_array()?
        .iter()
        .map(|ring| {
            ring.as_array()?
                .iter()
                .map(|p| Some((p.get(0)?.as_f64()?, p.get(1)?.as_f64()?)))
                .collect::<Option<Vec<_>>>()
        })
        .collect::<Option<Vec<_>>>()?;
    (!rings.is_empty()).then_some(Polygon { rings })
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
