//! `hod thiessen`: Thiessen polygons of stations clipped to a basin, their area weights, and
//! the basin-average series of station series.

use anyhow::{Context, bail};
use hod_gis::thiessen::{
    self, AreaMetric, Station, StationSeries, ThiessenBasin, areal_series, basin_from_features,
};
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Arguments of `hod thiessen`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Stations: CSV `id,lon,lat` (header optional) or GeoJSON points (.geojson/.json).
    #[arg(long)]
    stations: PathBuf,
    /// Basin: GeoJSON Polygon/MultiPolygon (Feature or FeatureCollection), lon/lat.
    #[arg(long)]
    basin: PathBuf,
    /// Weights CSV to write: id,lon,lat,area,weight.
    #[arg(short, long)]
    output: PathBuf,
    /// Also write each station's polygon within the basin as GeoJSON.
    #[arg(long)]
    polygons: Option<PathBuf>,
    /// Station series, wide CSV `time,<id1>,<id2>,...` (empty or NaN = missing).
    #[arg(long, requires = "areal")]
    series: Option<PathBuf>,
    /// Where to write the basin-average series (time,areal), weights recomputed for the
    /// stations present at each step.
    #[arg(long, requires = "series")]
    areal: Option<PathBuf>,
    /// equal-area (Lambert azimuthal equal-area plane on WGS84, as pyproj+scipy+shapely),
    /// geodesic (same cells, ellipsoidal areas of their lon/lat outlines) or planar (lon/lat
    /// degrees as plane units).
    #[arg(long, default_value = "equal-area")]
    metric: String,
}

pub fn run(args: Args, json_out: bool) -> anyhow::Result<()> {
    let metric: AreaMetric = args.metric.parse()?;
    let stations = read_stations(&args.stations)?;
    // GeoJSON or a shapefile; all its polygons make the basin.
    let polygon = hod_gis::vector::read_path(&args.basin)
        .and_then(basin_from_features)
        .with_context(|| format!("in {}", args.basin.display()))?;
    let basin =
        ThiessenBasin::new(&polygon, metric).with_context(|| format!("basin {}", args.basin.display()))?;
    let t = basin.compute(&stations)?;

    let (unit, scale) = match metric {
        AreaMetric::Planar => ("area_deg2", 1.0),
        _ => ("area_km2", 1e-6),
    };
    let mut csv = format!("id,lon,lat,{unit},weight\n");
    for (s, (a, w)) in stations.iter().zip(t.areas.iter().zip(&t.weights)) {
        writeln!(csv, "{},{},{},{},{}", s.id, s.lon, s.lat, a * scale, w)?;
    }
    write(&args.output, &csv)?;

    if let Some(path) = &args.polygons {
        write(path, &t.to_geojson(&stations))?;
    }

    let mut areal_report = Value::Null;
    if let (Some(series_path), Some(areal_path)) = (&args.series, &args.areal) {
        let series = StationSeries::from_csv(&read(series_path)?)
            .with_context(|| format!("in {}", series_path.display()))?;
        let out = areal_series(&basin, &stations, &series)?;
        let mut text = String::from("time,areal\n");
        for (time, v) in series.times.iter().zip(&out.values) {
            if v.is_nan() {
                writeln!(text, "{time},")?;
            } else {
                writeln!(text, "{time},{v}")?;
            }
        }
        write(areal_path, &text)?;
        areal_report = json!({"steps": out.values.len(), "weight_sets": out.weight_sets,
                              "missing_steps": out.values.iter().filter(|v| v.is_nan()).count()});
    }

    if json_out {
        let st: Vec<Value> = stations
            .iter()
            .zip(t.areas.iter().zip(&t.weights))
            .map(|(s, (a, w))| json!({"id": s.id, "lon": s.lon, "lat": s.lat, unit: a * scale, "weight": w}))
            .collect();
        let report = json!({
            "metric": args.metric,
            unit.replace("area", "basin_area"): basin.area() * scale,
            "stations": st,
            "areal": areal_report,
        });
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("basin area {} {}", basin.area() * scale, &unit[5..]);
        for (s, w) in stations.iter().zip(&t.weights) {
            println!("{:>12}  {:.6}", s.id, w);
        }
        if let Value::Object(r) = &areal_report {
            println!(
                "areal series: {} steps, {} station sets",
                r["steps"], r["weight_sets"]
            );
        }
    }
    Ok(())
}

fn read_stations(path: &Path) -> anyhow::Result<Vec<Station>> {
    let text = read(path)?;
    let is_json = matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("geojson" | "json")
    ) || text.trim_start().starts_with('{');
    let stations = if is_json {
        thiessen::stations_from_geojson(&text)
    } else {
        thiessen::stations_from_csv(&text)
    }
    .with_context(|| format!("in {}", path.display()))?;
    if stations.is_empty() {
        bail!("{} holds no station", path.display());
    }
    Ok(stations)
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

/// Writes `path` atomically (a failed run leaves nothing).
fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    let mut out = hod_query::text::Partial::create(path)?;
    out.write(|w| w.write_all(text.as_bytes()))?;
    Ok(out.finish()?)
}
