//! GRIB edition 1: section layout, header metadata and simple-packing decode.

use super::bytes::{BitReader, Bytes, codes_power, ibm_f32};
use super::grid::{Grid, GridKind};
use super::{Fetch, Field, Param, civil_seconds, hours_of};
use crate::FormatError;
use hod_core::Format;

/// Where a GRIB1 message's sections are, relative to the message start.
pub(super) struct Layout {
    pub total_len: u64,
    pub pds: (u64, u64),
    pub gds: Option<(u64, u64)>,
    pub bms: Option<(u64, u64)>,
    pub bds: (u64, u64),
}

fn u24(b: &[u8]) -> u64 {
    b.iter().take(3).fold(0, |a, &x| (a << 8) | u64::from(x))
}

/// Walks the section headers of the message at file offset `base` (`avail` bytes left in the
/// file), reading only the length fields and the PDS flags.
pub(super) fn layout(fetch: Fetch<'_>, base: u64, avail: u64) -> Result<Layout, FormatError> {
    let corrupt = |off: u64, what: String| FormatError::Corrupt {
        format: Format::Grib1,
        offset: base + off,
        what,
    };
    let is = fetch(0, 8)?;
    let mut total_len = u24(&is[4..7]);
    let pds_head = fetch(8, 8)?;
    let pds_len = u24(&pds_head);
    if pds_len < 28 {
        return Err(corrupt(8, format!("PDS length {pds_len} is below 28")));
    }
    let flags = pds_head[7];
    let mut off = 8 + pds_len;
    let mut section = |present: bool, off: &mut u64| -> Result<Option<(u64, u64)>, FormatError> {
        if !present {
            return Ok(None);
        }
        let len = u24(&fetch(*off, 3)?);
        if len < 3 {
            return Err(corrupt(*off, format!("section length {len} is too small")));
        }
        let s = (*off, len);
        *off += len;
        Ok(Some(s))
    };
    let gds = section(flags & 0x80 != 0, &mut off)?;
    let bms = section(flags & 0x40 != 0, &mut off)?;
    let bds_off = off;
    let mut bds_len = u24(&fetch(bds_off, 3)?);
    if total_len & 0x80_0000 != 0 && bds_len < 120 {
        // ECMWF large-message convention: the length is in units of 120 bytes and the BDS
        // length field holds the correction.
        total_len = (total_len & 0x7f_ffff) * 120 - bds_len + 4;
        bds_len = total_len.saturating_sub(bds_off + 4);
    }
    if bds_len < 11 || bds_off + bds_len + 4 > total_len {
        return Err(corrupt(
            bds_off,
            format!("BDS of {bds_len} bytes does not fit in a {total_len}-byte message"),
        ));
    }
    if total_len > avail {
        return Err(FormatError::Truncated {
            format: Format::Grib1,
            needed: base + total_len,
            size: base + avail,
        });
    }
    Ok(Layout {
        total_len,
        pds: (8, pds_len),
        gds,
        bms,
        bds: (bds_off, bds_len),
    })
}

/// GRIB1 level types (code table 3) as ecCodes' `typeOfLevel`; layer types carry two one-byte
/// values (the first, the top, is the level).
fn level_type(code: u8) -> (String, bool) {
    let (name, layer) = match code {
        1 => ("surface", false),
        2 => ("cloudBase", false),
        3 => ("cloudTop", false),
        4 => ("isothermZero", false),
        6 => ("maxWind", false),
        7 => ("tropopause", false),
        8 => ("nominalTop", false),
        9 => ("seaBottom", false),
        20 => ("isothermal", false),
        100 => ("isobaricInhPa", false),
        101 => ("isobaricLayer", true),
        102 => ("meanSea", false),
        103 => ("heightAboveSea", false),
        104 => ("heightAboveSeaLayer", true),
        105 => ("heightAboveGround", false),
        106 => ("heightAboveGroundLayer", true),
        107 => ("sigma", false),
        108 => ("sigmaLayer", true),
        109 => ("hybrid", false),
        110 => ("hybridLayer", true),
        111 => ("depthBelowLand", false),
        112 => ("depthBelowLandLayer", true),
        113 => ("theta", false),
        114 => ("thetaLayer", true),
        115 => ("pressureFromGround", false),
        116 => ("pressureFromGroundLayer", true),
        117 => ("potentialVorticity", false),
        160 => ("depthBelowSea", false),
        200 => ("entireAtmosphere", false),
        201 => ("entireOcean", false),
        _ => return (format!("level{code}"), false),
    };
    (name.to_string(), layer)
}

