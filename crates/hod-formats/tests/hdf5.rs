//! HDF5 / netCDF-4 scanner against real files, with reference figures from h5py 3.16 (chunk
//! offsets via `dset.id.get_chunk_info(i)`, contiguous offsets via `dset.id.get_offset()`,
//! values via `dset[()]`, sums via `numpy.nansum` in float64) and netCDF4-python 1.7.

#![allow(clippy::unwrap_used, clippy::panic)]

use hod_core::{ChunkLoc, Codec, DType, Endian, ScannedFile, ScannedVariable};
use hod_formats::{SliceSource, decode_chunk, hdf5};
use hod_testkit::data;
use proptest::prelude::*;

fn bytes(rel: &str) -> Vec<u8> {
    std::fs::read(data::path(rel)).unwrap()
}

fn scan(file: &[u8]) -> ScannedFile {
    hdf5::scan(&SliceSource(file)).unwrap()
}

fn var<'a>(f: &'a ScannedFile, name: &str) -> &'a ScannedVariable {
    f.variable(name).unwrap_or_else(|| panic!("no variable {name}"))
}

/// Decodes element `i` of a decoded chunk as f64.
fn element(v: &ScannedVariable, chunk: &[u8], i: usize) -> f64 {
    let n = v.meta.dtype.size();
    let mut b = chunk[i * n..(i + 1) * n].to_vec();
    if v.meta.endian == Endian::Big {
        b.reverse();
    }
    let mut a = [0u8; 8];
    a[..n].copy_from_slice(&b);
    let raw = u64::from_le_bytes(a);
    match v.meta.dtype {
        DType::I8 => raw as u8 as i8 as f64,
        DType::I16 => raw as u16 as i16 as f64,
        DType::I32 => raw as u32 as i32 as f64,
        DType::I64 => raw as i64 as f64,
        DType::U8 | DType::U16 | DType::U32 | DType::U64 => raw as f64,
        DType::F32 => f64::from(f32::from_bits(raw as u32)),
        DType::F64 => f64::from_bits(raw),
        other => panic!("{other:?}"),
    }
}

/// The whole array, C order, assembled from the decoded chunks (absent chunks: fill or 0).
fn read_all(file: &[u8], v: &ScannedVariable) -> Vec<f64> {
    let m = &v.meta;
    let total: u64 = m.shape.iter().product();
    let mut out = vec![m.fill_value.unwrap_or(0.0); total as usize];
    for c in &v.chunks {
        let stored = match &c.loc {
            ChunkLoc::Range { offset, length } => &file[*offset as usize..(*offset + *length) as usize],
            ChunkLoc::Inline(b) => b.as_slice(),
        };
        let chunk = decode_chunk(m, stored).unwrap();
        for i in 0..m.chunk_len() {
            // Position of element i of this chunk in the array; skip the edge padding.
            let (mut rem, mut lin, mut inside) = (i as u64, 0u64, true);
            let mut pos = vec![0u64; m.shape.len()];
            for d in (0..m.shape.len()).rev() {
                pos[d] = c.index[d] * m.chunks[d] + rem % m.chunks[d];
                rem /= m.chunks[d];
                inside &= pos[d] < m.shape[d];
            }
            if !inside {
                continue;
            }
            for (p, s) in pos.iter().zip(&m.shape) {
                lin = lin * s + p;
            }
            out[lin as usize] = element(v, &chunk, i);
        }
    }
    out
}

fn nansum(x: &[f64]) -> f64 {
    x.iter().filter(|v| !v.is_nan()).sum()
}

fn range(v: &ScannedVariable, i: usize) -> (Vec<u64>, u64, u64) {
    let c = &v.chunks[i];
    match c.loc {
        ChunkLoc::Range { offset, length } => (c.index.clone(), offset, length),
        ChunkLoc::Inline(_) => panic!("inline chunk"),
    }
}

/// numpy dtype string (h5py's `dset.dtype.str`) of a variable.
fn dtype_str(v: &ScannedVariable) -> String {
    let order = match (v.meta.dtype.size(), v.meta.endian) {
        (1, _) => '|',
        (_, Endian::Little) => '<',
        (_, Endian::Big) => '>',
    };
    format!("{order}{}", v.meta.dtype.numpy_kind())
}

