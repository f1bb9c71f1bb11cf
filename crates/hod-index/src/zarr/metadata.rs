//! Zarr v3 array metadata (`zarr.json`) → our [`ArrayMeta`]: data type, chunk grid, chunk key
//! encoding, the codec list as a decode chain, dimension names and CF fill values.

use super::{attributes, zarr_err};
use crate::IndexError;
use hod_core::{ArrayMeta, Codec, DType, Endian};
use serde_json::Value;

/// Largest decoded chunk (inner chunk when sharded) this reader accepts.
const MAX_CHUNK_BYTES: u64 = 1 << 31;
/// Most inner chunks in one shard (its index is read whole).
const MAX_CHUNKS_PER_SHARD: u64 = 1 << 24;
/// Codecs this reader decodes, for error messages.
const SUPPORTED: &str = "bytes, transpose, gzip, zstd, blosc, crc32c, sharding_indexed";

/// How chunk keys are spelled (`chunk_key_encoding`).
#[derive(Debug, Clone)]
pub(super) struct KeyEncoding {
    /// `v2` encoding (no `c` prefix).
    pub(super) v2: bool,
    pub(super) separator: String,
}

/// The inner chunks of a sharded array.
#[derive(Debug, Clone)]
pub(super) struct Sharding {
    /// Shard shape (the array's chunk grid).
    pub(super) shard: Vec<u64>,
    /// Index codecs end with crc32c.
    pub(super) crc: bool,
    /// Index at the start (else at the end) of the shard object.
    pub(super) at_start: bool,
    /// Index entries are big-endian.
    pub(super) big_endian: bool,
}

/// An array's metadata as the reader needs it.
#[derive(Debug)]
pub(super) struct Array {
    pub(super) meta: ArrayMeta,
    pub(super) keys: KeyEncoding,
    /// The array's chunk shape (the shard shape when sharded).
    pub(super) grid_chunks: Vec<u64>,
    pub(super) sharding: Option<Sharding>,
    /// The Zarr `fill_value`, when chunks that are not stored hold a value that CF decoding does
    /// not turn into NaN (it is neither NaN nor the `_FillValue` / `missing_value`).
    pub(super) absent_fill: Option<f64>,
}

fn dtype_of(name: &str) -> Option<DType> {
    Some(match name {
        "bool" => DType::Bool,
        "int8" => DType::I8,
        "int16" => DType::I16,
        "int32" => DType::I32,
        "int64" => DType::I64,
        "uint8" => DType::U8,
        "uint16" => DType::U16,
        "uint32" => DType::U32,
        "uint64" => DType::U64,
        "float32" => DType::F32,
        "float64" => DType::F64,
        _ => return None,
    })
}

fn u64_list(v: Option<&Value>) -> Option<Vec<u64>> {
    v?.as_array()?.iter().map(Value::as_u64).collect()
}

