//! Fetch → decode → assemble for one block of rows of one variable.
//!
//! The block's chunks are grouped by source object and each group is fetched with one
//! [`hod_store::Store::get_ranges`] call, which merges neighbouring byte ranges into fewer requests
//! and retries transient failures (on S3, object_store's own HTTP retries come first). Up to
//! [`OBJECTS`] remote objects are fetched at once (local ones: as many as cores). Fetched chunks
//! go, as they arrive, in about [`BATCHES`] batches to one blocking task, which decodes each batch
//! in parallel (rayon) while it copies the batch before into the block; small reads decode where
//! they are fetched. Decoding stops at the chunk's elements (bytes; uncompressed chunks are not
//! copied at all): only the selected elements are converted to `f64`, unpacked and written,
//! straight into the block.

use crate::QueryError;
use crate::plan::{Job, Picks, VarPlan};
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use hod_core::ArrayMeta;
use hod_core::ChunkLoc;
use hod_core::values::to_f64_into;
use hod_formats::decode_chunk_cow;
use hod_index::manifest::Packing;
use hod_index::{IndexError, Objects, unpack};
use rayon::iter::{IntoParallelIterator, ParallelIterator};
use rayon::slice::ParallelSliceMut;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;
use std::sync::mpsc::Receiver;

/// Remote source objects fetched at once (each `get_ranges` call runs its own requests
/// concurrently); local ones, as many as there are cores.
const OBJECTS: usize = 8;

/// Reads of at most this many bytes (stored, decoded and as values) are decoded where they are
/// fetched, without a hand-over to other threads (coordinates, small selections).
const INLINE_DECODE: usize = 64 << 10;

/// A block's chunks are decoded in about this many batches, so that decoding starts while
/// fetching goes on and copying into the block overlaps the next batch's decoding...
const BATCHES: usize = 8;

/// ... each of at least [`MIN_BATCH`] stored bytes (hand-overs cost) and at most
/// [`DECODE_BATCH`] (decoded chunks waiting to be copied take memory).
const MIN_BATCH: usize = 64 << 10;
const DECODE_BATCH: usize = 8 << 20;

/// Values filled with NaN per task when a block is set up.
const FILL: usize = 1 << 15;

/// One chunk of a block: its id, source, packing and bytes (stored, then decoded elements).
struct Chunk {
    id: Vec<u64>,
    url: Arc<str>,
    bytes: Bytes,
    packing: Packing,
}

