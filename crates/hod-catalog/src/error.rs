/// A profile, catalog or search operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CatalogError {
    /// A profile file does not follow the schema.
    #[error("profile file {file}: {what}")]
    Profile {
        /// The file (`catalog/NAME.toml`).
        file: String,
        /// What is wrong.
        what: String,
    },
    /// No profile of that name.
    #[error("no profile named '{name}' (run `hod catalog profiles`; known: {known})")]
    NoProfile {
        /// Requested name.
        name: String,
        /// Names that exist.
        known: String,
    },
    /// The dataset index failed.
    #[error(transparent)]
    Index(#[from] hod_index::IndexError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] hod_store::StoreError),
    /// A STAC document in the store is malformed.
    #[error("corrupt STAC document {key}: {what}")]
    Corrupt {
        /// Store key.
        key: String,
        /// What is wrong.
        what: String,
    },
    /// A coordinate reference system cannot be used.
    #[error("{0}")]
    Crs(String),
    /// Invalid request.
    #[error("{0}")]
    Invalid(String),
}
