//! The netCDF3 scanner on the real files of the shared data set. Reference figures come from
//! netCDF4-python 1.7.5 (`/tmp/hod-venv`), MANIFEST.md and era5-daily-REFERENCE.md.
// Test helpers, like the tests, may fail loudly.
#![allow(clippy::unwrap_used, clippy::panic)]

use hod_core::{ChunkLoc, DType, Endian, Format, ScannedFile, ScannedVariable, attr_f64};
use hod_formats::{FileSource, FormatError, ScanOptions, SliceSource, decode_chunk, netcdf3, scan};
use hod_testkit::data::path as data;
use proptest::prelude::*;

fn open(rel: &str) -> (ScannedFile, Vec<u8>) {
    let path = data(rel);
    let scanned = scan(&FileSource::open(&path).unwrap(), &ScanOptions::default()).unwrap();
    (scanned, std::fs::read(&path).unwrap())
}

fn ranges(v: &ScannedVariable) -> Vec<(u64, u64)> {
    v.chunks
        .iter()
        .map(|c| match c.loc {
            ChunkLoc::Range { offset, length } => (offset, length),
            ChunkLoc::Inline(_) => panic!("inline chunk"),
        })
        .collect()
}

/// The decoded int16 values of chunk `i`.
fn chunk_i16(file: &[u8], v: &ScannedVariable, i: usize) -> Vec<i16> {
    let (offset, length) = ranges(v)[i];
    let stored = &file[offset as usize..(offset + length) as usize];
    let bytes = decode_chunk(&v.meta, stored).unwrap();
    assert_eq!(v.meta.endian, Endian::Big);
    bytes
        .chunks_exact(2)
        .map(|b| i16::from_be_bytes([b[0], b[1]]))
        .collect()
}

fn attr(v: &ScannedVariable, name: &str) -> f64 {
    attr_f64(&v.meta.attrs[name]).unwrap()
}

fn unpack(v: &ScannedVariable, raw: i16) -> f64 {
    f64::from(raw) * attr(v, "scale_factor") + attr(v, "add_offset")
}

/// Sum of a packed variable's raw values over all its chunks.
fn raw_sum(file: &[u8], v: &ScannedVariable) -> i64 {
    (0..v.chunks.len())
        .flat_map(|i| chunk_i16(file, v, i))
        .map(i64::from)
        .sum()
}

#[test]
fn era5_daily_layout_matches_the_manifest() {
    let (s, file) = open("era5-daily-nc3/era5_t2m_20190301.nc");
    assert_eq!(s.format, Format::Netcdf3);
    assert_eq!(s.attrs["Conventions"], "CF-1.6");
    let names: Vec<_> = s.variables.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["longitude", "latitude", "time", "t2m"]);
    for (name, offset, length) in [
        ("longitude", 1096, 196),
        ("latitude", 1292, 132),
        ("time", 1424, 96),
    ] {
        let v = s.variable(name).unwrap();
        assert_eq!(v.meta.dims, [name]);
        assert_eq!(ranges(v), [(offset, length)], "{name}");
        assert_eq!(v.chunks[0].index, [0]);
    }
    assert_eq!(s.variable("time").unwrap().meta.dtype, DType::I32);
    assert_eq!(
        s.variable("latitude").unwrap().meta.attrs["units"],
        "degrees_north"
    );

    let t2m = s.variable("t2m").unwrap();
    let m = &t2m.meta;
    assert_eq!(m.dims, ["time", "latitude", "longitude"]);
    assert_eq!(
        (m.shape.as_slice(), m.chunks.as_slice()),
        (&[24, 33, 49][..], &[1, 33, 49][..])
    );
    assert_eq!((m.dtype, m.endian, m.codecs.len()), (DType::I16, Endian::Big, 0));
    assert_eq!(m.fill_value, Some(-32767.0));
    assert!(!m.attrs.contains_key("_FillValue"));
    assert_eq!(m.attrs["missing_value"], -32767);
    assert_eq!(m.attrs["standard_name"], "air_temperature");
    // era5-daily-REFERENCE.md, per-file packing table.
    assert_eq!(attr(t2m, "scale_factor"), 0.00015667053001922694);
    assert_eq!(attr(t2m, "add_offset"), 280.55387674286);
    assert_eq!(t2m.chunks.len(), 24);
    for (h, c) in t2m.chunks.iter().enumerate() {
        let h = h as u64;
        assert_eq!(c.index, [h, 0, 0]);
        assert_eq!(
            c.loc,
            ChunkLoc::Range {
                offset: 1520 + h * 3234,
                length: 3234
            }
        );
    }

    // P1: 2019-03-01T00, latitude 51.5 (index 26), longitude 0.0 (index 40).
    let hour0 = chunk_i16(&file, t2m, 0);
    assert_eq!(hour0[26 * 49 + 40], 6731); // netCDF4-python, raw
    assert!((unpack(t2m, hour0[26 * 49 + 40]) - 281.6084260804194).abs() < 1e-9);
    // netCDF4-python: sum of all raw t2m values.
    assert_eq!(raw_sum(&file, t2m), 148536603);
}

