//! `hod krige` end to end on PyKrige's validation data (`kriging/`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hod_gis::ascii;
use hod_testkit::cli;
use hod_testkit::data::path as data;
use std::process::Command;

fn hod(args: &[&str]) -> (bool, String, String) {
    cli::output(Command::new(env!("CARGO_BIN_EXE_hod")).args(args))
}

fn assert_grid_close(path: &std::path::Path, answer: &str, rtol: f64) {
    let got = ascii::parse(&std::fs::read_to_string(path).unwrap()).unwrap();
    let want = ascii::parse(&std::fs::read_to_string(data(answer)).unwrap()).unwrap();
    assert!(
        got.geom.same_cells(&want.geom),
        "{:?} vs {:?}",
        got.geom,
        want.geom
    );
    for (i, (g, w)) in got.data.iter().zip(&want.data).enumerate() {
        assert!((g - w).abs() <= rtol * w.abs() + 1e-8, "cell {i}: {g} vs {w}");
    }
}

#[test]
fn ordinary_kriging_writes_the_kt3d_answer() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("z.asc");
    let var = dir.path().join("ss.nc");
    let pts = data("kriging/test_data.txt");
    let (ok, stdout, err) = hod(&[
        "krige",
        "--points",
        pts.to_str().unwrap(),
        "--model",
        "exponential",
        "--params",
        "500,3000,0",
        "--grid",
        "1067275,50,100,241459,25,100",
        "-o",
        out.to_str().unwrap(),
        "--variance",
        var.to_str().unwrap(),
        "--cv",
        "--json",
    ]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["model"], "exponential");
    assert!(v["cross_validation"]["rmse"].as_f64().unwrap() > 0.0);
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.starts_with("NCOLS 100\nNROWS 100\nXLLCENTER 1067275\nYLLCENTER 241459\nDX 50\nDY 25\n"));
    assert_grid_close(&out, "kriging/test1_answer.asc", 1e-5);
    assert!(std::fs::read(&var).unwrap().starts_with(b"CDF\x02"));

    // The same grid as a GeoTIFF holds the same values (north-up, same cells).
    let tif = dir.path().join("z.tif");
    let (ok, _, err) = hod(&[
        "krige",
        "--points",
        pts.to_str().unwrap(),
        "--model",
        "exponential",
        "--params",
        "500,3000,0",
        "--grid",
        "1067275,50,100,241459,25,100",
        "-o",
        tif.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let from_tif = hod_gis::geotiff::read("z.tif", &std::fs::read(&tif).unwrap()).unwrap();
    let from_asc = ascii::parse(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert!(from_tif.geom.same_cells(&from_asc.geom));
    for (t, a) in from_tif.data.iter().zip(&from_asc.data) {
        assert!((t - a).abs() <= 1e-9 * a.abs().max(1.0), "{t} vs {a}");
    }
}

#[test]
fn external_drift_writes_the_meuk_answer() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("z.asc");
    let (ok, _, err) = hod(&[
        "krige",
        "--points",
        data("kriging/test_data.txt").to_str().unwrap(),
        "--model",
        "spherical",
        "--params",
        "500,3000,0",
        "--external-drift",
        data("kriging/test3_dem.asc").to_str().unwrap(),
        "--grid",
        "1067279.19494727,25,198,241472.135285088,25,99",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    assert_grid_close(&out, "kriging/test3_answer.asc", 1e-5);
}
