//! D8 flow directions (O'Callaghan & Mark 1984): each cell drains to the neighbour of steepest
//! descent, the drop divided by the distance between cell centres (`dy` north–south, `dx`
//! east–west, their hypotenuse diagonally, in the grid's own units as pysheds does). Ties go to
//! the first neighbour in the order N, NE, E, SE, S, SW, W, NW. Cells on the grid edge or next to
//! nodata that have no lower neighbour are outlets (their water leaves the grid); other cells
//! without a lower neighbour are routed across their flat by [`super::flats`].
//!
//! Memory: one byte per cell for the directions, on top of the DEM. Rows are computed in parallel.
//!
//! # Encodings
//! | direction | N | NE | E | SE | S | SW | W | NW | outlet / pit | nodata |
//! |---|---|---|---|---|---|---|---|---|---|---|
//! | [`Encoding::Esri`] (ArcGIS, pysheds `dirmap=(64,128,1,2,4,8,16,32)`) | 64 | 128 | 1 | 2 | 4 | 8 | 16 | 32 | 0 | 255 |
//! | [`Encoding::Pyflwdir`] (pyflwdir `d8`) | 64 | 128 | 1 | 2 | 4 | 8 | 16 | 32 | 0 | 247 |
//! | [`Encoding::Whitebox`] (WhiteboxTools `D8Pointer`) | 128 | 1 | 2 | 4 | 8 | 16 | 32 | 64 | 0 | 255 |
//! | [`Encoding::Taudem`] (TauDEM `D8FlowDir`) | 3 | 2 | 1 | 8 | 7 | 6 | 5 | 4 | 0 | 255 |
//!
//! Reading, the file's own nodata value also means nodata, and the negative codes pysheds writes
//! for flats (-1) and pits (-2) mean outlet.

use super::{DC, DR, FlowDir, NO_DATA, OUTLET, check_size, flats, neighbour};
use crate::{GisError, Raster};
use rayon::prelude::*;

/// Internal code of a cell without a lower neighbour, before flats are resolved.
pub(crate) const FLAT: u8 = 9;

/// A flow-direction code convention (see the module docs for the table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// ESRI / ArcGIS, as pysheds uses with `dirmap=(64, 128, 1, 2, 4, 8, 16, 32)`.
    Esri,
    /// pyflwdir's `d8` type: ESRI codes, 0 = pit, 247 = nodata.
    Pyflwdir,
    /// WhiteboxTools `D8Pointer` without `--esri_pntr`: 1 = NE clockwise to 128 = N.
    Whitebox,
    /// TauDEM `D8FlowDir`: 1 = E counter-clockwise to 8 = SE.
    Taudem,
}

impl Encoding {
    /// The codes for N, NE, E, SE, S, SW, W, NW.
    pub fn codes(self) -> [u8; 8] {
        match self {
            Encoding::Esri | Encoding::Pyflwdir => [64, 128, 1, 2, 4, 8, 16, 32],
            Encoding::Whitebox => [128, 1, 2, 4, 8, 16, 32, 64],
            Encoding::Taudem => [3, 2, 1, 8, 7, 6, 5, 4],
        }
    }

    /// The code written for nodata cells.
    pub fn nodata(self) -> u8 {
        match self {
            Encoding::Pyflwdir => 247,
            _ => 255,
        }
    }

    /// Parses a name: `esri`, `pysheds`, `pyflwdir`, `whitebox`, `taudem`.
    pub fn from_name(name: &str) -> Option<Encoding> {
        match name.to_ascii_lowercase().as_str() {
            "esri" | "pysheds" | "arcgis" => Some(Encoding::Esri),
            "pyflwdir" => Some(Encoding::Pyflwdir),
            "whitebox" | "wbt" | "whiteboxtools" => Some(Encoding::Whitebox),
            "taudem" => Some(Encoding::Taudem),
            _ => None,
        }
    }

    /// Converts directions to this encoding.
    pub fn encode(self, dirs: &FlowDir) -> Raster<u8> {
        let codes = self.codes();
        let data = dirs
            .data
            .iter()
            .map(|&d| match d {
                0..=7 => codes[d as usize],
                NO_DATA => self.nodata(),
                _ => 0,
            })
            .collect();
        Raster {
            geom: dirs.geom.clone(),
            data,
            nodata: Some(f64::from(self.nodata())),
        }
    }

    /// Reads directions in this encoding; NaN (the file's nodata) and this encoding's nodata
    /// code are nodata.
    ///
    /// # Errors
    /// [`GisError::Invalid`] naming the first cell whose value is no code of this encoding.
    pub fn decode(self, raster: &Raster<f64>) -> Result<FlowDir, GisError> {
        let mut table = [None; 256];
        for (k, &c) in self.codes().iter().enumerate() {
            table[c as usize] = Some(k as u8);
        }
        table[0] = Some(OUTLET);
        table[self.nodata() as usize] = Some(NO_DATA);
        let cols = raster.geom.cols.max(1);
        let data = raster
            .data
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                if v.is_nan() {
                    return Ok(NO_DATA);
                }
                if v == -1.0 || v == -2.0 {
                    return Ok(OUTLET);
                }
                ((0.0..256.0).contains(&v) && v.fract() == 0.0)
                    .then(|| table[v as usize])
                    .flatten()
                    .ok_or_else(|| {
                        GisError::Invalid(format!(
                            "value {v} at row {}, column {} is not a {self:?} flow direction",
                            i / cols,
                            i % cols
                        ))
                    })
            })
            .collect::<Result<Vec<u8>, GisError>>()?;
        Ok(Raster {
            geom: raster.geom.clone(),
            data,
            nodata: None,
        })
    }
}

