//! Chunk decoding: the codec chain of [`ArrayMeta::codecs`] applied to stored bytes.

use crate::FormatError;
use hod_core::{ArrayMeta, Codec};
use std::borrow::Cow;
use std::cell::RefCell;
use std::io::Read;

/// Decodes one chunk's stored bytes into its elements: C order, `meta.endian`, exactly
/// `meta.chunk_bytes()` long (short output, as from a TIFF's last strip, is padded with zeros).
///
/// # Errors
/// [`FormatError::Decode`] naming the codec that failed.
pub fn decode_chunk(meta: &ArrayMeta, stored: &[u8]) -> Result<Vec<u8>, FormatError> {
    decode_chunk_cow(meta, stored).map(Cow::into_owned)
}

/// [`decode_chunk`] that borrows `stored` when it already is the chunk's elements (no codec, the
/// right length), so uncompressed chunks are not copied.
///
/// # Errors
/// As [`decode_chunk`].
pub fn decode_chunk_cow<'a>(meta: &ArrayMeta, stored: &'a [u8]) -> Result<Cow<'a, [u8]>, FormatError> {
    let want = meta.chunk_bytes();
    let mut buf = Cow::Borrowed(stored);
    for codec in &meta.codecs {
        buf = Cow::Owned(match codec {
            Codec::Zlib => inflate(&buf, want)?,
            Codec::Shuffle { element_size } => unshuffle(&buf, *element_size),
            tiff
            @ (Codec::Lzw | Codec::HorizontalPredictor { .. } | Codec::FloatingPointPredictor { .. }) => {
                crate::geotiff::decode_step(tiff, buf.into_owned(), meta)?
            }
            Codec::Fletcher32 => crate::hdf5::fletcher32(buf.into_owned())?,
            Codec::Grib { edition } => crate::grib::decode(*edition, &buf)?
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect(),
            Codec::Gzip => gunzip(&buf)?,
            Codec::Zstd => unzstd(&buf)?,
            Codec::Blosc => crate::blosc::decode(&buf)?,
            Codec::Crc32c => check_crc32c(buf.into_owned())?,
            Codec::Transpose { order } => untranspose(&buf, order, meta)?,
            other => {
                return Err(FormatError::Decode(format!(
                    "codec {other:?} not implemented yet"
                )));
            }
        });
    }
    if buf.len() > want {
        return Err(FormatError::Decode(format!(
            "chunk decodes to {} bytes, expected {want}",
            buf.len()
        )));
    }
    if buf.len() < want {
        buf.to_mut().resize(want, 0);
    }
    Ok(buf)
}

/// Inflates a zlib stream, expected to give `expected` bytes.
///
/// libdeflate decodes a whole stream into a buffer of the expected size, 1.5× as fast as
/// streaming zlib-rs on the chunks of a few KB that netCDF4 files hold. A stream that gives more
/// than expected, or is cut short, goes the streaming way, which grows the buffer and keeps what a
/// cut stream holds.
fn inflate(data: &[u8], expected: usize) -> Result<Vec<u8>, FormatError> {
    thread_local! {
        static INFLATER: RefCell<libdeflater::Decompressor> = RefCell::new(libdeflater::Decompressor::new());
    }
    if expected > 0 {
        let mut out = vec![0u8; expected];
        if let Ok(n) = INFLATER.with_borrow_mut(|d| d.zlib_decompress(data, &mut out)) {
            out.truncate(n);
            return Ok(out);
        }
    }
    inflate_streaming(data, expected)
}

/// Inflates one zlib stream as it comes, into a buffer sized for the `expected` output up front;
/// a longer output grows it. A stream cut short gives what it holds, as reading it to the end
/// would.
fn inflate_streaming(data: &[u8], expected: usize) -> Result<Vec<u8>, FormatError> {
    let mut z = flate2::Decompress::new(true);
    let mut out = Vec::with_capacity(expected.max(64));
    loop {
        let (seen, made) = (z.total_in(), z.total_out());
        let rest = data.get(seen as usize..).unwrap_or_default();
        let status = z
            .decompress_vec(rest, &mut out, flate2::FlushDecompress::Finish)
            .map_err(|e| FormatError::Decode(format!("zlib: {e}")))?;
        if status == flate2::Status::StreamEnd {
            return Ok(out);
        }
        if out.len() == out.capacity() {
            out.reserve(out.capacity());
        } else if z.total_in() == seen && z.total_out() == made {
            return Ok(out);
        }
    }
}

