//! GRIB1/GRIB2 scanner and decoder against the real files in `$HOD_TEST_DATA`.
//!
//! Reference figures come from cfgrib 0.9.15.1 / ecCodes 2.50.0 (`cfgrib.open_datasets(path)`,
//! statistics in float64 over cfgrib's float32 arrays, `numpy.nansum/nanmin/nanmax`). Our decoded
//! values were also compared message by message with `eccodes.codes_get_values(...)` cast to
//! float32: bit-identical in every message of every file (max |ours − ecCodes| = 0).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hod_core::{ChunkLoc, DType, ScannedFile, ScannedVariable};
use hod_formats::{FileSource, ReadAt, SliceSource, decode_chunk, grib};
use hod_testkit::data::path as data;
use proptest::prelude::*;

fn open(rel: &str) -> FileSource {
    FileSource::open(data(rel)).unwrap()
}

fn scan(rel: &str) -> (FileSource, ScannedFile) {
    let src = open(rel);
    let f = grib::scan(&src, None).unwrap();
    (src, f)
}

fn var<'a>(f: &'a ScannedFile, name: &str) -> &'a ScannedVariable {
    f.variable(name).unwrap_or_else(|| {
        panic!(
            "no {name} in {:?}",
            f.variables.iter().map(|v| &v.name).collect::<Vec<_>>()
        )
    })
}

/// The whole variable, C order, NaN for absent chunks.
fn read_all(src: &dyn ReadAt, v: &ScannedVariable) -> Vec<f32> {
    let meta = &v.meta;
    let total: u64 = meta.shape.iter().product();
    let mut out = vec![f32::NAN; total as usize];
    let per_chunk = meta.chunk_len();
    let grid = meta.chunk_grid();
    for c in &v.chunks {
        let ChunkLoc::Range { offset, length } = c.loc else {
            panic!("inline chunk")
        };
        let bytes = decode_chunk(meta, &src.read_at(offset, length).unwrap()).unwrap();
        // Chunks are 1 along every dim but the last two, so the linear chunk number says where.
        let k = c.index.iter().zip(&grid).fold(0u64, |a, (&i, &n)| a * n + i) as usize;
        for (j, b) in bytes.chunks_exact(4).enumerate() {
            out[k * per_chunk + j] = f32::from_le_bytes(b.try_into().unwrap());
        }
    }
    out
}

fn f64s(v: &ScannedVariable) -> Vec<f64> {
    let ChunkLoc::Inline(b) = &v.chunks[0].loc else {
        panic!("not inline")
    };
    assert_eq!(v.meta.dtype, DType::F64);
    b.chunks_exact(8)
        .map(|x| f64::from_le_bytes(x.try_into().unwrap()))
        .collect()
}

fn i64s(v: &ScannedVariable) -> Vec<i64> {
    let ChunkLoc::Inline(b) = &v.chunks[0].loc else {
        panic!("not inline")
    };
    b.chunks_exact(8)
        .map(|x| i64::from_le_bytes(x.try_into().unwrap()))
        .collect()
}

struct Stats {
    nan: usize,
    sum: f64,
    min: f32,
    max: f32,
}

fn stats(v: &[f32]) -> Stats {
    let ok = v.iter().filter(|x| !x.is_nan());
    Stats {
        nan: v.iter().filter(|x| x.is_nan()).count(),
        sum: ok.clone().map(|&x| f64::from(x)).sum(),
        min: ok.clone().copied().fold(f32::INFINITY, f32::min),
        max: ok.copied().fold(f32::NEG_INFINITY, f32::max),
    }
}

fn check(src: &dyn ReadAt, v: &ScannedVariable, shape: &[u64], nan: usize, sum: f64, min: f64, max: f64) {
    assert_eq!(v.meta.shape, shape, "{}", v.name);
    let s = stats(&read_all(src, v));
    assert_eq!(s.nan, nan, "{} NaN count", v.name);
    // numpy sums pairwise, we sum in order: agree to ~1e-12 relative.
    assert!(
        (s.sum - sum).abs() <= 1e-9 * sum.abs().max(1.0),
        "{} sum {} vs {sum}",
        v.name,
        s.sum
    );
    assert_eq!(
        (f64::from(s.min), f64::from(s.max)),
        (min, max),
        "{} min/max",
        v.name
    );
}

