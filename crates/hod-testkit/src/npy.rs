//! NumPy `.npy` files (format version 1.0), to hand arrays to the Python side of interop tests.

use std::fmt::Display;
use std::path::Path;

/// Writes `values` (C order) as a little-endian float64 `.npy` array of `shape`.
#[track_caller]
pub fn write_f64<T: Display>(path: &Path, shape: &[T], values: &[f64]) {
    let dims: Vec<String> = shape.iter().map(T::to_string).collect();
    let shape = match dims.as_slice() {
        [one] => format!("({one},)"),
        _ => format!("({})", dims.join(", ")),
    };
    let mut header = format!("{{'descr': '<f8', 'fortran_order': False, 'shape': {shape}, }}");
    // Magic (6) + version (2) + header length (2) + header, newline-terminated, is a multiple of
    // 64 bytes (the format's alignment).
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    values
        .iter()
        .for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
    std::fs::write(path, out).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}
