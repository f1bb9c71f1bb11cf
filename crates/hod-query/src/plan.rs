//! Planning a read: for each requested variable, the selected positions along every dimension and
//! the chunks (source object, byte range, packing) that hold them; then the split of the output
//! into blocks along the first dimension that each fit a memory budget.

use crate::select::{Bbox, Role, index_range, is_longitude, longitude_ranges, resolve, role, time_values};
use crate::{DataCube, QueryError, Request};
use hod_core::time::format_unix_seconds;
use hod_core::{ArrayMeta, ChunkLoc};
use hod_index::manifest::{Located, Packing};
use hod_index::{DatasetMeta, Objects, Shard, VariableMeta, packing_from_attrs, read_shards, read_variable};
use hod_store::Store;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Range;

/// The selected indices along one dimension, in output order.
pub(crate) struct Axis {
    indices: Vec<usize>,
    coords: Vec<f64>,
    /// The coordinate is a CF time, in seconds since 1970.
    time: bool,
}

/// One chunk to read: where its bytes are and how its source file packs the values.
pub(crate) struct Job {
    /// Chunk grid index.
    pub(crate) id: Vec<u64>,
    /// Source object URL; empty for inline chunks.
    pub(crate) url: String,
    pub(crate) loc: ChunkLoc,
    pub(crate) packing: Packing,
}

/// Per chunk id along one dimension: the (output position, position in the chunk) pairs.
pub(crate) type Picks = BTreeMap<u64, Vec<(usize, usize)>>;

/// Everything needed to read any rows (positions along the first dimension) of one variable.
pub(crate) struct VarPlan {
    /// The output's dims, shape, coordinates and attributes; no values.
    pub(crate) layout: DataCube,
    pub(crate) array: ArrayMeta,
    /// Per dimension, which chunk holds which selected positions.
    pub(crate) picks: Vec<Picks>,
    /// The chunks to read, by chunk id along the first dimension (0 for a 0-d variable).
    pub(crate) jobs: BTreeMap<u64, Vec<Job>>,
    /// Per output row, its chunk id along the first dimension.
    row_chunks: Vec<u64>,
    /// With a polygon: whether each (y, x) cell's centre is inside, and the y and x dimensions.
    pub(crate) inside: Option<(Vec<Vec<bool>>, usize, usize)>,
}

impl VarPlan {
    /// Rows of the output: the length of the first dimension (1 for a 0-d variable).
    pub(crate) fn rows(&self) -> usize {
        self.layout.shape.first().copied().unwrap_or(1)
    }

    /// Values in one row.
    pub(crate) fn row_len(&self) -> usize {
        self.layout.shape.iter().skip(1).product()
    }

    /// Memory one chunk of the first-dimension chunk `k` costs while read: its stored bytes, its
    /// decoded bytes and its values as `f64`, summed over the chunks of that row of chunks.
    fn chunk_cost(&self, k: u64) -> usize {
        let elems: usize = self.array.chunks.iter().map(|&c| c.max(1) as usize).product();
        let decoded = elems.saturating_mul(self.array.dtype.size() + 8);
        self.jobs.get(&k).map_or(0, |jobs| {
            jobs.iter()
                .map(|j| {
                    let stored = match &j.loc {
                        ChunkLoc::Range { length, .. } => *length as usize,
                        ChunkLoc::Inline(b) => b.len(),
                    };
                    stored.saturating_add(decoded)
                })
                .sum()
        })
    }

    /// The first-dimension chunk of output row `r`.
    fn chunk_of_row(&self, r: usize) -> u64 {
        self.row_chunks.get(r).copied().unwrap_or(0)
    }
}

