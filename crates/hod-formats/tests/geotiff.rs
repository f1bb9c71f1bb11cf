//! GeoTIFF scanner and TIFF decoders on real files (`$HOD_TEST_DATA`) and on small fixtures
//! written by GDAL (`tests/data/make_fixtures.py`). Reference figures come from rasterio 1.4.4
//! (GDAL 3.10.3) reading the same files.

// Test helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used, clippy::panic)]

use hod_core::{ArrayMeta, ChunkLoc, Codec, DType, Endian, ScannedFile, ScannedVariable};
use hod_formats::{FileSource, FormatError, ReadAt, SliceSource, decode_chunk, geotiff};
use hod_testkit::data::path as data;
use proptest::prelude::*;
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data")).join(name)
}

fn open(path: PathBuf) -> (FileSource, ScannedFile) {
    let src = FileSource::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let file = geotiff::scan(&src).unwrap();
    (src, file)
}

/// One decoded element as f64 (exact for every type up to 32 bits).
fn element(meta: &ArrayMeta, b: &[u8]) -> f64 {
    let mut a = [0u8; 8];
    let n = b.len();
    match meta.endian {
        Endian::Little => a[..n].copy_from_slice(b),
        Endian::Big => a[..n].iter_mut().zip(b.iter().rev()).for_each(|(d, s)| *d = *s),
    }
    let u = u64::from_le_bytes(a);
    match meta.dtype {
        DType::U8 | DType::U16 | DType::U32 | DType::U64 => u as f64,
        DType::I8 => f64::from(u as u8 as i8),
        DType::I16 => f64::from(u as u16 as i16),
        DType::I32 => f64::from(u as u32 as i32),
        DType::I64 => u as i64 as f64,
        DType::F32 => f64::from(f32::from_bits(u as u32)),
        DType::F64 => f64::from_bits(u),
        other => panic!("{other:?}"),
    }
}

/// The whole array in C order: every chunk read, decoded, placed and cropped at the edges;
/// absent chunks hold the fill value.
fn assemble(src: &dyn ReadAt, var: &ScannedVariable) -> Vec<f64> {
    let meta = &var.meta;
    let total: u64 = meta.shape.iter().product();
    let mut out = vec![meta.fill_value.unwrap_or(0.0); total as usize];
    let size = meta.dtype.size();
    for entry in &var.chunks {
        let stored = match &entry.loc {
            ChunkLoc::Range { offset, length } => src.read_at(*offset, *length).unwrap(),
            ChunkLoc::Inline(b) => b.clone(),
        };
        let decoded = decode_chunk(meta, &stored).unwrap();
        let mut pos = vec![0u64; meta.shape.len()];
        for (k, b) in decoded.chunks_exact(size).enumerate() {
            // Position inside the chunk, innermost dimension last.
            let (mut rem, mut flat, mut inside) = (k as u64, 0u64, true);
            for d in (0..meta.shape.len()).rev() {
                pos[d] = entry.index[d] * meta.chunks[d] + rem % meta.chunks[d];
                rem /= meta.chunks[d];
                inside &= pos[d] < meta.shape[d];
            }
            if !inside {
                continue;
            }
            for (p, s) in pos.iter().zip(&meta.shape) {
                flat = flat * s + p;
            }
            out[flat as usize] = element(meta, b);
        }
    }
    out
}

fn band(src: &dyn ReadAt, file: &ScannedFile) -> Vec<f64> {
    assemble(src, file.variable("band_data").unwrap())
}

fn coord(src: &dyn ReadAt, file: &ScannedFile, name: &str) -> Vec<f64> {
    let v = file.variable(name).unwrap();
    assert_eq!((v.meta.dtype, v.meta.endian), (DType::F64, Endian::Little));
    assemble(src, v)
}

fn int_sums(values: &[f64]) -> (i64, i64) {
    let sum = values.iter().map(|&v| v as i64).sum();
    let weighted = values
        .iter()
        .enumerate()
        .map(|(i, &v)| (i as i64 + 1) * v as i64)
        .sum();
    (sum, weighted)
}

