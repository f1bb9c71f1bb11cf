//! Thiessen (Voronoi) polygons of stations clipped to a basin, each station's area weight, and
//! areal (basin-average) series from station series.
//!
//! Stations and basin are in lon/lat degrees. By default ([`AreaMetric::EqualArea`]) both are
//! projected to a Lambert azimuthal equal-area plane on WGS84 centred on the basin's centroid,
//! the cells are built there, and areas are measured there (true ellipsoidal areas of the cells
//! as drawn in that plane): the same as `scipy.spatial.Voronoi` + shapely after a pyproj `laea`
//! projection (`shared/bench/peer_voronoi.py`). See `docs/thiessen.md`.
//!
//! ```
//! use hod_gis::thiessen::{AreaMetric, Station, ThiessenBasin};
//! let ring = vec![(10.0, 47.0), (10.2, 47.0), (10.2, 47.1), (10.0, 47.1), (10.0, 47.0)];
//! let basin = geo::MultiPolygon::new(vec![geo::Polygon::new(ring.into(), vec![])]);
//! let basin = ThiessenBasin::new(&basin, AreaMetric::EqualArea)?;
//! let stations = [Station::new("a", 10.05, 47.05), Station::new("b", 10.15, 47.05)];
//! let t = basin.compute(&stations)?;
//! assert!((t.weights[0] - 0.5).abs() < 1e-3 && (t.weights.iter().sum::<f64>() - 1.0).abs() < 1e-12);
//! # Ok::<(), hod_gis::GisError>(())
//! ```

mod areal;
mod clip;
mod input;
mod laea;
mod voronoi;

pub use areal::{ArealSeries, StationSeries, areal_series};
pub use input::{basin_from_features, basin_from_geojson, stations_from_csv, stations_from_geojson};

use crate::GisError;
use clip::{Bbox, P, Piece, PlaneBasin, signed_area};
use geo::{BooleanOps, Coord, GeodesicArea, LineString, MapCoords, MultiPolygon, Polygon};
use laea::Laea;

/// A station: an id and where it is (degrees).
#[derive(Debug, Clone, PartialEq)]
pub struct Station {
    /// Identifier (a column name in station series).
    pub id: String,
    /// Longitude, degrees east.
    pub lon: f64,
    /// Latitude, degrees north.
    pub lat: f64,
}

impl Station {
    /// A station named `id` at (`lon`, `lat`).
    pub fn new(id: impl Into<String>, lon: f64, lat: f64) -> Station {
        Station {
            id: id.into(),
            lon,
            lat,
        }
    }
}

/// How cells are built and their areas measured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum AreaMetric {
    /// Cells and areas in a Lambert azimuthal equal-area plane (WGS84) centred on the basin's
    /// centroid; areas in m². What pyproj + scipy + shapely give.
    #[default]
    EqualArea,
    /// The same cells, with areas of their lon/lat outlines on the WGS84 ellipsoid, edges taken
    /// as geodesics (Karney 2013, "Algorithms for geodesics", J. Geodesy 87); m².
    Geodesic,
    /// Cells and areas in the lon/lat plane itself (degrees as planar units; deg²), as naive
    /// scripts do: distances are distorted by cos(latitude).
    Planar,
}

impl AreaMetric {
    /// Unit of areas: `m2` or `deg2`.
    pub fn unit(&self) -> &'static str {
        match self {
            AreaMetric::Planar => "deg2",
            _ => "m2",
        }
    }
}

impl std::str::FromStr for AreaMetric {
    type Err = GisError;
    fn from_str(s: &str) -> Result<Self, GisError> {
        match s {
            "equal-area" => Ok(AreaMetric::EqualArea),
            "geodesic" => Ok(AreaMetric::Geodesic),
            "planar" => Ok(AreaMetric::Planar),
            _ => Err(GisError::Invalid(format!(
                "unknown area metric {s:?}: use equal-area, geodesic or planar"
            ))),
        }
    }
}

/// The plane in which cells are built.
#[derive(Debug, Clone)]
enum Plane {
    Laea(Laea),
    /// lon/lat shifted so the basin is near the origin (keeps the products in areas small).
    Shift(f64, f64),
}

