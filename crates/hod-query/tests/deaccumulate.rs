//! `--deaccumulate`: ERA5-Land accumulations (since 00 UTC) generated from known hourly
//! increments, as CDS netCDF (written here) and as GRIB (written with ecCodes through the interop
//! Python, `HOD_PYTHON`; skipped without it unless `HOD_REQUIRE_INTEROP=1`), read back as those
//! increments; the 00 UTC step, the first step of the data, a start that needs the step before
//! it, block-by-block state, the daily-sum check and the refusals.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hod_core::Attrs;
use hod_query::deaccumulate::{Convention, Deaccumulator, convention, daily_check};
use hod_query::{DataCube, QueryError, Request, netcdf::write_netcdf, read};
use hod_store::Store;
use hod_testkit::data::root as data;
use hod_testkit::python::interop as python;
use serde_json::{Value, json};
use std::path::Path;

/// 2019-03-01T00:00:00Z.
const D0: f64 = 1_551_398_400.0;
const HOUR: f64 = 3600.0;
const DAY: f64 = 86_400.0;
const LAT: [f64; 2] = [51.0, 50.75];
const LON: [f64; 3] = [0.0, 0.25, 0.5];

/// The known increment over the hour ending at `valid` (seconds since 1970) in cell `cell`: a
/// multiple of 1/1024 m, exact in binary and in GRIB packing. The same formula is in `GRIB_GEN`.
fn increment(valid: f64, cell: usize) -> f64 {
    let h = (valid / HOUR) as i64;
    ((cell as i64 * 7 + h * 3).rem_euclid(11)) as f64 / 1024.0
}

/// ERA5-Land's accumulation valid at `valid`: the increments since the last 00 UTC before it.
fn since_midnight(valid: f64, cell: usize) -> f64 {
    let start = ((valid - 1.0) / DAY).floor() * DAY;
    let hours = ((valid - start) / HOUR) as usize;
    (1..=hours)
        .map(|k| increment(start + k as f64 * HOUR, cell))
        .sum()
}

fn attrs(v: Value) -> Attrs {
    serde_json::from_value(v).unwrap()
}

/// `tp` attributes as a CDS netCDF file (GRIB to netCDF) gives them.
fn tp_attrs() -> Attrs {
    attrs(json!({
        "GRIB_paramId": 228, "GRIB_shortName": "tp", "GRIB_units": "m",
        "GRIB_name": "Total precipitation", "GRIB_stepType": "accum",
        "units": "m", "long_name": "Total precipitation", "standard_name": "unknown",
    }))
}

/// One day of hourly ERA5-Land `tp` (valid 00 … 23 UTC) on a 2 × 3 grid, plus an instantaneous
/// `t2m`.
fn day_cubes(day: f64) -> Vec<DataCube> {
    let times: Vec<f64> = (0..24).map(|h| day + h as f64 * HOUR).collect();
    let cells = LAT.len() * LON.len();
    let values = times
        .iter()
        .flat_map(|&t| (0..cells).map(move |c| since_midnight(t, c)))
        .collect();
    let cube = |name: &str, values: Vec<f64>, attrs: Attrs| DataCube {
        name: name.into(),
        dims: vec!["valid_time".into(), "latitude".into(), "longitude".into()],
        shape: vec![24, LAT.len(), LON.len()],
        coords: vec![times.clone(), LAT.to_vec(), LON.to_vec()],
        time_dims: vec![true, false, false],
        values,
        attrs,
    };
    let t2m = attrs(json!({"GRIB_shortName": "2t", "GRIB_stepType": "instant", "units": "K"}));
    vec![
        cube("tp", values, tp_attrs()),
        cube("t2m", vec![280.0; 24 * cells], t2m),
    ]
}

/// Three daily CDS-like netCDF files (2019-03-01 … 03), ingested as one dataset.
async fn netcdf_dataset(dir: &Path, global: Value) -> (Store, hod_index::DatasetMeta) {
    let mut files = Vec::new();
    for d in 0..3 {
        let path = dir.join(format!("era5land_tp_{d}.nc"));
        write_netcdf(&path, &day_cubes(D0 + d as f64 * DAY), &attrs(global.clone())).unwrap();
        files.push(path.display().to_string());
    }
    let name = format!("memory://deacc-{}", dir.display().to_string().replace('/', "-"));
    let store = Store::open(&name).unwrap();
    hod_index::ingest(&store, "e5l", &files, &Default::default(), &hod_index::Quiet)
        .await
        .unwrap();
    let meta = hod_index::read_meta(&store, "e5l").await.unwrap();
    (store, meta)
}

