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
    /// An output file or directory could not be written (the I/O error is its source).
    #[error("cannot write {}", path.display())]
    Write {
        /// The file being written.
        path: std::path::PathBuf,
        /// The I/O failure.
        source: std::io::Error,
    },
    /// The selection holds no values.
    #[error("the selection is empty: {0}")]
    Empty(String),
}
