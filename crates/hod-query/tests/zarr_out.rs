//! Zarr v3 output: JSON documents, chunks read back bit for bit, random shapes, errors, and (when
//! the reference venv is there) zarr-python 3 and xarray opening the result.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use hod_core::Attrs;
use hod_query::sink::Sink;
use hod_query::zarr::{ZarrWriter, write_zarr};
use hod_query::{DataCube, QueryError};
use serde_json::{Value, json};
use std::io::Read;
use std::path::Path;

fn attrs(v: Value) -> Attrs {
    serde_json::from_value(v).unwrap()
}

/// 2019-03-10T00:00Z in seconds since 1970.
const T0: f64 = 1_552_176_000.0;

/// (time 4, latitude 5 descending, longitude 6) with NaNs, packing attributes left in.
fn cube3() -> DataCube {
    let shape = vec![4, 5, 6];
    let values = (0..120)
        .map(|i| {
            if i % 7 == 3 {
                f64::NAN
            } else {
                250.0 + f64::from(i) * 0.125
            }
        })
        .collect();
    DataCube {
        name: "t2m".into(),
        dims: vec!["time".into(), "latitude".into(), "longitude".into()],
        shape,
        coords: vec![
            (0..4).map(|i| T0 + f64::from(i) * 86_400.0).collect(),
            vec![50.0, 49.75, 49.5, 49.25, 49.0],
            vec![10.0, 10.25, 10.5, 10.75, 11.0, 11.25],
        ],
        values,
        attrs: attrs(json!({
            "units": "K", "long_name": "2 metre temperature", "scale_factor": 0.01,
            "add_offset": 250.0, "_FillValue": -32767, "missing_value": -32767
        })),
        time_dims: vec![true, false, false],
    }
}

/// A 1-D cube over the same time dimension.
fn cube1() -> DataCube {
    DataCube {
        name: "count".into(),
        dims: vec!["time".into()],
        shape: vec![4],
        coords: vec![(0..4).map(|i| T0 + f64::from(i) * 86_400.0).collect()],
        values: vec![1.5, f64::NAN, -0.0, 1e300],
        attrs: attrs(json!({"units": "1"})),
        time_dims: vec![true],
    }
}

fn read_json(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

/// A minimal Zarr v3 reader for what the writer produces: shape, values (C order).
fn read_array(dir: &Path) -> (Vec<usize>, Vec<f64>) {
    let m = read_json(&dir.join("zarr.json"));
    assert_eq!(m["node_type"], "array");
    assert_eq!(m["data_type"], "float64");
    assert_eq!(m["fill_value"], "NaN");
    let to_vec = |v: &Value| -> Vec<usize> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as usize)
            .collect()
    };
    let shape = to_vec(&m["shape"]);
    let chunk = to_vec(&m["chunk_grid"]["configuration"]["chunk_shape"]);
    let gz = m["codecs"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["name"] == "gzip");
    let n: usize = shape.iter().product();
    let mut out = vec![f64::NAN; n];
    let counts: Vec<usize> = shape.iter().zip(&chunk).map(|(s, c)| s.div_ceil(*c)).collect();
    let total: usize = counts.iter().product();
    let clen: usize = chunk.iter().product();
    for flat in 0..total {
        let mut id = vec![0; counts.len()];
        let mut r = flat;
        for d in (0..counts.len()).rev() {
            id[d] = r % counts[d];
            r /= counts[d];
        }
        let mut file = dir.join("c");
        for i in &id {
            file.push(i.to_string());
        }
        let Ok(raw) = std::fs::read(&file) else { continue };
        let bytes = if gz {
            let mut b = Vec::new();
            flate2::read::GzDecoder::new(&raw[..])
                .read_to_end(&mut b)
                .unwrap();
            b
        } else {
            raw
        };
        assert_eq!(bytes.len(), clen * 8, "{}", file.display());
        for (k, b) in bytes.chunks_exact(8).enumerate() {
            // Position of element k of the chunk in the array; skip padding.
            let mut rem = k;
            let mut pos = vec![0; chunk.len()];
            for d in (0..chunk.len()).rev() {
                pos[d] = id[d] * chunk[d] + rem % chunk[d];
                rem /= chunk[d];
            }
            if pos.iter().zip(&shape).any(|(p, s)| p >= s) {
                continue;
            }
            let o = pos.iter().zip(&shape).fold(0, |a, (p, s)| a * s + p);
            out[o] = f64::from_le_bytes(b.try_into().unwrap());
        }
    }
    (shape, out)
}

