//! Reading a selection: hod vs `../shared/bench/peer_read.py` (xarray + kerchunk references of
//! the same files), from the local store and from a loopback S3 server (s3s-fs), in one run.
//!
//! Ours is measured twice: the library in this process (`read_meta` + `read`, median wall time),
//! and the release `hod` binary as a child process (`hod read --stats --json`, median wall time
//! including process start, and its peak RSS from the kernel via `/usr/bin/time`). The peer's
//! time is its in-process median of open + select + load (its Python start and imports are not
//! counted); its peak RSS is the whole process's. Ratios: peer time / ours (library), and ours
//! (process) / peer peak RSS.
//!
//! ```sh
//! cargo build --release -p hod-cli     # the binary measured as a child (else: library only)
//! cargo bench -p hod-query --bench read_vs_xarray
//! ```
//! Peer: `$HOD_PEERS_PYTHON` (default `/tmp/peers-venv/bin/python`, from setup-peers.sh: xarray,
//! kerchunk, zarr, s3fs, psutil). S3 needs `s3s-fs` (see hod_store::testing).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use hod_query::{Bbox, Request, parse_time, read};
use hod_store::Store;
use hod_store::testing::S3Server;
use hod_testkit::bench::median;
use hod_testkit::python;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const REPEAT: usize = 5;

/// One selection of the bench.
struct Selection {
    label: &'static str,
    start: &'static str,
    end: &'static str,
    bbox: Option<[f64; 4]>,
}

const SELECTIONS: [Selection; 2] = [
    Selection {
        label: "bbox 72 × 9 × 9 (3 files)",
        start: "2019-03-10T00",
        end: "2019-03-12T23",
        bbox: Some([0.0, 51.0, 2.0, 53.0]),
    },
    Selection {
        label: "whole month 744 × 33 × 49",
        start: "2019-03-01T00",
        end: "2019-03-31T23",
        bbox: None,
    },
];

/// Where the dataset lives, for the library, the binary and the peer.
struct Place<'a> {
    name: &'static str,
    store: Store,
    /// `--store` of the binary.
    url: String,
    /// Environment of the binary and the peer (S3 endpoint and credentials).
    env: Vec<(&'static str, String)>,
    refs: PathBuf,
    s3: bool,
    _server: Option<&'a S3Server>,
}

/// Median wall seconds and peak RSS (bytes) of `hod read --stats --json` as a child process.
fn hod_process(bin: &Path, place: &Place, sel: &Selection) -> (f64, u64, f64) {
    let mut walls = Vec::new();
    let mut rss = 0u64;
    let mut mean = f64::NAN;
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("rss");
    for _ in 0..REPEAT {
        let mut cmd = Command::new("/usr/bin/time");
        cmd.arg("-f")
            .arg("%M")
            .arg("-o")
            .arg(&report)
            .arg(bin)
            .args([
                "--store", &place.url, "read", "nc4", "--var", "t2m", "--stats", "--json",
            ])
            .args(["--start", sel.start, "--end", sel.end])
            .envs(place.env.iter().cloned());
        if let Some([w, s, e, n]) = sel.bbox {
            cmd.arg("--bbox").arg(format!("{w},{s},{e},{n}"));
        }
        let t = Instant::now();
        let out = cmd.output().unwrap();
        walls.push(t.elapsed().as_secs_f64());
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        mean = v["t2m"]["mean"].as_f64().unwrap();
        let kb: u64 = std::fs::read_to_string(&report)
            .unwrap()
            .lines()
            .last()
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        rss = rss.max(kb * 1024);
    }
    (median(walls), rss, mean)
}

/// The peer's median open + select + load seconds, peak RSS (MB) and mean.
fn peer(python: &str, script: &Path, place: &Place, sel: &Selection) -> Option<(f64, f64, f64)> {
    let mut cmd = Command::new(python);
    cmd.arg(script)
        .arg(&place.refs)
        .args(["--vars", "t2m", "--time", sel.start, sel.end])
        .args(["--repeat", &REPEAT.to_string()])
        .envs(place.env.iter().cloned());
    if place.s3 {
        cmd.arg("--s3");
    }
    if let Some([w, s, e, n]) = sel.bbox {
        cmd.arg("--bbox").args([w, s, e, n].iter().map(|x| x.to_string()));
    }
    let out = cmd.output().ok()?;
    if !out.status.success() {
        eprintln!("peer failed: {}", String::from_utf8_lossy(&out.stderr));
        return None;
    }
    let line = String::from_utf8_lossy(&out.stdout).lines().last()?.to_string();
    let v: serde_json::Value = serde_json::from_str(&line).ok()?;
    let t = &v["timings"];
    Some((
        t["open_s"]["median"].as_f64()? + t["select_load_s"]["median"].as_f64()?,
        v["peak_rss_mb"].as_f64()?,
        v["means"]["t2m"].as_f64()?,
    ))
}

