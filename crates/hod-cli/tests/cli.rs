//! The `hod` binary end to end on the embedded local store.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn data() -> PathBuf {
    std::env::var_os("HOD_TEST_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data")))
}

/// Runs hod with a store; returns (success, stdout, stderr).
fn hod(store: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hod"))
        .arg("--store")
        .arg(store)
        .args(args)
        .env_remove("HOD_STORE")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

fn json(store: &Path, args: &[&str]) -> Value {
    let (ok, out, err) = hod(store, args);
    assert!(ok, "hod {args:?} failed: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

#[test]
fn the_three_era5_sets_become_one_dataset_each() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    for (name, glob) in [
        ("nc3", "era5-daily-nc3/*.nc"),
        ("nc4", "era5-daily-nc4/*.nc"),
        ("grib", "era5-daily-grib/*.grib"),
    ] {
        let pattern = data().join(glob).display().to_string();
        let report = json(&store, &["--json", "ingest", name, &pattern]);
        assert_eq!(report["sources"], 31, "{name}");
        let info = json(&store, &["info", name, "--json"]);
        assert_eq!(
            info["variables"]["t2m"]["shape"],
            serde_json::json!([744, 33, 49]),
            "{name}"
        );
        assert_eq!(info["time_coverage"]["start"], "2019-03-01T00:00:00", "{name}");
        assert_eq!(info["time_coverage"]["end"], "2019-03-31T23:00:00", "{name}");
        assert_eq!(info["sources"], 31);
        // The bbox mean of era5-daily-REFERENCE.md: 72 x 9 x 9 values over three files.
        let stats = json(
            &store,
            &[
                "read",
                name,
                "--var",
                "t2m",
                "--start",
                "2019-03-10T00",
                "--end",
                "2019-03-12T23",
                "--bbox",
                "0,51,2,53",
                "--stats",
                "--json",
            ],
        );
        assert_eq!(stats["t2m"]["shape"], serde_json::json!([72, 9, 9]), "{name}");
        assert_eq!(stats["t2m"]["count"], 5832, "{name}");
        let mean = stats["t2m"]["mean"].as_f64().unwrap();
        assert!((mean - 279.66697429138935).abs() < 1e-6, "{name}: {mean}");
    }
    let list = json(&store, &["list", "--json"]);
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["grib", "nc3", "nc4"]);
    let (ok, text, _) = hod(&store, &["info", "nc3"]);
    assert!(
        ok && text.contains("t2m") && text.contains("(packed per source file)"),
        "{text}"
    );
    let (ok, text, _) = hod(
        &store,
        &[
            "refs",
            "nc4",
            "-o",
            &dir.path().join("r.json").display().to_string(),
        ],
    );
    assert!(ok, "{text}");
    let refs: Value = serde_json::from_slice(&std::fs::read(dir.path().join("r.json")).unwrap()).unwrap();
    assert_eq!(refs["version"], 1);
    assert!(refs["refs"]["t2m/743.0.0"].is_array());
}

#[test]
fn errors_say_what_and_where() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let (ok, _, err) = hod(&store, &["info", "nope"]);
    assert!(!ok && err.contains("no dataset named 'nope'"), "{err}");
    let missing = dir.path().join("missing.nc").display().to_string();
    let (ok, _, err) = hod(&store, &["ingest", "x", &missing]);
    assert!(!ok && err.contains("missing.nc"), "{err}");
    let nomatch = dir.path().join("*.grib").display().to_string();
    let (ok, _, err) = hod(&store, &["ingest", "x", &nomatch]);
    assert!(!ok && err.contains("no files match"), "{err}");
    // A truncated file: the error names it, and nothing is published.
    let truncated = dir.path().join("truncated.nc");
    let bytes = std::fs::read(data().join("era5-daily-nc3/era5_t2m_20190301.nc")).unwrap();
    std::fs::write(&truncated, &bytes[..5000]).unwrap();
    let (ok, _, err) = hod(&store, &["ingest", "x", &truncated.display().to_string()]);
    assert!(!ok && err.contains("truncated.nc"), "{err}");
    let not_data = dir.path().join("notes.txt");
    std::fs::write(&not_data, "hello").unwrap();
    let (ok, _, err) = hod(&store, &["ingest", "x", &not_data.display().to_string()]);
    assert!(
        !ok && err.contains("notes.txt") && err.contains("not a netCDF"),
        "{err}"
    );
    let (ok, _, err) = hod(&store, &["ingest", "../bad", &not_data.display().to_string()]);
    assert!(!ok && err.contains("dataset name"), "{err}");
    let (_, out, _) = hod(&store, &["list"]);
    assert!(out.contains("no datasets"), "{out}");
}

