//! GRIB1 and GRIB2 scanner and decoder.
//!
//! One GRIB message is one chunk ([`Codec::Grib`]): the scanner reads only each message's
//! header sections (GRIB1 IS, PDS, GDS and section lengths; GRIB2 sections 0–6, never the data
//! of section 7) and groups messages into variables the way cfgrib does. [`decode`] turns a
//! whole message into f32 values equal to cfgrib's.
//!
//! Naming and dimension rules (documented differences from cfgrib, which splits a file into
//! several datasets where we produce one):
//! - A variable's name is ecCodes' `cfVarName` as cfgrib uses it (`2t` → `t2m`, `ci` →
//!   `siconc`); unknown parameters are `p{discipline}_{category}_{number}` (GRIB2) or
//!   `p{table}_{parameter}` (GRIB1).
//! - Messages are grouped by (name, `typeOfLevel`, `stepType`). When one name occurs in several
//!   groups, every group of that name gets the suffix `_{typeOfLevel}`, and `_{stepType}` too
//!   where that is still ambiguous (`t_isobaricInhPa`, `t_surface`).
//! - Dims: `number` (if the group has several members), `time` (reference time, always), `step`
//!   (if several), the level dim named after `typeOfLevel` (if several levels), `latitude`,
//!   `longitude`. Shared coordinates are the union over the file's variables; a missing
//!   combination is an absent chunk (reads as NaN). A squeezed level is the variable attribute
//!   named after its `typeOfLevel`; a squeezed step is the attribute `step` (hours), or the 0-d
//!   `step` coordinate when the whole file has one step.
//! - Statistical variables (`stepType` other than `instant`) carry `GRIB_stepRange`: ecCodes'
//!   `stepRange` (`"0-6"`), or a list of them by step when the steps differ; it says over which
//!   period each value was accumulated (read by `hod_query::deaccumulate`).
//! - Messages on grids other than regular lat/lon or regular Gaussian, with unsupported product
//!   templates (4.0, 4.1, 4.8 and 4.11 are read), or holding several fields (GFS packs u and v
//!   in one message) are skipped; the file attribute `hod_skipped` (a JSON object, keyed by
//!   `message@{offset}` or by variable name) says which and why.

mod bytes;
mod decode;
mod grib1;
mod grib2;
mod grid;
mod idx;
mod names;
mod scan;

pub use decode::decode;
pub use idx::{IdxEntry, parse_idx};
pub use scan::scan;

use grid::Grid;
use hod_core::Format;

/// Largest grid this decoder accepts (bounds allocations on corrupt input).
const MAX_POINTS: usize = 1 << 26;

/// Reads `len` bytes at an offset relative to the message start, exactly or an error.
type Fetch<'a> = &'a mut dyn FnMut(u64, u64) -> Result<Vec<u8>, crate::FormatError>;

/// Parameter identity of a message.
#[derive(Debug, Clone, PartialEq)]
enum Param {
    Grib1 {
        table: u8,
        number: u8,
    },
    Grib2 {
        discipline: u8,
        category: u8,
        number: u8,
        /// Name-table keys more specific than the parameter, most specific first.
        variants: Vec<String>,
    },
}

/// What the scanner needs from one message's headers.
#[derive(Debug, Clone)]
struct Field {
    param: Param,
    type_of_level: String,
    level: f64,
    step_type: &'static str,
    /// End of the forecast step (ecCodes' `endStep`), hours.
    step_hours: f64,
    /// Start of the statistical period (ecCodes' `startStep`), hours; `step_hours` when instant.
    start_hours: f64,
    /// Reference time, seconds since 1970-01-01.
    ref_time: i64,
    /// Ensemble member, when the product says.
    number: Option<i64>,
    grid: Grid,
}

/// Seconds since 1970-01-01 of a proleptic Gregorian date-time, if valid.
fn civil_seconds(y: i64, m: u8, d: u8, h: u8, mi: u8, s: u8) -> Option<i64> {
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || h > 24 || mi > 59 || s > 60 {
        return None;
    }
    // Howard Hinnant's days_from_civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(s))
}

/// A time value in a GRIB time unit (code table 4 / 4.4) as hours.
fn hours_of(unit: u8, value: i64, format: Format) -> Option<f64> {
    let v = value as f64;
    Some(match (unit, format) {
        (0, _) => v / 60.0,
        (1, _) => v,
        (2, _) => v * 24.0,
        (10, _) => v * 3.0,
        (11, _) => v * 6.0,
        (12, _) => v * 12.0,
        (13, Format::Grib2) | (254, Format::Grib1) => v / 3600.0,
        (13, _) => v / 4.0,
        (14, _) => v / 2.0,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_seconds(1970, 1, 1, 0, 0, 0), Some(0));
        assert_eq!(civil_seconds(2019, 3, 1, 0, 0, 0), Some(1_551_398_400));
        assert_eq!(civil_seconds(2019, 13, 1, 0, 0, 0), None);
    }
}