#[test]
fn all_31_daily_files_share_the_layout_but_not_the_packing() {
    let mut scales = Vec::new();
    for day in 1..=31 {
        let (s, _) = open(&format!("era5-daily-nc3/era5_t2m_201903{day:02}.nc"));
        let t2m = s.variable("t2m").unwrap();
        assert_eq!(ranges(t2m)[23], (1520 + 23 * 3234, 3234));
        scales.push(attr(t2m, "scale_factor"));
    }
    scales.dedup();
    assert_eq!(scales.len(), 31);

    // P3: 2019-03-31T23, latitude 58.0, longitude -10.0 (the first grid point of the last hour).
    let (s, file) = open("era5-daily-nc3/era5_t2m_20190331.nc");
    let t2m = s.variable("t2m").unwrap();
    assert_eq!(attr(t2m, "scale_factor"), 0.0003160829992141364);
    assert_eq!(attr(t2m, "add_offset"), 278.5630743803754);
    let got = unpack(t2m, chunk_i16(&file, t2m, 23)[0]);
    assert!((got - 281.0993243660696).abs() < 1e-9, "{got}");
}

#[test]
fn era5_daily_coordinates_decode() {
    let (s, file) = open("era5-daily-nc3/era5_t2m_20190301.nc");
    let values = |name: &str| {
        let v = s.variable(name).unwrap();
        let (offset, length) = ranges(v)[0];
        let bytes = decode_chunk(&v.meta, &file[offset as usize..(offset + length) as usize]).unwrap();
        bytes
            .chunks_exact(4)
            .map(|b| {
                let b = [b[0], b[1], b[2], b[3]];
                match v.meta.dtype {
                    DType::F32 => f64::from(f32::from_be_bytes(b)),
                    _ => f64::from(i32::from_be_bytes(b)),
                }
            })
            .collect::<Vec<_>>()
    };
    let lon = values("longitude");
    let lat = values("latitude");
    assert_eq!((lon.len(), lon[0], lon[40], lon[48]), (49, -10.0, 0.0, 2.0));
    assert_eq!((lat.len(), lat[0], lat[26], lat[32]), (33, 58.0, 51.5, 50.0));
    // netCDF4-python: hours since 1900-01-01.
    assert_eq!(values("time")[..3], [1044552.0, 1044553.0, 1044554.0]);
}

#[test]
fn eraint_uvz_negative_scale_and_nan_fill() {
    let (s, file) = open("era5/eraint_uvz.nc");
    assert_eq!(s.attrs["Conventions"], "CF-1.0");
    let lon = s.variable("longitude").unwrap();
    assert!(lon.meta.fill_value.unwrap().is_nan());
    assert_eq!(s.variable("level").unwrap().meta.dtype, DType::I32);
    // netCDF4-python: sums of the raw values, and unpacked values at [month, level, lat, lon].
    let cases = [
        (
            "z",
            -1.7250274674967954,
            2271761917,
            [14928.04864035891, 106837.51210858817, 50608.51677806263],
        ),
        (
            "u",
            -0.001572704938045535,
            8838801966,
            [-0.37429805285967177, 1.2817602469022766, 17.438158075444058],
        ),
        (
            "v",
            -0.0004778199963376671,
            -2176930381,
            [0.8749570820362571, -0.046757690899102755, 1.5548949368247573],
        ),
    ];
    for (name, scale, sum, expected) in cases {
        let v = s.variable(name).unwrap();
        let m = &v.meta;
        assert_eq!(m.dims, ["month", "level", "latitude", "longitude"]);
        assert_eq!(
            (m.shape.as_slice(), m.chunks.as_slice()),
            (&[2, 3, 241, 480][..], &[1, 1, 241, 480][..])
        );
        assert!(
            m.fill_value.unwrap().is_nan(),
            "{name}: NaN _FillValue (a float64 attribute)"
        );
        assert_eq!(attr(v, "scale_factor"), scale);
        assert_eq!(v.chunks.len(), 6);
        assert_eq!(v.chunks[5].index, [1, 2, 0, 0]);
        assert_eq!(raw_sum(&file, v), sum, "{name}");
        for (k, (chunk, y, x)) in [(5, 120, 240), (0, 0, 0), (4, 200, 17)].into_iter().enumerate() {
            let got = unpack(v, chunk_i16(&file, v, chunk)[y * 480 + x]);
            assert!(
                (got - expected[k]).abs() <= 1e-9 * expected[k].abs().max(1.0),
                "{name} {k}: {got}"
            );
        }
    }
}

