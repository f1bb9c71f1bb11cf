//! `hod basin-mean` end to end against exactextract and regionmask doing the same job from the
//! same files: ERA5 hourly 2 m temperature, March 2019 over the UK (`era5-daily-nc4`, 31
//! netCDF4 files, 744 steps × 33 × 49), four real `basins/` outlines moved onto the grid (none
//! of them lies in it), one CSV column per basin.
//!
//! Ours: the release `hod` process, after one `hod ingest` into a temporary local store; cold
//! (empty weights cache: weights computed and saved) and warm (weights read from the disk
//! cache). Peer: `peer_basin_mean_e2e.py` (xarray open of the 31 files, crop, exactextract or
//! regionmask, CSV written; imports not counted). Prints the timings, the ratios and the largest
//! difference of our means to each peer's.
//!
//! Needs `/tmp/peers-venv` (`$HOD_PEERS_PYTHON`) with xarray, rioxarray, geopandas, exactextract and
//! regionmask.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hod_testkit::data::{moved_basin, root as data};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// Runs `cmd`, panicking with its stderr on failure; returns stdout and the wall time in seconds.
fn timed(cmd: &mut Command) -> (String, f64) {
    let t = Instant::now();
    let out = cmd.output().unwrap();
    let s = t.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (String::from_utf8_lossy(&out.stdout).into(), s)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The CSV's values, one row per step (NaN for empty cells), and its header.
fn read_csv(path: &Path) -> (String, Vec<Vec<f64>>) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap().to_string();
    let rows = lines
        .map(|l| {
            l.split(',')
                .skip(1)
                .map(|v| v.parse().unwrap_or(f64::NAN))
                .collect()
        })
        .collect();
    (header, rows)
}

/// Largest relative difference between two series of rows (NaN in both counts as equal).
fn max_rel(a: &[Vec<f64>], b: &[Vec<f64>]) -> f64 {
    assert_eq!(a.len(), b.len(), "steps");
    let mut worst = 0.0f64;
    for (x, y) in a.iter().zip(b) {
        assert_eq!(x.len(), y.len(), "basins");
        for (p, q) in x.iter().zip(y) {
            if p.is_nan() && q.is_nan() {
                continue;
            }
            worst = worst.max((p - q).abs() / q.abs());
        }
    }
    worst
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// One dataset, one basins file: ingests, times ours cold and warm and the peer, prints a row.
struct Case<'a> {
    label: &'a str,
    files: Vec<PathBuf>,
    var: &'a str,
    basins: Vec<serde_json::Value>,
}

