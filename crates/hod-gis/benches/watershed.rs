//! Watershed delineation, ours vs pysheds (`../shared/bench/peer_watershed.py`) and Whitebox
//! Workflows (`benches/peer_whitebox.py`, the Rust successor of WhiteboxTools), in one run on the
//! same DEMs: `dem/dem.tif` (pysheds test DEM, 359 × 367) and a synthetic fractal DEM written as
//! GeoTIFF. Steps: read, fill, flats + D8, accumulation, snap, catchment. Each of our cases runs
//! in a child process of its own, so its peak RSS (VmHWM) is its own, once before and once after
//! the peers; times are the fastest run on each side (the box is shared).
//!
//! `cargo bench -p hod-gis --bench watershed` (peers: `$HOD_PEERS_PYTHON`, default
//! `/tmp/peers-venv/bin/python`, with pysheds and whitebox_workflows; each is reported "not
//! installed" when missing). `HOD_WS_MEDIUM` sets the side of the synthetic DEM all run (default
//! 5000: 2.5·10⁷ cells, about 4.5 GB for pysheds at ≈ 180 B per cell), `HOD_WS_LARGE` the side of
//! the large DEM run by us alone (default 10000: 10⁸ cells, 0 skips it). For pysheds at 10⁸ cells
//! on the GeoTIFF: `HOD_WS_DEMTIF=0 HOD_WS_MEDIUM=10000 HOD_WS_LARGE=0 HOD_WS_PEERS=pysheds
//! HOD_WS_PEER_REPEAT=0 HOD_WS_PEER_RSS_MIB=14336` (pysheds took ≈ 94 B per cell at 2.5·10⁷
//! cells; the cap kills it rather than let it take the shared box's memory).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use hod_gis::dem::{accumulation, catchment, fill, flowdir, snap, to_f32};
use hod_gis::{GridGeometry, Raster, geotiff};
use hod_testkit::python;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// Fastest of the runs: the box is shared, and other jobs only ever add time.
fn fastest(v: Vec<f64>) -> f64 {
    v.into_iter().fold(f64::INFINITY, f64::min)
}

fn peak_rss_mb() -> f64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Fractal (multi-octave value noise) terrain on a tilted plane, rounded to whole metres like an
/// integer DEM, so it has depressions and flats.
fn fractal(side: usize) -> Raster<f32> {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut rnd = move || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 40) as f32 / (1u64 << 24) as f32
    };
    let mut z = vec![0f32; side * side];
    let octaves = 9;
    for o in 0..octaves {
        let cells = 2usize << o; // lattice cells per side
        let lattice: Vec<f32> = (0..(cells + 1) * (cells + 1)).map(|_| rnd()).collect();
        let amp = 600.0 / (1u32 << o) as f32;
        let scale = cells as f32 / side as f32;
        for r in 0..side {
            let fy = r as f32 * scale;
            let (iy, ty) = (fy as usize, fy.fract());
            let row = &mut z[r * side..(r + 1) * side];
            for (c, v) in row.iter_mut().enumerate() {
                let fx = c as f32 * scale;
                let (ix, tx) = (fx as usize, fx.fract());
                let at = |y: usize, x: usize| lattice[y * (cells + 1) + x];
                let top = at(iy, ix) * (1.0 - tx) + at(iy, ix + 1) * tx;
                let bot = at(iy + 1, ix) * (1.0 - tx) + at(iy + 1, ix + 1) * tx;
                *v += amp * (top * (1.0 - ty) + bot * ty);
            }
        }
    }
    for (i, v) in z.iter_mut().enumerate() {
        let (r, c) = (i / side, i % side);
        *v = (*v + 0.01 * (r + c) as f32).round();
    }
    let geom = GridGeometry {
        cols: side,
        rows: side,
        x0: 500_000.0,
        y0: 5_000_000.0,
        dx: 30.0,
        dy: 30.0,
        crs: Some("EPSG:32633".into()),
    };
    Raster {
        geom,
        data: z,
        nodata: Some(f64::NAN),
    }
}

