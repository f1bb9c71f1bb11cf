//! Thiessen weights of 2,000 stations over a real basin: `hod_gis::thiessen` (project the basin
//! and stations, Delaunay, cells, exact clipping) vs scipy.spatial.Voronoi + shapely
//! (`../shared/bench/peer_voronoi.py`, which times only Voronoi + clipping, its projection
//! excluded), same stations, in one run. Prints both medians, the ratio, and checks the weights
//! the peer prints against ours.
//!
//! `cargo bench -p hod-gis --bench thiessen` (the peer runs with `$HOD_PEERS_PYTHON`, default
//! `/tmp/peers-venv/bin/python`; it needs geopandas, pyproj, scipy and shapely).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use hod_gis::thiessen::{AreaMetric, Station, ThiessenBasin, basin_from_geojson};
use hod_testkit::bench::median;
use hod_testkit::data::root as data;
use hod_testkit::python;
use std::time::Instant;

const REPEAT: usize = 5;
const N: usize = 2000;

fn main() {
    let python = python::peers();
    let peer = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/bench/peer_voronoi.py"
    );
    let dir = std::env::temp_dir().join(format!("hod-bench-thiessen-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for name in ["matapedia", "salmon_river"] {
        let path = data().join("basins").join(format!("{name}.geojson"));
        let poly = basin_from_geojson(&std::fs::read_to_string(&path).unwrap()).unwrap();
        // uniform over the basin's bbox, as peer_voronoi.py draws them (a fixed LCG here)
        let (mut minx, mut miny, mut maxx, mut maxy) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
        for c in poly.0.iter().flat_map(|p| p.exterior().coords()) {
            (minx, miny, maxx, maxy) = (minx.min(c.x), miny.min(c.y), maxx.max(c.x), maxy.max(c.y));
        }
        let mut state = 42u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let stations: Vec<Station> = (0..N)
            .map(|i| {
                Station::new(
                    format!("s{i}"),
                    minx + next() * (maxx - minx),
                    miny + next() * (maxy - miny),
                )
            })
            .collect();
        let csv = dir.join(format!("{name}.csv"));
        let mut text = String::from("lon,lat,id\n");
        for s in &stations {
            text += &format!("{:?},{:?},{}\n", s.lon, s.lat, s.id);
        }
        std::fs::write(&csv, text).unwrap();

        let mut times = Vec::new();
        let mut weights = Vec::new();
        for _ in 0..REPEAT {
            let t = Instant::now();
            let basin = ThiessenBasin::new(&poly, AreaMetric::EqualArea).unwrap();
            weights = basin.compute(&stations).unwrap().weights;
            times.push(t.elapsed().as_secs_f64());
        }
        let ours = median(times);

        let out = std::process::Command::new(&python)
            .arg(peer)
            .arg(&path)
            .arg("--stations")
            .arg(&csv)
            .args(["--repeat", &REPEAT.to_string()])
            .output();
        let v: Option<serde_json::Value> = out.ok().filter(|o| o.status.success()).and_then(|o| {
            let line = String::from_utf8_lossy(&o.stdout).lines().last()?.to_string();
            serde_json::from_str(&line).ok()
        });
        let nonzero = weights.iter().filter(|w| **w > 0.0).count();
        let wmax = weights.iter().copied().fold(0.0, f64::max);
        let Some(v) = v else {
            println!(
                "{name}: {N} stations: hod {:.2} ms; peer failed (run ../shared/bench/setup-peers.sh)",
                ours * 1e3
            );
            continue;
        };
        let peer_s = v["timings"]["thiessen_s"]["median"].as_f64().unwrap();
        let first: Vec<f64> = serde_json::from_value(v["weights_first"].clone()).unwrap();
        // the peer prints its first 10 weights rounded to 1e-6, and the largest one; counts of
        // non-zero weights can differ by slivers of ~1e-18 of the basin where a cell grazes it
        let same = first.iter().zip(&weights).all(|(p, o)| (p - o).abs() <= 5e-7)
            && (v["weight_max"].as_f64().unwrap() - wmax).abs() < 1e-12;
        println!(
            "{name} ({} basin vertices), {N} stations ({nonzero} with weight > 0, peer {}): \
             hod {:.2} ms, scipy+shapely {:.1} ms, ratio {:.1}x; weights agree: {same} (load {})",
            v["basin_vertices"],
            v["n_nonzero"],
            ours * 1e3,
            peer_s * 1e3,
            peer_s / ours,
            v["loadavg_1m"]
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}
