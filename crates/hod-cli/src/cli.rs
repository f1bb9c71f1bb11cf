//! Arguments and dispatch.

use anyhow::Context;
use clap::{Parser, Subcommand};
use hod_store::Store;
use std::path::PathBuf;

/// Get, index and read hydrological open data.
#[derive(Debug, Parser)]
#[command(name = "hod", version, about)]
pub struct Cli {
    /// Where datasets live: a folder, s3://bucket/prefix (AWS_* variables give the endpoint and
    /// credentials) or memory://.
    #[arg(long, global = true, env = "HOD_STORE", default_value = "./hod-data")]
    pub store: String,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Index source files (paths, globs, s3:// URLs) into one virtual dataset.
    Ingest {
        /// Dataset name.
        dataset: String,
        /// Source files: local paths, globs ("era5/*.nc") or s3:// URLs.
        #[arg(required = true)]
        sources: Vec<String>,
        /// Dimension to combine the files along.
        #[arg(long, default_value = "time")]
        concat_dim: String,
        /// Upload the files into the store (default when the store is remote and the files local).
        #[arg(long)]
        copy: bool,
        /// Reference local files in place even when the store is remote.
        #[arg(long, conflicts_with = "copy")]
        no_copy: bool,
        /// Dataset profile (`hod catalog profiles`): checks the files against it and documents
        /// the variables (long names, units, standard names, time conventions).
        #[arg(long)]
        profile: Option<String>,
    },
    /// Dataset profiles and the store's STAC catalog: search by area and time.
    #[command(subcommand)]
    Catalog(crate::catalog::CatalogCommand),
    /// List the datasets in the store.
    List,
    /// Describe a dataset: dimensions, coordinates, variables, sources, time coverage.
    Info {
        /// Dataset name, or the path or URL of a Zarr v3 group (`./out.zarr`, `s3://b/x.zarr`).
        dataset: String,
    },
    /// Read a selection: variables x time range x bbox (--stats prints count/mean/min/max).
    Read {
        /// Dataset name, or the path or URL of a Zarr v3 group (`./out.zarr`, `s3://b/x.zarr`).
        dataset: String,
        /// Variable, by short name, long name ("2 metre temperature") or CF standard name;
        /// repeat for several (default: every data variable).
        #[arg(long = "var")]
        vars: Vec<String>,
        /// First time to keep, ISO 8601 (inclusive).
        #[arg(long)]
        start: Option<String>,
        /// Last time to keep, ISO 8601 (inclusive).
        #[arg(long)]
        end: Option<String>,
        /// W,S,E,N in the dataset's CRS; longitudes wrap onto the dataset's convention.
        #[arg(long, allow_hyphen_values = true)]
        bbox: Option<String>,
        /// Polygon(s), GeoJSON or shapefile: keep the cells whose centre is inside (the others
        /// are NaN).
        #[arg(long, conflicts_with = "bbox")]
        polygon: Option<std::path::PathBuf>,
        /// With --polygon: keep every cell the polygon touches and add its exact covered
        /// fraction (`coverage_fraction` in .nc/.zarr/.json output, a coverage-weighted mean
        /// with --stats).
        #[arg(long, requires = "polygon")]
        coverage: bool,
        /// Print per-variable shape, count of valid values, mean, min and max.
        #[arg(long)]
        stats: bool,
        /// Write the selection: .nc (CF netCDF), .zarr (Zarr v3), .csv (long format: dims then
        /// variables) or .json.
        #[arg(short, long)]
        output: Option<std::path::PathBuf>,
        /// With .csv output: one row per time step, the cos(latitude)-weighted mean ("mean").
        #[arg(long)]
        reduce: Option<String>,
        #[command(flatten)]
        deaccumulate: crate::read::Deaccumulate,
        /// Memory budget for values and chunks in flight (16MiB, 1GiB, plain bytes): larger
        /// selections stream block by block along the first dimension into .nc, .zarr or .csv.
        #[arg(long, default_value = "1GiB")]
        max_memory: String,
    },
    /// Basin-average series: exact coverage-weighted means over polygons, one column per basin.
    BasinMean(crate::basin_mean::Args),
    /// DEM steps: fill, flowdir, accumulation, streams.
    #[command(subcommand)]
    Dem(crate::dem::DemCommand),
    /// Basins above outlets (snapped onto the modelled rivers) as GeoJSON polygons.
    Watershed(crate::watershed::WatershedArgs),
    /// Krige scattered points onto a grid (PyKrige-compatible ordinary/universal kriging).
    Krige(crate::krige::Args),
    /// Export kerchunk references (version 1 JSON) that xarray/fsspec can open.
    Refs {
        /// Dataset name.
        dataset: String,
        /// Output file.
        #[arg(short, long)]
        output: PathBuf,
        /// Embed the decoded values of variables packed differently in each source file (exact,
        /// but the references then hold that data), instead of refusing to export them.
        #[arg(long)]
        inline_unpacked: bool,
    },
    /// Thiessen polygons of stations within a basin: area weights, polygons, areal series.
    Thiessen(crate::thiessen::Args),
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    // Grid commands need neither the store nor the async runtime.
    let command = match cli.command {
        Command::Dem(cmd) => return crate::dem::run(cmd, cli.json),
        Command::Watershed(args) => return crate::watershed::run(args, cli.json),
        other => other,
    };
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let store = Store::open(&cli.store).with_context(|| format!("cannot open store {}", cli.store))?;
        match command {
            Command::Ingest {
                dataset,
                sources,
                concat_dim,
                copy,
                no_copy,
                profile,
            } => {
                let opts = crate::ingest::Opts {
                    concat_dim,
                    copy,
                    no_copy,
                    profile,
                };
                crate::ingest::run(&store, &dataset, &sources, opts, cli.json).await
            }
            Command::Catalog(c) => crate::catalog::run(&store, c, cli.json).await,
            Command::Read {
                dataset,
                vars,
                start,
                end,
                bbox,
                polygon,
                stats,
                output,
                reduce,
                deaccumulate,
                max_memory,
                coverage,
            } => {
                let args = crate::read::Args {
                    dataset,
                    vars,
                    start,
                    end,
                    bbox,
                    polygon,
                    stats,
                    output,
                    reduce,
                    deaccumulate,
                    max_memory,
                    coverage,
                };
                crate::read::run(&store, args, cli.json).await
            }
            Command::BasinMean(args) => crate::basin_mean::run(&store, args, cli.json).await,
            Command::Krige(a) => crate::krige::run(a, cli.json),
            Command::List => crate::info::list(&store, cli.json).await,
            Command::Info { dataset } => crate::info::info(&store, &dataset, cli.json).await,
            Command::Refs {
                dataset,
                output,
                inline_unpacked,
            } => crate::refs::run(&store, &dataset, &output, inline_unpacked, cli.json).await,
            Command::Thiessen(args) => crate::thiessen::run(args, cli.json),
            Command::Dem(_) | Command::Watershed(_) => Ok(()),
        }
    })
}