/// `hod read -o` in every format; the .nc and .zarr files, read back by xarray, equal xarray's
/// own selection of the original files, and `--reduce mean` equals xarray's cos-lat weighted mean.
#[test]
fn read_writes_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let files = data().join("era5-daily-nc4/*.nc").display().to_string();
    assert!(hod(&store, &["ingest", "nc4", &files]).0);
    let sel = [
        "--var",
        "t2m",
        "--start",
        "2019-03-10T00",
        "--end",
        "2019-03-10T02",
        "--bbox",
        "0,51,2,53",
    ];
    let out = |name: &str| dir.path().join(name).display().to_string();
    for file in ["o.nc", "o.zarr", "o.csv", "o.json"] {
        let (ok, _, err) = hod(
            &store,
            &[&["read", "nc4"][..], &sel, &["-o", &out(file)]].concat(),
        );
        assert!(ok, "{file}: {err}");
    }
    let (ok, _, err) = hod(
        &store,
        &[
            &["read", "nc4"][..],
            &sel,
            &["-o", &out("m.csv"), "--reduce", "mean"],
        ]
        .concat(),
    );
    assert!(ok, "{err}");
    // -o with --stats writes once and prints the statistics.
    let stats = json(
        &store,
        &[
            &["read", "nc4"][..],
            &sel,
            &["-o", &out("s.zarr"), "--stats", "--json"],
        ]
        .concat(),
    );
    assert_eq!(stats["t2m"]["count"], 243);
    let csv = std::fs::read_to_string(out("o.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 3 * 9 * 9);
    assert!(
        csv.starts_with("valid_time,latitude,longitude,t2m\n2019-03-10T00:00:00,53,0,"),
        "{csv}"
    );
    let j: Value = serde_json::from_slice(&std::fs::read(out("o.json")).unwrap()).unwrap();
    assert_eq!(j["t2m"]["values"].as_array().unwrap().len(), 243);
    let (ok, _, err) = hod(&store, &["read", "nc4", "-o", &out("bad.txt")]);
    assert!(!ok && err.contains(".nc, .zarr, .csv or .json"), "{err}");

    let python = std::env::var_os("HOD_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| "/tmp/hod-venv/bin/python".into());
    if !python.exists() {
        assert!(
            std::env::var("HOD_REQUIRE_INTEROP").as_deref() != Ok("1"),
            "no {}",
            python.display()
        );
        println!("SKIP: no interop Python at {}", python.display());
        return;
    }
    let script = format!(
        r#"
import glob, numpy as np, pandas as pd, xarray as xr
files = sorted(glob.glob("{data}/era5-daily-nc4/*.nc"))
ref = xr.concat([xr.open_dataset(f) for f in files], "valid_time").t2m.sel(
    valid_time=slice("2019-03-10T00", "2019-03-10T02"), latitude=slice(53, 51), longitude=slice(0, 2))
for path, kw in [("{nc}", {{}}), ("{zarr}", {{"engine": "zarr"}})]:
    got = xr.open_dataset(path, **kw).t2m
    assert got.shape == ref.shape, (path, got.shape)
    assert np.array_equal(got.values, ref.values.astype("f8")), path
    assert (got.valid_time.values == ref.valid_time.values).all(), path
mean = ref.weighted(np.cos(np.deg2rad(ref.latitude))).mean(("latitude", "longitude"))
csv = pd.read_csv("{m}")
assert np.allclose(csv.t2m.values, mean.values, rtol=1e-12), (csv.t2m.values, mean.values)
print("outputs equal xarray")
"#,
        data = data().display(),
        nc = out("o.nc"),
        zarr = out("o.zarr"),
        m = out("m.csv"),
    );
    let o = Command::new(&python).args(["-c", &script]).output().unwrap();
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}
