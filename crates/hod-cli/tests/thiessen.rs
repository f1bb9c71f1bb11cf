//! `hod thiessen` end to end on the Matapedia basin and its 6 meteorological stations.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hod_testkit::cli;
use hod_testkit::data::root as data;
use serde_json::Value;
use std::process::Command;

fn hod(args: &[&str]) -> (bool, String, String) {
    cli::output(Command::new(env!("CARGO_BIN_EXE_hod")).args(args))
}

#[test]
fn weights_polygons_and_areal_series() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).display().to_string();
    // longitude/latitude of stations/Matapedia_meteo_data_stations.nc (netCDF4-python)
    std::fs::write(
        p("stations.csv"),
        "id,lon,lat\n1,-67.75,48.5\n2,-67.5,48.5\n3,-67.5,48.25\n4,-67.25,48.5\n5,-67.25,48.25\n6,-67.0,48.5\n",
    )
    .unwrap();
    std::fs::write(
        p("pr.csv"),
        "time,1,2,3,4,5,6\n2000-01-01,1,1,1,1,1,1\n2000-01-02,,,,,,\n2000-01-03,,,4,,,\n",
    )
    .unwrap();
    let basin = data().join("basins/matapedia.geojson").display().to_string();
    let (ok, out, err) = hod(&[
        "thiessen",
        "--stations",
        &p("stations.csv"),
        "--basin",
        &basin,
        "-o",
        &p("w.csv"),
        "--polygons",
        &p("cells.geojson"),
        "--series",
        &p("pr.csv"),
        "--areal",
        &p("areal.csv"),
        "--json",
    ]);
    assert!(ok, "{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    assert!((report["basin_area_km2"].as_f64().unwrap() - 2758.898294982).abs() < 1e-6);
    assert_eq!(report["areal"]["weight_sets"], 2);

    // scipy.spatial.Voronoi + shapely (tests/interop/compare_thiessen.py)
    let expected = [
        0.11388320880749485,
        0.1983898773945661,
        0.1949820080844886,
        0.11750246723994696,
        0.20406744670965218,
        0.1711749917638507,
    ];
    let csv = std::fs::read_to_string(p("w.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("id,lon,lat,area_km2,weight"));
    for (line, e) in lines.zip(expected) {
        let w: f64 = line.rsplit(',').next().unwrap().parse().unwrap();
        assert!((w - e).abs() < 1e-9, "{line} vs {e}");
    }

    let cells: Value = serde_json::from_str(&std::fs::read_to_string(p("cells.geojson")).unwrap()).unwrap();
    let features = cells["features"].as_array().unwrap();
    assert_eq!(features.len(), 6);
    assert_eq!(features[2]["properties"]["id"], "3");
    assert_eq!(features[2]["geometry"]["type"], "MultiPolygon");

    let areal = std::fs::read_to_string(p("areal.csv")).unwrap();
    let rows: Vec<&str> = areal.lines().collect();
    assert_eq!(rows[0], "time,areal");
    let v1: f64 = rows[1].split(',').nth(1).unwrap().parse().unwrap();
    assert!((v1 - 1.0).abs() < 1e-12);
    assert_eq!(rows[2], "2000-01-02,");
    assert_eq!(rows[3], "2000-01-03,4");

    // duplicates are refused by name
    std::fs::write(p("dup.csv"), "a,-67.5,48.4\nb,-67.5,48.4\n").unwrap();
    let (ok, _, err) = hod(&[
        "thiessen",
        "--stations",
        &p("dup.csv"),
        "--basin",
        &basin,
        "-o",
        &p("x.csv"),
    ]);
    assert!(
        !ok && err.contains("stations a and b are at the same place"),
        "{err}"
    );
}
