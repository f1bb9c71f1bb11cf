//! Running the `hod` binary. Only the CLI crate's tests know where it is, so they pass
//! `env!("CARGO_BIN_EXE_hod")` in.

use serde_json::Value;
use std::path::Path;
use std::process::Command;

/// `hod` (at `bin`) on the store at `store`; `HOD_STORE` is removed so that the caller's
/// environment cannot point it at another store.
pub fn with_store(bin: &str, store: &Path) -> Command {
    let mut c = Command::new(bin);
    c.arg("--store").arg(store).env_remove("HOD_STORE");
    c
}

/// Runs `cmd`: whether it succeeded, its stdout and its stderr.
#[track_caller]
pub fn output(cmd: &mut Command) -> (bool, String, String) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?} did not start: {e}"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `cmd` and returns its stdout; fails the test with its stderr unless it succeeds.
#[track_caller]
pub fn stdout(cmd: &mut Command) -> String {
    let (ok, out, err) = output(cmd);
    assert!(ok, "{cmd:?} failed: {err}");
    out
}

/// Runs `cmd` (see [`stdout`]) and parses its stdout as one JSON value.
#[track_caller]
pub fn json(cmd: &mut Command) -> Value {
    let out = stdout(cmd);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}
