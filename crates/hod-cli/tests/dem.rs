//! `hod dem` and `hod watershed` end to end on the pysheds test files (figures in MANIFEST.md).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hod_testkit::cli;
use serde_json::Value;
use std::process::Command;

fn data(rel: &str) -> String {
    hod_testkit::data::path(rel).display().to_string()
}

/// Runs hod; returns stdout lines parsed as JSON.
fn hod(args: &[&str]) -> Vec<Value> {
    cli::stdout(Command::new(env!("CARGO_BIN_EXE_hod")).args(args))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

#[test]
fn accumulation_and_catchment_of_dir_asc() {
    let dir = tempfile::tempdir().unwrap();
    let acc = dir.path().join("acc.tif").display().to_string();
    let v = hod(&[
        "dem",
        "accumulation",
        "--flowdir",
        &data("dem/dir.asc"),
        "--dirmap",
        "esri",
        "-o",
        &acc,
        "--json",
    ]);
    // pysheds says 77261: one more cell through its corner wrap (see docs/watershed.md).
    assert_eq!(v[0]["max"], 77260);
    let out = dir.path().join("b.geojson").display().to_string();
    let v = hod(&[
        "watershed",
        "--flowdir",
        &data("dem/dir.asc"),
        "--crs",
        "EPSG:4326",
        "--outlet",
        "-97.29416666666677,32.73749999999989",
        "-o",
        &out,
        "--json",
    ]);
    assert_eq!(v.len(), 1);
    assert_eq!(v[0]["cells"], 11422);
    assert_eq!(v[0]["moved_cells"], 0.0);
    let gj: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(gj["features"][0]["properties"]["cells"], 11422);
    assert_eq!(gj["features"][0]["geometry"]["type"], "Polygon");
}

#[test]
fn full_pipeline_on_dem_tif_with_nested_outlets() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("b.geojson").display().to_string();
    let mask = dir.path().join("m.tif").display().to_string();
    let v = hod(&[
        "watershed",
        "--dem",
        &data("dem/dem.tif"),
        "--outlet",
        "-97.294,32.737",
        "--outlet",
        "-97.32625,32.65792",
        "--snap-threshold",
        "1000",
        "-o",
        &out,
        "--mask",
        &mask,
        "--json",
    ]);
    let cells = v[0]["cells"].as_f64().unwrap();
    assert!(
        (cells - 11408.0).abs() / 11408.0 < 0.005,
        "{cells} cells, pysheds 11408"
    );
    assert!(
        v[1]["cells"].as_f64().unwrap() < cells,
        "the second outlet is upstream of the first"
    );
    let gj: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let p0 = &gj["features"][0]["properties"];
    let p1 = &gj["features"][1]["properties"];
    assert_eq!(p1["drains_to"], 1);
    assert_eq!(
        p0["own_cells"].as_u64().unwrap() + p1["cells"].as_u64().unwrap(),
        p0["cells"].as_u64().unwrap()
    );
    // Gauge area given: the outlet lands on the cell whose upstream area matches.
    let area = v[0]["area_km2"].as_f64().unwrap();
    let v = hod(&[
        "watershed",
        "--dem",
        &data("dem/dem.tif"),
        "--outlet",
        &format!("-97.296,32.739,{area}"),
        "--snap-radius",
        "5",
        "-o",
        &out,
        "--json",
    ]);
    assert!(v[0]["area_error"].as_f64().unwrap().abs() < 1e-9, "{}", v[0]);
    assert_eq!(
        v[0]["snapped"],
        serde_json::json!([-97.29374999999611, 32.73708333333203])
    );
    // The area alone relocates the outlet (default radius of 10 cells): same cell, and the
    // moved distance and area error are reported.
    let moved = hod(&[
        "watershed",
        "--dem",
        &data("dem/dem.tif"),
        "--outlet",
        &format!("-97.296,32.739,{area}"),
        "-o",
        &out,
        "--json",
    ]);
    assert_eq!(moved[0]["snapped"], v[0]["snapped"], "{}", moved[0]);
    assert!(moved[0]["moved_cells"].as_f64().unwrap() > 0.0, "{}", moved[0]);
    assert!(
        moved[0]["area_error"].as_f64().unwrap().abs() < 1e-9,
        "{}",
        moved[0]
    );
    // Without an area the point stays in its cell.
    let kept = hod(&[
        "watershed",
        "--dem",
        &data("dem/dem.tif"),
        "--outlet",
        "-97.296,32.739",
        "-o",
        &out,
        "--json",
    ]);
    assert_eq!(kept[0]["moved_cells"], 0.0, "{}", kept[0]);
}
