//! Interop: every variable hod indexes equals what the established tools read from the original
//! (netCDF4-python, h5py, cfgrib/ecCodes, rasterio), and hod's kerchunk export opened by xarray
//! equals the original files. Needs the Python environment `.ci/run` creates (`HOD_PYTHON`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hod_index::{IngestOptions, Quiet, ingest, read_meta, read_variable};
use hod_store::Store;
use hod_testkit::{data, npy, python};
use serde_json::json;

/// The files of the interop list, with the tool that reads each.
fn cases() -> Vec<(String, &'static str)> {
    let mut out = Vec::new();
    for (dir, ext, tool) in [
        ("gpm", "HDF5", "h5py"),
        ("gfs", "grib2", "cfgrib"),
        ("era5", "grib", "cfgrib"),
        ("era5", "nc", "netcdf4"),
        ("landuse", "tif", "rasterio"),
    ] {
        out.extend(data::files(dir, ext).into_iter().map(|f| (f, tool)));
    }
    let d = data::root();
    out.push((d.join("basins/basin_mask.nc").display().to_string(), "netcdf4"));
    out.push((d.join("dem/dem_cog.tif").display().to_string(), "rasterio"));
    out.push((d.join("dem/dem.tif").display().to_string(), "rasterio"));
    out
}

async fn dump(file: &str, tool: &str, dir: &std::path::Path) -> Result<(), String> {
    let store = Store::open(&dir.join("store").display().to_string()).map_err(|e| e.to_string())?;
    ingest(
        &store,
        "f",
        &[file.to_string()],
        &IngestOptions::default(),
        &Quiet,
    )
    .await
    .map_err(|e| e.to_string())?;
    let meta = read_meta(&store, "f").await.map_err(|e| e.to_string())?;
    let mut vars = serde_json::Map::new();
    for (i, (name, v)) in meta.variables.iter().enumerate() {
        let values = read_variable(&store, &meta, name, false)
            .await
            .map_err(|e| format!("{name}: {e}"))?;
        let npy = format!("v{i}.npy");
        npy::write_f64(&dir.join(&npy), &v.array.shape, &values);
        vars.insert(
            name.clone(),
            json!({"npy": npy, "shape": v.array.shape, "dims": v.array.dims, "attrs": v.array.attrs}),
        );
    }
    let skipped: Vec<String> = meta
        .attrs
        .get("hod_skipped")
        .and_then(|s| s.as_object())
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    let manifest = json!({"file": file, "tool": tool, "variables": vars, "skipped": skipped});
    std::fs::write(dir.join("manifest.json"), manifest.to_string()).map_err(|e| e.to_string())
}

#[tokio::test(flavor = "multi_thread")]
async fn every_variable_equals_the_reference_tools() {
    let Some(python) = python::interop() else { return };
    let mut failures = Vec::new();
    for (file, tool) in cases() {
        let dir = tempfile::tempdir().unwrap();
        if let Err(e) = dump(&file, tool, dir.path()).await {
            failures.push(format!("{file}: {e}"));
            continue;
        }
        let script = std::path::PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/interop/compare_raw.py"
        ));
        let out = std::process::Command::new(&python)
            .arg(script)
            .arg(dir.path())
            .output()
            .unwrap();
        eprint!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if !out.status.success() {
            failures.push(format!("{file}: differs from {tool} (see above)"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} file(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

async fn refs_equal_original(dir: &str, ext: &str, engine: &str) {
    let Some(python) = python::interop() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(&tmp.path().join("store").display().to_string()).unwrap();
    let files = data::files(dir, ext);
    ingest(&store, "d", &files, &IngestOptions::default(), &Quiet)
        .await
        .unwrap();
    let meta = read_meta(&store, "d").await.unwrap();
    let refs = hod_index::kerchunk_refs(&store, &meta, true).await.unwrap();
    let path = tmp.path().join("refs.json");
    std::fs::write(&path, refs.to_string()).unwrap();
    let dim = meta.concat.as_ref().map_or("time".to_string(), |c| c.dim.clone());
    let mut args = vec![path.display().to_string(), engine.to_string(), dim];
    args.extend(files);
    python::run_script(&python, "compare_refs.py", &args);
}

#[tokio::test(flavor = "multi_thread")]
async fn kerchunk_export_of_netcdf4_set_equals_netcdf4() {
    refs_equal_original("era5-daily-nc4", "nc", "netcdf4").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn kerchunk_export_of_grib_set_equals_cfgrib() {
    refs_equal_original("era5-daily-grib", "grib", "cfgrib").await;
}

/// netCDF3 files packed per file: exported exactly with their decoded values inlined.
#[tokio::test(flavor = "multi_thread")]
async fn kerchunk_export_of_netcdf3_set_inlines_unpacked_values() {
    refs_equal_original("era5-daily-nc3", "nc", "netcdf4").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn kerchunk_export_refuses_per_file_packing() {
    let store = Store::open("memory://refuse-packing").unwrap();
    let files = data::files("era5-daily-nc3", "nc");
    ingest(&store, "d", &files[..2], &IngestOptions::default(), &Quiet)
        .await
        .unwrap();
    let meta = read_meta(&store, "d").await.unwrap();
    let shards = hod_index::read_shards(&store, &meta, 0..u64::MAX).await.unwrap();
    let err = hod_index::kerchunk::export(&meta, &shards, &|u| u.to_string(), &Default::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("scale_factor") && err.contains("t2m"), "{err}");
}
