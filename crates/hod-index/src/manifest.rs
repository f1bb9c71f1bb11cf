//! The manifest: dataset metadata documents and binary reference shards (docs/design/manifest.md).

use crate::IndexError;
use hod_core::{ArrayMeta, Attrs, ChunkLoc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Format tag of version documents.
pub const FORMAT: &str = "hod-dataset/1";
const SHARD_MAGIC: &[u8; 8] = b"HODSHRD1";
/// Source index of a chunk that is not stored (reads as fill).
pub(crate) const MISSING: u32 = u32::MAX;
/// Source index of a chunk whose bytes are inline in the shard's blob.
pub(crate) const INLINE: u32 = u32::MAX - 1;

/// One dataset version: everything needed to open it, without per-file data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetMeta {
    /// Always [`FORMAT`].
    pub format: String,
    /// Dataset name.
    pub name: String,
    /// Version id.
    pub version: String,
    /// Dimension sizes, in order of first appearance.
    pub dims: Vec<(String, u64)>,
    /// Global attributes (of the first file).
    pub attrs: Attrs,
    /// Variables and coordinates.
    pub variables: BTreeMap<String, VariableMeta>,
    /// Chunks of the variables that do not run along the concat dimension (taken from one file).
    pub static_chunks: BTreeMap<String, Vec<StaticChunk>>,
    /// How files were combined; `None` for a single file without a concat dimension.
    pub concat: Option<Concat>,
    /// Container format of the source objects.
    pub source_format: hod_core::Format,
    /// First and last raw value of each 1-D coordinate.
    pub coords: BTreeMap<String, CoordSummary>,
    /// Number of source objects.
    pub sources: u64,
    /// Key of the source inventory.
    pub sources_key: String,
    /// Name of the catalog profile the dataset was ingested with (`hod ingest --profile`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
}

/// Metadata of one variable in a dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariableMeta {
    /// Zarr-style array metadata.
    #[serde(flatten)]
    pub array: ArrayMeta,
    /// Files disagree on scale_factor/add_offset/_FillValue/missing_value: those come per source.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub per_source_packing: bool,
}

impl VariableMeta {
    /// Position of the concat dimension in this variable's dims.
    pub fn concat_axis(&self, concat: Option<&Concat>) -> Option<usize> {
        concat.and_then(|c| self.array.dims.iter().position(|d| *d == c.dim))
    }
}

/// First and last value of a 1-D coordinate (raw, before CF decoding).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CoordSummary {
    /// First value (NaN is written as null).
    #[serde(with = "nan_f64")]
    pub first: f64,
    /// Last value.
    #[serde(with = "nan_f64")]
    pub last: f64,
    /// Number of values.
    pub len: u64,
}

impl CoordSummary {
    /// Summary of a list of values.
    pub fn of(values: &[f64]) -> Option<CoordSummary> {
        Some(CoordSummary {
            first: *values.first()?,
            last: *values.last()?,
            len: values.len() as u64,
        })
    }
}

/// A chunk of a static variable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaticChunk {
    /// Chunk grid index.
    pub index: Vec<u64>,
    /// Source object URL (unused for inline chunks).
    pub source: String,
    /// Where the bytes are.
    pub loc: ChunkLoc,
}

/// How the files are combined along one dimension.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Concat {
    /// Dimension name.
    pub dim: String,
    /// Coordinate variable of that dimension, if any.
    pub coord: Option<String>,
    /// Coordinate values are times: seconds since 1970 of the first and last value.
    pub time_range: Option<(f64, f64)>,
    /// Shards in order along the dimension.
    pub shards: Vec<ShardInfo>,
}

impl Concat {
    /// The shard holding element `i` of the concat dimension.
    pub fn shard_of(&self, i: u64) -> Option<&ShardInfo> {
        let k = self.shards.partition_point(|s| s.end <= i);
        self.shards.get(k).filter(|s| s.start <= i)
    }
}

