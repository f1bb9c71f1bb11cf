//! Combining scanned files into one dataset along a dimension.

use crate::IndexError;
use crate::manifest::{
    Concat, CoordSummary, DatasetMeta, INLINE, MISSING, Packing, Ref, Shard, ShardSource, ShardVar,
    StaticChunk, VariableMeta,
};
use hod_core::time::CfTime;
use hod_core::{ArrayMeta, ChunkLoc, DType, Endian, ScannedFile, ScannedVariable};
use std::collections::BTreeMap;

/// Source files per shard: bounds what locating one chunk has to read.
pub const SHARD_FILES: usize = 256;

/// A scanned source object, with the decoded values of its 1-D coordinates.
#[derive(Debug, Clone)]
pub struct SourceScan {
    /// Object URL (`store:` prefix = key in the dataset's store).
    pub url: String,
    /// Object size.
    pub size: u64,
    /// What the scanner found.
    pub file: ScannedFile,
    /// Raw values of 1-D coordinate variables (a variable named like its only dimension).
    pub coords: BTreeMap<String, Vec<f64>>,
}

/// One source file's contribution along the concat dimension.
#[derive(Debug, Clone)]
pub struct Part {
    /// The file, with `start` assigned when combined.
    pub source: ShardSource,
    /// Concat coordinate values, raw in the dataset's units.
    pub coord: Vec<f64>,
    /// Sort key of each element (seconds since 1970 for times, else the raw value).
    pub keys: Vec<f64>,
    /// Chunks per concat variable, with the concat index local to the file.
    pub chunks: BTreeMap<String, Vec<(Vec<u64>, ChunkLoc)>>,
}

/// The attributes that may differ between files and then come per source.
const PACKING_ATTRS: [&str; 3] = ["scale_factor", "add_offset", "missing_value"];

/// Picks the dimension to concatenate along: `requested` if a variable has it, else the dimension
/// of a 1-D coordinate that is a time (`standard_name = time` or `axis = T`) when `requested` is
/// `time`; `None` when the file has neither.
pub fn concat_dim(file: &ScannedFile, requested: &str) -> Option<String> {
    if file
        .variables
        .iter()
        .any(|v| v.meta.dims.iter().any(|d| d == requested))
    {
        return Some(requested.to_string());
    }
    if requested != "time" {
        return None;
    }
    file.variables
        .iter()
        .find(|v| {
            v.meta.dims.len() == 1
                && hod_core::is_coordinate(&v.name, &v.meta)
                && (v.meta.attrs.get("standard_name").and_then(|s| s.as_str()) == Some("time")
                    || v.meta.attrs.get("axis").and_then(|s| s.as_str()) == Some("T"))
        })
        .map(|v| v.meta.dims[0].clone())
}

/// Time units of a coordinate variable, if it is a CF time.
pub(crate) fn time_units(v: &ArrayMeta) -> Option<CfTime> {
    let units = v.attrs.get("units")?.as_str()?;
    CfTime::parse(units, v.attrs.get("calendar").and_then(|c| c.as_str())).ok()
}

fn packing_of(meta: &ArrayMeta) -> Packing {
    let get = |k: &str| meta.attrs.get(k).and_then(hod_core::attr_f64);
    Packing {
        scale_factor: get("scale_factor"),
        add_offset: get("add_offset"),
        fill_value: meta.fill_value,
        missing_value: get("missing_value"),
    }
}

fn same_packing(a: &Packing, b: &Packing) -> bool {
    let eq = |x: Option<f64>, y: Option<f64>| match (x, y) {
        (Some(x), Some(y)) => x == y || (x.is_nan() && y.is_nan()),
        (None, None) => true,
        _ => false,
    };
    eq(a.scale_factor, b.scale_factor)
        && eq(a.add_offset, b.add_offset)
        && eq(a.fill_value, b.fill_value)
        && eq(a.missing_value, b.missing_value)
}

