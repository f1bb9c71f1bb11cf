//! GeoTIFFs we write read back in rasterio with the right transform, CRS, nodata and values, and
//! basin polygons (nested, with holes and multipolygons) are valid shapely geometries of the
//! right area that do not overlap. Needs the interop Python (`HOD_PYTHON`; skipped without it
//! unless `HOD_REQUIRE_INTEROP=1`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hod_gis::dem::{accumulation, catchment, fill, flowdir, polygonize, to_f32};
use hod_gis::geotiff;
use hod_testkit::data::path as data;
use hod_testkit::python::interop as python;
use std::process::Command;

const SCRIPT: &str = r#"
import json, sys, numpy as np, rasterio, shapely, shapely.validation
from shapely.geometry import shape
d = sys.argv[1]
out = {}
for name in ["filled", "dirs", "acc", "labels"]:
    with rasterio.open(f"{d}/{name}.tif") as r:
        a = r.read(1)
        valid = ~np.isnan(a) if a.dtype.kind == "f" else (a != r.nodata if r.nodata is not None else np.ones(a.shape, bool))
        out[name] = {"transform": list(r.transform)[:6], "crs": r.crs.to_string(), "nodata": None if r.nodata is None else str(r.nodata),
                     "dtype": r.dtypes[0], "shape": list(a.shape), "sum": float(a[valid].astype("f8").sum()), "max": float(a[valid].max())}
feats = json.load(open(f"{d}/basins.geojson"))["features"]
geoms = [shape(f["geometry"]) for f in feats]
out["valid"] = [bool(g.is_valid) for g in geoms]
out["reasons"] = [shapely.validation.explain_validity(g) for g in geoms]
out["areas"] = [g.area for g in geoms]
out["types"] = [g.geom_type for g in geoms]
out["holes"] = sum(len(p.interiors) for g in geoms for p in getattr(g, "geoms", [g]))
out["union_area"] = shapely.union_all(geoms).area
print(json.dumps(out))
"#;

#[test]
fn geotiffs_and_polygons_read_back_in_rasterio_and_shapely() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(data("dem/dem.tif")).unwrap();
    let mut dem = to_f32(&geotiff::read("dem.tif", &bytes).unwrap());
    fill::fill_depressions(&mut dem).unwrap();
    dem.nodata = Some(f64::NAN);
    let dirs = flowdir::d8(&dem).unwrap();
    let acc = accumulation::cells(&dirs).unwrap();
    // Outlets: every 211th cell with more than 300 cells upstream, so some are nested.
    let outlets: Vec<usize> = (0..acc.data.len())
        .filter(|&i| acc.data[i] > 300 && acc.data[i] != u32::MAX)
        .step_by(211)
        .collect();
    let b = catchment::basins(&dirs, &outlets).unwrap();
    assert!(b.drains_to.iter().any(Option::is_some), "some basins are nested");
    let write =
        |name: &str, f: &dyn Fn(std::fs::File)| f(std::fs::File::create(dir.path().join(name)).unwrap());
    write("filled.tif", &|f| geotiff::write("filled", &dem, f).unwrap());
    write("dirs.tif", &|f| {
        geotiff::write("dirs", &flowdir::Encoding::Esri.encode(&dirs), f).unwrap()
    });
    write("acc.tif", &|f| geotiff::write("acc", &acc, f).unwrap());
    write("labels.tif", &|f| geotiff::write("labels", &b.labels, f).unwrap());
    let features: Vec<String> = (0..outlets.len())
        .map(|k| {
            let polys = polygonize::polygons(&b.labels, k as u32 + 1, b.bbox[k]);
            format!(
                "{{\"type\":\"Feature\",\"properties\":{{}},\"geometry\":{}}}",
                polygonize::geojson_geometry(&polys)
            )
        })
        .collect();
    std::fs::write(
        dir.path().join("basins.geojson"),
        format!(
            "{{\"type\":\"FeatureCollection\",\"features\":[{}]}}",
            features.join(",")
        ),
    )
    .unwrap();
    let out = Command::new(py)
        .arg("-c")
        .arg(SCRIPT)
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let g = &dem.geom;
    for name in ["filled", "dirs", "acc", "labels"] {
        let r = &v[name];
        let t: Vec<f64> = r["transform"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        assert_eq!(t, vec![g.dx, 0.0, g.x0, 0.0, -g.dy, g.y0], "{name}");
        assert_eq!(r["crs"], "EPSG:4326", "{name}");
        assert_eq!(r["shape"], serde_json::json!([g.rows, g.cols]));
    }
    assert_eq!(v["filled"]["dtype"], "float32");
    assert_eq!(v["filled"]["nodata"], "nan");
    let sum: f64 = dem.data.iter().map(|&z| f64::from(z)).sum();
    assert_eq!(v["filled"]["sum"].as_f64().unwrap(), sum);
    assert_eq!(v["dirs"]["dtype"], "uint8");
    assert_eq!(v["dirs"]["nodata"], "255.0");
    assert_eq!(v["acc"]["dtype"], "uint32");
    assert_eq!(
        v["acc"]["max"].as_f64().unwrap(),
        f64::from(*acc.data.iter().max().unwrap())
    );
    let acc_sum: f64 = acc.data.iter().map(|&a| f64::from(a)).sum();
    assert_eq!(v["acc"]["sum"].as_f64().unwrap(), acc_sum);
    // Polygons: valid, area = own cells × cell area (degrees²), and no overlaps.
    let cell = g.dx * g.dy;
    for (k, ok) in v["valid"].as_array().unwrap().iter().enumerate() {
        assert_eq!(ok, true, "basin {k}: {}", v["reasons"][k]);
        let area = v["areas"][k].as_f64().unwrap();
        assert!(
            (area / cell - b.own_cells[k] as f64).abs() < 1e-6,
            "basin {k}: {area}"
        );
    }
    let total: u64 = b.own_cells.iter().sum();
    assert!((v["union_area"].as_f64().unwrap() / cell - total as f64).abs() < 1e-6);
    eprintln!(
        "{} basins, types {}, {} holes",
        outlets.len(),
        v["types"],
        v["holes"]
    );
}
