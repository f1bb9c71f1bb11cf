//! The shared data sets ingested into one store: the STAC validates and pystac walks it, and
//! `search` with each basin polygon returns exactly the datasets whose extent shapely says
//! intersects it, clipped as shapely clips. Needs the interop Python (`HOD_PYTHON`; skipped
//! without it unless `HOD_REQUIRE_INTEROP=1`). STAC 1.1 core schemas come with pystac, extension
//! schemas from the install-time cache `HOD_STAC_SCHEMAS`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hod_catalog::search::{Query, QueryArea, search};
use hod_query::polygon::Area;
use hod_store::Store;
use hod_testkit::data::root as data;
use hod_testkit::python::{interop as python, script as interop};
use serde_json::{Value, json};
use std::process::Command;

/// (dataset, profile, files relative to the data folder)
const DATASETS: &[(&str, Option<&str>, &[&str])] = &[
    ("era5-daily-nc3", Some("era5"), &["era5-daily-nc3/*.nc"]),
    ("era5-daily-nc4", Some("era5"), &["era5-daily-nc4/*.nc"]),
    ("era5-daily-grib", Some("era5"), &["era5-daily-grib/*.grib"]),
    ("era5-uk-grib", Some("era5"), &["era5/era5-2mt-2019-03-uk.grib"]),
    ("era5-2t", None, &["era5/era5_2t_1.nc", "era5/era5_2t_2.nc"]),
    ("ncep-air", None, &["era5/air.nc"]),
    ("eraint-uvz", None, &["era5/eraint_uvz.nc"]),
    ("era5-point", None, &["era5/tas_pr_20180101-20180108.nc"]),
    ("era5-members", None, &["era5/era5-levels-members.grib"]),
    ("dem", None, &["dem/dem.tif"]),
    ("dem-cog", None, &["dem/dem_cog.tif"]),
    ("roi", None, &["dem/roi.tif"]),
    ("imerg", Some("imerg-final-hh"), &["gpm/*.HDF5"]),
    ("lcmap", None, &["landuse/lcmap_tiny_cog_2019.tif"]),
    ("ocean-basins", None, &["basins/basin_mask.nc"]),
    ("gfswave", None, &["gfs/gfswave.t18z.atlocn.0p16.f001.grib2"]),
    ("gfs-2p5", None, &["gfs/gfs.t12z.pgrbf120.2p5deg.grib2"]),
    ("matapedia-q", None, &["stations/Qobs_Matapedia_01BD009.nc"]),
];

const BASINS: &[&str] = &["matapedia", "nldi_get_basin", "salmon_river", "test"];

fn files(globs: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for g in globs {
        let (dir, pat) = g.split_once('/').unwrap();
        let ext = pat.trim_start_matches('*');
        let mut v: Vec<String> = std::fs::read_dir(data().join(dir))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                let n = p.file_name().unwrap().to_string_lossy();
                if pat.starts_with('*') {
                    n.ends_with(ext)
                } else {
                    n == pat
                }
            })
            .map(|p| p.display().to_string())
            .collect();
        v.sort();
        out.extend(v);
    }
    out
}

fn close(a: &Value, b: &[f64; 4], tol: f64) -> bool {
    let a: Vec<f64> = a
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tol)
}

