//! Enumerating and locating the chunks of a dataset's variables across shards.

use crate::IndexError;
use crate::manifest::{DatasetMeta, INLINE, MISSING, Packing, Shard};
use hod_core::{ChunkLoc, DType};

/// Where one chunk of a dataset variable is, with the packing of its source file.
#[derive(Debug, Clone, PartialEq)]
pub struct ChunkRef {
    /// Chunk grid index.
    pub index: Vec<u64>,
    /// Source object URL (`store:` = in the dataset's store); empty for inline chunks.
    pub url: String,
    /// Bytes.
    pub loc: ChunkLoc,
    /// The source's own packing, for variables with per-source packing.
    pub packing: Option<Packing>,
}

/// Every stored chunk of `var`, in chunk-grid order, given all of the dataset's shards.
///
/// # Errors
/// [`IndexError::NoVariable`] when the dataset has no such variable.
pub fn all_chunks(meta: &DatasetMeta, shards: &[Shard], var: &str) -> Result<Vec<ChunkRef>, IndexError> {
    let v = meta.variables.get(var).ok_or_else(|| no_variable(meta, var))?;
    if let Some(stat) = meta.static_chunks.get(var) {
        return Ok(stat
            .iter()
            .map(|c| ChunkRef {
                index: c.index.clone(),
                url: c.source.clone(),
                loc: c.loc.clone(),
                packing: None,
            })
            .collect());
    }
    let Some(concat) = &meta.concat else {
        return Ok(Vec::new());
    };
    if concat.coord.as_deref() == Some(var) {
        let values: Vec<f64> = shards.iter().flat_map(|s| s.coord.iter().copied()).collect();
        return Ok(vec![ChunkRef {
            index: vec![0],
            url: String::new(),
            loc: ChunkLoc::Inline(encode_le(v.array.dtype, &values)),
            packing: None,
        }]);
    }
    let axis = v
        .array
        .dims
        .iter()
        .position(|d| *d == concat.dim)
        .ok_or_else(|| no_variable(meta, var))?;
    let grid = v.array.chunk_grid();
    let mut out = Vec::new();
    for shard in shards {
        let Some(sv) = shard.vars.get(var) else { continue };
        for (k, r) in sv.refs.iter().enumerate() {
            if r.source == MISSING {
                continue;
            }
            let k = k as u64;
            let (row, mut flat) = (k / sv.per_row.max(1), k % sv.per_row.max(1));
            let mut index = vec![0; grid.len()];
            for d in (0..grid.len()).rev() {
                if d == axis {
                    index[d] = sv.chunk_start + row;
                } else {
                    index[d] = flat % grid[d];
                    flat /= grid[d];
                }
            }
            let (url, loc, packing) = if r.source == INLINE {
                let bytes = shard
                    .blob
                    .get(r.offset as usize..(r.offset + r.length) as usize)
                    .unwrap_or_default();
                (String::new(), ChunkLoc::Inline(bytes.to_vec()), None)
            } else {
                let src = &shard.sources[r.source as usize];
                (
                    src.url.clone(),
                    ChunkLoc::Range {
                        offset: r.offset,
                        length: r.length,
                    },
                    src.packing.get(var).cloned(),
                )
            };
            out.push(ChunkRef {
                index,
                url,
                loc,
                packing,
            });
        }
    }
    Ok(out)
}

pub(crate) fn no_variable(meta: &DatasetMeta, var: &str) -> IndexError {
    IndexError::NoVariable {
        dataset: meta.name.clone(),
        name: var.to_string(),
        available: meta.variables.keys().cloned().collect::<Vec<_>>().join(", "),
    }
}

/// Encodes values little-endian as `dtype`.
pub(crate) fn encode_le(dtype: DType, values: &[f64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(values.len() * dtype.size());
    for &x in values {
        match dtype {
            DType::Bool | DType::U8 => out.push(x as u8),
            DType::I8 => out.push(x as i8 as u8),
            DType::I16 => out.extend_from_slice(&(x as i16).to_le_bytes()),
            DType::U16 => out.extend_from_slice(&(x as u16).to_le_bytes()),
            DType::I32 => out.extend_from_slice(&(x as i32).to_le_bytes()),
            DType::U32 => out.extend_from_slice(&(x as u32).to_le_bytes()),
            DType::I64 => out.extend_from_slice(&(x as i64).to_le_bytes()),
            DType::U64 => out.extend_from_slice(&(x as u64).to_le_bytes()),
            DType::F32 => out.extend_from_slice(&(x as f32).to_le_bytes()),
            DType::F64 => out.extend_from_slice(&x.to_le_bytes()),
        }
    }
    out
}
