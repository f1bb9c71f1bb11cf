/// A dataset could not be built, published, opened or exported.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IndexError {
    /// A source file could not be scanned or decoded.
    #[error("{url}: {error}")]
    Format {
        /// The source object.
        url: String,
        /// What went wrong in it (part of the message, so not repeated as a source).
        error: hod_formats::FormatError,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] hod_store::StoreError),
    /// Source files do not fit together.
    #[error("{url} does not match the dataset: {what}")]
    Mismatch {
        /// The first file that differs.
        url: String,
        /// How it differs.
        what: String,
    },
    /// Two files cover the same or out-of-order positions along the concat dimension.
    #[error("{first} and {second} overlap along '{dim}' (both hold {value})")]
    Overlap {
        /// Concat dimension.
        dim: String,
        /// One file.
        first: String,
        /// The other file.
        second: String,
        /// A value both hold.
        value: String,
    },
    /// No dataset of that name exists in the store.
    #[error("no dataset named '{name}' in {store} (run `hod list` to see what is there)")]
    NoDataset {
        /// Dataset name.
        name: String,
        /// Store URL.
        store: String,
    },
    /// No variable of that name in the dataset.
    #[error("dataset '{dataset}' has no variable '{name}' (it has: {available})")]
    NoVariable {
        /// Dataset name.
        dataset: String,
        /// Requested name.
        name: String,
        /// Names it has.
        available: String,
    },
    /// A manifest object is malformed.
    #[error("corrupt manifest object {key}: {what}")]
    Corrupt {
        /// Store key.
        key: String,
        /// What is wrong.
        what: String,
    },
    /// The dataset cannot be expressed in the requested format.
    #[error("cannot export: {0}")]
    Export(String),
    /// A native Zarr v3 store is malformed or uses a feature this reader does not support.
    #[error("{key}: {what}")]
    Zarr {
        /// The Zarr object (`zarr.json`, chunk or shard).
        key: String,
        /// What is wrong or unsupported.
        what: String,
    },
    /// Invalid request.
    #[error("{0}")]
    Invalid(String),
}