fn run_case(case: &Case, peers: &Path, work: &Path) {
    let (store, cache) = (work.join("store"), work.join("cache"));
    std::fs::create_dir_all(work).unwrap();
    let hod = || {
        let mut c = Command::new(env!("CARGO_BIN_EXE_hod"));
        c.arg("--store")
            .arg(&store)
            .env_remove("HOD_STORE")
            .env("HOD_CACHE_DIR", &cache);
        c
    };
    let (_, ingest_s) = timed(hod().args(["ingest", "ds"]).args(&case.files));
    let basins = work.join("basins.geojson");
    std::fs::write(
        &basins,
        serde_json::json!({"type": "FeatureCollection", "features": case.basins}).to_string(),
    )
    .unwrap();
    let ours = work.join("ours.csv");
    let mean = || {
        let mut c = hod();
        c.args(["--json", "basin-mean", "ds", "--var", case.var, "--basins"])
            .arg(&basins)
            .arg("-o")
            .arg(&ours);
        let (out, s) = timed(&mut c);
        let json: serde_json::Value = serde_json::from_str(&out).unwrap();
        (json["weights"].as_str().unwrap().to_string(), s, json)
    };
    let (mut cold, mut warm) = (vec![], vec![]);
    let mut summary = serde_json::Value::Null;
    for _ in 0..3 {
        let _ = std::fs::remove_dir_all(&cache);
        let (from, s, json) = mean();
        assert_eq!(from, "computed");
        cold.push(s);
        summary = json;
    }
    for _ in 0..5 {
        let (from, s, _) = mean();
        assert_eq!(from, "cached");
        warm.push(s);
    }
    let cache_bytes: u64 = std::fs::read_dir(cache.join("weights"))
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    let (cold, warm) = (median(cold), median(warm));
    let (header, our_rows) = read_csv(&ours);

    let prefix = work.join("peer");
    let mut peer = Command::new(peers);
    peer.arg(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/benches/peer_basin_mean_e2e.py"
    ))
    .arg(case.var)
    .arg(&basins)
    .arg(&prefix)
    .args(&case.files);
    let (out, peer_wall) = timed(&mut peer);
    let peer_json: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let t = &peer_json["timings"];
    let (ee, rm) = (
        t["exactextract_s"].as_f64().unwrap(),
        t["regionmask_frac_s"].as_f64().unwrap(),
    );
    let peer_rows = |m: &str| {
        let (h, rows) = read_csv(&prefix.with_extension(format!("{m}.csv")));
        assert_eq!(h, header, "{m}: columns");
        rows
    };
    let (ee_rows, rm_rows) = (peer_rows("exactextract"), peer_rows("regionmask_frac"));
    let series_mean = |rows: &[Vec<f64>]| {
        let v: Vec<f64> = rows.iter().flatten().copied().filter(|v| !v.is_nan()).collect();
        v.iter().sum::<f64>() / v.len() as f64
    };
    println!("## {}", case.label);
    println!(
        "hod ingest of {} files {ingest_s:.3} s; {} steps, window {}, weights cache file {cache_bytes} bytes",
        case.files.len(),
        summary["steps"],
        summary["window"]
    );
    println!("basins (cells, weight sum): {}", summary["basins"]);
    println!(
        "peer process {peer_wall:.2} s (imports {:.2} s, not counted); series mean ours {:.9}, exactextract {:.9}",
        t["import_s"].as_f64().unwrap(),
        series_mean(&our_rows),
        series_mean(&ee_rows)
    );
    println!("| run | ours | exactextract | regionmask frac | vs exactextract | vs regionmask |");
    println!("|---|---|---|---|---|---|");
    for (name, s) in [
        ("cold (weights computed)", cold),
        ("warm (weights from disk)", warm),
    ] {
        println!(
            "| {name} | {:.3} s | {ee:.2} s | {rm:.2} s | {:.0}x | {:.0}x |",
            s,
            ee / s,
            rm / s
        );
    }
    println!(
        "regionmask runs (s; the median is used): {}",
        t["regionmask_frac_runs_s"]
    );
    println!(
        "max relative difference of our means: to exactextract {:.1e}, to regionmask {:.1e}\n",
        max_rel(&our_rows, &ee_rows),
        max_rel(&our_rows, &rm_rows)
    );
}

fn main() {
    let peers = hod_testkit::python::peers();
    let maker = hod_testkit::python::interpreter();
    if !peers.exists() || !maker.exists() {
        println!(
            "SKIP: needs {} (bash ../shared/bench/setup-peers.sh) and {}",
            peers.display(),
            maker.display()
        );
        return;
    }
    println!("load average at start: {}", load_average());
    let dir = tempfile::tempdir().unwrap();
    let mut files: Vec<PathBuf> = std::fs::read_dir(data().join("era5-daily-nc4"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "nc"))
        .collect();
    files.sort();
    // Four real outlines placed apart inside -10..2 E, 50..58 N.
    let basins = [
        ("salmon_river", (121.0, -1.0)),
        ("matapedia", (60.0, 8.0)),
        ("nldi_get_basin", (88.0, 9.0)),
        ("test", (-127.0, 11.0)),
    ];
    run_case(
        &Case {
            label: "ERA5 t2m, 31 netCDF4 files, 744 h x 33 x 49 at 0.25 deg, 4 basins",
            files,
            var: "t2m",
            basins: basins.iter().map(|&(n, d)| moved_basin(n, d)).collect(),
        },
        &peers,
        &dir.path().join("era5"),
    );
    // Where the weights are a larger share: a 0.002 deg grid (synthetic field, as the compute
    // benchmark's) over the real salmon_river outline.
    let fine = dir.path().join("fine.nc");
    timed(
        Command::new(&maker)
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../tests/interop/basin_mean_case.py"
            ))
            .arg("make")
            .arg(&fine)
            .args(["-124.06", "54.0", "-122.61", "55.06", "0.002", "--steps", "24"]),
    );
    run_case(
        &Case {
            label: "synthetic netCDF4, 24 steps x 534 x 729 at 0.002 deg, salmon_river",
            files: vec![fine],
            var: "v",
            basins: vec![moved_basin("salmon_river", (0.0, 0.0))],
        },
        &peers,
        &dir.path().join("fine"),
    );
    println!("load average at end: {}", load_average());
}
