//! `read_to` with tiny memory budgets gives exactly what the in-memory `read` gives, on random
//! selections of the ERA5 daily sets (netCDF4 and per-file packed netCDF3), and keeps its blocks
//! within the budget; buffers the sink hands back (`Sink::reclaim`) are filled again without any of
//! their old contents showing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hod_query::sink::{Block, Collect, Sink};
use hod_query::{Bbox, DataCube, QueryError, Request, read, read_to};
use hod_store::Store;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

fn files(dir: &str) -> Vec<String> {
    hod_testkit::data::files(dir, "nc")
}

/// 2019-03-01T00:00:00Z; the sets hold 744 hourly steps from there.
const T0: f64 = 1_551_398_400.0;

/// Collects, and checks the order and size of the blocks on the way.
struct Checked {
    all: Collect,
    layout: Vec<DataCube>,
    next_row: Vec<usize>,
    budget: usize,
    blocks: usize,
}

impl Sink for Checked {
    fn begin(&mut self, layout: &[DataCube]) -> Result<(), QueryError> {
        self.layout = layout.to_vec();
        self.next_row = vec![0; layout.len()];
        self.all.begin(layout)
    }

    fn block(&mut self, b: Block) -> Result<(), QueryError> {
        let c = &self.layout[b.var];
        assert_eq!(
            b.rows.start, self.next_row[b.var],
            "blocks of '{}' in order",
            c.name
        );
        self.next_row[b.var] = b.rows.end;
        let row: usize = c.shape.iter().skip(1).product();
        assert_eq!(b.values.len(), b.rows.len() * row);
        // Over the budget only when a single row is.
        assert!(
            b.values.len() * 8 <= self.budget || b.rows.len() == 1,
            "{} rows of {row} values for a budget of {}",
            b.rows.len(),
            self.budget
        );
        self.blocks += 1;
        self.all.block(b)
    }

    // Hands back a buffer of garbage (of varying sizes) to be filled again: none of it may show
    // in a later block.
    fn reclaim(&mut self) -> Option<Vec<f64>> {
        (!self.blocks.is_multiple_of(3)).then(|| vec![-7.5e300; self.blocks * 37 % 5000])
    }

    fn finish(&mut self) -> Result<(), QueryError> {
        for (c, &n) in self.layout.iter().zip(&self.next_row) {
            assert_eq!(
                n,
                c.shape.first().copied().unwrap_or(1),
                "every row of '{}'",
                c.name
            );
        }
        self.all.finish()
    }
}

fn same(a: &[DataCube], b: &[DataCube]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            let bits = |v: &[f64]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
            x.name == y.name
                && x.dims == y.dims
                && x.shape == y.shape
                && x.coords == y.coords
                && x.attrs == y.attrs
                && bits(&x.values) == bits(&y.values)
        })
}

#[test]
fn streamed_equals_in_memory_for_random_selections_and_budgets() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    for set in ["era5-daily-nc4", "era5-daily-nc3"] {
        let store = Store::open(&format!("memory://stream-{set}")).unwrap();
        rt.block_on(hod_index::ingest(
            &store,
            "d",
            &files(set),
            &Default::default(),
            &hod_index::Quiet,
        ))
        .unwrap();
        let meta = rt.block_on(hod_index::read_meta(&store, "d")).unwrap();
        let mut runner = TestRunner::new(Config {
            cases: 24,
            ..Config::default()
        });
        let strategy = (
            (0usize..744, 1usize..120),
            (-10.5f64..2.5, 0.0f64..6.0, 49.5f64..58.5, 0.0f64..4.0),
            (0usize..3, any::<bool>()),
            prop_oneof![1usize..64, 64usize..20_000, 20_000usize..400_000],
        );
        runner
            .run(&strategy, |((t, n), (w, dx, s, dy), (vars, polygon), budget)| {
                let vars: Vec<String> = match vars {
                    0 => vec!["t2m".into()],
                    // A coordinate: another first dimension, so another group of blocks.
                    1 => vec!["latitude".into(), "t2m".into()],
                    _ => vec!["t2m".into(), "2 metre temperature".into()],
                };
                let (e, nn) = (w + dx, s + dy);
                let area = polygon.then(|| {
                    let geo = format!(
                        r#"{{"type":"Polygon","coordinates":[[[{w},{s}],[{e},{s}],[{w},{nn}],[{w},{s}]]]}}"#
                    );
                    hod_query::polygon::Area::from_geojson(&geo).unwrap()
                });
                let req = Request {
                    vars,
                    start: Some(T0 + 3600.0 * t as f64),
                    end: Some(T0 + 3600.0 * (t + n - 1) as f64),
                    bbox: (!polygon).then_some(Bbox {
                        west: w,
                        south: s,
                        east: e,
                        north: nn,
                    }),
                    polygon: area,
                    ..Default::default()
                };
                let whole = rt.block_on(read(&store, &meta, &req));
                let mut sink = Checked {
                    all: Collect::new(),
                    layout: Vec::new(),
                    next_row: Vec::new(),
                    budget,
                    blocks: 0,
                };
                let streamed = rt.block_on(read_to(&store, &meta, &req, budget, &mut sink));
                match whole {
                    Ok(whole) => {
                        streamed.unwrap();
                        prop_assert!(sink.blocks >= whole.len());
                        prop_assert!(same(&sink.all.into_cubes(), &whole), "{set} {req:?} {budget}");
                    }
                    // Empty selections fail the same way.
                    Err(e) => prop_assert_eq!(streamed.unwrap_err().to_string(), e.to_string()),
                }
                Ok(())
            })
            .unwrap();
    }
}
