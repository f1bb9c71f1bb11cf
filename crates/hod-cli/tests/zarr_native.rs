//! Native Zarr v3 stores read through the same selection API as ingested datasets: stores written
//! by zarr-python 3 (through xarray, one per codec/chunking variant) equal xarray's `.sel` on them
//! and reproduce era5-daily-REFERENCE.md's bbox mean; our own `hod read -o x.zarr` output reads
//! back; a store on S3; and the errors. The zarr-python part needs the interop Python
//! (`HOD_PYTHON`; skipped without it unless `HOD_REQUIRE_INTEROP=1`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hod_query::{Bbox, Request};
use hod_store::Store;
use hod_store::testing::S3Server;
use hod_testkit::npy::write_f64 as write_npy;
use hod_testkit::python::interop as python;
use hod_testkit::rng::Lcg;
use hod_testkit::{cli, data};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;

/// era5-daily-REFERENCE.md: bbox mean of t2m over lon 0..2, lat 51..53, 2019-03-10T00..12T23.
const REFERENCE_BBOX_MEAN: f64 = 279.666_974_291_389_35;
const BBOX_ARGS: [&str; 8] = [
    "--var",
    "t2m",
    "--start",
    "2019-03-10T00",
    "--end",
    "2019-03-12T23",
    "--bbox",
    "0,51,2,53",
];

fn nc4_files() -> Vec<String> {
    data::files("era5-daily-nc4", "nc")
}

fn script() -> PathBuf {
    hod_testkit::python::script("zarr_native.py")
}

/// Runs `hod`; returns success, stdout and stderr.
fn hod(args: &[&str], envs: &[(&str, String)]) -> (bool, String, String) {
    cli::output(
        Command::new(env!("CARGO_BIN_EXE_hod"))
            .args(args)
            .envs(envs.iter().map(|(k, v)| (*k, v.as_str()))),
    )
}

/// `hod read <target> <args> --stats --json` → the statistics of the one variable read.
fn stats(pre: &[&str], target: &str, args: &[&str], envs: &[(&str, String)]) -> Value {
    let mut all = pre.to_vec();
    all.extend(["--json", "read", target]);
    all.extend(args);
    all.push("--stats");
    let (ok, out, err) = hod(&all, envs);
    assert!(ok, "hod {all:?} failed: {err}");
    let all: serde_json::Map<String, Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(all.len(), 1, "one variable expected: {out}");
    all.into_iter().next().unwrap().1
}

fn assert_reference(s: &Value, what: &str) {
    assert_eq!(s["shape"], json!([72, 9, 9]), "{what}");
    assert_eq!(s["count"], json!(5832), "{what}");
    let mean = s["mean"].as_f64().unwrap();
    assert!((mean - REFERENCE_BBOX_MEAN).abs() < 1e-9, "{what}: mean {mean}");
}

/// Random selections of `zarr` read with the library API, checked by xarray on the same store.
async fn selections_equal_xarray(python: &Path, zarr: &Path, seed: u64) {
    let (store, meta) = hod_index::open(
        &Store::open("memory://unused").unwrap(),
        &zarr.display().to_string(),
    )
    .await
    .unwrap();
    let dump = tempfile::tempdir().unwrap();
    let mut rng = Lcg(seed);
    let mut selections = Vec::new();
    for i in 0..30 {
        let t0 = rng.next(744);
        let t1 = (t0 + rng.next(100)).min(743);
        let s = 50.0 + rng.next(33) as f64 * 0.25 - if i % 5 == 0 { 0.1 } else { 0.0 };
        let n = (s + (1 + rng.next(14)) as f64 * 0.25 + if i % 7 == 0 { 0.13 } else { 0.0 }).min(58.0);
        let w = -10.0 + rng.next(49) as f64 * 0.25;
        let e = (w + rng.next(24) as f64 * 0.25).min(2.0);
        let start = 1_551_398_400.0 + t0 as f64 * 3600.0; // 2019-03-01T00:00:00Z
        let end = 1_551_398_400.0 + t1 as f64 * 3600.0;
        let req = Request {
            vars: vec!["t2m".into()],
            start: Some(start),
            end: Some(end),
            bbox: Some(Bbox {
                west: w,
                south: s,
                east: e,
                north: n,
            }),
            ..Default::default()
        };
        let cube = hod_query::read(&store, &meta, &req).await.unwrap().remove(0);
        let npy = format!("s{i}.npy");
        write_npy(&dump.path().join(&npy), &cube.shape, &cube.values);
        selections.push(json!({
            "start": hod_core::time::format_unix_seconds(start),
            "end": hod_core::time::format_unix_seconds(end),
            "bbox": [w, s, e, n],
            "npy": npy,
        }));
    }
    let spec = json!({"zarr": zarr, "var": "t2m", "time_dim": "valid_time", "selections": selections});
    std::fs::write(dump.path().join("selections.json"), spec.to_string()).unwrap();
    let args = ["compare".to_string(), dump.path().display().to_string()];
    hod_testkit::python::run_script(python, "zarr_native.py", &args);
}

