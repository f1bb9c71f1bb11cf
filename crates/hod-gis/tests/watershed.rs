#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Watershed delineation on the pysheds test files, against pysheds's figures in MANIFEST.md.

use hod_gis::dem::{DC, DR, accumulation, catchment, fill, flowdir, snap, to_f32};
use hod_gis::{ascii, geotiff};
use hod_testkit::data::path as data;

fn dir_asc() -> hod_gis::dem::FlowDir {
    let text = std::fs::read_to_string(data("dem/dir.asc")).unwrap();
    flowdir::Encoding::Esri
        .decode(&ascii::parse(&text).unwrap())
        .unwrap()
}

/// pysheds's figure is 77261: its `_flatten_fdir_numba` handles the top-right corner cell
/// (0, 366), whose code is E (off the grid), with the top-edge rule only, so `k + 1` wraps to
/// (1, 0) on the west edge, and that one cell flows down the main river. Here a cell pointing off
/// the grid leaves it: 77260; replaying the wrap gives pysheds's 77261.
#[test]
fn accumulation_of_dir_asc_matches_pysheds_but_for_its_corner_wrap() {
    let dirs = dir_asc();
    let acc = accumulation::cells(&dirs).unwrap();
    let max = acc.data.iter().copied().filter(|&a| a != u32::MAX).max().unwrap();
    assert_eq!(max, 77260);
    let cols = dirs.geom.cols;
    assert_eq!(dirs.data[366], 2, "corner cell points east, off the grid");
    let mut wrapped = acc.data.clone();
    let mut i = cols; // (1, 0), where pysheds sends it
    loop {
        wrapped[i] += acc.data[366];
        match hod_gis::dem::flowdir::Encoding::Esri
            .codes()
            .get(dirs.data[i] as usize)
        {
            Some(_) => {
                let (r, c) = (
                    (i / cols) as isize + DR[dirs.data[i] as usize],
                    (i % cols) as isize + DC[dirs.data[i] as usize],
                );
                if r < 0 || c < 0 || r as usize >= dirs.geom.rows || c as usize >= cols {
                    break;
                }
                i = r as usize * cols + c as usize;
            }
            None => break,
        }
    }
    assert_eq!(wrapped.iter().max(), Some(&77261));
}

#[test]
fn catchment_of_dir_asc_matches_pysheds() {
    let dirs = dir_asc();
    // pysheds's pour point is the north-west corner of cell (101, 229).
    let (x, y) = (-97.29416666666677, 32.73749999999989);
    let cell = snap::locate(&dirs.geom, x, y).unwrap();
    assert_eq!(cell, (101, 229));
    let b = catchment::basins(&dirs, &[cell.0 * dirs.geom.cols + cell.1]).unwrap();
    assert_eq!(b.cells[0], 11422);
    // pysheds clip_to(catchment): (159, 169) rows x cols.
    let (r0, c0, r1, c1) = b.bbox[0];
    assert_eq!((r1 - r0 + 1, c1 - c0 + 1), (159, 169));
}

#[test]
fn pipeline_on_dem_tif_is_within_half_a_percent_of_pysheds() {
    let bytes = std::fs::read(data("dem/dem.tif")).unwrap();
    let mut dem = to_f32(&geotiff::read("dem.tif", &bytes).unwrap());
    let before = dem.data.clone();
    fill::fill_depressions(&mut dem).unwrap();
    assert!(dem.data.iter().zip(&before).all(|(a, b)| a >= b));
    let dirs = flowdir::d8(&dem).unwrap();
    let acc = accumulation::cells(&dirs).unwrap();
    let (imax, &max) = acc
        .data
        .iter()
        .enumerate()
        .filter(|(_, a)| **a != u32::MAX)
        .max_by_key(|(_, a)| **a)
        .unwrap();
    eprintln!(
        "acc max {max} at {:?} (pysheds 62146 at (37, 366))",
        (imax / 367, imax % 367)
    );
    let s = snap::snap(
        &dirs.geom,
        &acc.data,
        None,
        -97.294,
        32.737,
        snap::Snap::Threshold(1000.0),
    )
    .unwrap();
    let b = catchment::basins(&dirs, &[s.cell.0 * 367 + s.cell.1]).unwrap();
    eprintln!(
        "snapped to {:?}, moved {}, catchment {} cells (pysheds 11408)",
        s.cell, s.moved_cells, b.cells[0]
    );
    assert_eq!(s.cell, (101, 229));
    let err = (b.cells[0] as f64 - 11408.0).abs() / 11408.0;
    assert!(err < 0.005, "{} cells", b.cells[0]);
}
