//! Array metadata, codecs and chunk references.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Attributes of a variable or a file (CF and format-specific ones).
///
/// Values are JSON; non-finite floats are stored as the strings `"NaN"`, `"Infinity"` and
/// `"-Infinity"` (as Zarr does), see [`float_attr`]. `_FillValue` is never an attribute: it lives
/// in [`ArrayMeta::fill_value`].
pub type Attrs = BTreeMap<String, serde_json::Value>;

/// A float as an attribute value: a JSON number, or a string for NaN and infinities.
pub fn float_attr(v: f64) -> serde_json::Value {
    match serde_json::Number::from_f64(v) {
        Some(n) => serde_json::Value::Number(n),
        None if v.is_nan() => "NaN".into(),
        None if v > 0.0 => "Infinity".into(),
        None => "-Infinity".into(),
    }
}

/// Reads an attribute as a float: numbers, the NaN/infinity strings, or one-element arrays.
pub fn attr_f64(v: &serde_json::Value) -> Option<f64> {
    match v {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => match s.as_str() {
            "NaN" => Some(f64::NAN),
            "Infinity" => Some(f64::INFINITY),
            "-Infinity" => Some(f64::NEG_INFINITY),
            _ => None,
        },
        serde_json::Value::Array(a) if a.len() == 1 => attr_f64(&a[0]),
        _ => None,
    }
}

/// Element type of an array as stored (before CF scale/offset decoding).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DType {
    /// `bool`, one byte.
    Bool,
    /// `int8`
    #[serde(rename = "int8")]
    I8,
    /// `int16`
    #[serde(rename = "int16")]
    I16,
    /// `int32`
    #[serde(rename = "int32")]
    I32,
    /// `int64`
    #[serde(rename = "int64")]
    I64,
    /// `uint8`
    #[serde(rename = "uint8")]
    U8,
    /// `uint16`
    #[serde(rename = "uint16")]
    U16,
    /// `uint32`
    #[serde(rename = "uint32")]
    U32,
    /// `uint64`
    #[serde(rename = "uint64")]
    U64,
    /// `float32`
    #[serde(rename = "float32")]
    F32,
    /// `float64`
    #[serde(rename = "float64")]
    F64,
}

impl DType {
    /// Size of one element in bytes.
    pub fn size(self) -> usize {
        match self {
            DType::Bool | DType::I8 | DType::U8 => 1,
            DType::I16 | DType::U16 => 2,
            DType::I32 | DType::U32 | DType::F32 => 4,
            DType::I64 | DType::U64 | DType::F64 => 8,
        }
    }

    /// The numpy type string without byte order, e.g. `i2`, `f4`.
    pub fn numpy_kind(self) -> &'static str {
        match self {
            DType::Bool => "b1",
            DType::I8 => "i1",
            DType::I16 => "i2",
            DType::I32 => "i4",
            DType::I64 => "i8",
            DType::U8 => "u1",
            DType::U16 => "u2",
            DType::U32 => "u4",
            DType::U64 => "u8",
            DType::F32 => "f4",
            DType::F64 => "f8",
        }
    }

    /// Whether the type is a floating-point type.
    pub fn is_float(self) -> bool {
        matches!(self, DType::F32 | DType::F64)
    }
}

/// Byte order of the decoded chunk elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Endian {
    /// Little-endian.
    #[default]
    Little,
    /// Big-endian (netCDF3, many TIFFs and HDF5 files from big-endian machines).
    Big,
}

