//! Native Zarr v3 groups (written by zarr-python, xarray or `hod read -o x.zarr`) opened as
//! datasets: the `zarr.json` documents become a [`DatasetMeta`] whose chunks are the chunk
//! objects themselves (or, for sharded arrays, byte ranges of the shard objects found in each
//! shard's index), so the reader treats them like any other dataset.
//!
//! Specification: Zarr core v3.0 (<https://zarr-specs.readthedocs.io/en/latest/v3/core/index.html>)
//! and its codec documents (bytes, transpose, gzip, zstd, blosc, crc32c, sharding_indexed).

use crate::IndexError;
use crate::manifest::{CoordSummary, DatasetMeta, FORMAT, StaticChunk, VariableMeta};
use futures::{StreamExt, TryStreamExt};
use hod_core::{ArrayMeta, Attrs, ChunkLoc, Codec, DType, Endian, Format};
use hod_store::{ObjectInfo, Store};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

/// Shard indexes fetched at once.
const INDEX_CONCURRENCY: usize = 32;
/// Largest decoded chunk (inner chunk when sharded) this reader accepts.
const MAX_CHUNK_BYTES: u64 = 1 << 31;
/// Most absent chunks given the array's (non-missing) fill value; beyond, they read as missing.
const MAX_FILL_CHUNKS: u64 = 1 << 20;
/// Most bytes of inline fill chunks per array (uncompressed arrays make large ones).
const MAX_FILL_BYTES: u64 = 256 << 20;
/// Most inner chunks in one shard (its index is read whole).
const MAX_CHUNKS_PER_SHARD: u64 = 1 << 24;
/// Codecs this reader decodes, for error messages.
const SUPPORTED: &str = "bytes, transpose, gzip, zstd, blosc, crc32c, sharding_indexed";

/// Opens `spec` as a dataset: a dataset ingested into `store`, a Zarr v3 group stored in `store`
/// under that name (`<name>/zarr.json`), or the location of a Zarr v3 group or array (a local
/// path, `file://`, `s3://` or `memory://` URL). Returns the store the dataset's chunk
/// references are relative to, with its metadata.
///
/// # Errors
/// [`IndexError::NoDataset`] when `spec` is none of these; [`IndexError::Zarr`] for Zarr metadata
/// that is malformed or uses what this reader does not support (naming the object and what).
pub async fn open(store: &Store, spec: &str) -> Result<(Store, DatasetMeta), IndexError> {
    let is_url = ["s3://", "memory://", "file://"]
        .iter()
        .any(|p| spec.starts_with(p));
    if !is_url && crate::dataset::check_name(spec).is_ok() {
        if crate::dataset::has_head(store, spec).await? {
            return Ok((store.clone(), crate::read_meta(store, spec).await?));
        }
        if store.get_opt(&format!("{spec}/zarr.json")).await?.is_some() {
            return Ok((store.clone(), open_zarr(store, spec, spec).await?));
        }
    }
    if is_url || std::path::Path::new(spec).exists() {
        let (root, key) = hod_store::resolve(spec.trim_end_matches('/'))?;
        let name = key.rsplit('/').next().unwrap_or(&key).to_string();
        let meta = open_zarr(&root, &key, &name).await?;
        return Ok((root, meta));
    }
    Err(IndexError::NoDataset {
        name: spec.to_string(),
        store: store.url().to_string(),
    })
}

/// Names of the Zarr v3 groups and arrays stored at the top of `store` (`<name>/zarr.json`),
/// which [`open`] reads as datasets.
///
/// # Errors
/// A store error.
pub async fn list_groups(store: &Store) -> Result<Vec<String>, IndexError> {
    let mut out = Vec::new();
    for dir in store.list_dirs("").await? {
        if dir != "datasets" && store.get_opt(&format!("{dir}/zarr.json")).await?.is_some() {
            out.push(dir);
        }
    }
    Ok(out)
}

