//! Decoding one message to f32 values: GRIB1 via [`super::grib1`], GRIB2 here. Values are
//! computed in f64 as ecCodes does, `(X·2^E + R)·10^−D`, then cast to f32, so they equal
//! cfgrib's float32 arrays.

use super::bytes::{BitReader, Bytes, codes_power};
use super::grid::{Grid, SCAN_BOUSTROPHEDON, SCAN_J_CONSECUTIVE};
use super::{MAX_POINTS, grib1, grib2};
use crate::FormatError;
use hod_core::Format;

/// Decodes one whole GRIB message to its grid values as f32: rows of constant latitude in the
/// order of the scanner's `latitude` coordinate, NaN for missing points.
///
/// # Errors
/// [`FormatError::Corrupt`] for a malformed message, [`FormatError::Unsupported`] for a packing
/// or grid this implementation does not decode.
pub fn decode(edition: u8, message: &[u8]) -> Result<Vec<f32>, FormatError> {
    let (grid, values) = match edition {
        1 => grib1::decode(message)?,
        2 => decode2(message)?,
        e => {
            return Err(FormatError::Unsupported {
                format: Format::Grib2,
                what: format!("GRIB edition {e}"),
            });
        }
    };
    Ok(reorder(&grid, values))
}

/// Puts values in row order: transposes column-major scans and unfolds boustrophedon rows.
fn reorder(grid: &Grid, values: Vec<f64>) -> Vec<f32> {
    let (ni, nj) = (grid.ni as usize, grid.nj as usize);
    let mut out: Vec<f32> = values.iter().map(|&v| v as f32).collect();
    if grid.scan & SCAN_J_CONSECUTIVE != 0 {
        // Column k holds nj consecutive values.
        out = (0..ni * nj).map(|p| out[(p % ni) * nj + p / ni]).collect();
    }
    if grid.scan & SCAN_BOUSTROPHEDON != 0 {
        for row in out.chunks_mut(ni.max(1)).skip(1).step_by(2) {
            row.reverse();
        }
    }
    out
}

/// Packing parameters shared by templates 5.0, 5.2, 5.3, 5.40, 5.41 and 5.42.
struct Simple {
    r: f64,
    bscale: f64,
    dscale: f64,
    nbits: usize,
}

impl Simple {
    fn read(s5: Bytes<'_>) -> Result<Self, FormatError> {
        let r = f64::from(f32::from_bits(s5.u32(11)?));
        Ok(Simple {
            r,
            bscale: codes_power(s5.signed(15, 2)?, 2.0),
            dscale: codes_power(-s5.signed(17, 2)?, 10.0),
            nbits: usize::from(s5.u8(19)?),
        })
    }

    fn value(&self, x: f64) -> f64 {
        (x * self.bscale + self.r) * self.dscale
    }
}

fn decode2(msg: &[u8]) -> Result<(Grid, Vec<f64>), FormatError> {
    let bytes = Bytes::new(msg, 0, Format::Grib2);
    let mut fetch = |o: u64, l: u64| Ok(bytes.slice(o as usize, l as usize)?.to_vec());
    let lay = grib2::layout(&mut fetch, 0, msg.len() as u64)?;
    let sec = |n: u8| -> Result<Bytes<'_>, FormatError> {
        let (o, l) = lay
            .section(n)
            .ok_or_else(|| bytes.corrupt(0, format!("section {n} is missing")))?;
        bytes.sub(o as usize, l as usize)
    };
    let field = grib2::field(lay.discipline, sec(1)?, sec(3)?, sec(4)?)?;
    let (s5, s6, s7) = (sec(5)?, sec(6)?, sec(7)?);
    let npoints = field.grid.len();
    if npoints > MAX_POINTS {
        return Err(bytes.unsupported(format!("grid of {npoints} points")));
    }
    let bitmap = match s6.u8(5)? {
        255 => None,
        0 => Some(s6.slice(6, s6.data.len() - 6)?),
        b => return Err(s6.unsupported(format!("bitmap indicator {b}"))),
    };
    let ndata = match bitmap {
        None => npoints,
        Some(bm) => {
            let set = bm.iter().map(|b| b.count_ones() as usize).sum::<usize>();
            // Bits past the last grid point are padding.
            let extra = bm.len() * 8 - npoints.min(bm.len() * 8);
            let tail = bm.last().map_or(0, |b| {
                (b & ((1u16 << extra.min(8)) - 1) as u8).count_ones() as usize
            });
            set - tail
        }
    };
    if s5.u32(5)? as usize != ndata {
        return Err(s5.corrupt(
            5,
            format!("{} packed values but the bitmap/grid has {ndata}", s5.u32(5)?),
        ));
    }
    let data = s7.slice(5, s7.data.len() - 5)?;
    let values = match s5.u16(9)? {
        0 => simple(s5, data, ndata)?,
        2 => complex(s5, data, ndata, false)?,
        3 => complex(s5, data, ndata, true)?,
        40 => jpeg2000(s5, data, ndata)?,
        _ => return other(msg, &lay, npoints),
    };
    Ok((field.grid, expand(values, bitmap, npoints)))
}

