//! GeoTIFF rasters in and out.
//!
//! Reading goes through the same scanner and decoders as ingest (`hod_formats::geotiff`), so
//! tiles, strips, deflate, LZW and predictors all work; only the first band of the
//! full-resolution image is read. Each strip, or row of tiles, is decoded on its own band of
//! rows, in parallel.

use crate::{GisError, GridGeometry, Raster};
use hod_core::values::{place, to_f64};
use hod_core::{ChunkLoc, Format};
use hod_formats::{FormatError, ScanOptions, SliceSource, decode_chunk};
use rayon::prelude::*;

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
    let nodata = meta.fill_value;
    // Strips and rows of tiles each fill their own band of rows, so bands decode in parallel.
    let band_rows = meta.chunks.first().map_or(rows, |&c| c as usize).max(1);
    let mut bands: Vec<Vec<&hod_core::ChunkEntry>> = vec![Vec::new(); rows.div_ceil(band_rows)];
    for chunk in &band.chunks {
        if let Some(b) = chunk.index.first().and_then(|&i| bands.get_mut(i as usize)) {
            b.push(chunk);
        }
    }
    if !data.is_empty() {
        data.par_chunks_mut(band_rows * cols)
            .zip(bands)
            .try_for_each(|(out, chunks)| {
                // The band as an image of its own, its chunks in its first chunk row.
                let mut band_meta = meta.clone();
                band_meta.shape[0] = (out.len() / cols) as u64;
                for chunk in chunks {
                    let stored = stored(bytes, chunk).map_err(|m| invalid(&m))?;
                    let decoded = decode_chunk(meta, stored).map_err(format_err)?;
                    let mut index = chunk.index.clone();
                    if let Some(row) = index.first_mut() {
                        *row = 0;
                    }
                    place(
                        &band_meta,
                        &index,
                        &to_f64(meta.dtype, meta.endian, &decoded),
                        out,
                    );
                }
                if let Some(nd) = nodata {
                    out.iter_mut().filter(|v| **v == nd).for_each(|v| *v = f64::NAN);
                }
                Ok::<(), GisError>(())
            })?;
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

/// The stored bytes of `chunk` in the file `bytes`, or what is wrong with its byte range.
fn stored<'a>(bytes: &'a [u8], chunk: &'a hod_core::ChunkEntry) -> Result<&'a [u8], String> {
    match &chunk.loc {
        ChunkLoc::Range { offset, length } => usize::try_from(*offset)
            .ok()
            .zip(usize::try_from(offset.saturating_add(*length)).ok())
            .and_then(|(a, b)| bytes.get(a..b))
            .ok_or_else(|| format!("tile at byte {offset} (+{length}) is past the end")),
        ChunkLoc::Inline(b) => Ok(b.as_slice()),
    }
}

/// Sample types [`write`] can store: `u8`, `i16`, `u32`, `f32`, `f64`.
pub trait Sample: Copy + sealed::Sealed {
    #[doc(hidden)]
    type Color: tiff::encoder::colortype::ColorType<Inner = Self>;
    #[doc(hidden)]
    fn write_strips<W: std::io::Write + std::io::Seek, K: tiff::encoder::TiffKind>(
        img: tiff::encoder::ImageEncoder<'_, W, Self::Color, K>,
        data: &[Self],
    ) -> tiff::TiffResult<()>;
}

mod sealed {
    pub trait Sealed {}
}

macro_rules! sample {
    ($t:ty, $c:ident) => {
        impl sealed::Sealed for $t {}
        impl Sample for $t {
            type Color = tiff::encoder::colortype::$c;
            fn write_strips<W: std::io::Write + std::io::Seek, K: tiff::encoder::TiffKind>(
                img: tiff::encoder::ImageEncoder<'_, W, Self::Color, K>,
                data: &[Self],
            ) -> tiff::TiffResult<()> {
                img.write_data(data)
            }
        }
    };
}
sample!(u8, Gray8);
sample!(i16, GrayI16);
sample!(u32, Gray32);
sample!(f32, Gray32Float);
sample!(f64, Gray64Float);

/// Writes `raster` as a deflate-compressed, striped GeoTIFF (BigTIFF above 2 GiB): the grid as
/// ModelPixelScale + ModelTiepoint, the CRS as GeoKeys when it is `EPSG:NNNN` (geographic or
/// projected), and the nodata value as the GDAL_NODATA tag (`nan` for NaN), as GDAL reads them.
///
/// # Errors
/// [`GisError::Invalid`] naming `what` when the encoder or the writer fails.
pub fn write<T, W>(what: &str, raster: &Raster<T>, out: W) -> Result<(), GisError>
where
    T: Sample,
    W: std::io::Write + std::io::Seek,
{
    use tiff::encoder::{Compression, DeflateLevel, TiffEncoder, TiffKind};
    let err = |e: tiff::TiffError| GisError::Invalid(format!("cannot write GeoTIFF {what}: {e}"));
    let g = &raster.geom;
    let (w, h) = (
        u32::try_from(g.cols).map_err(|_| GisError::Invalid(format!("{what}: too many columns")))?,
        u32::try_from(g.rows).map_err(|_| GisError::Invalid(format!("{what}: too many rows")))?,
    );
    if raster.data.len() != g.len() {
        return Err(GisError::Invalid(format!("{what}: data does not match the grid")));
    }
    let bytes = g.len() * std::mem::size_of::<T>();
    // About 256 KiB per strip: small enough to stream, large enough to compress well.
    let rows_per_strip =
        ((1usize << 18) / (g.cols.max(1) * std::mem::size_of::<T>())).clamp(1, g.rows.max(1)) as u32;
    fn image<T: Sample, W: std::io::Write + std::io::Seek, K: TiffKind>(
        mut enc: TiffEncoder<W, K>,
        raster: &Raster<T>,
        (w, h, rows_per_strip): (u32, u32, u32),
    ) -> tiff::TiffResult<()> {
        let g = &raster.geom;
        let mut img = enc.new_image::<T::Color>(w, h)?;
        img.rows_per_strip(rows_per_strip)?;
        let dir = img.encoder();
        dir.write_tag(tiff::tags::Tag::ModelPixelScaleTag, &[g.dx, g.dy, 0.0][..])?;
        dir.write_tag(
            tiff::tags::Tag::ModelTiepointTag,
            &[0.0, 0.0, 0.0, g.x0, g.y0, 0.0][..],
        )?;
        dir.write_tag(tiff::tags::Tag::GeoKeyDirectoryTag, &geokeys(g)[..])?;
        if let Some(nd) = raster.nodata {
            let text = if nd.is_nan() {
                "nan".to_string()
            } else {
                format!("{nd}")
            };
            dir.write_tag(tiff::tags::Tag::GdalNodata, text.as_str())?;
        }
        T::write_strips(img, &raster.data)
    }
    let dims = (w, h, rows_per_strip);
    let level = Compression::Deflate(DeflateLevel::Fast);
    if bytes > (1usize << 31) {
        image(
            TiffEncoder::new_big(out).map_err(err)?.with_compression(level),
            raster,
            dims,
        )
        .map_err(err)
    } else {
        image(
            TiffEncoder::new(out).map_err(err)?.with_compression(level),
            raster,
            dims,
        )
        .map_err(err)
    }
}

/// GeoKeyDirectory: raster is PixelIsArea; the model type and EPSG code when the CRS is
/// `EPSG:NNNN` (4326 and other geographic codes only as EPSG:4326 / CRS84, the ones
/// [`GridGeometry::is_geographic`] knows).
fn geokeys(g: &GridGeometry) -> Vec<u16> {
    let mut keys: Vec<[u16; 4]> = vec![[1025, 0, 1, 1]];
    let epsg = g
        .crs
        .as_deref()
        .and_then(|c| c.strip_prefix("EPSG:").or_else(|| c.strip_prefix("epsg:")))
        .and_then(|c| c.parse::<u16>().ok());
    if g.is_geographic() {
        keys.push([1024, 0, 1, 2]);
        keys.push([2048, 0, 1, epsg.unwrap_or(4326)]);
    } else if let Some(code) = epsg {
        keys.push([1024, 0, 1, 1]);
        keys.push([3072, 0, 1, code]);
    }
    keys.sort_unstable();
    let mut out = vec![1, 1, 0, keys.len() as u16];
    out.extend(keys.into_iter().flatten());
    out
}
