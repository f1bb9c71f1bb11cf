//! Building the `object_store` backend behind a [`Store`](crate::Store) from its location.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::{ObjectStore, RetryConfig};

use crate::{S3Options, StoreError};

/// The kind of backend, with what the store needs beyond the `ObjectStore` trait.
#[derive(Debug)]
pub(crate) enum Backend {
    /// A folder; `fs` is rooted at `/`, the folder is the store's key prefix.
    Local {
        fs: LocalFileSystem,
    },
    Memory,
    S3,
}

/// A local folder needs no I/O to open: the folder is created by the first write.
pub(crate) fn local() -> (Arc<dyn ObjectStore>, Backend) {
    let fs = LocalFileSystem::new();
    (Arc::new(fs.clone()), Backend::Local { fs })
}

/// The same in-memory store for every open of one name in this process.
pub(crate) fn memory(name: &str) -> (Arc<dyn ObjectStore>, Backend) {
    static STORES: OnceLock<Mutex<HashMap<String, Arc<InMemory>>>> = OnceLock::new();
    let stores = STORES.get_or_init(Default::default);
    // A poisoned lock only means another thread panicked while inserting: the map is still valid.
    let mut stores = stores.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let store = stores
        .entry(name.to_owned())
        .or_insert_with(|| Arc::new(InMemory::new()));
    (Arc::clone(store) as Arc<dyn ObjectStore>, Backend::Memory)
}

/// An S3 bucket, path-style, with credentials from `opts` (unsigned requests without any).
pub(crate) fn s3(
    url: &str,
    bucket: &str,
    opts: &S3Options,
) -> Result<(Arc<dyn ObjectStore>, Backend), StoreError> {
    let retry = RetryConfig {
        max_retries: opts.max_retries,
        retry_timeout: opts.retry_timeout,
        ..Default::default()
    };
    let mut builder = AmazonS3Builder::new()
        .with_bucket_name(bucket)
        .with_region(opts.region.as_deref().unwrap_or("us-east-1"))
        .with_allow_http(opts.http_allowed())
        .with_virtual_hosted_style_request(false)
        .with_retry(retry);
    if let Some(endpoint) = &opts.endpoint {
        builder = builder.with_endpoint(endpoint);
    }
    let missing = |detail: &str| StoreError::MissingCredentials {
        store: url.to_owned(),
        detail: detail.to_owned(),
    };
    builder = match (&opts.access_key_id, &opts.secret_access_key) {
        (Some(id), Some(secret)) => {
            let b = builder.with_access_key_id(id).with_secret_access_key(secret);
            match &opts.session_token {
                Some(token) => b.with_token(token),
                None => b,
            }
        }
        (None, None) => builder.with_skip_signature(true),
        (Some(_), None) => {
            return Err(missing(
                "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not",
            ));
        }
        (None, Some(_)) => {
            return Err(missing(
                "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not",
            ));
        }
    };
    let s3 = builder.build().map_err(|e| StoreError::InvalidUrl {
        url: url.to_owned(),
        reason: format!("cannot configure the S3 client: {e}"),
    })?;
    Ok((Arc::new(s3), Backend::S3))
}
