//! Shared by the writers' tests: one streamed selection of real data.

use hod_query::sink::Sink;
use hod_query::{DataCube, Request, read, read_to};

/// Reads 80 hours x 17 x 13 of t2m from the per-file packed ERA5 netCDF3 set (5 files, ingested
/// into memory store `store`), streams the same selection into `sink` within `budget` bytes, and
/// returns the in-memory read.
pub fn nc3_read_and_stream(store: &str, budget: usize, sink: &mut dyn Sink) -> Vec<DataCube> {
    let files = hod_testkit::data::files("era5-daily-nc3", "nc");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let store = hod_store::Store::open(&format!("memory://{store}")).unwrap();
    rt.block_on(hod_index::ingest(
        &store,
        "d",
        &files,
        &Default::default(),
        &hod_index::Quiet,
    ))
    .unwrap();
    let meta = rt.block_on(hod_index::read_meta(&store, "d")).unwrap();
    let req = Request {
        vars: vec!["t2m".into()],
        start: Some(hod_query::parse_time("2019-03-09T20").unwrap()),
        end: Some(hod_query::parse_time("2019-03-13T03").unwrap()),
        bbox: Some("-3,51,0,55".parse().unwrap()),
        ..Default::default()
    };
    let whole = rt.block_on(read(&store, &meta, &req)).unwrap();
    rt.block_on(read_to(&store, &meta, &req, budget, sink)).unwrap();
    whole
}
