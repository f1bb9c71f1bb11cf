//! `hod`: the hydro-opendata command line. Each subcommand lives in its own module.

mod basin_mean;
mod catalog;
mod cli;
mod dem;
mod info;
mod ingest;
mod krige;
mod output;
mod progress;
mod read;
mod refs;
mod thiessen;
mod watershed;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
