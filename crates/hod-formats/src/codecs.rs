//! Chunk decoding: the codec chain of [`ArrayMeta::codecs`] applied to stored bytes.

use crate::FormatError;
use hod_core::{ArrayMeta, Codec};
use std::io::Read;

/// Decodes one chunk's stored bytes into its elements: C order, `meta.endian`, exactly
/// `meta.chunk_bytes()` long (short output, as from a TIFF's last strip, is padded with zeros).
///
/// # Errors
/// [`FormatError::Decode`] naming the codec that failed.
pub fn decode_chunk(meta: &ArrayMeta, stored: &[u8]) -> Result<Vec<u8>, FormatError> {
    let mut buf = stored.to_vec();
    for codec in &meta.codecs {
        buf = match codec {
            Codec::Zlib => inflate(&buf)?,
            Codec::Shuffle { element_size } => unshuffle(&buf, *element_size),
            tiff
            @ (Codec::Lzw | Codec::HorizontalPredictor { .. } | Codec::FloatingPointPredictor { .. }) => {
                crate::geotiff::decode_step(tiff, buf, meta)?
            }
            Codec::Fletcher32 => crate::hdf5::fletcher32(buf)?,
            Codec::Grib { edition } => crate::grib::decode(*edition, &buf)?
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect(),
            other => {
                return Err(FormatError::Decode(format!(
                    "codec {other:?} not implemented yet"
                )));
            }
        };
    }
    let want = meta.chunk_bytes();
    if buf.len() > want {
        return Err(FormatError::Decode(format!(
            "chunk decodes to {} bytes, expected {want}",
            buf.len()
        )));
    }
    buf.resize(want, 0);
    Ok(buf)
}

fn inflate(data: &[u8]) -> Result<Vec<u8>, FormatError> {
    let mut out = Vec::with_capacity(data.len() * 4);
    flate2::read::ZlibDecoder::new(data)
        .read_to_end(&mut out)
        .map_err(|e| FormatError::Decode(format!("zlib: {e}")))?;
    Ok(out)
}

/// Reverses the HDF5 shuffle filter: byte k of every element was stored in plane k.
fn unshuffle(data: &[u8], size: usize) -> Vec<u8> {
    if size <= 1 || data.len() < size {
        return data.to_vec();
    }
    let n = data.len() / size;
    let mut out = vec![0; data.len()];
    for (k, plane) in data[..n * size].chunks_exact(n).enumerate() {
        for (i, &b) in plane.iter().enumerate() {
            out[i * size + k] = b;
        }
    }
    // Trailing bytes that do not fill an element are stored unshuffled.
    out[n * size..].copy_from_slice(&data[n * size..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unshuffle_reverses_planes() {
        // Two 4-byte elements [1,2,3,4] and [5,6,7,8], shuffled into planes.
        let shuffled = [1, 5, 2, 6, 3, 7, 4, 8];
        assert_eq!(unshuffle(&shuffled, 4), vec![1, 2, 3, 4, 5, 6, 7, 8]);
    }
}