fn cds_globals() -> Value {
    json!({"GRIB_centre": "ecmf", "institution": "European Centre for Medium-Range Weather Forecasts"})
}

fn request(start: Option<f64>, end: Option<f64>) -> Request {
    Request {
        vars: vec!["tp".into()],
        start,
        end,
        deaccumulate: true,
        accumulation: Some(Convention::SinceMidnight),
        ..Default::default()
    }
}

/// Asserts a (time, lat, lon) cube holds the known increments, NaN at the times in `nan`.
fn assert_increments(cube: &DataCube, nan: &[f64]) {
    let cells = cube.shape[1] * cube.shape[2];
    for (i, &t) in cube.coords[0].iter().enumerate() {
        for c in 0..cells {
            let got = cube.values[i * cells + c];
            if nan.contains(&t) {
                assert!(got.is_nan(), "t {t} cell {c}: {got}, want NaN");
            } else {
                let want = increment(t, c);
                assert!((got - want).abs() < 1e-12, "t {t} cell {c}: {got}, want {want}");
            }
        }
    }
}

#[tokio::test]
async fn netcdf_increments_00utc_and_first_step() {
    let dir = tempfile::tempdir().unwrap();
    let (store, meta) = netcdf_dataset(dir.path(), cds_globals()).await;
    let cube = &read(&store, &meta, &request(None, None)).await.unwrap()[0];
    assert_eq!(cube.shape, vec![72, 2, 3]);
    // The first step of the data (00 UTC) needs 23 UTC of the day before: not there.
    assert_increments(cube, &[D0]);
    // 00 UTC of the next days: the day's accumulation minus 23 UTC's, across files.
    let cells = 6;
    for day in [1.0, 2.0] {
        let i = (day * 24.0) as usize;
        assert_eq!(cube.coords[0][i], D0 + day * DAY);
        let want = since_midnight(D0 + day * DAY, 4) - since_midnight(D0 + day * DAY - HOUR, 4);
        assert!((cube.values[i * cells + 4] - want).abs() < 1e-12);
    }
    assert!(cube.attrs.contains_key("hod_deaccumulated"));

    // The daily-sum check: days ending 2019-03-02T00 and 03T00 are complete.
    let raw = &read(
        &store,
        &meta,
        &Request {
            deaccumulate: false,
            ..request(None, None)
        },
    )
    .await
    .unwrap()[0];
    let check = daily_check(&Convention::SinceMidnight, cube, raw).unwrap();
    assert_eq!((check.days, check.compared), (2, 12), "{check:?}");
    assert!(check.passed(), "{check:?}");
    // Increments that miss the 00 UTC rule (the 01 UTC step differenced with 00 UTC) fail it.
    let mut wrong = cube.clone();
    for c in 0..cells {
        wrong.values[25 * cells + c] -= raw.values[24 * cells + c];
    }
    let bad = daily_check(&Convention::SinceMidnight, &wrong, raw).unwrap();
    assert!(!bad.passed() && bad.max_abs_diff > 0.01, "{bad:?}");
    // It applies to accumulations since 00 UTC only.
    assert!(daily_check(&Convention::PerStep, cube, raw).is_err());
}

#[tokio::test]
async fn netcdf_start_reads_the_step_before() {
    let dir = tempfile::tempdir().unwrap();
    let (store, meta) = netcdf_dataset(dir.path(), cds_globals()).await;
    for (start, end) in [
        // 00 UTC: the previous day's 23 UTC is in the previous file.
        (D0 + DAY, D0 + 2.0 * DAY + 5.0 * HOUR),
        // 01 UTC: its value is the increment.
        (D0 + DAY + HOUR, D0 + DAY + 3.0 * HOUR),
        // Any other hour.
        (D0 + 7.0 * HOUR, D0 + 7.0 * HOUR),
        // Before the data: the first step has nothing before it.
        (D0 - DAY, D0 + 2.0 * HOUR),
    ] {
        let cube = &read(&store, &meta, &request(Some(start), Some(end)))
            .await
            .unwrap()[0];
        let first = start.max(D0);
        assert_eq!(cube.coords[0][0], first, "start {start}");
        assert_eq!(*cube.coords[0].last().unwrap(), end);
        assert_eq!(cube.shape[0], ((end - first) / HOUR) as usize + 1);
        assert_increments(cube, &[D0]);
    }
}

