//! [`Store`]: one handle over a local folder, an S3 bucket or a memory store, keyed by URL.

use std::fmt;
use std::future::Future;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutPayload};

use crate::backend::{self, Backend};
use crate::config::Location;
use crate::ranges::{COALESCE_GAP, CONCURRENCY, MAX_COALESCED, coalesce};
use crate::{S3Options, StoreError};

/// How often a read is tried before a transient error is returned (the HTTP client below
/// retries each request too; this covers errors while a body is streamed).
const READ_ATTEMPTS: u32 = 3;

/// An object store chosen by URL; cheap to clone (clones share one connection pool).
///
/// Keys are '/'-separated and relative to the store's URL: in `s3://bkt/data`, key `a/b.nc` is
/// the object `data/a/b.nc` of bucket `bkt`.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    url: String,
    os: Arc<dyn ObjectStore>,
    prefix: Path,
    backend: Backend,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Store").field(&self.inner.url).finish()
    }
}

/// One object found by [`Store::list`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Key relative to the store.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
}

impl Store {
    /// Opens the store at `url`: a local path (relative paths are made absolute; the folder is
    /// created by the first write), `file:///abs/path`, `s3://bucket/prefix` (credentials and
    /// endpoint from the `AWS_*` environment variables, see [`S3Options::from_env`]) or
    /// `memory://name/prefix` (one process-wide store per name).
    ///
    /// # Errors
    /// [`StoreError::InvalidUrl`] for an unknown scheme; [`StoreError::MissingCredentials`] when only
    /// one of the access key id and secret is set.
    pub fn open(url: &str) -> Result<Store, StoreError> {
        let location = Location::parse(url)?;
        let opts = match location {
            Location::S3 { .. } => S3Options::from_env(),
            _ => S3Options::default(),
        };
        Store::from_location(location, &opts, url)
    }

    /// Like [`Store::open`], with explicit S3 options instead of the environment (ignored for
    /// local and memory stores).
    ///
    /// # Errors
    /// As [`Store::open`].
    pub fn open_with(url: &str, opts: &S3Options) -> Result<Store, StoreError> {
        Store::from_location(Location::parse(url)?, opts, url)
    }

    fn from_location(location: Location, opts: &S3Options, url: &str) -> Result<Store, StoreError> {
        let invalid = |reason: String| StoreError::InvalidUrl {
            url: url.to_owned(),
            reason,
        };
        let parse_prefix = |p: &str| Path::parse(p).map_err(|e| invalid(e.to_string()));
        let (canonical, prefix, (os, backend)) = match location {
            Location::Local(root) => {
                let canonical = url::Url::from_file_path(&root)
                    .map_err(|()| invalid("not an absolute path".into()))?
                    .to_string();
                let prefix = Path::from_absolute_path(&root).map_err(|e| invalid(e.to_string()))?;
                (canonical, prefix, backend::local())
            }
            Location::Memory { name, prefix } => (
                with_prefix(format!("memory://{name}"), &prefix),
                parse_prefix(&prefix)?,
                backend::memory(&name),
            ),
            Location::S3 { bucket, prefix } => {
                let canonical = with_prefix(format!("s3://{bucket}"), &prefix);
                let built = backend::s3(&canonical, &bucket, opts)?;
                (canonical, parse_prefix(&prefix)?, built)
            }
        };
        Ok(Store {
            inner: Arc::new(Inner {
                url: canonical,
                os,
                prefix,
                backend,
            }),
        })
    }

    /// The canonical URL: `file:///abs/path`, `s3://bucket/prefix` or `memory://name/prefix`.
    pub fn url(&self) -> &str {
        &self.inner.url
    }

    /// Whether this is a folder on this machine.
    pub fn is_local(&self) -> bool {
        matches!(self.inner.backend, Backend::Local { .. })
    }

    /// Whether this store is reached over the network.
    pub fn is_remote(&self) -> bool {
        matches!(self.inner.backend, Backend::S3)
    }

    pub(crate) fn os(&self) -> &dyn ObjectStore {
        self.inner.os.as_ref()
    }

    /// The file behind `key` when the store is a local folder.
    pub(crate) fn local_file(&self, key: &str) -> Result<Option<PathBuf>, StoreError> {
        let Backend::Local { fs, .. } = &self.inner.backend else {
            return Ok(None);
        };
        let path = self.path(key)?;
        fs.path_to_filesystem(&path)
            .map(Some)
            .map_err(|e| self.error(key, "locate", None, e))
    }

    /// The backend path of `key`, which must be a non-empty '/'-separated key without `.`/`..`.
    pub(crate) fn path(&self, key: &str) -> Result<Path, StoreError> {
        if key.trim_matches('/').is_empty() {
            return Err(self.invalid_key(key, "empty key"));
        }
        self.join(key)
    }

