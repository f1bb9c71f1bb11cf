//! Which datasets cover an area and a period: the store's STAC collections whose extent
//! intersects the query, with their extent and time range clipped to it.
//!
//! A dataset's extent is its collection's bbox (grid cell edges, see [`crate::extent`]). A bbox
//! query keeps the datasets whose box overlaps it (edges touching count); a polygon query keeps
//! those whose box intersects the polygon itself (not just its bounding box), as shapely's
//! `intersects` does. Datasets whose position is unknown match only queries without an area;
//! time-invariant datasets (DEMs, land cover) match any period.

use crate::CatalogError;
use hod_query::polygon::Area;
use hod_store::Store;
use serde::Serialize;
use serde_json::Value;

/// What to look for.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// The area, if any.
    pub area: Option<QueryArea>,
    /// First time (seconds since 1970, inclusive).
    pub start: Option<f64>,
    /// Last time (inclusive).
    pub end: Option<f64>,
}

/// The area of a query.
#[derive(Debug, Clone)]
pub enum QueryArea {
    /// `W,S,E,N` in degrees (W > E crosses the antimeridian).
    Bbox([f64; 4]),
    /// GeoJSON polygons, longitude/latitude.
    Polygon(Area),
}

/// A dataset that matches.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hit {
    /// Dataset name.
    pub dataset: String,
    /// Title.
    pub title: String,
    /// Profile, if ingested with one.
    pub profile: Option<String>,
    /// The dataset's whole extent.
    pub bbox: Option<[f64; 4]>,
    /// The extent clipped to the query's bounding box.
    pub clipped_bbox: Option<[f64; 4]>,
    /// The dataset's time range (RFC 3339), `None` for time-invariant data.
    pub time: Option<(String, String)>,
    /// The time range clipped to the query's.
    pub clipped_time: Option<(String, String)>,
    /// Variables (data, not auxiliary).
    pub variables: Vec<String>,
}

/// `[w, s, e, n]` as one or two boxes that do not cross the antimeridian.
fn split([w, s, e, n]: [f64; 4]) -> Vec<[f64; 4]> {
    if w > e {
        vec![[w, s, 180.0, n], [-180.0, s, e, n]]
    } else {
        vec![[w, s, e, n]]
    }
}

fn overlap(a: [f64; 4], b: [f64; 4]) -> Option<[f64; 4]> {
    let r = [a[0].max(b[0]), a[1].max(b[1]), a[2].min(b[2]), a[3].min(b[3])];
    (r[0] <= r[2] && r[1] <= r[3]).then_some(r)
}

/// Whether segments `p1p2` and `q1q2` meet (touching included).
fn segments_meet(p1: (f64, f64), p2: (f64, f64), q1: (f64, f64), q2: (f64, f64)) -> bool {
    let cross =
        |o: (f64, f64), a: (f64, f64), b: (f64, f64)| (a.0 - o.0) * (b.1 - o.1) - (a.1 - o.1) * (b.0 - o.0);
    let on = |a: (f64, f64), b: (f64, f64), p: (f64, f64)| {
        p.0 >= a.0.min(b.0) && p.0 <= a.0.max(b.0) && p.1 >= a.1.min(b.1) && p.1 <= a.1.max(b.1)
    };
    let (d1, d2) = (cross(q1, q2, p1), cross(q1, q2, p2));
    let (d3, d4) = (cross(p1, p2, q1), cross(p1, p2, q2));
    if ((d1 > 0.0 && d2 < 0.0) || (d1 < 0.0 && d2 > 0.0))
        && ((d3 > 0.0 && d4 < 0.0) || (d3 < 0.0 && d4 > 0.0))
    {
        return true;
    }
    (d1 == 0.0 && on(q1, q2, p1))
        || (d2 == 0.0 && on(q1, q2, p2))
        || (d3 == 0.0 && on(p1, p2, q1))
        || (d4 == 0.0 && on(p1, p2, q2))
}

/// Whether a box (not crossing the antimeridian) intersects the polygons: a vertex inside the box,
/// a box corner inside a polygon, or crossing edges.
pub fn box_intersects_area([w, s, e, n]: [f64; 4], area: &Area) -> bool {
    let corners = [(w, s), (e, s), (e, n), (w, n)];
    if corners.iter().any(|&(x, y)| area.contains(x, y)) {
        return true;
    }
    for p in &area.polygons {
        for ring in &p.rings {
            if ring.iter().any(|&(x, y)| x >= w && x <= e && y >= s && y <= n) {
                return true;
            }
            for (i, &a) in ring.iter().enumerate() {
                let b = ring[(i + 1) % ring.len()];
                if (0..4).any(|k| segments_meet(a, b, corners[k], corners[(k + 1) % 4])) {
                    return true;
                }
            }
        }
    }
    false
}

fn parse_time(s: &str) -> Option<f64> {
    hod_query::parse_time(s.trim_end_matches('Z')).ok()
}

fn fmt(t: f64) -> String {
    format!("{}Z", hod_core::time::format_unix_seconds(t))
}

