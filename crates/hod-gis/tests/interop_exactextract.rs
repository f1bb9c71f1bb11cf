#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Coverage fractions, covered spherical areas and weighted means over the real `basins/`
//! polygons equal exactextract's, on grids laid over each basin at several resolutions. Needs
//! the interop Python with exactextract (`HOD_PYTHON`; skipped without it unless
//! `HOD_REQUIRE_INTEROP=1`).

use hod_gis::GridGeometry;
use hod_gis::vector::{self, Feature};
use hod_gis::zonal::{
    AreaModel, EXACTEXTRACT_RADIUS, Precision, Weighting, coverage, row_areas, weighted_mean, weights,
};
use hod_testkit::data::root as data;
use serde_json::{Value, json};
use std::path::PathBuf;

/// The interop Python, if it has exactextract.
fn python() -> Option<PathBuf> {
    hod_testkit::python::with_modules("exactextract")
}

/// The test field (same formula as exactextract_coverage.py).
fn field(g: &GridGeometry) -> Vec<f64> {
    let mut v = Vec::with_capacity(g.len());
    for r in 0..g.rows {
        for c in 0..g.cols {
            let (rf, cf) = (r as f64, c as f64);
            v.push(if (7 * r + 3 * c) % 11 == 0 {
                f64::NAN
            } else {
                10.0 + (0.37 * rf).sin() + (0.23 * cf).cos() + 0.01 * rf * cf
            });
        }
    }
    v
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-300)
}

#[test]
fn basins_match_exactextract() {
    let Some(py) = python() else { return };
    let mut cases: Vec<(GridGeometry, Vec<Feature>, String)> = Vec::new();
    for name in ["matapedia", "nldi_get_basin", "salmon_river", "test"] {
        let features = vector::read_path(&data().join(format!("basins/{name}.geojson"))).unwrap();
        let (w, s, e, n) = vector::bounds(&features).unwrap();
        // Grids from coarser than the basin to ~100 cells across, not aligned with it, starting
        // outside the basin and ending inside it (so parts of the polygon lie off the grid).
        for (k, cells_across) in [0.7, 3.0, 17.0, 101.0].into_iter().enumerate() {
            let d = (e - w).max(n - s) / cells_across;
            let x0 = w - 1.37 * d;
            let y0 = n + 0.61 * d;
            let cols = ((e - x0) / d).ceil() as usize + 2 - (k % 2) * 2;
            let rows = ((y0 - s) / d).ceil() as usize + 1;
            let g = GridGeometry {
                cols,
                rows,
                x0,
                y0,
                dx: d,
                dy: d * 0.8,
                crs: Some("EPSG:4326".into()),
            };
            cases.push((g, features.clone(), format!("{name} d={d:.5}")));
        }
    }
    let spec: Vec<Value> = cases
        .iter()
        .map(|(g, f, _)| {
            let feats: Vec<Value> = f
                .iter()
                .map(|f| {
                    json!({"type": "Feature", "properties": {},
                           "geometry": geojson::Geometry::new(geojson::GeometryValue::from(&f.geometry))})
                })
                .collect();
            json!({"x0": g.x0, "y0": g.y0, "dx": g.dx, "dy": g.dy, "cols": g.cols, "rows": g.rows,
                   "features": feats})
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let spec_path = dir.path().join("spec.json");
    std::fs::write(&spec_path, serde_json::to_vec(&spec).unwrap()).unwrap();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/interop/exactextract_coverage.py"
    );
    let out = std::process::Command::new(py)
        .arg(script)
        .arg(&spec_path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let peer: Vec<Vec<Value>> = serde_json::from_slice(&out.stdout).unwrap();
    let (mut worst_f32, mut worst_mean, mut worst_area, mut cells) = (0.0f64, 0.0f64, 0.0f64, 0usize);
    for ((g, features, label), peer) in cases.iter().zip(&peer) {
        let values = field(g);
        let areas = row_areas(
            g,
            AreaModel::Sphere {
                radius: EXACTEXTRACT_RADIUS,
            },
        );
        for (f, p) in features.iter().zip(peer) {
            let cov = coverage(g, &f.geometry);
            // exactextract stores fractions as float32: ours, rounded so, must be the same
            // float32 (within 1 ulp, for a product rounded differently) ...
            let theirs: Vec<(usize, usize, f64)> = p["cells"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| {
                    (
                        c[0].as_u64().unwrap() as usize,
                        c[1].as_u64().unwrap() as usize,
                        c[2].as_f64().unwrap(),
                    )
                })
                .collect();
            for &(r, c, t) in &theirs {
                let ours = cov.get(r, c);
                let ulp = f64::from(f32::EPSILON) * t.max(f64::from(f32::MIN_POSITIVE));
                assert!(
                    (ours - t).abs() <= ulp,
                    "{label}: cell ({r},{c}) ours {ours} exactextract {t}"
                );
                worst_f32 = worst_f32.max((ours - t).abs());
                cells += 1;
            }
            // ... and every cell we cover, they cover (exactextract lists its window's cells).
            let listed: std::collections::HashSet<(usize, usize)> =
                theirs.iter().map(|c| (c.0, c.1)).collect();
            for (r, c, fr) in cov.covered() {
                assert!(
                    listed.contains(&(r, c)) || fr < 1e-7,
                    "{label}: ({r},{c}) = {fr} not in exactextract's"
                );
            }
            // Covered spherical area.
            let area: f64 = cov.covered().map(|(r, _, fr)| fr * areas[r]).sum();
            let a = rel(area, p["area_m2"].as_f64().unwrap());
            worst_area = worst_area.max(a);
            // Weighted means (area, coverage).
            let sphere = Weighting::Area(AreaModel::Sphere {
                radius: EXACTEXTRACT_RADIUS,
            });
            for (weighting, key) in [(sphere, "mean"), (Weighting::Coverage, "mean_cov")] {
                let peer = p[key].as_f64().unwrap();
                // Rounded as exactextract rounds (float32 weights): the same bits.
                let w32 = weights(g, &f.geometry, weighting, Precision::Float32);
                assert_eq!(
                    weighted_mean(&values, &w32),
                    peer,
                    "{label} {key}, float32 weights"
                );
                // Exact weights: within exactextract's own float32 rounding.
                let w = weights(g, &f.geometry, weighting, Precision::Exact);
                let m = rel(weighted_mean(&values, &w), peer);
                worst_mean = worst_mean.max(m);
                assert!(
                    m < 1e-8,
                    "{label} {key}: ours {} exactextract {peer}",
                    weighted_mean(&values, &w)
                );
            }
            assert!(
                a < 1e-6,
                "{label}: area ours {area} exactextract {}",
                p["area_m2"]
            );
        }
    }
    println!(
        "{} cases, {cells} cells: max |fraction diff| {worst_f32:.2e} (exactextract float32), max exact-weight mean rel diff \
         {worst_mean:.2e} (float32 weights: identical), max area rel diff {worst_area:.2e}",
        cases.len()
    );
}
