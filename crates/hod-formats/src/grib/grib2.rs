//! GRIB edition 2: section layout and header metadata (sections 0–6; never section 7's data).

use super::bytes::Bytes;
use super::grid::{Grid, GridKind};
use super::{Fetch, Field, Param, civil_seconds, hours_of};
use crate::FormatError;
use hod_core::Format;

/// Where a GRIB2 message's sections are, relative to the message start.
pub(super) struct Layout {
    pub total_len: u64,
    pub discipline: u8,
    /// `(number, offset, length)` of sections 1 to 7, in order.
    pub sections: Vec<(u8, u64, u64)>,
}

impl Layout {
    pub fn section(&self, num: u8) -> Option<(u64, u64)> {
        self.sections.iter().find(|s| s.0 == num).map(|s| (s.1, s.2))
    }
}

/// Walks the section headers of the message at file offset `base` (`avail` bytes left).
///
/// # Errors
/// Unsupported for a message holding several fields (sections 2–7 repeated): one field per
/// message is what makes a message one chunk.
pub(super) fn layout(fetch: Fetch<'_>, base: u64, avail: u64) -> Result<Layout, FormatError> {
    let corrupt = |off: u64, what: String| FormatError::Corrupt {
        format: Format::Grib2,
        offset: base + off,
        what,
    };
    let is = fetch(0, 16)?;
    let total_len = is[8..16].iter().fold(0u64, |a, &b| (a << 8) | u64::from(b));
    if total_len > avail {
        return Err(FormatError::Truncated {
            format: Format::Grib2,
            needed: base.saturating_add(total_len),
            size: base + avail,
        });
    }
    let mut sections = Vec::new();
    let mut off = 16u64;
    loop {
        if off + 4 > total_len {
            return Err(corrupt(off, "message ends without its 7777 end section".into()));
        }
        let head = fetch(off, 5.min(total_len - off))?;
        if head.starts_with(b"7777") {
            break;
        }
        if head.len() < 5 {
            return Err(corrupt(off, "truncated section header".into()));
        }
        let len = u64::from(u32::from_be_bytes([head[0], head[1], head[2], head[3]]));
        let num = head[4];
        if len < 5 || off + len > total_len || !(1..=7).contains(&num) {
            return Err(corrupt(off, format!("bad section {num} of length {len}")));
        }
        if sections.iter().any(|s: &(u8, u64, u64)| s.0 == num) {
            return Err(FormatError::Unsupported {
                format: Format::Grib2,
                what: format!("message at byte {base} holds several fields (section {num} repeats)"),
            });
        }
        sections.push((num, off, len));
        off += len;
    }
    for num in [1, 3, 4, 5, 6, 7] {
        if !sections.iter().any(|s| s.0 == num) {
            return Err(corrupt(16, format!("section {num} is missing")));
        }
    }
    Ok(Layout {
        total_len,
        discipline: is[6],
        sections,
    })
}

