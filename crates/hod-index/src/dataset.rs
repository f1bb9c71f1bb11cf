//! Datasets in a store: ingest (scan, combine, publish atomically), open, list, read.

use crate::IndexError;
use crate::chunks::all_chunks;
use crate::combine::{Builder, SourceScan};
use crate::manifest::{DatasetMeta, Packing, Shard};
use crate::values::{place, to_f64};
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use hod_core::{ArrayMeta, ChunkLoc, ReadAt, ScannedFile};
use hod_formats::{FileSource, ScanOptions, decode_chunk, decode_chunk_cow};
use hod_store::{ObjectReader, Store};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Prefix of source URLs that are keys in the dataset's own store.
pub const STORE_URL: &str = "store:";
/// Source files scanned at once.
const SCAN_CONCURRENCY: usize = 16;
/// Chunk reads in flight at once.
const READ_CONCURRENCY: usize = 32;

/// Reports progress of long operations (the CLI shows a bar).
pub trait Progress: Send + Sync {
    /// A phase starts with `total` steps.
    fn start(&self, phase: &str, total: u64);
    /// `n` more steps are done.
    fn inc(&self, n: u64);
}

/// Progress that reports nothing.
#[derive(Debug, Default)]
pub struct Quiet;

impl Progress for Quiet {
    fn start(&self, _: &str, _: u64) {}
    fn inc(&self, _: u64) {}
}

/// Options of [`ingest`].
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Dimension to combine files along (`time` finds `valid_time` and other CF time axes too).
    pub concat_dim: String,
    /// Upload the source files into the store instead of referencing them in place.
    pub copy: bool,
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            concat_dim: "time".into(),
            copy: false,
        }
    }
}

/// What an ingest did.
#[derive(Debug, Clone, Serialize)]
pub struct IngestReport {
    /// Dataset name.
    pub dataset: String,
    /// The new version.
    pub version: String,
    /// Files scanned by this ingest.
    pub scanned: usize,
    /// Files uploaded into the store.
    pub copied: usize,
    /// Source objects in the dataset now.
    pub sources: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct Head {
    version: String,
}

fn head_key(name: &str) -> String {
    format!("datasets/{name}/HEAD")
}

pub(crate) fn check_name(name: &str) -> Result<(), IndexError> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && !name.starts_with('.');
    if ok {
        Ok(())
    } else {
        Err(IndexError::Invalid(format!(
            "dataset name '{name}' must be 1-128 characters of letters, digits, '-', '_' or '.', not starting with '.'"
        )))
    }
}

/// A fresh version id: milliseconds since 1970 and a random suffix, so ids sort by time and
/// never collide between concurrent writers.
fn new_version() -> String {
    use std::hash::{BuildHasher, RandomState};
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    format!("{ms:013}-{:08x}", RandomState::new().hash_one(ms) as u32)
}

/// Reads source objects by URL: `store:` keys, local paths and `file://` URLs, `s3://` URLs.
#[derive(Clone)]
pub struct Objects {
    store: Store,
    others: Arc<Mutex<HashMap<String, Store>>>,
}

impl Objects {
    /// Resolver for a dataset living in `store`.
    pub fn new(store: &Store) -> Objects {
        Objects {
            store: store.clone(),
            others: Arc::default(),
        }
    }

    /// The store and key holding `url`.
    ///
    /// # Errors
    /// When the URL's store cannot be opened.
    pub fn locate(&self, url: &str) -> Result<(Store, String), IndexError> {
        if let Some(key) = url.strip_prefix(STORE_URL) {
            return Ok((self.store.clone(), key.to_string()));
        }
        let (root, key) = hod_store::resolve(url)?;
        let mut others = self
            .others
            .lock()
            .map_err(|_| IndexError::Invalid("resolver lock poisoned".into()))?;
        let store = others.entry(root.url().to_string()).or_insert(root).clone();
        Ok((store, key))
    }

    /// Reads a byte range of a source object.
    ///
    /// # Errors
    /// The store error, naming the object and range.
    pub async fn read(&self, url: &str, offset: u64, length: u64) -> Result<Bytes, IndexError> {
        let (store, key) = self.locate(url)?;
        Ok(store.get_range(&key, offset..offset + length).await?)
    }

