//! Object stores for hydro-opendata: one [`Store`] handle over a local folder (the default), an
//! S3-compatible bucket or a process-wide memory store, chosen by URL.
//!
//! It adds to `object_store` what the other crates need: keys relative to a store URL, errors
//! that name the store, key and byte range ([`StoreError`]), coalesced concurrent range reads
//! with retries ([`Store::get_ranges`]), streamed uploads of big files ([`Store::put_file`]),
//! create-only and compare-and-swap puts for an atomic publish ([`Store::put_new`],
//! [`Store::swap`]; see `docs/design/store.md`), and a synchronous, block-caching reader for
//! the format scanners ([`ObjectReader`]).
//!
//! Feature `conformance`: the backend conformance suite (`conformance`) and a loopback S3
//! server for tests (`testing::S3Server`, runs `s3s-fs`), for this and other crates' tests.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), hod_store::StoreError> {
//! use hod_store::Store;
//! let store = Store::open("memory://doc-example")?;
//! store.put("era5/2020.nc", "CDF\x01...".into()).await?;
//! assert_eq!(store.get_range("era5/2020.nc", 0..3).await?, "CDF");
//! assert_eq!(store.list("era5").await?[0].key, "era5/2020.nc");
//! # Ok(()) }
//! ```

mod backend;
mod config;
mod error;
mod ranges;
mod reader;
mod store;
mod swap;
mod upload;

#[cfg(feature = "conformance")]
pub mod conformance;
#[cfg(feature = "conformance")]
pub mod testing;

pub use config::S3Options;
pub use error::StoreError;
pub use ranges::{COALESCE_GAP, CONCURRENCY, MAX_COALESCED};
pub use reader::{BLOCK_SIZE, ObjectReader};
pub use store::{ObjectInfo, Store};
pub use swap::{Swap, Versioned};
pub use upload::MULTIPART_THRESHOLD;

/// Resolves the URL of one object outside any store (a local path, `file:///…`,
/// `s3://bucket/key`, `memory://name/key`) into the store of its root (the bucket, the memory
/// store, or `/` for local files) and the key in it.
///
/// # Errors
/// [`StoreError::InvalidUrl`] when the URL names no object (e.g. `s3://bucket`); as [`Store::open`].
pub fn resolve(url: &str) -> Result<(Store, String), StoreError> {
    let invalid = |reason: &str| StoreError::InvalidUrl {
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    let (root, key) = match config::Location::parse(url)? {
        config::Location::Local(path) => {
            let key = path
                .to_str()
                .ok_or_else(|| invalid("the path is not valid UTF-8"))?;
            ("/".to_owned(), key.trim_start_matches('/').to_owned())
        }
        config::Location::Memory { name, prefix } => (format!("memory://{name}"), prefix),
        config::Location::S3 { bucket, prefix } => (format!("s3://{bucket}"), prefix),
    };
    if key.is_empty() {
        return Err(invalid("the URL names a store root, not an object"));
    }
    Ok((Store::open(&root)?, key))
}
