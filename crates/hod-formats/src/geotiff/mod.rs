//! Scanner for TIFF, GeoTIFF and Cloud-Optimized GeoTIFF files.
//!
//! Reads the header, the IFD chain and the tag arrays that locate the tiles or strips; never
//! the image data. Classic TIFF and BigTIFF, either byte order.
//!
//! - Only the first IFD (the full-resolution image) becomes the variable `band_data`; later
//!   IFDs (COG overviews, masks, further pages) are ignored; the number of reduced-resolution
//!   ones is the `overviews` attribute.
//! - One band: dims (`y`, `x`). Several bands: (`band`, `y`, `x`) with one band per chunk when
//!   planes are separate (PlanarConfiguration 2), (`y`, `x`, `band`) when interleaved.
//! - A chunk is a tile (edge tiles are stored full size) or a strip of RowsPerStrip rows (the
//!   last one may be short; `decode_chunk` pads it). Absent tiles (offset or length 0) have no
//!   chunk entry and read as the fill value.
//! - Codecs: none, deflate (8, 32946), LZW (5), then predictor 2 or 3. Other compressions
//!   (JPEG, LERC, ZSTD, WebP, PackBits…) are [`FormatError::Unsupported`].
//! - `x` and `y` are pixel centres, inline float64, as rasterio's `ds.xy` and rioxarray give
//!   them; `crs` is `EPSG:NNNN` or a PROJ string built from the GeoKeys, `GeoTransform` is in
//!   GDAL order. GDAL_NODATA becomes the fill value.

mod codec;
mod georef;
mod ifd;

pub(crate) use codec::decode_step;

use crate::{FormatError, ReadAt};
use georef::Georef;
use hod_core::{
    ArrayMeta, Attrs, ChunkEntry, ChunkLoc, Codec, DType, Endian, Format, ScannedFile, ScannedVariable,
};
use ifd::{Ifd, Layout, corrupt};

/// Largest decoded chunk accepted (a whole-image strip of a big uncompressed file fits).
const MAX_CHUNK_BYTES: u64 = 1 << 30;
/// Chunks up to this size are always accepted; larger ones only as far as the file could
/// hold them (a corrupt tile size must not make every decode allocate a gigabyte).
const MIN_CHUNK_CAP: u64 = 16 << 20;
/// Coordinate arrays up to this many bytes are always accepted; larger ones only when the
/// file itself is as large (a corrupt width must not allocate gigabytes).
const MIN_COORD_CAP: u64 = 64 << 20;

const GDAL_NODATA: u16 = 42113;

/// Scans a TIFF/GeoTIFF: `band_data` with a chunk reference per tile or strip, and the `x`/`y`
/// pixel-centre coordinates.
///
/// # Errors
/// [`FormatError::Corrupt`] or [`FormatError::Truncated`] for a malformed header, IFD or tag;
/// [`FormatError::Unsupported`] for compressions, sample types or rotated transforms this
/// scanner does not handle.
pub fn scan(src: &dyn ReadAt) -> Result<ScannedFile, FormatError> {
    let (layout, first) = Layout::read_header(src)?;
    let ifds = layout.ifd_chain(src, first)?;
    let ifd = ifds.first().ok_or_else(|| corrupt(first, "file has no IFD"))?;
    let image = Image::read(layout, src, ifd)?;
    let georef = georef::read(layout, src, ifd)?;
    let fill_value = match ifd.get(GDAL_NODATA) {
        Some(e) => parse_nodata(&layout.ascii(src, e)?, image.dtype),
        None => None,
    };
    let overviews = ifds
        .iter()
        .skip(1)
        .filter(|i| {
            i.get(254)
                .is_some_and(|e| layout.uint_value(src, e).is_ok_and(|v| v & 1 == 1))
        })
        .count();

    let mut band = image.variable(src.size())?;
    band.meta.fill_value = fill_value;
    let mut attrs = image.attrs(layout);
    attrs.insert("overviews".into(), overviews.into());
    if !georef.keys.is_empty() {
        attrs.insert("geokeys".into(), georef.keys_json());
    }
    let var_attrs = &mut band.meta.attrs;
    let area = if georef.pixel_is_point { "Point" } else { "Area" };
    var_attrs.insert("AREA_OR_POINT".into(), area.into());
    if georef.georeferenced {
        let gt: Vec<String> = georef.transform.iter().map(|v| format!("{v:?}")).collect();
        var_attrs.insert("GeoTransform".into(), gt.join(" ").into());
    }
    if let Some(crs) = &georef.crs {
        var_attrs.insert("crs".into(), crs.clone().into());
    }
    if let Some(p) = &georef.proj4 {
        var_attrs.insert("crs_proj4".into(), p.clone().into());
    }
    for key in ["crs", "GeoTransform"] {
        if let Some(v) = var_attrs.get(key) {
            attrs.insert(key.into(), v.clone());
        }
    }
    let coord_cap = MIN_COORD_CAP.max(src.size());
    let x = coordinate("x", image.width, &georef, coord_cap)?;
    let y = coordinate("y", image.height, &georef, coord_cap)?;
    Ok(ScannedFile {
        format: Format::Geotiff,
        attrs,
        variables: vec![band, x, y],
    })
}