/// Per variable: name, shape, dtype, nansum of all values (h5py + numpy), and its storage:
/// (chunk index, byte offset, stored size) of the first chunk, and the chunk count; for
/// contiguous data the h5py offset and storage size.
type Expect = (&'static str, &'static [u64], &'static str, f64, Storage);

enum Storage {
    Chunked((&'static [u64], u64, u64), usize),
    Contiguous(u64, u64),
}
use Storage::{Chunked, Contiguous};

fn check_file(rel: &str, expect: &[Expect]) -> ScannedFile {
    let file = bytes(rel);
    let f = scan(&file);
    let names: Vec<&str> = f.variables.iter().map(|v| v.name.as_str()).collect();
    let want: Vec<&str> = expect.iter().map(|e| e.0).collect();
    assert_eq!(names, want, "{rel}: variables");
    for (name, shape, dtype, sum, storage) in expect {
        let v = var(&f, name);
        assert_eq!(v.meta.shape, *shape, "{rel} {name} shape");
        assert_eq!(dtype_str(v), *dtype, "{rel} {name} dtype");
        match storage {
            Chunked((index, offset, size), n) => {
                assert_eq!(
                    range(v, 0),
                    (index.to_vec(), *offset, *size),
                    "{rel} {name} first chunk"
                );
                assert_eq!(v.chunks.len(), *n, "{rel} {name} chunk count");
            }
            // Contiguous data is one chunk, or one per leading index for rank >= 3.
            Contiguous(offset, size) => {
                let first = range(v, 0);
                assert_eq!(first.1, *offset, "{rel} {name} offset");
                let total: u64 = (0..v.chunks.len()).map(|i| range(v, i).2).sum();
                assert_eq!(total, *size, "{rel} {name} size");
                for i in 1..v.chunks.len() {
                    assert_eq!(
                        range(v, i).1,
                        first.1 + i as u64 * first.2,
                        "{rel} {name} chunk {i}"
                    );
                }
            }
        }
        let got = nansum(&read_all(&file, v));
        assert!(
            (got - sum).abs() <= 1e-12 * sum.abs().max(1.0),
            "{rel} {name}: sum {got} != {sum}"
        );
    }
    f
}

const ERA5_NC4: &str = "era5-daily-nc4/era5_t2m_20190301.nc";

#[test]
fn era5_daily_nc4() {
    let f = check_file(
        ERA5_NC4,
        &[
            ("latitude", &[33], "<f8", 1782.0, Contiguous(2898, 264)),
            ("longitude", &[49], "<f8", -196.0, Contiguous(3162, 392)),
            ("number", &[], "<i8", 0.0, Contiguous(2890, 8)),
            (
                "t2m",
                &[24, 33, 49],
                "<f4",
                10911006.155395508,
                Chunked((&[0, 0, 0], 25683, 2670), 24),
            ),
            ("valid_time", &[24], "<i8", 37234555200.0, Contiguous(3554, 192)),
        ],
    );
    let t2m = var(&f, "t2m");
    assert_eq!(t2m.meta.dims, ["valid_time", "latitude", "longitude"]);
    assert_eq!(t2m.meta.chunks, [1, 33, 49]);
    assert_eq!(t2m.meta.codecs, [Codec::Zlib, Codec::Shuffle { element_size: 4 }]);
    assert!(t2m.meta.fill_value.unwrap().is_nan());
    // MANIFEST (h5py get_chunk_info): (1,0,0) at 28353, 2698 bytes; (23,0,0) at 87803, 2726 bytes.
    assert_eq!(range(t2m, 1), (vec![1, 0, 0], 28353, 2698));
    assert_eq!(range(t2m, 23), (vec![23, 0, 0], 87803, 2726));
    assert_eq!(t2m.meta.attrs["units"], "K");
    assert_eq!(t2m.meta.attrs["GRIB_paramId"], 167);
    assert!(!t2m.meta.attrs.contains_key("_Netcdf4Coordinates"));
    assert!(!t2m.meta.attrs.contains_key("DIMENSION_LIST"));
    assert_eq!(var(&f, "latitude").meta.dims, ["latitude"]);
    assert!(!var(&f, "latitude").meta.attrs.contains_key("NAME"));
    assert_eq!(var(&f, "latitude").meta.attrs["stored_direction"], "decreasing");
    assert_eq!(
        var(&f, "valid_time").meta.attrs["units"],
        "seconds since 1970-01-01"
    );
    assert!(var(&f, "number").meta.dims.is_empty());
    assert!(f.variable("expver").is_none());
    assert!(
        f.attrs["hod_skipped"]["expver"]
            .as_str()
            .unwrap()
            .contains("string")
    );
    assert_eq!(f.attrs["Conventions"], "CF-1.7");
    assert!(!f.attrs.contains_key("_NCProperties"));
}

#[test]
fn era5_daily_nc4_decodes_p1() {
    let file = bytes(ERA5_NC4);
    let f = scan(&file);
    let lat = read_all(&file, var(&f, "latitude"));
    let lon = read_all(&file, var(&f, "longitude"));
    let (i, j) = (
        lat.iter().position(|&v| v == 51.5).unwrap(),
        lon.iter().position(|&v| v == 0.0).unwrap(),
    );
    assert_eq!((i, j), (26, 40));
    let t2m = read_all(&file, var(&f, "t2m"));
    // era5-daily-REFERENCE.md P1 (2019-03-01T00, lat 51.5, lon 0.0).
    assert_eq!(t2m[i * 49 + j], 281.6083984375);
    // h5py: t2m[23, 32, 48].
    assert_eq!(t2m[23 * 33 * 49 + 32 * 49 + 48], 280.6351318359375);
    assert_eq!(read_all(&file, var(&f, "valid_time"))[0], 1551398400.0); // 2019-03-01T00Z
}

/// All 31 days against era5-daily-REFERENCE.md (xarray/netCDF4 figures, full precision).
#[test]
fn era5_daily_nc4_month_matches_reference() {
    let (mut sum, mut n, mut min, mut max) = (0.0, 0usize, f64::MAX, f64::MIN);
    for day in 1..=31 {
        let file = bytes(&format!("era5-daily-nc4/era5_t2m_201903{day:02}.nc"));
        let f = scan(&file);
        let t2m = var(&f, "t2m");
        assert_eq!(t2m.chunks.len(), 24, "day {day}");
        let v = read_all(&file, t2m);
        let at = |h: usize, i: usize, j: usize| v[(h * 33 + i) * 49 + j];
        match day {
            15 => assert_eq!(at(12, 12, 27), 281.62890625), // P2: 12:00, lat 55.0, lon -3.25
            31 => assert_eq!(at(23, 0, 0), 281.099365234375), // P3: 23:00, lat 58.0, lon -10.0
            _ => {}
        }
        sum += v.iter().sum::<f64>();
        n += v.len();
        min = v.iter().copied().fold(min, f64::min);
        max = v.iter().copied().fold(max, f64::max);
    }
    assert_eq!(n, 1_203_048);
    assert!((sum / n as f64 - 280.7740585847981).abs() < 1e-9);
    assert_eq!((min, max), (265.68017578125, 291.558837890625));
}

#[test]
fn basin_mask() {
    let f = check_file(
        "basins/basin_mask.nc",
        &[
            ("X", &[360], "<f4", 64800.0, Contiguous(5071, 1440)),
            ("Y", &[180], "<f4", 0.0, Contiguous(10191, 720)),
            ("Z", &[33], "<f4", 44460.0, Contiguous(6511, 132)),
            (
                "basin",
                &[33, 180, 360],
                "|i1",
                -91132117.0,
                Chunked((&[0, 0, 0], 21215, 90777), 1),
            ),
        ],
    );
    let b = var(&f, "basin");
    assert_eq!(b.meta.dims, ["Z", "Y", "X"]);
    assert_eq!(b.meta.chunks, [33, 180, 360]);
    assert_eq!(b.meta.codecs, [Codec::Zlib, Codec::Shuffle { element_size: 1 }]);
    assert_eq!(b.meta.attrs["missing_value"], -100);
    assert_eq!(b.meta.fill_value, None);
    // netCDF4-python: basin[0, 90, 180] = 2, basin[10, 45, 300] = 1, min -100, max 58.
    let file = bytes("basins/basin_mask.nc");
    let v = read_all(&file, b);
    assert_eq!(v[90 * 360 + 180], 2.0);
    assert_eq!(v[10 * 180 * 360 + 45 * 360 + 300], 1.0);
    assert_eq!(v.iter().copied().fold(f64::MAX, f64::min), -100.0);
    assert_eq!(v.iter().copied().fold(f64::MIN, f64::max), 58.0);
}

#[test]
fn air_contiguous_int16() {
    let f = check_file(
        "era5/air.nc",
        &[
            (
                "air",
                &[124, 11, 21],
                "<i2",
                774874628.0,
                Contiguous(15419, 57288),
            ),
            ("lat", &[11], "<f4", 687.5, Contiguous(5179, 44)),
            ("lon", &[21], "<f4", 5775.0, Contiguous(5223, 84)),
            ("time", &[124], "<f4", 233468316.0, Contiguous(5307, 496)),
        ],
    );
    let air = var(&f, "air");
    assert_eq!(air.meta.dims, ["time", "lat", "lon"]);
    assert_eq!(air.meta.chunks, [1, 11, 21]);
    assert_eq!(air.chunks.len(), 124);
    assert!(air.meta.codecs.is_empty());
    assert_eq!(air.meta.attrs["scale_factor"], 0.01);
    assert_eq!(
        air.meta.attrs["actual_range"],
        serde_json::json!([185.16000366210938, 322.1000061035156])
    );
}

#[test]
fn tas_pr_scalar_coords() {
    let f = check_file(
        "era5/tas_pr_20180101-20180108.nc",
        &[
            ("latitude", &[], "<f4", 54.5, Contiguous(5082, 4)),
            ("longitude", &[], "<f4", 236.75, Contiguous(5078, 4)),
            ("pr", &[192], "<i2", -6281180.0, Contiguous(6238, 384)),
            ("tas", &[192], "<i2", 660464.0, Contiguous(5854, 384)),
            ("time", &[192], "<i4", 198618528.0, Contiguous(5086, 768)),
        ],
    );
    assert_eq!(var(&f, "tas").meta.dims, ["time"]);
    assert_eq!(var(&f, "tas").meta.fill_value, Some(-32767.0));
    assert_eq!(var(&f, "tas").meta.attrs["scale_factor"], 0.002039584796570168);
    assert!(var(&f, "latitude").meta.dims.is_empty());
    assert!(f.attrs["citation"].as_str().unwrap().starts_with("Copernicus"));
}

#[test]
fn imerg_groups_and_scales() {
    let g: &[Expect] = &[
        (
            "Grid/Intermediate/IRinfluence",
            &[1, 10, 10],
            "<i2",
            -999900.0,
            Chunked((&[0, 0, 0], 12768, 200), 1),
        ),
        (
            "Grid/Intermediate/IRprecipitation",
            &[1, 10, 10],
            "<f4",
            -999990.0390625,
            Chunked((&[0, 0, 0], 12368, 400), 1),
        ),
        (
            "Grid/Intermediate/MWobservationTime",
            &[1, 10, 10],
            "<i2",
            -999900.0,
            Chunked((&[0, 0, 0], 12168, 200), 1),
        ),
        (
            "Grid/Intermediate/MWprecipSource",
            &[1, 10, 10],
            "<i2",
            0.0,
            Chunked((&[0, 0, 0], 11968, 200), 1),
        ),
        (
            "Grid/Intermediate/MWprecipitation",
            &[1, 10, 10],
            "<f4",
            -999990.0390625,
            Chunked((&[0, 0, 0], 11568, 400), 1),
        ),
        (
            "Grid/Intermediate/precipitationUncal",
            &[1, 10, 10],
            "<f4",
            -299997.01171875,
            Chunked((&[0, 0, 0], 12968, 400), 1),
        ),
        (
            "Grid/lat",
            &[10],
            "<f4",
            -894.9999847412109,
            Chunked((&[0], 13436, 40), 1),
        ),
        (
            "Grid/lat_bnds",
            &[10, 2],
            "<f4",
            -1789.9999694824219,
            Chunked((&[0, 0], 61248, 80), 1),
        ),
        (
            "Grid/lon",
            &[10],
            "<f4",
            -1794.999984741211,
            Chunked((&[0], 13396, 40), 1),
        ),
        (
            "Grid/lon_bnds",
            &[10, 2],
            "<f4",
            -3589.999969482422,
            Chunked((&[0, 0], 13484, 80), 1),
        ),
        (
            "Grid/precipitation",
            &[1, 10, 10],
            "<f4",
            -299997.01171875,
            Chunked((&[0, 0, 0], 61328, 400), 1),
        ),
        (
            "Grid/precipitationQualityIndex",
            &[1, 10, 10],
            "<f4",
            -299997.01171875,
            Chunked((&[0, 0, 0], 62328, 400), 1),
        ),
        (
            "Grid/probabilityLiquidPrecipitation",
            &[1, 10, 10],
            "<i2",
            0.0,
            Chunked((&[0, 0, 0], 62128, 200), 1),
        ),
        (
            "Grid/randomError",
            &[1, 10, 10],
            "<f4",
            -299980.2117191255,
            Chunked((&[0, 0, 0], 61728, 400), 1),
        ),
        (
            "Grid/time",
            &[1],
            "<i4",
            643852800.0,
            Chunked((&[0], 13392, 4), 1),
        ),
        (
            "Grid/time_bnds",
            &[1, 2],
            "<i4",
            1287707400.0,
            Chunked((&[0, 0], 13476, 8), 1),
        ),
    ];
    let rel = "gpm/3B-HHR.MS.MRG.3IMERG.20000601-S000000-E002959.0000.V07A.HDF5";
    let f = check_file(rel, g);
    let p = var(&f, "Grid/precipitation");
    assert_eq!(p.meta.dims, ["time", "lon", "lat"]);
    assert!(p.meta.codecs.is_empty());
    assert_eq!(p.meta.fill_value, Some(f64::from(-9999.9f32)));
    assert_eq!(p.meta.attrs["units"], "mm/hr");
    assert_eq!(var(&f, "Grid/lat_bnds").meta.dims, ["lat", "latv"]);
    assert_eq!(var(&f, "Grid/time_bnds").meta.dims, ["time", "nv"]);
    assert!(
        f.attrs["FileHeader"]
            .as_str()
            .unwrap()
            .starts_with("DOI=10.5067/GPM/IMERG/3B-HH/07;")
    );
    // h5py: Grid/lat[0] = -89.95 (float32), Grid/precipitation[0, 0, 0] = -9999.9 (float32).
    let file = bytes(rel);
    assert_eq!(read_all(&file, var(&f, "Grid/lat"))[0], f64::from(-89.95f32));
    assert_eq!(read_all(&file, p)[0], f64::from(-9999.9f32));
}

#[test]
fn matapedia_stations() {
    let f = check_file(
        "stations/Matapedia_meteo_data_stations.nc",
        &[
            ("latitude", &[6], "<f8", 290.5, Contiguous(2232282, 48)),
            ("longitude", &[6], "<f8", -404.25, Contiguous(2232330, 48)),
            (
                "pr",
                &[6, 14611],
                "<f8",
                281044.73876953125,
                Contiguous(1410848, 701328),
            ),
            ("stations", &[6], "<f8", 21.0, Contiguous(2232378, 48)),
            ("time", &[14611], "<f8", 106733355.0, Contiguous(2115394, 116888)),
            (
                "tmax",
                &[6, 14611],
                "<f8",
                643146.5013885498,
                Contiguous(709520, 701328),
            ),
            (
                "tmin",
                &[6, 14611],
                "<f8",
                -134890.07388305664,
                Contiguous(8192, 701328),
            ),
        ],
    );
    // `nstations` is a dimension without a variable: it names dims but is not listed.
    assert_eq!(var(&f, "pr").meta.dims, ["nstations", "time"]);
    assert_eq!(var(&f, "latitude").meta.dims, ["nstations"]);
    assert_eq!(var(&f, "pr").meta.attrs["missing_value"], -9999.0);
    assert!(!f.attrs.contains_key("hod_skipped"));
}

#[test]
fn matapedia_discharge() {
    let f = check_file(
        "stations/Qobs_Matapedia_01BD009.nc",
        &[
            (
                "discharge",
                &[9131],
                "<f8",
                -2007031.2670000002,
                Contiguous(9010, 73048),
            ),
            ("time", &[9131], "<f8", 201767707.0, Contiguous(82058, 73048)),
        ],
    );
    assert_eq!(var(&f, "discharge").meta.dims, ["time"]);
    assert_eq!(var(&f, "discharge").meta.fill_value, Some(-9999.0));
    assert!(f.attrs.is_empty());
}

#[test]
fn not_hdf5_is_an_error() {
    assert!(hdf5::scan(&SliceSource(b"CDF\x01 not hdf5 at all")).is_err());
    assert!(hdf5::scan(&SliceSource(b"")).is_err());
}

fn mutations(len: usize) -> impl Strategy<Value = (usize, Vec<(usize, u8)>)> {
    (0..=len, prop::collection::vec((0..len, any::<u8>()), 0..8))
}

/// Truncated or byte-flipped files give Ok or Err, never a panic.
fn survives(file: &[u8], cut: usize, flips: &[(usize, u8)]) {
    let mut b = file.to_vec();
    for &(i, x) in flips {
        b[i] ^= x.max(1);
    }
    b.truncate(cut);
    let _ = hdf5::scan(&SliceSource(&b));
    // Flips alone, on the full-length file (reaches deeper structures).
    let mut b = file.to_vec();
    for &(i, x) in flips {
        b[i] ^= x.max(1);
    }
    if let Ok(f) = hdf5::scan(&SliceSource(&b)) {
        // A corrupt file may still declare chunks of up to 4 GiB (HDF5's limit), which the
        // decoder would allocate; only decode sizes a test machine can hold.
        for v in f.variables.iter().filter(|v| v.meta.chunk_bytes() <= 1 << 26) {
            for c in v.chunks.iter().take(2) {
                if let ChunkLoc::Range { offset, length } = c.loc {
                    let _ = decode_chunk(&v.meta, &b[offset as usize..(offset + length) as usize]);
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn corrupt_era5_never_panics((cut, flips) in mutations(90529)) {
        thread_local!(static F: Vec<u8> = bytes(ERA5_NC4));
        F.with(|f| survives(f, cut, &flips));
    }

    #[test]
    fn corrupt_basin_mask_never_panics((cut, flips) in mutations(111992)) {
        thread_local!(static F: Vec<u8> = bytes("basins/basin_mask.nc"));
        F.with(|f| survives(f, cut, &flips));
    }

    /// Flips in the metadata (the first 25 kB, before t2m's chunks) hit the parser hardest.
    #[test]
    fn corrupt_era5_metadata_never_panics(flips in prop::collection::vec((0..25683usize, any::<u8>()), 1..6)) {
        thread_local!(static F: Vec<u8> = bytes(ERA5_NC4));
        F.with(|f| survives(f, f.len(), &flips));
    }
}

/// A source that records what was read.
struct Recording<'a>(&'a [u8], std::sync::Mutex<Vec<(u64, u64)>>);

impl hod_core::ReadAt for Recording<'_> {
    fn size(&self) -> u64 {
        self.0.len() as u64
    }

    fn read_at(&self, offset: u64, len: u64) -> std::io::Result<Vec<u8>> {
        self.1.lock().unwrap().push((offset, len));
        SliceSource(self.0).read_at(offset, len)
    }
}

/// The scan reads metadata only: nothing of t2m's 24 compressed chunks (the payload of this
/// file), and a small part of the file in all.
#[test]
fn scan_reads_no_chunk_payload() {
    let file = bytes(ERA5_NC4);
    let src = Recording(&file, Default::default());
    let f = hdf5::scan(&src).unwrap();
    let reads = src.1.into_inner().unwrap();
    let total: u64 = reads.iter().map(|r| r.1).sum();
    let t2m = var(&f, "t2m");
    let overlap: u64 = reads
        .iter()
        .flat_map(|&(o, l)| (0..t2m.chunks.len()).map(move |i| (o, l, i)))
        .map(|(o, l, i)| {
            let (_, co, cl) = range(t2m, i);
            (o + l).min(co + cl).saturating_sub(o.max(co))
        })
        .sum();
    eprintln!("{} reads, {total} bytes, {overlap} in t2m chunks", reads.len());
    assert_eq!(overlap, 0);
    assert!(total < file.len() as u64 / 2, "read {total} bytes");
}