/// The datasets of the store that intersect the query, in catalog order.
///
/// # Errors
/// Store errors or malformed collections.
pub async fn search(store: &Store, q: &Query) -> Result<Vec<Hit>, CatalogError> {
    let mut hits = Vec::new();
    for c in crate::stac::collections(store).await? {
        if let Some(h) = matches(&c, q) {
            hits.push(h);
        }
    }
    Ok(hits)
}

/// The hit for one collection, if it matches.
pub fn matches(c: &Value, q: &Query) -> Option<Hit> {
    let known = c["hod:extent_known"].as_bool().unwrap_or(true);
    let bbox: Option<[f64; 4]> = known
        .then(|| serde_json::from_value(c["extent"]["spatial"]["bbox"][0].clone()).ok())
        .flatten();
    let clipped_bbox = match (&q.area, bbox) {
        (None, b) => b,
        (Some(_), None) => return None,
        (Some(area), Some(b)) => {
            let (qbox, hit) = match area {
                QueryArea::Bbox(qb) => (
                    *qb,
                    split(b)
                        .iter()
                        .any(|x| split(*qb).iter().any(|y| overlap(*x, *y).is_some())),
                ),
                QueryArea::Polygon(a) => {
                    let (w, s, e, n) = a.bounds();
                    ([w, s, e, n], split(b).iter().any(|x| box_intersects_area(*x, a)))
                }
            };
            if !hit {
                return None;
            }
            let parts: Vec<[f64; 4]> = split(b)
                .iter()
                .flat_map(|x| split(qbox).into_iter().filter_map(move |y| overlap(*x, y)))
                .collect();
            parts
                .into_iter()
                .reduce(|a, b| [a[0].min(b[0]), a[1].min(b[1]), a[2].max(b[2]), a[3].max(b[3])])
        }
    };
    let interval = &c["extent"]["temporal"]["interval"][0];
    let time = match (
        interval[0].as_str().and_then(parse_time),
        interval[1].as_str().and_then(parse_time),
    ) {
        (Some(a), Some(b)) => Some((a, b)),
        _ => None,
    };
    let clipped_time = match time {
        None => None,
        Some((a, b)) => {
            let (lo, hi) = (q.start.map_or(a, |s| s.max(a)), q.end.map_or(b, |e| e.min(b)));
            if lo > hi {
                return None;
            }
            Some((fmt(lo), fmt(hi)))
        }
    };
    let variables = c["cube:variables"]
        .as_object()
        .map(|o| {
            o.iter()
                .filter(|(_, v)| v["type"] == "data")
                .map(|(k, _)| k.clone())
                .collect()
        })
        .unwrap_or_default();
    Some(Hit {
        dataset: c["id"].as_str().unwrap_or_default().to_string(),
        title: c["title"].as_str().unwrap_or_default().to_string(),
        profile: c["hod:profile"].as_str().map(str::to_string),
        bbox,
        clipped_bbox,
        time: time.map(|(a, b)| (fmt(a), fmt(b))),
        clipped_time,
        variables,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square(w: f64, s: f64, e: f64, n: f64) -> Area {
        Area::from_geojson(
            &serde_json::json!({"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]})
                .to_string(),
        )
        .unwrap()
    }

    #[test]
    fn box_and_polygon_intersections() {
        let a = square(0.0, 0.0, 10.0, 10.0);
        assert!(box_intersects_area([2.0, 2.0, 3.0, 3.0], &a), "box inside");
        assert!(
            box_intersects_area([-5.0, -5.0, 20.0, 20.0], &a),
            "polygon inside"
        );
        assert!(
            box_intersects_area([-5.0, 4.0, 20.0, 5.0], &a),
            "crossing, no vertex inside"
        );
        assert!(box_intersects_area([10.0, 0.0, 12.0, 1.0], &a), "touching edge");
        assert!(!box_intersects_area([11.0, 0.0, 12.0, 1.0], &a));
        let tri =
            Area::from_geojson(r#"{"type":"Polygon","coordinates":[[[0,0],[10,0],[0,10],[0,0]]]}"#).unwrap();
        assert!(
            !box_intersects_area([8.0, 8.0, 9.0, 9.0], &tri),
            "in the bbox, outside the triangle"
        );
    }

    #[test]
    fn antimeridian_boxes_split() {
        assert_eq!(split([170.0, 0.0, -170.0, 1.0]).len(), 2);
        let c = serde_json::json!({"id": "x", "extent": {"spatial": {"bbox": [[170.0, -10.0, -170.0, 10.0]]},
            "temporal": {"interval": [[null, null]]}}});
        let q = Query {
            area: Some(QueryArea::Bbox([-175.0, 0.0, -160.0, 5.0])),
            ..Query::default()
        };
        let h = matches(&c, &q).unwrap();
        assert_eq!(h.clipped_bbox, Some([-175.0, 0.0, -170.0, 5.0]));
        let q = Query {
            area: Some(QueryArea::Bbox([0.0, 0.0, 10.0, 5.0])),
            ..Query::default()
        };
        assert!(matches(&c, &q).is_none());
    }
}
