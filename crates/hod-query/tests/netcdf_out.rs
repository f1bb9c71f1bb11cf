//! `write_netcdf`: read back with the repo's own netCDF3 scanner (bit for bit), with
//! netCDF4-python and xarray when the reference venv is there, and round trips of random shapes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use hod_core::Attrs;
use hod_formats::{FileSource, ScanOptions, decode_chunk, scan};
use hod_query::netcdf::{NetcdfWriter, write_netcdf};
use hod_query::sink::Sink;
use hod_query::{DataCube, QueryError};
use proptest::prelude::*;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;

/// 2019-03-01T00:00:00Z.
const T0: f64 = 1_551_398_400.0;

fn attrs(v: Value) -> Attrs {
    serde_json::from_value(v).unwrap()
}

/// (time 3, latitude 2, longitude 4) with NaNs at flat positions 1, 10 and 23.
fn t2m() -> DataCube {
    let mut values: Vec<f64> = (0..24).map(|i| 250.0 + i as f64 * 0.37).collect();
    for i in [1, 10, 23] {
        values[i] = f64::NAN;
    }
    DataCube {
        name: "t2m".into(),
        dims: vec!["time".into(), "latitude".into(), "longitude".into()],
        shape: vec![3, 2, 4],
        coords: vec![
            vec![T0, T0 + 3600.0, T0 + 7200.0],
            vec![50.25, 50.0],
            vec![5.0, 5.25, 5.5, 5.75],
        ],
        time_dims: vec![true, false, false],
        values,
        attrs: attrs(json!({
            "units": "K",
            "long_name": "2 metre temperature",
            "scale_factor": 0.001,
            "add_offset": 270.5,
            "missing_value": -32767,
            "valid_range": [-32000, 32000],
            "coordinates": "height",
        })),
    }
}

/// A 1-D cube over a plain dimension, with attributes of every JSON kind.
fn gauge() -> DataCube {
    DataCube {
        name: "discharge".into(),
        dims: vec!["station".into()],
        shape: vec![5],
        coords: vec![vec![0.0, 1.0, 2.0, 3.0, 4.0]],
        time_dims: vec![false],
        values: vec![1.5, f64::NAN, -0.0, 1e300, 42.0],
        attrs: attrs(json!({
            "units": "m3 s-1",
            "count": 7,
            "big": 10_000_000_000i64,
            "ratio": 0.5,
            "limits": [1, 2.5, 3],
            "meta": {"a": [1, 2]},
            "flag": true,
        })),
    }
}

/// A variable as the scanner sees it: dims, shape, values (C order) and attributes.
struct ReadBack {
    dims: Vec<String>,
    shape: Vec<u64>,
    values: Vec<f64>,
    attrs: Attrs,
    fill: Option<f64>,
}

/// Reads every variable back through `hod_formats::scan` and `decode_chunk`.
fn read_back(path: &Path) -> (Attrs, BTreeMap<String, ReadBack>) {
    let file = scan(&FileSource::open(path).unwrap(), &ScanOptions::default()).unwrap();
    let bytes = std::fs::read(path).unwrap();
    let mut vars = BTreeMap::new();
    for v in &file.variables {
        assert_eq!(v.meta.dtype, hod_core::DType::F64, "{}", v.name);
        let mut values = Vec::new();
        // The scanner lists a contiguous variable's chunks in C order.
        for c in &v.chunks {
            let hod_core::ChunkLoc::Range { offset, length } = c.loc else {
                panic!("inline chunk")
            };
            let stored = &bytes[offset as usize..(offset + length) as usize];
            let raw = decode_chunk(&v.meta, stored).unwrap();
            values.extend(
                raw.chunks_exact(8)
                    .map(|b| f64::from_be_bytes(b.try_into().unwrap())),
            );
        }
        vars.insert(
            v.name.clone(),
            ReadBack {
                dims: v.meta.dims.clone(),
                shape: v.meta.shape.clone(),
                values,
                attrs: v.meta.attrs.clone(),
                fill: v.meta.fill_value,
            },
        );
    }
    (file.attrs, vars)
}

fn same_bits(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

fn write(cubes: &[DataCube], global: &Attrs) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.nc");
    write_netcdf(&path, cubes, global).unwrap();
    (dir, path)
}

