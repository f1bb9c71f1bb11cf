//! Plan → fetch → decode → assemble: reads only the chunks a selection touches.

use crate::QueryError;
use crate::select::{Bbox, Role, index_range, is_longitude, longitude_ranges, resolve, role, time_values};
use futures::{StreamExt, TryStreamExt};
use hod_core::time::format_unix_seconds;
use hod_core::{Attrs, ChunkLoc};
use hod_index::manifest::{Located, Packing};
use hod_index::{DatasetMeta, Objects, Shard, packing_from_attrs, read_shards, read_variable};
use hod_store::Store;
use std::collections::{BTreeMap, HashMap};

/// Chunk reads in flight at once.
const CONCURRENCY: usize = 32;

/// What to read: variables, an inclusive time range (seconds since 1970) and a bbox.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// Variables by short name, long name or CF standard name.
    pub vars: Vec<String>,
    /// First time to keep (inclusive).
    pub start: Option<f64>,
    /// Last time to keep (inclusive).
    pub end: Option<f64>,
    /// Area to keep, in the dataset's CRS.
    pub bbox: Option<Bbox>,
    /// Area to keep: the cells whose centre is inside (others are NaN), within its bounds.
    pub polygon: Option<crate::polygon::Area>,
    /// Read accumulated variables as increments over each step ([`crate::deaccumulate`]).
    pub deaccumulate: bool,
    /// The accumulation convention where the metadata do not say it.
    pub accumulation: Option<crate::deaccumulate::Convention>,
}

/// The values of one variable over a selection, CF-decoded (packing applied per source file,
/// fill and missing values → NaN).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DataCube {
    /// Variable name.
    pub name: String,
    /// Dimension names.
    pub dims: Vec<String>,
    /// Selected size along each dimension.
    pub shape: Vec<usize>,
    /// Coordinate values along each dimension (times in seconds since 1970; index positions for
    /// dimensions without a coordinate).
    pub coords: Vec<Vec<f64>>,
    /// Per dimension, whether its coordinate is a CF time (then `coords` holds seconds since 1970);
    /// writers use it to label the axis. Missing entries count as `false`.
    pub time_dims: Vec<bool>,
    /// Values, C order.
    pub values: Vec<f64>,
    /// The variable's attributes.
    pub attrs: Attrs,
}

/// Per-variable statistics of a selection.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Stats {
    /// Selected shape.
    pub shape: Vec<usize>,
    /// Number of valid (non-NaN) values.
    pub count: usize,
    /// Mean of the valid values.
    pub mean: Option<f64>,
    /// Minimum.
    pub min: Option<f64>,
    /// Maximum.
    pub max: Option<f64>,
}

impl DataCube {
    /// Count, mean, min and max of the valid values.
    pub fn stats(&self) -> Stats {
        let valid = self.values.iter().filter(|v| !v.is_nan());
        let (count, sum, min, max) = valid.fold(
            (0usize, 0.0f64, f64::INFINITY, f64::NEG_INFINITY),
            |(n, s, lo, hi), &v| (n + 1, s + v, lo.min(v), hi.max(v)),
        );
        let some = |x: f64| (count > 0).then_some(x);
        Stats {
            shape: self.shape.clone(),
            count,
            mean: some(sum / count as f64),
            min: some(min),
            max: some(max),
        }
    }
}

/// The selected indices along one dimension, in output order.
struct Axis {
    indices: Vec<usize>,
    coords: Vec<f64>,
    /// The coordinate is a CF time, in seconds since 1970.
    time: bool,
}

/// Reads a selection of a dataset.
///
/// # Errors
/// Unknown variables, a bbox or time range that selects nothing, or read/decode failures
/// (naming the source object and byte range); with `deaccumulate`, variables that are not
/// accumulated or whose convention is unknown.
pub async fn read(store: &Store, meta: &DatasetMeta, req: &Request) -> Result<Vec<DataCube>, QueryError> {
    if req.deaccumulate {
        return crate::deaccumulate::read(store, meta, req).await;
    }
    read_selection(store, meta, req).await
}

/// Reads a selection as stored (no de-accumulation).
pub(crate) async fn read_selection(
    store: &Store,
    meta: &DatasetMeta,
    req: &Request,
) -> Result<Vec<DataCube>, QueryError> {
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
    let mut cubes = Vec::new();
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
                read_shards(store, meta, range).await?
            }
            _ => Vec::new(),
        };
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
            let coord = meta
                .variables
                .iter()
                .find(|(k, v)| hod_core::is_coordinate(k, &v.array) && v.array.dims[0] == *dim);
            let Some((cname, cvar)) = coord else {
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
            } else if let Some(v) = coord_cache.get(cname) {
                v.clone()
            } else {
                let v = read_variable(store, meta, cname, true).await?;
                let v = if r == Role::Time {
                    time_values(cname, cvar, &v)?
                } else {
                    v
                };
                coord_cache.insert(cname.to_string(), v.clone());
                v
            };
            axes.push(select_axis((r, lon), &values, req, 0, dim)?);
        }
        let mut cube = read_cube(store, meta, name, &shards, concat_axis, axes).await?;
        if let Some(area) = &req.polygon {
            mask_outside(&mut cube, area, &roles)?;
        }
        cubes.push(cube);
    }
    Ok(cubes)
}