#[tokio::test]
async fn convention_from_dataset_metadata_and_refusals() {
    let dir = tempfile::tempdir().unwrap();
    // A dataset attribute (what dataset profiles set) gives the convention.
    let mut globals = cds_globals();
    globals["hod_time_convention"] = json!("since-00utc");
    let (store, meta) = netcdf_dataset(dir.path(), globals).await;
    let req = Request {
        accumulation: None,
        ..request(Some(D0 + DAY), None)
    };
    assert_increments(&read(&store, &meta, &req).await.unwrap()[0], &[]);

    let other = tempfile::tempdir().unwrap();
    let (store, meta) = netcdf_dataset(other.path(), cds_globals()).await;
    let err = |e: QueryError| e.to_string();
    // Nothing says whether it is ERA5-Land or ERA5.
    let e = err(read(&store, &meta, &req).await.unwrap_err());
    assert!(
        e.contains("'tp' is accumulated") && e.contains("--accumulation"),
        "{e}"
    );
    // Not accumulated.
    let t2m = Request {
        vars: vec!["t2m".into()],
        ..request(None, None)
    };
    let e = err(read(&store, &meta, &t2m).await.unwrap_err());
    assert!(
        e.contains("'t2m' is not an accumulated variable") && e.contains("instant"),
        "{e}"
    );
    // An unknown convention name.
    let e = err("gfs".parse::<Convention>().unwrap_err());
    assert!(e.contains("since-00utc"), "{e}");
    // ERA5 (per step): values as stored.
    let per_step = Request {
        accumulation: Some(Convention::PerStep),
        ..request(None, None)
    };
    let cube = &read(&store, &meta, &per_step).await.unwrap()[0];
    assert_eq!(cube.values[30], since_midnight(cube.coords[0][5], 0));
}

#[test]
fn metadata_decide_the_convention() {
    let none = Attrs::new();
    let with = |extra: Value| {
        let mut a = tp_attrs();
        a.extend(attrs(extra));
        a
    };
    // GRIB step ranges decide, and a caller's convention must agree with them.
    let grib = with(json!({"GRIB_stepRange": ["0-1", "0-2"]}));
    assert_eq!(
        convention("tp", &grib, &none, None).unwrap(),
        Convention::StepRanges(vec![(0.0, 1.0), (0.0, 2.0)])
    );
    assert!(convention("tp", &grib, &none, Some(&Convention::SinceMidnight)).is_err());
    // CF cell_methods, and ECMWF names with the units of an accumulation (not a rate).
    let cf = attrs(json!({"cell_methods": "time: sum", "hod_time_convention": "per-step"}));
    assert_eq!(convention("pr", &cf, &none, None).unwrap(), Convention::PerStep);
    let mean = attrs(json!({"cell_methods": "time: mean"}));
    assert!(convention("pr", &mean, &none, Some(&Convention::PerStep)).is_err());
    let old_cds = attrs(json!({"units": "J m**-2", "long_name": "Surface solar radiation downwards"}));
    assert!(convention("ssrd", &old_cds, &none, Some(&Convention::SinceMidnight)).is_ok());
    let rate = attrs(json!({"units": "kg m**-2 s**-1"}));
    assert!(convention("tp", &rate, &none, Some(&Convention::SinceMidnight)).is_err());
}

/// A (time, step, cell) cube of forecast steps.
fn forecast(steps: &[f64], values: Vec<f64>) -> DataCube {
    DataCube {
        name: "APCP".into(),
        dims: vec!["time".into(), "step".into(), "cell".into()],
        shape: vec![1, steps.len(), 2],
        coords: vec![vec![D0], steps.to_vec(), vec![0.0, 1.0]],
        time_dims: vec![true, false, false],
        values,
        attrs: Attrs::new(),
    }
}