/// Spreads the packed values over the grid: NaN where the bitmap bit is 0.
fn expand(values: Vec<f64>, bitmap: Option<&[u8]>, npoints: usize) -> Vec<f64> {
    let Some(bm) = bitmap else { return values };
    let mut it = values.into_iter();
    (0..npoints)
        .map(|p| {
            let on = bm.get(p / 8).is_some_and(|b| b & (0x80 >> (p % 8)) != 0);
            if on {
                it.next().unwrap_or(f64::NAN)
            } else {
                f64::NAN
            }
        })
        .collect()
}

fn simple(s5: Bytes<'_>, data: &[u8], n: usize) -> Result<Vec<f64>, FormatError> {
    let p = Simple::read(s5)?;
    if p.nbits == 0 {
        return Ok(vec![p.value(0.0); n]);
    }
    let mut bits = BitReader::new(data);
    (0..n)
        .map(|_| {
            bits.read(p.nbits)
                .map(|x| p.value(x as f64))
                .ok_or_else(|| s5.corrupt(0, "section 7 holds fewer values than declared"))
        })
        .collect()
}

/// Complex packing (5.2) and complex packing with spatial differencing (5.3), as in ecCodes'
/// `data_g22order_packing`: groups of values with their own reference and width, missing values
/// coded as all-ones, and first/second-order differences undone over non-missing values.
fn complex(s5: Bytes<'_>, data: &[u8], n: usize, spatial: bool) -> Result<Vec<f64>, FormatError> {
    let p = Simple::read(s5)?;
    let missing_mgmt = s5.u8(22)?;
    let ng = s5.u32(31)? as usize;
    let width_ref = u64::from(s5.u8(35)?);
    let width_bits = usize::from(s5.u8(36)?);
    let len_ref = u64::from(s5.u32(37)?);
    let len_inc = u64::from(s5.u8(41)?);
    let last_len = u64::from(s5.u32(42)?);
    let len_bits = usize::from(s5.u8(46)?);
    let bad = |what: &str| s5.corrupt(0, format!("complex packing: {what}"));
    if ng > data.len() * 8 + 1 {
        return Err(bad("more groups than section 7 can hold"));
    }
    let mut bits = BitReader::new(data);
    let (order, extras, bias) = if spatial {
        let order = usize::from(s5.u8(47)?);
        let nb = usize::from(s5.u8(48)?);
        if order > 2 || nb > 4 {
            return Err(bad("unsupported spatial differencing"));
        }
        let mut extras = Vec::new();
        for _ in 0..order {
            extras.push(bits.read(nb * 8).ok_or_else(|| bad("truncated first values"))? as i64);
        }
        let raw = bits.read(nb * 8).ok_or_else(|| bad("truncated minimum"))?;
        let sign = if nb > 0 { 1u64 << (nb * 8 - 1) } else { 0 };
        let bias = if nb > 0 && raw & sign != 0 {
            -((raw & (sign - 1)) as i64)
        } else {
            raw as i64
        };
        (order, extras, bias)
    } else {
        (0, Vec::new(), 0)
    };
    let mut read_all = |count: usize, nbits: usize, what: &str| -> Result<Vec<u64>, FormatError> {
        let v = (0..count)
            .map(|_| bits.read(nbits))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| bad(what));
        bits.align();
        v
    };
    let refs = read_all(ng, p.nbits, "truncated group references")?;
    let widths = read_all(ng, width_bits, "truncated group widths")?;
    let mut lens = read_all(ng, len_bits, "truncated group lengths")?;
    for l in &mut lens {
        *l = len_ref + *l * len_inc;
    }
    if let Some(l) = lens.last_mut() {
        *l = last_len;
    }
    if lens.iter().sum::<u64>() != n as u64 {
        return Err(bad("group lengths do not add up to the number of values"));
    }
    // Integer values, None for missing.
    let mut ints: Vec<Option<i64>> = Vec::with_capacity(n);
    let all_ones = |w: usize| if w >= 64 { u64::MAX } else { (1u64 << w) - 1 };
    for g in 0..ng {
        let (r, w) = (refs[g], (widths[g] + width_ref) as usize);
        for _ in 0..lens[g] {
            let x = bits.read(w).ok_or_else(|| bad("truncated packed values"))?;
            let missing = match (missing_mgmt, w) {
                (1, 0) => r == all_ones(p.nbits),
                (2, 0) => r == all_ones(p.nbits) || r == all_ones(p.nbits).wrapping_sub(1),
                (1, _) => x == all_ones(w),
                (2, _) => x == all_ones(w) || x == all_ones(w) - 1,
                _ => false,
            };
            ints.push(if missing { None } else { Some((r + x) as i64) });
        }
    }
    if order > 0 {
        undo_differences(&mut ints, order, &extras, bias);
    }
    Ok(ints
        .into_iter()
        .map(|x| x.map_or(f64::NAN, |x| p.value(x as f64)))
        .collect())
}