    /// Fetches one chunk and decodes it to `f64` on a blocking thread; with a packing, CF-unpacks
    /// it too (fill and missing values → NaN, then scale and offset).
    ///
    /// # Errors
    /// The read or decode failure, naming the source.
    pub async fn chunk_values(
        &self,
        array: &ArrayMeta,
        url: &str,
        loc: &ChunkLoc,
        packing: Option<Packing>,
    ) -> Result<Vec<f64>, IndexError> {
        let stored = match loc {
            ChunkLoc::Range { offset, length } => self.read(url, *offset, *length).await?.to_vec(),
            ChunkLoc::Inline(b) => b.clone(),
        };
        let (array, url) = (array.clone(), url.to_string());
        tokio::task::spawn_blocking(move || decode_values(&array, &url, &stored, packing.as_ref()))
            .await
            .map_err(|e| IndexError::Invalid(format!("decode task failed: {e}")))?
    }

    /// The URL fsspec would use for a source (for kerchunk export).
    pub fn public_url(&self, url: &str) -> String {
        match url.strip_prefix(STORE_URL) {
            Some(key) => {
                let root = self.store.url().trim_end_matches('/');
                match root.strip_prefix("file://") {
                    Some(path) => format!("{path}/{key}"),
                    None => format!("{root}/{key}"),
                }
            }
            None => url.strip_prefix("file://").unwrap_or(url).to_string(),
        }
    }
}

/// Stored chunk bytes of the source `url` → CF-decoded values: the codecs, then `f64`, then the
/// source's packing (fill and missing values → NaN, scale and offset). Synchronous: call it off
/// the async runtime.
///
/// # Errors
/// [`IndexError::Format`] when the bytes do not decode.
pub fn decode_values(
    array: &ArrayMeta,
    url: &str,
    stored: &[u8],
    packing: Option<&Packing>,
) -> Result<Vec<f64>, IndexError> {
    let raw = decode_chunk_cow(array, stored).map_err(|error| IndexError::Format {
        url: url.to_string(),
        error,
    })?;
    let mut values = to_f64(array.dtype, array.endian, &raw);
    if let Some(p) = packing {
        unpack(&mut values, p);
    }
    Ok(values)
}

/// A source as given on the command line, resolved.
struct Source {
    /// URL recorded in the manifest.
    url: String,
    /// Local file, when the bytes can be read from disk.
    local: Option<PathBuf>,
    /// Name of the uploaded copy.
    file_name: String,
}

fn source_of(spec: &str) -> Result<Source, IndexError> {
    if spec.starts_with("s3://") || spec.starts_with("memory://") {
        let file_name = spec.rsplit('/').next().unwrap_or(spec).to_string();
        return Ok(Source {
            url: spec.to_string(),
            local: None,
            file_name,
        });
    }
    let path = Path::new(spec.strip_prefix("file://").unwrap_or(spec));
    let abs = std::fs::canonicalize(path)
        .map_err(|e| IndexError::Invalid(format!("source {}: {e}", path.display())))?;
    let file_name = abs
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(Source {
        url: format!("file://{}", abs.display()),
        local: Some(abs),
        file_name,
    })
}

/// Scans one object and reads its 1-D coordinates. Runs on a blocking thread.
fn scan_blocking(src: &dyn ReadAt, idx: Option<String>, url: &str) -> Result<SourceScan, IndexError> {
    let fmt = |source| IndexError::Format {
        url: url.to_string(),
        error: source,
    };
    let file = hod_formats::scan(src, &ScanOptions { grib_idx: idx }).map_err(fmt)?;
    let mut coords = BTreeMap::new();
    for v in file
        .variables
        .iter()
        .filter(|v| hod_core::is_coordinate(&v.name, &v.meta))
    {
        let mut values = vec![f64::NAN; v.meta.shape[0] as usize];
        for c in &v.chunks {
            let stored = match &c.loc {
                ChunkLoc::Range { offset, length } => src.read_at(*offset, *length).map_err(|source| {
                    fmt(hod_formats::FormatError::Read {
                        offset: *offset,
                        len: *length,
                        source,
                    })
                })?,
                ChunkLoc::Inline(b) => b.clone(),
            };
            let decoded = decode_chunk(&v.meta, &stored).map_err(fmt)?;
            place(
                &v.meta,
                &c.index,
                &to_f64(v.meta.dtype, v.meta.endian, &decoded),
                &mut values,
            );
        }
        coords.insert(v.name.clone(), values);
    }
    Ok(SourceScan {
        url: url.to_string(),
        size: src.size(),
        file,
        coords,
    })
}