/// One step of a chunk's decode chain. The chain in [`ArrayMeta::codecs`] is applied in order to
/// the stored bytes; its output is the chunk's elements, C order, in [`ArrayMeta::endian`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "id", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Codec {
    /// zlib-wrapped deflate (HDF5 deflate filter, TIFF compression 8/32946, numcodecs `zlib`).
    Zlib,
    /// HDF5 byte shuffle (numcodecs `shuffle`).
    Shuffle {
        /// Element size in bytes.
        element_size: usize,
    },
    /// TIFF LZW (MSB-first, with early change), TIFF compression 5.
    Lzw,
    /// TIFF horizontal differencing (predictor 2): each row's samples are cumulative sums.
    HorizontalPredictor {
        /// Samples per row of the tile/strip (tile width × samples per pixel).
        row_samples: usize,
        /// Samples per pixel (differences are taken between pixels, per sample).
        samples_per_pixel: usize,
    },
    /// TIFF floating-point predictor (predictor 3).
    FloatingPointPredictor {
        /// Samples per row of the tile/strip.
        row_samples: usize,
        /// Samples per pixel.
        samples_per_pixel: usize,
    },
    /// One whole GRIB message (edition 1 or 2) decoded to its grid values, in scan order
    /// normalised to rows of constant latitude, north to south unless the grid says otherwise.
    /// Missing points become NaN.
    Grib {
        /// GRIB edition of the message (1 or 2).
        edition: u8,
    },
    /// HDF5 Fletcher-32 checksum (numcodecs `fletcher32`): checks and removes the 4 bytes that
    /// end the data.
    Fletcher32,
    /// gzip (RFC 1952) stream, Zarr v3 `gzip`.
    Gzip,
    /// Zstandard frames (RFC 8878), Zarr v3 `zstd`.
    Zstd,
    /// A Blosc 1 container (Zarr v3 `blosc`): its header names the inner compressor and shuffle.
    Blosc,
    /// CRC-32C checksum (Zarr v3 `crc32c`): checks and removes the 4 bytes that end the data.
    Crc32c,
    /// Zarr v3 `transpose`: the elements were stored with the chunk's axes in this order
    /// (stored axis `k` is chunk axis `order[k]`); decoding restores C order of `chunks`.
    Transpose {
        /// Permutation of the chunk's axes.
        order: Vec<usize>,
    },
}

/// Zarr-style metadata of one array (a variable or a coordinate).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArrayMeta {
    /// Dimension names, outermost first.
    pub dims: Vec<String>,
    /// Array shape.
    pub shape: Vec<u64>,
    /// Chunk shape (same rank as `shape`; edge chunks are stored full size).
    pub chunks: Vec<u64>,
    /// Element type of the decoded chunks.
    pub dtype: DType,
    /// Byte order of the decoded chunks.
    pub endian: Endian,
    /// Decode chain, applied in order to the stored bytes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub codecs: Vec<Codec>,
    /// Raw stored value that means "missing" (`_FillValue`), also used for chunks that are not
    /// stored. NaN is allowed.
    #[serde(default, with = "opt_float", skip_serializing_if = "Option::is_none")]
    pub fill_value: Option<f64>,
    /// Attributes (CF: `units`, `long_name`, `standard_name`, `scale_factor`, `add_offset`,
    /// `missing_value`, …; GRIB keys as `GRIB_*`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attrs: Attrs,
}

impl std::fmt::Display for DType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DType::Bool => "bool",
            DType::I8 => "int8",
            DType::I16 => "int16",
            DType::I32 => "int32",
            DType::I64 => "int64",
            DType::U8 => "uint8",
            DType::U16 => "uint16",
            DType::U32 => "uint32",
            DType::U64 => "uint64",
            DType::F32 => "float32",
            DType::F64 => "float64",
        })
    }
}

/// Whether a variable is the coordinate of its only dimension: 1-D and named like it (for HDF5
/// paths, the last component: `Grid/time` is the coordinate of `time`).
pub fn is_coordinate(name: &str, meta: &ArrayMeta) -> bool {
    meta.dims.len() == 1 && name.rsplit('/').next() == Some(meta.dims[0].as_str())
}

impl ArrayMeta {
    /// Metadata with no codecs, fill value or attributes.
    pub fn new(dims: Vec<String>, shape: Vec<u64>, chunks: Vec<u64>, dtype: DType, endian: Endian) -> Self {
        ArrayMeta {
            dims,
            shape,
            chunks,
            dtype,
            endian,
            codecs: Vec::new(),
            fill_value: None,
            attrs: Attrs::new(),
        }
    }

    /// Number of chunks along each dimension.
    pub fn chunk_grid(&self) -> Vec<u64> {
        self.shape
            .iter()
            .zip(&self.chunks)
            .map(|(&s, &c)| if c == 0 { 0 } else { s.div_ceil(c) })
            .collect()
    }

