//! The shared test data folder: `$HOD_TEST_DATA`, else `../shared/data` beside the workspace.

use std::path::PathBuf;

/// The shared test data folder (`HOD_TEST_DATA`, default `../shared/data` beside the workspace).
pub fn root() -> PathBuf {
    std::env::var_os("HOD_TEST_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data")))
}

/// `rel` (e.g. `dem/dem.tif`) inside the shared test data folder.
pub fn path(rel: &str) -> PathBuf {
    root().join(rel)
}

/// The files of data subfolder `dir` whose extension is `ext` (no dot), sorted.
#[track_caller]
pub fn files(dir: &str, ext: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(path(dir))
        .unwrap_or_else(|e| panic!("{}: {e}", path(dir).display()))
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .map(|p| p.display().to_string())
        .collect();
    v.sort();
    v
}