#[test]
fn gfs_buckets() {
    // GFS: 3-hourly steps in 6-hour buckets.
    let ranges = vec![(0.0, 3.0), (0.0, 6.0), (6.0, 9.0), (6.0, 12.0)];
    let mut cube = forecast(
        &[3.0, 6.0, 9.0, 12.0],
        vec![1.0, 10.0, 3.0, 30.0, 2.0, 20.0, 7.0, 70.0],
    );
    Deaccumulator::new(Convention::StepRanges(ranges))
        .apply(&mut cube)
        .unwrap();
    assert_eq!(cube.values, vec![1.0, 10.0, 2.0, 20.0, 2.0, 20.0, 5.0, 50.0]);
    // Overlapping periods that cannot be differenced.
    let mut cube = forecast(&[6.0, 9.0], vec![0.0; 4]);
    let e = Deaccumulator::new(Convention::StepRanges(vec![(0.0, 6.0), (3.0, 9.0)]))
        .apply(&mut cube)
        .unwrap_err();
    assert!(e.to_string().contains("cannot be differenced"), "{e}");
}

#[test]
fn blocks_carry_state() {
    // The same increments whether the series comes whole or in blocks of 5 steps.
    let times: Vec<f64> = (0..50).map(|h| D0 + 13.0 * HOUR + h as f64 * HOUR).collect();
    let cube = |t: &[f64]| DataCube {
        name: "tp".into(),
        dims: vec!["time".into(), "cell".into()],
        shape: vec![t.len(), 2],
        coords: vec![t.to_vec(), vec![0.0, 1.0]],
        time_dims: vec![true, false],
        values: t
            .iter()
            .flat_map(|&v| [since_midnight(v, 0), since_midnight(v, 1)])
            .collect(),
        attrs: Attrs::new(),
    };
    let mut whole = cube(&times);
    Deaccumulator::new(Convention::SinceMidnight)
        .apply(&mut whole)
        .unwrap();
    let mut state = Deaccumulator::new(Convention::SinceMidnight);
    let mut blocks = Vec::new();
    for part in times.chunks(5) {
        let mut b = cube(part);
        state.apply(&mut b).unwrap();
        blocks.extend(b.values);
    }
    assert_eq!(whole.values[..2].iter().filter(|v| v.is_nan()).count(), 2);
    for (i, (a, b)) in whole.values.iter().zip(&blocks).enumerate().skip(2) {
        assert_eq!(a, b, "{i}");
        assert!((a - increment(times[i / 2], i % 2)).abs() < 1e-12);
    }
}