/// Index entry of one shard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardInfo {
    /// Store key of the shard object.
    pub key: String,
    /// First element along the concat dimension.
    pub start: u64,
    /// One past the last element.
    pub end: u64,
    /// Number of source files.
    pub files: u32,
    /// Seconds since 1970 of the first and last coordinate value, when they are times.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_range: Option<(f64, f64)>,
}

/// Per-file decode parameters of a variable (CF packing and fill values).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Packing {
    /// `scale_factor`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_factor: Option<f64>,
    /// `add_offset`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub add_offset: Option<f64>,
    /// `_FillValue` (raw). NaN is written as a string.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "nan_opt")]
    pub fill_value: Option<f64>,
    /// `missing_value` (raw).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "nan_opt")]
    pub missing_value: Option<f64>,
}

/// A source file as a shard knows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardSource {
    /// Object URL (`store:` prefix = key in the dataset's store).
    pub url: String,
    /// Object size in bytes.
    pub size: u64,
    /// First element along the concat dimension.
    pub start: u64,
    /// Number of elements along the concat dimension.
    pub len: u64,
    /// Packing of the variables that have per-source packing.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub packing: BTreeMap<String, Packing>,
}

/// A reference to a chunk's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ref {
    /// Index into the shard's sources, or [`MISSING`] / [`INLINE`].
    pub source: u32,
    /// Byte offset (in the source, or in the shard blob when inline).
    pub offset: u64,
    /// Byte length.
    pub length: u64,
}

/// The references of one variable in one shard: a dense table of chunk rows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ShardVar {
    /// First chunk index along the concat axis.
    pub chunk_start: u64,
    /// Chunks per concat index (product of the other chunk-grid dims).
    pub per_row: u64,
    /// Row-major: `(c - chunk_start) * per_row + flat index of the other dims`.
    pub refs: Vec<Ref>,
}

/// A decoded shard.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Shard {
    /// First element along the concat dimension.
    pub start: u64,
    /// One past the last element.
    pub end: u64,
    /// Source files, in order.
    pub sources: Vec<ShardSource>,
    /// Concat coordinate values (raw, in the dataset's units), one per element.
    pub coord: Vec<f64>,
    /// References per variable.
    pub vars: BTreeMap<String, ShardVar>,
    /// Inline chunk bytes.
    pub blob: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
struct ShardHeader {
    start: u64,
    end: u64,
    sources: Vec<ShardSource>,
    vars: BTreeMap<String, (u64, u64, u64)>,
    blob: u64,
}

impl Shard {
    /// Serialises: magic, header length, JSON header, then columns (coord `f64`, and per variable
    /// source `u32`, offset `u64`, length `u64`), then the inline blob; all little-endian.
    pub fn encode(&self) -> Vec<u8> {
        let header = ShardHeader {
            start: self.start,
            end: self.end,
            sources: self.sources.clone(),
            vars: self
                .vars
                .iter()
                .map(|(k, v)| (k.clone(), (v.chunk_start, v.per_row, v.refs.len() as u64)))
                .collect(),
            blob: self.blob.len() as u64,
        };
        // Serialising plain data to a Vec cannot fail.
        let h = serde_json::to_vec(&header).unwrap_or_default();
        let n: usize = self.vars.values().map(|v| v.refs.len() * 20).sum();
        let mut out = Vec::with_capacity(12 + h.len() + self.coord.len() * 8 + n + self.blob.len());
        out.extend_from_slice(SHARD_MAGIC);
        out.extend_from_slice(&(h.len() as u32).to_le_bytes());
        out.extend_from_slice(&h);
        self.coord
            .iter()
            .for_each(|c| out.extend_from_slice(&c.to_le_bytes()));
        for v in self.vars.values() {
            v.refs
                .iter()
                .for_each(|r| out.extend_from_slice(&r.source.to_le_bytes()));
            v.refs
                .iter()
                .for_each(|r| out.extend_from_slice(&r.offset.to_le_bytes()));
            v.refs
                .iter()
                .for_each(|r| out.extend_from_slice(&r.length.to_le_bytes()));
        }
        out.extend_from_slice(&self.blob);
        out
    }