/// Plans the read of every requested variable.
///
/// # Errors
/// Unknown variables, a bbox or time range that selects nothing, unreadable manifests.
pub(crate) async fn plan(
    store: &Store,
    meta: &DatasetMeta,
    req: &Request,
) -> Result<Vec<VarPlan>, QueryError> {
    if let (Some(s), Some(e)) = (req.start, req.end)
        && s > e
    {
        return Err(QueryError::Invalid("the start time is after the end time".into()));
    }
    // A polygon reads its bounding box, then masks the cells whose centre is outside.
    let bounded;
    let req = match (&req.polygon, req.bbox) {
        (Some(area), None) => {
            let (west, south, east, north) = area.bounds();
            bounded = Request {
                bbox: Some(Bbox {
                    west,
                    south,
                    east,
                    north,
                }),
                ..req.clone()
            };
            &bounded
        }
        _ => req,
    };
    let mut plans = Vec::new();
    let mut coord_cache: HashMap<String, Vec<f64>> = HashMap::new();
    for wanted in &req.vars {
        let (name, var) = resolve(meta, wanted)?;
        let concat_axis = meta
            .concat
            .as_ref()
            .and_then(|c| var.array.dims.iter().position(|d| *d == c.dim));
        // Shards overlapping the requested time range (all of them without one).
        let shards = match &meta.concat {
            Some(c) if concat_axis.is_some() => {
                let keep: Vec<(u64, u64)> = c
                    .shards
                    .iter()
                    .filter(|s| match s.time_range {
                        Some((a, b)) => req.end.is_none_or(|e| a <= e) && req.start.is_none_or(|st| b >= st),
                        None => true,
                    })
                    .map(|s| (s.start, s.end))
                    .collect();
                let range = keep.first().map_or(0, |s| s.0)..keep.last().map_or(0, |s| s.1);
                Some(range)
            }
            _ => None,
        };
        // The coordinates of the other dimensions not read yet, fetched with the shards.
        let mut fresh: Vec<&str> = Vec::new();
        for (d, dim) in var.array.dims.iter().enumerate() {
            if let Some((cname, _)) = coordinate(meta, dim)
                && Some(d) != concat_axis
                && !coord_cache.contains_key(cname)
                && !fresh.contains(&cname)
            {
                fresh.push(cname);
            }
        }
        let (shards, read) = futures::try_join!(
            async {
                match shards {
                    Some(range) => read_shards(store, meta, range).await.map_err(QueryError::from),
                    None => Ok(Vec::new()),
                }
            },
            futures::future::try_join_all(fresh.iter().map(|c| read_coordinate(store, meta, c)))
        )?;
        coord_cache.extend(fresh.iter().map(|c| c.to_string()).zip(read));
        if let (Some(c), Some(_), true) = (&meta.concat, concat_axis, shards.is_empty()) {
            let cover = c.time_range.map_or_else(String::new, |(a, b)| {
                format!(
                    " (the data covers {} .. {})",
                    format_unix_seconds(a),
                    format_unix_seconds(b)
                )
            });
            return Err(QueryError::Empty(format!(
                "no '{}' step between the requested times{cover}",
                c.dim
            )));
        }
        let mut axes = Vec::new();
        let mut roles = Vec::new();
        for (d, dim) in var.array.dims.iter().enumerate() {
            let n = var.array.shape[d] as usize;
            let Some((cname, cvar)) = coordinate(meta, dim) else {
                axes.push(Axis {
                    indices: (0..n).collect(),
                    coords: (0..n).map(|i| i as f64).collect(),
                    time: false,
                });
                continue;
            };
            let r = role(cname, cvar);
            roles.push((d, r));
            let lon = is_longitude(cname, cvar);
            let values = if Some(d) == concat_axis {
                // The concat coordinate comes from the loaded shards, offset by the first one.
                let first = shards.first().map_or(0, |s| s.start) as usize;
                let vals: Vec<f64> = shards.iter().flat_map(|s| s.coord.iter().copied()).collect();
                let vals = if r == Role::Time {
                    time_values(cname, cvar, &vals)?
                } else {
                    vals
                };
                axes.push(select_axis((r, lon), &vals, req, first, dim)?);
                continue;
            } else {
                let v = coord_cache.get(cname).map(Vec::as_slice).unwrap_or_default();
                if r == Role::Time {
                    time_values(cname, cvar, v)?
                } else {
                    v.to_vec()
                }
            };
            axes.push(select_axis((r, lon), &values, req, 0, dim)?);
        }
        let mut plan = plan_chunks(meta, name, &shards, concat_axis, axes);
        if let Some(area) = &req.polygon {
            plan.inside = Some(inside(&plan.layout, area, &roles)?);
        }
        plans.push(plan);
    }
    Ok(plans)
}

/// The coordinate variable of a dimension.
fn coordinate<'a>(meta: &'a DatasetMeta, dim: &str) -> Option<(&'a str, &'a VariableMeta)> {
    meta.variables
        .iter()
        .find(|(k, v)| hod_core::is_coordinate(k, &v.array) && v.array.dims.first().is_some_and(|d| d == dim))
        .map(|(k, v)| (k.as_str(), v))
}

