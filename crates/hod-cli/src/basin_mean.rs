//! `hod basin-mean`: the weighted mean of a variable over each basin polygon, one row per time
//! step, one column per basin, written as the steps are computed.

use anyhow::Context;
use hod_gis::zonal::{AreaModel, EXACTEXTRACT_RADIUS, Precision, Weighting};
use hod_query::basin_mean::{Basin, BasinMeanRequest, basin_mean};
use hod_query::parse_time;
use hod_query::weights_cache::{WeightsCache, WeightsFrom};
use hod_store::Store;
use std::fmt::Write as _;
use std::path::PathBuf;

/// Basin-average time series: exact coverage-weighted means over polygons (GeoJSON or shapefile).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Dataset name.
    pub dataset: String,
    /// Variable, by short name, long name or CF standard name.
    #[arg(long)]
    pub var: String,
    /// Basin polygons: .geojson/.json (Feature, FeatureCollection, geometry) or .shp (+ .dbf).
    #[arg(long)]
    pub basins: PathBuf,
    /// Attribute naming each basin's column (default: `id` when present, else the feature's
    /// position, from 0).
    #[arg(long)]
    pub id_field: Option<String>,
    /// First time to keep, ISO 8601 (inclusive).
    #[arg(long)]
    pub start: Option<String>,
    /// Last time to keep, ISO 8601 (inclusive).
    #[arg(long)]
    pub end: Option<String>,
    /// Cell weights: `area` (covered fraction × true cell area; planar on projected grids) or
    /// `coverage` (covered fraction only).
    #[arg(long, default_value = "area")]
    pub weights: String,
    /// Cell areas of lon/lat grids: `sphere` (radius 6378137 m, as exactextract's
    /// area_spherical_m2) or `wgs84` (the ellipsoid).
    #[arg(long, default_value = "sphere")]
    pub earth: String,
    /// Round weights to float32 as exactextract 0.3 does (same bits as its means) instead of
    /// keeping them exact.
    #[arg(long)]
    pub float32_weights: bool,
    /// Memory for one block of steps, in MiB: the basins' window of values plus the chunks read
    /// for it (fractions allowed; at least one step is read at a time). Blocks reuse the memory
    /// of the block before instead of touching fresh pages.
    #[arg(long, default_value_t = 8.0)]
    pub block_mib: f64,
    /// Neither read nor write the weights cache (`$HOD_CACHE_DIR/weights`, else
    /// `$XDG_CACHE_HOME/hod/weights` or `~/.cache/hod/weights`): compute the weights.
    #[arg(long)]
    pub no_cache: bool,
    /// Output CSV: `time,<basin>,<basin>...`; empty cells where a basin has no valid value.
    #[arg(short, long)]
    pub output: PathBuf,
}

pub async fn run(store: &Store, a: Args, json: bool) -> anyhow::Result<()> {
    let features = hod_gis::vector::read_path(&a.basins)
        .with_context(|| format!("cannot read basins {}", a.basins.display()))?;
    let mut basins = Vec::with_capacity(features.len());
    for (i, f) in features.into_iter().enumerate() {
        let id = match &a.id_field {
            Some(field) => f
                .property_text(field)
                .with_context(|| format!("{}: feature {i} has no attribute '{field}'", a.basins.display()))?,
            None => f.property_text("id").unwrap_or_else(|| i.to_string()),
        };
        basins.push(Basin {
            id,
            shape: f.geometry,
        });
    }
    let area = match a.earth.as_str() {
        "sphere" => AreaModel::Sphere {
            radius: EXACTEXTRACT_RADIUS,
        },
        "wgs84" => AreaModel::Wgs84,
        other => anyhow::bail!("--earth {other}: expected sphere or wgs84"),
    };
    let meta = hod_index::read_meta(store, &a.dataset).await?;
    let weighting = match a.weights.as_str() {
        "coverage" => Weighting::Coverage,
        "area" => Weighting::Area(area),
        other => anyhow::bail!("--weights {other}: expected area or coverage"),
    };
    let req = BasinMeanRequest {
        var: a.var,
        start: a.start.as_deref().map(parse_time).transpose()?,
        end: a.end.as_deref().map(parse_time).transpose()?,
        weighting,
        precision: if a.float32_weights {
            Precision::Float32
        } else {
            Precision::Exact
        },
        block_bytes: (a.block_mib.max(0.0) * 1_048_576.0) as usize,
        cache: match hod_query::weights_cache::default_dir() {
            _ if a.no_cache => WeightsCache::Off,
            Some(dir) => WeightsCache::Disk(dir),
            None => WeightsCache::Memory,
        },
    };
    // Written under a temporary name and renamed when complete: a failed run leaves nothing.
    let mut out = hod_query::text::Partial::create(&a.output)?;
    let header: Vec<String> = basins.iter().map(|b| csv_field(&b.id)).collect();
    out.write(|w| writeln!(w, "time,{}", header.join(",")))?;
    let summary = basin_mean(store, &meta, &req, &basins, |t, means| {
        let mut line = hod_core::time::format_unix_seconds(t);
        for m in means {
            line.push(',');
            if !m.is_nan() {
                // Infallible: writing to a String.
                let _ = write!(line, "{m}");
            }
        }
        line.push('\n');
        out.write(|w| w.write_all(line.as_bytes()))
    })
    .await?;
    out.finish()?;
    for w in &summary.warnings {
        eprintln!("warning: {w}");
    }
    let weights = match summary.weights {
        WeightsFrom::Computed => "computed",
        WeightsFrom::Memory | WeightsFrom::Disk => "cached",
    };
    if json {
        let cells: Vec<serde_json::Value> = basins
            .iter()
            .zip(&summary.cells)
            .map(|(b, (n, w))| serde_json::json!({"id": b.id, "cells": n, "weight": w}))
            .collect();
        crate::output::line(serde_json::json!({
            "output": a.output, "var": summary.var, "steps": summary.steps,
            "window": [summary.window.0, summary.window.1], "basins": cells,
            "weights": weights,
        }));
    } else {
        crate::output::line(format!(
            "wrote {} steps x {} basins of {} to {} (weights {weights})",
            summary.steps,
            basins.len(),
            summary.var,
            a.output.display()
        ));
    }
    Ok(())
}

/// Quotes a CSV header field when it needs it.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}