    fn join(&self, key: &str) -> Result<Path, StoreError> {
        let rel = Path::parse(key).map_err(|e| self.invalid_key(key, &e.to_string()))?;
        Ok(self.inner.prefix.parts().chain(rel.parts()).collect())
    }

    fn invalid_key(&self, key: &str, reason: &str) -> StoreError {
        StoreError::InvalidKey {
            store: self.inner.url.clone(),
            key: key.to_owned(),
            reason: reason.to_owned(),
        }
    }

    /// Classifies a backend error, naming this store, the key, the operation and the range.
    pub(crate) fn error(
        &self,
        key: &str,
        op: &'static str,
        range: Option<Range<u64>>,
        source: object_store::Error,
    ) -> StoreError {
        let (store, key) = (self.inner.url.clone(), key.to_owned());
        match source {
            object_store::Error::NotFound { .. } => StoreError::NotFound { store, key },
            object_store::Error::PermissionDenied { .. } | object_store::Error::Unauthenticated { .. } => {
                StoreError::AccessDenied {
                    store,
                    key,
                    source: Box::new(source),
                }
            }
            source => StoreError::Backend {
                store,
                key,
                op,
                range,
                source: Box::new(source),
            },
        }
    }

    /// Reads a whole object.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when absent; backend errors after retries.
    pub async fn get(&self, key: &str) -> Result<Bytes, StoreError> {
        let path = self.path(key)?;
        retry(|| async {
            let got = self
                .os()
                .get(&path)
                .await
                .map_err(|e| self.error(key, "get", None, e))?;
            got.bytes().await.map_err(|e| self.error(key, "get", None, e))
        })
        .await
    }

