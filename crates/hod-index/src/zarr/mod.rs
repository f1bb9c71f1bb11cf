//! Native Zarr v3 groups (written by zarr-python, xarray or `hod read -o x.zarr`) opened as
//! datasets: the `zarr.json` documents become a [`DatasetMeta`] whose chunks are the chunk
//! objects themselves (or, for sharded arrays, byte ranges of the shard objects found in each
//! shard's index), so the reader treats them like any other dataset.
//!
//! Specification: Zarr core v3.0 (<https://zarr-specs.readthedocs.io/en/latest/v3/core/index.html>)
//! and its codec documents (bytes, transpose, gzip, zstd, blosc, crc32c, sharding_indexed).

mod locate;
mod metadata;

use crate::IndexError;
use crate::manifest::{CoordSummary, DatasetMeta, FORMAT, StaticChunk, VariableMeta};
use hod_core::{Attrs, ChunkLoc, Format};
use hod_store::Store;
use locate::{chunk_objects, fill_chunks, shard_chunks};
use metadata::translate;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

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
        profile: None,
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

pub(super) fn zarr_err(key: &str, what: &str) -> IndexError {
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

pub(super) fn attributes(doc: &Value) -> Attrs {
    doc.get("attributes")
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}
