//! `hod basin-mean` end to end: synthetic netCDF grids (written by the interop Python) over each
//! real `basins/` polygon, descending and ascending latitude, -180..180 and 0..360 longitude,
//! equal exactextract's `mean(coverage_weight=area_spherical_m2)` per step. Needs `HOD_PYTHON`
//! with xarray, netCDF4 and exactextract (skipped without it unless `HOD_REQUIRE_INTEROP=1`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hod_testkit::cli::{self, stdout as run};
use hod_testkit::data::root as data;
use std::path::{Path, PathBuf};
use std::process::Command;

fn python() -> Option<PathBuf> {
    hod_testkit::python::with_modules("exactextract, xarray, netCDF4")
}

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/interop/basin_mean_case.py"
);

fn hod(store: &Path) -> Command {
    let mut c = cli::with_store(env!("CARGO_BIN_EXE_hod"), store);
    // Weights cached next to the test's store, not in the user's cache.
    c.env("HOD_CACHE_DIR", store.with_extension("cache"));
    c
}

/// The CSV's values: one row per step, one column per basin (NaN for empty cells).
fn read_csv(path: &Path) -> Vec<Vec<f64>> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            l.split(',')
                .skip(1)
                .map(|v| v.parse().unwrap_or(f64::NAN))
                .collect()
        })
        .collect()
}

#[test]
fn basin_means_equal_exactextract() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let basins = [
        ("matapedia", (-67.84, 48.08, -66.77, 48.68), 0.05),
        ("nldi_get_basin", (-89.6, 43.04, -89.41, 43.17), 0.01),
        ("salmon_river", (-124.06, 54.0, -122.61, 55.06), 0.1),
        ("test", (122.26, 39.8, 122.79, 40.21), 0.0333),
    ];
    let mut worst = (0.0f64, 0.0f64);
    for (k, (name, (w, s, e, n), d)) in basins.into_iter().enumerate() {
        let poly = data().join(format!("basins/{name}.geojson"));
        for (variant, flags) in [("desc", vec![]), ("asc360", vec!["--ascending", "--lon360"])] {
            let nc = dir.path().join(format!("{name}-{variant}.nc"));
            let ds = format!("{name}-{variant}");
            let mut make = Command::new(&py);
            make.arg(SCRIPT).arg("make").arg(&nc);
            for v in [w, s, e, n, d] {
                make.arg(v.to_string());
            }
            run(make.args(&flags).args(["--steps", &(3 + k).to_string()]));
            run(hod(&store).args(["ingest", &ds]).arg(&nc));
            let expect: serde_json::Value = serde_json::from_str(&run(Command::new(&py)
                .arg(SCRIPT)
                .arg("expect")
                .arg(&nc)
                .arg(&poly)))
            .unwrap();
            for (precision, tol) in [("exact", 1e-9), ("float32", 1e-15)] {
                let csv = dir.path().join(format!("{ds}-{precision}.csv"));
                let mut cmd = hod(&store);
                cmd.args(["basin-mean", &ds, "--var", "v", "--basins"])
                    .arg(&poly)
                    .arg("-o")
                    .arg(&csv);
                if precision == "float32" {
                    cmd.arg("--float32-weights");
                }
                run(&mut cmd);
                let ours = read_csv(&csv);
                let theirs = expect["means"].as_array().unwrap();
                assert_eq!(ours.len(), theirs.len(), "{ds}: steps");
                for (step, (o, t)) in ours.iter().zip(theirs).enumerate() {
                    let t = t[0].as_f64().unwrap();
                    let rel = (o[0] - t).abs() / t.abs();
                    assert!(
                        rel <= tol,
                        "{ds} {precision} step {step}: ours {} exactextract {t}",
                        o[0]
                    );
                    if precision == "exact" {
                        worst.0 = worst.0.max(rel);
                    } else {
                        worst.1 = worst.1.max(rel);
                    }
                }
            }
        }
    }
    println!(
        "max relative difference to exactextract: exact weights {:.1e}, float32 weights {:.1e}",
        worst.0, worst.1
    );
}

