//! `hod ingest --profile`, the store's STAC and `hod catalog` end to end.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hod_testkit::cli;
use hod_testkit::data::root as data;
use serde_json::Value;
use std::path::Path;

fn hod(store: &Path, args: &[&str]) -> (bool, String, String) {
    cli::output(cli::with_store(env!("CARGO_BIN_EXE_hod"), store).args(args))
}

fn json(store: &Path, args: &[&str]) -> Value {
    cli::json(cli::with_store(env!("CARGO_BIN_EXE_hod"), store).args(args))
}

/// A tiny classic netCDF file shaped like an ERA5-Land download whose `tp` has no attributes:
/// time(2) x latitude(3) x longitude(4) on the 0.1° grid.
fn era5_land_like(path: &Path, lat0: f32, step: f32) {
    fn name(out: &mut Vec<u8>, s: &str) {
        out.extend((s.len() as u32).to_be_bytes());
        out.extend(s.as_bytes());
        out.resize(out.len().next_multiple_of(4), 0);
    }
    fn text_attr(out: &mut Vec<u8>, k: &str, v: &str) {
        name(out, k);
        out.extend(2u32.to_be_bytes());
        name(out, v);
    }
    let dims = [("time", 2u32), ("latitude", 3), ("longitude", 4)];
    /// (name, dim ids, type (4 int, 5 float), attrs)
    type Var<'a> = (&'a str, Vec<u32>, u32, Vec<(&'a str, &'a str)>);
    let vars: [Var; 4] = [
        (
            "time",
            vec![0],
            4,
            vec![
                ("units", "hours since 1900-01-01 00:00:00"),
                ("calendar", "gregorian"),
            ],
        ),
        ("latitude", vec![1], 5, vec![("units", "degrees_north")]),
        ("longitude", vec![2], 5, vec![("units", "degrees_east")]),
        ("tp", vec![0, 1, 2], 5, vec![]),
    ];
    let sizes: Vec<u32> = vars
        .iter()
        .map(|(_, d, _, _)| 4 * d.iter().map(|&i| dims[i as usize].1).product::<u32>())
        .collect();
    let header = |offsets: &[u32]| {
        let mut h = b"CDF\x01".to_vec();
        h.extend(0u32.to_be_bytes());
        h.extend(0x0Au32.to_be_bytes());
        h.extend((dims.len() as u32).to_be_bytes());
        for (n, l) in dims {
            name(&mut h, n);
            h.extend(l.to_be_bytes());
        }
        h.extend([0u8; 8]);
        h.extend(0x0Bu32.to_be_bytes());
        h.extend((vars.len() as u32).to_be_bytes());
        for (i, (n, d, t, attrs)) in vars.iter().enumerate() {
            name(&mut h, n);
            h.extend((d.len() as u32).to_be_bytes());
            d.iter().for_each(|x| h.extend(x.to_be_bytes()));
            if attrs.is_empty() {
                h.extend([0u8; 8]);
            } else {
                h.extend(0x0Cu32.to_be_bytes());
                h.extend((attrs.len() as u32).to_be_bytes());
                attrs.iter().for_each(|(k, v)| text_attr(&mut h, k, v));
            }
            h.extend(t.to_be_bytes());
            h.extend(sizes[i].to_be_bytes());
            h.extend(offsets[i].to_be_bytes());
        }
        h
    };
    let len = header(&[0; 4]).len() as u32;
    let mut offsets = vec![len];
    for s in &sizes[..3] {
        offsets.push(offsets.last().unwrap() + s);
    }
    let mut out = header(&offsets);
    [1_043_136i32, 1_043_137]
        .iter()
        .for_each(|t| out.extend(t.to_be_bytes()));
    (0..3).for_each(|i| out.extend((lat0 - step * i as f32).to_be_bytes()));
    (0..4).for_each(|i| out.extend((10.0 + step * i as f32).to_be_bytes()));
    (0..24).for_each(|i| out.extend((i as f32 * 1e-4).to_be_bytes()));
    std::fs::write(path, out).unwrap();
}

#[test]
fn a_profile_names_and_documents_variables() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let file = dir.path().join("era5land_tp.nc");
    era5_land_like(&file, 45.2, 0.1);
    let f = file.display().to_string();
    json(
        &store,
        &["--json", "ingest", "land", &f, "--profile", "era5-land"],
    );
    let info = json(&store, &["info", "land", "--json"]);
    let tp = &info["variables"]["tp"];
    assert_eq!(tp["long_name"], "Total precipitation");
    assert_eq!(tp["units"], "m");
    assert_eq!(tp["standard_name"], "lwe_thickness_of_precipitation_amount");
    assert_eq!(tp["attrs"]["hod_time_convention"], "accumulated_since_00utc");
    // Long and standard names resolve to the short name in `hod read`.
    for name in [
        "Total precipitation",
        "lwe_thickness_of_precipitation_amount",
        "tp",
    ] {
        let stats = json(&store, &["read", "land", "--var", name, "--stats", "--json"]);
        let s = &stats["tp"];
        assert_eq!(s["count"], 24, "{name}: {stats}");
        assert!((s["max"].as_f64().unwrap() - 23e-4).abs() < 1e-9, "{stats}");
    }
    // The profile is kept in the manifest.
    let c = json(&store, &["catalog", "show", "land", "--json"]);
    assert_eq!(c["hod:profile"], "era5-land");
    assert_eq!(c["license"], "CC-BY-4.0");
    assert_eq!(
        c["cube:variables"]["tp"]["hod:time_convention"],
        "accumulated_since_00utc"
    );
}