impl Plane {
    fn forward(&self, lon: f64, lat: f64) -> P {
        match self {
            Plane::Laea(p) => p.forward(lon, lat),
            Plane::Shift(x0, y0) => (lon - x0, lat - y0),
        }
    }

    fn inverse(&self, (x, y): P) -> (f64, f64) {
        match self {
            Plane::Laea(p) => p.inverse(x, y),
            Plane::Shift(x0, y0) => (x + x0, y + y0),
        }
    }
}

/// A basin prepared for Thiessen weights: projected, indexed, its area known. Build it once and
/// compute the weights of many station sets.
#[derive(Debug, Clone)]
pub struct ThiessenBasin {
    metric: AreaMetric,
    plane: Plane,
    basin: PlaneBasin,
    /// The basin in the plane as polygons, for drawing the clipped cells.
    polygons: MultiPolygon<f64>,
    area: f64,
}

impl ThiessenBasin {
    /// Prepares `basin` (lon/lat degrees; polygons must not overlap each other).
    ///
    /// # Errors
    /// [`GisError::Invalid`] when a coordinate is not finite or the basin has no area.
    pub fn new(basin: &MultiPolygon<f64>, metric: AreaMetric) -> Result<ThiessenBasin, GisError> {
        let coords = basin
            .0
            .iter()
            .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()));
        if coords
            .flat_map(|r| r.coords())
            .any(|c| !c.x.is_finite() || !c.y.is_finite())
        {
            return Err(GisError::Invalid(
                "the basin has a coordinate that is not a finite number".into(),
            ));
        }
        let plane = match metric {
            AreaMetric::Planar => {
                let b = Bbox::of(
                    &basin
                        .0
                        .iter()
                        .flat_map(|p| p.exterior().coords().map(|c| (c.x, c.y)))
                        .collect::<Vec<_>>(),
                );
                Plane::Shift(0.5 * (b.0 + b.2), 0.5 * (b.1 + b.3))
            }
            _ => {
                let (lon0, lat0) = centroid(basin)
                    .ok_or_else(|| GisError::Invalid("the basin polygon has no area".into()))?;
                Plane::Laea(Laea::new(lon0, lat0))
            }
        };
        let polygons = basin.map_coords(|c| {
            let (x, y) = plane.forward(c.x, c.y);
            Coord { x, y }
        });
        let rings: Vec<Vec<Vec<P>>> = polygons
            .0
            .iter()
            .map(|p| {
                std::iter::once(p.exterior())
                    .chain(p.interiors())
                    .map(open_ring)
                    .collect()
            })
            .collect();
        let basin = PlaneBasin::new(rings);
        let mut prepared = ThiessenBasin {
            metric,
            plane,
            basin,
            polygons,
            area: 0.0,
        };
        prepared.area = prepared.basin.rings().map(|r| prepared.ring_area(r)).sum();
        if prepared.area.is_nan() || prepared.area <= 0.0 {
            return Err(GisError::Invalid("the basin polygon has no area".into()));
        }
        Ok(prepared)
    }

    /// The basin's area (m², or deg² for [`AreaMetric::Planar`]).
    pub fn area(&self) -> f64 {
        self.area
    }

    /// The metric the basin was prepared with.
    pub fn metric(&self) -> AreaMetric {
        self.metric
    }

    /// Each station's Thiessen polygon within the basin: its area and weight (area fraction).
    /// Stations outside the basin may still own part of it.
    ///
    /// # Errors
    /// [`GisError::Invalid`] when there is no station, a coordinate is not finite, or two
    /// stations are at the same place (merge them first: one value per place).
    pub fn compute(&self, stations: &[Station]) -> Result<Thiessen<'_>, GisError> {
        if stations.is_empty() {
            return Err(GisError::Invalid(
                "no stations: Thiessen weights need at least one".into(),
            ));
        }
        if let Some(s) = stations.iter().find(|s| !s.lon.is_finite() || !s.lat.is_finite()) {
            return Err(GisError::Invalid(format!(
                "station {} has a coordinate that is not a finite number ({}, {})",
                s.id, s.lon, s.lat
            )));
        }
        let sites: Vec<P> = stations
            .iter()
            .map(|s| {
                // spade refuses |v| < 2^-142 other than 0; such offsets are far below metres
                let (x, y) = self.plane.forward(s.lon, s.lat);
                (
                    if x.abs() < 1e-30 { 0.0 } else { x },
                    if y.abs() < 1e-30 { 0.0 } else { y },
                )
            })
            .collect();
        check_distinct(stations, &sites)?;
        let b = self.basin.bbox;
        let margin = 0.01 * (b.2 - b.0).max(b.3 - b.1) + 1e-9;
        let frame = Bbox(
            b.0.min(sites_min(&sites, 0)) - margin,
            b.1.min(sites_min(&sites, 1)) - margin,
            b.2.max(sites_max(&sites, 0)) + margin,
            b.3.max(sites_max(&sites, 1)) + margin,
        );
        let cells = voronoi::cells(&sites, frame)?;
        let mut areas = Vec::with_capacity(cells.len());
        let mut pieces = Vec::with_capacity(cells.len());
        for cell in &cells {
            let piece = self.basin.piece(&cell.polygon, &cell.planes);
            let area = match &piece {
                Piece::Empty => 0.0,
                Piece::Whole => self.ring_area(&cell.polygon),
                Piece::Rings(rings) => rings.iter().map(|r| self.ring_area(r)).sum(),
            };
            // a sliver can come out a rounding error below zero
            areas.push(area.max(0.0));
            pieces.push(!matches!(piece, Piece::Empty));
        }
        // the cells tile the basin, so their areas add up to its area (to rounding; geodesic
        // edges through the clipping points move it by ~1e-10 of the area): normalise by the sum
        let total: f64 = areas.iter().sum();
        if total.is_nan() || total <= 0.0 {
            return Err(GisError::Invalid(
                "the stations' cells cover none of the basin".into(),
            ));
        }
        let weights = areas.iter().map(|a| a / total).collect();
        let cells = cells
            .into_iter()
            .zip(pieces)
            .map(|(c, some)| if some { c.polygon } else { Vec::new() });
        Ok(Thiessen {
            basin: self,
            areas,
            weights,
            cells: cells.collect(),
        })
    }

    /// Signed area of an open ring in the plane, in the metric's unit.
    fn ring_area(&self, ring: &[P]) -> f64 {
        match self.metric {
            AreaMetric::Geodesic => {
                let ll: Vec<Coord> = ring
                    .iter()
                    .map(|&p| {
                        let (x, y) = self.plane.inverse(p);
                        Coord { x, y }
                    })
                    .collect();
                Polygon::new(LineString::new(ll), vec![]).geodesic_area_signed()
            }
            _ => signed_area(ring),
        }
    }
}