    /// Number of elements in one (full-size) chunk.
    pub fn chunk_len(&self) -> usize {
        self.chunks.iter().map(|&c| c as usize).product()
    }

    /// Bytes of one decoded (full-size) chunk.
    pub fn chunk_bytes(&self) -> usize {
        self.chunk_len() * self.dtype.size()
    }
}

/// Where a chunk's stored bytes are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChunkLoc {
    /// `length` bytes at `offset` in the scanned object.
    Range {
        /// Byte offset in the object.
        offset: u64,
        /// Number of bytes.
        length: u64,
    },
    /// The stored bytes themselves (small synthesised coordinates, values that cannot be
    /// referenced). They still go through the codec chain.
    Inline(Vec<u8>),
}

/// One stored chunk of an array: its position in the chunk grid and where its bytes are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkEntry {
    /// Chunk index along each dimension.
    pub index: Vec<u64>,
    /// Stored bytes.
    pub loc: ChunkLoc,
}

/// An array found in a file: metadata plus the stored chunks (absent chunks read as fill).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScannedVariable {
    /// Name; for HDF5 groups the path without a leading slash (`Grid/precipitation`).
    pub name: String,
    /// Array metadata.
    pub meta: ArrayMeta,
    /// Stored chunks.
    pub chunks: Vec<ChunkEntry>,
}

/// The container format of a scanned object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Format {
    /// netCDF classic or 64-bit offset.
    Netcdf3,
    /// HDF5, including netCDF4.
    Hdf5,
    /// GRIB edition 1.
    Grib1,
    /// GRIB edition 2.
    Grib2,
    /// TIFF / GeoTIFF / COG.
    Geotiff,
    /// A native Zarr v3 group (its arrays' chunk objects are the sources).
    Zarr,
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Format::Netcdf3 => "netCDF3",
            Format::Hdf5 => "HDF5/netCDF4",
            Format::Grib1 => "GRIB1",
            Format::Grib2 => "GRIB2",
            Format::Geotiff => "GeoTIFF",
            Format::Zarr => "Zarr v3",
        })
    }
}

/// Everything a scanner learned from one file's headers and indexes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScannedFile {
    /// Container format.
    pub format: Format,
    /// Global attributes.
    pub attrs: Attrs,
    /// Variables and coordinates. A coordinate is a 1-D variable named like its dimension.
    pub variables: Vec<ScannedVariable>,
}

impl ScannedFile {
    /// The variable with this name.
    pub fn variable(&self, name: &str) -> Option<&ScannedVariable> {
        self.variables.iter().find(|v| v.name == name)
    }
}

/// Serde for `Option<f64>` that keeps NaN and infinities (as strings, like Zarr fill values).
mod opt_float {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            None => s.serialize_none(),
            Some(x) if x.is_finite() => s.serialize_f64(*x),
            Some(x) if x.is_nan() => s.serialize_str("NaN"),
            Some(x) if *x > 0.0 => s.serialize_str("Infinity"),
            Some(_) => s.serialize_str("-Infinity"),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        let v = Option::<serde_json::Value>::deserialize(d)?;
        match v {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(v) => super::attr_f64(&v)
                .map(Some)
                .ok_or_else(|| serde::de::Error::custom(format!("not a fill value: {v}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nan_fill_round_trips() {
        let mut m = ArrayMeta::new(vec!["x".into()], vec![3], vec![3], DType::F32, Endian::Little);
        m.fill_value = Some(f64::NAN);
        m.codecs = vec![Codec::Zlib, Codec::Shuffle { element_size: 4 }];
        let j = serde_json::to_string(&m).unwrap();
        let back: ArrayMeta = serde_json::from_str(&j).unwrap();
        assert!(back.fill_value.unwrap().is_nan());
        assert_eq!(back.codecs, m.codecs);
    }

    #[test]
    fn chunk_grid_rounds_up() {
        let m = ArrayMeta::new(
            vec!["y".into(), "x".into()],
            vec![359, 367],
            vec![128, 128],
            DType::I16,
            Endian::Little,
        );
        assert_eq!(m.chunk_grid(), vec![3, 3]);
    }
}
