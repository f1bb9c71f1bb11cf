const MIB: f64 = 1024.0 * 1024.0;

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
    /// The selection does not fit the memory budget of an output that needs it whole (JSON).
    #[error(
        "the selection holds {:.1} MiB of values, more than the memory budget of {:.1} MiB; \
         write it to .nc, .zarr or .csv, which stream block by block, or raise the budget",
        *need as f64 / MIB, *limit as f64 / MIB
    )]
    TooLarge {
        /// Bytes the values take.
        need: usize,
        /// The budget, in bytes.
        limit: usize,
    },
    /// The selection holds no values.
    #[error("the selection is empty: {0}")]
    Empty(String),
}
