#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Raster readers on the real files, against rasterio's figures in MANIFEST.md.

use hod_gis::{ascii, geotiff};
use hod_testkit::data::path as data;

#[test]
fn dem_tif_matches_rasterio() {
    let bytes = std::fs::read(data("dem/dem.tif")).unwrap();
    let r = geotiff::read("dem.tif", &bytes).unwrap();
    assert_eq!((r.geom.cols, r.geom.rows), (367, 359));
    assert_eq!(r.geom.crs.as_deref(), Some("EPSG:4326"));
    assert!(r.geom.is_geographic());
    assert!((r.geom.x0 - -97.4849999999961).abs() < 1e-12);
    assert!((r.geom.y0 - 32.82166666666536).abs() < 1e-12);
    let valid: Vec<f64> = r.data.iter().copied().filter(|v| !v.is_nan()).collect();
    assert_eq!(valid.len(), 131753);
    let mean = valid.iter().sum::<f64>() / valid.len() as f64;
    assert!((mean - 206.9186).abs() < 1e-4, "{mean}");
    assert_eq!(valid.iter().copied().fold(f64::MAX, f64::min), 147.0);
    assert_eq!(valid.iter().copied().fold(f64::MIN, f64::max), 298.0);
}

#[test]
fn dir_asc_is_on_the_dem_grid() {
    let text = std::fs::read_to_string(data("dem/dir.asc")).unwrap();
    let dir = ascii::parse(&text).unwrap();
    let dem = geotiff::read("dem.tif", &std::fs::read(data("dem/dem.tif")).unwrap()).unwrap();
    assert!(dir.geom.same_cells(&dem.geom));
    assert_eq!(dir.value(0, 0), 2.0);
}

#[test]
fn kriging_answer_header_is_cell_centres() {
    let text = std::fs::read_to_string(data("kriging/test1_answer.asc")).unwrap();
    let r = ascii::parse(&text).unwrap();
    assert_eq!(
        (r.geom.cols, r.geom.rows, r.geom.dx, r.geom.dy),
        (100, 100, 50.0, 25.0)
    );
    // Row 99 (the southernmost) starts at the lower-left cell centre.
    assert_eq!(r.geom.cell_center(99, 0), (1.067275e6, 2.41459e5));
}

#[test]
fn not_a_tiff_is_an_error() {
    assert!(geotiff::read("x", b"not a tiff at all").is_err());
}

#[test]
fn tiles_with_partial_edges_and_strips_read_the_same_cells() {
    // dem_cog.tif: the same cells as dem.tif (16 x 16 tiles) in 128 x 128 deflate tiles, the
    // last row and column of tiles partial (rasterio reads both as equal arrays).
    let dem = geotiff::read("dem.tif", &std::fs::read(data("dem/dem.tif")).unwrap()).unwrap();
    let cog = geotiff::read("dem_cog.tif", &std::fs::read(data("dem/dem_cog.tif")).unwrap()).unwrap();
    let same = |a: &[f64], b: &[f64]| a.iter().zip(b).all(|(x, y)| x == y || (x.is_nan() && y.is_nan()));
    assert_eq!(cog.data.len(), dem.data.len());
    assert!(same(&cog.data, &dem.data));
    // Strips: our writer's, many of them (about 256 KiB each), the last one partial.
    let mut big = dem.clone();
    big.geom.rows = 359 * 3;
    big.data = [dem.data.clone(), dem.data.clone(), dem.data.clone()].concat();
    let mut file = std::io::Cursor::new(Vec::new());
    geotiff::write("strips", &big, &mut file).unwrap();
    let back = geotiff::read("strips", file.get_ref()).unwrap();
    assert!(same(&back.data, &big.data));
}
