//! Random flow-direction grids without loops, for the property tests of the steps that read
//! directions.

use super::{DC, DR, FlowDir, NO_DATA, OUTLET};
use crate::GridGeometry;
use hod_testkit::rng::Lcg;

/// A `rows` × `cols` grid (geographic, so cell areas differ by row) with about one nodata cell
/// in 12. Each cell drains to a random neighbour that is lower on a random surface, off the
/// grid, into nodata, or is an outlet; with `converge`, only to a valid cell north, west or
/// north-west, so that most cells drain to the corner at (0, 0) through long, branching paths.
pub(crate) fn random_dirs(seed: u64, rows: usize, cols: usize, converge: bool) -> FlowDir {
    let mut rng = Lcg(seed);
    let n = rows * cols;
    let height: Vec<u64> = (0..n).map(|i| rng.next(1000) * n as u64 + i as u64).collect();
    let nodata: Vec<bool> = (0..n).map(|_| rng.next(12) == 0).collect();
    let data = (0..n)
        .map(|i| {
            if nodata[i] {
                return NO_DATA;
            }
            let (r, c) = ((i / cols) as isize, (i % cols) as isize);
            let ks: Vec<u8> = (0..8u8)
                .filter(|&k| {
                    let (nr, nc) = (r + DR[k as usize], c + DC[k as usize]);
                    let inside = nr >= 0 && nc >= 0 && (nr as usize) < rows && (nc as usize) < cols;
                    let j = (nr.max(0) as usize) * cols + nc.max(0) as usize;
                    if converge {
                        matches!(k, 0 | 6 | 7) && inside && !nodata[j]
                    } else {
                        !inside || nodata[j] || height[j] < height[i]
                    }
                })
                .collect();
            if ks.is_empty() || (!converge && rng.next(20) == 0) {
                OUTLET
            } else {
                ks[rng.next(ks.len() as u64) as usize]
            }
        })
        .collect();
    FlowDir {
        geom: GridGeometry {
            cols,
            rows,
            x0: 10.0,
            y0: 60.0,
            dx: 0.01,
            dy: 0.01,
            crs: Some("EPSG:4326".into()),
        },
        data,
        nodata: Some(f64::from(NO_DATA)),
    }
}