fn check_sum(src: &dyn ReadAt, v: &ScannedVariable, shape: &[u64], nan: usize, sum: f64) {
    assert_eq!(v.meta.shape, shape, "{}", v.name);
    let s = stats(&read_all(src, v));
    assert_eq!(s.nan, nan, "{} NaN count", v.name);
    assert!(
        (s.sum - sum).abs() <= 1e-9 * sum.abs().max(1.0),
        "{} sum {} vs {sum}",
        v.name,
        s.sum
    );
}

fn offsets(v: &ScannedVariable) -> Vec<(u64, u64)> {
    let mut o: Vec<_> = v
        .chunks
        .iter()
        .map(|c| match c.loc {
            ChunkLoc::Range { offset, length } => (offset, length),
            ChunkLoc::Inline(_) => panic!("inline"),
        })
        .collect();
    o.sort();
    o
}

#[test]
fn era5_daily_grib1() {
    let (src, f) = scan("era5-daily-grib/era5_t2m_20190301.grib");
    let t2m = var(&f, "t2m");
    assert_eq!(t2m.meta.dims, ["time", "latitude", "longitude"]);
    assert_eq!(
        offsets(t2m),
        (0..24).map(|k| (k * 3342, 3342)).collect::<Vec<_>>()
    );
    assert_eq!(t2m.meta.attrs["GRIB_paramId"], 167);
    assert_eq!(t2m.meta.attrs["GRIB_shortName"], "2t");
    assert_eq!(t2m.meta.attrs["GRIB_stepType"], "instant");
    assert_eq!(t2m.meta.attrs["GRIB_typeOfLevel"], "surface");
    assert_eq!(t2m.meta.attrs["units"], "K");
    assert_eq!(t2m.meta.attrs["long_name"], "2 metre temperature");
    check(
        &src,
        t2m,
        &[24, 33, 49],
        0,
        10911006.155395508,
        275.42041015625,
        285.6875,
    );
    let time = i64s(var(&f, "time"));
    assert_eq!(time.len(), 24);
    assert_eq!(time[0], 1_551_398_400); // 2019-03-01T00
    assert_eq!(time[23] - time[0], 23 * 3600);
    let lat = f64s(var(&f, "latitude"));
    assert_eq!((lat[0], lat[32]), (58.0, 50.0));
    let lon = f64s(var(&f, "longitude"));
    assert_eq!((lon[0], lon[48]), (-10.0, 2.0));
    assert_eq!(f64s(var(&f, "step")), [0.0]);
}

#[test]
fn era5_month_with_padding() {
    let (src, f) = scan("era5/era5-2mt-2019-03-uk.grib");
    let t2m = var(&f, "t2m");
    assert_eq!(
        offsets(t2m),
        (0..744).map(|k| (k * 3360, 3342)).collect::<Vec<_>>()
    );
    let all = read_all(&src, t2m);
    assert_eq!(t2m.meta.shape, [744, 33, 49]);
    // MANIFEST "GRIB decode check" / era5-daily-REFERENCE.md (cfgrib float32).
    let mean = all.iter().map(|&x| f64::from(x)).sum::<f64>() / all.len() as f64;
    assert!((mean - 280.7740585847981).abs() < 1e-9, "{mean}");
    // P1: first time, lat 51.5 (row 26), lon 0.0 (column 40).
    assert_eq!(f64::from(all[26 * 49 + 40]), 281.6083984375);
    // P3: last time, NW corner.
    assert_eq!(f64::from(all[743 * 33 * 49]), 281.099365234375);
}

