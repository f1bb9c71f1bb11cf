//! Compare-and-swap of one small object: what an atomic, versioned publish switches last.

use std::path::PathBuf;

use bytes::Bytes;
use object_store::{ObjectStoreExt, PutMode, PutPayload, UpdateVersion};

use crate::{Store, StoreError};

/// The outcome of [`Store::swap`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum Swap {
    /// Written. `version` is the new version token when the backend returned one (pass it as
    /// `expected` to the next swap); `None` means: read it back with [`Store::get_versioned`].
    Done {
        /// The new version token.
        version: Option<String>,
    },
    /// Not written: the object is not at the expected version (someone else published first).
    Conflict,
}

/// An object's bytes and the version token that [`Store::swap`] expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned {
    /// The object's bytes.
    pub data: Bytes,
    /// Its version token (an ETag), when the backend has one.
    pub version: Option<String>,
}

impl Store {
    /// Reads an object together with its version token (`None` when absent). The token and the
    /// bytes come from the same response, so they match.
    ///
    /// # Errors
    /// Backend errors.
    pub async fn get_versioned(&self, key: &str) -> Result<Option<Versioned>, StoreError> {
        let path = self.path(key)?;
        let got = match self.os().get(&path).await {
            Ok(got) => got,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(self.error(key, "get", None, e)),
        };
        let version = got.meta.e_tag.clone();
        let data = got.bytes().await.map_err(|e| self.error(key, "get", None, e))?;
        Ok(Some(Versioned { data, version }))
    }

    /// Writes `data` as `key` only if the object is still at version `expected` (a token from
    /// [`Store::get_versioned`] or a previous swap), or, with `expected = None`, only if the key
    /// is absent. The write itself is atomic ([`Store::put`]).
    ///
    /// How each backend guarantees it:
    /// - memory: atomic compare-and-swap;
    /// - local folder: an exclusive `flock` on the object's folder around check-and-rename (it
    ///   excludes other `swap` calls, in this or other processes, not plain `put`s); Unix only;
    /// - S3: `If-Match`/`If-None-Match` conditional puts. AWS S3 honours them atomically; s3s-fs
    ///   0.14 honours them but checks and then writes, so two simultaneous swaps may both
    ///   succeed; a server that ignores the headers degrades to last-writer-wins.
    ///
    /// # Errors
    /// Backend errors (for a local folder on a non-Unix system, always).
    pub async fn swap(&self, key: &str, expected: Option<&str>, data: Bytes) -> Result<Swap, StoreError> {
        let path = self.path(key)?;
        let Some(expected) = expected else {
            return match self
                .os()
                .put_opts(&path, PutPayload::from(data), PutMode::Create.into())
                .await
            {
                Ok(done) => Ok(Swap::Done { version: done.e_tag }),
                Err(object_store::Error::AlreadyExists { .. }) => Ok(Swap::Conflict),
                Err(e) => Err(self.error(key, "swap", None, e)),
            };
        };
        if let Some(file) = self.local_file(key)? {
            return self.swap_local(key, expected, data, file).await;
        }
        let mode = PutMode::Update(UpdateVersion {
            e_tag: Some(expected.to_owned()),
            version: None,
        });
        match self
            .os()
            .put_opts(&path, PutPayload::from(data), mode.into())
            .await
        {
            Ok(done) => Ok(Swap::Done { version: done.e_tag }),
            Err(object_store::Error::Precondition { .. } | object_store::Error::NotFound { .. }) => {
                Ok(Swap::Conflict)
            }
            Err(e) => Err(self.error(key, "swap", None, e)),
        }
    }

    /// Local folders have no conditional overwrite: lock the folder, compare, then rename.
    async fn swap_local(
        &self,
        key: &str,
        expected: &str,
        data: Bytes,
        file: PathBuf,
    ) -> Result<Swap, StoreError> {
        let dir = file.parent().map(PathBuf::from).unwrap_or_default();
        let lock_err = |e: std::io::Error| {
            let source = object_store::Error::Generic {
                store: "LocalFileSystem",
                source: Box::new(e),
            };
            self.error(key, "lock folder of", None, source)
        };
        let _lock = lock_dir(dir).await.map_err(lock_err)?;
        let current = self.get_versioned(key).await?.and_then(|v| v.version);
        if current.as_deref() != Some(expected) {
            return Ok(Swap::Conflict);
        }
        let path = self.path(key)?;
        let done = self
            .os()
            .put(&path, PutPayload::from(data))
            .await
            .map_err(|e| self.error(key, "swap", None, e))?;
        Ok(Swap::Done { version: done.e_tag })
    }
}

/// Takes an exclusive lock on a folder (released when the returned handle is dropped).
#[cfg(unix)]
async fn lock_dir(dir: PathBuf) -> std::io::Result<std::fs::File> {
    tokio::task::spawn_blocking(move || {
        std::fs::create_dir_all(&dir)?;
        let handle = std::fs::File::open(&dir)?;
        handle.lock()?;
        Ok(handle)
    })
    .await
    .map_err(std::io::Error::other)?
}

#[cfg(not(unix))]
async fn lock_dir(_dir: PathBuf) -> std::io::Result<std::fs::File> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "folder locks need a Unix system",
    ))
}
