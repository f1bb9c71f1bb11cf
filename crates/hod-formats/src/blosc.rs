//! Blosc 1 containers as c-blosc 1.x writes them (format version 2; numcodecs and zarr-python's
//! `blosc` codec): a 16-byte header, block offsets, then per block one stream (or one per byte of
//! the element when split) compressed with BloscLZ, LZ4, zlib or Zstandard, byte- or
//! bit-shuffled before compression.

use crate::FormatError;
use std::io::Read;

const HEADER: usize = 16;
const DOSHUFFLE: u8 = 0x1;
const MEMCPYED: u8 = 0x2;
const DOBITSHUFFLE: u8 = 0x4;
const DONT_SPLIT: u8 = 0x10;

fn err(what: impl std::fmt::Display) -> FormatError {
    FormatError::Decode(format!("blosc: {what}"))
}

fn le32(data: &[u8], at: usize) -> Result<u32, FormatError> {
    data.get(at..at + 4)
        .and_then(|b| b.try_into().ok())
        .map(u32::from_le_bytes)
        .ok_or_else(|| err("truncated"))
}

/// Decompresses one Blosc 1 buffer.
pub(crate) fn decode(data: &[u8]) -> Result<Vec<u8>, FormatError> {
    let [version, _, flags, typesize, ..] = *data else {
        return Err(err("shorter than its header"));
    };
    if version == 0 || version > 2 {
        return Err(err(format!(
            "format version {version} (only Blosc 1, versions 1-2)"
        )));
    }
    let nbytes = le32(data, 4)? as usize;
    let blocksize = le32(data, 8)? as usize;
    let ctbytes = le32(data, 12)? as usize;
    if ctbytes > data.len() {
        return Err(err(format!("{ctbytes} bytes announced, {} stored", data.len())));
    }
    if flags & MEMCPYED != 0 {
        return data
            .get(HEADER..HEADER + nbytes)
            .map(<[u8]>::to_vec)
            .ok_or_else(|| err("truncated uncompressed data"));
    }
    if nbytes == 0 {
        return Ok(Vec::new());
    }
    if blocksize == 0 {
        return Err(err("block size 0"));
    }
    let compressor = Compressor::from_code(flags >> 5)?;
    let typesize = usize::from(typesize.max(1));
    let nblocks = nbytes.div_ceil(blocksize);
    let mut out = Vec::with_capacity(nbytes);
    for j in 0..nblocks {
        let start = le32(data, HEADER + 4 * j)? as usize;
        let leftover = j == nblocks - 1 && !nbytes.is_multiple_of(blocksize);
        let bsize = if leftover { nbytes % blocksize } else { blocksize };
        let streams = if flags & DONT_SPLIT == 0 && !leftover {
            typesize
        } else {
            1
        };
        let mut block = Vec::with_capacity(bsize);
        let mut pos = start;
        let neblock = bsize / streams;
        for _ in 0..streams {
            let cbytes = le32(data, pos)? as i32;
            pos += 4;
            if cbytes <= 0 {
                // A run of one byte value (c-blosc2 writes these in Blosc 1 frames too).
                block.resize(block.len() + neblock, (-cbytes) as u8);
                continue;
            }
            let src = data
                .get(pos..pos + cbytes as usize)
                .ok_or_else(|| err(format!("block {j} is truncated")))?;
            pos += cbytes as usize;
            if cbytes as usize == neblock {
                block.extend_from_slice(src);
            } else {
                let got = compressor.decompress(src, neblock)?;
                if got.len() != neblock {
                    return Err(err(format!(
                        "block {j} decompresses to {} bytes, expected {neblock}",
                        got.len()
                    )));
                }
                block.extend_from_slice(&got);
            }
        }
        if flags & DOSHUFFLE != 0 && typesize > 1 {
            block = crate::codecs::unshuffle(&block, typesize);
        } else if flags & DOBITSHUFFLE != 0 {
            block = bitunshuffle(&block, typesize);
        }
        out.extend_from_slice(&block);
    }
    Ok(out)
}

/// Compresses `data` as one Blosc 1 block (no split, no shuffle) of Zstandard, or stored
/// uncompressed when that is not smaller.
pub(crate) fn encode(data: &[u8], typesize: usize) -> Vec<u8> {
    let n = data.len() as u32;
    let typesize = typesize.clamp(1, 255) as u8;
    let header = |flags: u8, ctbytes: usize| {
        let mut h = vec![2, 1, flags, typesize];
        for v in [n, n, ctbytes as u32] {
            h.extend_from_slice(&v.to_le_bytes());
        }
        h
    };
    let z = crate::encode::zstd(data);
    if z.len() + 8 >= data.len() {
        let mut out = header(MEMCPYED | DONT_SPLIT, HEADER + data.len());
        out.extend_from_slice(data);
        return out;
    }
    // Header, the offset of the only block, then its stream: length and bytes.
    let mut out = header(DONT_SPLIT | (4 << 5), HEADER + 8 + z.len());
    out.extend_from_slice(&((HEADER + 4) as u32).to_le_bytes());
    out.extend_from_slice(&(z.len() as u32).to_le_bytes());
    out.extend_from_slice(&z);
    out
}