/// Translates one array document; `None` for data types that are not numbers (strings, …),
/// which are left out of the dataset.
pub(super) fn translate(key: &str, var: &str, doc: &Value) -> Result<Option<Array>, IndexError> {
    let bad = |what: &str| zarr_err(key, what);
    let type_name = match doc.get("data_type") {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => return Err(bad("no data_type")),
    };
    let Some(dtype) = dtype_of(&type_name) else {
        return Ok(None);
    };
    let shape = u64_list(doc.get("shape")).ok_or_else(|| bad("shape is not a list of sizes"))?;
    let grid = doc.get("chunk_grid").ok_or_else(|| bad("no chunk_grid"))?;
    if grid.get("name").and_then(Value::as_str) != Some("regular") {
        return Err(bad(&format!(
            "chunk grid {} is not supported (only \"regular\")",
            grid.get("name").unwrap_or(&Value::Null)
        )));
    }
    let chunks = u64_list(grid.pointer("/configuration/chunk_shape"))
        .filter(|c| c.len() == shape.len() && !c.contains(&0))
        .ok_or_else(|| bad("chunk_shape must give one positive size per dimension"))?;
    let keys = match doc.get("chunk_key_encoding") {
        None => KeyEncoding {
            v2: false,
            separator: "/".into(),
        },
        Some(enc) => {
            let v2 = match enc.get("name").and_then(Value::as_str) {
                Some("default") => false,
                Some("v2") => true,
                other => return Err(bad(&format!("chunk key encoding {other:?} is not supported"))),
            };
            let separator = enc
                .pointer("/configuration/separator")
                .and_then(Value::as_str)
                .unwrap_or(if v2 { "." } else { "/" })
                .to_string();
            if separator != "/" && separator != "." {
                return Err(bad(&format!("chunk key separator {separator:?}")));
            }
            KeyEncoding { v2, separator }
        }
    };
    if doc
        .get("storage_transformers")
        .and_then(Value::as_array)
        .is_some_and(|t| !t.is_empty())
    {
        return Err(bad("storage transformers are not supported"));
    }
    let codec_list = doc
        .get("codecs")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("no codecs list"))?;
    let chain = codec_chain(key, codec_list, shape.len(), true)?;
    let mut attrs = attributes(doc);
    let names = doc
        .get("dimension_names")
        .and_then(Value::as_array)
        .or_else(|| attrs.get("_ARRAY_DIMENSIONS").and_then(Value::as_array))
        .cloned();
    let dims: Vec<String> = match names {
        Some(n) if n.len() == shape.len() => n
            .iter()
            .enumerate()
            .map(|(d, x)| {
                x.as_str()
                    .map_or_else(|| format!("{var}_dim_{d}"), str::to_string)
            })
            .collect(),
        Some(_) => return Err(bad("dimension_names do not match the shape's rank")),
        None => (0..shape.len()).map(|d| format!("{var}_dim_{d}")).collect(),
    };
    attrs.remove("_ARRAY_DIMENSIONS");
    // The CF fill value is the `_FillValue` attribute (xarray writes floats as base64 of the
    // float64 bytes); the Zarr `fill_value` only fills chunks that are not stored.
    let fill_value = attrs.remove("_FillValue").and_then(|f| cf_fill(&f, dtype));
    let (chunk_shape, sharding) = match chain.sharding {
        None => (chunks.clone(), None),
        Some((inner, sh)) => {
            if chunks.iter().zip(&inner).any(|(s, c)| s % c != 0) {
                return Err(bad(&format!(
                    "shard shape {chunks:?} is not a multiple of the inner chunk shape {inner:?}"
                )));
            }
            (
                inner,
                Some(Sharding {
                    shard: chunks.clone(),
                    ..sh
                }),
            )
        }
    };
    // Chunks are decoded whole in memory: refuse sizes that could not be (or would overflow).
    let chunk_bytes = chunk_shape
        .iter()
        .try_fold(dtype.size() as u64, |a, &c| a.checked_mul(c))
        .filter(|&b| b <= MAX_CHUNK_BYTES);
    if chunk_bytes.is_none() {
        return Err(bad(&format!(
            "chunks of {chunk_shape:?} {type_name} values exceed {MAX_CHUNK_BYTES} bytes"
        )));
    }
    if let Some(sh) = &sharding {
        let per = sh
            .shard
            .iter()
            .zip(&chunk_shape)
            .try_fold(1u64, |a, (s, c)| a.checked_mul(s / c));
        if per.is_none_or(|n| n > MAX_CHUNKS_PER_SHARD) {
            return Err(bad(&format!(
                "more than {MAX_CHUNKS_PER_SHARD} inner chunks per shard"
            )));
        }
    }
    let mut meta = ArrayMeta::new(dims, shape, chunk_shape, dtype, chain.endian);
    meta.codecs = chain.codecs;
    meta.fill_value = fill_value;
    meta.attrs = attrs;
    let missing = crate::packing_from_attrs(&meta);
    let absent_fill = zarr_fill(doc.get("fill_value"), dtype)
        .filter(|&f| !(f.is_nan() || missing.fill_value == Some(f) || missing.missing_value == Some(f)));
    Ok(Some(Array {
        meta,
        keys,
        grid_chunks: chunks,
        sharding,
        absent_fill,
    }))
}

/// A Zarr v3 `fill_value`: a number, `"NaN"`, `"Infinity"`, `"-Infinity"`, the hex bit pattern of
/// a float (`"0x7fc00000"`), or a boolean.
fn zarr_fill(v: Option<&Value>, dtype: DType) -> Option<f64> {
    match v? {
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        Value::String(s) if s.starts_with("0x") => {
            let bits = u64::from_str_radix(&s[2..], 16).ok()?;
            match dtype {
                DType::F32 => Some(f64::from(f32::from_bits(u32::try_from(bits).ok()?))),
                DType::F64 => Some(f64::from_bits(bits)),
                _ => None,
            }
        }
        other => hod_core::attr_f64(other),
    }
}

