//! GeoTIFF rasters in and out.
//!
//! Reading goes through the same scanner and decoders as ingest (`hod_formats::geotiff`), so
//! tiles, strips, deflate, LZW and predictors all work; only the first band of the
//! full-resolution image is read.

use crate::{GisError, GridGeometry, Raster};
use hod_core::values::{place, to_f64};
use hod_core::{ChunkLoc, Format};
use hod_formats::{FormatError, ScanOptions, SliceSource, decode_chunk};

/// Reads the first band of a GeoTIFF held in `bytes`; nodata cells become NaN.
///
/// # Errors
/// [`GisError::Format`] when the bytes are not a readable TIFF, [`GisError::Invalid`] when it is
/// not a north-up georeferenced single-band image.
pub fn read(what: &str, bytes: &[u8]) -> Result<Raster<f64>, GisError> {
    let format_err = |source: FormatError| GisError::Format {
        what: what.to_string(),
        source,
    };
    let invalid = |m: &str| GisError::Invalid(format!("{what}: {m}"));
    let file = hod_formats::scan(&SliceSource(bytes), &ScanOptions::default()).map_err(format_err)?;
    if file.format != Format::Geotiff {
        return Err(invalid("not a GeoTIFF"));
    }
    let band = file
        .variables
        .iter()
        .find(|v| v.name == "band_data")
        .ok_or_else(|| invalid("no image"))?;
    let meta = &band.meta;
    if meta.dims != ["y", "x"] {
        return Err(invalid("only single-band images are supported"));
    }
    let text = |k: &str| meta.attrs.get(k).and_then(|v| v.as_str()).map(str::to_string);
    let gt: Vec<f64> = text("GeoTransform")
        .ok_or_else(|| invalid("not georeferenced (no geotransform)"))?
        .split_whitespace()
        .filter_map(|t| t.parse().ok())
        .collect();
    let [x0, dx, rx, y0, ry, dy_neg] = gt[..] else {
        return Err(invalid("malformed geotransform"));
    };
    if rx != 0.0 || ry != 0.0 || dx <= 0.0 || dy_neg >= 0.0 {
        return Err(invalid("only north-up grids without rotation are supported"));
    }
    let (rows, cols) = (meta.shape[0] as usize, meta.shape[1] as usize);
    let mut data = vec![f64::NAN; rows * cols];
    for chunk in &band.chunks {
        let stored = match &chunk.loc {
            ChunkLoc::Range { offset, length } => usize::try_from(*offset)
                .ok()
                .zip(usize::try_from(offset.saturating_add(*length)).ok())
                .and_then(|(a, b)| bytes.get(a..b))
                .ok_or_else(|| invalid(&format!("tile at byte {offset} (+{length}) is past the end")))?,
            ChunkLoc::Inline(b) => b.as_slice(),
        };
        let decoded = decode_chunk(meta, stored).map_err(format_err)?;
        place(
            meta,
            &chunk.index,
            &to_f64(meta.dtype, meta.endian, &decoded),
            &mut data,
        );
    }
    let nodata = meta.fill_value;
    if let Some(nd) = nodata {
        data.iter_mut().filter(|v| **v == nd).for_each(|v| *v = f64::NAN);
    }
    Ok(Raster {
        geom: GridGeometry {
            cols,
            rows,
            x0,
            y0,
            dx,
            dy: -dy_neg,
            crs: text("crs"),
        },
        data,
        nodata,
    })
}