#[test]
fn shapefiles_and_multiple_basins() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let nc = dir.path().join("grid.nc");
    // One grid holding two basins far apart (Madison, Wisconsin and Liaoning, China would be
    // too far apart; use two polygons in the same area instead: the NLDI basin and a square).
    run(Command::new(&py)
        .arg(SCRIPT)
        .args(["make"])
        .arg(&nc)
        .args(["-89.7", "43.0", "-89.3", "43.2", "0.02", "--steps", "3"]));
    run(hod(&store).args(["ingest", "g"]).arg(&nc));
    let nldi = hod_gis::vector::read_path(&data().join("basins/nldi_get_basin.geojson")).unwrap();
    let square: geo_types::MultiPolygon<f64> = geo_types::MultiPolygon(vec![geo_types::Polygon::new(
        vec![
            (-89.65, 43.01),
            (-89.5, 43.01),
            (-89.5, 43.1),
            (-89.65, 43.1),
            (-89.65, 43.01),
        ]
        .into(),
        vec![],
    )]);
    // The same two basins as a shapefile (with a name attribute) and as GeoJSON.
    let shp = dir.path().join("two.shp");
    {
        use shapefile::dbase::{FieldName, FieldValue, Record, TableWriterBuilder};
        let table = TableWriterBuilder::new().add_character_field(FieldName::try_from("NAME").unwrap(), 20);
        let mut w = shapefile::Writer::from_path(&shp, table).unwrap();
        for (geom, name) in [(&nldi[0].geometry, "nldi"), (&square, "square")] {
            let mut rec = Record::default();
            rec.insert("NAME".into(), FieldValue::Character(Some(name.into())));
            w.write_shape_and_record(&shapefile::Polygon::from(geom.clone()), &rec)
                .unwrap();
        }
    }
    let gj = dir.path().join("two.geojson");
    let fc = serde_json::json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"NAME": "nldi"},
         "geometry": geojson::Geometry::new(geojson::GeometryValue::from(&nldi[0].geometry))},
        {"type": "Feature", "properties": {"NAME": "square"},
         "geometry": geojson::Geometry::new(geojson::GeometryValue::from(&square))}]});
    std::fs::write(&gj, fc.to_string()).unwrap();
    let mut results = Vec::new();
    for basins in [&shp, &gj] {
        let csv = dir.path().join("out.csv");
        run(hod(&store)
            .args(["basin-mean", "g", "--var", "v", "--id-field", "NAME", "--basins"])
            .arg(basins)
            .arg("-o")
            .arg(&csv));
        let text = std::fs::read_to_string(&csv).unwrap();
        assert!(text.starts_with("time,nldi,square\n"), "{text}");
        results.push(read_csv(&csv));
    }
    assert_eq!(
        results[0], results[1],
        "shapefile and GeoJSON give the same means"
    );
    let expect: serde_json::Value = serde_json::from_str(&run(Command::new(&py)
        .arg(SCRIPT)
        .arg("expect")
        .arg(&nc)
        .arg(&gj)))
    .unwrap();
    for (o, t) in results[0].iter().zip(expect["means"].as_array().unwrap()) {
        for (a, b) in o.iter().zip(t.as_array().unwrap()) {
            let b = b.as_f64().unwrap();
            assert!((a - b).abs() / b.abs() < 1e-9, "{a} vs {b}");
        }
    }
}

#[test]
fn projected_grids_use_planar_areas() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let (nc, poly) = (dir.path().join("proj.nc"), dir.path().join("tri.geojson"));
    // A 1 km grid in metres (x, y; y descending), random values with a NaN cell, a triangle.
    let code = r#"
import json, sys, numpy as np, xarray as xr
from exactextract import exact_extract
from exactextract.raster import NumPyRasterSource
nc, poly = sys.argv[1], sys.argv[2]
x = 500000 + 1000 * np.arange(40) + 500
y = (4200000 + 1000 * np.arange(30) + 500)[::-1]
v = 10 + np.random.default_rng(1).normal(size=(3, 30, 40))
v[:, 5, 7] = np.nan
xr.Dataset({"v": (("time", "y", "x"), v)}, coords={
    "time": ("time", np.arange(3.0), {"units": "hours since 2000-01-01"}),
    "y": ("y", y, {"standard_name": "projection_y_coordinate", "units": "m"}),
    "x": ("x", x, {"standard_name": "projection_x_coordinate", "units": "m"})}).to_netcdf(nc)
f = {"type": "Feature", "properties": {"id": "tri"}, "geometry": {"type": "Polygon", "coordinates":
     [[[503300, 4203700], [531100, 4205200], [512345, 4226789], [503300, 4203700]]]}}
json.dump(f, open(poly, "w"))
means = [exact_extract(NumPyRasterSource(v[k], xmin=500000, ymin=4200000, xmax=540000, ymax=4230000),
                       [f], ["m=mean"], output="geojson")[0]["properties"]["m"] for k in range(3)]
print(json.dumps(means))
"#;
    let expect: Vec<f64> =
        serde_json::from_str(&run(Command::new(&py).args(["-c", code]).arg(&nc).arg(&poly))).unwrap();
    run(hod(&store).args(["ingest", "proj"]).arg(&nc));
    let mut series = Vec::new();
    for weights in ["area", "coverage"] {
        let csv = dir.path().join(format!("{weights}.csv"));
        run(hod(&store)
            .args([
                "basin-mean",
                "proj",
                "--var",
                "v",
                "--weights",
                weights,
                "--basins",
            ])
            .arg(&poly)
            .arg("-o")
            .arg(&csv));
        series.push(read_csv(&csv));
    }
    for (k, want) in expect.iter().enumerate() {
        for s in &series {
            assert!(
                (s[k][0] - want).abs() < 1e-9 * want,
                "step {k}: {} vs {want}",
                s[k][0]
            );
        }
    }
}