/// GRIB2 fixed-surface types (code table 4.5) as ecCodes' `typeOfLevel`, given whether a second
/// surface is present (a layer).
fn level_type(first: u8, second: u8) -> String {
    let layer = second != 255;
    let name = match (first, layer) {
        (1, _) => "surface",
        (2, _) => "cloudBase",
        (3, _) => "cloudTop",
        (4, _) => "isothermZero",
        (6, _) => "maxWind",
        (7, _) => "tropopause",
        (8, _) => "nominalTop",
        (9, _) => "seaBottom",
        (10, _) => "entireAtmosphere",
        (20, _) => "isothermal",
        (100, false) => "isobaricInhPa",
        (100, true) => "isobaricLayer",
        (101, _) => "meanSea",
        (102, false) => "heightAboveSea",
        (102, true) => "heightAboveSeaLayer",
        (103, false) => "heightAboveGround",
        (103, true) => "heightAboveGroundLayer",
        (104, false) => "sigma",
        (104, true) => "sigmaLayer",
        (105, false) => "hybrid",
        (105, true) => "hybridLayer",
        (106, false) => "depthBelowLand",
        (106, true) => "depthBelowLandLayer",
        (107, false) => "theta",
        (107, true) => "thetaLayer",
        (108, false) => "pressureFromGround",
        (108, true) => "pressureFromGroundLayer",
        (109, _) => "potentialVorticity",
        (114, _) => "snowLayer",
        (151, _) => "soil",
        (160, _) => "depthBelowSea",
        (200, _) => "atmosphereSingleLayer",
        (201, _) => "oceanSingleLayer",
        (204, _) => "highestTroposphericFreezing",
        (211, _) => "boundaryLayerCloudLayer",
        (212, _) => "lowCloudBottom",
        (213, _) => "lowCloudTop",
        (214, _) => "lowCloudLayer",
        (220, _) => "planetaryBoundaryLayer",
        (222, _) => "middleCloudBottom",
        (223, _) => "middleCloudTop",
        (224, _) => "middleCloudLayer",
        (232, _) => "highCloudBottom",
        (233, _) => "highCloudTop",
        (234, _) => "highCloudLayer",
        (241, _) => "orderedSequenceData",
        (242, _) => "convectiveCloudBottom",
        (243, _) => "convectiveCloudTop",
        (244, _) => "convectiveCloudLayer",
        _ => return format!("level{first}"),
    };
    name.to_string()
}

/// ecCodes' `level` of the first fixed surface: the scaled value divided by ten `scale` times
/// (that order of operations gives the same doubles), hPa for pressure, unscaled for PV.
fn level_value(kind: u8, scale: u8, value: u32) -> f64 {
    if value == u32::MAX {
        return 0.0;
    }
    let mut v = f64::from(value);
    if kind != 109 && scale != 255 {
        let s = i32::from(scale as i8);
        for _ in 0..s.max(0) {
            v /= 10.0;
        }
        for _ in 0..(-s).max(0) {
            v *= 10.0;
        }
    }
    if kind == 100 { v / 100.0 } else { v }
}

/// ecCodes' `stepType` for a statistical process (code table 4.10).
fn stat_step_type(code: u8) -> &'static str {
    match code {
        0 => "avg",
        1 => "accum",
        2 => "max",
        3 => "min",
        4 | 8 => "diff",
        5 => "rms",
        6 => "sd",
        7 => "cov",
        9 => "ratio",
        // 255 (missing): ecCodes calls the product instantaneous.
        _ => "instant",
    }
}

/// Metadata of one message from sections 1, 3 and 4.
pub(super) fn field(
    discipline: u8,
    s1: Bytes<'_>,
    s3: Bytes<'_>,
    s4: Bytes<'_>,
) -> Result<Field, FormatError> {
    let ref_time = civil_seconds(
        i64::from(s1.u16(12)?),
        s1.u8(14)?,
        s1.u8(15)?,
        s1.u8(16)?,
        s1.u8(17)?,
        s1.u8(18)?,
    )
    .ok_or_else(|| s1.corrupt(12, "invalid reference time"))?;
    let pdt = s4.u16(7)?;
    // Offsets past template 4.0's 34 bytes: ensemble fields, then the statistical block.
    let (ens, stat) = match pdt {
        0 => (None, None),
        1 => (Some(34), None),
        8 => (None, Some(34)),
        11 => (Some(34), Some(37)),
        t => return Err(s4.unsupported(format!("product definition template 4.{t}"))),
    };
    let (kind, scale, value) = (s4.u8(22)?, s4.u8(23)?, s4.u32(24)?);
    let second = s4.u8(28)?;
    let unit = s4.u8(17)?;
    let forecast = i64::from(s4.u32(18)?);
    let (step_type, end, stat_code) = match stat {
        None => ("instant", forecast, None),
        Some(p) => {
            // The first time range; its length is added in its own unit.
            let code = s4.u8(p + 12)?;
            let (range_unit, range) = (s4.u8(p + 14)?, i64::from(s4.u32(p + 15)?));
            let range_h = hours_of(range_unit, range, Format::Grib2)
                .ok_or_else(|| s4.unsupported(format!("time unit {range_unit}")))?;
            let start_h = hours_of(unit, forecast, Format::Grib2)
                .ok_or_else(|| s4.unsupported(format!("time unit {unit}")))?;
            return finish(
                discipline,
                s3,
                s4,
                ref_time,
                (stat_step_type(code), start_h, start_h + range_h, Some(code)),
                (kind, scale, value, second),
                ens,
            );
        }
    };
    let hours =
        hours_of(unit, end, Format::Grib2).ok_or_else(|| s4.unsupported(format!("time unit {unit}")))?;
    finish(
        discipline,
        s3,
        s4,
        ref_time,
        (step_type, hours, hours, stat_code),
        (kind, scale, value, second),
        ens,
    )
}

