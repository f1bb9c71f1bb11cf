//! The Python interpreters tests and benchmarks compare against.
//!
//! Interop tests run the interop environment (`$HOD_PYTHON`, else `/tmp/hod-venv/bin/python`;
//! `.ci/run` creates it from `tests/interop/requirements.txt`). Without it they skip with a
//! printed `SKIP:` line, unless `HOD_REQUIRE_INTEROP=1`, where a missing interpreter or module
//! fails the test instead (CI sets it so that interop tests cannot pass by skipping).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The interop interpreter's path (`HOD_PYTHON`, default `/tmp/hod-venv/bin/python`), whether it
/// exists or not.
pub fn interpreter() -> PathBuf {
    std::env::var_os("HOD_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp/hod-venv/bin/python"))
}

/// The interop interpreter if it exists; else `None` after printing why the test skips, or a
/// failed test when `HOD_REQUIRE_INTEROP=1`.
#[track_caller]
pub fn interop() -> Option<PathBuf> {
    let p = interpreter();
    if p.exists() {
        return Some(p);
    }
    unavailable(&format!("no interop Python at {} (set HOD_PYTHON)", p.display()));
    None
}

/// The interop interpreter if it imports `modules` (as an `import` statement lists them:
/// `"pyproj, scipy"`); else as [`interop`] does when it is missing.
#[track_caller]
pub fn with_modules(modules: &str) -> Option<PathBuf> {
    let p = interpreter();
    let ok = Command::new(&p)
        .args(["-c", &format!("import {modules}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        return Some(p);
    }
    unavailable(&format!(
        "{} cannot import {modules} (set HOD_PYTHON)",
        p.display()
    ));
    None
}

/// The peers' interpreter of a benchmark: `$HOD_PEERS_PYTHON`, default
/// `/tmp/peers-venv/bin/python` (`../shared/bench/setup-peers.sh` makes it).
pub fn peers() -> PathBuf {
    std::env::var_os("HOD_PEERS_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp/peers-venv/bin/python"))
}

/// Script `name` of the interop scripts folder (`tests/interop/` of the workspace).
pub fn script(name: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/interop")).join(name)
}

/// Runs interop script `name` (see [`script`]) with `args`; prints its output and fails the
/// test with it when the script fails.
#[track_caller]
pub fn run_script(python: &Path, name: &str, args: &[String]) {
    let script = script(name);
    let out = Command::new(python).arg(&script).args(args).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{text}");
    assert!(out.status.success(), "{} failed:\n{text}", script.display());
}

/// The interop environment is unusable for `reason`: fails the test when `HOD_REQUIRE_INTEROP=1`,
/// else prints the skip.
#[track_caller]
fn unavailable(reason: &str) {
    assert!(
        std::env::var("HOD_REQUIRE_INTEROP").as_deref() != Ok("1"),
        "HOD_REQUIRE_INTEROP=1 but {reason}"
    );
    println!("SKIP: {reason}");
}
