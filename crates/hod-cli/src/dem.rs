//! `hod dem fill|flowdir|accumulation|streams`: the raster steps of watershed delineation.

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use hod_gis::dem::{FlowDir, accumulation, fill, flowdir, streams, to_f32};
use hod_gis::{GridGeometry, Raster, ascii, geotiff};
use hod_index::Progress as _;
use serde_json::json;
use std::path::{Path, PathBuf};

/// A DEM step.
#[derive(Debug, Subcommand)]
pub enum DemCommand {
    /// Fill depressions (Priority-Flood); writes the filled DEM.
    Fill {
        #[command(flatten)]
        input: DemInput,
        /// Output GeoTIFF.
        #[arg(short, long)]
        output: PathBuf,
    },
    /// D8 flow directions of the filled DEM, flats resolved; written in the --dirmap encoding.
    Flowdir {
        #[command(flatten)]
        input: DemInput,
        /// Output GeoTIFF (u8 codes).
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Flow accumulation in cells (u32), or upstream area in km² with --area.
    Accumulation {
        #[command(flatten)]
        input: FlowInput,
        /// Upstream area in km² (f64) instead of cells.
        #[arg(long)]
        area: bool,
        /// Output GeoTIFF.
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Stream cells: accumulation of at least --threshold cells (1 stream, 0 not, 255 nodata).
    Streams {
        #[command(flatten)]
        input: FlowInput,
        /// Accumulation threshold, in cells.
        #[arg(long)]
        threshold: u32,
        /// Output GeoTIFF (u8).
        #[arg(short, long)]
        output: PathBuf,
    },
}

/// A DEM file and how to read it.
#[derive(Debug, Args)]
pub struct DemInput {
    /// DEM: GeoTIFF or Esri ASCII grid (.asc).
    #[arg(long)]
    pub dem: PathBuf,
    /// Flow-direction encoding of outputs: esri (pysheds), pyflwdir, whitebox, taudem.
    #[arg(long, default_value = "esri")]
    pub dirmap: String,
    /// CRS of the input when the file does not say (Esri ASCII grids), e.g. EPSG:4326.
    #[arg(long)]
    pub crs: Option<String>,
}

/// Flow directions, given or computed from a DEM.
#[derive(Debug, Args)]
pub struct FlowInput {
    /// DEM to fill and route (GeoTIFF or .asc).
    #[arg(long, required_unless_present = "flowdir", conflicts_with = "flowdir")]
    pub dem: Option<PathBuf>,
    /// D8 flow directions (GeoTIFF or .asc) in the --dirmap encoding.
    #[arg(long)]
    pub flowdir: Option<PathBuf>,
    /// Flow-direction encoding: esri (pysheds), pyflwdir, whitebox, taudem.
    #[arg(long, default_value = "esri")]
    pub dirmap: String,
    /// CRS of the input when the file does not say (Esri ASCII grids), e.g. EPSG:4326.
    #[arg(long)]
    pub crs: Option<String>,
}

pub fn encoding(name: &str) -> anyhow::Result<flowdir::Encoding> {
    flowdir::Encoding::from_name(name)
        .with_context(|| format!("unknown --dirmap {name:?} (esri, pyflwdir, whitebox, taudem)"))
}

/// Reads a GeoTIFF or an Esri ASCII grid (by extension).
pub fn read_raster(path: &Path, crs: Option<&str>) -> anyhow::Result<Raster<f64>> {
    let name = path.display().to_string();
    let is_asc = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("asc"));
    let mut r = if is_asc {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {name}"))?;
        ascii::parse(&text)?
    } else {
        let bytes = std::fs::read(path).with_context(|| format!("cannot read {name}"))?;
        geotiff::read(&name, &bytes)?
    };
    if let Some(c) = crs {
        r.geom.crs = Some(c.to_string());
    }
    Ok(r)
}

/// Writes a GeoTIFF beside `path` and renames it, so a reader never sees half a file.
pub fn write_tif<T: geotiff::Sample>(path: &Path, raster: &Raster<T>) -> anyhow::Result<()> {
    let tmp = path.with_extension("tif.partial");
    let file = std::fs::File::create(&tmp).with_context(|| format!("cannot write {}", tmp.display()))?;
    geotiff::write(&path.display().to_string(), raster, std::io::BufWriter::new(file))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Fills and routes a DEM, counting steps on `bar`.
pub fn route(dem: &Path, crs: Option<&str>, bar: &crate::progress::Bar) -> anyhow::Result<FlowDir> {
    bar.start("read", 3);
    let mut z = to_f32(&read_raster(dem, crs)?);
    bar.start("fill", 3);
    bar.inc(1);
    fill::fill_depressions(&mut z)?;
    bar.start("flowdir", 3);
    bar.inc(2);
    Ok(flowdir::d8(&z)?)
}

/// Flow directions from --flowdir or from --dem.
pub fn flow(input: &FlowInput, bar: &crate::progress::Bar) -> anyhow::Result<FlowDir> {
    match (&input.flowdir, &input.dem) {
        (Some(f), _) => {
            bar.start("read", 1);
            let r = read_raster(f, input.crs.as_deref())?;
            encoding(&input.dirmap)?
                .decode(&r)
                .with_context(|| format!("reading {}", f.display()))
        }
        (None, Some(d)) => route(d, input.crs.as_deref(), bar),
        (None, None) => bail!("give --dem or --flowdir"),
    }
}

/// Count, min, max and mean of the values that are not NaN; whole numbers when `counts`.
fn summary(geom: &GridGeometry, values: impl Iterator<Item = f64>, counts: bool) -> serde_json::Value {
    let (mut n, mut sum, mut min, mut max) = (0u64, 0.0, f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| !v.is_nan()) {
        n += 1;
        sum += v;
        min = min.min(v);
        max = max.max(v);
    }
    let num = |v: f64| if counts { json!(v as u64) } else { json!(v) };
    let (min, max) = (num(min), num(max));
    json!({
        "rows": geom.rows, "cols": geom.cols, "valid": n,
        "min": if n > 0 { min } else { json!(null) },
        "max": if n > 0 { max } else { json!(null) },
        "mean": if n > 0 { json!(sum / n as f64) } else { json!(null) },
    })
}

pub fn run(cmd: DemCommand, as_json: bool) -> anyhow::Result<()> {
    let bar = crate::progress::Bar::new();
    let (output, mut info) = match cmd {
        DemCommand::Fill { input, output } => {
            bar.start("read", 2);
            let mut z = to_f32(&read_raster(&input.dem, input.crs.as_deref())?);
            bar.start("fill", 2);
            bar.inc(1);
            let stats = fill::fill_depressions(&mut z)?;
            z.nodata = Some(f64::NAN);
            write_tif(&output, &z)?;
            let mut s = summary(&z.geom, z.data.iter().map(|&v| f64::from(v)), false);
            s["raised"] = json!(stats.raised);
            (output, s)
        }
        DemCommand::Flowdir { input, output } => {
            let enc = encoding(&input.dirmap)?;
            let dirs = route(&input.dem, input.crs.as_deref(), &bar)?;
            let coded = enc.encode(&dirs);
            write_tif(&output, &coded)?;
            let outlets = dirs.data.iter().filter(|&&d| d == hod_gis::dem::OUTLET).count();
            let nodata = dirs.data.iter().filter(|&&d| d == hod_gis::dem::NO_DATA).count();
            let s = json!({"rows": dirs.geom.rows, "cols": dirs.geom.cols, "dirmap": input.dirmap,
                "outlets": outlets, "nodata": nodata});
            (output, s)
        }
        DemCommand::Accumulation { input, area, output } => {
            let dirs = flow(&input, &bar)?;
            bar.start("accumulate", 1);
            if area {
                let acc = accumulation::area_km2(&dirs)?;
                write_tif(&output, &acc)?;
                (output, summary(&acc.geom, acc.data.iter().copied(), false))
            } else {
                let acc = accumulation::cells(&dirs)?;
                write_tif(&output, &acc)?;
                let valid = acc.data.iter().filter(|&&a| a != u32::MAX).map(|&a| f64::from(a));
                (output, summary(&acc.geom, valid, true))
            }
        }
        DemCommand::Streams {
            input,
            threshold,
            output,
        } => {
            let dirs = flow(&input, &bar)?;
            bar.start("accumulate", 1);
            let acc = accumulation::cells(&dirs)?;
            let s = streams::streams(&acc, threshold);
            write_tif(&output, &s)?;
            let n = s.data.iter().filter(|&&v| v == 1).count();
            (
                output,
                json!({"rows": s.geom.rows, "cols": s.geom.cols, "threshold": threshold, "stream_cells": n}),
            )
        }
    };
    drop(bar);
    info["output"] = json!(output);
    if as_json {
        crate::output::line(info);
    } else {
        crate::output::line(format!("wrote {}: {info}", output.display()));
    }
    Ok(())
}
