//! Any bytes through every codec chain the scanners produce: errors, never panics.
#![no_main]

use hod_core::{ArrayMeta, Codec, DType, Endian};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else { return };
    let chains: [&[Codec]; 7] = [
        &[Codec::Zlib],
        &[Codec::Zlib, Codec::Shuffle { element_size: 4 }],
        &[Codec::Lzw],
        &[Codec::Zlib, Codec::HorizontalPredictor { row_samples: 16, samples_per_pixel: 1 }],
        &[Codec::Lzw, Codec::FloatingPointPredictor { row_samples: 16, samples_per_pixel: 1 }],
        &[Codec::Grib { edition: 1 }],
        &[Codec::Grib { edition: 2 }],
    ];
    let mut meta = ArrayMeta::new(vec!["y".into(), "x".into()], vec![16, 16], vec![16, 16], DType::F32, Endian::Little);
    meta.codecs = chains[sel as usize % chains.len()].to_vec();
    let _ = hod_formats::decode_chunk(&meta, rest);
});
