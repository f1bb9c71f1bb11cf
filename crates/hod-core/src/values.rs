//! Chunk bytes → numbers, and placing chunks into a whole array (shared by every reader).

use crate::{ArrayMeta, DType, Endian};

/// Converts decoded chunk bytes (`dtype`, `endian`) to `f64`.
pub fn to_f64(dtype: DType, endian: Endian, bytes: &[u8]) -> Vec<f64> {
    let mut out = vec![0.0; bytes.len() / dtype.size().max(1)];
    to_f64_into(dtype, endian, bytes, &mut out);
    out
}

/// Converts decoded bytes (`dtype`, `endian`) to `f64` in place of `out`'s first elements (as
/// many as both hold): a run of a chunk straight into its place in a larger array.
pub fn to_f64_into(dtype: DType, endian: Endian, bytes: &[u8], out: &mut [f64]) {
    macro_rules! conv {
        ($t:ty, $n:expr) => {
            for (o, b) in out.iter_mut().zip(bytes.chunks_exact($n)) {
                let mut a = [0u8; $n];
                a.copy_from_slice(b);
                *o = (match endian {
                    Endian::Little => <$t>::from_le_bytes(a),
                    Endian::Big => <$t>::from_be_bytes(a),
                }) as f64;
            }
        };
    }
    match dtype {
        DType::Bool | DType::U8 => out.iter_mut().zip(bytes).for_each(|(o, &b)| *o = b as f64),
        DType::I8 => out.iter_mut().zip(bytes).for_each(|(o, &b)| *o = b as i8 as f64),
        DType::I16 => conv!(i16, 2),
        DType::U16 => conv!(u16, 2),
        DType::I32 => conv!(i32, 4),
        DType::U32 => conv!(u32, 4),
        DType::I64 => conv!(i64, 8),
        DType::U64 => conv!(u64, 8),
        DType::F32 => conv!(f32, 4),
        DType::F64 => conv!(f64, 8),
    }
}

/// Copies chunk `index` (full chunk-shaped `chunk` values) into the C-order array `out` of
/// `meta.shape`, cropping at the array edges.
pub fn place<T: Copy>(meta: &ArrayMeta, index: &[u64], chunk: &[T], out: &mut [T]) {
    let rank = meta.shape.len();
    if index.len() != rank || meta.chunks.len() != rank {
        return;
    }
    if rank == 0 {
        if let (Some(o), Some(c)) = (out.first_mut(), chunk.first()) {
            *o = *c;
        }
        return;
    }
    let start: Vec<u64> = index.iter().zip(&meta.chunks).map(|(i, c)| i * c).collect();
    let extent: Vec<u64> = (0..rank)
        .map(|d| meta.chunks[d].min(meta.shape[d].saturating_sub(start[d])))
        .collect();
    if extent.contains(&0) {
        return;
    }
    // Iterate over all rows (all dims but the last) of the cropped chunk.
    let row = extent[rank - 1] as usize;
    let mut pos = vec![0u64; rank - 1];
    loop {
        let mut src = 0u64;
        let mut dst = 0u64;
        for d in 0..rank - 1 {
            src = src * meta.chunks[d] + pos[d];
            dst = dst * meta.shape[d] + start[d] + pos[d];
        }
        let src = (src * meta.chunks[rank - 1]) as usize;
        let dst = (dst * meta.shape[rank - 1] + start[rank - 1]) as usize;
        if let (Some(s), Some(o)) = (chunk.get(src..src + row), out.get_mut(dst..dst + row)) {
            o.copy_from_slice(s);
        }
        // Next row position (odometer over the leading dims).
        let mut d = rank - 1;
        loop {
            if d == 0 {
                return;
            }
            d -= 1;
            pos[d] += 1;
            if pos[d] < extent[d] {
                break;
            }
            pos[d] = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_edge_chunks() {
        let meta = ArrayMeta::new(
            vec!["y".into(), "x".into()],
            vec![3, 3],
            vec![2, 2],
            DType::F64,
            Endian::Little,
        );
        let mut out = vec![0.0; 9];
        for (idx, base) in [([0, 0], 1.0), ([0, 1], 10.0), ([1, 0], 100.0), ([1, 1], 1000.0)] {
            let chunk: Vec<f64> = (0..4).map(|k| base * (k + 1) as f64).collect();
            place(&meta, &idx, &chunk, &mut out);
        }
        assert_eq!(out, vec![1.0, 2.0, 10.0, 3.0, 4.0, 30.0, 100.0, 200.0, 1000.0]);
    }

    #[test]
    fn converts_big_endian() {
        assert_eq!(
            to_f64(DType::I16, Endian::Big, &[0xff, 0xfe, 0x00, 0x02]),
            vec![-2.0, 2.0]
        );
    }
}
