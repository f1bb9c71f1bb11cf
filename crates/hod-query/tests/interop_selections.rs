//! Random selections (time range × bbox) over the three ERA5 daily sets equal xarray's `.sel` on
//! the original files. Needs the interop Python (`HOD_PYTHON`; skipped without it unless
//! `HOD_REQUIRE_INTEROP=1`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hod_query::{Bbox, Request, read};
use hod_store::Store;
use hod_testkit::data;
use hod_testkit::npy::write_f64 as write_npy;
use hod_testkit::python::interop as python;
use hod_testkit::rng::Lcg;
use serde_json::json;
use std::path::PathBuf;

async fn check(dir: &str, ext: &str, engine: &str, tolerance: f64) {
    let Some(python) = python() else { return };
    let files = data::files(dir, ext.trim_start_matches('.'));
    let store = Store::open(&format!("memory://selections-{dir}")).unwrap();
    hod_index::ingest(&store, "d", &files, &Default::default(), &hod_index::Quiet)
        .await
        .unwrap();
    let meta = hod_index::read_meta(&store, "d").await.unwrap();
    let time_dim = meta.concat.as_ref().unwrap().dim.clone();
    let tmp = tempfile::tempdir().unwrap();
    let mut rng = Lcg(42);
    let mut selections = Vec::new();
    for i in 0..40 {
        // Hours of March 2019, lat 50..58 and lon -10..2 on the 0.25° grid, some off-grid ends.
        let t0 = rng.next(744);
        let t1 = (t0 + rng.next(80)).min(743);
        let s = 50.0 + rng.next(33) as f64 * 0.25 - if i % 5 == 0 { 0.1 } else { 0.0 };
        let n = (s + rng.next(12) as f64 * 0.25 + if i % 7 == 0 { 0.13 } else { 0.0 }).min(58.0);
        let w = -10.0 + rng.next(49) as f64 * 0.25;
        let e = (w + rng.next(20) as f64 * 0.25).min(2.0);
        let start = 1_551_398_400.0 + t0 as f64 * 3600.0; // 2019-03-01T00:00:00Z
        let end = 1_551_398_400.0 + t1 as f64 * 3600.0;
        let req = Request {
            vars: vec!["t2m".into()],
            start: Some(start),
            end: Some(end),
            bbox: Some(Bbox {
                west: w,
                south: s,
                east: e,
                north: n,
            }),
            ..Default::default()
        };
        let cube = read(&store, &meta, &req).await.unwrap().remove(0);
        let npy = format!("s{i}.npy");
        write_npy(&tmp.path().join(&npy), &cube.shape, &cube.values);
        selections.push(json!({
            "start": hod_core::time::format_unix_seconds(start),
            "end": hod_core::time::format_unix_seconds(end),
            "bbox": [w, s, e, n],
            "npy": npy,
        }));
    }
    let spec = json!({"files": files, "engine": engine, "var": "t2m", "time_dim": time_dim,
        "tolerance": tolerance, "selections": selections});
    std::fs::write(tmp.path().join("selections.json"), spec.to_string()).unwrap();
    let script = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/interop/compare_selections.py"
    ));
    let out = std::process::Command::new(python)
        .arg(script)
        .arg(tmp.path())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{text}");
    assert!(out.status.success(), "{dir}: {text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn netcdf3_selections_equal_xarray() {
    check("era5-daily-nc3", ".nc", "netcdf4", 1e-9).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn netcdf4_selections_equal_xarray() {
    check("era5-daily-nc4", ".nc", "netcdf4", 0.0).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn grib_selections_equal_xarray() {
    check("era5-daily-grib", ".grib", "cfgrib", 0.0).await;
}