fn assert_same(a: &[f64], b: &[f64], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()),
            "{what}[{i}]: {x} vs {y}"
        );
    }
}

#[test]
fn writes_documents_and_chunks() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out.zarr");
    let (c3, c1) = (cube3(), cube1());
    write_zarr(
        &out,
        &[c3.clone(), c1.clone()],
        &attrs(json!({"title": "test", "n": 3})),
    )
    .unwrap();

    let root = read_json(&out.join("zarr.json"));
    assert_eq!(root["zarr_format"], 3);
    assert_eq!(root["node_type"], "group");
    assert_eq!(root["attributes"], json!({"title": "test", "n": 3}));
    // Inline consolidated metadata (zarr-python 3's form) repeats every array's document.
    let cons = &root["consolidated_metadata"];
    assert_eq!(cons["kind"], "inline");
    let listed: Vec<&String> = cons["metadata"].as_object().unwrap().keys().collect();
    assert_eq!(listed, ["t2m", "count", "time", "latitude", "longitude"]);
    for name in listed {
        assert_eq!(
            cons["metadata"][name],
            read_json(&out.join(name).join("zarr.json")),
            "{name}"
        );
    }

    let t2m = read_json(&out.join("t2m/zarr.json"));
    assert_eq!(t2m["zarr_format"], 3);
    assert_eq!(t2m["shape"], json!([4, 5, 6]));
    assert_eq!(t2m["dimension_names"], json!(["time", "latitude", "longitude"]));
    assert_eq!(
        t2m["chunk_grid"],
        json!({"name": "regular", "configuration": {"chunk_shape": [4, 5, 6]}})
    );
    assert_eq!(
        t2m["chunk_key_encoding"],
        json!({"name": "default", "configuration": {"separator": "/"}})
    );
    assert_eq!(
        t2m["codecs"][0],
        json!({"name": "bytes", "configuration": {"endian": "little"}})
    );
    // Packing and fill attributes are gone: the values are decoded.
    assert_eq!(
        t2m["attributes"],
        json!({"long_name": "2 metre temperature", "units": "K"})
    );
    assert!(out.join("t2m/c/0/0/0").is_file());

    let time = read_json(&out.join("time/zarr.json"));
    assert_eq!(time["dimension_names"], json!(["time"]));
    assert_eq!(time["attributes"]["units"], "seconds since 1970-01-01 00:00:00");
    assert_eq!(time["attributes"]["calendar"], "proleptic_gregorian");
    assert_eq!(time["attributes"]["standard_name"], "time");
    let lat = read_json(&out.join("latitude/zarr.json"));
    assert_eq!(lat["attributes"]["units"], "degrees_north");
    let lon = read_json(&out.join("longitude/zarr.json"));
    assert_eq!(lon["attributes"]["units"], "degrees_east");

    let (shape, v) = read_array(&out.join("t2m"));
    assert_eq!(shape, c3.shape);
    assert_same(&v, &c3.values, "t2m");
    let (_, v) = read_array(&out.join("count"));
    assert_same(&v, &c1.values, "count");
    for (d, name) in c3.dims.iter().enumerate() {
        let (_, v) = read_array(&out.join(name));
        assert_same(&v, &c3.coords[d], name);
    }
    // No temporary directory left next to the output.
    let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
    assert_eq!(left.len(), 1);
}