/// One of our runs: every step timed; JSON on stdout.
fn child(case: &str, repeat: usize, pour: Option<(f64, f64)>, threshold: Option<f64>) {
    let mut runs: Vec<Vec<(&str, f64)>> = Vec::new();
    let mut info = json!({});
    for _ in 0..repeat {
        let mut t = Vec::new();
        let s = Instant::now();
        let mut dem = if let Some(side) = case.strip_prefix("synthetic:") {
            fractal(side.parse().unwrap())
        } else {
            to_f32(&geotiff::read(case, &std::fs::read(case).unwrap()).unwrap())
        };
        t.push(("read_s", s.elapsed().as_secs_f64()));
        let s = Instant::now();
        fill::fill_depressions(&mut dem).unwrap();
        t.push(("fill_s", s.elapsed().as_secs_f64()));
        let s = Instant::now();
        let dirs = flowdir::d8(&dem).unwrap();
        t.push(("flats_flowdir_s", s.elapsed().as_secs_f64()));
        drop(dem);
        let s = Instant::now();
        let acc = accumulation::cells(&dirs).unwrap();
        t.push(("accumulation_s", s.elapsed().as_secs_f64()));
        let g = dirs.geom.clone();
        let max = acc.data.iter().copied().filter(|&a| a != u32::MAX).max().unwrap();
        let thr = threshold.unwrap_or((0.01 * f64::from(max)).max(1.0));
        let (x, y) = pour.unwrap_or_else(|| {
            // The interior cell of highest accumulation, as the peer script picks.
            let (mut best, mut at) = (0, (1, 1));
            for r in 1..g.rows - 1 {
                for c in 1..g.cols - 1 {
                    let a = acc.data[r * g.cols + c];
                    if a != u32::MAX && a > best {
                        (best, at) = (a, (r, c));
                    }
                }
            }
            g.cell_center(at.0, at.1)
        });
        let s = Instant::now();
        let sn = snap::snap(&g, &acc.data, None, x, y, snap::Snap::Threshold(thr)).unwrap();
        t.push(("snap_s", s.elapsed().as_secs_f64()));
        let s = Instant::now();
        let b = catchment::basins(&dirs, &[sn.cell.0 * g.cols + sn.cell.1]).unwrap();
        t.push(("catchment_s", s.elapsed().as_secs_f64()));
        let total: f64 = t.iter().map(|x| x.1).sum();
        t.push(("total_s", total));
        info = json!({"cells": g.len(), "acc_max": max, "catchment_cells": b.cells[0], "snapped_cell": [sn.cell.0, sn.cell.1]});
        runs.push(t);
    }
    let mut timings = serde_json::Map::new();
    for (k, (name, _)) in runs[0].iter().enumerate() {
        timings.insert(
            name.to_string(),
            json!(fastest(runs.iter().map(|r| r[k].1).collect())),
        );
    }
    info["timings"] = Value::Object(timings);
    info["repeat"] = json!(repeat);
    info["peak_rss_mb"] = json!(peak_rss_mb());
    println!("{info}");
}