#[test]
fn dem_tif_matches_rasterio() {
    let (src, file) = open(data("dem/dem.tif"));
    let var = file.variable("band_data").unwrap();
    let m = &var.meta;
    assert_eq!(m.dims, ["y", "x"]);
    assert_eq!(
        (m.shape.as_slice(), m.chunks.as_slice()),
        (&[359, 367][..], &[16, 16][..])
    );
    assert_eq!(
        (m.dtype, m.endian, m.fill_value),
        (DType::I16, Endian::Little, Some(-32768.0))
    );
    assert!(m.codecs.is_empty());
    assert_eq!(var.chunks.len(), 23 * 23);
    assert_eq!(m.attrs["crs"], "EPSG:4326");
    assert_eq!(file.attrs["crs"], "EPSG:4326");
    assert_eq!(
        m.attrs["GeoTransform"],
        "-97.4849999999961 0.0008333333333333 0.0 32.82166666666536 0.0 -0.0008333333333333"
    );

    let a = band(&src, &file);
    // rasterio: sum, sum((i+1)*v) in C order, first row, last values; all 131753 pixels valid.
    assert_eq!(int_sums(&a), (27262145, 1890119111343));
    assert_eq!(a[..8], [214.0, 212.0, 210.0, 209.0, 208.0, 208.0, 205.0, 203.0]);
    assert_eq!(a[a.len() - 4..], [215.0, 216.0, 217.0, 216.0]);
    let min = a.iter().copied().fold(f64::INFINITY, f64::min);
    let max = a.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    assert_eq!((min, max), (147.0, 298.0));
    assert!((a.iter().sum::<f64>() / a.len() as f64 - 206.9186).abs() < 1e-4);

    // rasterio `ds.xy(row, col)`: pixel centres.
    let (x, y) = (coord(&src, &file, "x"), coord(&src, &file, "y"));
    assert_eq!((x.len(), y.len()), (367, 359));
    assert_eq!((x[0], y[0]), (-97.48458333332944, 32.82124999999869));
    assert_eq!((x[366], y[358]), (-97.17958333332945, 32.52291666666537));
    let xm = &file.variable("x").unwrap().meta.attrs;
    assert_eq!(
        (&xm["standard_name"], &xm["units"], &xm["axis"]),
        (&"longitude".into(), &"degrees_east".into(), &"X".into())
    );
    assert_eq!(
        file.variable("y").unwrap().meta.attrs["standard_name"],
        "latitude"
    );
}

#[test]
fn dem_cog_deflate_predictor_equals_dem_tif() {
    let (src, file) = open(data("dem/dem_cog.tif"));
    let var = file.variable("band_data").unwrap();
    assert_eq!(var.meta.chunks, [128, 128]);
    assert_eq!(
        var.meta.codecs,
        [
            Codec::Zlib,
            Codec::HorizontalPredictor {
                row_samples: 128,
                samples_per_pixel: 1
            }
        ]
    );
    assert_eq!(var.chunks.len(), 9);
    assert_eq!(file.attrs["overviews"], 2);
    assert_eq!(file.attrs["compression"], "deflate");
    let a = band(&src, &file);
    assert_eq!(int_sums(&a), (27262145, 1890119111343));
    let (src0, file0) = open(data("dem/dem.tif"));
    assert_eq!(a, band(&src0, &file0));
    assert_eq!(coord(&src, &file, "x"), coord(&src0, &file0, "x"));
    assert_eq!(coord(&src, &file, "y"), coord(&src0, &file0, "y"));
}

