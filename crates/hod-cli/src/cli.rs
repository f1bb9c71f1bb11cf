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
    },
    /// List the datasets in the store.
    List,
    /// Describe a dataset: dimensions, coordinates, variables, sources, time coverage.
    Info {
        /// Dataset name.
        dataset: String,
    },
    /// Read a selection: variables x time range x bbox (--stats prints count/mean/min/max).
    Read {
        /// Dataset name.
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
        /// GeoJSON polygon(s): keep the cells whose centre is inside (the others are NaN).
        #[arg(long, conflicts_with = "bbox")]
        polygon: Option<std::path::PathBuf>,
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
    },
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
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let store = Store::open(&cli.store).with_context(|| format!("cannot open store {}", cli.store))?;
        match cli.command {
            Command::Ingest {
                dataset,
                sources,
                concat_dim,
                copy,
                no_copy,
            } => crate::ingest::run(&store, &dataset, &sources, concat_dim, copy, no_copy, cli.json).await,
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
                };
                crate::read::run(&store, args, cli.json).await
            }
            Command::Krige(a) => crate::krige::run(a, cli.json),
            Command::List => crate::info::list(&store, cli.json).await,
            Command::Info { dataset } => crate::info::info(&store, &dataset, cli.json).await,
            Command::Refs {
                dataset,
                output,
                inline_unpacked,
            } => crate::refs::run(&store, &dataset, &output, inline_unpacked, cli.json).await,
        }
    })
}