#[test]
fn large_cube_is_chunked_and_all_nan_chunks_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("big.zarr");
    let shape = vec![3, 600, 1000];
    let n: usize = shape.iter().product();
    // The middle time step is all missing: its chunk is not written.
    let values: Vec<f64> = (0..n)
        .map(|i| {
            if i / 600_000 == 1 {
                f64::NAN
            } else {
                i as f64 * 0.5
            }
        })
        .collect();
    let cube = DataCube {
        name: "tp".into(),
        dims: vec!["valid_time".into(), "y".into(), "x".into()],
        coords: shape
            .iter()
            .map(|&s| (0..s).map(|i| i as f64).collect())
            .collect(),
        shape,
        values,
        attrs: Attrs::new(),
        time_dims: vec![false, false, false],
    };
    write_zarr(&out, std::slice::from_ref(&cube), &Attrs::new()).unwrap();
    let m = read_json(&out.join("tp/zarr.json"));
    // One time step (600 000 values, 4.6 MiB) per chunk: two would exceed 8 MiB.
    assert_eq!(
        m["chunk_grid"]["configuration"]["chunk_shape"],
        json!([1, 600, 1000])
    );
    assert!(out.join("tp/c/0/0/0").is_file());
    assert!(!out.join("tp/c/1/0/0").exists());
    assert!(out.join("tp/c/2/0/0").is_file());
    let (_, v) = read_array(&out.join("tp"));
    assert_same(&v, &cube.values, "tp");
}

#[test]
fn refuses_mismatched_dims_and_existing_path() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("bad.zarr");
    let mut short = cube1();
    short.shape = vec![3];
    short.coords = vec![vec![T0, T0 + 1.0, T0 + 2.0]];
    short.values.truncate(3);
    let err = write_zarr(&out, &[cube3(), short], &Attrs::new()).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, QueryError::Invalid(_)), "{msg}");
    assert!(
        msg.contains("t2m") && msg.contains("count") && msg.contains("time"),
        "{msg}"
    );
    assert!(!out.exists());

    let mut shifted = cube1();
    shifted.coords[0][0] += 1.0;
    let err = write_zarr(&out, &[cube3(), shifted], &Attrs::new()).unwrap_err();
    assert!(err.to_string().contains("different coordinates"), "{err}");

    let mut broken = cube1();
    broken.values.pop();
    assert!(write_zarr(&out, &[broken], &Attrs::new()).is_err());

    std::fs::create_dir(&out).unwrap();
    let err = write_zarr(&out, &[cube1()], &Attrs::new()).unwrap_err();
    assert!(err.to_string().contains("already exists"), "{err}");
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1);

    // A file system refusal midway (a name too long for a file) removes the temporary directory.
    let mut long = cube1();
    long.name = "v".repeat(300);
    let err = write_zarr(&tmp.path().join("long.zarr"), &[cube3(), long], &Attrs::new()).unwrap_err();
    assert!(matches!(err, QueryError::Write { .. }), "{err}");
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1);

    // A file system refusal is a Write error naming the path.
    let err = write_zarr(&tmp.path().join("no/such/x.zarr"), &[cube1()], &Attrs::new()).unwrap_err();
    assert!(matches!(err, QueryError::Write { .. }), "{err}");
}

/// xorshift64*: deterministic pseudo-random numbers without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> usize {
        (self.next() % n) as usize
    }
}

/// Cubes of random small shapes (1 to 4 dims, some of size 0 or 1) with NaNs and odd values.
fn random_cube(rng: &mut Rng, k: usize) -> DataCube {
    let rank = 1 + rng.below(4);
    let shape: Vec<usize> = (0..rank).map(|_| rng.below(6)).collect();
    let n: usize = shape.iter().product();
    let values = (0..n)
        .map(|_| match rng.below(10) {
            0 => f64::NAN,
            1 => -0.0,
            2 => f64::INFINITY,
            _ => f64::from_bits(rng.next() >> 2),
        })
        .collect();
    DataCube {
        name: format!("v{k}"),
        dims: (0..rank).map(|d| format!("d{k}_{d}")).collect(),
        coords: shape
            .iter()
            .map(|&s| (0..s).map(|i| i as f64 * 1.5).collect())
            .collect(),
        shape,
        values,
        attrs: Attrs::new(),
        time_dims: vec![false; rank],
    }
}