fn gunzip(data: &[u8]) -> Result<Vec<u8>, FormatError> {
    let mut out = Vec::with_capacity(data.len() * 4);
    flate2::read::MultiGzDecoder::new(data)
        .read_to_end(&mut out)
        .map_err(|e| FormatError::Decode(format!("gzip: {e}")))?;
    Ok(out)
}

/// Decodes concatenated Zstandard frames.
pub(crate) fn unzstd(mut data: &[u8]) -> Result<Vec<u8>, FormatError> {
    let mut out = Vec::with_capacity(data.len() * 4);
    while !data.is_empty() {
        let mut frame = ruzstd::decoding::StreamingDecoder::new(&mut data)
            .map_err(|e| FormatError::Decode(format!("zstd: {e}")))?;
        frame
            .read_to_end(&mut out)
            .map_err(|e| FormatError::Decode(format!("zstd: {e}")))?;
    }
    Ok(out)
}

/// CRC-32C (Castagnoli polynomial, reflected 0x82F63B78), as RFC 3720 defines it.
pub(crate) fn crc32c(data: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut t = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 != 0 {
                    (c >> 1) ^ 0x82F6_3B78
                } else {
                    c >> 1
                };
                k += 1;
            }
            t[i] = c;
            i += 1;
        }
        t
    };
    !data.iter().fold(!0u32, |c, &b| {
        TABLE[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8)
    })
}

/// Checks and strips the little-endian CRC-32C that ends the data.
fn check_crc32c(mut buf: Vec<u8>) -> Result<Vec<u8>, FormatError> {
    let Some(n) = buf.len().checked_sub(4) else {
        return Err(FormatError::Decode("crc32c: fewer than 4 bytes".into()));
    };
    let stored = u32::from_le_bytes([buf[n], buf[n + 1], buf[n + 2], buf[n + 3]]);
    let actual = crc32c(&buf[..n]);
    if stored != actual {
        return Err(FormatError::Decode(format!(
            "crc32c mismatch: stored {stored:08x}, computed {actual:08x}"
        )));
    }
    buf.truncate(n);
    Ok(buf)
}

/// Undoes a Zarr `transpose`: stored axis `k` is chunk axis `order[k]`.
fn untranspose(data: &[u8], order: &[usize], meta: &ArrayMeta) -> Result<Vec<u8>, FormatError> {
    let size = meta.dtype.size();
    let mut out = vec![0u8; data.len()];
    let mut elems = data.chunks_exact(size);
    each_transposed(order, meta, data.len(), |dst| {
        if let Some(elem) = elems.next() {
            out[dst * size..(dst + 1) * size].copy_from_slice(elem);
        }
    })?;
    Ok(out)
}

/// Walks a chunk of `len` bytes in the stored order of Zarr `transpose` (stored axis `k` is chunk
/// axis `order[k]`), calling `f` with each element's C-order index in the chunk: shared by
/// decoding and encoding.
pub(crate) fn each_transposed(
    order: &[usize],
    meta: &ArrayMeta,
    len: usize,
    mut f: impl FnMut(usize),
) -> Result<(), FormatError> {
    let rank = meta.chunks.len();
    let mut seen = vec![false; rank];
    if order.len() != rank
        || order
            .iter()
            .any(|&o| o >= rank || std::mem::replace(&mut seen[o], true))
    {
        return Err(FormatError::Decode(format!(
            "transpose order {order:?} is not a permutation of {rank} axes"
        )));
    }
    if len != meta.chunk_bytes() {
        return Err(FormatError::Decode(format!(
            "transpose: {len} bytes, expected {}",
            meta.chunk_bytes()
        )));
    }
    let shape: Vec<usize> = meta.chunks.iter().map(|&c| c as usize).collect();
    // C-order strides of the chunk, visited in stored order.
    let mut strides = vec![1usize; rank];
    for d in (0..rank.saturating_sub(1)).rev() {
        strides[d] = strides[d + 1] * shape[d + 1];
    }
    let stored_shape: Vec<usize> = order.iter().map(|&o| shape[o]).collect();
    let stored_strides: Vec<usize> = order.iter().map(|&o| strides[o]).collect();
    let mut pos = vec![0usize; rank];
    for _ in 0..len / meta.dtype.size().max(1) {
        f(pos.iter().zip(&stored_strides).map(|(p, s)| p * s).sum());
        for d in (0..rank).rev() {
            pos[d] += 1;
            if pos[d] < stored_shape[d] {
                break;
            }
            pos[d] = 0;
        }
    }
    Ok(())
}