/// Steps an ingest runs around its publish: the catalog checks files against a dataset profile,
/// documents the variables, and refreshes the store's STAC after each new version.
pub trait IngestHooks: Send + Sync {
    /// Checks the newly scanned files and may amend the combined metadata before it is published;
    /// an error publishes nothing.
    ///
    /// # Errors
    /// Whatever the hook refuses, naming the file and variable.
    fn before_publish(&self, meta: &mut DatasetMeta, scans: &[SourceScan]) -> Result<(), IndexError>;

    /// Runs after a version is published (the dataset is already visible then).
    ///
    /// # Errors
    /// Whatever the hook fails on.
    fn after_publish<'a>(
        &'a self,
        store: &'a Store,
        meta: &'a DatasetMeta,
    ) -> futures::future::BoxFuture<'a, Result<(), IndexError>>;
}

/// Scans sources and publishes them as dataset `name` (creating it, or extending it with files it
/// does not hold yet).
///
/// # Errors
/// A source that cannot be read or scanned, files that do not fit together (naming the first file
/// that differs), or a store failure. Nothing is published then.
pub async fn ingest(
    store: &Store,
    name: &str,
    specs: &[String],
    opts: &IngestOptions,
    progress: &dyn Progress,
) -> Result<IngestReport, IndexError> {
    ingest_with(store, name, specs, opts, progress, None).await
}

/// [`ingest`] with hooks around the publish (see [`IngestHooks`]).
///
/// # Errors
/// As [`ingest`], and what the hooks return.
pub async fn ingest_with(
    store: &Store,
    name: &str,
    specs: &[String],
    opts: &IngestOptions,
    progress: &dyn Progress,
    hooks: Option<&dyn IngestHooks>,
) -> Result<IngestReport, IndexError> {
    check_name(name)?;
    if specs.is_empty() {
        return Err(IndexError::Invalid("no source files given".into()));
    }
    let mut sources = specs
        .iter()
        .map(|s| source_of(s))
        .collect::<Result<Vec<_>, _>>()?;
    // Where a file lands in the store when it is copied there.
    let copied_url = |s: &Source| format!("{STORE_URL}datasets/{name}/objects/{}", s.file_name);
    let held = |have: &[&str], s: &Source| {
        have.contains(&s.url.as_str()) || opts.copy && have.contains(&copied_url(s).as_str())
    };
    let existing = match read_head(store, name).await? {
        Some(_) => {
            let meta = read_meta(store, name).await?;
            // A dataset of one file cannot be extended, but re-ingesting that file is a no-op.
            let single: Vec<&str> = meta
                .static_chunks
                .values()
                .flatten()
                .map(|c| c.source.as_str())
                .collect();
            if meta.concat.is_none() && sources.iter().all(|s| held(&single, s)) {
                return unchanged(store, meta, hooks).await;
            }
            Some(reopen(store, name).await?)
        }
        None => None,
    };
    if let Some(b) = &existing {
        // Files already in the dataset are skipped, so a re-run only adds what is new.
        let have = b.urls();
        sources.retain(|s| !held(&have, s));
        if sources.is_empty() {
            return unchanged(store, read_meta(store, name).await?, hooks).await;
        }
    }
    let mut copied = 0;
    if opts.copy {
        progress.start("upload", sources.len() as u64);
        for s in &mut sources {
            let key = format!("datasets/{name}/objects/{}", s.file_name);
            upload(store, s, &key).await?;
            copied += 1;
            s.url = format!("{STORE_URL}{key}");
            progress.inc(1);
        }
    }
    progress.start("scan", sources.len() as u64);
    let objects = Objects::new(store);
    let scans: Vec<SourceScan> = futures::stream::iter(sources)
        .map(|s| {
            let objects = objects.clone();
            async move {
                let scan = scan_source(&objects, s).await;
                progress.inc(1);
                scan
            }
        })
        .buffered(SCAN_CONCURRENCY)
        .try_collect()
        .await?;
    let Some(first) = scans.first() else {
        return Err(IndexError::Invalid("no source files given".into()));
    };
    let mut builder = match existing {
        Some(b) => b,
        None => Builder::new(name, first, Some(&opts.concat_dim))?,
    };
    for s in &scans {
        builder.add(s)?;
    }
    let (mut meta, shards) = builder.finish()?;
    if let Some(h) = hooks {
        h.before_publish(&mut meta, &scans)?;
    }
    let version = publish(store, meta, shards).await?;
    let meta = read_meta(store, name).await?;
    if let Some(h) = hooks {
        h.after_publish(store, &meta).await?;
    }
    let sources = meta.sources;
    Ok(IngestReport {
        dataset: name.to_string(),
        version,
        scanned: scans.len(),
        copied,
        sources,
    })
}

