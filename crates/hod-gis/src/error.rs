/// What went wrong in a GIS computation or while reading/writing its inputs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GisError {
    /// A grid or vector input could not be parsed.
    #[error("{what}: {message}")]
    Parse {
        /// The input (file name or kind).
        what: String,
        /// What is wrong, and where (line, byte offset).
        message: String,
    },
    /// A raster file could not be read through the format scanners.
    #[error("{what}: {source}")]
    Format {
        /// The input.
        what: String,
        /// The scanner's or decoder's error.
        source: hod_formats::FormatError,
    },
    /// Arguments that cannot work together (mismatched grids, an outlet outside the grid, ...).
    #[error("{0}")]
    Invalid(String),
}
