/// A selection could not be planned or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// Reading the dataset failed.
    #[error(transparent)]
    Index(#[from] hod_index::IndexError),
    /// The request is not valid for this dataset (unknown variable, bad bbox or time).
    #[error("{0}")]
    Invalid(String),
    /// The selection holds no values.
    #[error("the selection is empty: {0}")]
    Empty(String),
    /// Writing an output file or directory failed.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file or directory being written.
        path: std::path::PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}