/// The values of output rows `rows` of a variable, C order, NaN where no chunk holds data or the
/// polygon leaves a cell out; in `reuse` when it is large enough.
///
/// # Errors
/// Read or decode failures, naming the source object and byte range.
pub(crate) async fn read_rows(
    objects: &Objects,
    plan: &VarPlan,
    rows: Range<usize>,
    reuse: Vec<f64>,
) -> Result<Vec<f64>, QueryError> {
    let mut shape = plan.layout.shape.clone();
    if let Some(first) = shape.first_mut() {
        *first = rows.len();
    }
    let len: usize = shape.iter().product();
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
    let wanted: Vec<&Job> = match &first {
        Some(f) => f.keys().filter_map(|k| plan.jobs.get(k)).flatten().collect(),
        None => plan.jobs.values().flatten().collect(),
    };
    let stored: usize = wanted.iter().map(|j| stored_len(&j.loc)).sum();
    let decoded = wanted.len().saturating_mul(plan.array.chunk_bytes());
    let small = stored.max(decoded).max(len.saturating_mul(8)) <= INLINE_DECODE;
    // One group per source object (inline chunks: one group of their own, needing no fetch).
    let mut groups: BTreeMap<&str, Vec<&Job>> = BTreeMap::new();
    for job in wanted {
        groups.entry(job.url.as_str()).or_default().push(job);
    }
    let mut block = Assembly {
        picks: first
            .into_iter()
            .chain(plan.picks.iter().skip(1).cloned())
            .collect(),
        chunk_shape: plan.array.chunks.iter().map(|&c| c as usize).collect(),
        shape: shape.clone(),
        array: plan.array.clone(),
        values: Vec::new(),
        reuse,
    };
    // Local files gain nothing from more reads at once than cores, and each read in flight holds
    // a thread of the blocking pool (started afresh when none is idle).
    let local = groups
        .keys()
        .find(|u| !u.is_empty())
        .is_some_and(|u| objects.locate(u).is_ok_and(|(s, _)| s.is_local()));
    let at_once = if local {
        rayon::current_num_threads().clamp(1, OBJECTS)
    } else {
        OBJECTS
    };
    let mut fetched = futures::stream::iter(groups)
        .map(|(url, jobs)| fetch(objects, url, jobs))
        .buffer_unordered(at_once);
    let mut out = if small {
        // Coordinates and other small reads: no hand-over to other threads.
        let mut chunks = Vec::new();
        while let Some(got) = fetched.try_next().await? {
            chunks.extend(got);
        }
        let decoded = chunks
            .into_iter()
            .map(|c| decode(&block.array, c))
            .collect::<Result<Vec<_>, _>>()?;
        block.put(&decoded);
        block.values
    } else {
        // Batches go to one blocking task as they are fetched; it decodes each in parallel while
        // it copies the one before into the block.
        let (send, batches) = std::sync::mpsc::channel();
        let assembling = tokio::task::spawn_blocking(move || block.assemble(batches));
        let each = (stored / BATCHES).clamp(MIN_BATCH, DECODE_BATCH);
        let (mut batch, mut size) = (Vec::new(), 0);
        'fetch: while let Some(got) = fetched.try_next().await? {
            for chunk in got {
                size += chunk.bytes.len();
                batch.push(chunk);
                if size >= each {
                    // A closed channel: the assembler failed, and says why below.
                    if send.send(std::mem::take(&mut batch)).is_err() {
                        break 'fetch;
                    }
                    size = 0;
                }
            }
        }
        if !batch.is_empty() {
            let _ = send.send(batch);
        }
        drop(send);
        assembling
            .await
            .map_err(|e| QueryError::Invalid(format!("decode task failed: {e}")))??
    };
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

/// Fetches the chunks of one source object with one coalescing `get_ranges` call.
async fn fetch(objects: &Objects, url: &str, jobs: Vec<&Job>) -> Result<Vec<Chunk>, QueryError> {
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
    let url: Arc<str> = url.into();
    Ok(jobs
        .into_iter()
        .map(|j| Chunk {
            id: j.id.clone(),
            url: url.clone(),
            bytes: match &j.loc {
                ChunkLoc::Range { .. } => fetched.next().unwrap_or_default(),
                ChunkLoc::Inline(b) => Bytes::from(b.clone()),
            },
            packing: j.packing.clone(),
        })
        .collect())
}

/// Decodes one chunk to its elements' bytes (C order, the array's dtype and byte order).
fn decode(array: &ArrayMeta, c: Chunk) -> Result<Chunk, QueryError> {
    match decode_chunk_cow(array, &c.bytes) {
        Ok(Cow::Borrowed(_)) => Ok(c),
        Ok(Cow::Owned(v)) => Ok(Chunk {
            bytes: Bytes::from(v),
            ..c
        }),
        Err(error) => Err(IndexError::Format {
            url: c.url.to_string(),
            error,
        }
        .into()),
    }
}

/// Stored bytes of a chunk, as planned.
fn stored_len(loc: &ChunkLoc) -> usize {
    match loc {
        ChunkLoc::Range { length, .. } => usize::try_from(*length).unwrap_or(usize::MAX),
        ChunkLoc::Inline(b) => b.len(),
    }
}

/// The values of one block, filled from its decoded chunks.
struct Assembly {
    /// Per dimension, the chunks' picked positions (the first dimension's within the block).
    picks: Vec<Picks>,
    chunk_shape: Vec<usize>,
    shape: Vec<usize>,
    array: ArrayMeta,
    /// Empty until the block is set up ([`Assembly::setup`]).
    values: Vec<f64>,
    /// A buffer to fill again instead of allocating.
    reuse: Vec<f64>,
}