#[test]
fn era5_levels_and_members() {
    let (src, f) = scan("era5/era5-levels-members.grib");
    for name in ["z", "t"] {
        let v = var(&f, name);
        assert_eq!(
            v.meta.dims,
            ["number", "time", "isobaricInhPa", "latitude", "longitude"]
        );
        assert_eq!(v.chunks.len(), 80);
    }
    check(
        &src,
        var(&f, "z"),
        &[10, 4, 2, 61, 120],
        0,
        19834003510.875,
        9238.08984375,
        58148.14453125,
    );
    check(
        &src,
        var(&f, "t"),
        &[10, 4, 2, 61, 120],
        0,
        153966752.42955017,
        224.12962341308594,
        305.84124755859375,
    );
    assert_eq!(f64s(var(&f, "isobaricInhPa")), [850.0, 500.0]);
    assert_eq!(i64s(var(&f, "number")), (0..10).collect::<Vec<_>>());
    assert_eq!(i64s(var(&f, "time")).len(), 4);
    let lat = f64s(var(&f, "latitude"));
    assert_eq!((lat[0], lat[60]), (90.0, -90.0));
}

#[test]
fn gfs_many_variables_complex_packing() {
    let (src, f) = scan("gfs/gfs.t12z.pgrbf120.2p5deg.grib2");
    // 36 of the 307 messages hold two fields (u and v): skipped.
    let skipped = f.attrs["hod_skipped"].as_object().unwrap();
    assert_eq!(skipped.len(), 36);
    assert!(
        skipped
            .values()
            .all(|r| r.as_str().unwrap().contains("several fields"))
    );
    let t2m = var(&f, "t2m");
    assert_eq!(t2m.meta.attrs["heightAboveGround"], 2.0);
    assert_eq!(t2m.meta.attrs["GRIB_shortName"], "2t");
    check_sum(&src, t2m, &[1, 73, 144], 0, 2907015.038925171);
    let tp = var(&f, "tp");
    assert_eq!(tp.meta.attrs["GRIB_stepType"], "accum");
    check_sum(&src, tp, &[1, 73, 144], 0, 6409.800015203655);
    assert_eq!(var(&f, "prate").meta.attrs["GRIB_stepType"], "avg");
    check_sum(&src, var(&f, "prate"), &[1, 73, 144], 0, 0.29761499986636863);
    check_sum(&src, var(&f, "prmsl"), &[1, 73, 144], 0, 1063620959.5);
    check_sum(&src, var(&f, "tmax"), &[1, 73, 144], 0, 2916141.708969116);
    check_sum(&src, var(&f, "sp"), &[1, 73, 144], 0, 1016947550.8164062);
    check_sum(&src, var(&f, "orog"), &[1, 73, 144], 0, 4093456.2985505797);
    check_sum(&src, var(&f, "trpp"), &[1, 73, 144], 0, 205518882.9116211);
    // Names shared by several level types get the level type as suffix.
    let t = var(&f, "t_isobaricInhPa");
    assert_eq!(t.meta.dims, ["time", "isobaricInhPa", "latitude", "longitude"]);
    check_sum(&src, t, &[1, 26, 73, 144], 0, 67386610.80317688);
    check_sum(
        &src,
        var(&f, "gh_isobaricInhPa"),
        &[1, 26, 73, 144],
        0,
        2423849556.1119843,
    );
    // r has 25 of the 26 levels: the missing one reads as NaN.
    check_sum(
        &src,
        var(&f, "r_isobaricInhPa"),
        &[1, 26, 73, 144],
        73 * 144,
        13020772.2600194,
    );
    check_sum(
        &src,
        var(&f, "t_depthBelowLandLayer"),
        &[1, 4, 73, 144],
        27676,
        3821843.7579803467,
    );
    let levels = f64s(var(&f, "isobaricInhPa"));
    assert_eq!((levels.len(), levels[0], levels[25]), (26, 1000.0, 10.0));
    assert_eq!(
        f64s(var(&f, "sigmaLayer")),
        [0.32999999999999996, 0.44000000000000006, 0.72]
    );
    assert_eq!(f64s(var(&f, "step")), [120.0]);
    assert_eq!(i64s(var(&f, "time")), [1_294_660_800]); // 2011-01-10T12
}