/// The result of [`ThiessenBasin::compute`], in the order of the stations given.
#[derive(Debug, Clone)]
pub struct Thiessen<'a> {
    basin: &'a ThiessenBasin,
    /// Area of each station's part of the basin (m², or deg² for [`AreaMetric::Planar`]).
    pub areas: Vec<f64>,
    /// Each station's share of the basin: ≥ 0, summing to 1.
    pub weights: Vec<f64>,
    /// Cells in the plane that reach the basin (empty for the others).
    cells: Vec<Vec<P>>,
}

impl Thiessen<'_> {
    /// Each station's polygon within the basin, lon/lat degrees (empty where its weight is 0).
    /// Cell edges are straight in the plane the cells were built in, so in lon/lat they are
    /// drawn between the projected vertices.
    pub fn polygons(&self) -> Vec<MultiPolygon<f64>> {
        let basin = self.basin;
        self.cells
            .iter()
            .map(|cell| {
                if cell.len() < 3 {
                    return MultiPolygon::new(vec![]);
                }
                let ring = LineString::new(cell.iter().map(|&(x, y)| Coord { x, y }).collect());
                Polygon::new(ring, vec![])
                    .intersection(&basin.polygons)
                    .map_coords(|c| {
                        let (x, y) = basin.plane.inverse((c.x, c.y));
                        Coord { x, y }
                    })
            })
            .collect()
    }
}