/// D8 directions of a depression-filled DEM (NaN = nodata), flats resolved by
/// [`flats::resolve`]. Cells left without a way out (pits of an unfilled DEM) are outlets.
///
/// # Errors
/// [`GisError::Invalid`] for grids of 2³² cells or more.
pub fn d8(dem: &Raster<f32>) -> Result<FlowDir, GisError> {
    let mut dirs = steepest(dem)?;
    flats::resolve(dem, &mut dirs);
    Ok(dirs)
}

/// D8 directions with [`FLAT`] for cells without a lower neighbour that are not outlets.
pub(crate) fn steepest(dem: &Raster<f32>) -> Result<FlowDir, GisError> {
    let g = &dem.geom;
    check_size(g)?;
    let (rows, cols) = (g.rows, g.cols);
    // The eight distances take three values: N/S `dy`, diagonals, E/W `dx`. Within a group the
    // steepest slope is the largest drop (drops are f32 differences, so distinct drops stay
    // distinct after the f64 division), so each cell divides three times, not eight.
    let dist = [g.dy, g.dx.hypot(g.dy), g.dx];
    const GROUP: [usize; 8] = [0, 1, 2, 1, 0, 1, 2, 1];
    let z = &dem.data;
    let mut dirs = vec![NO_DATA; g.len()];
    // Rows are independent: compute bands of rows (about 2¹⁶ cells each, so that small grids are
    // not cut into tasks shorter than their scheduling) in parallel.
    let band = (1usize << 16).div_ceil(cols.max(1));
    let cells = |r: usize, out: &mut [u8]| {
        for (c, o) in out.iter_mut().enumerate() {
            let i = r * cols + c;
            let zc = z[i];
            if zc.is_nan() {
                continue;
            }
            let interior = r > 0 && c > 0 && r + 1 < rows && c + 1 < cols;
            // Off the grid counts as nodata: an edge cell with no lower neighbour drains out.
            let mut by_nodata = !interior;
            // Per group: the largest drop and the first direction with it.
            let (mut drop, mut dir) = ([0.0f64; 3], [FLAT; 3]);
            for k in 0..8 {
                let n = if interior {
                    (r as isize + DR[k]) as usize * cols + (c as isize + DC[k]) as usize
                } else if let Some(n) = neighbour(g, r, c, k) {
                    n
                } else {
                    continue;
                };
                let zn = z[n];
                if zn.is_nan() {
                    by_nodata = true;
                    continue;
                }
                let dz = f64::from(zc - zn);
                if dz > drop[GROUP[k]] {
                    drop[GROUP[k]] = dz;
                    dir[GROUP[k]] = k as u8;
                }
            }
            // The steepest of the three; equal slopes go to the first direction (N, NE, …).
            let (mut best, mut slope) = (FLAT, 0.0f64);
            for (&k, (&dz, &len)) in dir.iter().zip(drop.iter().zip(&dist)) {
                if k == FLAT {
                    continue;
                }
                let s = dz / len;
                if s > slope || (s == slope && k < best) {
                    slope = s;
                    best = k;
                }
            }
            *o = if best == FLAT && by_nodata { OUTLET } else { best };
        }
    };
    dirs.par_chunks_mut(cols.max(1) * band)
        .enumerate()
        .for_each(|(b, rows_out)| {
            for (rr, out) in rows_out.chunks_mut(cols.max(1)).enumerate() {
                let r = b * band + rr;
                cells(r, out);
            }
        });
    Ok(Raster {
        geom: g.clone(),
        data: dirs,
        nodata: None,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::GridGeometry;

    #[test]
    fn encodings_round_trip() {
        let geom = GridGeometry {
            cols: 11,
            rows: 1,
            x0: 0.0,
            y0: 1.0,
            dx: 1.0,
            dy: 1.0,
            crs: None,
        };
        let dirs = Raster {
            geom,
            data: vec![0, 1, 2, 3, 4, 5, 6, 7, OUTLET, NO_DATA, 2],
            nodata: None,
        };
        for e in [
            Encoding::Esri,
            Encoding::Pyflwdir,
            Encoding::Whitebox,
            Encoding::Taudem,
        ] {
            let coded = e.encode(&dirs);
            let as_f64 = Raster {
                geom: coded.geom.clone(),
                data: coded.data.iter().map(|&v| f64::from(v)).collect(),
                nodata: coded.nodata,
            };
            assert_eq!(e.decode(&as_f64).unwrap().data, dirs.data, "{e:?}");
        }
        assert_eq!(Encoding::Taudem.codes()[2], 1); // E
        assert_eq!(Encoding::Whitebox.codes()[1], 1); // NE
    }
}
