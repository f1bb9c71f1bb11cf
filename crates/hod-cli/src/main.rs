//! `hod`: the hydro-opendata command line. Each subcommand lives in its own module.

mod cli;
mod info;
mod ingest;
mod krige;
mod output;
mod progress;
mod read;
mod refs;

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