fn ours(case: &str, repeat: usize, pour: Option<(f64, f64)>, threshold: Option<f64>) -> Value {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.env("HOD_WS_CASE", case)
        .env("HOD_WS_REPEAT", repeat.to_string());
    if let Some((x, y)) = pour {
        cmd.env("HOD_WS_POUR", format!("{x},{y}"));
    }
    if let Some(t) = threshold {
        cmd.env("HOD_WS_THRESHOLD", t.to_string());
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Of two runs of ours (before and after the peer's), the faster; peak RSS is the same.
fn better(a: Value, b: Value) -> Value {
    let t = |v: &Value| v["timings"]["total_s"].as_f64().unwrap_or(f64::INFINITY);
    if t(&b) < t(&a) { b } else { a }
}

/// A peer script's JSON line, or `None` (with the reason on stderr) when it did not run.
fn peer(
    python: &str,
    script: &Path,
    dem: &Path,
    repeat: usize,
    pour: Option<(f64, f64)>,
    threshold: Option<f64>,
) -> Option<Value> {
    let mut cmd = Command::new(python);
    cmd.arg(script).arg(dem).arg("--repeat").arg(repeat.to_string());
    if let Some((x, y)) = pour {
        cmd.arg("--pour-point").arg(x.to_string()).arg(y.to_string());
    }
    if let Some(t) = threshold {
        cmd.arg("--acc-threshold").arg(t.to_string());
    }
    // `HOD_WS_PEER_RSS_MIB` caps a peer's resident memory: it is killed when it passes the cap,
    // so that a peer on a large DEM cannot run the shared box out of memory. (An address-space
    // cap, `prlimit --as`, kills numba at start-up: it reserves far more than it uses.)
    let cap: Option<u64> = std::env::var("HOD_WS_PEER_RSS_MIB")
        .ok()
        .and_then(|v| v.parse().ok());
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .ok()?;
    if let Some(cap) = cap {
        let status = format!("/proc/{}/status", child.id());
        while child.try_wait().ok()?.is_none() {
            let rss_kib = std::fs::read_to_string(&status)
                .unwrap_or_default()
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                .unwrap_or(0);
            if rss_kib > cap * 1024 {
                eprintln!(
                    "{}: killed at {} MiB (cap {cap} MiB)",
                    script.display(),
                    rss_kib / 1024
                );
                child.kill().ok()?;
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    }
    let out = child.wait_with_output().ok()?;
    if !out.status.success() {
        eprintln!(
            "{} failed: {}",
            script.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        return None;
    }
    let line = String::from_utf8_lossy(&out.stdout);
    let v: Value = serde_json::from_str(line.lines().last()?).ok()?;
    if let Some(e) = v.get("error") {
        println!("{}: {e}", script.display());
        return None;
    }
    Some(v)
}

fn report(name: &str, us: &Value, peers: &[(&str, Option<Value>)]) {
    let t = |v: &Value, k: &str| v["timings"][k].as_f64().unwrap_or(f64::NAN);
    let ours_total = t(us, "total_s");
    let ours_rss = us["peak_rss_mb"].as_f64().unwrap_or(f64::NAN);
    println!("== {name}: {} cells", us["cells"]);
    println!(
        "ours:    total {ours_total:.3} s  {}  peak RSS {ours_rss:.0} MiB  acc max {}  catchment {} cells",
        us["timings"], us["acc_max"], us["catchment_cells"]
    );
    for (who, p) in peers {
        let Some(p) = p else {
            println!("{who}: not run (not installed or failed)");
            continue;
        };
        // Fastest of the later runs, or the first run when there was only one.
        let min = |k: &str| {
            p["timings"][k]["min"]
                .as_f64()
                .or_else(|| p["first_run"][k].as_f64())
                .unwrap_or(0.0)
        };
        let total = min("total_s");
        let rss = p["peak_rss_mb"].as_f64().unwrap_or(f64::NAN);
        println!(
            "{who}: total {total:.3} s (fastest of {}; first run {:.3} s)  peak RSS {rss:.0} MiB  acc max {}  catchment {} cells  load {}",
            p["repeat"],
            p["first_run"]["total_s"].as_f64().unwrap_or(f64::NAN),
            p["acc_max"],
            p["catchment_cells"],
            p["loadavg_1m"]
        );
        println!(
            "ratio:   {who}/ours time {:.1}x, peak RSS {:.1}x",
            total / ours_total,
            rss / ours_rss
        );
        // pysheds splits filling (fill_pits + fill_depressions) and flats (resolve_flats +
        // flowdir); Whitebox fixes flats while filling and has no flats step.
        for (a, theirs) in [
            ("read_s", min("read_s")),
            ("fill_s", min("fill_pits_s") + min("fill_depressions_s")),
            ("flats_flowdir_s", min("resolve_flats_s") + min("flowdir_d8_s")),
            ("accumulation_s", min("accumulation_s")),
            ("snap_s", min("snap_s")),
            ("catchment_s", min("catchment_s")),
        ] {
            println!(
                "  {a:<16} ours {:.4} s  {who} {theirs:.4} s  ({:.1}x)",
                t(us, a),
                theirs / t(us, a)
            );
        }
    }
}

fn main() {
    if let Ok(case) = std::env::var("HOD_WS_CASE") {
        let repeat = std::env::var("HOD_WS_REPEAT")
            .ok()
            .and_then(|r| r.parse().ok())
            .unwrap_or(1);
        let pour = std::env::var("HOD_WS_POUR").ok().map(|p| {
            let v: Vec<f64> = p.split(',').map(|x| x.parse().unwrap()).collect();
            (v[0], v[1])
        });
        let thr = std::env::var("HOD_WS_THRESHOLD")
            .ok()
            .and_then(|t| t.parse().ok());
        child(&case, repeat, pour, thr);
        return;
    }
    let data = hod_testkit::data::root();
    let python = python::peers().display().to_string();
    let has_peer = Path::new(&python).exists();
    let pysheds_py = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/bench/peer_watershed.py"
    ));
    let whitebox_py = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/benches/peer_whitebox.py"));
    // `HOD_WS_PEERS`: which peers to run (default "pysheds,whitebox").
    let wanted = std::env::var("HOD_WS_PEERS").unwrap_or_else(|_| "pysheds,whitebox".into());
    let peers = |dem: &Path, repeat: usize, pour: Option<(f64, f64)>, thr: Option<f64>| {
        let run = |name: &str, script: &Path| {
            (has_peer && wanted.split(',').any(|w| w == name))
                .then(|| peer(&python, script, dem, repeat, pour, thr))
                .flatten()
        };
        vec![
            ("pysheds", run("pysheds", &pysheds_py)),
            ("whitebox", run("whitebox", &whitebox_py)),
        ]
    };
    let side = |k: &str, d: usize| std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(d);
    println!(
        "machine: {} cores, load {:?}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .next()
            .unwrap_or("")
    );

    // dem.tif with the pysheds README outlet (`HOD_WS_DEMTIF=0` skips it).
    if std::env::var("HOD_WS_DEMTIF").as_deref() != Ok("0") {
        let dem = data.join("dem/dem.tif");
        let pour = Some((-97.294, 32.737));
        let us = ours(&dem.display().to_string(), 5, pour, Some(1000.0));
        let them = peers(&dem, 3, pour, Some(1000.0));
        let us = better(us, ours(&dem.display().to_string(), 5, pour, Some(1000.0)));
        report("dem.tif (359 x 367)", &us, &them);
    }

    // A medium synthetic DEM both can run, through a GeoTIFF file.
    let dir = tempfile::tempdir().unwrap();
    let m = side("HOD_WS_MEDIUM", 5000);
    let path = dir.path().join(format!("fractal_{m}.tif"));
    geotiff::write("fractal", &fractal(m), std::fs::File::create(&path).unwrap()).unwrap();
    // `HOD_WS_PEER_REPEAT`: peer runs after the first on this DEM (default 1).
    let repeat = side("HOD_WS_PEER_REPEAT", 1);
    let us = ours(&path.display().to_string(), 2, None, None);
    let them = peers(&path, repeat, None, None);
    let us = better(us, ours(&path.display().to_string(), 2, None, None));
    report(&format!("synthetic fractal {m} x {m}"), &us, &them);

    // The large one, ours only (generated in memory; read_s is the generation).
    let l = side("HOD_WS_LARGE", 10_000);
    if l > 0 {
        let us = ours(&format!("synthetic:{l}"), 1, None, None);
        report(&format!("synthetic fractal {l} x {l} (ours only)"), &us, &[]);
    }
}
