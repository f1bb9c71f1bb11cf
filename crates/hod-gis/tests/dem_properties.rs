#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Properties of fill + flats + D8 on random DEMs with flats and nodata holes.

use hod_gis::dem::{NO_DATA, OUTLET, accumulation, catchment, fill, flowdir, polygonize};
use hod_gis::{GridGeometry, Raster};
use proptest::prelude::*;

fn dem() -> impl Strategy<Value = Raster<f32>> {
    (2usize..14, 2usize..14).prop_flat_map(|(rows, cols)| {
        // Few distinct heights, so flats and depressions are everywhere; 10 = nodata.
        proptest::collection::vec(0u8..11, rows * cols).prop_map(move |v| Raster {
            geom: GridGeometry {
                cols,
                rows,
                x0: 0.0,
                y0: rows as f64,
                dx: 1.0,
                dy: 1.0,
                crs: None,
            },
            data: v
                .into_iter()
                .map(|h| if h == 10 { f32::NAN } else { f32::from(h % 4) })
                .collect(),
            nodata: None,
        })
    })
}

/// The filled surface by definition: each cell at the lowest level over which it can reach the
/// edge or nodata (minimax path), by relaxing until nothing changes. Slow, but obviously right.
fn filled_by_definition(raw: &Raster<f32>) -> Vec<f32> {
    let g = &raw.geom;
    let z = &raw.data;
    let inf = f32::INFINITY;
    let at = |r: isize, c: isize| {
        (r >= 0 && c >= 0 && (r as usize) < g.rows && (c as usize) < g.cols)
            .then(|| r as usize * g.cols + c as usize)
    };
    let mut w: Vec<f32> = (0..g.len())
        .map(|i| {
            let (r, c) = ((i / g.cols) as isize, (i % g.cols) as isize);
            let outlet = (0..8)
                .any(|k| at(r + hod_gis::dem::DR[k], c + hod_gis::dem::DC[k]).is_none_or(|n| z[n].is_nan()));
            if z[i].is_nan() {
                f32::NAN
            } else if outlet {
                z[i]
            } else {
                inf
            }
        })
        .collect();
    loop {
        let mut changed = false;
        for i in 0..g.len() {
            if z[i].is_nan() {
                continue;
            }
            let (r, c) = ((i / g.cols) as isize, (i % g.cols) as isize);
            for k in 0..8 {
                if let Some(n) = at(r + hod_gis::dem::DR[k], c + hod_gis::dem::DC[k])
                    && !w[n].is_nan()
                {
                    let v = z[i].max(w[n]);
                    if v < w[i] {
                        w[i] = v;
                        changed = true;
                    }
                }
            }
        }
        if !changed {
            return w;
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]
    #[test]
    fn every_cell_drains_out_and_fill_never_lowers(raw in dem()) {
        let mut z = raw.clone();
        fill::fill_depressions(&mut z).unwrap();
        let want = filled_by_definition(&raw);
        for (a, b) in z.data.iter().zip(&want) {
            prop_assert!(a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()), "filled {} not {}", a, b);
        }
        for (a, b) in z.data.iter().zip(&raw.data) {
            prop_assert!(a.is_nan() == b.is_nan());
            prop_assert!(a.is_nan() || a >= b, "fill lowered a cell");
        }
        let dirs = flowdir::d8(&z).unwrap();
        let g = &dirs.geom;
        let n = g.len();
        for start in 0..n {
            if dirs.data[start] == NO_DATA {
                continue;
            }
            let mut i = start;
            let mut steps = 0;
            while dirs.data[i] != OUTLET {
                let k = dirs.data[i] as usize;
                prop_assert!(k < 8, "cell {} has code {}", i, k);
                let (r, c) = ((i / g.cols) as isize + hod_gis::dem::DR[k], (i % g.cols) as isize + hod_gis::dem::DC[k]);
                prop_assert!(r >= 0 && c >= 0 && (r as usize) < g.rows && (c as usize) < g.cols, "points off the grid");
                let j = r as usize * g.cols + c as usize;
                prop_assert!(dirs.data[j] != NO_DATA, "drains into nodata");
                prop_assert!(z.data[j] <= z.data[i], "flows uphill");
                i = j;
                steps += 1;
                prop_assert!(steps <= n, "cycle through cell {}", start);
            }
            // Outlets are on the edge or beside nodata.
            let (r, c) = (i / g.cols, i % g.cols);
            let edge = r == 0 || c == 0 || r + 1 == g.rows || c + 1 == g.cols;
            let by_nodata = (0..8).any(|k| {
                let (rr, cc) = (r as isize + hod_gis::dem::DR[k], c as isize + hod_gis::dem::DC[k]);
                rr >= 0 && cc >= 0 && (rr as usize) < g.rows && (cc as usize) < g.cols
                    && z.data[rr as usize * g.cols + cc as usize].is_nan()
            });
            prop_assert!(edge || by_nodata, "outlet at ({}, {}) inside the grid", r, c);
        }
        let acc = accumulation::cells(&dirs).unwrap();
        let valid = dirs.data.iter().filter(|&&d| d != NO_DATA).count() as u64;
        let outlet_sum: u64 = (0..n).filter(|&i| dirs.data[i] == OUTLET).map(|i| u64::from(acc.data[i])).sum();
        prop_assert_eq!(outlet_sum, valid, "every cell reaches exactly one outlet");
        // Basins of all outlets tile the valid cells, and their polygons have the right area.
        let outs: Vec<usize> = (0..n).filter(|&i| dirs.data[i] == OUTLET).collect();
        let b = catchment::basins(&dirs, &outs).unwrap();
        prop_assert_eq!(b.own_cells.iter().sum::<u64>(), valid);
        for (k, &own) in b.own_cells.iter().enumerate() {
            let polys = polygonize::polygons(&b.labels, k as u32 + 1, b.bbox[k]);
            let area: f64 = polys.iter().flatten().map(|ring| {
                ring.windows(2).map(|p| p[0].0 * p[1].1 - p[1].0 * p[0].1).sum::<f64>() / 2.0
            }).sum();
            prop_assert!((area - own as f64).abs() < 1e-9, "basin {} polygons cover {} cells, not {}", k, area, own);
        }
    }
}