    /// Parses a shard written by [`Shard::encode`].
    ///
    /// # Errors
    /// [`IndexError::Corrupt`] naming `key` when the bytes are not a valid shard.
    pub fn decode(key: &str, data: &[u8]) -> Result<Shard, IndexError> {
        let corrupt = |what: &str| IndexError::Corrupt {
            key: key.to_string(),
            what: what.to_string(),
        };
        let mut r = Reader { data, pos: 0 };
        if r.take(8).ok_or_else(|| corrupt("too short"))? != SHARD_MAGIC {
            return Err(corrupt("not a hod shard (bad magic)"));
        }
        let hlen = r.u32().ok_or_else(|| corrupt("truncated header length"))? as usize;
        let hbytes = r.take(hlen).ok_or_else(|| corrupt("truncated header"))?;
        let header: ShardHeader =
            serde_json::from_slice(hbytes).map_err(|e| corrupt(&format!("header: {e}")))?;
        let n = header
            .end
            .checked_sub(header.start)
            .ok_or_else(|| corrupt("end before start"))? as usize;
        let need: u64 = header
            .vars
            .values()
            .map(|v| v.2.saturating_mul(20))
            .fold((n as u64).saturating_mul(8), u64::saturating_add)
            .saturating_add(header.blob);
        if need > (data.len() - r.pos) as u64 {
            return Err(corrupt("truncated columns"));
        }
        let coord = (0..n).filter_map(|_| r.u64().map(f64::from_bits)).collect();
        let mut vars = BTreeMap::new();
        for (name, (chunk_start, per_row, count)) in header.vars {
            let count = count as usize;
            let sources: Vec<u32> = (0..count).filter_map(|_| r.u32()).collect();
            let offsets: Vec<u64> = (0..count).filter_map(|_| r.u64()).collect();
            let lengths: Vec<u64> = (0..count).filter_map(|_| r.u64()).collect();
            let refs = sources
                .into_iter()
                .zip(offsets)
                .zip(lengths)
                .map(|((source, offset), length)| Ref {
                    source,
                    offset,
                    length,
                })
                .collect();
            vars.insert(
                name,
                ShardVar {
                    chunk_start,
                    per_row,
                    refs,
                },
            );
        }
        let blob = r
            .take(header.blob as usize)
            .ok_or_else(|| corrupt("truncated blob"))?
            .to_vec();
        let shard = Shard {
            start: header.start,
            end: header.end,
            sources: header.sources,
            coord,
            vars,
            blob,
        };
        shard.validate().map_err(|w| corrupt(&w))?;
        Ok(shard)
    }

    fn validate(&self) -> Result<(), String> {
        for (name, v) in &self.vars {
            for r in &v.refs {
                let ok = match r.source {
                    MISSING => true,
                    INLINE => r
                        .offset
                        .checked_add(r.length)
                        .is_some_and(|e| e <= self.blob.len() as u64),
                    s => (s as usize) < self.sources.len(),
                };
                if !ok {
                    return Err(format!("{name}: chunk reference {r:?} points outside the shard"));
                }
            }
        }
        Ok(())
    }

    /// The stored location of chunk `index` of `var`, or `None` when it is not stored.
    pub fn locate(&self, var: &str, axis: usize, grid: &[u64], index: &[u64]) -> Option<Located<'_>> {
        let v = self.vars.get(var)?;
        let row = index.get(axis)?.checked_sub(v.chunk_start)?;
        let mut flat = 0u64;
        for (d, (&i, &g)) in index.iter().zip(grid).enumerate() {
            if d != axis {
                flat = flat * g + i;
            }
        }
        let r = *v.refs.get((row * v.per_row + flat) as usize)?;
        match r.source {
            MISSING => None,
            INLINE => Some(Located::Inline(
                self.blob.get(r.offset as usize..(r.offset + r.length) as usize)?,
            )),
            s => {
                let src = self.sources.get(s as usize)?;
                Some(Located::Range {
                    source: src,
                    offset: r.offset,
                    length: r.length,
                })
            }
        }
    }
}