#[test]
fn random_shapes_round_trip() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let tmp = tempfile::tempdir().unwrap();
    for case in 0..60 {
        let cubes: Vec<DataCube> = (0..1 + rng.below(3)).map(|k| random_cube(&mut rng, k)).collect();
        let out = tmp.path().join(format!("r{case}.zarr"));
        write_zarr(&out, &cubes, &Attrs::new()).unwrap();
        for c in &cubes {
            let (shape, v) = read_array(&out.join(&c.name));
            assert_eq!(shape, c.shape, "case {case}");
            assert_same(&v, &c.values, &format!("case {case} {}", c.name));
        }
    }
}

const PY_CHECK: &str = r#"
import json, sys, warnings
import numpy as np, zarr, xarray as xr
warnings.simplefilter("ignore")
cases = json.load(open(sys.argv[1]))
for case in cases:
    path = case["path"]
    g = zarr.open_group(path, mode="r", zarr_format=3)
    assert dict(g.attrs) == case["attrs"], (dict(g.attrs), case["attrs"])
    for opener in ("open_zarr", "open_dataset"):
        if opener == "open_zarr":
            ds = xr.open_zarr(path, zarr_format=3, consolidated=False)
        else:
            # Default opening: finds the inline consolidated metadata, so no fallback warning.
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                ds = xr.open_dataset(path, engine="zarr")
        for name, v in case["vars"].items():
            want = np.array([np.nan if x is None else x for x in v["values"]], dtype="f8").reshape(v["shape"])
            raw = g[name][...]
            assert raw.shape == tuple(v["shape"]), (name, raw.shape)
            assert np.array_equal(raw, want, equal_nan=True), name
            da = ds[name].values
            assert da.shape == tuple(v["shape"]), (opener, name, da.shape)
            assert np.array_equal(np.isnan(da), np.isnan(want)), (opener, name)
            assert np.array_equal(da, want, equal_nan=True), (opener, name)
            assert list(ds[name].dims) == v["dims"], (opener, name, ds[name].dims)
        for dim, iso in case.get("times", {}).items():
            got = ds[dim].values
            assert got.dtype.kind == "M", (dim, got.dtype)
            assert np.array_equal(got.astype("datetime64[s]"), np.array(iso, dtype="datetime64[s]")), (dim, got)
        for dim, vals in case.get("coords", {}).items():
            assert np.array_equal(ds[dim].values, np.array(vals, dtype="f8")), dim
print("OK", len(cases))
"#;

fn case_json(path: &Path, cubes: &[DataCube], global: Value) -> Value {
    let mut vars = serde_json::Map::new();
    for c in cubes {
        let vals: Vec<Value> = c
            .values
            .iter()
            .map(|&x| if x.is_nan() { Value::Null } else { json!(x) })
            .collect();
        vars.insert(
            c.name.clone(),
            json!({"shape": c.shape, "values": vals, "dims": c.dims}),
        );
    }
    json!({"path": path, "vars": vars, "attrs": global})
}