async fn upload(store: &Store, s: &Source, key: &str) -> Result<(), IndexError> {
    // A re-run after an interruption skips what is already there.
    let size = match &s.local {
        Some(p) => std::fs::metadata(p)
            .map_err(|e| IndexError::Invalid(format!("{}: {e}", p.display())))?
            .len(),
        None => {
            let (st, k) = hod_store::resolve(&s.url)?;
            st.size(&k).await?
        }
    };
    if let Ok(existing) = store.size(key).await
        && existing == size
    {
        return Ok(());
    }
    match &s.local {
        Some(p) => {
            store.put_file(key, p).await?;
        }
        None => {
            let (st, k) = hod_store::resolve(&s.url)?;
            store.put(key, st.get(&k).await?).await?;
        }
    }
    Ok(())
}

async fn scan_source(objects: &Objects, s: Source) -> Result<SourceScan, IndexError> {
    let url = s.url.clone();
    let join = |e: tokio::task::JoinError| IndexError::Invalid(format!("{url}: scan task failed: {e}"));
    match (&s.local, url.starts_with(STORE_URL)) {
        (Some(path), false) => {
            let path = path.clone();
            let u = url.clone();
            tokio::task::spawn_blocking(move || {
                let src = FileSource::open(&path)
                    .map_err(|e| IndexError::Invalid(format!("{}: {e}", path.display())))?;
                let idx_path = PathBuf::from(format!("{}.idx", path.display()));
                let idx = std::fs::read_to_string(idx_path).ok();
                scan_blocking(&src, idx, &u)
            })
            .await
            .map_err(join)?
        }
        _ => {
            let (store, key) = objects.locate(&url)?;
            let reader = ObjectReader::open(&store, &key).await?;
            let idx = store
                .get_opt(&format!("{key}.idx"))
                .await?
                .and_then(|b| String::from_utf8(b.to_vec()).ok());
            let u = url.clone();
            tokio::task::spawn_blocking(move || scan_blocking(&reader, idx, &u))
                .await
                .map_err(join)?
        }
    }
}

/// The report of an ingest that found nothing new; the catalog hook still runs, since the
/// catalog may predate the dataset's last version.
async fn unchanged(
    store: &Store,
    meta: DatasetMeta,
    hooks: Option<&dyn IngestHooks>,
) -> Result<IngestReport, IndexError> {
    if let Some(h) = hooks {
        h.after_publish(store, &meta).await?;
    }
    Ok(IngestReport {
        dataset: meta.name.clone(),
        version: meta.version,
        scanned: 0,
        copied: 0,
        sources: meta.sources,
    })
}

/// The published dataset as a builder, to extend it.
async fn reopen(store: &Store, name: &str) -> Result<Builder, IndexError> {
    let meta = read_meta(store, name).await?;
    let shards = read_shards(store, &meta, 0..u64::MAX).await?;
    let mut statics = BTreeMap::new();
    for (k, v) in &meta.variables {
        if meta.static_chunks.contains_key(k) && hod_core::is_coordinate(k, &v.array) {
            statics.insert(k.clone(), read_variable(store, &meta, k, false).await?);
        }
    }
    Builder::from_existing(meta, &shards, statics)
}