/// Parses GDAL's nodata text; a float32 image compares in float32, as GDAL does.
fn parse_nodata(text: &str, dtype: DType) -> Option<f64> {
    let v: f64 = text.trim().parse().ok()?;
    Some(if dtype == DType::F32 {
        f64::from(v as f32)
    } else {
        v
    })
}

/// The image structure of one IFD: size, samples, compression and chunk locations.
#[derive(Debug)]
struct Image {
    /// Offset of the IFD (for error messages).
    at: u64,
    width: u64,
    height: u64,
    samples: u64,
    dtype: DType,
    endian: Endian,
    separate_planes: bool,
    compression: u64,
    predictor: u64,
    photometric: Option<u64>,
    /// Tile (width, height), or None for strips.
    tile: Option<(u64, u64)>,
    /// Rows of one chunk (tile height, or RowsPerStrip capped by the height).
    chunk_rows: u64,
    /// Columns of one chunk (tile width or image width).
    chunk_cols: u64,
    offsets: Vec<u64>,
    counts: Vec<u64>,
}

impl Image {
    fn read(layout: Layout, src: &dyn ReadAt, ifd: &Ifd) -> Result<Image, FormatError> {
        let at = ifd.offset;
        let one = |tag: u16, default: Option<u64>| match ifd.get(tag) {
            Some(e) => layout.uint_value(src, e),
            None => default.ok_or_else(|| corrupt(at, format!("first IFD lacks required tag {tag}"))),
        };
        // Per-sample tags (BitsPerSample, SampleFormat): all samples must agree.
        let same = |tag: u16, default: u64| -> Result<u64, FormatError> {
            let Some(e) = ifd.get(tag) else { return Ok(default) };
            let v = layout.uints(src, e)?;
            match v.split_first() {
                Some((first, rest)) if rest.iter().all(|x| x == first) => Ok(*first),
                Some(_) => Err(unsupported(format!("tag {tag} differs between samples: {v:?}"))),
                None => Ok(default),
            }
        };
        let width = one(256, None)?;
        let height = one(257, None)?;
        let samples = one(277, Some(1))?;
        let bits = same(258, 1)?;
        let format = same(339, 1)?;
        let dtype = match (format, bits) {
            (1, 8) => DType::U8,
            (1, 16) => DType::U16,
            (1, 32) => DType::U32,
            (1, 64) => DType::U64,
            (2, 8) => DType::I8,
            (2, 16) => DType::I16,
            (2, 32) => DType::I32,
            (2, 64) => DType::I64,
            (3, 32) => DType::F32,
            (3, 64) => DType::F64,
            _ => {
                return Err(unsupported(format!(
                    "{bits}-bit samples of SampleFormat {format}"
                )));
            }
        };
        let separate_planes = match one(284, Some(1))? {
            1 => false,
            2 => true,
            p => return Err(corrupt(at, format!("PlanarConfiguration is {p}"))),
        };
        if width == 0 || height == 0 || samples == 0 {
            return Err(corrupt(
                at,
                format!("image is {width}x{height} with {samples} samples"),
            ));
        }
        let (tile, chunk_rows, chunk_cols, offs_tag, counts_tag) = match ifd.get(322) {
            Some(_) => {
                let (tw, th) = (one(322, None)?, one(323, None)?);
                (Some((tw, th)), th, tw, 324, 325)
            }
            None => {
                let rows = one(278, Some(u64::from(u32::MAX)))?.min(height);
                (None, rows, width, 273, 279)
            }
        };
        if chunk_rows == 0 || chunk_cols == 0 {
            return Err(corrupt(at, format!("chunk of {chunk_rows}x{chunk_cols} pixels")));
        }
        let list = |tag: u16| match ifd.get(tag) {
            Some(e) => layout.uints(src, e),
            None => Err(corrupt(
                at,
                format!("first IFD lacks tag {tag} (chunk offsets/lengths)"),
            )),
        };
        Ok(Image {
            at,
            width,
            height,
            samples,
            dtype,
            endian: layout.endian,
            separate_planes,
            compression: one(259, Some(1))?,
            predictor: one(317, Some(1))?,
            photometric: ifd.get(262).map(|e| layout.uint_value(src, e)).transpose()?,
            tile,
            chunk_rows,
            chunk_cols,
            offsets: list(offs_tag)?,
            counts: list(counts_tag)?,
        })
    }