/// Reads the Zarr v3 group (or single array) at `prefix` of `store` as dataset `name`.
///
/// # Errors
/// As [`open`].
pub async fn open_zarr(store: &Store, prefix: &str, name: &str) -> Result<DatasetMeta, IndexError> {
    let prefix = prefix.trim_end_matches('/');
    let root_key = format!("{prefix}/zarr.json");
    let Some(root) = store.get_opt(&root_key).await? else {
        let v2 = store.get_opt(&format!("{prefix}/.zgroup")).await?.is_some()
            || store.get_opt(&format!("{prefix}/.zarray")).await?.is_some();
        return Err(zarr_err(
            &root_key,
            if v2 {
                "this is a Zarr v2 store; only Zarr v3 is read natively (ingest the source files instead)"
            } else {
                "not found: no Zarr v3 group or array here"
            },
        ));
    };
    let root = parse_doc(&root_key, &root)?;
    let listing = store.list(prefix).await?;
    // Array path (relative to the store) and its document, by array name.
    let mut docs: Vec<(String, String, Value)> = Vec::new();
    let mut attrs = Attrs::new();
    match root.get("node_type").and_then(Value::as_str) {
        Some("array") => {
            let short = prefix.rsplit('/').next().unwrap_or(prefix).to_string();
            docs.push((short, prefix.to_string(), root));
        }
        Some("group") => {
            attrs = attributes(&root);
            let consolidated = root
                .pointer("/consolidated_metadata/metadata")
                .and_then(Value::as_object);
            match consolidated {
                Some(children) => {
                    for (child, doc) in children {
                        if !child.contains('/')
                            && doc.get("node_type").and_then(Value::as_str) == Some("array")
                        {
                            docs.push((child.clone(), format!("{prefix}/{child}"), doc.clone()));
                        }
                    }
                }
                None => {
                    let children: Vec<String> = listing
                        .iter()
                        .filter_map(|o| {
                            let rest = o.key.strip_prefix(prefix)?.strip_prefix('/')?;
                            let child = rest.strip_suffix("/zarr.json")?;
                            (!child.contains('/')).then(|| child.to_string())
                        })
                        .collect();
                    for child in children {
                        let key = format!("{prefix}/{child}/zarr.json");
                        let doc = parse_doc(&key, &store.get(&key).await?)?;
                        if doc.get("node_type").and_then(Value::as_str) == Some("array") {
                            let path = format!("{prefix}/{child}");
                            docs.push((child, path, doc));
                        }
                    }
                }
            }
        }
        other => {
            return Err(zarr_err(
                &root_key,
                &format!("node_type {other:?}: expected \"group\" or \"array\" (is this Zarr v3?)"),
            ));
        }
    }
    let sizes: HashMap<&str, u64> = listing.iter().map(|o| (o.key.as_str(), o.size)).collect();
    let mut variables = BTreeMap::new();
    let mut static_chunks = BTreeMap::new();
    let mut dims: Vec<(String, u64)> = Vec::new();
    let mut sources = 0u64;
    for (var, path, doc) in docs {
        let key = format!("{path}/zarr.json");
        let Some(array) = translate(&key, &var, &doc)? else {
            continue;
        };
        for (d, &n) in array.meta.dims.iter().zip(&array.meta.shape) {
            match dims.iter().find(|(x, _)| x == d) {
                Some((_, m)) if *m != n => {
                    return Err(zarr_err(
                        &key,
                        &format!("dimension '{d}' has size {n} here but {m} in another array"),
                    ));
                }
                Some(_) => {}
                None => dims.push((d.clone(), n)),
            }
        }
        let objects = chunk_objects(&listing, &path, &array);
        sources += objects.len() as u64;
        let chunks = match &array.sharding {
            None => objects
                .into_iter()
                .map(|(index, key)| StaticChunk {
                    loc: ChunkLoc::Range {
                        offset: 0,
                        length: sizes.get(key.as_str()).copied().unwrap_or(0),
                    },
                    index,
                    source: format!("{}{key}", crate::STORE_URL),
                })
                .collect(),
            Some(sh) => shard_chunks(store, &array.meta, sh, objects, &sizes).await?,
        };
        let mut chunks = chunks;
        chunks.extend(fill_chunks(&key, &array, &chunks)?);
        static_chunks.insert(var.clone(), chunks);
        variables.insert(
            var,
            VariableMeta {
                array: array.meta,
                per_source_packing: false,
            },
        );
    }
    // Dimensions in the order the data variables use them (as xarray shows them).
    let order: Vec<&String> = variables
        .iter()
        .filter(|(n, v)| !hod_core::is_coordinate(n, &v.array))
        .chain(variables.iter())
        .flat_map(|(_, v)| &v.array.dims)
        .collect();
    dims.sort_by_key(|(d, _)| order.iter().position(|x| *x == d));
    let mut meta = DatasetMeta {
        format: FORMAT.to_string(),
        name: name.to_string(),
        version: "zarr".to_string(),
        dims,
        attrs,
        variables,
        static_chunks,
        concat: None,
        source_format: Format::Zarr,
        coords: BTreeMap::new(),
        sources,
        sources_key: String::new(),
    };
    let coords: Vec<String> = meta
        .variables
        .iter()
        .filter(|(n, v)| hod_core::is_coordinate(n, &v.array))
        .map(|(n, _)| n.clone())
        .collect();
    for c in coords {
        let values = crate::read_variable(store, &meta, &c, false).await?;
        if let Some(s) = CoordSummary::of(&values) {
            meta.coords.insert(c, s);
        }
    }
    Ok(meta)
}

