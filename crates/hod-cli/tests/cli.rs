//! The `hod` binary end to end on the embedded local store.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hod_testkit::cli;
use hod_testkit::data::root as data;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

/// Runs hod with a store; returns (success, stdout, stderr).
fn hod(store: &Path, args: &[&str]) -> (bool, String, String) {
    cli::output(cli::with_store(env!("CARGO_BIN_EXE_hod"), store).args(args))
}

fn json(store: &Path, args: &[&str]) -> Value {
    cli::json(cli::with_store(env!("CARGO_BIN_EXE_hod"), store).args(args))
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

    let Some(python) = hod_testkit::python::interop() else {
        return;
    };
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

/// Runs hod and returns its peak resident set size in bytes: measured by `/usr/bin/time` (the
/// kernel's `ru_maxrss` of the child) when there is one, else the highest `VmHWM` polled from
/// `/proc/<pid>/status` while it runs.
fn peak_rss(store: &Path, args: &[&str]) -> u64 {
    let time = Path::new("/usr/bin/time");
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("rss");
    let mut cmd = if time.exists() {
        let mut c = Command::new(time);
        c.arg("-f")
            .arg("%M")
            .arg("-o")
            .arg(&report)
            .arg(env!("CARGO_BIN_EXE_hod"));
        c
    } else {
        Command::new(env!("CARGO_BIN_EXE_hod"))
    };
    let mut child = cmd
        .arg("--store")
        .arg(store)
        .args(args)
        .env_remove("HOD_STORE")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut polled = 0u64;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap_or_default();
        if let Some(kb) = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        {
            polled = polled.max(kb * 1024);
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    assert!(status.success(), "hod {args:?} failed");
    if time.exists() {
        // KiB, on the last line (earlier ones are notes such as a signal).
        let text = std::fs::read_to_string(&report).unwrap();
        text.lines().last().unwrap().trim().parse::<u64>().unwrap() * 1024
    } else {
        polled
    }
}

/// The file with its `history` time stamp blanked (files written at other times).
fn without_stamp(path: &Path) -> Vec<u8> {
    let mut b = std::fs::read(path).unwrap();
    let mark = b"Z: written by hod";
    let at = b.windows(mark.len()).position(|w| w == mark).unwrap();
    b[at - 19..at].fill(b'_');
    b
}

#[test]
fn whole_series_streams_in_bounded_memory_and_as_read_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let out = |name: &str| dir.path().join(name).display().to_string();
    for (name, glob) in [("nc4", "era5-daily-nc4/*.nc"), ("nc3", "era5-daily-nc3/*.nc")] {
        let pattern = data().join(glob).display().to_string();
        json(&store, &["--json", "ingest", name, &pattern]);
        // The whole 744 x 33 x 49 series, streamed within 16 MiB.
        let streamed = out(&format!("{name}-16m.nc"));
        let read = [
            "read",
            name,
            "--var",
            "t2m",
            "-o",
            &streamed,
            "--max-memory",
            "16MiB",
        ];
        let rss = peak_rss(&store, &read);
        println!("{name}: peak RSS {:.1} MiB", rss as f64 / 1048576.0);
        assert!(rss < 64 << 20, "{name}: peak RSS {rss} bytes");
        // In memory (one block, the default 1 GiB) and in blocks of a few steps: the same files.
        let whole = out(&format!("{name}-whole.nc"));
        let tiny = out(&format!("{name}-tiny.nc"));
        hod(&store, &["read", name, "--var", "t2m", "-o", &whole]);
        hod(
            &store,
            &["read", name, "--var", "t2m", "-o", &tiny, "--max-memory", "200kB"],
        );
        let want = without_stamp(Path::new(&whole));
        assert!(want.len() > 8 * (744 * 33 * 49 + 744 + 33 + 49));
        assert!(
            want == without_stamp(Path::new(&streamed)),
            "{name}: 16MiB differs"
        );
        assert!(want == without_stamp(Path::new(&tiny)), "{name}: 200kB differs");
        // CSV (long and reduced) and statistics, streamed and not.
        let sel = [
            "--start",
            "2019-03-10T00",
            "--end",
            "2019-03-12T23",
            "--bbox",
            "-3,50,2,54",
        ];
        for extra in [&[][..], &["--reduce", "mean"][..]] {
            let (a, b) = (out("a.csv"), out("b.csv"));
            let args = |o: &str, m: &str| {
                let mut v: Vec<String> = ["read", name, "--var", "t2m", "-o", o, "--max-memory", m]
                    .iter()
                    .map(|s| s.to_string())
                    .collect();
                v.extend(sel.iter().chain(extra).map(|s| s.to_string()));
                v
            };
            let run = |v: Vec<String>| {
                let v: Vec<&str> = v.iter().map(String::as_str).collect();
                let (ok, _, err) = hod(&store, &v);
                assert!(ok, "{err}");
            };
            run(args(&a, "1GiB"));
            run(args(&b, "20kB"));
            let (a, b) = (std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
            assert!(a == b && a.len() > 1000, "{name} {extra:?}");
        }
        let stats = |m: &str| {
            json(
                &store,
                &[
                    "read",
                    name,
                    "--var",
                    "t2m",
                    "--stats",
                    "--json",
                    "--max-memory",
                    m,
                ],
            )
        };
        let (a, b) = (stats("1GiB"), stats("10kB"));
        assert_eq!(a, b, "{name}");
        assert_eq!(a["t2m"]["count"], 744 * 33 * 49);
        // JSON needs the whole result in memory: refused over the budget, and nothing written.
        let j = out("x.json");
        let (ok, _, err) = hod(
            &store,
            &["read", name, "--var", "t2m", "-o", &j, "--max-memory", "1MiB"],
        );
        assert!(!ok && err.contains(".nc, .zarr or .csv"), "{err}");
        assert!(!Path::new(&j).exists());
    }
}

#[test]
fn re_ingesting_a_single_file_dataset_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let dem = data().join("dem/dem_cog.tif").display().to_string();
    let first = json(&store, &["--json", "ingest", "dem", &dem]);
    let again = json(&store, &["--json", "ingest", "dem", &dem]);
    assert_eq!(again["scanned"], 0);
    assert_eq!(again["version"], first["version"]);
    // Another file cannot extend a dataset without a concat dimension.
    let other = data().join("dem/dem.tif").display().to_string();
    let (ok, _, err) = hod(&store, &["ingest", "dem", &other]);
    assert!(!ok && err.contains("cannot be extended"), "{err}");
}