/// Writes shards and the version document under a fresh version id, then switches `HEAD` to it.
pub async fn publish(store: &Store, mut meta: DatasetMeta, shards: Vec<Shard>) -> Result<String, IndexError> {
    let version = new_version();
    let name = meta.name.clone();
    meta.version = version.clone();
    if let Some(concat) = &mut meta.concat {
        for (n, (info, shard)) in concat.shards.iter_mut().zip(&shards).enumerate() {
            info.key = format!("datasets/{name}/shards/{version}-{n:06}.hods");
            store.put(&info.key, Bytes::from(shard.encode())).await?;
        }
    }
    let inventory: Vec<&str> = shards
        .iter()
        .flat_map(|s| s.sources.iter().map(|x| x.url.as_str()))
        .collect();
    meta.sources_key = format!("datasets/{name}/sources/{version}.json");
    store.put(&meta.sources_key, json_bytes(&inventory)).await?;
    store
        .put(
            &format!("datasets/{name}/versions/{version}.json"),
            json_bytes(&meta),
        )
        .await?;
    store
        .put(
            &head_key(&name),
            json_bytes(&Head {
                version: version.clone(),
            }),
        )
        .await?;
    Ok(version)
}

fn json_bytes<T: Serialize>(v: &T) -> Bytes {
    // Serialising manifest types to a Vec cannot fail.
    Bytes::from(serde_json::to_vec(v).unwrap_or_default())
}

/// Whether dataset `name` has been published in `store`.
pub(crate) async fn has_head(store: &Store, name: &str) -> Result<bool, IndexError> {
    Ok(read_head(store, name).await?.is_some())
}

async fn read_head(store: &Store, name: &str) -> Result<Option<Head>, IndexError> {
    let key = head_key(name);
    match store.get_opt(&key).await? {
        None => Ok(None),
        Some(b) => serde_json::from_slice(&b)
            .map(Some)
            .map_err(|e| IndexError::Corrupt {
                key,
                what: e.to_string(),
            }),
    }
}

/// Opens the current version of dataset `name`.
///
/// # Errors
/// [`IndexError::NoDataset`] when there is none, or a store/corruption error.
pub async fn read_meta(store: &Store, name: &str) -> Result<DatasetMeta, IndexError> {
    check_name(name)?;
    let head = read_head(store, name)
        .await?
        .ok_or_else(|| IndexError::NoDataset {
            name: name.to_string(),
            store: store.url().to_string(),
        })?;
    let key = format!("datasets/{name}/versions/{}.json", head.version);
    let bytes = store.get(&key).await?;
    serde_json::from_slice(&bytes).map_err(|e| IndexError::Corrupt {
        key,
        what: e.to_string(),
    })
}

/// Loads the shards of a dataset that overlap elements `range` of the concat dimension.
///
/// # Errors
/// A store or corruption error naming the shard.
pub async fn read_shards(
    store: &Store,
    meta: &DatasetMeta,
    range: std::ops::Range<u64>,
) -> Result<Vec<Shard>, IndexError> {
    let Some(concat) = &meta.concat else {
        return Ok(Vec::new());
    };
    let keys: Vec<String> = concat
        .shards
        .iter()
        .filter(|s| s.start < range.end && s.end > range.start)
        .map(|s| s.key.clone())
        .collect();
    futures::stream::iter(keys)
        .map(|key| async move {
            let bytes = store.get(&key).await?;
            Shard::decode(&key, &bytes)
        })
        .buffered(8)
        .try_collect()
        .await
}

/// Names of the datasets in a store.
///
/// # Errors
/// A store error.
pub async fn list(store: &Store) -> Result<Vec<String>, IndexError> {
    let mut names: Vec<String> = store
        .list("datasets/")
        .await?
        .into_iter()
        .filter_map(|o| {
            o.key
                .strip_prefix("datasets/")?
                .strip_suffix("/HEAD")
                .map(str::to_string)
        })
        .collect();
    names.sort();
    Ok(names)
}

/// Reads a whole variable as `f64`. With `cf`, values are decoded as CF says: each source's own
/// packing applied, `_FillValue` and `missing_value` → NaN; without, they are the stored values.
/// Meant for small variables and tests; `hod read` streams.
///
/// # Errors
/// Unknown variable, unreadable or undecodable chunks (naming the source and byte range).
pub async fn read_variable(
    store: &Store,
    meta: &DatasetMeta,
    var: &str,
    cf: bool,
) -> Result<Vec<f64>, IndexError> {
    let v = meta
        .variables
        .get(var)
        .ok_or_else(|| crate::chunks::no_variable(meta, var))?;
    let shards = read_shards(store, meta, 0..u64::MAX).await?;
    // Chunks that are not stored hold the fill value, which decodes to NaN.
    let fill = if cf {
        f64::NAN
    } else {
        v.array.fill_value.unwrap_or(f64::NAN)
    };
    let mut out = vec![fill; v.array.shape.iter().product::<u64>() as usize];
    for (index, values) in read_chunks(store, meta, &shards, var, cf).await? {
        place(&v.array, &index, &values, &mut out);
    }
    Ok(out)
}