#[test]
fn roi_float32_user_defined_lcc_in_us_feet() {
    let (src, file) = open(data("dem/roi.tif"));
    let m = &file.variable("band_data").unwrap().meta;
    assert_eq!((m.dtype, m.shape.as_slice()), (DType::F32, &[100, 70][..]));
    // rasterio: nodata -3.4028234663852886e+38 (float32 lowest).
    assert_eq!(m.fill_value, Some(f64::from(f32::MIN)));
    // rasterio `crs.to_proj4()`: +proj=lcc +lat_0=36.3333333333333 +lon_0=-85.75
    // +lat_1=37.0833333333333 +lat_2=38.6666666666667 +x_0=1500000 +y_0=1000000 +ellps=GRS80
    // +towgs84=0,0,0,0,0,0,0 +units=us-ft (EPSG:3089).
    assert_eq!(
        m.attrs["crs_proj4"],
        "+proj=lcc +lat_0=36.3333333333333 +lon_0=-85.75 +lat_1=37.0833333333333 \
         +lat_2=38.6666666666667 +x_0=1500000 +y_0=1000000 +a=6378137 +rf=298.257222101 \
         +towgs84=0,0,0 +units=us-ft +no_defs"
    );
    let a = band(&src, &file);
    let bits: Vec<u64> = a.iter().map(|&v| u64::from((v as f32).to_bits())).collect();
    // numpy over rasterio's array: sum of the float32 bit patterns, and sum((i+1)*bits) mod 2^64.
    assert_eq!(bits.iter().sum::<u64>(), 8048960090120);
    let weighted = bits
        .iter()
        .enumerate()
        .fold(0u64, |s, (i, &b)| s.wrapping_add(b.wrapping_mul(i as u64 + 1)));
    assert_eq!(weighted, 28173423506561460);
    assert_eq!(a[..3], [1238.5999755859375, 1245.0999755859375, 1255.0]);
    let (x, y) = (coord(&src, &file, "x"), coord(&src, &file, "y"));
    assert_eq!(
        (x[0], y[0], x[69], y[99]),
        (
            5494039.078735352,
            3798098.1989746094,
            5496109.078735352,
            3795128.1989746094
        )
    );
    let xm = &file.variable("x").unwrap().meta.attrs;
    assert_eq!(
        (&xm["standard_name"], &xm["units"]),
        (&"projection_x_coordinate".into(), &"US survey foot".into())
    );
}

#[test]
fn lcmap_cog_albers_classes() {
    let (src, file) = open(data("landuse/lcmap_tiny_cog_2019.tif"));
    let var = file.variable("band_data").unwrap();
    assert_eq!((var.meta.dtype, var.meta.fill_value), (DType::U8, Some(0.0)));
    assert_eq!(
        (var.meta.chunks.as_slice(), var.chunks.len()),
        (&[512, 512][..], 16)
    );
    assert_eq!(
        var.meta.attrs["crs"],
        "+proj=aea +lat_0=23 +lon_0=-96 +lat_1=29.5 +lat_2=45.5 +x_0=0 +y_0=0 +a=6378140 \
         +rf=298.256999999996 +units=m +no_defs"
    );
    assert_eq!(
        var.meta.attrs["GeoTransform"],
        "-1801185.0 30.0 0.0 2700405.0 0.0 -30.0"
    );
    let a = band(&src, &file);
    let mut counts = [0u64; 9];
    a.iter().for_each(|&v| counts[v as usize] += 1);
    assert_eq!(counts, [0, 7656, 5764, 1331151, 2834994, 657, 13941, 0, 141]);
    assert_eq!(int_sums(&a), (15440672, 32989724823612));
    let (x, y) = (coord(&src, &file, "x"), coord(&src, &file, "y"));
    assert_eq!(
        (x[0], y[0], x[2047], y[2047]),
        (-1801170.0, 2700390.0, -1739760.0, 2638980.0)
    );
}

/// The fixtures' pixel values, as `make_fixtures.py` writes them; `(band, row, col)`.
fn expected(dtype: DType, b: u64, r: u64, c: u64) -> f64 {
    if dtype.is_float() {
        let v = (r * 45 + c) as f64 * 0.25 - 100.5 + b as f64 * 1000.0;
        if dtype == DType::F32 {
            f64::from(v as f32)
        } else {
            v
        }
    } else {
        let v = ((r * 37 + c * 11 + b * 101) % 251) as f64;
        if dtype == DType::I32 { -v } else { v }
    }
}