impl Assembly {
    /// All NaN, in the reused buffer if it is large enough. Fresh pages are touched on every
    /// core: each first touch costs a kernel page fault of several µs.
    fn setup(&mut self) {
        let len = self.shape.iter().product();
        if !self.values.is_empty() || len == 0 {
            return;
        }
        let mut values = std::mem::take(&mut self.reuse);
        if values.capacity() >= len {
            values.clear();
            values.resize(len, f64::NAN);
        } else {
            values = vec![0.0; len];
            values.par_chunks_mut(FILL).for_each(|v| v.fill(f64::NAN));
        }
        self.values = values;
    }

    fn put(&mut self, chunks: &[Chunk]) {
        self.setup();
        for chunk in chunks {
            copy(
                &self.picks,
                &self.chunk_shape,
                &self.shape,
                &self.array,
                chunk,
                &mut self.values,
            );
        }
    }

    /// Decodes each batch received in parallel, while it copies the one before (the block is set
    /// up while the first batch is fetched).
    fn assemble(mut self, batches: Receiver<Vec<Chunk>>) -> Result<Vec<f64>, QueryError> {
        let array = self.array.clone();
        self.setup();
        let mut decoded = Vec::new();
        for batch in batches {
            let (_, next) = rayon::join(
                || self.put(&decoded),
                || {
                    batch
                        .into_par_iter()
                        .map(|c| decode(&array, c))
                        .collect::<Result<Vec<_>, _>>()
                },
            );
            decoded = next?;
        }
        self.put(&decoded);
        Ok(self.values)
    }
}

/// Converts the selected elements of one decoded chunk to `f64`, unpacks them (fill and missing
/// values → NaN, scale and offset) and writes them into the output: along the last dimension,
/// runs of consecutive positions (in both the chunk and the output) go as one slice.
fn copy(
    picks: &[Picks],
    chunk_shape: &[usize],
    out_shape: &[usize],
    array: &ArrayMeta,
    chunk: &Chunk,
    out: &mut [f64],
) {
    let lists: Vec<&Vec<(usize, usize)>> = match picks.iter().zip(&chunk.id).map(|(m, i)| m.get(i)).collect()
    {
        Some(l) => l,
        None => return,
    };
    let size = array.dtype.size().max(1);
    let elems = chunk.bytes.len() / size;
    // `n` elements from chunk position `c` to output position `o`; elements past either end are
    // skipped.
    let mut put = |o: usize, c: usize, n: usize| {
        let n = n.min(out.len().saturating_sub(o)).min(elems.saturating_sub(c));
        if n > 0 {
            let dst = &mut out[o..o + n];
            to_f64_into(
                array.dtype,
                array.endian,
                &chunk.bytes[c * size..(c + n) * size],
                dst,
            );
            unpack(dst, &chunk.packing);
        }
    };
    let Some((last, outer)) = lists.split_last() else {
        put(0, 0, 1);
        return;
    };
    let runs = runs(last);
    let (out_row, chunk_row) = (out_shape[outer.len()], chunk_shape[outer.len()]);
    let mut pos = vec![0usize; outer.len()];
    loop {
        let (mut o, mut c) = (0usize, 0usize);
        for d in 0..outer.len() {
            let (op, cp) = outer[d][pos[d]];
            o = o * out_shape[d] + op;
            c = c * chunk_shape[d] + cp;
        }
        for &(op, cp, n) in &runs {
            put(o * out_row + op, c * chunk_row + cp, n);
        }
        let mut d = outer.len();
        loop {
            if d == 0 {
                return;
            }
            d -= 1;
            pos[d] += 1;
            if pos[d] < outer[d].len() {
                break;
            }
            pos[d] = 0;
        }
    }
}

/// `(output position, chunk position)` pairs grouped into `(output start, chunk start, length)`
/// runs where both advance by one.
fn runs(pairs: &[(usize, usize)]) -> Vec<(usize, usize, usize)> {
    let mut out: Vec<(usize, usize, usize)> = Vec::new();
    for &(o, c) in pairs {
        match out.last_mut() {
            Some((o0, c0, n)) if *o0 + *n == o && *c0 + *n == c => *n += 1,
            _ => out.push((o, c, 1)),
        }
    }
    out
}