#[test]
fn python_interop() {
    let Some(python) = hod_testkit::python::interop() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let mut cases = Vec::new();
    let out = tmp.path().join("main.zarr");
    let global = json!({"title": "hod test", "history": "written by hod"});
    let cubes = [cube3(), cube1()];
    write_zarr(&out, &cubes, &attrs(global.clone())).unwrap();
    let mut case = case_json(&out, &cubes, global);
    case["times"] = json!({"time": ["2019-03-10", "2019-03-11", "2019-03-12", "2019-03-13"]});
    case["coords"] = json!({"latitude": [50.0, 49.75, 49.5, 49.25, 49.0]});
    cases.push(case);
    let mut rng = Rng(42);
    for k in 0..10 {
        let cubes: Vec<DataCube> = (0..1 + rng.below(3))
            .map(|j| random_cube(&mut rng, j))
            // JSON cannot carry infinities; the Rust round trip covers them.
            .map(|mut c| {
                c.values
                    .iter_mut()
                    .filter(|v| v.is_infinite())
                    .for_each(|v| *v = 1.0);
                c
            })
            .collect();
        let out = tmp.path().join(format!("r{k}.zarr"));
        write_zarr(&out, &cubes, &Attrs::new()).unwrap();
        cases.push(case_json(&out, &cubes, json!({})));
    }
    // A real selection streamed in small blocks reads back as the in-memory one.
    let out = tmp.path().join("streamed.zarr");
    let cubes = streamed(&out, 40_000);
    cases.push(case_json(&out, &cubes, json!({"Conventions": "CF-1.6"})));
    let manifest = tmp.path().join("cases.json");
    std::fs::write(&manifest, serde_json::to_vec(&cases).unwrap()).unwrap();
    let run = std::process::Command::new(&python)
        .args(["-c", PY_CHECK])
        .arg(&manifest)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "python check failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(stdout.starts_with("OK 12"), "{stdout}");
}

/// Streams 80 hours x 17 x 13 of the per-file packed ERA5 netCDF3 set to `out` (chunks of at
/// most 10,000 bytes, blocks within `budget`); returns the in-memory read of the same selection.
fn streamed(out: &Path, budget: usize) -> Vec<DataCube> {
    let mut w = ZarrWriter::new(out, &attrs(json!({"Conventions": "CF-1.6"})), 10_000);
    common::nc3_read_and_stream("zarr-streamed", budget, &mut w)
}

#[test]
fn streamed_group_equals_the_in_memory_one() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("s.zarr");
    let whole = streamed(&out, 40_000);
    let c = &whole[0];
    assert_eq!(c.shape, [80, 17, 13]);
    let (shape, v) = read_array(&out.join("t2m"));
    assert_eq!(shape, c.shape);
    assert_same(&v, &c.values, "t2m");
    // Blocks of whole chunks: 10,000 bytes hold 5 rows of 17 x 13.
    let doc = read_json(&out.join("t2m/zarr.json"));
    assert_eq!(
        doc["chunk_grid"]["configuration"]["chunk_shape"],
        json!([5, 17, 13])
    );
    for (d, coords) in c.dims.iter().zip(&c.coords) {
        assert_same(&read_array(&out.join(d)).1, coords, d);
    }
    // Nothing but the group is left.
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1);
}

#[test]
fn unfinished_stream_leaves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("s.zarr");
    let mut w = ZarrWriter::new(&out, &Attrs::new(), 1000);
    w.begin(&[DataCube {
        values: Vec::new(),
        ..cube3()
    }])
    .unwrap();
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1);
    drop(w);
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
}

#[test]
fn arrays_sharing_the_first_dimension_share_its_chunk_length() {
    // 240 bytes hold one row of t2m (30 values) but all 4 of count: both get 1-row chunks.
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("s.zarr");
    let cubes = [cube3(), cube1()];
    let mut w = ZarrWriter::new(&out, &Attrs::new(), 240);
    let layout: Vec<DataCube> = cubes
        .iter()
        .map(|c| DataCube {
            values: Vec::new(),
            ..c.clone()
        })
        .collect();
    w.begin(&layout).unwrap();
    assert_eq!((w.granule(0), w.granule(1)), (1, 1));
    for row in 0..4 {
        for (var, c) in cubes.iter().enumerate() {
            let n = c.values.len() / 4;
            w.block(hod_query::sink::Block {
                var,
                rows: row..row + 1,
                values: c.values[row * n..(row + 1) * n].to_vec(),
            })
            .unwrap();
        }
    }
    w.finish().unwrap();
    for c in &cubes {
        let (shape, v) = read_array(&out.join(&c.name));
        assert_eq!(shape, c.shape);
        assert_same(&v, &c.values, &c.name);
    }
    let doc = read_json(&out.join("count/zarr.json"));
    assert_eq!(doc["chunk_grid"]["configuration"]["chunk_shape"], json!([1]));
}