/// Checks every pixel of a fixture against `expected`, with the band axis where `dims` says.
fn check_fixture(name: &str, dims: &[&str], codecs: &[Codec]) -> (FileSource, ScannedFile) {
    let (src, file) = open(fixture(name));
    let var = file.variable("band_data").unwrap();
    assert_eq!(var.meta.dims, dims, "{name}");
    assert_eq!(var.meta.codecs, codecs, "{name}");
    let a = band(&src, &file);
    let bands = a.len() as u64 / (45 * 37);
    for (i, &v) in a.iter().enumerate() {
        let i = i as u64;
        let (b, r, c) = match dims {
            ["y", "x", "band"] => (i % bands, i / bands / 45, i / bands % 45),
            _ => (i / (45 * 37), i / 45 % 37, i % 45),
        };
        assert_eq!(
            v,
            expected(var.meta.dtype, b, r, c),
            "{name} band {b} row {r} col {c}"
        );
    }
    (src, file)
}

#[test]
fn lzw_horizontal_predictor_pixel_interleaved_strips() {
    let (_, file) = check_fixture(
        "u16_3band_pixel_lzw_pred2_strips.tif",
        &["y", "x", "band"],
        &[
            Codec::Lzw,
            Codec::HorizontalPredictor {
                row_samples: 135,
                samples_per_pixel: 3,
            },
        ],
    );
    let var = file.variable("band_data").unwrap();
    assert_eq!(
        (var.meta.chunks.as_slice(), var.chunks.len()),
        (&[5, 45, 3][..], 8)
    );
    assert_eq!(file.attrs["rows_per_strip"], 5);
}

#[test]
fn lzw_floating_point_predictor_bigtiff_big_endian_tiles() {
    let (src, file) = check_fixture(
        "f32_lzw_pred3_bigtiff_be_tiled.tif",
        &["y", "x"],
        &[
            Codec::Lzw,
            Codec::FloatingPointPredictor {
                row_samples: 16,
                samples_per_pixel: 1,
            },
        ],
    );
    let var = file.variable("band_data").unwrap();
    assert_eq!(var.meta.endian, Endian::Big);
    assert!(var.meta.fill_value.unwrap().is_nan());
    assert_eq!(
        (&file.attrs["bigtiff"], &file.attrs["byte_order"]),
        (&true.into(), &"big".into())
    );
    // rasterio: ds.xy(0, 0) and ds.xy(36, 44).
    let (x, y) = (coord(&src, &file, "x"), coord(&src, &file, "y"));
    assert_eq!((x[0], y[0], x[44], y[36]), (10.25, 49.875, 32.25, 40.875));
}

#[test]
fn lzw_floating_point_predictor_two_float64_samples_per_pixel() {
    let (_, file) = check_fixture(
        "f64_2band_pixel_lzw_pred3.tif",
        &["y", "x", "band"],
        &[
            Codec::Lzw,
            Codec::FloatingPointPredictor {
                row_samples: 90,
                samples_per_pixel: 2,
            },
        ],
    );
    assert_eq!(file.variable("band_data").unwrap().meta.fill_value, Some(-9999.0));
}

#[test]
fn deflate_separate_planes_big_endian_pixel_is_point() {
    let (src, file) = check_fixture(
        "i32_2band_band_deflate_pred2_tiled_be_point.tif",
        &["band", "y", "x"],
        &[
            Codec::Zlib,
            Codec::HorizontalPredictor {
                row_samples: 16,
                samples_per_pixel: 1,
            },
        ],
    );
    let var = file.variable("band_data").unwrap();
    assert_eq!(
        (var.meta.chunks.as_slice(), var.chunks.len()),
        (&[1, 16, 16][..], 18)
    );
    assert_eq!(var.meta.attrs["AREA_OR_POINT"], "Point");
    assert_eq!(var.meta.attrs["crs"], "EPSG:32633");
    // rasterio: transform (500000, 30, 0, 4000000, 0, -30); ds.xy(0, 0) and ds.xy(36, 44).
    assert_eq!(
        var.meta.attrs["GeoTransform"],
        "500000.0 30.0 0.0 4000000.0 0.0 -30.0"
    );
    let (x, y) = (coord(&src, &file, "x"), coord(&src, &file, "y"));
    assert_eq!(
        (x[0], y[0], x[44], y[36]),
        (500015.0, 3999985.0, 501335.0, 3998905.0)
    );
    assert_eq!(file.variable("x").unwrap().meta.attrs["units"], "metre");
}

