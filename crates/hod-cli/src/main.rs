//! `hod`: the hydro-opendata command line.

fn main() {}
