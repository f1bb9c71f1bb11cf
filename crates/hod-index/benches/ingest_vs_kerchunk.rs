//! Ingest speed: `hod_index::ingest` (scan + combine + publish to a local store, files referenced
//! in place) vs kerchunk (`../shared/bench/peer_kerchunk.py`: scan + MultiZarrToZarr + write) on
//! the same files, in one run. Prints one line per set with both medians and the ratio.
//!
//! `cargo bench -p hod-index --bench ingest_vs_kerchunk` (the peer runs with `$HOD_PYTHON`,
//! default `/tmp/hod-venv/bin/python`; it needs kerchunk and h5py).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use hod_testkit::bench::median;
use hod_testkit::python;
use std::path::PathBuf;
use std::time::Instant;

const REPEAT: usize = 5;

fn main() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let python = python::interpreter().display().to_string();
    let peer = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/bench/peer_kerchunk.py"
    ));
    for (set, ext, dim) in [
        ("era5-daily-nc3", "nc", "time"),
        ("era5-daily-nc4", "nc", "valid_time"),
    ] {
        let files = hod_testkit::data::files(set, ext);
        let mut ours = Vec::new();
        for _ in 0..REPEAT {
            let dir = tempfile::tempdir().unwrap();
            let store = hod_store::Store::open(&dir.path().display().to_string()).unwrap();
            let t = Instant::now();
            rt.block_on(hod_index::ingest(
                &store,
                "d",
                &files,
                &Default::default(),
                &hod_index::Quiet,
            ))
            .unwrap();
            ours.push(t.elapsed().as_secs_f64());
        }
        let ours = median(ours);
        let out_json = std::env::temp_dir().join("hod-bench-kerchunk.json");
        let out = std::process::Command::new(&python)
            .arg(&peer)
            .args(&files)
            .args([
                "--out",
                &out_json.display().to_string(),
                "--concat-dim",
                dim,
                "--repeat",
                &REPEAT.to_string(),
            ])
            .output();
        let peer_s = out.ok().filter(|o| o.status.success()).and_then(|o| {
            let line = String::from_utf8_lossy(&o.stdout).lines().last()?.to_string();
            let v: serde_json::Value = serde_json::from_str(&line).ok()?;
            v["timings"]["total_s"]["median"].as_f64()
        });
        match peer_s {
            Some(p) => println!(
                "{set} ({} files): hod ingest {:.1} ms, kerchunk scan+combine {:.1} ms, ratio {:.1}x",
                files.len(),
                ours * 1e3,
                p * 1e3,
                p / ours
            ),
            None => println!(
                "{set} ({} files): hod ingest {:.1} ms; peer not available ({python})",
                files.len(),
                ours * 1e3
            ),
        }
    }
}