/// Where a chunk is, as found by [`Shard::locate`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Located<'a> {
    /// A byte range of a source object.
    Range {
        /// The source.
        source: &'a ShardSource,
        /// Offset.
        offset: u64,
        /// Length.
        length: u64,
    },
    /// Inline bytes.
    Inline(&'a [u8]),
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.data.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(s)
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_le_bytes)
    }
    fn u64(&mut self) -> Option<u64> {
        self.take(8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
    }
}

/// `f64` with NaN kept as a string.
mod nan_f64 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        if v.is_finite() {
            s.serialize_f64(*v)
        } else {
            s.serialize_str(&v.to_string())
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        let v = serde_json::Value::deserialize(d)?;
        Ok(match &v {
            serde_json::Value::String(s) if s == "inf" => f64::INFINITY,
            serde_json::Value::String(s) if s == "-inf" => f64::NEG_INFINITY,
            other => hod_core::attr_f64(other).unwrap_or(f64::NAN),
        })
    }
}

/// `Option<f64>` with NaN kept as a string.
mod nan_opt {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(x) if x.is_nan() => s.serialize_str("NaN"),
            Some(x) => s.serialize_f64(*x),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        Ok(Option::<serde_json::Value>::deserialize(d)?
            .as_ref()
            .and_then(hod_core::attr_f64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Shard {
        let mut vars = BTreeMap::new();
        vars.insert(
            "t2m".to_string(),
            ShardVar {
                chunk_start: 24,
                per_row: 2,
                refs: vec![
                    Ref {
                        source: 0,
                        offset: 1520,
                        length: 3234,
                    },
                    Ref {
                        source: MISSING,
                        offset: 0,
                        length: 0,
                    },
                    Ref {
                        source: INLINE,
                        offset: 0,
                        length: 3,
                    },
                    Ref {
                        source: 0,
                        offset: 4754,
                        length: 3234,
                    },
                ],
            },
        );
        Shard {
            start: 24,
            end: 26,
            sources: vec![ShardSource {
                url: "file:///a.nc".into(),
                size: 79136,
                start: 24,
                len: 2,
                packing: BTreeMap::from([(
                    "t2m".to_string(),
                    Packing {
                        scale_factor: Some(0.5),
                        add_offset: Some(280.0),
                        fill_value: Some(f64::NAN),
                        missing_value: None,
                    },
                )]),
            }],
            coord: vec![1.0, 2.0],
            vars,
            blob: vec![7, 8, 9],
        }
    }

    #[test]
    fn shard_round_trips_and_locates() {
        let s = sample();
        let bytes = s.encode();
        let back = Shard::decode("k", &bytes).unwrap();
        assert_eq!(back.vars, s.vars);
        assert_eq!(back.coord, s.coord);
        assert!(back.sources[0].packing["t2m"].fill_value.unwrap().is_nan());
        let grid = [744, 1, 2];
        assert!(matches!(
            back.locate("t2m", 0, &grid, &[24, 0, 0]),
            Some(Located::Range { offset: 1520, .. })
        ));
        assert_eq!(back.locate("t2m", 0, &grid, &[24, 0, 1]), None);
        assert_eq!(
            back.locate("t2m", 0, &grid, &[25, 0, 0]),
            Some(Located::Inline(&[7, 8, 9]))
        );
        assert_eq!(back.locate("t2m", 0, &grid, &[26, 0, 0]), None);
    }

    #[test]
    fn truncated_shards_are_errors() {
        let bytes = sample().encode();
        for n in 0..bytes.len() {
            assert!(Shard::decode("k", &bytes[..n]).is_err(), "prefix {n} accepted");
        }
    }

    #[test]
    fn shard_lookup_by_element() {
        let shard = |start, end| ShardInfo {
            key: String::new(),
            start,
            end,
            files: 1,
            time_range: None,
        };
        let c = Concat {
            dim: "time".into(),
            coord: None,
            time_range: None,
            shards: vec![shard(0, 24), shard(24, 48)],
        };
        assert_eq!(c.shard_of(0).unwrap().start, 0);
        assert_eq!(c.shard_of(24).unwrap().start, 24);
        assert_eq!(c.shard_of(47).unwrap().start, 24);
        assert!(c.shard_of(48).is_none());
    }
}