/// Reverses the HDF5 shuffle filter: byte k of every element was stored in plane k.
pub(crate) fn unshuffle(data: &[u8], size: usize) -> Vec<u8> {
    if size <= 1 || data.len() < size {
        return data.to_vec();
    }
    let n = data.len() / size;
    let mut out = vec![0; data.len()];
    let (whole, tail) = out.split_at_mut(n * size);
    // Common element sizes gather one whole element at a time (a loop the compiler unrolls).
    match size {
        2 => gather::<2>(data, whole),
        4 => {
            // float32, the usual case: a zip of the four planes, free of bounds checks.
            let (p0, rest) = data.split_at(n);
            let (p1, rest) = rest.split_at(n);
            let (p2, p3) = rest.split_at(n);
            for ((((o, a), b), c), d) in whole.chunks_exact_mut(4).zip(p0).zip(p1).zip(p2).zip(p3) {
                o.copy_from_slice(&[*a, *b, *c, *d]);
            }
        }
        8 => gather::<8>(data, whole),
        _ => {
            for (k, plane) in data[..n * size].chunks_exact(n).enumerate() {
                for (i, &b) in plane.iter().enumerate() {
                    whole[i * size + k] = b;
                }
            }
        }
    }
    // Trailing bytes that do not fill an element are stored unshuffled.
    tail.copy_from_slice(&data[n * size..]);
    out
}

/// [`unshuffle`] of `out.len() / S` elements of `S` bytes.
fn gather<const S: usize>(data: &[u8], out: &mut [u8]) {
    let n = out.len() / S;
    let planes: [&[u8]; S] = std::array::from_fn(|k| &data[k * n..(k + 1) * n]);
    for (i, elem) in out.chunks_exact_mut(S).enumerate() {
        for (b, plane) in elem.iter_mut().zip(&planes) {
            *b = plane[i];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_check_value() {
        // RFC 3720 B.4 / the standard check value of CRC-32C.
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
    }

    #[test]
    fn untranspose_restores_c_order() {
        // A 2x3 chunk stored transposed (order [1, 0]) as its 3x2 transpose.
        let meta = ArrayMeta::new(
            vec!["y".into(), "x".into()],
            vec![2, 3],
            vec![2, 3],
            hod_core::DType::U8,
            hod_core::Endian::Little,
        );
        let stored = [1, 4, 2, 5, 3, 6];
        assert_eq!(
            untranspose(&stored, &[1, 0], &meta).unwrap(),
            vec![1, 2, 3, 4, 5, 6]
        );
        assert!(untranspose(&stored, &[0, 0], &meta).is_err());
    }

    #[test]
    fn unshuffle_reverses_planes() {
        // Two 4-byte elements [1,2,3,4] and [5,6,7,8], shuffled into planes.
        let shuffled = [1, 5, 2, 6, 3, 7, 4, 8];
        assert_eq!(unshuffle(&shuffled, 4), vec![1, 2, 3, 4, 5, 6, 7, 8]);
    }

    #[test]
    fn unshuffle_matches_the_plane_definition_for_every_size() {
        // Element sizes with and without a fast path, with trailing bytes that fill no element.
        for size in 1..=9 {
            for len in [0, size - 1, size * 7, size * 7 + size / 2, size * 64 + 1] {
                let data: Vec<u8> = (0..len).map(|i| (i * 37 % 251) as u8).collect();
                let n = len / size;
                let mut want = data.clone();
                for k in 0..size.min(len) {
                    for i in 0..n {
                        want[i * size + k] = data[k * n + i];
                    }
                }
                assert_eq!(unshuffle(&data, size), want, "size {size}, {len} bytes");
            }
        }
    }

    #[test]
    fn inflate_grows_past_a_short_hint_and_stops_at_the_stream_end() {
        use std::io::Write;
        let raw: Vec<u8> = (0..10_000u32).flat_map(|i| (i % 97).to_le_bytes()).collect();
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(&raw).unwrap();
        let mut stored = e.finish().unwrap();
        for hint in [0, 100, raw.len(), raw.len() * 3] {
            assert_eq!(inflate(&stored, hint).unwrap(), raw, "hint {hint}");
        }
        // Bytes after the stream are ignored; a stream cut short gives what it holds.
        stored.extend_from_slice(b"trailing");
        assert_eq!(inflate(&stored, raw.len()).unwrap(), raw);
        let cut = inflate(&stored[..stored.len() / 2], raw.len()).unwrap();
        assert_eq!(
            cut,
            inflate_streaming(&stored[..stored.len() / 2], raw.len()).unwrap()
        );
        assert!(!cut.is_empty() && raw.starts_with(&cut));
    }
}
