//! `hod read --deaccumulate [--accumulation C] [--check]` end to end, on ERA5-Land-like `tp`
//! written by the test (accumulated since 00 UTC from known hourly increments).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hod_query::DataCube;
use hod_testkit::cli;
use serde_json::{Value, json};
use std::path::Path;

/// 2019-03-01T00:00:00Z.
const D0: f64 = 1_551_398_400.0;

fn increment(valid: f64, cell: usize) -> f64 {
    let h = (valid / 3600.0) as i64;
    ((cell as i64 * 5 + h * 3).rem_euclid(7)) as f64 / 512.0
}

fn since_midnight(valid: f64, cell: usize) -> f64 {
    let start = ((valid - 1.0) / 86_400.0).floor() * 86_400.0;
    let hours = ((valid - start) / 3600.0) as usize;
    (1..=hours)
        .map(|k| increment(start + k as f64 * 3600.0, cell))
        .sum()
}

fn hod(store: &Path, args: &[&str]) -> (bool, String, String) {
    cli::output(cli::with_store(env!("CARGO_BIN_EXE_hod"), store).args(args))
}

#[test]
fn deaccumulate_with_the_daily_check() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let mut files = Vec::new();
    for day in 0..2 {
        let times: Vec<f64> = (0..24)
            .map(|h| D0 + day as f64 * 86_400.0 + h as f64 * 3600.0)
            .collect();
        let cube = DataCube {
            name: "tp".into(),
            dims: vec!["valid_time".into(), "latitude".into(), "longitude".into()],
            shape: vec![24, 1, 2],
            coords: vec![times.clone(), vec![51.0], vec![0.0, 0.25]],
            time_dims: vec![true, false, false],
            values: times
                .iter()
                .flat_map(|&t| [since_midnight(t, 0), since_midnight(t, 1)])
                .collect(),
            attrs: serde_json::from_value(json!({"GRIB_stepType": "accum", "units": "m"})).unwrap(),
        };
        let path = dir.path().join(format!("tp{day}.nc"));
        hod_query::netcdf::write_netcdf(&path, &[cube], &Default::default()).unwrap();
        files.push(path.display().to_string());
    }
    let (ok, _, err) = hod(&store, &["ingest", "e5l", &files[0], &files[1]]);
    assert!(ok, "{err}");

    let args = [
        "--json",
        "read",
        "e5l",
        "--var",
        "tp",
        "--start",
        "2019-03-01T18",
        "--deaccumulate",
        "--accumulation",
        "since-00utc",
        "--check",
        "--stats",
    ];
    let (ok, out, err) = hod(&store, &args);
    assert!(ok, "{err}");
    let stats: Value = serde_json::from_str(&out).unwrap();
    // 2019-03-01T18 … 2019-03-02T23: 30 steps, all known (18 UTC reads 17 UTC too).
    let want: Vec<f64> = (18..48)
        .flat_map(|h| [0, 1].map(|c| increment(D0 + h as f64 * 3600.0, c)))
        .collect();
    assert_eq!(stats["tp"]["shape"], json!([30, 1, 2]));
    assert_eq!(stats["tp"]["count"], 60);
    let mean = want.iter().sum::<f64>() / 60.0;
    assert!(
        (stats["tp"]["mean"].as_f64().unwrap() - mean).abs() < 1e-12,
        "{stats}"
    );
    // The check goes to stderr: one complete day (valid 2019-03-01T19 … 02T00 is not whole).
    let check: Value = serde_json::from_str(err.lines().next().unwrap()).unwrap();
    assert_eq!(check["passed"], true, "{err}");
    assert_eq!(check["daily"]["days"], 0, "{err}");

    let full = [
        "read",
        "e5l",
        "--deaccumulate",
        "--accumulation",
        "since-00utc",
        "--check",
        "--stats",
    ];
    let (ok, _, err) = hod(&store, &full);
    assert!(ok, "{err}");
    assert!(
        err.contains("tp: 1 days (2 cell-days) checked") && err.contains("ok"),
        "{err}"
    );

    // Without a convention: ERA5 and ERA5-Land netCDF files look alike.
    let (ok, _, err) = hod(&store, &["read", "e5l", "--deaccumulate", "--stats"]);
    assert!(!ok && err.contains("--accumulation since-00utc"), "{err}");
    let (ok, _, err) = hod(&store, &["read", "e5l", "--check", "--stats"]);
    assert!(!ok && err.contains("--deaccumulate"), "{err}");
}
