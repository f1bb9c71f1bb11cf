//! [`ObjectReader`]: synchronous random access to one object for the format scanners.

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::sync::{Mutex, PoisonError};

use bytes::Bytes;
use hod_core::ReadAt;
use tokio::runtime::Handle;

use crate::{Store, StoreError};

/// Remote reads fetch whole aligned blocks of this size, since scanners make many small reads.
pub const BLOCK_SIZE: u64 = 256 * 1024;
/// Blocks kept per reader (8 MiB): enough for a file's headers and indexes.
const CACHE_BLOCKS: usize = 32;

/// Synchronous reads of one object, for scanners that implement their parsing over
/// [`ReadAt`]. Local objects are read straight from the file; remote ones through the store on
/// the tokio runtime that opened the reader, with an LRU cache of [`BLOCK_SIZE`] blocks.
///
/// Call [`ReadAt::read_at`] from a blocking thread (`tokio::task::spawn_blocking`), never from
/// an async task: the calling thread waits for the runtime to do the I/O.
pub struct ObjectReader {
    size: u64,
    source: Source,
}

enum Source {
    Local(std::fs::File),
    Remote {
        store: Store,
        key: String,
        runtime: Handle,
        cache: Mutex<VecDeque<(u64, Bytes)>>,
    },
}

impl ObjectReader {
    /// Opens `key` of `store` (its size is read once, now). Must run on a tokio runtime.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when absent; backend errors.
    pub async fn open(store: &Store, key: &str) -> Result<ObjectReader, StoreError> {
        if let Some(path) = store.local_file(key)? {
            let not_found = || StoreError::NotFound {
                store: store.url().to_owned(),
                key: key.to_owned(),
            };
            let file = match tokio::fs::File::open(&path).await {
                Ok(f) => f.into_std().await,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(not_found()),
                Err(e) => return Err(local_error(store, key, e)),
            };
            let meta = file.metadata().map_err(|e| local_error(store, key, e))?;
            if !meta.is_file() {
                return Err(not_found());
            }
            return Ok(ObjectReader {
                size: meta.len(),
                source: Source::Local(file),
            });
        }
        let size = store.size(key).await?;
        let source = Source::Remote {
            store: store.clone(),
            key: key.to_owned(),
            runtime: Handle::current(),
            cache: Mutex::new(VecDeque::new()),
        };
        Ok(ObjectReader { size, source })
    }
}

fn local_error(store: &Store, key: &str, e: io::Error) -> StoreError {
    let source = object_store::Error::Generic {
        store: "LocalFileSystem",
        source: Box::new(e),
    };
    store.error(key, "open", None, source)
}

impl ReadAt for ObjectReader {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_at(&self, offset: u64, len: u64) -> io::Result<Vec<u8>> {
        let end = offset.saturating_add(len).min(self.size);
        if offset >= end {
            return Ok(Vec::new());
        }
        match &self.source {
            Source::Local(file) => {
                let mut buf = vec![0; (end - offset) as usize];
                read_exact_at(file, &mut buf, offset)?;
                Ok(buf)
            }
            Source::Remote {
                store,
                key,
                runtime,
                cache,
            } => read_remote(store, key, runtime, cache, self.size, offset, end),
        }
    }
}

fn read_remote(
    store: &Store,
    key: &str,
    runtime: &Handle,
    cache: &Mutex<VecDeque<(u64, Bytes)>>,
    size: u64,
    offset: u64,
    end: u64,
) -> io::Result<Vec<u8>> {
    let (first, last) = (offset / BLOCK_SIZE, (end - 1) / BLOCK_SIZE);
    let count = (last - first + 1) as usize;
    if count > CACHE_BLOCKS / 2 {
        // A big read would evict everything useful: fetch exactly it, uncached.
        let (store, key) = (store.clone(), key.to_owned());
        return block_on(runtime, async move { store.get_range(&key, offset..end).await }).map(Vec::from);
    }
    let mut blocks: Vec<Option<Bytes>> = {
        let mut cache = cache.lock().unwrap_or_else(PoisonError::into_inner);
        (first..=last)
            .map(|b| {
                let pos = cache.iter().position(|(i, _)| *i == b)?;
                let hit = cache.remove(pos)?;
                let data = hit.1.clone();
                cache.push_back(hit);
                Some(data)
            })
            .collect()
    };
    let missing: Vec<u64> = (first..=last)
        .zip(&blocks)
        .filter(|(_, b)| b.is_none())
        .map(|(i, _)| i)
        .collect();
    if !missing.is_empty() {
        let ranges: Vec<_> = missing
            .iter()
            .map(|&b| b * BLOCK_SIZE..((b + 1) * BLOCK_SIZE).min(size))
            .collect();
        let (store, key) = (store.clone(), key.to_owned());
        let fetched = block_on(runtime, async move { store.get_ranges(&key, &ranges).await })?;
        let mut cache = cache.lock().unwrap_or_else(PoisonError::into_inner);
        for (b, data) in missing.into_iter().zip(fetched) {
            blocks[(b - first) as usize] = Some(data.clone());
            cache.push_back((b, data));
            if cache.len() > CACHE_BLOCKS {
                cache.pop_front();
            }
        }
    }
    let mut out = Vec::with_capacity((end - offset) as usize);
    for (b, data) in (first..).zip(blocks.iter().flatten()) {
        let start = offset.saturating_sub(b * BLOCK_SIZE).min(data.len() as u64) as usize;
        let stop = (end - b * BLOCK_SIZE).min(data.len() as u64) as usize;
        out.extend_from_slice(data.get(start..stop).unwrap_or_default());
    }
    Ok(out)
}

/// Runs `fut` on the runtime and waits for it on this (blocking) thread.
fn block_on<T: Send + 'static>(
    runtime: &Handle,
    fut: impl Future<Output = Result<T, StoreError>> + Send + 'static,
) -> io::Result<T> {
    match futures::executor::block_on(runtime.spawn(fut)) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => {
            let kind = match e {
                StoreError::NotFound { .. } => io::ErrorKind::NotFound,
                StoreError::InvalidRange { .. } => io::ErrorKind::UnexpectedEof,
                _ => io::ErrorKind::Other,
            };
            Err(io::Error::new(kind, e))
        }
        Err(join) => Err(io::Error::other(join)),
    }
}

#[cfg(unix)]
fn read_exact_at(file: &std::fs::File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(windows)]
fn read_exact_at(file: &std::fs::File, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match file.seek_read(buf, offset)? {
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            n => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
        }
    }
    Ok(())
}