/// The CF-decoded values of a coordinate variable. A static one (the usual case: the same in
/// every file) is read through the query's own fetch path, without loading any shard.
async fn read_coordinate(store: &Store, meta: &DatasetMeta, name: &str) -> Result<Vec<f64>, QueryError> {
    let n = match meta.variables.get(name).map(|v| v.array.shape.as_slice()) {
        Some(&[n]) if meta.static_chunks.contains_key(name) => n as usize,
        _ => return Ok(read_variable(store, meta, name, true).await?),
    };
    let axes = vec![Axis {
        indices: (0..n).collect(),
        coords: Vec::new(),
        time: false,
    }];
    let plan = plan_chunks(meta, name, &[], None, axes);
    crate::fetch::read_rows(&Objects::new(store), &plan, 0..n, Vec::new()).await
}

/// Whether each (y, x) cell's centre is inside the area, with the y and x dimensions.
fn inside(
    cube: &DataCube,
    area: &crate::polygon::Area,
    roles: &[(usize, Role)],
) -> Result<(Vec<Vec<bool>>, usize, usize), QueryError> {
    let find = |want: Role| roles.iter().find(|(_, r)| *r == want).map(|(d, _)| *d);
    let (Some(xd), Some(yd)) = (find(Role::X), find(Role::Y)) else {
        return Err(QueryError::Invalid(format!(
            "'{}' has no x/y (longitude/latitude) dimensions to clip to a polygon",
            cube.name
        )));
    };
    let inside = cube.coords[yd]
        .iter()
        .map(|&y| cube.coords[xd].iter().map(|&x| area.contains(x, y)).collect())
        .collect();
    Ok((inside, yd, xd))
}

/// Selects along one axis by its role: time range, bbox x or y, or everything.
fn select_axis(
    (r, lon): (Role, bool),
    values: &[f64],
    req: &Request,
    offset: usize,
    dim: &str,
) -> Result<Axis, QueryError> {
    let ranges: Vec<Range<usize>> = match (r, req.bbox) {
        (Role::Time, _) if req.start.is_some() || req.end.is_some() => {
            vec![index_range(
                values,
                req.start.unwrap_or(f64::MIN),
                req.end.unwrap_or(f64::MAX),
            )]
        }
        (Role::Y, Some(b)) => vec![index_range(values, b.south, b.north)],
        (Role::X, Some(b)) if lon => longitude_ranges(values, b.west, b.east)
            .into_iter()
            .map(|(lo, hi)| index_range(values, lo, hi))
            .collect(),
        (Role::X, Some(b)) => vec![index_range(values, b.west, b.east)],
        _ => std::iter::once(0..values.len()).collect(),
    };
    let indices: Vec<usize> = ranges.into_iter().flatten().collect();
    if indices.is_empty() {
        let (lo, hi) = values
            .iter()
            .fold((f64::MAX, f64::MIN), |(a, b), &x| (a.min(x), b.max(x)));
        let what = match r {
            Role::Time => format!(
                "no '{dim}' step between the requested times (the data covers {} .. {})",
                format_unix_seconds(lo),
                format_unix_seconds(hi)
            ),
            _ => format!("no '{dim}' point inside the bbox (the data covers {lo} .. {hi})"),
        };
        return Err(QueryError::Empty(what));
    }
    let coords = indices.iter().map(|&i| values[i]).collect();
    Ok(Axis {
        indices: indices.into_iter().map(|i| i + offset).collect(),
        coords,
        time: r == Role::Time,
    })
}