/// The dataset being built: the template of the first file plus the parts along the concat dim.
#[derive(Debug, Clone)]
pub struct Builder {
    /// Dataset metadata (version, keys and shards are filled in at publish time).
    pub meta: DatasetMeta,
    /// Parts along the concat dimension, in order.
    pub parts: Vec<Part>,
    /// Time units of the concat coordinate.
    time: Option<CfTime>,
    /// Values of the static 1-D coordinates, which every file must repeat.
    static_coords: BTreeMap<String, Vec<f64>>,
}

impl Builder {
    /// Starts a dataset from its first scanned file.
    ///
    /// # Errors
    /// [`IndexError::Mismatch`] when the file has no usable variables.
    pub fn new(name: &str, first: &SourceScan, requested_dim: Option<&str>) -> Result<Builder, IndexError> {
        let dim = requested_dim.and_then(|d| concat_dim(&first.file, d));
        let mut variables = BTreeMap::new();
        let mut dims: Vec<(String, u64)> = Vec::new();
        for v in &first.file.variables {
            for (d, &n) in v.meta.dims.iter().zip(&v.meta.shape) {
                if !dims.iter().any(|(k, _)| k == d) {
                    dims.push((d.clone(), n));
                }
            }
            variables.insert(
                v.name.clone(),
                VariableMeta {
                    array: v.meta.clone(),
                    per_source_packing: false,
                },
            );
        }
        if variables.is_empty() {
            return Err(IndexError::Mismatch {
                url: first.url.clone(),
                what: "no variables found".into(),
            });
        }
        let coord = dim.as_ref().and_then(|d| {
            variables
                .iter()
                .find(|(n, v)| v.array.dims[..] == [d.clone()] && hod_core::is_coordinate(n, &v.array))
        });
        let coord = coord.map(|(n, _)| n.clone());
        let time = coord.as_ref().and_then(|c| time_units(&variables[c].array));
        let concat = dim.map(|dim| Concat {
            dim,
            coord,
            time_range: None,
            shards: Vec::new(),
        });
        let mut static_chunks = BTreeMap::new();
        for v in &first.file.variables {
            if concat.as_ref().is_none_or(|c| !v.meta.dims.contains(&c.dim)) {
                let chunks = v
                    .chunks
                    .iter()
                    .map(|c| StaticChunk {
                        index: c.index.clone(),
                        source: first.url.clone(),
                        loc: c.loc.clone(),
                    })
                    .collect();
                static_chunks.insert(v.name.clone(), chunks);
            }
        }
        let meta = DatasetMeta {
            format: crate::manifest::FORMAT.to_string(),
            name: name.to_string(),
            version: String::new(),
            dims,
            attrs: first.file.attrs.clone(),
            variables,
            static_chunks,
            concat,
            source_format: first.file.format,
            coords: first
                .coords
                .iter()
                .filter_map(|(k, v)| Some((k.clone(), CoordSummary::of(v)?)))
                .collect(),
            sources: 0,
            sources_key: String::new(),
            profile: None,
        };
        let static_coords = first
            .coords
            .iter()
            .filter(|(k, _)| meta.static_chunks.contains_key(*k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Ok(Builder {
            meta,
            parts: Vec::new(),
            time,
            static_coords,
        })
    }

    /// Checks a file against the template and adds it as a part.
    ///
    /// # Errors
    /// [`IndexError::Mismatch`] naming the file and the first difference found.
    pub fn add(&mut self, scan: &SourceScan) -> Result<(), IndexError> {
        let mismatch = |what: String| IndexError::Mismatch {
            url: scan.url.clone(),
            what,
        };
        let names: Vec<&String> = self.meta.variables.keys().collect();
        let theirs: Vec<&String> = {
            let mut n: Vec<&String> = scan.file.variables.iter().map(|v| &v.name).collect();
            n.sort();
            n
        };
        if names != theirs {
            let missing: Vec<_> = names.iter().filter(|n| !theirs.contains(n)).collect();
            let extra: Vec<_> = theirs.iter().filter(|n| !names.contains(n)).collect();
            return Err(mismatch(format!(
                "variables differ: missing {missing:?}, unexpected {extra:?}"
            )));
        }
        let Some(concat) = self.meta.concat.clone() else {
            if self.parts.is_empty() && self.meta.sources == 0 {
                self.meta.sources = 1;
                return Ok(());
            }
            return Err(mismatch(
                "the dataset has no concat dimension, so it can hold only one file (use --concat-dim)".into(),
            ));
        };
        let mut len = None;
        let mut chunks = BTreeMap::new();
        let mut packing = BTreeMap::new();
        for v in &scan.file.variables {
            let ours = &self.meta.variables[&v.name].array;
            // The concat coordinate is re-encoded when combined; its values are compared instead.
            let axis = if concat.coord.as_deref() == Some(v.name.as_str()) {
                v.meta.dims.iter().position(|d| *d == concat.dim)
            } else {
                check_variable(ours, v, &concat.dim)
                    .map_err(|w| mismatch(format!("variable '{}': {w}", v.name)))?
            };
            if let Some(axis) = axis {
                let n = v.meta.shape[axis];
                if *len.get_or_insert(n) != n {
                    return Err(mismatch(format!(
                        "variable '{}' has {n} steps along '{}'",
                        v.name, concat.dim
                    )));
                }
                if concat.coord.as_deref() != Some(v.name.as_str()) {
                    chunks.insert(
                        v.name.clone(),
                        v.chunks
                            .iter()
                            .map(|c| (c.index.clone(), c.loc.clone()))
                            .collect(),
                    );
                }
            } else if let (Some(values), Some(reference)) =
                (scan.coords.get(&v.name), self.static_coords.get(&v.name))
            {
                // The grid must be identical in every file.
                if !same_values(reference, values) {
                    return Err(mismatch(format!("coordinate '{}' has different values", v.name)));
                }
            }
            packing.insert(v.name.clone(), packing_of(&v.meta));
        }
        let len = len.unwrap_or(1);
        let (coord, keys) = match &concat.coord {
            Some(c) => {
                let raw = scan.coords.get(c).cloned().unwrap_or_default();
                let var = scan.file.variable(c).map(|v| &v.meta);
                match (self.time, var.and_then(time_units)) {
                    (Some(ours), Some(theirs)) => {
                        let keys: Vec<f64> = raw.iter().map(|&x| theirs.unix_seconds(x)).collect();
                        let coord = keys
                            .iter()
                            .map(|&k| (k - ours.unix_seconds(0.0)) / ours.unit_seconds)
                            .collect();
                        (coord, keys)
                    }
                    _ => (raw.clone(), raw),
                }
            }
            None => ((0..len).map(|i| i as f64).collect(), Vec::new()),
        };
        if !coord.is_empty() && coord.len() as u64 != len {
            return Err(mismatch(format!(
                "coordinate '{}' has {} values for {len} steps",
                concat.dim,
                coord.len()
            )));
        }
        self.parts.push(Part {
            source: ShardSource {
                url: scan.url.clone(),
                size: scan.size,
                start: 0,
                len,
                packing: packing.into_iter().collect(),
            },
            coord,
            keys,
            chunks,
        });
        Ok(())
    }
}

/// Compares a file's variable with the dataset's; returns the concat axis if it has one.
fn check_variable(ours: &ArrayMeta, theirs: &ScannedVariable, dim: &str) -> Result<Option<usize>, String> {
    let t = &theirs.meta;
    if t.dims != ours.dims {
        return Err(format!("dims {:?} instead of {:?}", t.dims, ours.dims));
    }
    if t.dtype != ours.dtype || t.endian != ours.endian {
        return Err(format!(
            "dtype {:?}/{:?} instead of {:?}/{:?}",
            t.dtype, t.endian, ours.dtype, ours.endian
        ));
    }
    if t.chunks != ours.chunks {
        return Err(format!("chunk shape {:?} instead of {:?}", t.chunks, ours.chunks));
    }
    if t.codecs != ours.codecs {
        return Err(format!("codecs {:?} instead of {:?}", t.codecs, ours.codecs));
    }
    let axis = t.dims.iter().position(|d| d == dim);
    for (d, (a, b)) in t.shape.iter().zip(&ours.shape).enumerate() {
        if Some(d) != axis && a != b {
            return Err(format!("shape {:?} instead of {:?}", t.shape, ours.shape));
        }
    }
    Ok(axis)
}

fn same_values(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y || (x.is_nan() && y.is_nan()))
}

impl Builder {
    /// Reopens a published dataset for extension: its files become parts again.
    /// `static_coords` are the values of its 1-D coordinates that do not run along the concat dim.
    ///
    /// # Errors
    /// [`IndexError::Invalid`] for a dataset without a concat dimension (it holds one file).
    pub fn from_existing(
        mut meta: DatasetMeta,
        shards: &[Shard],
        static_coords: BTreeMap<String, Vec<f64>>,
    ) -> Result<Builder, IndexError> {
        let Some(concat) = meta.concat.clone() else {
            return Err(IndexError::Invalid(format!(
                "dataset '{}' has no concat dimension, so it holds exactly one file and cannot be extended",
                meta.name
            )));
        };
        let time = concat
            .coord
            .as_ref()
            .and_then(|c| meta.variables.get(c))
            .and_then(|v| time_units(&v.array));
        let mut parts = Vec::new();
        for shard in shards {
            for (s, src) in shard.sources.iter().enumerate() {
                let lo = (src.start - shard.start) as usize;
                let coord = shard
                    .coord
                    .get(lo..lo + src.len as usize)
                    .unwrap_or_default()
                    .to_vec();
                let keys = match (&concat.coord, time) {
                    (Some(_), Some(t)) => coord.iter().map(|&x| t.unix_seconds(x)).collect(),
                    (Some(_), None) => coord.clone(),
                    (None, _) => Vec::new(),
                };
                let mut source = src.clone();
                let mut chunks = BTreeMap::new();
                for (name, v) in &meta.variables {
                    if !v.per_source_packing {
                        source.packing.insert(name.clone(), packing_of(&v.array));
                    }
                    let (Some(axis), Some(sv)) = (
                        v.array.dims.iter().position(|d| *d == concat.dim),
                        shard.vars.get(name),
                    ) else {
                        continue;
                    };
                    let c = v.array.chunks[axis].max(1);
                    let grid = v.array.chunk_grid();
                    let rows = (src.start / c)..(src.start + src.len).div_ceil(c);
                    let mut list = Vec::new();
                    for (k, r) in sv.refs.iter().enumerate() {
                        let (row, mut flat) = (k as u64 / sv.per_row.max(1), k as u64 % sv.per_row.max(1));
                        let global = sv.chunk_start + row;
                        if r.source == MISSING
                            || !rows.contains(&global)
                            || (r.source != INLINE && r.source as usize != s)
                        {
                            continue;
                        }
                        let mut index = vec![0; grid.len()];
                        for d in (0..grid.len()).rev() {
                            if d == axis {
                                index[d] = global - src.start / c;
                            } else {
                                index[d] = flat % grid[d];
                                flat /= grid[d];
                            }
                        }
                        let loc = if r.source == INLINE {
                            let bytes = shard
                                .blob
                                .get(r.offset as usize..(r.offset + r.length) as usize)
                                .unwrap_or_default();
                            ChunkLoc::Inline(bytes.to_vec())
                        } else {
                            ChunkLoc::Range {
                                offset: r.offset,
                                length: r.length,
                            }
                        };
                        list.push((index, loc));
                    }
                    chunks.insert(name.clone(), list);
                }
                parts.push(Part {
                    source,
                    coord,
                    keys,
                    chunks,
                });
            }
        }
        meta.sources = 0;
        Ok(Builder {
            meta,
            parts,
            time,
            static_coords,
        })
    }

