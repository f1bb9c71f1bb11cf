//! Any bytes through the format sniffer and every scanner: errors, never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let src = hod_formats::SliceSource(data);
    if let Ok(file) = hod_formats::scan(&src, &hod_formats::ScanOptions::default()) {
        // Every reference a scanner returns must lie inside the object.
        for v in &file.variables {
            for c in &v.chunks {
                if let hod_core::ChunkLoc::Range { offset, length } = c.loc {
                    assert!(offset.saturating_add(length) <= data.len() as u64);
                }
            }
        }
    }
});
