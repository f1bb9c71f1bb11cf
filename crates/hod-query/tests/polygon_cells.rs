//! A polygon selects the same cells as a centre-in-polygon test done with shapely, for every
//! basin in ../shared/data/basins, on a global 0.25° grid with 0..360 longitudes (GFS) and on a
//! 0.05° -180..180 grid. Needs the interop Python (skipped without it unless HOD_REQUIRE_INTEROP=1).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hod_query::polygon::Area;
use hod_query::select::{index_range, longitude_ranges};
use hod_testkit::data::root as data;
use serde_json::json;

/// The cells `read` keeps for a polygon: the bbox window, then centre-in-polygon.
fn cells(area: &Area, lats: &[f64], lons: &[f64]) -> Vec<(f64, f64)> {
    let (w, s, e, n) = area.bounds();
    let rows = index_range(lats, s, n);
    let cols: Vec<usize> = longitude_ranges(lons, w, e)
        .into_iter()
        .flat_map(|(lo, hi)| index_range(lons, lo, hi))
        .collect();
    let mut out = Vec::new();
    for r in rows {
        for &c in &cols {
            if area.contains(lons[c], lats[r]) {
                out.push((lats[r], lons[c]));
            }
        }
    }
    out
}

#[test]
fn polygon_cells_equal_shapely() {
    let Some(python) = hod_testkit::python::interop() else {
        return;
    };
    let grids: [(Vec<f64>, Vec<f64>); 2] = [
        (
            (0..721).map(|i| 90.0 - 0.25 * i as f64).collect(),
            (0..1440).map(|i| 0.25 * i as f64).collect(),
        ),
        (
            (0..3600).map(|i| -89.975 + 0.05 * i as f64).collect(),
            (0..7200).map(|i| -179.975 + 0.05 * i as f64).collect(),
        ),
    ];
    let mut cases = Vec::new();
    for entry in std::fs::read_dir(data().join("basins")).unwrap().flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "geojson") {
            continue;
        }
        let area = Area::from_geojson(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for (g, (lats, lons)) in grids.iter().enumerate() {
            let ours = cells(&area, lats, lons);
            cases.push(json!({"file": path.display().to_string(), "grid": g, "cells": ours}));
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    let spec = tmp.path().join("cases.json");
    std::fs::write(&spec, json!(cases).to_string()).unwrap();
    let script = r#"
import json, sys
import numpy as np, shapely
from shapely.geometry import shape
from shapely.ops import unary_union
cases = json.load(open(sys.argv[1]))
grids = [(90 - 0.25 * np.arange(721), 0.25 * np.arange(1440)),
         (-89.975 + 0.05 * np.arange(3600), -179.975 + 0.05 * np.arange(7200))]
bad = 0
for c in cases:
    gj = json.load(open(c["file"]))
    feats = gj["features"] if gj["type"] == "FeatureCollection" else [gj]
    geom = unary_union([shape(f["geometry"] if "geometry" in f else f) for f in feats])
    lats, lons = grids[c["grid"]]
    lon2, lat2 = np.meshgrid(np.where(lons > 180, lons - 360, lons), lats)
    inside = shapely.contains_xy(geom, lon2, lat2)
    ref = {(round(float(a), 6), round(float(b), 6)) for a, b in zip(np.broadcast_to(lats[:, None], inside.shape)[inside], np.broadcast_to(lons[None, :], inside.shape)[inside])}
    ours = {(round(a, 6), round(b, 6)) for a, b in c["cells"]}
    status = "ok" if ours == ref else "DIFFERS"
    bad += ours != ref
    print(f"{c['file'].rsplit('/', 1)[-1]} grid {c['grid']}: {len(ours)} cells, shapely {len(ref)}: {status}")
sys.exit(1 if bad else 0)
"#;
    let out = std::process::Command::new(python)
        .args(["-c", script])
        .arg(&spec)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{text}");
    assert!(out.status.success(), "{text}");
}