    /// URLs of the sources already in the dataset.
    pub fn urls(&self) -> Vec<&str> {
        self.parts.iter().map(|p| p.source.url.as_str()).collect()
    }

    /// Orders the parts along the concat dimension, checks they fit, and cuts them into shards.
    /// Returns the metadata (without version and keys) and the shards (keys assigned by the caller).
    ///
    /// # Errors
    /// [`IndexError::Overlap`] when two files hold the same step, [`IndexError::Mismatch`] when a
    /// file's length along the concat dimension breaks the chunk grid.
    pub fn finish(mut self) -> Result<(DatasetMeta, Vec<Shard>), IndexError> {
        let Some(mut concat) = self.meta.concat.take() else {
            return Ok((self.meta, Vec::new()));
        };
        if !self.parts.iter().any(|p| p.keys.is_empty()) {
            self.parts.sort_by(|a, b| a.keys[0].total_cmp(&b.keys[0]));
        }
        for w in self.parts.windows(2) {
            if let (Some(last), Some(next)) = (w[0].keys.last(), w[1].keys.first())
                && last >= next
            {
                let value = match self.time {
                    Some(_) => hod_core::time::format_unix_seconds(*next),
                    None => next.to_string(),
                };
                return Err(IndexError::Overlap {
                    dim: concat.dim.clone(),
                    first: w[0].source.url.clone(),
                    second: w[1].source.url.clone(),
                    value,
                });
            }
        }
        let mut start = 0;
        for p in &mut self.parts {
            p.source.start = start;
            start += p.source.len;
        }
        let total = start;
        let n_parts = self.parts.len();
        for (name, v) in &mut self.meta.variables {
            let Some(axis) = v.array.dims.iter().position(|d| *d == concat.dim) else {
                continue;
            };
            // The concat coordinate becomes one inline chunk (below).
            let is_coord = concat.coord.as_deref() == Some(name.as_str());
            let c = if is_coord { 1 } else { v.array.chunks[axis].max(1) };
            if let Some(p) = self.parts[..n_parts.saturating_sub(1)]
                .iter()
                .find(|p| p.source.len % c != 0)
            {
                return Err(IndexError::Mismatch {
                    url: p.source.url.clone(),
                    what: format!(
                        "'{name}' is chunked by {c} along '{}' but this file holds {} steps, so the chunks of the \
                         following files would not line up (only the last file may be partial)",
                        concat.dim, p.source.len
                    ),
                });
            }
            v.array.shape[axis] = total;
            let packs: Vec<&Packing> = self
                .parts
                .iter()
                .filter_map(|p| p.source.packing.get(name))
                .collect();
            if packs.windows(2).any(|w| !same_packing(w[0], w[1])) {
                v.per_source_packing = true;
                v.array.fill_value = None;
                PACKING_ATTRS.iter().for_each(|k| {
                    v.array.attrs.remove(*k);
                });
            }
        }
        for (d, n) in &mut self.meta.dims {
            if *d == concat.dim {
                *n = total;
            }
        }
        // Only per-source packings are kept in the shards.
        let per_source: Vec<String> = self
            .meta
            .variables
            .iter()
            .filter(|(_, v)| v.per_source_packing)
            .map(|(k, _)| k.clone())
            .collect();
        for p in &mut self.parts {
            p.source.packing.retain(|k, _| per_source.contains(k));
        }
        if let Some(coord) = &concat.coord
            && let Some(v) = self.meta.variables.get_mut(coord)
        {
            let integral = self.parts.iter().flat_map(|p| &p.coord).all(|x| x.fract() == 0.0);
            if !v.array.dtype.is_float() && !integral {
                v.array.dtype = DType::F64;
            }
            v.array.shape = vec![total];
            v.array.chunks = vec![total.max(1)];
            v.array.codecs.clear();
            v.array.endian = Endian::Little;
        }
        if let Some(coord) = &concat.coord {
            let all: Vec<f64> = self.parts.iter().flat_map(|p| p.coord.iter().copied()).collect();
            if let Some(summary) = CoordSummary::of(&all) {
                self.meta.coords.insert(coord.clone(), summary);
            }
        }
        if self.time.is_some() {
            let first = self.parts.first().and_then(|p| p.keys.first()).copied();
            let last = self.parts.last().and_then(|p| p.keys.last()).copied();
            concat.time_range = first.zip(last);
        }
        let shards = self
            .parts
            .chunks(SHARD_FILES)
            .map(|parts| self.shard(&concat, parts))
            .collect::<Vec<_>>();
        concat.shards = shards
            .iter()
            .map(|s| crate::manifest::ShardInfo {
                key: String::new(),
                start: s.start,
                end: s.end,
                files: s.sources.len() as u32,
                time_range: self.time.and_then(|t| {
                    let first = s.coord.first()?;
                    let last = s.coord.last()?;
                    Some((t.unix_seconds(*first), t.unix_seconds(*last)))
                }),
            })
            .collect();
        self.meta.sources = n_parts as u64;
        self.meta.concat = Some(concat);
        Ok((self.meta, shards))
    }