/// Sets to NaN the cells whose centre is outside the area.
fn mask_outside(
    cube: &mut DataCube,
    area: &crate::polygon::Area,
    roles: &[(usize, Role)],
) -> Result<(), QueryError> {
    let find = |want: Role| roles.iter().find(|(_, r)| *r == want).map(|(d, _)| *d);
    let (Some(xd), Some(yd)) = (find(Role::X), find(Role::Y)) else {
        return Err(QueryError::Invalid(format!(
            "'{}' has no x/y (longitude/latitude) dimensions to clip to a polygon",
            cube.name
        )));
    };
    let inside: Vec<Vec<bool>> = cube.coords[yd]
        .iter()
        .map(|&y| cube.coords[xd].iter().map(|&x| area.contains(x, y)).collect())
        .collect();
    let rank = cube.shape.len();
    let mut pos = vec![0usize; rank];
    for v in cube.values.iter_mut() {
        if !inside[pos[yd]][pos[xd]] {
            *v = f64::NAN;
        }
        for d in (0..rank).rev() {
            pos[d] += 1;
            if pos[d] < cube.shape[d] {
                break;
            }
            pos[d] = 0;
        }
    }
    Ok(())
}

/// Selects along one axis by its role: time range, bbox x or y, or everything.
fn select_axis(
    (r, lon): (Role, bool),
    values: &[f64],
    req: &Request,
    offset: usize,
    dim: &str,
) -> Result<Axis, QueryError> {
    let ranges: Vec<std::ops::Range<usize>> = match (r, req.bbox) {
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
                hod_core::time::format_unix_seconds(lo),
                hod_core::time::format_unix_seconds(hi)
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

async fn read_cube(
    store: &Store,
    meta: &DatasetMeta,
    name: &str,
    shards: &[Shard],
    concat_axis: Option<usize>,
    axes: Vec<Axis>,
) -> Result<DataCube, QueryError> {
    let var = &meta.variables[name];
    let a = &var.array;
    let grid = a.chunk_grid();
    let shape: Vec<usize> = axes.iter().map(|x| x.indices.len()).collect();
    // Per dim: for each chunk id touched, the (output position, position in chunk) pairs.
    let per_dim: Vec<BTreeMap<u64, Vec<(usize, usize)>>> = axes
        .iter()
        .enumerate()
        .map(|(d, ax)| {
            let c = a.chunks[d].max(1);
            let mut m: BTreeMap<u64, Vec<(usize, usize)>> = BTreeMap::new();
            for (o, &i) in ax.indices.iter().enumerate() {
                m.entry(i as u64 / c)
                    .or_default()
                    .push((o, (i as u64 % c) as usize));
            }
            m
        })
        .collect();
    let mut chunk_ids: Vec<Vec<u64>> = vec![vec![]];
    for m in &per_dim {
        chunk_ids = chunk_ids
            .into_iter()
            .flat_map(|p| m.keys().map(move |k| [p.clone(), vec![*k]].concat()))
            .collect();
    }
    // Locate every chunk: static ones from the version document, the others in the shards.
    let statics: HashMap<&[u64], &hod_index::manifest::StaticChunk> = meta
        .static_chunks
        .get(name)
        .map(|v| v.iter().map(|c| (c.index.as_slice(), c)).collect())
        .unwrap_or_default();
    let uniform = packing_from_attrs(a);
    let mut jobs = Vec::new();
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
        if let Some((url, loc, packing)) = found {
            jobs.push((id, url, loc, packing.unwrap_or_else(|| uniform.clone())));
        }
    }
    let objects = Objects::new(store);
    let decoded: Vec<(Vec<u64>, Vec<f64>)> = futures::stream::iter(jobs)
        .map(|(id, url, loc, packing)| {
            let objects = &objects;
            async move { Ok::<_, QueryError>((id, objects.chunk_values(a, &url, &loc, Some(packing)).await?)) }
        })
        .buffer_unordered(CONCURRENCY)
        .try_collect()
        .await?;
    let mut values = vec![f64::NAN; shape.iter().product()];
    let chunk_shape: Vec<usize> = a.chunks.iter().map(|&c| c as usize).collect();
    for (id, chunk) in decoded {
        copy(&per_dim, &id, &chunk_shape, &shape, &chunk, &mut values);
    }
    Ok(DataCube {
        name: name.to_string(),
        dims: a.dims.clone(),
        shape,
        time_dims: axes.iter().map(|x| x.time).collect(),
        coords: axes.into_iter().map(|x| x.coords).collect(),
        values,
        attrs: a.attrs.clone(),
    })
}

/// Copies the selected elements of one decoded chunk into the output.
fn copy(
    per_dim: &[BTreeMap<u64, Vec<(usize, usize)>>],
    id: &[u64],
    chunk_shape: &[usize],
    out_shape: &[usize],
    chunk: &[f64],
    out: &mut [f64],
) {
    let lists: Vec<&Vec<(usize, usize)>> = match per_dim.iter().zip(id).map(|(m, i)| m.get(i)).collect() {
        Some(l) => l,
        None => return,
    };
    let rank = lists.len();
    if rank == 0 {
        if let (Some(o), Some(c)) = (out.first_mut(), chunk.first()) {
            *o = *c;
        }
        return;
    }
    let mut pos = vec![0usize; rank];
    loop {
        let (mut o, mut c) = (0usize, 0usize);
        for d in 0..rank {
            let (op, cp) = lists[d][pos[d]];
            o = o * out_shape[d] + op;
            c = c * chunk_shape[d] + cp;
        }
        if let (Some(slot), Some(v)) = (out.get_mut(o), chunk.get(c)) {
            *slot = *v;
        }
        let mut d = rank;
        loop {
            if d == 0 {
                return;
            }
            d -= 1;
            pos[d] += 1;
            if pos[d] < lists[d].len() {
                break;
            }
            pos[d] = 0;
        }
    }
}