#[derive(Clone, Copy)]
enum Compressor {
    BloscLz,
    Lz4,
    Zlib,
    Zstd,
}

impl Compressor {
    fn from_code(code: u8) -> Result<Compressor, FormatError> {
        match code {
            0 => Ok(Compressor::BloscLz),
            1 => Ok(Compressor::Lz4),
            3 => Ok(Compressor::Zlib),
            4 => Ok(Compressor::Zstd),
            2 => Err(err("the inner compressor snappy is not supported")),
            n => Err(err(format!("unknown inner compressor code {n}"))),
        }
    }

    fn decompress(self, src: &[u8], size: usize) -> Result<Vec<u8>, FormatError> {
        match self {
            Compressor::BloscLz => blosclz(src, size),
            Compressor::Lz4 => {
                let mut out = vec![0; size];
                let n =
                    lz4_flex::block::decompress_into(src, &mut out).map_err(|e| err(format!("lz4: {e}")))?;
                out.truncate(n);
                Ok(out)
            }
            Compressor::Zlib => {
                let mut out = Vec::with_capacity(size);
                flate2::read::ZlibDecoder::new(src)
                    .read_to_end(&mut out)
                    .map_err(|e| err(format!("zlib: {e}")))?;
                Ok(out)
            }
            Compressor::Zstd => crate::codecs::unzstd(src),
        }
    }
}

/// BloscLZ (a FastLZ level-1 variant): literal runs of `ctrl + 1` bytes (ctrl < 32), and matches
/// whose length and distance come from the control byte, extension bytes and (for far matches)
/// a 16-bit big-endian distance.
fn blosclz(src: &[u8], size: usize) -> Result<Vec<u8>, FormatError> {
    const MAX_DISTANCE: usize = 8191;
    let bad = || err("corrupt BloscLZ stream");
    let mut out: Vec<u8> = Vec::with_capacity(size);
    let mut ip = 0usize;
    let next = |ip: &mut usize| -> Result<usize, FormatError> {
        let b = *src.get(*ip).ok_or_else(bad)?;
        *ip += 1;
        Ok(usize::from(b))
    };
    let mut ctrl = next(&mut ip)? & 31;
    loop {
        if ctrl >= 32 {
            let mut len = (ctrl >> 5) - 1;
            let ofs = (ctrl & 31) << 8;
            if len == 6 {
                loop {
                    let code = next(&mut ip)?;
                    len += code;
                    if code != 255 {
                        break;
                    }
                }
            }
            let code = next(&mut ip)?;
            let mut distance = ofs + code + 1;
            if code == 255 && ofs == 31 << 8 {
                let far = (next(&mut ip)? << 8) | next(&mut ip)?;
                distance = far + MAX_DISTANCE + 1;
            }
            let len = len + 3;
            if distance > out.len() || out.len() + len > size {
                return Err(bad());
            }
            // Byte by byte: the source may overlap what is being written (runs).
            let from = out.len() - distance;
            for k in 0..len {
                let b = out[from + k];
                out.push(b);
            }
        } else {
            let n = ctrl + 1;
            let lit = src.get(ip..ip + n).ok_or_else(bad)?;
            if out.len() + n > size {
                return Err(bad());
            }
            out.extend_from_slice(lit);
            ip += n;
        }
        if ip >= src.len() {
            return Ok(out);
        }
        ctrl = next(&mut ip)?;
    }
}

/// Reverses bitshuffle (Masui et al. 2015, "A compression scheme for radio data in high
/// performance computing"): bit `k` of byte `b` of every element was stored in bit-plane row
/// `8 b + k`, element `i` at bit `i % 8` of byte `i / 8` of the row. Blosc format version 2
/// leaves blocks whose element count is not a multiple of 8 unshuffled.
fn bitunshuffle(data: &[u8], typesize: usize) -> Vec<u8> {
    let n = data.len() / typesize;
    if !n.is_multiple_of(8) || n == 0 {
        return data.to_vec();
    }
    let row = n / 8;
    let mut out = data.to_vec();
    // Eight elements at a time: byte `j` of the 8 planes of byte `b` is an 8×8 bit matrix whose
    // transpose holds byte `b` of elements 8j..8j+8.
    for b in 0..typesize {
        for j in 0..row {
            let mut m = [0u8; 8];
            for (k, slot) in m.iter_mut().enumerate() {
                *slot = data[(b * 8 + k) * row + j];
            }
            let t = transpose8(u64::from_le_bytes(m)).to_le_bytes();
            for (i, byte) in t.iter().enumerate() {
                out[(8 * j + i) * typesize + b] = *byte;
            }
        }
    }
    out
}