/// Wall seconds and peak RSS (bytes) of `hod read` of the whole month to `.nc` within `budget`.
fn hod_to_nc(bin: &Path, place: &Place, budget: &str) -> (f64, u64) {
    let dir = tempfile::tempdir().unwrap();
    let (report, out) = (dir.path().join("rss"), dir.path().join("month.nc"));
    let t = Instant::now();
    let run = Command::new("/usr/bin/time")
        .arg("-f")
        .arg("%M")
        .arg("-o")
        .arg(&report)
        .arg(bin)
        .args([
            "--store",
            &place.url,
            "read",
            "nc4",
            "--var",
            "t2m",
            "--max-memory",
            budget,
            "-o",
        ])
        .arg(&out)
        .envs(place.env.iter().cloned())
        .output()
        .unwrap();
    let wall = t.elapsed().as_secs_f64();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let kb: u64 = std::fs::read_to_string(&report)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    (wall, kb * 1024)
}

fn main() {
    let python = python::peers().display().to_string();
    let script = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/bench/peer_read.py"
    ));
    let bin = std::env::var_os("HOD_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../target/release/hod")));
    let bin = (bin.exists() && Path::new("/usr/bin/time").exists()).then_some(bin);
    if bin.is_none() {
        println!(
            "no release hod binary (cargo build --release -p hod-cli) or /usr/bin/time: library figures only"
        );
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let files = hod_testkit::data::files("era5-daily-nc4", "nc");

    let server = S3Server::start();
    if server.is_none() {
        println!("no s3s-fs: local store only");
    }
    let mut places = Vec::new();
    let local = dir.path().join("store");
    places.push(Place {
        name: "local",
        store: Store::open(&local.display().to_string()).unwrap(),
        url: local.display().to_string(),
        env: Vec::new(),
        refs: dir.path().join("refs-local.json"),
        s3: false,
        _server: None,
    });
    if let Some(s) = &server {
        places.push(Place {
            name: "S3 (s3s-fs)",
            store: Store::open_with(&s.url("bench"), &s.options()).unwrap(),
            url: s.url("bench"),
            env: s.env(),
            refs: dir.path().join("refs-s3.json"),
            s3: true,
            _server: Some(s),
        });
    }
    println!(
        "| selection | store | hod library | hod process | hod peak RSS | xarray + kerchunk | peer peak RSS | time ratio | RSS ratio |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for place in &places {
        // On S3 the files are uploaded into the store, and the references point there.
        let opts = hod_index::IngestOptions {
            copy: place.s3,
            ..Default::default()
        };
        rt.block_on(hod_index::ingest(
            &place.store,
            "nc4",
            &files,
            &opts,
            &hod_index::Quiet,
        ))
        .unwrap();
        let meta = rt.block_on(hod_index::read_meta(&place.store, "nc4")).unwrap();
        let refs = rt
            .block_on(hod_index::kerchunk_refs(&place.store, &meta, false))
            .unwrap();
        std::fs::write(&place.refs, refs.to_string()).unwrap();
        for sel in &SELECTIONS {
            let req = Request {
                vars: vec!["t2m".into()],
                start: Some(parse_time(sel.start).unwrap()),
                end: Some(parse_time(sel.end).unwrap()),
                bbox: sel.bbox.map(|[w, s, e, n]| Bbox {
                    west: w,
                    south: s,
                    east: e,
                    north: n,
                }),
                ..Default::default()
            };
            let mut lib = Vec::new();
            let mut mean = f64::NAN;
            for _ in 0..REPEAT {
                let t = Instant::now();
                let meta = rt.block_on(hod_index::read_meta(&place.store, "nc4")).unwrap();
                let cube = rt.block_on(read(&place.store, &meta, &req)).unwrap().remove(0);
                lib.push(t.elapsed().as_secs_f64());
                mean = cube.stats().mean.unwrap();
            }
            let lib = median(lib);
            let process = bin.as_ref().map(|b| hod_process(b, place, sel));
            let theirs = peer(&python, &script, place, sel);
            let ms = |s: f64| format!("{:.1} ms", s * 1e3);
            let mb = |b: f64| format!("{b:.0} MB");
            let (p_wall, p_rss) = match process {
                Some((w, r, m)) => {
                    assert!((m - mean).abs() < 1e-9, "process mean {m} vs library {mean}");
                    (ms(w), Some(r as f64 / 1e6))
                }
                None => ("-".into(), None),
            };
            let (peer_t, peer_rss, ratio_t, ratio_rss) = match theirs {
                Some((t, rss, m)) => {
                    assert!((m - mean).abs() < 1e-6, "peer mean {m} vs ours {mean}");
                    (
                        ms(t),
                        mb(rss),
                        format!("**{:.1}×**", t / lib),
                        p_rss.map_or("-".into(), |r| format!("**1/{:.1}**", rss / r)),
                    )
                }
                None => ("peer failed".into(), "-".into(), "-".into(), "-".into()),
            };
            println!(
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                sel.label,
                place.name,
                ms(lib),
                p_wall,
                p_rss.map_or("-".into(), mb),
                peer_t,
                peer_rss,
                ratio_t,
                ratio_rss
            );
        }
    }
    let Some(bin) = bin else { return };
    println!("\n| whole month to .nc (9.6 MB of values) | store | --max-memory | wall | peak RSS |");
    println!("|---|---|---|---|---|");
    for place in &places {
        for budget in ["1GiB", "16MiB", "4MiB"] {
            let (wall, rss) = hod_to_nc(&bin, place, budget);
            println!(
                "| hod read -o month.nc | {} | {budget} | {:.1} ms | {:.0} MB |",
                place.name,
                wall * 1e3,
                rss as f64 / 1e6
            );
        }
    }
}
