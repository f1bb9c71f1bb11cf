//! Export as kerchunk references (version 1 JSON), which xarray opens with
//! `xr.open_dataset("reference://", engine="zarr", backend_kwargs={"consolidated": False,
//! "storage_options": {"fo": "refs.json"}})`.

use crate::IndexError;
use crate::chunks::{ChunkRef, all_chunks};
use crate::manifest::{DatasetMeta, Shard, VariableMeta};
use base64::Engine;
use hod_core::{ChunkLoc, Codec, Endian};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// Decoded chunks of variables packed per source file, to inline in an export.
pub type Unpacked = BTreeMap<String, Vec<(Vec<u64>, Vec<f64>)>>;

/// Builds the kerchunk references of a dataset. `url_of` turns a source URL of the manifest
/// (`store:` keys included) into the URL fsspec should read. Variables packed per source file
/// are exported from `unpacked` (their decoded values, inline as float64) when given there.
///
/// # Errors
/// [`IndexError::Export`] when a variable cannot be expressed exactly in kerchunk's format: packed
/// with different `scale_factor`/`add_offset` per file (and not in `unpacked`), or stored with a
/// codec numcodecs lacks.
pub fn export(
    meta: &DatasetMeta,
    shards: &[Shard],
    url_of: &dyn Fn(&str) -> String,
    unpacked: &Unpacked,
) -> Result<Value, IndexError> {
    let mut refs = Map::new();
    refs.insert(".zgroup".into(), json!({"zarr_format": 2}).to_string().into());
    refs.insert(
        ".zattrs".into(),
        Value::Object(meta.attrs.clone().into_iter().collect())
            .to_string()
            .into(),
    );
    for (name, var) in &meta.variables {
        // Groups (HDF5 paths such as Grid/precipitation) need their own .zgroup.
        let mut prefix = String::new();
        for part in name
            .split('/')
            .collect::<Vec<_>>()
            .split_last()
            .map_or(&[][..], |(_, g)| g)
        {
            prefix.push_str(part);
            prefix.push('/');
            refs.insert(
                format!("{prefix}.zgroup"),
                json!({"zarr_format": 2}).to_string().into(),
            );
        }
        let key = |index: &[u64]| match index {
            [] => format!("{name}/0"),
            _ => format!(
                "{name}/{}",
                index.iter().map(u64::to_string).collect::<Vec<_>>().join(".")
            ),
        };
        let mut attrs: Map<String, Value> = var.array.attrs.clone().into_iter().collect();
        attrs.insert("_ARRAY_DIMENSIONS".into(), json!(var.array.dims));
        if let (true, Some(chunks)) = (var.per_source_packing, unpacked.get(name)) {
            // Decoded values: float64, NaN where missing, no packing left for readers to apply.
            let mut zarray = zarray(
                name,
                &VariableMeta {
                    per_source_packing: false,
                    ..var.clone()
                },
            )?;
            zarray["dtype"] = "<f8".into();
            zarray["fill_value"] = "NaN".into();
            zarray["compressor"] = Value::Null;
            zarray["filters"] = Value::Null;
            for k in ["scale_factor", "add_offset", "missing_value"] {
                attrs.remove(k);
            }
            refs.insert(format!("{name}/.zarray"), zarray.to_string().into());
            refs.insert(format!("{name}/.zattrs"), Value::Object(attrs).to_string().into());
            for (index, values) in chunks {
                let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
                refs.insert(key(index), base64_inline(&bytes));
            }
            continue;
        }
        refs.insert(format!("{name}/.zarray"), zarray(name, var)?.to_string().into());
        refs.insert(format!("{name}/.zattrs"), Value::Object(attrs).to_string().into());
        for ChunkRef { index, url, loc, .. } in all_chunks(meta, shards, name)? {
            let value = match loc {
                ChunkLoc::Range { offset, length } => json!([url_of(&url), offset, length]),
                ChunkLoc::Inline(bytes) => base64_inline(&bytes),
            };
            refs.insert(key(&index), value);
        }
    }
    Ok(json!({"version": 1, "refs": refs}))
}

fn base64_inline(bytes: &[u8]) -> Value {
    Value::String(format!(
        "base64:{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    ))
}

fn zarray(name: &str, var: &VariableMeta) -> Result<Value, IndexError> {
    let a = &var.array;
    if var.per_source_packing {
        return Err(IndexError::Export(format!(
            "'{name}' is packed with a different scale_factor/add_offset (or fill value) in each source file; \
             kerchunk applies one per array, so xarray would decode most files wrongly. Export with \
             `hod refs --inline-unpacked` to embed the decoded values (exact, but the file holds the data)"
        )));
    }
    let order = match a.endian {
        _ if a.dtype.size() == 1 => "|",
        Endian::Little => "<",
        Endian::Big => ">",
    };
    let (compressor, filters) = match a.codecs.as_slice() {
        [] => (Value::Null, Value::Null),
        [Codec::Zlib] => (json!({"id": "zlib", "level": 1}), Value::Null),
        [Codec::Zlib, Codec::Shuffle { element_size }] => (
            json!({"id": "zlib", "level": 1}),
            json!([{"id": "shuffle", "elementsize": element_size}]),
        ),
        [Codec::Grib { .. }] => (
            Value::Null,
            json!([{"id": "grib", "var": name, "dtype": "float32"}]),
        ),
        other => {
            return Err(IndexError::Export(format!(
                "'{name}' is stored with codecs {other:?}, which numcodecs cannot decode; read it with `hod read`"
            )));
        }
    };
    let fill = match a.fill_value {
        None => Value::Null,
        Some(f) if f.is_nan() => "NaN".into(),
        Some(f) if f.is_infinite() => (if f > 0.0 { "Infinity" } else { "-Infinity" }).into(),
        Some(f) if !a.dtype.is_float() => json!(f as i64),
        Some(f) => json!(f),
    };
    Ok(json!({
        "zarr_format": 2,
        "shape": a.shape,
        "chunks": a.chunks,
        "dtype": format!("{order}{}", a.dtype.numpy_kind()),
        "compressor": compressor,
        "filters": filters,
        "fill_value": fill,
        "order": "C",
    }))
}
