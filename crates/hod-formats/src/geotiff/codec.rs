//! TIFF-specific decode steps: LZW and the two predictors (called from `decode_chunk`).

use crate::FormatError;
use hod_core::{ArrayMeta, Codec, Endian};
use weezl::{BitOrder, LzwStatus, decode::Decoder};

/// Applies one TIFF codec of `meta`'s chain to `buf` (the hook of `decode_chunk`).
pub(crate) fn decode_step(codec: &Codec, buf: Vec<u8>, meta: &ArrayMeta) -> Result<Vec<u8>, FormatError> {
    let size = meta.dtype.size();
    match *codec {
        Codec::Lzw => lzw_decode(&buf, meta.chunk_bytes()),
        Codec::HorizontalPredictor {
            row_samples,
            samples_per_pixel,
        } => undo_horizontal(buf, row_samples, samples_per_pixel, size, meta.endian),
        Codec::FloatingPointPredictor {
            row_samples,
            samples_per_pixel,
        } => undo_floating_point(buf, row_samples, samples_per_pixel, size, meta.endian),
        ref other => Err(FormatError::Decode(format!("{other:?} is not a TIFF codec"))),
    }
}

/// Decodes TIFF LZW (MSB-first codes, early code-size change), stopping at the end code or at
/// the end of the input (some writers omit the end code, which libtiff tolerates).
///
/// Output past `max_out` bytes is an error: garbage could otherwise expand ~2700-fold.
fn lzw_decode(data: &[u8], max_out: usize) -> Result<Vec<u8>, FormatError> {
    let mut decoder = Decoder::with_tiff_size_switch(BitOrder::Msb, 8);
    let mut out = Vec::with_capacity(max_out.min(data.len().saturating_mul(4)));
    let mut block = [0u8; 1 << 14];
    let mut input = data;
    loop {
        let r = decoder.decode_bytes(input, &mut block);
        input = input.get(r.consumed_in..).unwrap_or_default();
        out.extend_from_slice(block.get(..r.consumed_out).unwrap_or_default());
        if out.len() > max_out {
            return Err(FormatError::Decode(format!(
                "LZW output exceeds the {max_out} bytes of a chunk"
            )));
        }
        match r.status {
            Ok(LzwStatus::Done) => return Ok(out),
            Ok(LzwStatus::NoProgress) if input.is_empty() => return Ok(out),
            Ok(LzwStatus::NoProgress) => {
                return Err(FormatError::Decode(format!(
                    "LZW stream stalls with {} bytes left",
                    input.len()
                )));
            }
            Ok(LzwStatus::Ok) => {}
            Err(e) => return Err(FormatError::Decode(format!("LZW: {e}"))),
        }
    }
}

fn check_row(row_samples: usize, spp: usize, size: usize) -> Result<usize, FormatError> {
    if spp == 0 || row_samples == 0 || !row_samples.is_multiple_of(spp) || ![1, 2, 4, 8].contains(&size) {
        return Err(FormatError::Decode(format!(
            "predictor with {row_samples} samples per row, {spp} per pixel, {size}-byte samples"
        )));
    }
    Ok(row_samples * size)
}

/// Undoes horizontal differencing (predictor 2) in place: in each row, sample `i` is stored
/// as the difference from sample `i - spp`, wrapping, in the file's byte order.
///
/// A trailing partial row (a short last strip) is accumulated as far as it goes.
fn undo_horizontal(
    mut buf: Vec<u8>,
    row_samples: usize,
    spp: usize,
    size: usize,
    endian: Endian,
) -> Result<Vec<u8>, FormatError> {
    let row_bytes = check_row(row_samples, spp, size)?;
    let stride = spp * size;
    if size == 1 {
        for row in buf.chunks_mut(row_bytes) {
            for i in stride..row.len() {
                row[i] = row[i].wrapping_add(row[i - stride]);
            }
        }
        return Ok(buf);
    }
    let big = endian == Endian::Big;
    for row in buf.chunks_mut(row_bytes) {
        let mut i = stride;
        while i + size <= row.len() {
            let prev = load(&row[i - stride..i - stride + size], big);
            let cur = load(&row[i..i + size], big);
            store(&mut row[i..i + size], prev.wrapping_add(cur), big);
            i += size;
        }
    }
    Ok(buf)
}