/// Reverses first- or second-order spatial differencing over the non-missing values.
fn undo_differences(ints: &mut [Option<i64>], order: usize, extras: &[i64], bias: i64) {
    let mut prev = [0i64; 2];
    for (k, v) in ints.iter_mut().flatten().enumerate() {
        let x = if k < order {
            extras.get(k).copied().unwrap_or(0)
        } else if order == 1 {
            v.wrapping_add(bias).wrapping_add(prev[1])
        } else {
            v.wrapping_add(bias)
                .wrapping_add(prev[1].wrapping_mul(2))
                .wrapping_sub(prev[0])
        };
        *v = x;
        prev = [prev[1], x];
    }
}

/// JPEG 2000 code stream (5.40), decoded to integers with `hayro-jpeg2000`.
fn jpeg2000(s5: Bytes<'_>, data: &[u8], n: usize) -> Result<Vec<f64>, FormatError> {
    use hayro_jpeg2000::{DecodeSettings, DecoderContext, Image};
    let p = Simple::read(s5)?;
    if p.nbits == 0 {
        return Ok(vec![p.value(0.0); n]);
    }
    let err = |e: String| FormatError::Decode(format!("GRIB2 JPEG 2000: {e}"));
    // Check the image size (SIZ marker) before decoding, so a corrupt header cannot make the
    // decoder allocate a huge image.
    let be32 = |p: usize| {
        data.get(p..p + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    let size = match (data.get(..4), be32(8), be32(12), be32(16), be32(20)) {
        (Some([0xff, 0x4f, 0xff, 0x51]), Some(x), Some(y), Some(x0), Some(y0)) => {
            u64::from(x.saturating_sub(x0)) * u64::from(y.saturating_sub(y0))
        }
        _ => return Err(err("no SOC/SIZ header".into())),
    };
    if size != n as u64 {
        return Err(err(format!("image of {size} pixels for {n} values")));
    }
    let image = Image::new(data, &DecodeSettings::default()).map_err(|e| err(e.to_string()))?;
    let mut context = DecoderContext::default();
    let decoded = image.decode(&mut context).map_err(|e| err(e.to_string()))?;
    let [component] = decoded.components() else {
        return Err(err("image is not single-component".into()));
    };
    let samples = component.samples();
    if samples.len() != n {
        return Err(err(format!("{} samples for {n} values", samples.len())));
    }
    Ok(samples.iter().map(|&x| p.value(f64::from(x))).collect())
}

/// Other templates (PNG 5.41, CCSDS 5.42, run-length 5.200) through the `grib` crate, whose
/// arithmetic is f32 (values may differ from ecCodes' in the last bit).
fn other(msg: &[u8], lay: &grib2::Layout, npoints: usize) -> Result<(Grid, Vec<f64>), FormatError> {
    let bytes = Bytes::new(msg, 0, Format::Grib2);
    let sec = |n: u8| -> Result<Vec<u8>, FormatError> {
        let (o, l) = lay
            .section(n)
            .ok_or_else(|| bytes.corrupt(0, format!("section {n} is missing")))?;
        Ok(bytes.slice(o as usize, l as usize)?.to_vec())
    };
    let err = |e: grib::GribError| FormatError::Decode(format!("GRIB2: {e}"));
    let dec = grib::Grib2SubmessageDecoder::new(npoints, sec(5)?, sec(6)?, sec(7)?).map_err(err)?;
    let values: Vec<f64> = dec.dispatch().map_err(err)?.map(f64::from).collect();
    let (o1, l1) = lay.section(1).unwrap_or_default();
    let (o3, l3) = lay.section(3).unwrap_or_default();
    let (o4, l4) = lay.section(4).unwrap_or_default();
    let field = grib2::field(
        lay.discipline,
        bytes.sub(o1 as usize, l1 as usize)?,
        bytes.sub(o3 as usize, l3 as usize)?,
        bytes.sub(o4 as usize, l4 as usize)?,
    )?;
    if values.len() != npoints {
        return Err(FormatError::Decode(format!(
            "GRIB2: {} values for {npoints} points",
            values.len()
        )));
    }
    Ok((field.grid, values))
}
