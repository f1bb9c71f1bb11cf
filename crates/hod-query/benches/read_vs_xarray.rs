//! Reading a selection: `hod_query::read` (open the dataset + plan + fetch + decode) vs
//! `../shared/bench/peer_read.py` (xarray + kerchunk references of the same files), from the
//! local store, in one run. Prints wall time per selection and the ratio.
//!
//! `cargo bench -p hod-query --bench read_vs_xarray` (peer: `$HOD_PYTHON`, default
//! `/tmp/hod-venv/bin/python`, with xarray, kerchunk, zarr and psutil).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use hod_query::{Bbox, Request, parse_time, read};
use std::path::PathBuf;
use std::time::Instant;

const REPEAT: usize = 5;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let data = std::env::var_os("HOD_TEST_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data")));
    let python = std::env::var("HOD_PYTHON").unwrap_or_else(|_| "/tmp/hod-venv/bin/python".into());
    let peer = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/bench/peer_read.py"
    ));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = hod_store::Store::open(&dir.path().display().to_string()).unwrap();
    let mut files: Vec<String> = std::fs::read_dir(data.join("era5-daily-nc4"))
        .unwrap()
        .flatten()
        .map(|e| e.path().display().to_string())
        .collect();
    files.sort();
    rt.block_on(hod_index::ingest(
        &store,
        "nc4",
        &files,
        &Default::default(),
        &hod_index::Quiet,
    ))
    .unwrap();
    let meta = rt.block_on(hod_index::read_meta(&store, "nc4")).unwrap();
    let refs = rt
        .block_on(hod_index::kerchunk_refs(&store, &meta, false))
        .unwrap();
    let refs_path = dir.path().join("refs.json");
    std::fs::write(&refs_path, refs.to_string()).unwrap();

    for (label, start, end, bbox) in [
        (
            "bbox 72x9x9 (3 files)",
            "2019-03-10T00",
            "2019-03-12T23",
            Some([0.0, 51.0, 2.0, 53.0]),
        ),
        ("whole month 744x33x49", "2019-03-01T00", "2019-03-31T23", None),
    ] {
        let req = Request {
            vars: vec!["t2m".into()],
            start: Some(parse_time(start).unwrap()),
            end: Some(parse_time(end).unwrap()),
            bbox: bbox.map(|[w, s, e, n]| Bbox {
                west: w,
                south: s,
                east: e,
                north: n,
            }),
            ..Default::default()
        };
        let mut ours = Vec::new();
        let mut sum = 0.0;
        for _ in 0..REPEAT {
            let t = Instant::now();
            let meta = rt.block_on(hod_index::read_meta(&store, "nc4")).unwrap();
            let cube = rt.block_on(read(&store, &meta, &req)).unwrap().remove(0);
            ours.push(t.elapsed().as_secs_f64());
            sum = cube.values.iter().filter(|v| !v.is_nan()).sum::<f64>();
        }
        let ours = median(ours);
        let mut cmd = std::process::Command::new(&python);
        cmd.arg(&peer).arg(&refs_path).args([
            "--vars",
            "t2m",
            "--time",
            start,
            end,
            "--repeat",
            &REPEAT.to_string(),
        ]);
        if let Some([w, s, e, n]) = bbox {
            cmd.args([
                "--bbox",
                &w.to_string(),
                &s.to_string(),
                &e.to_string(),
                &n.to_string(),
            ]);
        }
        let peer_s = cmd.output().ok().filter(|o| o.status.success()).and_then(|o| {
            let line = String::from_utf8_lossy(&o.stdout).lines().last()?.to_string();
            let v: serde_json::Value = serde_json::from_str(&line).ok()?;
            let t = &v["timings"];
            Some((
                t["open_s"]["median"].as_f64()? + t["select_load_s"]["median"].as_f64()?,
                v["peak_rss_mb"].as_f64().unwrap_or(f64::NAN),
            ))
        });
        match peer_s {
            Some((p, rss)) => println!(
                "{label}: hod {:.2} ms, xarray+kerchunk {:.2} ms (peak RSS {rss:.0} MB), ratio {:.1}x (sum {sum:.3})",
                ours * 1e3,
                p * 1e3,
                p / ours
            ),
            None => println!("{label}: hod {:.2} ms; peer not available", ours * 1e3),
        }
    }
}
