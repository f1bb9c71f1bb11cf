//! Chunk encoding: the inverse of [`crate::decode_chunk`] for the general-purpose codecs, used to
//! synthesise stored chunks (e.g. the fill-value chunks a Zarr store leaves out).

use crate::FormatError;
use hod_core::{ArrayMeta, Codec};
use std::io::Write;

/// Encodes a chunk's elements (C order, `meta.endian`, `meta.chunk_bytes()` long) with the codec
/// chain of `meta`, so that [`crate::decode_chunk`] gives them back.
///
/// # Errors
/// [`FormatError::Decode`] for a codec that has no encoder here (TIFF, GRIB, Fletcher-32) or
/// input of the wrong length.
pub fn encode_chunk(meta: &ArrayMeta, raw: &[u8]) -> Result<Vec<u8>, FormatError> {
    if raw.len() != meta.chunk_bytes() {
        return Err(FormatError::Decode(format!(
            "cannot encode {} bytes as a chunk of {}",
            raw.len(),
            meta.chunk_bytes()
        )));
    }
    let mut buf = raw.to_vec();
    for codec in meta.codecs.iter().rev() {
        buf = match codec {
            Codec::Zlib => {
                let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
                e.write_all(&buf).and_then(|()| e.finish()).map_err(io("zlib"))?
            }
            Codec::Gzip => {
                let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                e.write_all(&buf).and_then(|()| e.finish()).map_err(io("gzip"))?
            }
            Codec::Zstd => zstd(&buf),
            Codec::Blosc => crate::blosc::encode(&buf, meta.dtype.size()),
            Codec::Crc32c => {
                let crc = crate::codecs::crc32c(&buf);
                buf.extend_from_slice(&crc.to_le_bytes());
                buf
            }
            Codec::Shuffle { element_size } => shuffle(&buf, *element_size),
            Codec::Transpose { order } => transpose(&buf, order, meta)?,
            other => {
                return Err(FormatError::Decode(format!("no encoder for codec {other:?}")));
            }
        };
    }
    Ok(buf)
}

fn io(what: &'static str) -> impl Fn(std::io::Error) -> FormatError {
    move |e| FormatError::Decode(format!("{what} encoding: {e}"))
}

pub(crate) fn zstd(data: &[u8]) -> Vec<u8> {
    ruzstd::encoding::compress_to_vec(data, ruzstd::encoding::CompressionLevel::Fastest)
}

/// HDF5 shuffle: byte `k` of every element into plane `k`.
fn shuffle(data: &[u8], size: usize) -> Vec<u8> {
    if size <= 1 || data.len() < size {
        return data.to_vec();
    }
    let n = data.len() / size;
    let mut out = Vec::with_capacity(data.len());
    for k in 0..size {
        out.extend(data.chunks_exact(size).map(|e| e[k]));
    }
    out.extend_from_slice(&data[n * size..]);
    out
}

/// Zarr `transpose`: elements written with stored axis `k` = chunk axis `order[k]`.
fn transpose(data: &[u8], order: &[usize], meta: &ArrayMeta) -> Result<Vec<u8>, FormatError> {
    let size = meta.dtype.size();
    let mut out = Vec::with_capacity(data.len());
    crate::codecs::each_transposed(order, meta, data.len(), |src| {
        out.extend_from_slice(&data[src * size..(src + 1) * size]);
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hod_core::{DType, Endian};

    #[test]
    fn every_encoder_round_trips() {
        let mut meta = ArrayMeta::new(
            vec!["t".into(), "y".into(), "x".into()],
            vec![3, 4, 5],
            vec![3, 4, 5],
            DType::F32,
            Endian::Big,
        );
        let raw: Vec<u8> = (0..60u32).flat_map(|i| (i as f32 * 0.5).to_be_bytes()).collect();
        for chain in [
            vec![Codec::Gzip],
            vec![Codec::Zstd],
            vec![Codec::Blosc],
            vec![Codec::Zlib, Codec::Shuffle { element_size: 4 }],
            vec![
                Codec::Crc32c,
                Codec::Zstd,
                Codec::Transpose { order: vec![2, 0, 1] },
            ],
            vec![Codec::Blosc, Codec::Transpose { order: vec![1, 2, 0] }],
        ] {
            meta.codecs = chain.clone();
            let stored = encode_chunk(&meta, &raw).unwrap();
            assert_eq!(crate::decode_chunk(&meta, &stored).unwrap(), raw, "{chain:?}");
        }
        meta.codecs = vec![Codec::Lzw];
        assert!(encode_chunk(&meta, &raw).is_err());
        meta.codecs = vec![];
        assert!(encode_chunk(&meta, &raw[1..]).is_err());
    }
}
