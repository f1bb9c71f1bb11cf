//! Kriging against PyKrige itself: every variogram model, nuggets, regional linear and external
//! drift, anisotropy, moving neighbourhoods and fitted variograms, on the real `kriging/` data.
//! Needs a Python with PyKrige (`HOD_PYTHON`; skipped without it unless `HOD_REQUIRE_INTEROP=1`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hod_gis::ascii;
use hod_gis::kriging::{
    Anisotropy, Drift, ExternalDrift, FitOptions, Kriging, Model, MovingKriging, Predict, Variogram,
    fit_variogram,
};
use hod_testkit::data::path as data;
use serde_json::Value;
use std::path::PathBuf;

/// The interop Python, if it has PyKrige.
fn python() -> Option<PathBuf> {
    hod_testkit::python::with_modules("pykrige")
}

/// Runs every case through PyKrige; returns one JSON object per case.
const SCRIPT: &str = r#"
import json, sys
import numpy as np
from pykrige.ok import OrdinaryKriging
from pykrige.uk import UniversalKriging
from pykrige.kriging_tools import read_asc_grid
d = np.loadtxt(sys.argv[1])
x, y, z = d[:, 0], d[:, 1], d[:, 2]
dem, demx, demy, _, _ = read_asc_grid(sys.argv[2])
gx = np.arange(1067275.0, 1067275.0 + 20 * 250.0, 250.0)
gy = np.arange(241459.0, 241459.0 + 15 * 170.0, 170.0)
out = []
for case in json.loads(sys.argv[3]):
    kw = dict(variogram_model=case["model"], variogram_parameters=case.get("params"),
              anisotropy_scaling=case.get("aniso", [1.0, 0.0])[0],
              anisotropy_angle=case.get("aniso", [1.0, 0.0])[1], nlags=6, verbose=False,
              enable_plotting=False)
    if case["drift"] == "none":
        k = OrdinaryKriging(x, y, z, **kw)
        if case.get("k"):
            zz, ss = k.execute("grid", gx, gy, backend="loop", n_closest_points=case["k"])
        else:
            zz, ss = k.execute("grid", gx, gy, backend="vectorized")
    elif case["drift"] == "linear":
        k = UniversalKriging(x, y, z, drift_terms=["regional_linear"], **kw)
        zz, ss = k.execute("grid", gx, gy, backend="vectorized")
    else:
        k = UniversalKriging(x, y, z, drift_terms=["external_Z"], external_drift=dem,
                             external_drift_x=demx, external_drift_y=demy, **kw)
        zz, ss = k.execute("grid", gx, gy, backend="vectorized")
    out.append({"z": np.asarray(zz).ravel().tolist(), "ss": np.asarray(ss).ravel().tolist(),
                "params": [float(p) for p in k.variogram_model_parameters]})
print(json.dumps(out))
"#;

#[test]
fn matches_pykrige() {
    let Some(py) = python() else { return };
    let cases = serde_json::json!([
        {"model": "linear", "params": [0.04, 5.0], "drift": "none"},
        {"model": "power", "params": [0.5, 1.3, 2.0], "drift": "none"},
        {"model": "gaussian", "params": [600.0, 2500.0, 20.0], "drift": "none"},
        {"model": "spherical", "params": [600.0, 2500.0, 40.0], "drift": "none"},
        {"model": "exponential", "params": [550.0, 3500.0, 30.0], "drift": "none"},
        {"model": "hole-effect", "params": [500.0, 3000.0, 10.0], "drift": "none"},
        {"model": "spherical", "params": [500.0, 3000.0, 0.0], "drift": "none", "aniso": [2.0, 30.0]},
        {"model": "exponential", "params": [500.0, 3000.0, 5.0], "drift": "linear"},
        {"model": "linear", "params": [0.04, 5.0], "drift": "linear"},
        {"model": "gaussian", "params": [500.0, 3000.0, 25.0], "drift": "external"},
        {"model": "exponential", "params": [500.0, 3000.0, 0.0], "drift": "none", "k": 6},
        {"model": "spherical", "drift": "none"},
        {"model": "exponential", "drift": "none"},
        {"model": "linear", "drift": "none"},
    ]);
    let out = std::process::Command::new(&py)
        .arg("-c")
        .arg(SCRIPT)
        .arg(data("kriging/test_data.txt"))
        .arg(data("kriging/test3_dem.asc"))
        .arg(cases.to_string())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let want: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();

    let text = std::fs::read_to_string(data("kriging/test_data.txt")).unwrap();
    let v: Vec<f64> = text.split_whitespace().map(|t| t.parse().unwrap()).collect();
    let col = |k: usize| v.chunks(3).map(|r| r[k]).collect::<Vec<f64>>();
    let (x, y, z) = (col(0), col(1), col(2));
    let dem = ascii::parse(&std::fs::read_to_string(data("kriging/test3_dem.asc")).unwrap()).unwrap();
    let gx: Vec<f64> = (0..20).map(|i| 1067275.0 + i as f64 * 250.0).collect();
    let gy: Vec<f64> = (0..15).map(|j| 241459.0 + j as f64 * 170.0).collect();
    let nums = |v: &Value| -> Vec<f64> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_f64().unwrap())
            .collect()
    };

    for (case, want) in cases.as_array().unwrap().iter().zip(&want) {
        let model: Model = case["model"].as_str().unwrap().parse().unwrap();
        let drift = match case["drift"].as_str().unwrap() {
            "linear" => Drift::RegionalLinear,
            "external" => Drift::External(ExternalDrift::from_raster(&dem)),
            _ => Drift::None,
        };
        let aniso = case.get("aniso").map_or(Anisotropy::default(), |a| {
            let a = nums(a);
            Anisotropy {
                scaling: a[0],
                angle: a[1],
            }
        });
        let fitted = case.get("params").is_none();
        let vario = match case.get("params") {
            Some(p) => Variogram::from_pykrige_list(model, &nums(p)).unwrap(),
            None => {
                let opts = FitOptions {
                    anisotropy: aniso,
                    ..FitOptions::default()
                };
                fit_variogram(&x, &y, &z, model, &opts).unwrap().0
            }
        };
        let wp = nums(&want["params"]);
        for (a, b) in vario.params.iter().zip(&wp) {
            let tol = if fitted { 1e-3 } else { 1e-12 };
            assert!(
                (a - b).abs() <= tol * b.abs().max(1e-6),
                "{case}: params {:?} vs PyKrige {wp:?}",
                vario.params
            );
        }
        let p = match case.get("k").and_then(Value::as_u64) {
            Some(k) => MovingKriging::new(&x, &y, &z, vario, &drift, aniso, k as usize)
                .unwrap()
                .predict_grid(&gx, &gy)
                .unwrap(),
            None => Kriging::new(&x, &y, &z, vario, &drift, aniso)
                .unwrap()
                .predict_grid(&gx, &gy)
                .unwrap(),
        };
        let rtol = if fitted { 1e-3 } else { 1e-6 };
        for (what, got, want) in [
            ("z", &p.z, nums(&want["z"])),
            ("ss", &p.variance, nums(&want["ss"])),
        ] {
            let scale = want.iter().fold(0.0f64, |a, v| a.max(v.abs()));
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                assert!(
                    (g - w).abs() <= rtol * w.abs() + 1e-9 * scale,
                    "{case}: {what}[{i}] = {g}, PyKrige {w}"
                );
            }
        }
        eprintln!("ok: {case}");
    }
}