/// The datacube extension's rules (v2.2.0) that its schema states, checked here too because the
/// schema itself may be unavailable offline.
fn check_datacube(c: &Value) {
    let id = &c["id"];
    assert!(
        c["stac_extensions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e.as_str().unwrap().contains("/datacube/v2.2.0/"))
    );
    let dims = c["cube:dimensions"]
        .as_object()
        .unwrap_or_else(|| panic!("{id}: no cube:dimensions"));
    for (name, d) in dims {
        let extent = d["extent"]
            .as_array()
            .unwrap_or_else(|| panic!("{id}/{name}: no extent"));
        assert_eq!(extent.len(), 2, "{id}/{name}");
        match d["type"].as_str().unwrap() {
            "spatial" => {
                assert!(matches!(d["axis"].as_str(), Some("x" | "y")), "{id}/{name}");
                assert!(extent.iter().all(Value::is_number), "{id}/{name}");
                assert!(d["step"].is_number() || d["step"].is_null(), "{id}/{name}");
            }
            "temporal" => {
                assert!(d.get("axis").is_none(), "{id}/{name}");
                assert!(
                    extent
                        .iter()
                        .all(|x| x.as_str().is_some_and(|s| s.ends_with('Z')) || x.is_null()),
                    "{id}/{name}"
                );
                assert!(d["step"].is_string() || d["step"].is_null(), "{id}/{name}");
            }
            _ => {
                assert!(d.get("axis").is_none(), "{id}/{name}");
                assert!(extent.iter().all(|x| x.is_number() || x.is_null()), "{id}/{name}");
            }
        }
    }
    for (name, v) in c["cube:variables"].as_object().unwrap() {
        assert!(
            matches!(v["type"].as_str(), Some("data" | "auxiliary")),
            "{id}/{name}"
        );
        for d in v["dimensions"].as_array().unwrap() {
            assert!(
                dims.contains_key(d.as_str().unwrap()),
                "{id}/{name}: dimension {d} not in cube:dimensions"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_validate_and_walk_the_shared_data() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().display().to_string()).unwrap();
    let mut spec = serde_json::Map::new();
    for (name, profile, globs) in DATASETS {
        let f = files(globs);
        let hooks = hod_catalog::Hooks::new(*profile).unwrap();
        hod_index::ingest_with(
            &store,
            name,
            &f,
            &Default::default(),
            &hod_index::Quiet,
            Some(&hooks),
        )
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        spec.insert(name.to_string(), json!(f));
    }
    for c in hod_catalog::stac::collections(&store).await.unwrap() {
        check_datacube(&c);
    }
    let Some(python) = python() else { return };
    let (start, end) = ("2014-10-15T00:00:00", "2019-03-20T12:00:00");
    let basin = |b: &str| data().join(format!("basins/{b}.geojson")).display().to_string();
    let spec_path = dir.path().join("search.json");
    let spec = json!({"datasets": spec, "basins": BASINS.iter().map(|b| basin(b)).collect::<Vec<_>>(),
        "start": start, "end": end});
    std::fs::write(&spec_path, spec.to_string()).unwrap();
    let out = Command::new(&python)
        .arg(interop("stac_search.py"))
        .arg(&spec_path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let expected: Value = serde_json::from_slice(&out.stdout).unwrap();

    // Extents: ours against xarray/rasterio's.
    let all = search(&store, &Query::default()).await.unwrap();
    assert_eq!(all.len(), DATASETS.len());
    for h in &all {
        let want = &expected["extents"][&h.dataset];
        match (&h.bbox, want.is_null()) {
            (None, true) => {}
            (Some(b), false) => assert!(close(want, b, 1e-3), "{}: {b:?} vs {want}", h.dataset),
            other => panic!("{}: {other:?} vs {want}", h.dataset),
        }
    }

    let q_time = |area| Query {
        area: Some(area),
        start: Some(hod_query::parse_time(start).unwrap()),
        end: Some(hod_query::parse_time(end).unwrap()),
    };
    let mut matched = 0;
    for (b, timed) in BASINS.iter().flat_map(|b| [(b, true), (b, false)]) {
        let path = basin(b);
        let area = QueryArea::Polygon(Area::from_geojson(&std::fs::read_to_string(&path).unwrap()).unwrap());
        let (q, key) = if timed {
            (q_time(area), "hits")
        } else {
            (
                Query {
                    area: Some(area),
                    ..Query::default()
                },
                "hits_any_time",
            )
        };
        let hits = search(&store, &q).await.unwrap();
        let want = expected[key][&path].as_object().unwrap();
        let got: Vec<&str> = hits.iter().map(|h| h.dataset.as_str()).collect();
        let mut names: Vec<&str> = want.keys().map(String::as_str).collect();
        names.sort();
        let mut sorted = got.clone();
        sorted.sort();
        assert_eq!(sorted, names, "basin {b}");
        for h in &hits {
            let w = &want[&h.dataset];
            assert!(
                close(&w["bbox"], &h.clipped_bbox.unwrap(), 1e-3),
                "{b}/{}: {:?} vs {}",
                h.dataset,
                h.clipped_bbox,
                w["bbox"]
            );
            match (&h.clipped_time, w["time"].as_array()) {
                (None, None) => {}
                (Some((a, z)), Some(t)) => {
                    assert_eq!(
                        a.trim_end_matches('Z'),
                        t[0].as_str().unwrap(),
                        "{b}/{}",
                        h.dataset
                    );
                    assert_eq!(
                        z.trim_end_matches('Z'),
                        t[1].as_str().unwrap(),
                        "{b}/{}",
                        h.dataset
                    );
                }
                other => panic!("{b}/{}: {other:?}", h.dataset),
            }
        }
        matched += hits.len();
        println!("{b} (time range: {timed}): {got:?}");
    }
    assert!(
        matched > 0,
        "no basin matched anything: the check would be vacuous"
    );

    // The STAC validates and pystac walks it.
    let mut cmd = Command::new(&python);
    cmd.arg(interop("stac_check.py")).arg(dir.path());
    if let Some(cache) = std::env::var_os("HOD_STAC_SCHEMAS") {
        cmd.arg(cache);
    }
    let out = cmd.current_dir(interop("")).output().unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_str(&report).unwrap();
    assert_eq!(report["collections"], DATASETS.len());
    assert!(
        report["documents"].as_u64().unwrap() > 2 * DATASETS.len() as u64,
        "{report}"
    );
    println!("stac_check: {report}");
}