#[test]
fn reads_back_bit_for_bit_with_cf_attributes() {
    let global = attrs(json!({"title": "test", "history": "made by hand", "Conventions": "CF-1.6"}));
    let (dir, path) = write(&[t2m(), gauge()], &global);
    // Nothing left beside the file.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["out.nc"]);
    assert_eq!(&std::fs::read(&path).unwrap()[..4], b"CDF\x02");

    let (gattrs, vars) = read_back(&path);
    assert_eq!(gattrs["title"], "test");
    assert_eq!(gattrs["Conventions"], "CF-1.8");
    let history = gattrs["history"].as_str().unwrap();
    assert!(
        history.starts_with("made by hand\n") && history.ends_with("written by hod"),
        "{history}"
    );

    let keys: Vec<&str> = vars.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        ["discharge", "latitude", "longitude", "station", "t2m", "time"]
    );

    let t = &vars["t2m"];
    let cube = t2m();
    assert_eq!(t.dims, cube.dims);
    assert_eq!(t.shape, [3, 2, 4]);
    assert!(same_bits(&t.values, &cube.values));
    assert!(t.fill.unwrap().is_nan());
    assert_eq!(t.attrs["units"], "K");
    assert_eq!(t.attrs["coordinates"], "height");
    for gone in ["scale_factor", "add_offset", "missing_value", "valid_range"] {
        assert!(!t.attrs.contains_key(gone), "{gone}");
    }

    let time = &vars["time"];
    assert!(same_bits(&time.values, &cube.coords[0]));
    assert_eq!(time.attrs["units"], "seconds since 1970-01-01 00:00:00");
    assert_eq!(time.attrs["calendar"], "proleptic_gregorian");
    assert_eq!(time.attrs["standard_name"], "time");
    assert_eq!(time.attrs["axis"], "T");
    assert_eq!(vars["latitude"].attrs["units"], "degrees_north");
    assert_eq!(vars["latitude"].attrs["standard_name"], "latitude");
    assert_eq!(vars["longitude"].attrs["units"], "degrees_east");
    assert!(same_bits(&vars["longitude"].values, &cube.coords[2]));
    assert!(vars["station"].attrs.is_empty());
    assert!(vars["station"].fill.is_none());

    let g = &vars["discharge"];
    assert!(same_bits(&g.values, &gauge().values));
    assert_eq!(g.attrs["count"], json!(7)); // NC_INT
    assert_eq!(g.attrs["big"], json!(10_000_000_000.0)); // NC_DOUBLE
    assert_eq!(g.attrs["ratio"], json!(0.5));
    assert_eq!(g.attrs["limits"], json!([1.0, 2.5, 3.0]));
    assert_eq!(g.attrs["meta"], r#"{"a":[1,2]}"#);
    assert_eq!(g.attrs["flag"], "true");
}

#[test]
fn conflicting_dimensions_name_both_variables() {
    let mut other = gauge();
    other.name = "level".into();
    other.dims = vec!["latitude".into()];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.nc");
    let err = write_netcdf(&path, &[t2m(), other], &Attrs::new()).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, QueryError::Invalid(_)), "{msg}");
    assert!(
        msg.contains("t2m") && msg.contains("level") && msg.contains("latitude"),
        "{msg}"
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);

    // Same length, other coordinates.
    let mut shifted = t2m();
    shifted.name = "d2m".into();
    shifted.coords[2][0] = 4.75;
    assert!(write_netcdf(&path, &[t2m(), shifted], &Attrs::new()).is_err());
    // Same dimensions: shared.
    let mut d2m = t2m();
    d2m.name = "d2m".into();
    write_netcdf(&path, &[t2m(), d2m], &Attrs::new()).unwrap();
    assert_eq!(read_back(&path).1.len(), 5);
}

#[test]
fn failed_write_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // The target is a directory: the rename fails after the partial file was written.
    let path = dir.path().join("taken.nc");
    std::fs::create_dir(&path).unwrap();
    let err = write_netcdf(&path, &[gauge()], &Attrs::new()).unwrap_err();
    assert!(matches!(err, QueryError::Write { .. }), "{err}");
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["taken.nc"]);
    // Inconsistent cubes are refused before anything is written.
    let mut bad = gauge();
    bad.values.pop();
    assert!(matches!(
        write_netcdf(&dir.path().join("b.nc"), &[bad], &Attrs::new()),
        Err(QueryError::Invalid(_))
    ));
}

const PY_CHECK: &str = r#"
import sys, math
import numpy as np, netCDF4, xarray as xr
path = sys.argv[1]
with netCDF4.Dataset(path) as ds:
    assert ds.file_format == "NETCDF3_64BIT_OFFSET", ds.file_format
    assert ds.Conventions == "CF-1.8"
    v = ds["t2m"]
    assert v.shape == (3, 2, 4), v.shape
    a = v[:]
    mask = np.ma.getmaskarray(a).ravel()
    assert list(np.nonzero(mask)[0]) == [1, 10, 23], np.nonzero(mask)
    assert abs(float(a[0, 0, 0]) - 250.0) < 1e-12
    assert abs(float(a[2, 1, 2]) - (250.0 + 22 * 0.37)) < 1e-12
    assert not hasattr(v, "scale_factor")
    assert ds["discharge"].shape == (5,)
    assert ds["discharge"].count == 7
with xr.open_dataset(path) as ds:
    t = ds["time"].values
    assert str(t[0]) .startswith("2019-03-01T00:00:00"), t
    assert str(t[2]).startswith("2019-03-01T02:00:00"), t
    x = ds["t2m"].values
    assert x.shape == (3, 2, 4)
    assert list(np.nonzero(np.isnan(x.ravel()))[0]) == [1, 10, 23]
    assert float(ds["t2m"].sel(latitude=50.0, longitude=5.5).isel(time=2)) == 250.0 + 22 * 0.37
    assert list(ds["latitude"].values) == [50.25, 50.0]
    assert ds["latitude"].attrs["standard_name"] == "latitude"
    assert math.isnan(float(ds["discharge"].values[1]))
