//! Kriging benchmark: ours against PyKrige (`shared/bench/peer_kriging.py`) on the same 1,000
//! synthetic points onto a 200 × 200 grid, in one run.
//!
//! `cargo bench -p hod-gis --bench kriging` (env: `HOD_PEERS_PYTHON`, default
//! `/tmp/peers-venv/bin/python`; `HOD_BENCH_N` / `HOD_BENCH_M` change the sizes;
//! `HOD_BENCH_REPEAT=3` reports the median of 3 runs on both sides instead of one cold run). A
//! second comparison runs the 64-nearest moving neighbourhood on both sides (PyKrige's
//! `n_closest_points`, backend "loop"); `HOD_BENCH_MOVING=0` skips it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hod_gis::kriging::{
    Anisotropy, Drift, FitOptions, Kriging, Model, MovingKriging, Predict, fit_variogram,
};
use hod_testkit::python;
use std::process::Command;
use std::time::Instant;

fn env_usize(k: &str, default: usize) -> usize {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn peak_rss_mb() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn json_num(text: &str, key: &str) -> Option<f64> {
    let i = text.find(&format!("\"{key}\""))?;
    let rest = text[i + key.len() + 2..].trim_start_matches([':', ' ', '{']);
    let rest = rest.strip_prefix("\"median\": ").unwrap_or(rest);
    rest.split([',', '}']).next()?.trim().parse().ok()
}

fn main() {
    let n = env_usize("HOD_BENCH_N", 1000);
    let m = env_usize("HOD_BENCH_M", 200);
    let repeat = env_usize("HOD_BENCH_REPEAT", 1).max(1);
    let python = python::peers().display().to_string();
    let bench_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/bench");
    // The peer's own point generator (numpy PCG64, seed 42), so both krige the same points.
    let dump = format!(
        "import sys; sys.path.insert(0, {bench_dir:?}); from peer_kriging import make_points\n\
         x, y, z = make_points({n}, 42)\n\
         print('\\n'.join(f'{{float(a)!r}} {{float(b)!r}} {{float(c)!r}}' for a, b, c in zip(x, y, z)))"
    );
    let out = Command::new(&python).args(["-c", &dump]).output();
    let Ok(out) = out.as_ref().map_err(|e| e.to_string()).and_then(|o| {
        o.status
            .success()
            .then_some(o)
            .ok_or_else(|| String::from_utf8_lossy(&o.stderr).into_owned())
    }) else {
        println!("kriging bench: {python} with numpy not available ({out:?}); nothing to compare");
        return;
    };
    let v: Vec<f64> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(|t| t.parse().unwrap())
        .collect();
    let (x, y, z): (Vec<f64>, Vec<f64>, Vec<f64>) = (
        v.chunks(3).map(|r| r[0]).collect(),
        v.chunks(3).map(|r| r[1]).collect(),
        v.chunks(3).map(|r| r[2]).collect(),
    );
    // numpy.linspace(0, 1, m).
    let step = 1.0 / (m - 1) as f64;
    let g: Vec<f64> = (0..m)
        .map(|i| if i == m - 1 { 1.0 } else { i as f64 * step })
        .collect();

    // One run each by default, as issue 6 asks: both sides cold, as in a script that kriges
    // once. With more, both sides report the median (PyKrige's later runs are faster).
    let mut runs = Vec::new();
    for _ in 0..repeat {
        let t0 = Instant::now();
        let (vario, _) = fit_variogram(&x, &y, &z, Model::Spherical, &FitOptions::default()).unwrap();
        let fit_s = t0.elapsed().as_secs_f64();
        let t1 = Instant::now();
        let k = Kriging::new(&x, &y, &z, vario, &Drift::None, Anisotropy::default()).unwrap();
        let p = k.predict_grid(&g, &g).unwrap();
        runs.push((fit_s, t1.elapsed().as_secs_f64(), vario, p));
    }
    let each: Vec<String> = runs.iter().map(|r| format!("{:.3}", r.0 + r.1)).collect();
    runs.sort_by(|a, b| (a.0 + a.1).total_cmp(&(b.0 + b.1)));
    let (fit_s, exec_s, vario, p) = runs.swap_remove(runs.len() / 2);
    let ours = fit_s + exec_s;
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    println!(
        "ours (exact):        fit {fit_s:.3} s + execute {exec_s:.3} s = {ours:.3} s (median of runs: {}); \
         params {:?}; grid mean {:.9}, variance mean {:.9}; peak RSS {:.0} MB",
        each.join(", "),
        vario.params,
        mean(&p.z),
        mean(&p.variance),
        peak_rss_mb().unwrap_or(f64::NAN)
    );
    let t2 = Instant::now();
    let mk = MovingKriging::new(&x, &y, &z, vario, &Drift::None, Anisotropy::default(), 64).unwrap();
    let q = mk.predict_grid(&g, &g).unwrap();
    let mov_s = t2.elapsed().as_secs_f64();
    let dev =
        p.z.iter()
            .zip(&q.z)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
    println!(
        "ours (64 nearest):   execute {mov_s:.3} s; max |z − exact| {dev:.2e}; grid mean {:.9}, variance mean {:.9}",
        mean(&q.z),
        mean(&q.variance)
    );

    let script = format!("{bench_dir}/peer_kriging.py");
    let t3 = Instant::now();
    let peer = Command::new(&python)
        .args([
            script.as_str(),
            &n.to_string(),
            &m.to_string(),
            "--repeat",
            &repeat.to_string(),
        ])
        .output();
    let wall = t3.elapsed().as_secs_f64();
    let Ok(peer) = peer else {
        println!("PyKrige: could not run {script}");
        return;
    };
    let text = String::from_utf8_lossy(&peer.stdout).into_owned();
    if !peer.status.success() {
        println!("PyKrige failed: {}", String::from_utf8_lossy(&peer.stderr));
        return;
    }
    let (pf, pe, pt) = (
        json_num(&text, "fit_s").unwrap_or(f64::NAN),
        json_num(&text, "execute_s").unwrap_or(f64::NAN),
        json_num(&text, "total_s").unwrap_or(f64::NAN),
    );
    println!(
        "PyKrige (vectorized): fit {pf:.3} s + execute {pe:.3} s = {pt:.3} s (medians of {repeat} run(s); process wall {wall:.1} s); \
         grid mean {:.9}, variance mean {:.9}; peak RSS {:.0} MB",
        json_num(&text, "grid_mean").unwrap_or(f64::NAN),
        json_num(&text, "variance_mean").unwrap_or(f64::NAN),
        json_num(&text, "peak_rss_mb").unwrap_or(f64::NAN)
    );
    println!(
        "PyKrige fitted params: {}",
        text.split("\"variogram_params\": ")
            .nth(1)
            .and_then(|s| s.split(']').next())
            .unwrap_or("?")
    );
    println!(
        "ratio PyKrige / ours: {:.1}× total, {:.1}× execute (exact); load {}",
        pt / ours,
        pe / exec_s,
        json_num(&text, "loadavg_1m").map_or("?".into(), |l| format!("{l:.1}"))
    );
    if std::env::var("HOD_BENCH_MOVING").is_ok_and(|v| v == "0") {
        return;
    }
    // Second comparison: the same 64-nearest neighbourhood in PyKrige (`n_closest_points`, which
    // only its "loop" backend offers), with our fitted variogram so both solve the same systems.
    let [psill, range, nugget] = vario.params;
    let moving = format!(
        "import sys, time, json; sys.path.insert(0, {bench_dir:?}); from peer_kriging import make_points\n\
         import numpy as np; from pykrige.ok import OrdinaryKriging\n\
         x, y, z = make_points({n}, 42); g = np.linspace(0, 1, {m})\n\
         ok = OrdinaryKriging(x, y, z, variogram_model='spherical', variogram_parameters=\
         {{'psill': {psill:?}, 'range': {range:?}, 'nugget': {nugget:?}}})\n\
         t = time.perf_counter(); zg, ss = ok.execute('grid', g, g, backend='loop', n_closest_points=64)\n\
         print(json.dumps({{'execute_s': time.perf_counter() - t, 'grid_mean': float(zg.mean()), \
         'variance_mean': float(ss.mean())}}))"
    );
    let Ok(out) = Command::new(&python).args(["-c", &moving]).output() else {
        println!("PyKrige (64 nearest): could not run");
        return;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let pm = json_num(&text, "execute_s").unwrap_or(f64::NAN);
    println!(
        "PyKrige (64 nearest, loop): execute {pm:.3} s; grid mean {:.9}, variance mean {:.9}",
        json_num(&text, "grid_mean").unwrap_or(f64::NAN),
        json_num(&text, "variance_mean").unwrap_or(f64::NAN)
    );
    println!("ratio PyKrige / ours, 64 nearest: {:.1}× execute", pm / mov_s);
}