/// Transposes an 8×8 bit matrix (row `r` in byte `r`, column `c` in bit `c`), by swapping 2×2,
/// then 4×4, then 8×8 blocks (Warren, "Hacker's Delight", 2nd ed., §7-3).
fn transpose8(mut x: u64) -> u64 {
    let t = (x ^ (x >> 7)) & 0x00AA_00AA_00AA_00AA;
    x ^= t ^ (t << 7);
    let t = (x ^ (x >> 14)) & 0x0000_CCCC_0000_CCCC;
    x ^= t ^ (t << 14);
    let t = (x ^ (x >> 28)) & 0x0000_0000_F0F0_F0F0;
    x ^ t ^ (t << 28)
}

#[cfg(test)]
mod tests {
    use super::*;

    // numcodecs 0.16.6 Blosc(clevel=5, blocksize=128).encode(u16 values (7 i mod 23) + 1000, i < 150).
    const FIXTURES: [(&str, &str); 4] = [
        (
            "blosclz shuffle",
            "020111022c010000800000009a0000001c00000073000000430000002300000036e8eff6fdedf4fbebf2f9e9f0f7feeef5fcecf3faeaf1f8e020160003e034000103032c000000feeef5fcecf3faeaf1f8e8eff6fdedf4fbebf2f9e9f0030303030303030303030303030303030303030303032300000036f3faeaf1f8e8eff6fdedf4fbebf2f9e9f0f7feeef5fcece020160003e03400010303",
        ),
        (
            "lz4 bitshuffle",
            "020134022c01000080000000ce0000001c0000005d0000009e0000003d000000ff1eda96246d4b92b625c6711ce3388e711c3ef0031ff8810ffcdb66db6db3edb6d96cbb6db6dd36db6effffffffff0500101f000100175000000000003d000000ff1e49db92a46d49d2b6c7388e631cc7318ec0077ee0033ff08176db6cbb6db6dd369b6db7cdb6db66dbffffffffff0500101f000100175000000000002c000000fe03ee03f503fc03ec03f303fa03ea03f103f803e803ef03f603fd03ed03f403fb03eb03f203f903e903f003",
        ),
        (
            "zlib",
            "020170022c01000080000000b90000001c000000530000008900000033000000785eadca591640200000c08fb9ff3d234bb244e1b984f99e6076788c364d945d3a49f19aec6e8355d55b9cc2effb039b753d8032000000785eadca4b1640200000c0c5dcff9ef9a71085e712663d59d55b9d82c5e131d93483e4d2898ad76c771be5dff7079bf53d772c000000fe03ee03f503fc03ec03f303fa03ea03f103f803e803ef03f603fd03ed03f403fb03eb03f203f903e903f003",
        ),
        (
            "zstd shuffle",
            "020191022c01000080000000a80000001c0000004a000000780000002a00000028b52ffd20800d0100c0e8eff6fdedf4fbebf2f9e9f0f7feeef5fcecf3faeaf1f8030200c449228566132a00000028b52ffd20800d0100c0f3faeaf1f8e8eff6fdedf4fbebf2f9e9f0f7feeef5fcec030200c449228566132c000000feeef5fcecf3faeaf1f8e8eff6fdedf4fbebf2f9e9f003030303030303030303030303030303030303030303",
        ),
    ];

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn decodes_numcodecs_output() {
        let want: Vec<u8> = (0..150u16)
            .flat_map(|i| ((i * 7) % 23 + 1000).to_le_bytes())
            .collect();
        for (what, hex) in FIXTURES {
            assert_eq!(decode(&unhex(hex)).unwrap(), want, "{what}");
        }
    }

    #[test]
    fn truncated_input_is_an_error() {
        let full = unhex(FIXTURES[0].1);
        for n in 0..full.len() {
            assert!(decode(&full[..n]).is_err(), "prefix {n} accepted");
        }
    }

    /// Bit by bit, straight from the definition.
    fn bitunshuffle_naive(data: &[u8], typesize: usize) -> Vec<u8> {
        let n = data.len() / typesize;
        let row = n / 8;
        let mut out = vec![0u8; data.len()];
        for b in 0..typesize {
            for k in 0..8 {
                for i in 0..n {
                    let bit = (data[(b * 8 + k) * row + i / 8] >> (i % 8)) & 1;
                    out[i * typesize + b] |= bit << k;
                }
            }
        }
        out
    }

    #[test]
    fn bitunshuffle_matches_the_definition() {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let data: Vec<u8> = (0..4 * 64)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        for typesize in [1, 2, 4, 8] {
            assert_eq!(bitunshuffle(&data, typesize), bitunshuffle_naive(&data, typesize));
        }
    }

    #[test]
    fn bitunshuffle_round_trips_one_byte_planes() {
        // 8 one-byte elements: element i has only bit i set → plane k holds byte 1 << k.
        let shuffled: Vec<u8> = (0..8).map(|k| 1u8 << k).collect();
        let want: Vec<u8> = (0..8).map(|i| 1u8 << i).collect();
        assert_eq!(bitunshuffle(&shuffled, 1), want);
    }
}