fn zarr_err(key: &str, what: &str) -> IndexError {
    IndexError::Zarr {
        key: key.to_string(),
        what: what.to_string(),
    }
}

fn parse_doc(key: &str, bytes: &[u8]) -> Result<Value, IndexError> {
    let doc: Value =
        serde_json::from_slice(bytes).map_err(|e| zarr_err(key, &format!("not valid JSON: {e}")))?;
    match doc.get("zarr_format").and_then(Value::as_u64) {
        Some(3) => Ok(doc),
        other => Err(zarr_err(
            key,
            &format!("zarr_format {other:?}: only Zarr v3 is read natively"),
        )),
    }
}

fn attributes(doc: &Value) -> Attrs {
    doc.get("attributes")
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

/// How chunk keys are spelled (`chunk_key_encoding`).
#[derive(Debug, Clone)]
struct KeyEncoding {
    /// `v2` encoding (no `c` prefix).
    v2: bool,
    separator: String,
}

/// The inner chunks of a sharded array.
#[derive(Debug, Clone)]
struct Sharding {
    /// Shard shape (the array's chunk grid).
    shard: Vec<u64>,
    /// Index codecs end with crc32c.
    crc: bool,
    /// Index at the start (else at the end) of the shard object.
    at_start: bool,
    /// Index entries are big-endian.
    big_endian: bool,
}

/// An array's metadata as the reader needs it.
#[derive(Debug)]
struct Array {
    meta: ArrayMeta,
    keys: KeyEncoding,
    /// The array's chunk shape (the shard shape when sharded).
    grid_chunks: Vec<u64>,
    sharding: Option<Sharding>,
    /// The Zarr `fill_value`, when chunks that are not stored hold a value that CF decoding does
    /// not turn into NaN (it is neither NaN nor the `_FillValue` / `missing_value`).
    absent_fill: Option<f64>,
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
fn translate(key: &str, var: &str, doc: &Value) -> Result<Option<Array>, IndexError> {
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

/// Chunks of `a` that are not stored but must read as its Zarr fill value: one encoded fill
/// chunk, inline, for each of them (none when there are more than [`MAX_FILL_CHUNKS`] or they
/// would take more than [`MAX_FILL_BYTES`]; those then read as missing).
fn fill_chunks(key: &str, a: &Array, stored: &[StaticChunk]) -> Result<Vec<StaticChunk>, IndexError> {
    let Some(fill) = a.absent_fill else {
        return Ok(Vec::new());
    };
    let grid = a.meta.chunk_grid();
    let total = grid.iter().try_fold(1u64, |n, &g| n.checked_mul(g));
    let absent = total.map(|t| t.saturating_sub(stored.len() as u64));
    if absent.is_none_or(|n| n == 0 || n > MAX_FILL_CHUNKS) {
        return Ok(Vec::new());
    }
    let have: std::collections::HashSet<&[u64]> = stored.iter().map(|c| c.index.as_slice()).collect();
    let mut element = crate::chunks::encode_le(a.meta.dtype, &[fill]);
    if a.meta.endian == Endian::Big {
        element.reverse();
    }
    let raw = element.repeat(a.meta.chunk_len());
    let bytes = hod_formats::encode_chunk(&a.meta, &raw)
        .map_err(|e| zarr_err(key, &format!("cannot make its fill-value chunks: {e}")))?;
    if absent.is_some_and(|n| n.saturating_mul(bytes.len() as u64) > MAX_FILL_BYTES) {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    let mut index = vec![0u64; grid.len()];
    loop {
        if !have.contains(index.as_slice()) {
            out.push(StaticChunk {
                index: index.clone(),
                source: String::new(),
                loc: ChunkLoc::Inline(bytes.clone()),
            });
        }
        // Next grid position (odometer, last axis fastest).
        let mut d = grid.len();
        loop {
            if d == 0 {
                return Ok(out);
            }
            d -= 1;
            index[d] += 1;
            if index[d] < grid[d] {
                break;
            }
            index[d] = 0;
        }
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

/// The chunk (or shard) objects of an array found in the listing, by grid index.
fn chunk_objects(listing: &[ObjectInfo], path: &str, a: &Array) -> Vec<(Vec<u64>, String)> {
    let rank = a.meta.shape.len();
    let grid: Vec<u64> = a
        .meta
        .shape
        .iter()
        .zip(&a.grid_chunks)
        .map(|(s, c)| s.div_ceil(*c))
        .collect();
    listing
        .iter()
        .filter_map(|o| {
            let rest = o.key.strip_prefix(path)?.strip_prefix('/')?;
            let coords = if a.keys.v2 {
                rest
            } else if rank == 0 {
                rest.strip_prefix('c').filter(|r| r.is_empty())?
            } else {
                rest.strip_prefix('c')?.strip_prefix(a.keys.separator.as_str())?
            };
            let index: Vec<u64> = if rank == 0 {
                (coords.is_empty() || coords == "0").then(Vec::new)?
            } else {
                coords
                    .split(a.keys.separator.as_str())
                    .map(|p| p.parse::<u64>().ok())
                    .collect::<Option<_>>()?
            };
            let inside = index.len() == rank && index.iter().zip(&grid).all(|(i, g)| i < g);
            inside.then(|| (index, o.key.clone()))
        })
        .collect()
}

/// Reads every shard's index and lists the inner chunks it stores.
async fn shard_chunks(
    store: &Store,
    meta: &ArrayMeta,
    sh: &Sharding,
    shards: Vec<(Vec<u64>, String)>,
    sizes: &HashMap<&str, u64>,
) -> Result<Vec<StaticChunk>, IndexError> {
    let per: Vec<u64> = sh.shard.iter().zip(&meta.chunks).map(|(s, c)| s / c).collect();
    let n: u64 = per.iter().product();
    let index_len = n * 16 + if sh.crc { 4 } else { 0 };
    let grid = meta.chunk_grid();
    let lists: Vec<Vec<StaticChunk>> = futures::stream::iter(shards)
        .map(|(shard_index, key)| {
            let size = sizes.get(key.as_str()).copied().unwrap_or(0);
            let (per, grid) = (&per, &grid);
            async move {
                let corrupt = |what: String| zarr_err(&key, &format!("shard index: {what}"));
                if size < index_len {
                    return Err(corrupt(format!(
                        "object of {size} bytes cannot hold a {index_len}-byte index"
                    )));
                }
                let range = if sh.at_start {
                    0..index_len
                } else {
                    size - index_len..size
                };
                let raw = store.get_range(&key, range).await?;
                let mut index_meta = ArrayMeta::new(
                    vec!["chunk".into(), "entry".into()],
                    vec![n, 2],
                    vec![n, 2],
                    DType::U64,
                    Endian::Little,
                );
                if sh.crc {
                    index_meta.codecs = vec![Codec::Crc32c];
                }
                let entries =
                    hod_formats::decode_chunk(&index_meta, &raw).map_err(|e| corrupt(e.to_string()))?;
                let mut out = Vec::new();
                for (k, e) in entries.chunks_exact(16).enumerate() {
                    let word = |b: &[u8]| {
                        let a: [u8; 8] = b.try_into().unwrap_or_default();
                        if sh.big_endian {
                            u64::from_be_bytes(a)
                        } else {
                            u64::from_le_bytes(a)
                        }
                    };
                    let (offset, length) = (word(&e[..8]), word(&e[8..]));
                    if offset == u64::MAX && length == u64::MAX {
                        continue;
                    }
                    if offset.checked_add(length).is_none_or(|end| end > size) {
                        return Err(corrupt(format!(
                            "inner chunk {k} at {offset}+{length} lies outside the {size}-byte shard"
                        )));
                    }
                    // Inner position k (C order over `per`) → global chunk index.
                    let mut rest = k as u64;
                    let mut index = vec![0u64; per.len()];
                    for d in (0..per.len()).rev() {
                        index[d] = shard_index[d]
                            .saturating_mul(per[d])
                            .saturating_add(rest % per[d]);
                        rest /= per[d];
                    }
                    if index.iter().zip(grid).all(|(i, g)| i < g) {
                        out.push(StaticChunk {
                            index,
                            source: format!("{}{key}", crate::STORE_URL),
                            loc: ChunkLoc::Range { offset, length },
                        });
                    }
                }
                Ok(out)
            }
        })
        .buffer_unordered(INDEX_CONCURRENCY)
        .try_collect()
        .await?;
    Ok(lists.into_iter().flatten().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn array_doc(codecs: Value) -> Value {
        json!({
            "zarr_format": 3, "node_type": "array", "shape": [4, 6], "data_type": "float32",
            "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [2, 3]}},
            "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
            "fill_value": "NaN", "codecs": codecs, "dimension_names": ["y", "x"],
            "attributes": {"_FillValue": "AAAAAAAA+H8=", "units": "K"}
        })
    }

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

    /// zarr-python leaves out chunks that hold only the fill value; they read as that value.
    #[tokio::test]
    async fn absent_chunks_hold_the_fill_value() {
        let store = Store::open("memory://zarr-absent-fill").unwrap();
        let doc = json!({
            "zarr_format": 3, "node_type": "array", "shape": [5], "data_type": "int16",
            "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [2]}},
            "fill_value": 9, "dimension_names": ["x"], "attributes": {"missing_value": -1},
            "codecs": [{"name": "bytes", "configuration": {"endian": "big"}}, {"name": "gzip"}]
        });
        store
            .put("a/zarr.json", doc.to_string().into_bytes().into())
            .await
            .unwrap();
        let a = translate("a/zarr.json", "a", &doc).unwrap().unwrap();
        let chunk = hod_formats::encode_chunk(&a.meta, &[0, 1, 0xff, 0xff]).unwrap();
        store.put("a/c/1", chunk.into()).await.unwrap();
        let meta = open_zarr(&store, "a", "a").await.unwrap();
        let values = crate::read_variable(&store, &meta, "a", true).await.unwrap();
        // Element 3 is the CF missing_value; chunk 2 (the edge element 4) is absent too.
        let want = [9.0, 9.0, 1.0, f64::NAN, 9.0];
        assert!(
            values.iter().zip(want).all(|(a, b)| a.to_bits() == b.to_bits()),
            "{values:?}"
        );
    }

    #[test]
    fn oversized_chunks_are_refused() {
        let mut doc = array_doc(json!([{"name": "bytes"}]));
        doc["shape"] = json!([1u64 << 40, 1u64 << 40]);
        doc["chunk_grid"]["configuration"]["chunk_shape"] = json!([1u64 << 40, 1u64 << 40]);
        let e = translate("v/zarr.json", "v", &doc).unwrap_err().to_string();
        assert!(e.contains("exceed"), "{e}");
    }

    /// A sharded 1-D array with its index at the start of each shard, written by hand: shard 0
    /// holds inner chunks 0 and (empty) 1, shard 1 holds chunk 2 and the edge chunk 3.
    #[tokio::test]
    async fn shard_index_at_start() {
        let store = Store::open("memory://zarr-shard-start").unwrap();
        let doc = json!({
            "zarr_format": 3, "node_type": "array", "shape": [7], "data_type": "uint16",
            "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [4]}},
            "fill_value": 0, "dimension_names": ["x"],
            "attributes": {"_FillValue": 0},
            "codecs": [{"name": "sharding_indexed", "configuration": {
                "chunk_shape": [2], "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}],
                "index_codecs": [{"name": "bytes", "configuration": {"endian": "little"}}],
                "index_location": "start"}}]
        });
        store
            .put("g/v/zarr.json", doc.to_string().into_bytes().into())
            .await
            .unwrap();
        store
            .put(
                "g/zarr.json",
                json!({"zarr_format": 3, "node_type": "group"})
                    .to_string()
                    .into_bytes()
                    .into(),
            )
            .await
            .unwrap();
        let shard = |entries: [(u64, u64); 2], data: &[u16]| {
            let mut out: Vec<u8> = entries
                .iter()
                .flat_map(|(o, n)| [o.to_le_bytes(), n.to_le_bytes()].concat())
                .collect();
            out.extend(data.iter().flat_map(|v| v.to_le_bytes()));
            bytes::Bytes::from(out)
        };
        let none = (u64::MAX, u64::MAX);
        store
            .put("g/v/c/0", shard([(32, 4), none], &[1, 2]))
            .await
            .unwrap();
        store
            .put("g/v/c/1", shard([(32, 4), (36, 4)], &[5, 6, 7, 0]))
            .await
            .unwrap();
        let meta = open_zarr(&store, "g", "g").await.unwrap();
        let v = &meta.variables["v"].array;
        assert_eq!((v.chunks.clone(), v.fill_value), (vec![2], Some(0.0)));
        let values = crate::read_variable(&store, &meta, "v", true).await.unwrap();
        let want = [1.0, 2.0, f64::NAN, f64::NAN, 5.0, 6.0, 7.0];
        assert!(
            values.iter().zip(want).all(|(a, b)| a.to_bits() == b.to_bits()),
            "{values:?}"
        );
        // An entry that points past the end of its shard is refused, naming the shard.
        store.put("g/v/c/1", shard([(36, 40), none], &[7])).await.unwrap();
        let e = open_zarr(&store, "g", "g").await.unwrap_err().to_string();
        assert!(e.contains("g/v/c/1") && e.contains("outside"), "{e}");
    }

    #[test]
    fn chunk_keys_in_both_encodings() {
        let listing: Vec<ObjectInfo> = [
            "g/v/zarr.json",
            "g/v/c/0/1",
            "g/v/c/1/1",
            "g/v/c/2/0",
            "g/w/c/0/0",
        ]
        .iter()
        .map(|k| ObjectInfo {
            key: k.to_string(),
            size: 1,
        })
        .collect();
        let a = translate("g/v/zarr.json", "v", &array_doc(json!([{"name": "bytes"}])))
            .unwrap()
            .unwrap();
        let found: Vec<Vec<u64>> = chunk_objects(&listing, "g/v", &a)
            .into_iter()
            .map(|c| c.0)
            .collect();
        assert_eq!(found, vec![vec![0, 1], vec![1, 1]]);
        let mut v2 = array_doc(json!([{"name": "bytes"}]));
        v2["chunk_key_encoding"] = json!({"name": "v2"});
        let a = translate("g/v/zarr.json", "v", &v2).unwrap().unwrap();
        let listing = vec![ObjectInfo {
            key: "g/v/1.0".into(),
            size: 1,
        }];
        assert_eq!(chunk_objects(&listing, "g/v", &a)[0].0, vec![1, 0]);
    }
}
