//! `hod watershed`: basins above outlets, snapped onto the modelled rivers, as GeoJSON.

use crate::dem::{FlowInput, flow, write_tif};
use anyhow::{Context, bail};
use clap::Args;
use hod_gis::dem::{accumulation, catchment, polygonize, snap};
use hod_index::Progress as _;
use serde_json::json;
use std::path::PathBuf;

/// Arguments of `hod watershed`.
#[derive(Debug, Args)]
pub struct WatershedArgs {
    #[command(flatten)]
    pub input: FlowInput,
    /// Outlet as LON,LAT or LON,LAT,AREA_KM2 (the drainage area the gauge reports); repeat for
    /// several (nested outlets give nested basins).
    #[arg(long = "outlet", required = true, allow_hyphen_values = true)]
    pub outlets: Vec<String>,
    /// Move each outlet within this many cells: to the best upstream-area match when AREA_KM2 is
    /// given, else to the highest accumulation. An outlet with AREA_KM2 and neither option is
    /// searched within 10 cells.
    #[arg(long, conflicts_with = "snap_threshold")]
    pub snap_radius: Option<f64>,
    /// Move each outlet to the nearest cell with accumulation above this many cells (pysheds
    /// `snap_to_mask`).
    #[arg(long)]
    pub snap_threshold: Option<f64>,
    /// Output GeoJSON: one feature per outlet, its own basin (without the nested ones).
    #[arg(short, long)]
    pub output: PathBuf,
    /// Also write the basin labels (1 + outlet index, 0 outside) as a GeoTIFF.
    #[arg(long)]
    pub mask: Option<PathBuf>,
}

struct Outlet {
    x: f64,
    y: f64,
    area: Option<f64>,
}

fn parse_outlet(s: &str) -> anyhow::Result<Outlet> {
    let v: Vec<f64> = s
        .split(',')
        .map(|t| t.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .with_context(|| format!("--outlet {s:?} is not LON,LAT[,AREA_KM2]"))?;
    match v[..] {
        [x, y] => Ok(Outlet { x, y, area: None }),
        [x, y, a] if a > 0.0 => Ok(Outlet { x, y, area: Some(a) }),
        _ => bail!("--outlet {s:?} is not LON,LAT[,AREA_KM2] with a positive area"),
    }
}

pub fn run(args: WatershedArgs, as_json: bool) -> anyhow::Result<()> {
    let outlets: Vec<Outlet> = args
        .outlets
        .iter()
        .map(|s| parse_outlet(s))
        .collect::<Result<_, _>>()?;
    let bar = crate::progress::Bar::new();
    let dirs = flow(&args.input, &bar)?;
    let g = dirs.geom.clone();
    if g.crs.is_none() {
        eprintln!("warning: the grid has no CRS; areas assume metres (give --crs EPSG:4326 for lon/lat)");
    }
    bar.start("accumulate", 1);
    let acc = accumulation::cells(&dirs)?;
    let up_km2 = if outlets.iter().any(|o| o.area.is_some()) {
        Some(accumulation::area_km2(&dirs)?)
    } else {
        None
    };
    let how = match (args.snap_radius, args.snap_threshold) {
        (Some(r), _) => snap::Snap::Radius(r),
        (None, Some(t)) => snap::Snap::Threshold(t),
        (None, None) => snap::Snap::None,
    };
    bar.start("snap", outlets.len() as u64);
    let mut snapped = Vec::with_capacity(outlets.len());
    for (k, o) in outlets.iter().enumerate() {
        let area = up_km2.as_ref().zip(o.area).map(|(u, a)| (u.data.as_slice(), a));
        // A gauge area alone is reason enough to move the outlet: search the default radius.
        let how = match how {
            snap::Snap::None if area.is_some() => snap::Snap::Radius(snap::DEFAULT_AREA_RADIUS),
            h => h,
        };
        let s = snap::snap(&g, &acc.data, area, o.x, o.y, how)
            .with_context(|| format!("outlet {} ({}, {})", k + 1, o.x, o.y))?;
        snapped.push(s);
        bar.inc(1);
    }
    bar.start("basins", 1);
    let cells: Vec<usize> = snapped.iter().map(|s| s.cell.0 * g.cols + s.cell.1).collect();
    let basins = catchment::basins(&dirs, &cells)?;
    bar.start("polygons", outlets.len() as u64);
    let mut features = Vec::with_capacity(outlets.len());
    let mut rows = Vec::with_capacity(outlets.len());
    for (k, (o, s)) in outlets.iter().zip(&snapped).enumerate() {
        let polys = polygonize::polygons(&basins.labels, k as u32 + 1, basins.bbox[k]);
        let (sx, sy) = g.cell_center(s.cell.0, s.cell.1);
        let idx = cells[k];
        let mut row = json!({
            "outlet": [o.x, o.y],
            "snapped": [sx, sy],
            "cells": basins.cells[k],
            "area_km2": basins.km2[k],
            "moved_cells": s.moved_cells,
        });
        if let Some(a) = o.area {
            row["gauge_area_km2"] = json!(a);
            row["area_error"] = json!((basins.km2[k] - a) / a);
        }
        let mut props = row.clone();
        props["id"] = json!(k + 1);
        props["row"] = json!(idx / g.cols);
        props["col"] = json!(idx % g.cols);
        props["own_cells"] = json!(basins.own_cells[k]);
        props["own_area_km2"] = json!(basins.own_km2[k]);
        props["drains_to"] = json!(basins.drains_to[k].map(|j| j + 1));
        features.push(format!(
            "{{\"type\":\"Feature\",\"properties\":{props},\"geometry\":{}}}",
            polygonize::geojson_geometry(&polys)
        ));
        rows.push(row);
        bar.inc(1);
    }
    let geojson = format!(
        "{{\"type\":\"FeatureCollection\",\"features\":[\n{}\n]}}\n",
        features.join(",\n")
    );
    let tmp = args.output.with_extension("geojson.partial");
    std::fs::write(&tmp, geojson).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, &args.output).with_context(|| format!("cannot write {}", args.output.display()))?;
    if let Some(m) = &args.mask {
        write_tif(m, &basins.labels)?;
    }
    drop(bar);
    for row in rows {
        if as_json {
            crate::output::line(row);
        } else {
            crate::output::line(format!(
                "outlet ({}, {}) -> cell centre ({}, {}), moved {:.2} cells: {} cells, {:.3} km²",
                row["outlet"][0],
                row["outlet"][1],
                row["snapped"][0],
                row["snapped"][1],
                row["moved_cells"],
                row["cells"],
                row["area_km2"].as_f64().unwrap_or(f64::NAN)
            ));
        }
    }
    Ok(())
}