    fn shard(&self, concat: &Concat, parts: &[Part]) -> Shard {
        let start = parts.first().map_or(0, |p| p.source.start);
        let end = parts.last().map_or(0, |p| p.source.start + p.source.len);
        let mut shard = Shard {
            start,
            end,
            sources: parts.iter().map(|p| p.source.clone()).collect(),
            coord: parts.iter().flat_map(|p| p.coord.iter().copied()).collect(),
            ..Shard::default()
        };
        for (name, v) in &self.meta.variables {
            let Some(axis) = v.array.dims.iter().position(|d| *d == concat.dim) else {
                continue;
            };
            if concat.coord.as_deref() == Some(name.as_str()) {
                continue;
            }
            let c = v.array.chunks[axis].max(1);
            let grid = v.array.chunk_grid();
            let per_row: u64 = grid
                .iter()
                .enumerate()
                .filter(|(d, _)| *d != axis)
                .map(|(_, g)| g)
                .product();
            let chunk_start = start / c;
            let rows = end.div_ceil(c) - chunk_start;
            let mut refs = vec![
                Ref {
                    source: MISSING,
                    offset: 0,
                    length: 0
                };
                (rows * per_row) as usize
            ];
            for (s, p) in parts.iter().enumerate() {
                for (index, loc) in p.chunks.get(name).into_iter().flatten() {
                    let mut flat = 0u64;
                    for (d, (&i, &g)) in index.iter().zip(&grid).enumerate() {
                        if d != axis {
                            flat = flat * g + i;
                        }
                    }
                    let row = p.source.start / c + index[axis] - chunk_start;
                    let Some(slot) = refs.get_mut((row * per_row + flat) as usize) else {
                        continue;
                    };
                    *slot = match loc {
                        ChunkLoc::Range { offset, length } => Ref {
                            source: s as u32,
                            offset: *offset,
                            length: *length,
                        },
                        ChunkLoc::Inline(bytes) => {
                            let r = Ref {
                                source: INLINE,
                                offset: shard.blob.len() as u64,
                                length: bytes.len() as u64,
                            };
                            shard.blob.extend_from_slice(bytes);
                            r
                        }
                    };
                }
            }
            shard.vars.insert(
                name.clone(),
                ShardVar {
                    chunk_start,
                    per_row,
                    refs,
                },
            );
        }
        shard
    }
}