#[test]
fn sparse_tiles_have_no_chunk_entry() {
    let (src, file) = open(fixture("u8_sparse_tiled.tif"));
    let var = file.variable("band_data").unwrap();
    assert_eq!(var.chunks.len(), 1);
    assert_eq!(var.chunks[0].index, [0, 0]);
    let a = band(&src, &file);
    assert_eq!(a.iter().filter(|&&v| v == 7.0).count(), 256);
    assert_eq!(a.iter().filter(|&&v| v == 0.0).count(), 45 * 37 - 256);
    // No georeferencing: rasterio's identity transform gives centres 0.5, 1.5, …
    assert_eq!(coord(&src, &file, "x")[..2], [0.5, 1.5]);
    assert!(!file.variable("band_data").unwrap().meta.attrs.contains_key("crs"));
}

#[test]
fn jpeg_is_unsupported_naming_the_compression() {
    let src = FileSource::open(fixture("u8_jpeg.tif")).unwrap();
    let err = geotiff::scan(&src).unwrap_err();
    assert!(matches!(err, FormatError::Unsupported { .. }), "{err}");
    assert!(err.to_string().contains("compression 7 (jpeg)"), "{err}");
}

#[test]
fn hand_built_striped_little_endian_tiff() {
    // 3x2 uint8, no compression, one row per strip, no georeferencing.
    let mut t = vec![b'I', b'I', 42, 0, 8, 0, 0, 0];
    let entries: [(u16, u16, u32, u32); 7] = [
        (256, 3, 1, 3),
        (257, 3, 1, 2),
        (258, 3, 1, 8),
        (273, 4, 2, 0), // patched below: offsets array
        (277, 3, 1, 1),
        (278, 3, 1, 1),
        (279, 3, 2, 0x0003_0003), // two SHORT counts of 3, inline
    ];
    let ifd_len = 2 + entries.len() * 12 + 4;
    let offsets_at = 8 + ifd_len as u32;
    let pixels_at = offsets_at + 8;
    t.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    for (tag, typ, count, value) in entries {
        let value = if tag == 273 { offsets_at } else { value };
        for part in [
            &tag.to_le_bytes()[..],
            &typ.to_le_bytes(),
            &count.to_le_bytes(),
            &value.to_le_bytes(),
        ] {
            t.extend_from_slice(part);
        }
    }
    t.extend_from_slice(&0u32.to_le_bytes());
    t.extend_from_slice(&pixels_at.to_le_bytes());
    t.extend_from_slice(&(pixels_at + 3).to_le_bytes());
    t.extend_from_slice(&[1, 2, 3, 4, 5, 6]);
    let src = SliceSource(&t);
    let file = geotiff::scan(&src).unwrap();
    // The format is sniffed from the magic bytes.
    assert_eq!(hod_formats::scan(&src, &Default::default()).unwrap(), file);
    let var = file.variable("band_data").unwrap();
    assert_eq!((var.meta.chunks.as_slice(), var.chunks.len()), (&[1, 3][..], 2));
    assert_eq!(band(&src, &file), [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
}

/// Records every read, to prove the scanner never touches the image data.
struct Recording<'a>(SliceSource<'a>, std::sync::Mutex<Vec<(u64, u64)>>);

impl ReadAt for Recording<'_> {
    fn size(&self) -> u64 {
        self.0.size()
    }
    fn read_at(&self, offset: u64, len: u64) -> std::io::Result<Vec<u8>> {
        self.1.lock().unwrap().push((offset, len));
        self.0.read_at(offset, len)
    }
}