#[test]
fn era5_2t_pair_has_its_own_packing_per_file() {
    // MANIFEST cross-file check: t2m at (lat 40, lon 0) = 286.5517 K and 285.5665 K; full
    // precision from netCDF4-python. Latitude 40 is index 2, longitude 0 index 0.
    for (rel, scale, expected) in [
        ("era5/era5_2t_1.nc", 0.0013782714910808296, 286.55169819604583),
        ("era5/era5_2t_2.nc", 0.001378182080020753, 285.56646644785894),
    ] {
        let (s, file) = open(rel);
        let t2m = s.variable("t2m").unwrap();
        assert_eq!(t2m.meta.shape, [1, 9, 18]);
        assert_eq!(t2m.meta.chunks, [1, 9, 18]);
        assert_eq!(attr(t2m, "scale_factor"), scale);
        assert_eq!(t2m.meta.fill_value, Some(-32767.0));
        assert_eq!(ranges(t2m)[0].1, 9 * 18 * 2);
        let got = unpack(t2m, chunk_i16(&file, t2m, 0)[2 * 18]);
        assert!((got - expected).abs() < 1e-9, "{rel}: {got}");
        assert!(s.attrs["history"].as_str().unwrap().contains("grib_to_netcdf"));
    }
    let (s, file) = open("era5/era5_2t_1.nc");
    assert_eq!(raw_sum(&file, s.variable("t2m").unwrap()), 1318621); // netCDF4-python
}

#[test]
fn scanned_metadata_round_trips_through_json() {
    let (s, _) = open("era5/eraint_uvz.nc");
    let back: ScannedFile = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
    let z = back.variable("z").unwrap();
    assert!(z.meta.fill_value.unwrap().is_nan());
    assert_eq!(z.chunks, s.variable("z").unwrap().chunks);
}

fn sample() -> &'static [u8] {
    static FILE: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    FILE.get_or_init(|| std::fs::read(data("era5-daily-nc3/era5_t2m_20190301.nc")).unwrap())
}

#[test]
fn every_truncation_of_the_header_is_an_error() {
    let file = sample();
    for len in 0..1600 {
        let r = netcdf3::scan(&SliceSource(&file[..len]));
        assert!(
            matches!(
                r,
                Err(FormatError::Truncated { .. } | FormatError::Corrupt { .. })
            ),
            "length {len}: {r:?}"
        );
    }
}

proptest! {
    #[test]
    fn truncated_files_never_panic(len in 0usize..79136) {
        let _ = netcdf3::scan(&SliceSource(&sample()[..len]));
    }

    #[test]
    fn flipped_bytes_never_panic(flips in prop::collection::vec((0usize..1520, any::<u8>()), 1..6)) {
        let mut file = sample().to_vec();
        for (at, x) in flips {
            file[at] ^= x.max(1);
        }
        if let Ok(s) = netcdf3::scan(&SliceSource(&file)) {
            // Whatever a corrupt header says, chunks stay inside the file.
            for c in s.variables.iter().flat_map(|v| &v.chunks) {
                if let ChunkLoc::Range { offset, length } = c.loc {
                    prop_assert!(offset + length <= file.len() as u64);
                }
            }
        }
    }
}
