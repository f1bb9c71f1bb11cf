//! Shared helpers of the hod-index integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

/// The shared test data folder (`HOD_TEST_DATA`, default `../shared/data` beside the workspace).
pub fn data() -> PathBuf {
    std::env::var_os("HOD_TEST_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data")))
}

/// Sorted files of a data subfolder with an extension.
pub fn files(dir: &str, ext: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(data().join(dir))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .map(|p| p.display().to_string())
        .collect();
    v.sort();
    v
}

/// The Python interpreter of the interop environment: `HOD_PYTHON`, else `/tmp/hod-venv`.
/// `None` (the test is skipped with a message) unless `HOD_REQUIRE_INTEROP=1`.
pub fn python() -> Option<PathBuf> {
    let p = std::env::var_os("HOD_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp/hod-venv/bin/python"));
    if p.exists() {
        return Some(p);
    }
    if std::env::var("HOD_REQUIRE_INTEROP").as_deref() == Ok("1") {
        panic!(
            "HOD_REQUIRE_INTEROP=1 but no Python at {} (set HOD_PYTHON)",
            p.display()
        );
    }
    eprintln!(
        "SKIP: no interop Python at {} (set HOD_PYTHON; .ci/run creates it)",
        p.display()
    );
    None
}

/// Writes values as a little-endian float64 `.npy` file.
pub fn write_npy(path: &std::path::Path, shape: &[u64], values: &[f64]) {
    let dims: Vec<String> = shape.iter().map(u64::to_string).collect();
    let shape = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let mut header = format!("{{'descr': '<f8', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    values
        .iter()
        .for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
    std::fs::write(path, out).unwrap();
}

/// Runs an interop script from `tests/interop/` and fails the test with its output on error.
pub fn run_script(python: &std::path::Path, script: &str, args: &[String]) {
    let script = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/interop")).join(script);
    let out = std::process::Command::new(python)
        .arg(&script)
        .args(args)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{text}");
    assert!(out.status.success(), "{} failed:\n{text}", script.display());
}