/// `_FillValue` as xarray writes it to Zarr v3 attributes.
fn cf_fill(v: &Value, dtype: DType) -> Option<f64> {
    use base64::Engine;
    if let Some(x) = hod_core::attr_f64(v) {
        return Some(x);
    }
    let s = v.as_str()?;
    let bytes = base64::engine::general_purpose::STANDARD.decode(s).ok()?;
    match (dtype.is_float(), <[u8; 8]>::try_from(bytes.as_slice())) {
        (true, Ok(b)) => Some(f64::from_le_bytes(b)),
        _ => None,
    }
}

/// A decoded codec list.
struct Chain {
    codecs: Vec<Codec>,
    endian: Endian,
    /// Inner chunk shape and index layout, for `sharding_indexed`.
    sharding: Option<(Vec<u64>, Sharding)>,
}

/// Turns a Zarr codec list (array→array, one array→bytes, bytes→bytes, in encoding order) into
/// our decode chain (applied to the stored bytes: bytes→bytes reversed, then array→array
/// reversed); the `bytes` codec's endianness becomes the chunk's byte order.
fn codec_chain(key: &str, list: &[Value], rank: usize, outer: bool) -> Result<Chain, IndexError> {
    let bad = |what: String| zarr_err(key, &what);
    let mut array_array = Vec::new();
    let mut inner_codecs = Vec::new();
    let mut bytes_bytes = Vec::new();
    let mut endian = None;
    let mut sharding = None;
    for c in list {
        let (name, conf) = match c {
            Value::String(s) => (s.as_str(), &Value::Null),
            _ => (
                c.get("name").and_then(Value::as_str).unwrap_or(""),
                c.get("configuration").unwrap_or(&Value::Null),
            ),
        };
        let after_bytes = endian.is_some() || sharding.is_some();
        let stage = |ok: bool| {
            if ok {
                Ok(())
            } else {
                Err(bad(format!("codec '{name}' is out of order in the codec list")))
            }
        };
        match name {
            "transpose" => {
                stage(!after_bytes)?;
                let order: Vec<usize> = match conf.get("order") {
                    Some(Value::String(s)) if s == "C" => (0..rank).collect(),
                    Some(Value::String(s)) if s == "F" => (0..rank).rev().collect(),
                    o => u64_list(o)
                        .map(|v| v.into_iter().map(|x| x as usize).collect())
                        .ok_or_else(|| bad(format!("transpose order {o:?}")))?,
                };
                if order.iter().enumerate().any(|(k, &o)| k != o) {
                    array_array.push(Codec::Transpose { order });
                }
            }
            "bytes" | "endian" => {
                stage(!after_bytes)?;
                endian = Some(match conf.get("endian").and_then(Value::as_str) {
                    Some("big") => Endian::Big,
                    _ => Endian::Little,
                });
            }
            "sharding_indexed" if outer => {
                stage(!after_bytes && array_array.is_empty())?;
                let inner = u64_list(conf.get("chunk_shape"))
                    .filter(|c| c.len() == rank && !c.contains(&0))
                    .ok_or_else(|| bad("sharding chunk_shape must give one size per dimension".into()))?;
                let inner_list = conf
                    .get("codecs")
                    .and_then(Value::as_array)
                    .ok_or_else(|| bad("sharding_indexed has no codecs".into()))?;
                let index_list = conf
                    .get("index_codecs")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                let index = codec_chain(key, &index_list, rank + 1, false)?;
                let crc = match index.codecs.as_slice() {
                    [] => false,
                    [Codec::Crc32c] => true,
                    _ => return Err(bad("shard index codecs other than bytes and crc32c".into())),
                };
                let at_start = match conf.get("index_location").and_then(Value::as_str) {
                    None | Some("end") => false,
                    Some("start") => true,
                    Some(o) => return Err(bad(format!("shard index_location '{o}'"))),
                };
                let chain = codec_chain(key, inner_list, rank, false)?;
                endian = Some(chain.endian);
                inner_codecs = chain.codecs;
                sharding = Some((
                    inner,
                    Sharding {
                        shard: Vec::new(),
                        crc,
                        at_start,
                        big_endian: index.endian == Endian::Big,
                    },
                ));
            }
            "sharding_indexed" => return Err(bad("nested sharding_indexed is not supported".into())),
            "gzip" | "zstd" | "blosc" | "crc32c" => {
                stage(after_bytes && sharding.is_none())?;
                bytes_bytes.push(match name {
                    "gzip" => Codec::Gzip,
                    "zstd" => Codec::Zstd,
                    "blosc" => Codec::Blosc,
                    _ => Codec::Crc32c,
                });
            }
            other => {
                return Err(bad(format!(
                    "codec '{other}' is not supported (supported: {SUPPORTED})"
                )));
            }
        }
    }
    if endian.is_none() && sharding.is_none() {
        return Err(bad("the codec list has no array-to-bytes codec ('bytes')".into()));
    }
    // A sharded array's chunks are the inner chunks, decoded by the inner chain.
    let codecs = if sharding.is_some() {
        inner_codecs
    } else {
        bytes_bytes
            .into_iter()
            .rev()
            .chain(array_array.into_iter().rev())
            .collect()
    };
    Ok(Chain {
        codecs,
        endian: endian.unwrap_or_default(),
        sharding,
    })
}