/// zarr-python's variants of the nc4 set, written under `dir` by the interop script: their names.
fn make_stores(python: &Path, dir: &Path) -> Vec<String> {
    let out = Command::new(python)
        .arg(script())
        .arg("make")
        .arg(dir)
        .args(nc4_files())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// zarr-python's stores: zstd (its default), gzip without consolidated metadata, blosc (lz4 +
/// bitshuffle, zstd + shuffle), sharding, transpose + big-endian + crc32c, v2 chunk keys; each
/// with its own chunking, different from the source files' (1, 33, 49).
#[tokio::test(flavor = "multi_thread")]
async fn zarr_python_stores_equal_xarray() {
    let Some(python) = python() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let variants = make_stores(&python, tmp.path());
    assert_eq!(variants.len(), 7);
    for (k, v) in variants.iter().enumerate() {
        let path = tmp.path().join(format!("{v}.zarr"));
        let s = stats(&[], &path.display().to_string(), &BBOX_ARGS, &[]);
        assert_reference(&s, v);
        selections_equal_xarray(&python, &path, 7 + k as u64).await;
    }
    // A chunk object that is not stored reads as the array's fill_value, as in zarr-python:
    // -1.5 for a plain zarr-python array (not a missing value there)…
    let gzip = tmp.path().join("gzip.zarr");
    let out = Command::new(&python)
        .arg(script())
        .args(["stats".as_ref(), gzip.as_os_str(), "mask".as_ref()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let xarray: Value = serde_json::from_slice(&out.stdout).unwrap();
    let ours = stats(&[], &gzip.display().to_string(), &["--var", "mask"], &[]);
    assert!(
        !gzip.join("mask/c/0").exists(),
        "zarr-python left out the chunks of fill values"
    );
    assert_eq!(ours, xarray, "mask");
    // … and NaN (missing) for t2m, whose fill_value is its _FillValue.
    std::fs::remove_file(gzip.join("t2m/c/10/1/1")).unwrap();
    selections_equal_xarray(&python, &gzip, 99).await;
    let whole = stats(&[], &gzip.display().to_string(), &["--var", "t2m"], &[]);
    assert_eq!(whole["count"], json!(744 * 33 * 49 - 24 * 16 * 16));
}

/// Ingests the netCDF4 set and writes the reference selection to `dir/sel.zarr`; returns the
/// store path and the statistics of the ingested read.
fn own_output(dir: &Path) -> (PathBuf, Value) {
    let store = dir.join("store");
    let store_s = store.display().to_string();
    let mut args = vec!["--store", &store_s, "ingest", "nc4"];
    let files = nc4_files();
    args.extend(files.iter().map(String::as_str));
    let (ok, _, err) = hod(&args, &[]);
    assert!(ok, "{err}");
    let out = dir.join("sel.zarr");
    let out_s = out.display().to_string();
    let mut args = vec!["--store", &store_s, "read", "nc4"];
    args.extend(BBOX_ARGS);
    args.extend(["-o", &out_s]);
    let (ok, _, err) = hod(&args, &[]);
    assert!(ok, "{err}");
    let ingested = stats(&["--store", &store_s], "nc4", &BBOX_ARGS, &[]);
    assert_reference(&ingested, "ingested nc4");
    (store, ingested)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// Our own `.zarr` output reads back with the same values, by path and as a group in the store.
#[test]
fn own_zarr_output_reads_back() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, ingested) = own_output(tmp.path());
    let sel = tmp.path().join("sel.zarr").display().to_string();
    assert_eq!(stats(&[], &sel, &BBOX_ARGS, &[]), ingested);
    assert_eq!(stats(&[], &sel, &[], &[]), ingested, "every data variable");
    // A sub-selection of the output equals the same sub-selection of the ingested dataset.
    let sub = [
        "--start",
        "2019-03-11T06",
        "--end",
        "2019-03-11T18",
        "--bbox",
        "0.5,51.5,1.25,52",
    ];
    let store_s = store.display().to_string();
    assert_eq!(
        stats(&[], &sel, &sub, &[]),
        stats(&["--store", &store_s], "nc4", &sub, &[])
    );
    // The same group stored in the store under a name.
    copy_dir(&tmp.path().join("sel.zarr"), &store.join("mine"));
    assert_eq!(stats(&["--store", &store_s], "mine", &BBOX_ARGS, &[]), ingested);
    let (ok, info, err) = hod(&["--store", &store_s, "--json", "info", "mine"], &[]);
    assert!(ok, "{err}");
    let info: Value = serde_json::from_str(&info).unwrap();
    assert_eq!(info["source_format"], json!("zarr"));
    assert_eq!(info["variables"]["t2m"]["shape"], json!([72, 9, 9]));
    assert_eq!(
        info["coords"]["valid_time"]["first"],
        json!("2019-03-10T00:00:00")
    );
    let (ok, list, err) = hod(&["--store", &store_s, "--json", "list"], &[]);
    assert!(ok, "{err}");
    let list: Value = serde_json::from_str(&list).unwrap();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["nc4", "mine"]);
    assert_eq!(
        list[1]["dims"],
        json!({"valid_time": 72, "latitude": 9, "longitude": 9})
    );
}

/// Broken or unsupported stores fail with errors that say what and where.
#[test]
fn errors_name_the_object_and_the_problem() {
    let tmp = tempfile::tempdir().unwrap();
    own_output(tmp.path());
    let good = tmp.path().join("sel.zarr");
    let fresh = |name: &str| {
        let p = tmp.path().join(name);
        copy_dir(&good, &p);
        p
    };
    let fail = |p: &Path, args: &[&str]| {
        let target = p.display().to_string();
        let mut all = vec!["read", target.as_str()];
        all.extend(args);
        all.push("--stats");
        let (ok, _, err) = hod(&all, &[]);
        assert!(!ok, "hod {all:?} succeeded");
        err
    };
    // An unsupported codec, named with the array.
    let p = fresh("codec.zarr");
    let root = p.join("zarr.json");
    let mut doc: Value = serde_json::from_slice(&std::fs::read(&root).unwrap()).unwrap();
    doc["consolidated_metadata"]["metadata"]["t2m"]["codecs"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "bitround", "configuration": {"keepbits": 8}}));
    std::fs::write(&root, doc.to_string()).unwrap();
    let err = fail(&p, &[]);
    assert!(
        err.contains("t2m/zarr.json") && err.contains("'bitround' is not supported"),
        "{err}"
    );
    // A zarr.json that is not JSON.
    let p = fresh("corrupt.zarr");
    std::fs::write(p.join("zarr.json"), "{\"zarr_format\": 3, \"node_").unwrap();
    let err = fail(&p, &[]);
    assert!(
        err.contains("corrupt.zarr/zarr.json") && err.contains("not valid JSON"),
        "{err}"
    );
    // A truncated chunk object: the decode error names it.
    let p = fresh("truncated.zarr");
    let chunk = p.join("t2m/c/0/0/0");
    let bytes = std::fs::read(&chunk).unwrap();
    std::fs::write(&chunk, &bytes[..bytes.len() / 2]).unwrap();
    let err = fail(&p, &["--var", "t2m"]);
    assert!(
        err.contains("truncated.zarr/t2m/c/0/0/0") && err.contains("gzip"),
        "{err}"
    );
    // A missing chunk object is not an error: it holds the fill value.
    let p = fresh("missing.zarr");
    std::fs::remove_file(p.join("t2m/c/0/0/0")).unwrap();
    let s = stats(&[], &p.display().to_string(), &["--var", "t2m"], &[]);
    assert_eq!(
        (s["shape"].clone(), s["count"].clone()),
        (json!([72, 9, 9]), json!(0))
    );
    // Zarr v2 and nothing at all.
    let p = tmp.path().join("v2.zarr");
    std::fs::create_dir_all(&p).unwrap();
    std::fs::write(p.join(".zgroup"), "{\"zarr_format\": 2}").unwrap();
    let err = fail(&p, &[]);
    assert!(err.contains("Zarr v2"), "{err}");
    let err = fail(&tmp.path().join("nothing.zarr"), &[]);
    assert!(
        err.contains("no dataset named") && err.contains("nothing.zarr"),
        "{err}"
    );
}