print("OK")
"#;

#[test]
fn netcdf4_python_and_xarray_read_it() {
    let Some(python) = hod_testkit::python::interop() else {
        return;
    };
    let (_dir, path) = write(&[t2m(), gauge()], &attrs(json!({"title": "interop"})));
    let out = std::process::Command::new(&python)
        .args(["-c", PY_CHECK])
        .arg(&path)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success() && text.contains("OK"), "{text}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn random_shapes_round_trip(
        shape in prop::collection::vec(1usize..5, 1..5),
        seed in any::<u64>(),
        time_first in any::<bool>(),
    ) {
        let n: usize = shape.iter().product();
        // Arbitrary bit patterns, NaNs and infinities included.
        let mut x = seed;
        let values: Vec<f64> = (0..n)
            .map(|_| {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                f64::from_bits(x)
            })
            .collect();
        let cube = DataCube {
            name: "v".into(),
            dims: (0..shape.len()).map(|d| format!("d{d}")).collect(),
            coords: shape.iter().map(|&k| (0..k).map(|i| i as f64 * 0.5).collect()).collect(),
            time_dims: (0..shape.len()).map(|d| d == 0 && time_first).collect(),
            shape: shape.clone(),
            values,
            attrs: Attrs::new(),
        };
        let (_dir, path) = write(std::slice::from_ref(&cube), &Attrs::new());
        let (_, vars) = read_back(&path);
        let v = &vars["v"];
        prop_assert_eq!(&v.dims, &cube.dims);
        prop_assert_eq!(v.shape.iter().map(|&s| s as usize).collect::<Vec<_>>(), shape);
        prop_assert!(same_bits(&v.values, &cube.values));
        prop_assert_eq!(vars["d0"].attrs.contains_key("calendar"), time_first);
    }
}

/// Writes the in-memory read of a selection of the per-file packed ERA5 netCDF3 set (80 hours x
/// 17 x 13, over 5 files) to `dir/whole.nc`, and the same selection streamed within `budget`
/// bytes to `dir/streamed.nc`.
fn whole_and_streamed(dir: &Path, budget: usize) -> Vec<DataCube> {
    let global = attrs(json!({"title": "streamed"}));
    let mut w = NetcdfWriter::new(&dir.join("streamed.nc"), &global);
    let whole = common::nc3_read_and_stream("netcdf-streamed", budget, &mut w);
    write_netcdf(&dir.join("whole.nc"), &whole, &global).unwrap();
    whole
}

/// The file with its `history` time stamp blanked (the two files were written at other times).
fn without_stamp(path: &Path) -> Vec<u8> {
    let mut b = std::fs::read(path).unwrap();
    let mark = b"Z: written by hod";
    let at = b.windows(mark.len()).position(|w| w == mark).unwrap();
    b[at - 19..at].fill(b'_');
    b
}

#[test]
fn streamed_file_equals_the_in_memory_one() {
    let dir = tempfile::tempdir().unwrap();
    // 30 kB: blocks of a few time steps.
    let whole = whole_and_streamed(dir.path(), 30_000);
    assert_eq!(whole[0].shape, [80, 17, 13]);
    assert!(without_stamp(&dir.path().join("whole.nc")) == without_stamp(&dir.path().join("streamed.nc")));
    let (_, vars) = read_back(&dir.path().join("streamed.nc"));
    assert!(same_bits(&vars["t2m"].values, &whole[0].values));
    let mut names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert_eq!(names, ["streamed.nc", "whole.nc"]);
}

#[test]
fn unfinished_stream_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = NetcdfWriter::new(&dir.path().join("out.nc"), &Attrs::new());
    w.begin(&[DataCube {
        values: Vec::new(),
        ..t2m()
    }])
    .unwrap();
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    drop(w);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

const PY_SAME: &str = r#"
import sys
import numpy as np, netCDF4
a, b = (netCDF4.Dataset(p) for p in sys.argv[1:3])
assert set(a.variables) == set(b.variables), (a.variables, b.variables)
for name in a.variables:
    x, y = a[name][:], b[name][:]
    assert x.shape == y.shape, name
    assert np.array_equal(np.ma.getmaskarray(x), np.ma.getmaskarray(y)), name
    assert np.array_equal(np.ma.filled(x, 0.0), np.ma.filled(y, 0.0)), name
print("OK", a["t2m"].shape)
"#;

#[test]
fn netcdf4_python_reads_the_streamed_file_as_the_in_memory_one() {
    let Some(python) = hod_testkit::python::interop() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    whole_and_streamed(dir.path(), 10_000);
    let out = std::process::Command::new(&python)
        .args(["-c", PY_SAME])
        .arg(dir.path().join("whole.nc"))
        .arg(dir.path().join("streamed.nc"))
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success() && text.contains("OK (80, 17, 13)"), "{text}");
}
