//! Fetch → decode → assemble for one block of rows of one variable.
//!
//! The block's chunks are grouped by source object and each group is fetched with one
//! [`hod_store::Store::get_ranges`] call, which merges neighbouring byte ranges into fewer requests
//! and retries transient failures (on S3, object_store's own HTTP retries come first). Up to
//! [`OBJECTS`] objects are fetched at once; each object's chunks are decoded in parallel (rayon)
//! within one blocking task as soon as its bytes arrive, then copied into the block.

use crate::QueryError;
use crate::plan::{Job, Picks, VarPlan};
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use hod_core::ChunkLoc;
use hod_index::manifest::Packing;
use hod_index::{IndexError, Objects, decode_values};
use rayon::iter::{IntoParallelIterator, ParallelIterator};
use std::collections::BTreeMap;
use std::ops::Range;

/// Source objects fetched at once (each `get_ranges` call runs its own requests concurrently).
const OBJECTS: usize = 8;

/// The values of output rows `rows` of a variable, C order, NaN where no chunk holds data or the
/// polygon leaves a cell out.
///
/// # Errors
/// Read or decode failures, naming the source object and byte range.
pub(crate) async fn read_rows(
    objects: &Objects,
    plan: &VarPlan,
    rows: Range<usize>,
) -> Result<Vec<f64>, QueryError> {
    let mut shape = plan.layout.shape.clone();
    if let Some(first) = shape.first_mut() {
        *first = rows.len();
    }
    let mut out = vec![f64::NAN; shape.iter().product()];
    // The first dimension's picks limited to the block, as positions within it.
    let first: Option<Picks> = plan.picks.first().map(|p| {
        p.iter()
            .filter_map(|(&k, list)| {
                let kept: Vec<(usize, usize)> = list
                    .iter()
                    .filter(|(o, _)| rows.contains(o))
                    .map(|&(o, c)| (o - rows.start, c))
                    .collect();
                (!kept.is_empty()).then_some((k, kept))
            })
            .collect()
    });
    let picks: Vec<&Picks> = first.iter().chain(plan.picks.iter().skip(1)).collect();
    let wanted: Vec<&Job> = match &first {
        Some(f) => f.keys().filter_map(|k| plan.jobs.get(k)).flatten().collect(),
        None => plan.jobs.values().flatten().collect(),
    };
    // One group per source object (inline chunks: one group of their own, needing no fetch).
    let mut groups: BTreeMap<&str, Vec<&Job>> = BTreeMap::new();
    for job in wanted {
        groups.entry(job.url.as_str()).or_default().push(job);
    }
    let chunk_shape: Vec<usize> = plan.array.chunks.iter().map(|&c| c as usize).collect();
    let mut decoded = futures::stream::iter(groups)
        .map(|(url, jobs)| fetch_and_decode(objects, plan, url, jobs))
        .buffer_unordered(OBJECTS);
    while let Some(batch) = decoded.try_next().await? {
        for (id, chunk) in batch {
            copy(&picks, &id, &chunk_shape, &shape, &chunk, &mut out);
        }
    }
    if let Some((inside, yd, xd)) = &plan.inside {
        mask(&mut out, &shape, rows.start, inside, *yd, *xd);
    }
    Ok(out)
}

/// Sets to NaN the values of a block (first row `row0` of the output) whose cell is outside.
fn mask(values: &mut [f64], shape: &[usize], row0: usize, inside: &[Vec<bool>], yd: usize, xd: usize) {
    let rank = shape.len();
    let mut pos = vec![0usize; rank];
    for v in values.iter_mut() {
        let at = |d: usize| pos[d] + if d == 0 { row0 } else { 0 };
        if !inside
            .get(at(yd))
            .and_then(|r| r.get(at(xd)))
            .copied()
            .unwrap_or(false)
        {
            *v = f64::NAN;
        }
        for d in (0..rank).rev() {
            pos[d] += 1;
            if pos[d] < shape[d] {
                break;
            }
            pos[d] = 0;
        }
    }
}

/// Fetches the chunks of one source object (one coalescing `get_ranges` call) and decodes them in
/// parallel on one blocking task: one hand-over to the blocking pool per object, not per chunk.
async fn fetch_and_decode(
    objects: &Objects,
    plan: &VarPlan,
    url: &str,
    jobs: Vec<&Job>,
) -> Result<Vec<(Vec<u64>, Vec<f64>)>, QueryError> {
    let ranges: Vec<Range<u64>> = jobs
        .iter()
        .filter_map(|j| match j.loc {
            ChunkLoc::Range { offset, length } => Some(offset..offset.saturating_add(length)),
            ChunkLoc::Inline(_) => None,
        })
        .collect();
    let mut fetched = if ranges.is_empty() {
        Vec::new()
    } else {
        let (store, key) = objects.locate(url)?;
        store.get_ranges(&key, &ranges).await.map_err(IndexError::from)?
    }
    .into_iter();
    let work: Vec<(Vec<u64>, Bytes, Packing)> = jobs
        .into_iter()
        .map(|j| {
            let bytes = match &j.loc {
                ChunkLoc::Range { .. } => fetched.next().unwrap_or_default(),
                ChunkLoc::Inline(b) => Bytes::from(b.clone()),
            };
            (j.id.clone(), bytes, j.packing.clone())
        })
        .collect();
    let (array, url) = (plan.array.clone(), url.to_string());
    tokio::task::spawn_blocking(move || {
        work.into_par_iter()
            .map(|(id, bytes, packing)| -> Result<_, QueryError> {
                Ok((id, decode_values(&array, &url, &bytes, Some(&packing))?))
            })
            .collect()
    })
    .await
    .map_err(|e| QueryError::Invalid(format!("decode task failed: {e}")))?
}

/// Copies the selected elements of one decoded chunk into the output.
fn copy(
    picks: &[&Picks],
    id: &[u64],
    chunk_shape: &[usize],
    out_shape: &[usize],
    chunk: &[f64],
    out: &mut [f64],
) {
    let lists: Vec<&Vec<(usize, usize)>> = match picks.iter().zip(id).map(|(m, i)| m.get(i)).collect() {
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