#[test]
fn scan_reads_headers_and_tag_arrays_only() {
    for path in [
        data("dem/dem.tif"),
        data("dem/dem_cog.tif"),
        data("landuse/lcmap_tiny_cog_2019.tif"),
    ] {
        let bytes = std::fs::read(&path).unwrap();
        let src = Recording(SliceSource(&bytes), Default::default());
        let file = geotiff::scan(&src).unwrap();
        let reads = src.1.into_inner().unwrap();
        for entry in &file.variable("band_data").unwrap().chunks {
            let ChunkLoc::Range { offset, length } = entry.loc else {
                panic!()
            };
            for &(o, l) in &reads {
                assert!(
                    o + l <= offset || o >= offset + length,
                    "{path:?}: read {o}+{l} hits a chunk"
                );
            }
        }
        assert!(
            reads.iter().map(|r| r.1).sum::<u64>() < 16 * 1024,
            "{path:?}: {reads:?}"
        );
    }
}

fn dem_cog_bytes() -> &'static [u8] {
    static BYTES: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    BYTES.get_or_init(|| std::fs::read(data("dem/dem_cog.tif")).unwrap())
}

/// Scans and, when that works, decodes every chunk; only panics matter here.
fn scan_and_decode(bytes: &[u8]) {
    let src = SliceSource(bytes);
    if let Ok(file) = geotiff::scan(&src) {
        for var in &file.variables {
            for entry in &var.chunks {
                let stored = match &entry.loc {
                    ChunkLoc::Range { offset, length } => src.read_at(*offset, *length).unwrap(),
                    ChunkLoc::Inline(b) => b.clone(),
                };
                let _ = decode_chunk(&var.meta, &stored);
            }
        }
    }
}

fn garbage_meta(codecs: Vec<Codec>, dtype: DType) -> ArrayMeta {
    let mut m = ArrayMeta::new(
        vec!["y".into(), "x".into()],
        vec![16, 16],
        vec![16, 16],
        dtype,
        Endian::Big,
    );
    m.codecs = codecs;
    m
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn truncated_dem_cog_never_panics(len in 0usize..98235) {
        scan_and_decode(&dem_cog_bytes()[..len]);
    }

    #[test]
    fn flipped_dem_cog_never_panics(flips in proptest::collection::vec((0usize..2048, any::<u8>()), 1..8)) {
        // Flips in the headers and tag arrays (the first tile starts at 31484, the IFDs are
        // within the first 2 KiB), plus one in the data of each tile via the modulo.
        let mut b = dem_cog_bytes().to_vec();
        for (at, x) in &flips {
            b[*at] ^= x | 1;
            let in_data = 31484 + at * 31 % (b.len() - 31484);
            b[in_data] ^= x;
        }
        scan_and_decode(&b);
    }

    #[test]
    fn garbage_to_tiff_decoders_never_panics(
        bytes in proptest::collection::vec(any::<u8>(), 0..1200),
        row in 0usize..40,
        spp in 0usize..4,
        which in 0usize..5,
    ) {
        let codecs = match which {
            0 => vec![Codec::Lzw],
            1 => vec![Codec::HorizontalPredictor { row_samples: row, samples_per_pixel: spp }],
            2 => vec![Codec::FloatingPointPredictor { row_samples: row, samples_per_pixel: spp }],
            3 => vec![Codec::Lzw, Codec::HorizontalPredictor { row_samples: 16, samples_per_pixel: 1 }],
            _ => vec![Codec::Lzw, Codec::FloatingPointPredictor { row_samples: row, samples_per_pixel: spp }],
        };
        for dtype in [DType::U8, DType::I16, DType::F32, DType::F64] {
            let _ = decode_chunk(&garbage_meta(codecs.clone(), dtype), &bytes);
        }
    }
}
