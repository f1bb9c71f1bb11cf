//! The HDF5 Fletcher-32 filter: a checksum of the data appended as 4 little-endian bytes.

use crate::FormatError;

/// Checks and strips the Fletcher-32 checksum that ends `buf` (HDF5's `H5Z_filter_fletcher32`,
/// which also accepts the byte-swapped sum written by HDF5 1.6.0 to 1.6.2).
///
/// # Errors
/// [`FormatError::Decode`] when the data is shorter than a checksum or the sum differs.
pub(crate) fn fletcher32(mut buf: Vec<u8>) -> Result<Vec<u8>, FormatError> {
    let n = buf
        .len()
        .checked_sub(4)
        .ok_or_else(|| FormatError::Decode("fletcher32: chunk shorter than its checksum".into()))?;
    let stored = u32::from_le_bytes([buf[n], buf[n + 1], buf[n + 2], buf[n + 3]]);
    let sum = checksum(&buf[..n]);
    let swapped = ((sum & 0x00ff_00ff) << 8) | ((sum >> 8) & 0x00ff_00ff);
    if stored != sum && stored != swapped {
        return Err(FormatError::Decode(format!(
            "fletcher32: checksum {stored:#010x} stored, {sum:#010x} computed"
        )));
    }
    buf.truncate(n);
    Ok(buf)
}

/// `H5_checksum_fletcher32`: big-endian 16-bit words, sums folded every 360 words, an odd last
/// byte taken as a word's high byte.
fn checksum(data: &[u8]) -> u32 {
    let fold = |s: u32| (s & 0xffff) + (s >> 16);
    let (mut s1, mut s2) = (0u32, 0u32);
    let words = data.len() / 2 * 2;
    for block in data[..words].chunks(720) {
        for w in block.chunks_exact(2) {
            s1 += (u32::from(w[0]) << 8) | u32::from(w[1]);
            s2 += s1;
        }
        s1 = fold(s1);
        s2 = fold(s2);
    }
    if let Some(&last) = data.get(words) {
        s1 += u32::from(last) << 8;
        s2 += s1;
        s1 = fold(s1);
        s2 = fold(s2);
    }
    (fold(s2) << 16) | fold(s1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_a_valid_checksum_and_refuses_a_wrong_one() {
        let data = b"abcde".to_vec();
        let mut ok = data.clone();
        ok.extend(checksum(&data).to_le_bytes());
        assert_eq!(fletcher32(ok.clone()).unwrap(), data);
        ok[0] ^= 1;
        assert!(fletcher32(ok).is_err());
        assert!(fletcher32(vec![1, 2]).is_err());
    }
}
