//! The one error type of the crate: every variant names the store and the key.

use std::fmt;
use std::ops::Range;
use std::path::PathBuf;

/// What went wrong with a store operation, where, and what to do about it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The store URL cannot be understood.
    #[error(
        "invalid store URL {url:?}: {reason} (use a local path, file:///abs/path, s3://bucket/prefix or memory://name)"
    )]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// Why it was refused.
        reason: String,
    },
    /// The key is not a valid '/'-separated object key.
    #[error("invalid key {key:?} in store {store}: {reason}")]
    InvalidKey {
        /// Store URL.
        store: String,
        /// The key as given.
        key: String,
        /// Why it was refused.
        reason: String,
    },
    /// No object under this key.
    #[error("object {key:?} not found in store {store}")]
    NotFound {
        /// Store URL.
        store: String,
        /// Key relative to the store.
        key: String,
    },
    /// A byte range is empty-reversed or reaches past the end of the object.
    #[error("byte range {}..{} of object {key:?} in store {store} is outside the object ({}): \
             check the offsets against the object's size", range.start, range.end, size_text(.size))]
    InvalidRange {
        /// Store URL.
        store: String,
        /// Key relative to the store.
        key: String,
        /// The range asked for.
        range: Range<u64>,
        /// The object's size, when known.
        size: Option<u64>,
    },
    /// S3 credentials are incomplete.
    #[error(
        "incomplete S3 credentials for store {store}: {detail}; set both AWS_ACCESS_KEY_ID and \
         AWS_SECRET_ACCESS_KEY, or neither for anonymous access to a public bucket"
    )]
    MissingCredentials {
        /// Store URL.
        store: String,
        /// Which part is missing.
        detail: String,
    },
    /// The server refused the request's credentials or permissions.
    #[error(
        "access to {key:?} in store {store} denied: check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, \
         AWS_REGION and AWS_ENDPOINT_URL, and the bucket's permissions"
    )]
    AccessDenied {
        /// Store URL.
        store: String,
        /// Key relative to the store.
        key: String,
        /// The backend's error.
        source: Box<object_store::Error>,
    },
    /// A local file to upload cannot be read.
    #[error("cannot read local file {} to upload as {key:?} to store {store}: {source}", path.display())]
    LocalFile {
        /// Store URL.
        store: String,
        /// Destination key.
        key: String,
        /// The local file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Any other backend failure (network, server, file system), after retries.
    #[error(
        "{op} {key:?}{} in store {store} failed: {source} (for a remote store check the network and \
         AWS_ENDPOINT_URL; for a local one the folder's permissions and free space)",
        range_text(.range)
    )]
    Backend {
        /// Store URL.
        store: String,
        /// Key (or list prefix) relative to the store.
        key: String,
        /// The operation: "get", "put", "list", ...
        op: &'static str,
        /// The byte range of a range read.
        range: Option<Range<u64>>,
        /// The backend's error.
        source: Box<object_store::Error>,
    },
}

fn size_text(size: &Option<u64>) -> String {
    size.map_or_else(|| "size unknown".to_owned(), |s| format!("{s} bytes"))
}

fn range_text(range: &Option<Range<u64>>) -> RangeText<'_> {
    RangeText(range)
}

struct RangeText<'a>(&'a Option<Range<u64>>);

impl fmt::Display for RangeText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(r) => write!(f, " (bytes {}..{})", r.start, r.end),
            None => Ok(()),
        }
    }
}

impl StoreError {
    /// Whether retrying the same request may succeed (network hiccups, server errors).
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Backend { source, .. } => matches!(
                **source,
                object_store::Error::Generic { .. } | object_store::Error::JoinError { .. }
            ),
            _ => false,
        }
    }
}