/// Metadata of one message from its PDS and GDS.
pub(super) fn field(pds: Bytes<'_>, gds: Option<Bytes<'_>>) -> Result<Field, FormatError> {
    let centre = pds.u8(4)?;
    let (type_of_level, layer) = level_type(pds.u8(9)?);
    let level = if layer {
        f64::from(pds.u8(10)?)
    } else {
        f64::from(pds.u16(10)?)
    };
    let year = (i64::from(pds.u8(24)?) - 1) * 100 + i64::from(pds.u8(12)?);
    let ref_time = civil_seconds(year, pds.u8(13)?, pds.u8(14)?, pds.u8(15)?, pds.u8(16)?, 0)
        .ok_or_else(|| pds.corrupt(12, "invalid reference date"))?;
    let unit = pds.u8(17)?;
    // Statistical periods run from P1 to P2.
    let (p1, p2) = (i64::from(pds.u8(18)?), i64::from(pds.u8(19)?));
    let (step_type, start, end) = match pds.u8(20)? {
        0 | 1 => ("instant", p1, p1),
        10 => ("instant", p1 * 256 + p2, p1 * 256 + p2),
        2 => ("max", p1, p2),
        3 => ("avg", p1, p2),
        4 => ("accum", p1, p2),
        5 => ("diff", p1, p2),
        t => return Err(pds.unsupported(format!("GRIB1 time range indicator {t}"))),
    };
    let hours = |v| {
        hours_of(unit, v, Format::Grib1).ok_or_else(|| pds.unsupported(format!("GRIB1 time unit {unit}")))
    };
    let (start_hours, step_hours) = (hours(start)?, hours(end)?);
    // ECMWF local definitions 1 and 36 carry the ensemble member at octet 50.
    let number = match (centre, pds.data.len() > 49, pds.u8(40).ok()) {
        (98, true, Some(1 | 36)) => Some(i64::from(pds.u8(49)?)),
        _ => None,
    };
    let gds = gds.ok_or_else(|| pds.unsupported("GRIB1 message without a GDS (predefined grid)"))?;
    Ok(Field {
        param: Param::Grib1 {
            table: pds.u8(3)?,
            number: pds.u8(8)?,
        },
        type_of_level,
        level,
        step_type,
        step_hours,
        start_hours,
        ref_time,
        number,
        grid: grid(gds)?,
    })
}

fn grid(gds: Bytes<'_>) -> Result<Grid, FormatError> {
    let kind = match gds.u8(5)? {
        0 => GridKind::RegularLl,
        4 => GridKind::RegularGg {
            n: u32::from(gds.u16(25)?),
        },
        t => return Err(gds.unsupported(format!("GRIB1 grid type {t}"))),
    };
    let (ni, nj) = (gds.u16(6)?, gds.u16(8)?);
    if ni == 0xffff || nj == 0xffff {
        return Err(gds.unsupported("GRIB1 quasi-regular (reduced) grid"));
    }
    let deg = |pos| -> Result<f64, FormatError> { Ok(gds.signed(pos, 3)? as f64 / 1000.0) };
    let (lat_first, lat_last) = (deg(10)?, deg(17)?);
    let dj = if gds.u8(16)? & 0x80 != 0 && kind == GridKind::RegularLl {
        f64::from(gds.u16(25)?) / 1000.0
    } else {
        (lat_first - lat_last).abs() / f64::from(nj.max(2) - 1)
    };
    Ok(Grid {
        kind,
        ni: u32::from(ni),
        nj: u32::from(nj),
        lat_first,
        lon_first: deg(13)?,
        lat_last,
        lon_last: deg(20)?,
        dj,
        scan: gds.u8(27)?,
    })
}

/// Decodes a whole GRIB1 message (grid-point simple packing) to values in scan order, NaN where
/// the bitmap says missing.
pub(super) fn decode(msg: &[u8]) -> Result<(Grid, Vec<f64>), FormatError> {
    let bytes = Bytes::new(msg, 0, Format::Grib1);
    let mut fetch = |o: u64, l: u64| Ok(bytes.slice(o as usize, l as usize)?.to_vec());
    let lay = layout(&mut fetch, 0, msg.len() as u64)?;
    let pds = bytes.sub(lay.pds.0 as usize, lay.pds.1 as usize)?;
    let gds = lay
        .gds
        .map(|(o, l)| bytes.sub(o as usize, l as usize))
        .transpose()?;
    let f = field(pds, gds)?;
    let bds = bytes.sub(lay.bds.0 as usize, lay.bds.1 as usize)?;
    let flags = bds.u8(3)?;
    if flags & 0xc0 != 0 {
        return Err(bds.unsupported("GRIB1 spherical harmonics or second-order packing"));
    }
    let e = bds.signed(4, 2)?;
    let r = ibm_f32([bds.u8(6)?, bds.u8(7)?, bds.u8(8)?, bds.u8(9)?]);
    let nbits = usize::from(bds.u8(10)?);
    let d = pds.signed(26, 2)?;
    let (bscale, dscale) = (codes_power(e, 2.0), codes_power(-d, 10.0));
    let npoints = f.grid.len();
    let bitmap = match lay.bms {
        None => None,
        Some((o, l)) => {
            let bms = bytes.sub(o as usize, l as usize)?;
            if bms.u16(4)? != 0 {
                return Err(bms.unsupported("GRIB1 predefined bitmap"));
            }
            Some(bms.slice(6, l as usize - 6)?)
        }
    };
    let mut packed = BitReader::new(bds.slice(11, bds.data.len() - 11)?);
    let mut out = Vec::with_capacity(npoints.min(msg.len() * 8 + 1));
    let mut bits = bitmap.map(BitReader::new);
    for _ in 0..npoints {
        let present = match bits.as_mut() {
            Some(b) => {
                b.read(1)
                    .ok_or_else(|| bds.corrupt(0, "bitmap shorter than the grid"))?
                    == 1
            }
            None => true,
        };
        if !present {
            out.push(f64::NAN);
            continue;
        }
        let x = packed
            .read(nbits)
            .ok_or_else(|| bds.corrupt(11, "fewer packed values than grid points"))?;
        out.push((x as f64 * bscale + r) * dscale);
    }
    Ok((f.grid, out))
}