impl Thiessen<'_> {
    /// The polygons as a GeoJSON FeatureCollection: one MultiPolygon feature per station, in
    /// the order given, with properties `id`, `area` (m² or deg²) and `weight`.
    pub fn to_geojson(&self, stations: &[Station]) -> String {
        let features = stations
            .iter()
            .zip(self.polygons())
            .zip(self.areas.iter().zip(&self.weights))
            .map(|((s, mp), (a, w))| {
                let mut props = geojson::JsonObject::new();
                props.insert("id".into(), s.id.clone().into());
                props.insert("area".into(), (*a).into());
                props.insert("weight".into(), (*w).into());
                geojson::Feature {
                    geometry: Some(geojson::Geometry::from(&mp)),
                    properties: Some(props),
                    ..Default::default()
                }
            })
            .collect();
        geojson::FeatureCollection {
            features,
            bbox: None,
            foreign_members: None,
        }
        .to_string()
    }
}

/// Error naming two stations at the same place.
fn check_distinct(stations: &[Station], sites: &[P]) -> Result<(), GisError> {
    let mut order: Vec<usize> = (0..sites.len()).collect();
    order.sort_by(|&a, &b| {
        sites[a]
            .0
            .total_cmp(&sites[b].0)
            .then(sites[a].1.total_cmp(&sites[b].1))
    });
    for w in order.windows(2) {
        if sites[w[0]] == sites[w[1]] {
            let (a, b) = (&stations[w[0].min(w[1])], &stations[w[0].max(w[1])]);
            return Err(GisError::Invalid(format!(
                "stations {} and {} are at the same place ({}, {}): merge them into one series first",
                a.id, b.id, b.lon, b.lat
            )));
        }
    }
    Ok(())
}

fn sites_min(sites: &[P], axis: usize) -> f64 {
    sites
        .iter()
        .map(|p| if axis == 0 { p.0 } else { p.1 })
        .fold(f64::INFINITY, f64::min)
}

fn sites_max(sites: &[P], axis: usize) -> f64 {
    sites
        .iter()
        .map(|p| if axis == 0 { p.0 } else { p.1 })
        .fold(f64::NEG_INFINITY, f64::max)
}

/// A ring's vertices without the closing repeat.
fn open_ring(ring: &LineString<f64>) -> Vec<P> {
    let mut pts: Vec<P> = ring.coords().map(|c| (c.x, c.y)).collect();
    if pts.len() > 1 && pts.first() == pts.last() {
        pts.pop();
    }
    pts
}

/// The area-weighted centroid of the lon/lat polygons as GEOS (shapely) computes it: triangles
/// fanned from the first shell's first vertex, shells counted positive and holes negative.
fn centroid(basin: &MultiPolygon<f64>) -> Option<(f64, f64)> {
    let base = basin.0.first()?.exterior().0.first().copied()?;
    let (mut cx, mut cy, mut a2) = (0.0, 0.0, 0.0);
    for poly in &basin.0 {
        for (k, ring) in std::iter::once(poly.exterior())
            .chain(poly.interiors())
            .enumerate()
        {
            let pts = &ring.0;
            let ccw = signed_area(&open_ring(ring)) > 0.0;
            // GEOS: shells count positive when clockwise, holes when counter-clockwise
            let sign = if (k == 0) != ccw { 1.0 } else { -1.0 };
            for w in pts.windows(2) {
                let (p1, p2) = (w[0], w[1]);
                let area2 = (p1.x - base.x) * (p2.y - base.y) - (p2.x - base.x) * (p1.y - base.y);
                cx += sign * area2 * (base.x + p1.x + p2.x);
                cy += sign * area2 * (base.y + p1.y + p2.y);
                a2 += sign * area2;
            }
        }
    }
    (a2 != 0.0).then(|| (cx / 3.0 / a2, cy / 3.0 / a2))
}