    /// Samples per chunk row and per pixel in a chunk (one when planes are separate).
    fn chunk_samples(&self) -> u64 {
        if self.separate_planes { 1 } else { self.samples }
    }

    /// The largest decoded chunk this file could hold: its own size uncompressed, at most
    /// ~1032:1 deflate and ~2730:1 LZW expansion (codes of 12 bits yielding ≤ 4096 bytes).
    fn chunk_cap(&self, file_size: u64) -> u64 {
        let ratio = match self.compression {
            5 => 2731,
            8 | 32946 => 1033,
            _ => 1,
        };
        file_size
            .saturating_mul(ratio)
            .clamp(MIN_CHUNK_CAP, MAX_CHUNK_BYTES)
    }

    /// Decompression then un-prediction.
    fn codecs(&self) -> Result<Vec<Codec>, FormatError> {
        let mut codecs = match self.compression {
            1 => vec![],
            5 => vec![Codec::Lzw],
            8 | 32946 => vec![Codec::Zlib],
            c => return Err(unsupported(format!("compression {c} ({})", compression_name(c)))),
        };
        let spp = self.chunk_samples() as usize;
        let row_samples = self.chunk_cols as usize * spp;
        match self.predictor {
            1 => {}
            2 => codecs.push(Codec::HorizontalPredictor {
                row_samples,
                samples_per_pixel: spp,
            }),
            3 => codecs.push(Codec::FloatingPointPredictor {
                row_samples,
                samples_per_pixel: spp,
            }),
            p => return Err(unsupported(format!("predictor {p}"))),
        }
        Ok(codecs)
    }

    /// `band_data`: metadata and one chunk entry per stored tile or strip.
    fn variable(&self, file_size: u64) -> Result<ScannedVariable, FormatError> {
        let codecs = self.codecs()?;
        let (rows, cols) = (self.chunk_rows, self.chunk_cols);
        let spp = self.chunk_samples();
        let chunk_bytes = rows
            .checked_mul(cols)
            .and_then(|n| n.checked_mul(spp))
            .and_then(|n| n.checked_mul(self.dtype.size() as u64))
            .filter(|&n| n <= self.chunk_cap(file_size))
            .ok_or_else(|| {
                corrupt(
                    self.at,
                    format!("chunks of {rows}x{cols}x{spp} samples are too large for this file"),
                )
            })?;
        let (dims, shape, chunks): (&[&str], _, _) = if self.samples == 1 {
            (&["y", "x"], vec![self.height, self.width], vec![rows, cols])
        } else if self.separate_planes {
            (
                &["band", "y", "x"],
                vec![self.samples, self.height, self.width],
                vec![1, rows, cols],
            )
        } else {
            (
                &["y", "x", "band"],
                vec![self.height, self.width, self.samples],
                vec![rows, cols, self.samples],
            )
        };
        let dims = dims.iter().map(|d| d.to_string()).collect();
        let mut meta = ArrayMeta::new(dims, shape, chunks, self.dtype, self.endian);
        meta.codecs = codecs;

        let across = self.width.div_ceil(cols);
        let down = self.height.div_ceil(rows);
        let planes = if self.separate_planes { self.samples } else { 1 };
        let expected = across.saturating_mul(down).saturating_mul(planes);
        let found = self.offsets.len().min(self.counts.len()) as u64;
        if found < expected {
            return Err(corrupt(
                self.at,
                format!("{found} chunk offsets/lengths for {expected} chunks ({across}x{down}x{planes})"),
            ));
        }
        let mut entries = Vec::new();
        for (k, (&offset, &count)) in self
            .offsets
            .iter()
            .zip(&self.counts)
            .take(expected as usize)
            .enumerate()
        {
            if offset == 0 || count == 0 {
                continue;
            }
            // Uncompressed chunks may be followed by padding: reference only the chunk.
            let length = if self.compression == 1 {
                count.min(chunk_bytes)
            } else {
                count
            };
            if offset.checked_add(length).is_none_or(|end| end > file_size) {
                return Err(FormatError::Truncated {
                    format: Format::Geotiff,
                    needed: offset.saturating_add(length),
                    size: file_size,
                });
            }
            let k = k as u64;
            let (plane, r, c) = (k / (across * down), k % (across * down) / across, k % across);
            let index = match (self.samples, self.separate_planes) {
                (1, _) => vec![r, c],
                (_, true) => vec![plane, r, c],
                (_, false) => vec![r, c, 0],
            };
            entries.push(ChunkEntry {
                index,
                loc: ChunkLoc::Range { offset, length },
            });
        }
        Ok(ScannedVariable {
            name: "band_data".into(),
            meta,
            chunks: entries,
        })
    }

