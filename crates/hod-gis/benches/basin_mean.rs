//! Basin-mean series: ours (exact coverage × spherical area weights, then the mean of every
//! step) against exactextract and regionmask (`../shared/bench/peer_basin_mean.py`) on the same
//! netCDF grid and real basin polygons, in one run. Prints both timings and the ratios.
//!
//! Needs `/tmp/hod-venv` (to write the grid; override with HOD_PYTHON) and `/tmp/peers-venv`
//! (the peers; `$HOD_PEERS_PYTHON`). Both are compute-only timings: the peer script times its methods
//! after loading the grid, and so do we.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hod_core::values::{place, to_f64};
use hod_core::{ChunkLoc, Format};
use hod_formats::{ScanOptions, SliceSource, decode_chunk};
use hod_gis::GridGeometry;
use hod_gis::vector;
use hod_gis::zonal::{
    AreaModel, EXACTEXTRACT_RADIUS, Precision, Weighting, grid_from_centers, weighted_mean, weights,
};
use hod_testkit::bench::median;
use hod_testkit::data::root as data;
use hod_testkit::python;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// Reads variable `name` and the 1-D `lat`/`lon` of a netCDF3 file through our scanner.
fn read_nc(path: &Path) -> (Vec<f64>, Vec<usize>, Vec<f64>, Vec<f64>) {
    let bytes = std::fs::read(path).unwrap();
    let file = hod_formats::scan(&SliceSource(&bytes), &ScanOptions::default()).unwrap();
    assert_eq!(file.format, Format::Netcdf3);
    let get = |name: &str| {
        let v = file.variables.iter().find(|v| v.name == name).unwrap();
        let meta = &v.meta;
        let mut out = vec![f64::NAN; meta.shape.iter().product::<u64>() as usize];
        for chunk in &v.chunks {
            let stored = match &chunk.loc {
                ChunkLoc::Range { offset, length } => &bytes[*offset as usize..(*offset + *length) as usize],
                ChunkLoc::Inline(b) => b.as_slice(),
            };
            let decoded = decode_chunk(meta, stored).unwrap();
            place(
                meta,
                &chunk.index,
                &to_f64(meta.dtype, meta.endian, &decoded),
                &mut out,
            );
        }
        (out, meta.shape.iter().map(|&n| n as usize).collect::<Vec<_>>())
    };
    let (v, shape) = get("v");
    (v, shape, get("lat").0, get("lon").0)
}

struct Case {
    basin: &'static str,
    bbox: (f64, f64, f64, f64),
    deg: f64,
    steps: usize,
}

fn main() {
    let py = python::interpreter();
    let peers = python::peers();
    if !py.exists() || !peers.exists() {
        println!("SKIP: needs {} and {}", py.display(), peers.display());
        return;
    }
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/interop/basin_mean_case.py"
    );
    let peer = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/bench/peer_basin_mean.py"
    );
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        Case {
            basin: "matapedia",
            bbox: (-67.84, 48.08, -66.77, 48.68),
            deg: 0.05,
            steps: 365,
        },
        Case {
            basin: "salmon_river",
            bbox: (-124.06, 54.0, -122.61, 55.06),
            deg: 0.01,
            steps: 365,
        },
        // One step: the weights dominate (exactextract's per-band loop does not).
        Case {
            basin: "salmon_river",
            bbox: (-124.06, 54.0, -122.61, 55.06),
            deg: 0.002,
            steps: 1,
        },
    ];
    println!(
        "| basin (vertices) | grid | steps | ours (weights + means) | exactextract s | regionmask frac s | vs exactextract | vs regionmask | series mean ours / exactextract |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for c in cases {
        let nc = dir.path().join(format!("{}.nc", c.basin));
        let (w, s, e, n) = c.bbox;
        let st = Command::new(&py)
            .args([script, "make"])
            .arg(&nc)
            .args([w, s, e, n, c.deg].map(|v| v.to_string()))
            .args(["--steps", &c.steps.to_string(), "--nc3"])
            .status()
            .unwrap();
        assert!(st.success());
        let poly = data().join(format!("basins/{}.geojson", c.basin));
        let features = vector::read_path(&poly).unwrap();
        let shape = &features[0].geometry;
        let (values, shape_dims, lat, lon) = read_nc(&nc);
        let (grid, ascending): (GridGeometry, bool) =
            grid_from_centers(&lon, &lat, Some("EPSG:4326".into())).unwrap();
        assert!(!ascending);
        let plane = grid.len();
        let mut times = Vec::new();
        let mut series = Vec::new();
        for _ in 0..5 {
            let t0 = Instant::now();
            let wt = weights(
                &grid,
                shape,
                Weighting::Area(AreaModel::Sphere {
                    radius: EXACTEXTRACT_RADIUS,
                }),
                Precision::Exact,
            );
            series = values
                .chunks(plane)
                .map(|p| weighted_mean(p, &wt))
                .collect::<Vec<f64>>();
            times.push(t0.elapsed().as_secs_f64());
        }
        assert_eq!(series.len(), shape_dims[0]);
        let ours = median(times);
        let out = Command::new(&peers)
            .arg(peer)
            .arg(&nc)
            .arg(&poly)
            .args([
                "--var",
                "v",
                "--repeat",
                "3",
                "--methods",
                "exactextract",
                "regionmask_frac",
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8_lossy(&out.stdout);
        let line = text.lines().rev().find(|l| l.starts_with('{')).unwrap();
        let j: serde_json::Value = serde_json::from_str(line).unwrap();
        let t = |m: &str| {
            j["timings"][format!("{m}_s")]["median"]
                .as_f64()
                .unwrap_or(f64::NAN)
        };
        let (ee, rm) = (t("exactextract"), t("regionmask_frac"));
        let ours_mean = series.iter().filter(|v| !v.is_nan()).sum::<f64>() / series.len() as f64;
        let ee_mean = j["results"]["exactextract"]["series_mean"]
            .as_f64()
            .unwrap_or(f64::NAN);
        let verts: usize = shape.0.iter().map(|p| p.exterior().0.len()).sum();
        println!(
            "| {} ({verts}) | {}x{} at {}° | {} | {:.2} ms | {ee:.3} | {rm:.3} | {:.0}x | {:.0}x | {ours_mean:.9} / {ee_mean:.9} |",
            c.basin,
            grid.rows,
            grid.cols,
            c.deg,
            c.steps,
            ours * 1e3,
            ee / ours,
            rm / ours
        );
    }
}