fn load(b: &[u8], big: bool) -> u64 {
    let fold = |v: u64, &x: &u8| (v << 8) | u64::from(x);
    if big {
        b.iter().fold(0, fold)
    } else {
        b.iter().rev().fold(0, fold)
    }
}

/// Stores the low `b.len()` bytes of `v` (wrapping arithmetic on narrower integers).
fn store(b: &mut [u8], mut v: u64, big: bool) {
    let n = b.len();
    for k in 0..n {
        b[if big { n - 1 - k } else { k }] = v as u8;
        v >>= 8;
    }
}

/// Undoes the floating-point predictor (predictor 3, TIFF Technote 3, libtiff `fpAcc`): each
/// row was split into byte planes, most significant first, then byte-differenced with a stride
/// of `spp`. The output is written in `endian` (the planes' order does not depend on the file's).
///
/// Only whole rows are undone; a trailing partial row is left as stored.
fn undo_floating_point(
    mut buf: Vec<u8>,
    row_samples: usize,
    spp: usize,
    size: usize,
    endian: Endian,
) -> Result<Vec<u8>, FormatError> {
    let row_bytes = check_row(row_samples, spp, size)?;
    let mut planes = vec![0u8; row_bytes];
    for row in buf.chunks_exact_mut(row_bytes) {
        for i in spp..row_bytes {
            row[i] = row[i].wrapping_add(row[i - spp]);
        }
        planes.copy_from_slice(row);
        for (s, sample) in row.chunks_exact_mut(size).enumerate() {
            for (byte, b) in sample.iter_mut().enumerate() {
                let plane = if endian == Endian::Big {
                    byte
                } else {
                    size - 1 - byte
                };
                *b = planes[plane * row_samples + s];
            }
        }
    }
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn horizontal_accumulates_per_sample_in_file_order() {
        // Two pixels of two big-endian u16 samples: (1, 2) then differences (+3, -1).
        let stored = vec![0, 1, 0, 2, 0, 3, 0xff, 0xff];
        let out = undo_horizontal(stored, 4, 2, 2, Endian::Big).unwrap();
        assert_eq!(out, vec![0, 1, 0, 2, 0, 4, 0, 1]);
        let out = undo_horizontal(vec![5, 1, 1, 250, 10], 5, 1, 1, Endian::Little).unwrap();
        assert_eq!(out, vec![5, 6, 7, 1, 11]);
    }

    #[test]
    fn floating_point_round_trips_libtiff_layout() {
        let values = [1.5f32, -2.25, 1e-3, 42.0];
        // Encode like libtiff's fpDiff: big-endian byte planes, then byte differences.
        let n = values.len();
        let mut planes = vec![0u8; n * 4];
        for (s, v) in values.iter().enumerate() {
            for (byte, b) in v.to_be_bytes().iter().enumerate() {
                planes[byte * n + s] = *b;
            }
        }
        for i in (1..planes.len()).rev() {
            planes[i] = planes[i].wrapping_sub(planes[i - 1]);
        }
        let out = undo_floating_point(planes.clone(), n, 1, 4, Endian::Little).unwrap();
        let back: Vec<f32> = out
            .chunks(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
            .collect();
        assert_eq!(back, values);
        let out = undo_floating_point(planes, n, 1, 4, Endian::Big).unwrap();
        assert_eq!(f32::from_be_bytes(out[4..8].try_into().unwrap()), -2.25);
    }

    #[test]
    fn lzw_round_trips_weezl_tiff_encoder() {
        let data: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 251) as u8).collect();
        let packed = weezl::encode::Encoder::with_tiff_size_switch(BitOrder::Msb, 8)
            .encode(&data)
            .unwrap();
        assert_eq!(lzw_decode(&packed, data.len()).unwrap(), data);
        assert!(lzw_decode(&packed, 100).is_err());
        // Without the end code (the last bytes cut off) the decoded prefix is still returned.
        let cut = lzw_decode(&packed[..packed.len() - 3], data.len()).unwrap();
        assert!(data.starts_with(&cut));
    }

    #[test]
    fn bad_predictor_parameters_are_errors() {
        assert!(undo_horizontal(vec![1; 8], 0, 1, 2, Endian::Little).is_err());
        assert!(undo_horizontal(vec![1; 8], 3, 2, 2, Endian::Little).is_err());
        assert!(undo_floating_point(vec![1; 8], 2, 0, 4, Endian::Little).is_err());
        assert!(undo_floating_point(vec![1; 8], 2, 1, 3, Endian::Little).is_err());
    }
}