    /// The file's global attributes describing the TIFF structure.
    fn attrs(&self, layout: Layout) -> Attrs {
        let mut a = Attrs::new();
        a.insert("width".into(), self.width.into());
        a.insert("height".into(), self.height.into());
        a.insert("samples_per_pixel".into(), self.samples.into());
        a.insert("bits_per_sample".into(), (self.dtype.size() * 8).into());
        a.insert("compression".into(), compression_name(self.compression).into());
        a.insert("predictor".into(), self.predictor.into());
        if let Some(p) = self.photometric {
            a.insert("photometric".into(), p.into());
        }
        let planar = if self.separate_planes {
            "separate"
        } else {
            "contig"
        };
        a.insert("planar_configuration".into(), planar.into());
        match self.tile {
            Some((w, h)) => {
                a.insert("tile_width".into(), w.into());
                a.insert("tile_height".into(), h.into());
            }
            None => {
                a.insert("rows_per_strip".into(), self.chunk_rows.into());
            }
        }
        a.insert("bigtiff".into(), layout.big.into());
        let order = if layout.endian == Endian::Big {
            "big"
        } else {
            "little"
        };
        a.insert("byte_order".into(), order.into());
        a
    }
}

fn unsupported(what: String) -> FormatError {
    FormatError::Unsupported {
        format: Format::Geotiff,
        what,
    }
}

fn compression_name(code: u64) -> &'static str {
    match code {
        1 => "none",
        2 => "CCITT RLE",
        3 | 4 => "CCITT fax",
        5 => "lzw",
        6 | 7 => "jpeg",
        8 | 32946 => "deflate",
        32773 => "packbits",
        34887 => "lerc",
        34925 => "lzma",
        50000 => "zstd",
        50001 => "webp",
        50002 => "jpeg-xl",
        _ => "unknown",
    }
}

/// A pixel-centre coordinate (`x` or `y`) as one inline little-endian float64 chunk.
fn coordinate(name: &str, n: u64, g: &Georef, cap: u64) -> Result<ScannedVariable, FormatError> {
    if n.saturating_mul(8) > cap {
        return Err(unsupported(format!(
            "{n} {name} coordinates for a file of this size"
        )));
    }
    let t = &g.transform;
    let (origin, step, axis) = if name == "x" {
        (t[0], t[1], "X")
    } else {
        (t[3], t[5], "Y")
    };
    // rasterio's `ds.xy`: a * (col + 0.5) + b * (row + 0.5) + c, with b = 0.
    let bytes: Vec<u8> = (0..n)
        .flat_map(|i| ((i as f64 + 0.5) * step + origin).to_le_bytes())
        .collect();
    let mut meta = ArrayMeta::new(vec![name.into()], vec![n], vec![n], DType::F64, Endian::Little);
    let (standard_name, long_name, units) = match (g.geographic, axis) {
        (true, "X") => ("longitude", "longitude", Some("degrees_east")),
        (true, _) => ("latitude", "latitude", Some("degrees_north")),
        (false, "X") => (
            "projection_x_coordinate",
            "x coordinate of projection",
            g.linear_unit,
        ),
        (false, _) => (
            "projection_y_coordinate",
            "y coordinate of projection",
            g.linear_unit,
        ),
    };
    if g.georeferenced {
        meta.attrs.insert("standard_name".into(), standard_name.into());
        meta.attrs.insert("long_name".into(), long_name.into());
        if let Some(u) = units {
            meta.attrs.insert("units".into(), u.into());
        }
    }
    meta.attrs.insert("axis".into(), axis.into());
    Ok(ScannedVariable {
        name: name.into(),
        meta,
        chunks: vec![ChunkEntry {
            index: vec![0],
            loc: ChunkLoc::Inline(bytes),
        }],
    })
}
