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

/// Real basin outline `basins/<name>.geojson` moved by `(dx, dy)` degrees, as a GeoJSON Feature
/// with property `id` = `name`: no basin of the data lies inside the ERA5 test grids, so tests
/// and benches place their shapes there.
#[track_caller]
pub fn moved_basin(name: &str, (dx, dy): (f64, f64)) -> serde_json::Value {
    fn shift(v: &mut serde_json::Value, d: (f64, f64)) {
        let Some(a) = v.as_array_mut() else { return };
        if let [x, y] = a.as_mut_slice()
            && let (Some(xv), Some(yv)) = (x.as_f64(), y.as_f64())
        {
            (*x, *y) = ((xv + d.0).into(), (yv + d.1).into());
            return;
        }
        a.iter_mut().for_each(|c| shift(c, d));
    }
    let file = path(&format!("basins/{name}.geojson"));
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let mut json: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let geometry = match json["type"].as_str() {
        Some("FeatureCollection") => &mut json["features"][0]["geometry"],
        Some("Feature") => &mut json["geometry"],
        _ => &mut json,
    };
    shift(&mut geometry["coordinates"], (dx, dy));
    serde_json::json!({"type": "Feature", "properties": {"id": name}, "geometry": geometry})
}