/// Writes ERA5-Land `tp` as the CDS delivers GRIB for valid days 2019-03-01 … 03 (forecasts from
/// 00 UTC, stepRange `0-1` … `0-24`; 00 UTC of the first day from the day before's step 24), and
/// ERA5 `tp` (forecast from 06 UTC, stepRange `N-1`-`N`), from the message of a real ERA5 file.
const GRIB_GEN: &str = r#"
import sys, eccodes
src, land_out, era5_out = sys.argv[1:4]
D0 = 1551398400
def inc(valid, cell):
    return ((cell * 7 + (valid // 3600) * 3) % 11) / 1024.0
with open(src, 'rb') as f:
    base = eccodes.codes_grib_new_from_file(f)
n = eccodes.codes_get(base, 'numberOfValues')
def message(out, ref, start, end):
    import datetime
    d = datetime.datetime.fromtimestamp(ref, datetime.timezone.utc)
    m = eccodes.codes_clone(base)
    eccodes.codes_set(m, 'paramId', 228)
    eccodes.codes_set(m, 'stepType', 'accum')
    eccodes.codes_set(m, 'dataDate', int(d.strftime('%Y%m%d')))
    eccodes.codes_set(m, 'dataTime', d.hour * 100)
    eccodes.codes_set(m, 'startStep', start)
    eccodes.codes_set(m, 'endStep', end)
    eccodes.codes_set(m, 'decimalScaleFactor', 0)
    vals = [sum(inc(ref + k * 3600, c) for k in range(start + 1, end + 1)) for c in range(n)]
    eccodes.codes_set_values(m, vals)
    eccodes.codes_write(m, out)
    eccodes.codes_release(m)
with open(land_out, 'wb') as out:
    eccodes.codes_set(base, 'class', 'l5')
    message(out, D0 - 86400, 0, 24)
    for day in range(3):
        for step in range(1, 25 if day < 2 else 24):
            message(out, D0 + day * 86400, 0, step)
with open(era5_out, 'wb') as out:
    eccodes.codes_set(base, 'class', 'ea')
    for step in range(1, 13):
        message(out, D0 + 6 * 3600, step - 1, step)
# What a user does with xarray + cfgrib: difference along step, the first step as it is.
import json, numpy as np, xarray as xr
tp = xr.open_dataset(land_out, engine='cfgrib', backend_kwargs={'indexpath': ''}).tp
v = tp.values
inc = np.concatenate([v[:, :1], np.diff(v, axis=1)], axis=1)
print(json.dumps({'dims': list(tp.dims), 'shape': list(inc.shape),
                  'count': int(np.isfinite(inc).sum()), 'sum': float(np.nansum(inc))}))
"#;

async fn grib_dataset(path: &Path, name: &str) -> (Store, hod_index::DatasetMeta) {
    let store = Store::open(&format!("memory://deacc-grib-{name}")).unwrap();
    let files = vec![path.display().to_string()];
    hod_index::ingest(&store, name, &files, &Default::default(), &hod_index::Quiet)
        .await
        .unwrap();
    let meta = hod_index::read_meta(&store, name).await.unwrap();
    (store, meta)
}

#[tokio::test]
async fn grib_forecast_steps() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (land, era5) = (
        dir.path().join("era5land-tp.grib"),
        dir.path().join("era5-tp.grib"),
    );
    let out = std::process::Command::new(python)
        .args(["-c", GRIB_GEN])
        .arg(data().join("era5/era5-2mt-2019-03-uk.grib"))
        .args([&land, &era5])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let cfgrib: Value = serde_json::from_slice(&out.stdout).unwrap();

    // ERA5-Land: forecasts from 00 UTC, stepRange 0-k.
    let (store, meta) = grib_dataset(&land, "land").await;
    let attrs = &meta.variables["tp"].array.attrs;
    assert_eq!(attrs["GRIB_stepType"], "accum");
    assert_eq!(attrs["GRIB_stepRange"][0], "0-1");
    assert_eq!(attrs["GRIB_stepRange"][23], "0-24");
    let req = Request {
        accumulation: None,
        ..request(None, None)
    };
    let cube = &read(&store, &meta, &req).await.unwrap()[0];
    assert_eq!(cube.dims, ["time", "step", "latitude", "longitude"]);
    assert_eq!(cube.shape, vec![4, 24, 33, 49]);
    let cells = 33 * 49;
    let mut checked = 0;
    for (r, &reference) in cube.coords[0].iter().enumerate() {
        for (s, &step) in cube.coords[1].iter().enumerate() {
            let valid = reference + step * HOUR;
            let present = (D0..D0 + 3.0 * DAY).contains(&valid);
            for c in (0..cells).step_by(97) {
                let got = cube.values[(r * 24 + s) * cells + c];
                // 2019-03-01T00 (the day before's step 24) has no step 23 before it.
                if !present || valid == D0 {
                    assert!(got.is_nan(), "ref {reference} step {step}: {got}");
                } else {
                    let want = increment(valid, c);
                    assert!(
                        (got - want).abs() < 1e-9,
                        "ref {reference} step {step}: {got} vs {want}"
                    );
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, 71 * cells.div_ceil(97));
    // The same as xarray + cfgrib differencing along step.
    assert_eq!(cfgrib["dims"], json!(cube.dims));
    assert_eq!(cfgrib["shape"], json!(cube.shape));
    let valid: Vec<f64> = cube.values.iter().copied().filter(|v| v.is_finite()).collect();
    assert_eq!(cfgrib["count"], valid.len());
    let sum: f64 = valid.iter().sum();
    assert!(
        (cfgrib["sum"].as_f64().unwrap() - sum).abs() < 1e-9 * sum,
        "{cfgrib} vs {sum}"
    );
    let raw = &read(
        &store,
        &meta,
        &Request {
            deaccumulate: false,
            ..req.clone()
        },
    )
    .await
    .unwrap()[0];
    let conv = convention("tp", attrs, &meta.attrs, None).unwrap();
    let check = daily_check(&conv, cube, raw).unwrap();
    assert_eq!((check.days, check.compared), (2, 2 * cells), "{check:?}");
    assert!(check.passed(), "{check:?}");

    // ERA5: each message holds its hour already.
    let (store, meta) = grib_dataset(&era5, "era5").await;
    assert_eq!(meta.variables["tp"].array.attrs["GRIB_stepRange"][4], "4-5");
    let cube = &read(&store, &meta, &req).await.unwrap()[0];
    let raw = &read(
        &store,
        &meta,
        &Request {
            deaccumulate: false,
            ..req.clone()
        },
    )
    .await
    .unwrap()[0];
    assert_eq!(cube.values, raw.values);
    assert!((cube.values[cells * 4 + 5] - increment(D0 + 11.0 * HOUR, 5)).abs() < 1e-9);
}

#[tokio::test]
async fn grib_instantaneous_is_refused() {
    let store = Store::open("memory://deacc-grib-t2m").unwrap();
    let files = vec![data().join("era5/era5-2mt-2019-03-uk.grib").display().to_string()];
    hod_index::ingest(&store, "t2m", &files, &Default::default(), &hod_index::Quiet)
        .await
        .unwrap();
    let meta = hod_index::read_meta(&store, "t2m").await.unwrap();
    let req = Request {
        vars: vec!["t2m".into()],
        deaccumulate: true,
        ..Default::default()
    };
    let e = read(&store, &meta, &req).await.unwrap_err().to_string();
    assert!(
        e.contains("not an accumulated variable") && e.contains("'instant'"),
        "{e}"
    );
}

#[test]
fn gaps_give_the_increment_since_the_step_before() {
    let h = |x: f64| D0 + x * HOUR;
    let times = [
        h(20.0),
        h(21.0),
        h(23.0),
        h(24.0),
        h(27.0),
        h(29.0),
        h(46.0),
        h(50.0),
    ];
    let mut cube = DataCube {
        name: "tp".into(),
        dims: vec!["time".into()],
        shape: vec![times.len()],
        coords: vec![times.to_vec()],
        time_dims: vec![true],
        values: times.iter().map(|&t| since_midnight(t, 3)).collect(),
        attrs: Attrs::new(),
    };
    Deaccumulator::new(Convention::SinceMidnight)
        .apply(&mut cube)
        .unwrap();
    let sum = |a: f64, b: f64| {
        ((a + 1.0) as usize..=b as usize)
            .map(|k| increment(h(k as f64), 3))
            .sum::<f64>()
    };
    // 20 UTC has nothing before it; 27 UTC (03 UTC) follows 00 UTC, a fresh accumulation;
    // 50 UTC (02 UTC) follows 22 UTC of the day before: unknown.
    let want = [
        f64::NAN,
        sum(20.0, 21.0),
        sum(21.0, 23.0),
        sum(23.0, 24.0),
        sum(24.0, 27.0),
        sum(27.0, 29.0),
        sum(29.0, 46.0),
        f64::NAN,
    ];
    for (k, (got, want)) in cube.values.iter().zip(want).enumerate() {
        assert!(
            got == &want || (got.is_nan() && want.is_nan()) || (got - want).abs() < 1e-12,
            "{k}: {got} vs {want}"
        );
    }
}

#[test]
fn step_ranges_need_their_step_dimension() {
    let mut one = forecast(&[21.0], vec![4.0, 5.0]);
    one.dims[1] = "lead".into();
    let mut kept = one.clone();
    Deaccumulator::new(Convention::StepRanges(vec![(18.0, 21.0)]))
        .apply(&mut kept)
        .unwrap();
    assert_eq!(kept.values, one.values);
    let e = Deaccumulator::new(Convention::StepRanges(vec![(0.0, 1.0), (0.0, 2.0)]))
        .apply(&mut one)
        .unwrap_err();
    assert!(e.to_string().contains("no 'step' dimension"), "{e}");
}