fn finish(
    discipline: u8,
    s3: Bytes<'_>,
    s4: Bytes<'_>,
    ref_time: i64,
    (step_type, start_hours, step_hours, stat_code): (&'static str, f64, f64, Option<u8>),
    (kind, scale, value, second): (u8, u8, u32, u8),
    ens: Option<usize>,
) -> Result<Field, FormatError> {
    let level = level_value(kind, scale, value);
    // Name variants in the order ecCodes' concepts prefer them: statistical process, level.
    let mut variants = Vec::new();
    if let Some(k @ 0..=3) = stat_code {
        variants.push(format!("s{k}/l{kind}"));
        variants.push(format!("s{k}"));
    }
    if kind == 103 && second == 255 && (level == 2.0 || level == 10.0) {
        variants.push(format!("h{level}"));
    } else {
        variants.push(format!("l{kind}"));
    }
    let number = ens.map(|p| s4.u8(p + 1).map(i64::from)).transpose()?;
    Ok(Field {
        param: Param::Grib2 {
            discipline,
            category: s4.u8(9)?,
            number: s4.u8(10)?,
            variants,
        },
        type_of_level: level_type(kind, second),
        level,
        step_type,
        step_hours,
        start_hours,
        ref_time,
        number,
        grid: grid(s3)?,
    })
}

fn grid(s3: Bytes<'_>) -> Result<Grid, FormatError> {
    if s3.u8(5)? != 0 || s3.u8(10)? != 0 {
        return Err(s3.unsupported("grid defined by a predefined number or with a list of points per row"));
    }
    let kind = match s3.u16(12)? {
        0 => GridKind::RegularLl,
        40 => GridKind::RegularGg { n: s3.u32(67)? },
        t => return Err(s3.unsupported(format!("grid definition template 3.{t}"))),
    };
    let (ni, nj) = (s3.u32(30)?, s3.u32(34)?);
    if ni == u32::MAX || nj == u32::MAX || ni == 0 || nj == 0 {
        return Err(s3.unsupported("reduced grid (Ni or Nj missing)"));
    }
    let (basic, sub) = (s3.u32(38)?, s3.u32(42)?);
    let unit = if basic == 0 || basic == u32::MAX || sub == 0 || sub == u32::MAX {
        1e-6
    } else {
        f64::from(basic) / f64::from(sub)
    };
    let deg = |pos| -> Result<f64, FormatError> {
        let v = s3.signed(pos, 4)? as f64;
        Ok(if unit == 1e-6 { v / 1_000_000.0 } else { v * unit })
    };
    let (lat_first, lat_last) = (deg(46)?, deg(55)?);
    let dj = match kind {
        GridKind::RegularLl if s3.u8(54)? & 0x10 != 0 => deg(67)?.abs(),
        _ => (lat_first - lat_last).abs() / f64::from(nj.max(2) - 1),
    };
    Ok(Grid {
        kind,
        ni,
        nj,
        lat_first,
        lon_first: deg(50)?,
        lat_last,
        lon_last: deg(59)?,
        dj,
        scan: s3.u8(71)?,
    })
}
