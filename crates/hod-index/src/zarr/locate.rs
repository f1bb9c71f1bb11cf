//! Where an array's chunks are: its chunk objects found in the listing, the inner chunks of
//! each shard (from the shard's index), and inline fill-value chunks for those not stored.

use super::metadata::{Array, Sharding};
use super::zarr_err;
use crate::IndexError;
use crate::manifest::StaticChunk;
use futures::{StreamExt, TryStreamExt};
use hod_core::{ArrayMeta, ChunkLoc, Codec, DType, Endian};
use hod_store::{ObjectInfo, Store};
use std::collections::HashMap;

/// Shard indexes fetched at once.
const INDEX_CONCURRENCY: usize = 32;
/// Most absent chunks given the array's (non-missing) fill value; beyond, they read as missing.
const MAX_FILL_CHUNKS: u64 = 1 << 20;
/// Most bytes of inline fill chunks per array (uncompressed arrays make large ones).
const MAX_FILL_BYTES: u64 = 256 << 20;

/// Chunks of `a` that are not stored but must read as its Zarr fill value: one encoded fill
/// chunk, inline, for each of them (none when there are more than [`MAX_FILL_CHUNKS`] or they
/// would take more than [`MAX_FILL_BYTES`]; those then read as missing).
pub(super) fn fill_chunks(
    key: &str,
    a: &Array,
    stored: &[StaticChunk],
) -> Result<Vec<StaticChunk>, IndexError> {
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

/// The chunk (or shard) objects of an array found in the listing, by grid index.
pub(super) fn chunk_objects(listing: &[ObjectInfo], path: &str, a: &Array) -> Vec<(Vec<u64>, String)> {
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
pub(super) async fn shard_chunks(
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
    use super::super::metadata::{array_doc, translate};
    use super::super::open_zarr;
    use super::*;
    use serde_json::json;

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
