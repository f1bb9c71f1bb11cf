//! Any bytes as a manifest shard: a clear error, never a panic or a huge allocation.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = hod_index::Shard::decode("fuzz", data);
});