    /// Reads a whole object, `None` when absent.
    ///
    /// # Errors
    /// Backend errors after retries.
    pub async fn get_opt(&self, key: &str) -> Result<Option<Bytes>, StoreError> {
        match self.get(key).await {
            Ok(b) => Ok(Some(b)),
            Err(StoreError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Reads bytes `range` of an object.
    ///
    /// # Errors
    /// [`StoreError::InvalidRange`] when the range reaches past the end; as [`Store::get`].
    pub async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes, StoreError> {
        let mut got = self.get_ranges(key, std::slice::from_ref(&range)).await?;
        Ok(got.pop().unwrap_or_default())
    }

    /// Reads many ranges of one object: ranges closer than [`COALESCE_GAP`] are merged into one
    /// request (up to [`MAX_COALESCED`] bytes), up to [`CONCURRENCY`] requests run at once, and
    /// transient errors are retried. Results come in input order.
    ///
    /// # Errors
    /// [`StoreError::InvalidRange`] naming the first input range past the end; as [`Store::get`].
    pub async fn get_ranges(&self, key: &str, ranges: &[Range<u64>]) -> Result<Vec<Bytes>, StoreError> {
        let path = self.path(key)?;
        if let Some(bad) = ranges.iter().find(|r| r.start > r.end) {
            return Err(self.range_error(key, bad.clone(), None));
        }
        let plan = coalesce(ranges, COALESCE_GAP, MAX_COALESCED);
        let fetched: Vec<Bytes> = futures::stream::iter(plan.fetches.iter().cloned())
            .map(|r| self.fetch_range(key, &path, r))
            .buffered(CONCURRENCY)
            .try_collect()
            .await
            .map_err(|e| match e {
                // Name the caller's range, not the coalesced request.
                StoreError::InvalidRange {
                    size: Some(size),
                    range,
                    ..
                } => {
                    let first = ranges.iter().find(|r| r.end > size).cloned().unwrap_or(range);
                    self.range_error(key, first, Some(size))
                }
                e => e,
            })?;
        // Every fetch returned exactly its length and pieces lie within their fetch (see `coalesce`).
        Ok(ranges
            .iter()
            .zip(plan.pieces)
            .map(|(r, piece)| match piece {
                Some((i, off)) => fetched[i].slice(off as usize..(off + r.end - r.start) as usize),
                None => Bytes::new(),
            })
            .collect())
    }

    fn range_error(&self, key: &str, range: Range<u64>, size: Option<u64>) -> StoreError {
        StoreError::InvalidRange {
            store: self.inner.url.clone(),
            key: key.to_owned(),
            range,
            size,
        }
    }

    /// One request; a short answer or a failure past the end of the object is an `InvalidRange`.
    async fn fetch_range(&self, key: &str, path: &Path, range: Range<u64>) -> Result<Bytes, StoreError> {
        retry(|| async {
            match self.os().get_range(path, range.clone()).await {
                Ok(b) if b.len() as u64 == range.end - range.start => Ok(b),
                Ok(_) => {
                    let size = self.os().head(path).await.ok().map(|m| m.size);
                    Err(self.range_error(key, range.clone(), size))
                }
                Err(e) => {
                    let err = self.error(key, "get", Some(range.clone()), e);
                    if err.is_transient()
                        && let Ok(meta) = self.os().head(path).await
                        && range.end > meta.size
                    {
                        return Err(self.range_error(key, range.clone(), Some(meta.size)));
                    }
                    Err(err)
                }
            }
        })
        .await
    }

    /// The size of an object in bytes.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when absent.
    pub async fn size(&self, key: &str) -> Result<u64, StoreError> {
        let path = self.path(key)?;
        retry(|| async {
            self.os()
                .head(&path)
                .await
                .map(|m| m.size)
                .map_err(|e| self.error(key, "head", None, e))
        })
        .await
    }

    /// Writes a whole object atomically: readers see the old object or the new one, never a part.
    /// Parent "folders" are created as needed.
    ///
    /// # Errors
    /// Backend errors.
    pub async fn put(&self, key: &str, data: Bytes) -> Result<(), StoreError> {
        let path = self.path(key)?;
        self.os()
            .put(&path, PutPayload::from(data))
            .await
            .map_err(|e| self.error(key, "put", None, e))?;
        Ok(())
    }

    /// Creates an object only if the key is absent: `Ok(false)` when it exists (nothing written).
    ///
    /// Local folders use a hard link (atomic); memory stores are atomic; S3 sends
    /// `If-None-Match: *`, which AWS S3 and s3s-fs honour (s3s-fs checks, then writes: two
    /// simultaneous creators may both succeed); a server that ignores the header overwrites.
    ///
    /// # Errors
    /// Backend errors.
    pub async fn put_new(&self, key: &str, data: Bytes) -> Result<bool, StoreError> {
        let path = self.path(key)?;
        match self
            .os()
            .put_opts(&path, PutPayload::from(data), PutMode::Create.into())
            .await
        {
            Ok(_) => Ok(true),
            Err(object_store::Error::AlreadyExists { .. }) => Ok(false),
            Err(e) => Err(self.error(key, "put_new", None, e)),
        }
    }

    /// Lists the objects under `prefix`, in whole '/'-separated segments (`a/b` lists `a/b/c`,
    /// not `a/bc`; `""` lists the whole store), sorted by key.
    ///
    /// # Errors
    /// Backend errors after retries.
    pub async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StoreError> {
        let dir = self.join(prefix)?;
        let metas: Vec<object_store::ObjectMeta> = retry(|| async {
            match self.os().list(Some(&dir)).try_collect().await {
                Ok(v) => Ok(v),
                // A local folder that does not exist yet holds no objects.
                Err(object_store::Error::NotFound { .. }) => Ok(Vec::new()),
                Err(e) => Err(self.error(prefix, "list", None, e)),
            }
        })
        .await?;
        let mut out: Vec<ObjectInfo> = metas
            .into_iter()
            .filter_map(|m| {
                let rel: Vec<String> = m
                    .location
                    .prefix_match(&self.inner.prefix)?
                    .map(|p| p.as_ref().to_owned())
                    .collect();
                Some(ObjectInfo {
                    key: rel.join("/"),
                    size: m.size,
                })
            })
            .collect();
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    /// The '/'-separated "folders" directly under `prefix` (keys relative to the store, sorted),
    /// without listing what is inside them.
    ///
    /// # Errors
    /// Backend errors after retries.
    pub async fn list_dirs(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let dir = self.join(prefix)?;
        let listing = retry(|| async {
            match self.os().list_with_delimiter(Some(&dir)).await {
                Ok(v) => Ok(Some(v)),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(self.error(prefix, "list", None, e)),
            }
        })
        .await?;
        let mut out: Vec<String> = listing
            .map(|l| l.common_prefixes)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|p| {
                let rel: Vec<String> = p
                    .prefix_match(&self.inner.prefix)?
                    .map(|x| x.as_ref().to_owned())
                    .collect();
                Some(rel.join("/"))
            })
            .collect();
        out.sort();
        Ok(out)
    }

    /// Deletes an object; deleting an absent key is not an error.
    ///
    /// # Errors
    /// Backend errors.
    pub async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let path = self.path(key)?;
        match self.os().delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.error(key, "delete", None, e)),
        }
    }
}

/// Appends a non-empty key prefix to a store root URL.
fn with_prefix(root: String, prefix: &str) -> String {
    if prefix.is_empty() {
        root
    } else {
        format!("{root}/{prefix}")
    }
}

/// Runs `op` until it succeeds, fails for good, or [`READ_ATTEMPTS`] transient failures.
async fn retry<T, F, Fut>(mut op: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, StoreError>>,
{
    let mut attempt = 1;
    loop {
        match op().await {
            Err(e) if e.is_transient() && attempt < READ_ATTEMPTS => {
                tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}