/// An array document for tests: 4 × 6 float32 in 2 × 3 chunks with these codecs.
#[cfg(test)]
pub(super) fn array_doc(codecs: Value) -> Value {
    serde_json::json!({
        "zarr_format": 3, "node_type": "array", "shape": [4, 6], "data_type": "float32",
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [2, 3]}},
        "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
        "fill_value": "NaN", "codecs": codecs, "dimension_names": ["y", "x"],
        "attributes": {"_FillValue": "AAAAAAAA+H8=", "units": "K"}
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn codec_list_becomes_a_decode_chain() {
        let doc = array_doc(json!([
            {"name": "transpose", "configuration": {"order": [1, 0]}},
            {"name": "bytes", "configuration": {"endian": "big"}},
            {"name": "zstd", "configuration": {"level": 0}},
            {"name": "crc32c"}
        ]));
        let a = translate("v/zarr.json", "v", &doc).unwrap().unwrap();
        assert_eq!(
            a.meta.codecs,
            vec![Codec::Crc32c, Codec::Zstd, Codec::Transpose { order: vec![1, 0] }]
        );
        assert_eq!(a.meta.endian, Endian::Big);
        assert!(a.meta.fill_value.unwrap().is_nan());
        assert!(!a.meta.attrs.contains_key("_FillValue"));
        assert_eq!(a.meta.dims, ["y", "x"]);
    }

    #[test]
    fn unsupported_codec_is_named() {
        let doc = array_doc(json!([{"name": "bytes"}, {"name": "bitround"}]));
        let e = translate("v/zarr.json", "v", &doc).unwrap_err().to_string();
        assert!(e.contains("v/zarr.json") && e.contains("'bitround'"), "{e}");
    }

    #[test]
    fn zarr_fill_values() {
        let f = |v: Value, t| zarr_fill(Some(&v), t);
        assert_eq!(f(json!(-9999), DType::I16), Some(-9999.0));
        assert_eq!(f(json!("0x3fc00000"), DType::F32), Some(1.5));
        assert!(f(json!("0x7ff8000000000000"), DType::F64).unwrap().is_nan());
        assert_eq!(f(json!("-Infinity"), DType::F64), Some(f64::NEG_INFINITY));
        assert_eq!(f(json!(true), DType::Bool), Some(1.0));
        assert_eq!(f(json!("0xzz"), DType::F32), None);
    }

    #[test]
    fn oversized_chunks_are_refused() {
        let mut doc = array_doc(json!([{"name": "bytes"}]));
        doc["shape"] = json!([1u64 << 40, 1u64 << 40]);
        doc["chunk_grid"]["configuration"]["chunk_shape"] = json!([1u64 << 40, 1u64 << 40]);
        let e = translate("v/zarr.json", "v", &doc).unwrap_err().to_string();
        assert!(e.contains("exceed"), "{e}");
    }
}
