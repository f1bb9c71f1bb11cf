//! Scanner for hdf5 files (to be written).

use crate::{FormatError, ReadAt};
use hod_core::{Format, ScannedFile};

/// Scans a hdf5 file.
///
/// # Errors
/// Not implemented yet.
pub fn scan(_src: &dyn ReadAt) -> Result<ScannedFile, FormatError> {
    Err(FormatError::Unsupported {
        format: Format::Netcdf3,
        what: "scanner not written yet".into(),
    })
}