/// A real basin outline moved by (dx, dy) degrees, written as GeoJSON to `out`.
fn moved_basin(name: &str, dx: f64, dy: f64, out: &Path) {
    std::fs::write(out, hod_testkit::data::moved_basin(name, (dx, dy)).to_string()).unwrap();
}

/// Weights are saved on the first run and read on the next (another dataset on the same grid
/// too); a damaged file is ignored and rewritten; `--no-cache` computes. The means are the same
/// bits every time. Real ERA5 2 m temperature (netCDF4), no Python needed.
#[test]
fn weights_cache_is_reused_and_repaired() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let weights_dir = dir.path().join("store.cache/weights");
    let days = data().join("era5-daily-nc4");
    for ds in ["a", "b"] {
        run(hod(&store)
            .args(["ingest", ds])
            .arg(days.join("era5_t2m_20190301.nc"))
            .arg(days.join("era5_t2m_20190302.nc")));
    }
    let (salmon, matapedia) = (
        dir.path().join("salmon.geojson"),
        dir.path().join("matapedia.geojson"),
    );
    moved_basin("salmon_river", 121.0, -1.0, &salmon);
    moved_basin("matapedia", 66.0, 5.0, &matapedia);
    let csv = dir.path().join("out.csv");
    let mean = |ds: &str, basins: &Path, extra: &[&str]| {
        let out = hod(&store)
            .args(["--json", "basin-mean", ds, "--var", "t2m", "--basins"])
            .arg(basins)
            .arg("-o")
            .arg(&csv)
            .args(extra)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(json["steps"], 48);
        (
            json["weights"].as_str().unwrap().to_string(),
            std::fs::read_to_string(&csv).unwrap(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let files = || {
        let mut v: Vec<PathBuf> = std::fs::read_dir(&weights_dir)
            .map(|d| d.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default();
        v.sort();
        v
    };
    let (from, first, _) = mean("a", &salmon, &[]);
    assert_eq!(from, "computed");
    assert_eq!(files().len(), 1);
    assert_eq!(mean("a", &salmon, &[]).0, "cached");
    // Another dataset on the same grid reuses them; the means are the same bits.
    let (from, again, _) = mean("b", &salmon, &[]);
    assert_eq!((from.as_str(), &again), ("cached", &first));
    // --no-cache computes and writes nothing.
    let (from, uncached, _) = mean("a", &salmon, &["--no-cache"]);
    assert_eq!((from.as_str(), &uncached), ("computed", &first));
    assert_eq!(files().len(), 1);
    // A truncated file: a warning, the weights computed again (same means) and the file rewritten.
    let file = files().remove(0);
    let whole = std::fs::read(&file).unwrap();
    std::fs::write(&file, &whole[..whole.len() - 9]).unwrap();
    let (from, repaired, stderr) = mean("a", &salmon, &[]);
    assert_eq!((from.as_str(), &repaired), ("computed", &first));
    assert!(stderr.contains("ignoring cached weights"), "{stderr}");
    assert_eq!(std::fs::read(&file).unwrap(), whole);
    // Garbage of the right length: the same.
    std::fs::write(&file, vec![7u8; whole.len()]).unwrap();
    assert_eq!(mean("a", &salmon, &[]).0, "computed");
    assert_eq!(mean("a", &salmon, &[]).0, "cached");
    // Another polygon, or other weights, is another key.
    assert_eq!(mean("a", &matapedia, &[]).0, "computed");
    assert_eq!(mean("a", &salmon, &["--weights", "coverage"]).0, "computed");
    assert_eq!(files().len(), 3);
    assert!(
        files().iter().all(|f| f.extension().is_some_and(|e| e == "bin")),
        "{:?}",
        files()
    );
}

#[test]
fn failed_runs_leave_the_output_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    // A copy of one day, ingested in place (not copied into the store), then cut short: its
    // chunks now reach past the end of the file.
    let day = dir.path().join("day.nc");
    std::fs::copy(data().join("era5-daily-nc4/era5_t2m_20190301.nc"), &day).unwrap();
    run(hod(&store).args(["ingest", "d", "--no-copy"]).arg(&day));
    let basin = dir.path().join("salmon.geojson");
    moved_basin("salmon_river", 121.0, -1.0, &basin);
    let csv = dir.path().join("out.csv");
    std::fs::write(&csv, "earlier output\n").unwrap();
    let fails = |extra: &[&str], says: &str| {
        let out = hod(&store)
            .args(["basin-mean", "d", "--basins"])
            .arg(&basin)
            .arg("-o")
            .arg(&csv)
            .args(extra)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && stderr.contains(says),
            "{extra:?}: {stderr}"
        );
        assert_eq!(
            std::fs::read_to_string(&csv).unwrap(),
            "earlier output\n",
            "{extra:?}"
        );
        assert!(!csv.with_extension("partial").exists(), "{extra:?}");
    };
    fails(&["--var", "nope"], "nope");
    fails(
        &["--var", "t2m", "--start", "2020-01-01"],
        "between the requested times",
    );
    let len = std::fs::metadata(&day).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&day)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    fails(&["--var", "t2m"], "day.nc");
}
