//! Stream cells: cells whose flow accumulation reaches a threshold.

use crate::Raster;

/// 1 where `acc ≥ threshold`, 0 elsewhere, 255 on nodata (`u32::MAX` in `acc`).
pub fn streams(acc: &Raster<u32>, threshold: u32) -> Raster<u8> {
    let data = acc
        .data
        .iter()
        .map(|&a| match a {
            u32::MAX => 255,
            a if a >= threshold => 1,
            _ => 0,
        })
        .collect();
    Raster {
        geom: acc.geom.clone(),
        data,
        nodata: Some(255.0),
    }
}