/// A Zarr group in an S3 bucket, read by URL and as a dataset of an S3 store; with the interop
/// Python, a zarr-python sharded store too.
#[tokio::test(flavor = "multi_thread")]
async fn zarr_on_s3() {
    let Some(server) = S3Server::start_or_skip("zarr_on_s3") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (_, ingested) = own_output(tmp.path());
    let mut groups = vec![tmp.path().join("sel.zarr")];
    if let Some(python) = python() {
        make_stores(&python, tmp.path());
        groups.push(tmp.path().join("sharded.zarr"));
    }
    let bucket = Store::open_with(&server.url("zarr"), &server.options()).unwrap();
    for g in &groups {
        let name = g.file_name().unwrap().to_string_lossy().into_owned();
        for f in walk(g) {
            let rel = f.strip_prefix(g).unwrap().display().to_string();
            bucket.put_file(&format!("{name}/{rel}"), &f).await.unwrap();
        }
        let url = format!("{}/{name}", server.url("zarr"));
        let s = stats(&[], &url, &BBOX_ARGS, &server.env());
        assert_eq!(s, ingested, "{url}");
        let s = stats(
            &["--store", &server.url("zarr")],
            &name,
            &BBOX_ARGS,
            &server.env(),
        );
        assert_eq!(s, ingested, "{name} in the S3 store");
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.file_type().unwrap().is_dir() {
            out.extend(walk(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}