/// Locates every chunk the selection touches: static ones from the version document, the others
/// in the shards.
fn plan_chunks(
    meta: &DatasetMeta,
    name: &str,
    shards: &[Shard],
    concat_axis: Option<usize>,
    axes: Vec<Axis>,
) -> VarPlan {
    let var = &meta.variables[name];
    let a = &var.array;
    let grid = a.chunk_grid();
    let picks: Vec<Picks> = axes
        .iter()
        .enumerate()
        .map(|(d, ax)| {
            let c = a.chunks[d].max(1);
            let mut m: Picks = BTreeMap::new();
            for (o, &i) in ax.indices.iter().enumerate() {
                m.entry(i as u64 / c)
                    .or_default()
                    .push((o, (i as u64 % c) as usize));
            }
            m
        })
        .collect();
    let mut chunk_ids: Vec<Vec<u64>> = vec![vec![]];
    for m in &picks {
        chunk_ids = chunk_ids
            .into_iter()
            .flat_map(|p| m.keys().map(move |k| [p.clone(), vec![*k]].concat()))
            .collect();
    }
    let statics: HashMap<&[u64], &hod_index::manifest::StaticChunk> = meta
        .static_chunks
        .get(name)
        .map(|v| v.iter().map(|c| (c.index.as_slice(), c)).collect())
        .unwrap_or_default();
    let uniform = packing_from_attrs(a);
    let mut jobs: BTreeMap<u64, Vec<Job>> = BTreeMap::new();
    for id in chunk_ids {
        let found: Option<(String, ChunkLoc, Option<Packing>)> = match concat_axis {
            None => statics
                .get(id.as_slice())
                .map(|c| (c.source.clone(), c.loc.clone(), None)),
            Some(ax) => {
                let elem = id[ax] * a.chunks[ax];
                shards
                    .iter()
                    .find(|s| s.start <= elem && elem < s.end)
                    .and_then(|s| match s.locate(name, ax, &grid, &id)? {
                        Located::Range {
                            source,
                            offset,
                            length,
                        } => Some((
                            source.url.clone(),
                            ChunkLoc::Range { offset, length },
                            source.packing.get(name).cloned(),
                        )),
                        Located::Inline(b) => Some((String::new(), ChunkLoc::Inline(b.to_vec()), None)),
                    })
            }
        };
        // Chunks absent from the manifest are fill: they stay NaN.
        if let Some((url, loc, packing)) = found {
            jobs.entry(id.first().copied().unwrap_or(0))
                .or_default()
                .push(Job {
                    id,
                    url,
                    loc,
                    packing: packing.unwrap_or_else(|| uniform.clone()),
                });
        }
    }
    let layout = DataCube {
        name: name.to_string(),
        dims: a.dims.clone(),
        shape: axes.iter().map(|x| x.indices.len()).collect(),
        time_dims: axes.iter().map(|x| x.time).collect(),
        coords: axes.into_iter().map(|x| x.coords).collect(),
        values: Vec::new(),
        attrs: a.attrs.clone(),
    };
    let mut row_chunks = vec![0; layout.shape.first().copied().unwrap_or(1)];
    for (&k, list) in picks.first().into_iter().flatten() {
        for &(o, _) in list {
            row_chunks[o] = k;
        }
    }
    VarPlan {
        layout,
        array: a.clone(),
        picks,
        jobs,
        row_chunks,
        inside: None,
    }
}

/// Splits the rows shared by `plans` (variables with the same first dimension) into consecutive
/// blocks, each holding as many rows as keep the block's values plus the chunks it reads within
/// `budget` bytes. Block boundaries fall on multiples of `granule` rows; a block holds at least
/// one granule whatever the budget.
pub(crate) fn split_rows(plans: &[&VarPlan], budget: usize, granule: usize) -> Vec<Range<usize>> {
    let rows = plans.first().map_or(0, |p| p.rows());
    let granule = granule.max(1);
    let mut blocks = Vec::new();
    let mut start = 0;
    let mut cost = 0usize;
    let mut seen: Vec<HashSet<u64>> = vec![HashSet::new(); plans.len()];
    let mut unit = 0;
    while unit < rows {
        let end = (unit + granule).min(rows);
        // What this granule adds: its rows' values and the chunks no earlier row of the block read.
        let mut fresh: Vec<Vec<u64>> = vec![Vec::new(); plans.len()];
        let mut add = 0usize;
        for (i, p) in plans.iter().enumerate() {
            add = add.saturating_add((end - unit).saturating_mul(p.row_len()).saturating_mul(8));
            for r in unit..end {
                let k = p.chunk_of_row(r);
                if !seen[i].contains(&k) && !fresh[i].contains(&k) {
                    fresh[i].push(k);
                    add = add.saturating_add(p.chunk_cost(k));
                }
            }
        }
        if unit > start && cost.saturating_add(add) > budget {
            blocks.push(start..unit);
            start = unit;
            cost = 0;
            // Re-count the granule against an empty block.
            seen.iter_mut().for_each(HashSet::clear);
            continue;
        }
        cost = cost.saturating_add(add);
        for (s, f) in seen.iter_mut().zip(fresh) {
            s.extend(f);
        }
        unit = end;
    }
    if start < rows {
        blocks.push(start..rows);
    }
    blocks
}