#[test]
fn gfs_pv_tmp_with_missing_values() {
    let (src, f) = scan("gfs/gfs.t12z.pgrb2.0p25.f023-PV-TMP-missing.grib2");
    let t = var(&f, "t");
    assert_eq!(t.meta.dims, ["time", "latitude", "longitude"]);
    assert_eq!(t.meta.attrs["potentialVorticity"], 2147485648.0);
    check(
        &src,
        t,
        &[1, 721, 1440],
        409080,
        130978614.65278625,
        184.97958374023438,
        289.57958984375,
    );
    assert_eq!(f64s(var(&f, "step")), [23.0]);
}

#[test]
fn gdas_single_message() {
    let (src, f) = scan("gfs/gdas.t12z.pgrb2.0p25.f000.msg13.grib2");
    let v = var(&f, "VRATE");
    assert_eq!(v.meta.attrs["GRIB_paramId"], 7001353);
    assert_eq!(v.meta.attrs["GRIB_typeOfLevel"], "planetaryBoundaryLayer");
    check(&src, v, &[1, 721, 1440], 0, 6229662000.0, 0.0, 115000.0);
}

fn wave_checks(src: &dyn ReadAt, f: &ScannedFile) {
    check(
        src,
        var(f, "swh"),
        &[1, 331, 301],
        70212,
        34640.4299718868,
        0.019999999552965164,
        2.7799999713897705,
    );
    check(
        src,
        var(f, "ws"),
        &[1, 331, 301],
        70212,
        153006.4499905184,
        0.03999999910593033,
        16.170000076293945,
    );
    let swdir = var(f, "swdir");
    assert_eq!(
        swdir.meta.dims,
        ["time", "orderedSequenceData", "latitude", "longitude"]
    );
    check(
        src,
        swdir,
        &[1, 3, 331, 301],
        243298,
        6141283.582103308,
        0.019999999552965164,
        359.989990234375,
    );
    assert_eq!(offsets(swdir).last(), Some(&(657151, 690200 - 657151)));
    let lat = f64s(var(f, "latitude"));
    assert_eq!((lat[1], lat[330]), (54.833333, 0.0));
}

#[test]
fn gfs_wave_jpeg2000_with_and_without_idx() {
    let (src, plain) = scan("gfs/gfswave.t18z.atlocn.0p16.f001.grib2");
    wave_checks(&src, &plain);
    let idx = std::fs::read_to_string(data("gfs/gfswave.t18z.atlocn.0p16.f001.grib2.idx")).unwrap();
    let with_idx = grib::scan(&src, Some(&idx)).unwrap();
    wave_checks(&src, &with_idx);
    assert_eq!(plain.variables.len(), with_idx.variables.len());
    for (a, b) in plain.variables.iter().zip(&with_idx.variables) {
        assert_eq!(
            (&a.name, &a.meta.dims, &a.chunks),
            (&b.name, &b.meta.dims, &b.chunks)
        );
    }
    let mut all: Vec<(u64, u64)> = plain
        .variables
        .iter()
        .flat_map(|v| v.chunks.iter())
        .filter_map(|c| match c.loc {
            ChunkLoc::Range { offset, length } => Some((offset, length)),
            ChunkLoc::Inline(_) => None,
        })
        .collect();
    all.sort();
    let idx_offsets: Vec<u64> = grib::parse_idx(&idx).unwrap().iter().map(|e| e.offset).collect();
    assert_eq!(all.iter().map(|a| a.0).collect::<Vec<_>>(), idx_offsets);
}

