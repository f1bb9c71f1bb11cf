//! Scanner for GRIB1 and GRIB2 files (to be written).

use crate::{FormatError, ReadAt};
use hod_core::{Format, ScannedFile};

/// Scans a GRIB file, using a wgrib2 `.idx` inventory when given.
///
/// # Errors
/// Not implemented yet.
pub fn scan(_src: &dyn ReadAt, _idx: Option<&str>) -> Result<ScannedFile, FormatError> {
    Err(FormatError::Unsupported {
        format: Format::Grib2,
        what: "scanner not written yet".into(),
    })
}