/// Reads and decodes every stored chunk of a variable (full chunk shape, `f64`, CF-decoded with
/// `cf`), concurrently, in no particular order.
///
/// # Errors
/// As [`read_variable`].
pub async fn read_chunks(
    store: &Store,
    meta: &DatasetMeta,
    shards: &[Shard],
    var: &str,
    cf: bool,
) -> Result<Vec<(Vec<u64>, Vec<f64>)>, IndexError> {
    let v = meta
        .variables
        .get(var)
        .ok_or_else(|| crate::chunks::no_variable(meta, var))?;
    let chunks = all_chunks(meta, shards, var)?;
    let objects = Objects::new(store);
    let uniform = packing_from_attrs(&v.array);
    futures::stream::iter(chunks)
        .map(|c| {
            let packing = cf.then(|| c.packing.clone().unwrap_or_else(|| uniform.clone()));
            let objects = &objects;
            let array = &v.array;
            async move {
                Ok::<_, IndexError>((
                    c.index.clone(),
                    objects.chunk_values(array, &c.url, &c.loc, packing).await?,
                ))
            }
        })
        .buffer_unordered(READ_CONCURRENCY)
        .try_collect()
        .await
}

/// CF packing from a variable's attributes.
pub fn packing_from_attrs(a: &ArrayMeta) -> Packing {
    let get = |k: &str| a.attrs.get(k).and_then(hod_core::attr_f64);
    Packing {
        scale_factor: get("scale_factor"),
        add_offset: get("add_offset"),
        fill_value: a.fill_value,
        missing_value: get("missing_value"),
    }
}

/// Applies CF decoding in place: fill and missing values → NaN, then `x * scale + offset`.
pub fn unpack(values: &mut [f64], p: &Packing) {
    let scale = p.scale_factor.unwrap_or(1.0);
    let offset = p.add_offset.unwrap_or(0.0);
    let is_missing = |x: f64| {
        p.fill_value.is_some_and(|f| x == f || (f.is_nan() && x.is_nan()))
            || p.missing_value.is_some_and(|m| x == m)
    };
    for x in values {
        *x = if is_missing(*x) {
            f64::NAN
        } else {
            *x * scale + offset
        };
    }
}

/// Scans one local file without storing anything (for `hod scan`-style inspection and tests).
///
/// # Errors
/// The file cannot be read or scanned.
pub fn scan_file(path: &Path) -> Result<ScannedFile, IndexError> {
    let src = FileSource::open(path).map_err(|e| IndexError::Invalid(format!("{}: {e}", path.display())))?;
    let idx = std::fs::read_to_string(format!("{}.idx", path.display())).ok();
    Ok(scan_blocking(&src, idx, &path.display().to_string())?.file)
}

/// The kerchunk references of a dataset (see [`crate::kerchunk::export`]); with
/// `inline_unpacked`, variables packed per source file are decoded and embedded as float64.
///
/// # Errors
/// As [`crate::kerchunk::export`], and read errors while unpacking.
pub async fn kerchunk_refs(
    store: &Store,
    meta: &DatasetMeta,
    inline_unpacked: bool,
) -> Result<serde_json::Value, IndexError> {
    let shards = read_shards(store, meta, 0..u64::MAX).await?;
    let mut unpacked = crate::kerchunk::Unpacked::new();
    if inline_unpacked {
        for name in meta
            .variables
            .iter()
            .filter(|(_, v)| v.per_source_packing)
            .map(|(n, _)| n)
        {
            unpacked.insert(name.clone(), read_chunks(store, meta, &shards, name, true).await?);
        }
    }
    let objects = Objects::new(store);
    crate::kerchunk::export(meta, &shards, &|u| objects.public_url(u), &unpacked)
}