#[test]
fn gfs_atmosphere_idx_files() {
    let text = std::fs::read_to_string(data("gfs/gfs.20221014.t00z.pgrb2.0p25.f000.idx")).unwrap();
    let e = grib::parse_idx(&text).unwrap();
    assert_eq!(e.len(), 696);
    assert_eq!(
        (e[0].offset, e[0].var.as_str(), e[0].level.as_str()),
        (0, "PRMSL", "mean sea level")
    );
    assert_eq!((e[1].offset, e[1].var.as_str()), (995942, "CLWMR"));
    assert_eq!(e[1].date, "2022101400");
    assert_eq!(e[1].forecast, "anl");
    let text = std::fs::read_to_string(data("gfs/gfs.20221014.t06z.pgrb2.0p25.f021.idx")).unwrap();
    let e = grib::parse_idx(&text).unwrap();
    assert_eq!(e.len(), 743);
    assert_eq!(e[1].offset, 986627);
    assert!(e.iter().any(|x| x.forecast == "18-21 hour acc fcst"));
}

/// Counts the bytes a scanner reads.
struct Counting<'a>(&'a dyn ReadAt, std::sync::atomic::AtomicU64);

impl ReadAt for Counting<'_> {
    fn size(&self) -> u64 {
        self.0.size()
    }
    fn read_at(&self, offset: u64, len: u64) -> std::io::Result<Vec<u8>> {
        let b = self.0.read_at(offset, len)?;
        self.1
            .fetch_add(b.len() as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(b)
    }
}

#[test]
fn scanning_reads_only_headers() {
    for (rel, max) in [
        ("gfs/gfswave.t18z.atlocn.0p16.f001.grib2", 19 * 400),
        ("era5/era5-2mt-2019-03-uk.grib", 744 * 200),
        ("gfs/gfs.t12z.pgrbf120.2p5deg.grib2", 307 * 400),
    ] {
        let src = open(rel);
        let counting = Counting(&src, 0.into());
        grib::scan(&counting, None).unwrap();
        let read = counting.1.into_inner();
        assert!(read < max, "{rel}: read {read} bytes");
    }
}

fn first_bytes(rel: &str, n: usize) -> Vec<u8> {
    let mut b = std::fs::read(data(rel)).unwrap();
    b.truncate(n);
    b
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn grib1_corruption_never_panics(cut in 0usize..6684, flips in prop::collection::vec((0usize..6684, any::<u8>()), 0..6)) {
        let mut b = first_bytes("era5-daily-grib/era5_t2m_20190301.grib", 6684);
        for (i, v) in flips { b[i] = v; }
        let _ = grib::decode(1, &b);
        b.truncate(cut);
        let _ = grib::scan(&SliceSource(&b), None);
        let _ = grib::decode(1, &b);
    }

    #[test]
    fn grib2_corruption_never_panics(cut in 0usize..23482, flips in prop::collection::vec((0usize..23482, any::<u8>()), 0..6)) {
        // Two complex-packing messages with spatial differencing.
        let mut b = first_bytes("gfs/gfs.t12z.pgrbf120.2p5deg.grib2", 23482);
        for (i, v) in flips { b[i] = v; }
        let _ = grib::decode(2, &b);
        let _ = grib::scan(&SliceSource(&b), None);
        b.truncate(cut);
        let _ = grib::scan(&SliceSource(&b), None);
        let _ = grib::decode(2, &b);
    }

}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn grib2_jpeg_corruption_never_panics(flips in prop::collection::vec((0usize..41723, any::<u8>()), 1..4)) {
        let mut b = first_bytes("gfs/gfswave.t18z.atlocn.0p16.f001.grib2", 41723);
        for (i, v) in flips { b[i] = v; }
        let _ = grib::decode(2, &b);
    }

}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn garbage_never_panics(b in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = grib::decode(1, &b);
        let _ = grib::decode(2, &b);
        let mut g = b"GRIB".to_vec();
        g.extend(&b);
        let _ = grib::scan(&SliceSource(&g), None);
        let _ = grib::decode(1, &g);
        let _ = grib::decode(2, &g);
    }
}