#[test]
fn a_file_that_contradicts_its_profile_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let file = dir.path().join("coarse.nc");
    era5_land_like(&file, 45.0, 0.25);
    let f = file.display().to_string();
    let (ok, _, err) = hod(&store, &["ingest", "x", &f, "--profile", "era5-land"]);
    assert!(!ok);
    assert!(
        err.contains("coarse.nc") && err.contains("'latitude'") && err.contains("0.1"),
        "{err}"
    );
    let gfs = data().join("gfs/gdas.t12z.pgrb2.0p25.f000.msg13.grib2");
    let (ok, _, err) = hod(
        &store,
        &["ingest", "y", &gfs.display().to_string(), "--profile", "gfs-0p25"],
    );
    assert!(!ok);
    assert!(err.contains("msg13.grib2") && err.contains("'VRATE'"), "{err}");
    let (ok, _, err) = hod(&store, &["ingest", "z", &f, "--profile", "nope"]);
    assert!(!ok && err.contains("no profile named 'nope'"), "{err}");
    // Nothing was published.
    let (_, out, _) = hod(&store, &["list"]);
    assert!(out.contains("no datasets"), "{out}");
}

#[test]
fn profiles_list_and_show() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let all = json(&store, &["catalog", "profiles", "--json"]);
    let names: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for n in [
        "era5-land",
        "era5",
        "imerg-early-hh",
        "imerg-late-hh",
        "imerg-final-hh",
        "imerg-early-daily",
        "imerg-late-daily",
        "imerg-final-daily",
        "gfs-0p25",
        "copernicus-dem-glo30",
        "alos-aw3d30",
        "srtm-gl1",
        "esa-worldcover",
        "grdc",
        "usgs-nwis",
        "camels-us",
    ] {
        assert!(names.contains(&n), "{n} missing from {names:?}");
    }
    let (ok, out, _) = hod(&store, &["catalog", "show", "era5-land"]);
    assert!(
        ok && out.contains("accumulated_since_00utc") && out.contains("Total precipitation"),
        "{out}"
    );
}

#[test]
fn search_clips_extent_and_time_and_stac_follows_each_ingest() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let files: Vec<String> = (1..=5)
        .map(|d| {
            data()
                .join(format!("era5-daily-nc4/era5_t2m_2019030{d}.nc"))
                .display()
                .to_string()
        })
        .collect();
    let mut args = vec!["--json", "ingest", "uk", "--profile", "era5"];
    args.extend(files[..3].iter().map(String::as_str));
    json(&store, &args);
    json(
        &store,
        &[
            "--json",
            "ingest",
            "dem",
            &data().join("dem/dem.tif").display().to_string(),
        ],
    );
    let hits = json(
        &store,
        &[
            "catalog",
            "search",
            "--bbox=-20,45,0,52",
            "--start",
            "2019-03-02T06",
            "--end",
            "2019-03-10",
            "--json",
        ],
    );
    let hits = hits.as_array().unwrap();
    assert_eq!(hits.len(), 1, "{hits:?}");
    let h = &hits[0];
    assert_eq!(h["dataset"], "uk");
    assert_eq!(h["variables"], serde_json::json!(["t2m"]));
    // Grid points -10..2 E, 50..58 N at 0.25°: cell edges widen them by 0.125°.
    assert_eq!(h["bbox"], serde_json::json!([-10.125, 49.875, 2.125, 58.125]));
    assert_eq!(h["clipped_bbox"], serde_json::json!([-10.125, 49.875, 0.0, 52.0]));
    assert_eq!(
        h["clipped_time"],
        serde_json::json!(["2019-03-02T06:00:00Z", "2019-03-03T23:00:00Z"])
    );
    // The DEM is time-invariant: found by area whatever the period.
    let hits = json(
        &store,
        &[
            "catalog",
            "search",
            "--bbox=-98,32,-97,33",
            "--start",
            "1990-01-01",
            "--json",
        ],
    );
    assert_eq!(hits[0]["dataset"], "dem");
    assert!(hits[0]["clipped_time"].is_null());
    // Extending the dataset updates its collection.
    let mut args = vec!["--json", "ingest", "uk"];
    args.extend(files[3..].iter().map(String::as_str));
    json(&store, &args);
    let c = json(&store, &["catalog", "show", "uk", "--json"]);
    assert_eq!(
        c["extent"]["temporal"]["interval"][0],
        serde_json::json!(["2019-03-01T00:00:00Z", "2019-03-05T23:00:00Z"])
    );
    assert_eq!(c["hod:sources"], 5);
    assert_eq!(c["cube:dimensions"]["valid_time"]["step"], "PT1H");
    assert_eq!(c["cube:dimensions"]["latitude"]["axis"], "y");
    let root: Value =
        serde_json::from_str(&std::fs::read_to_string(store.join("stac/catalog.json")).unwrap()).unwrap();
    let children: Vec<&str> = root["links"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["rel"] == "child")
        .map(|l| l["href"].as_str().unwrap())
        .collect();
    assert_eq!(children, ["./dem/collection.json", "./uk/collection.json"]);
    // Another profile than the dataset's is refused.
    let sixth = data()
        .join("era5-daily-nc4/era5_t2m_20190306.nc")
        .display()
        .to_string();
    let (ok, _, err) = hod(&store, &["ingest", "uk", &sixth, "--profile", "era5-land"]);
    assert!(!ok && err.contains("ingested with profile 'era5'"), "{err}");
}
