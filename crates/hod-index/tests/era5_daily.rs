//! The three ERA5 daily sets (netCDF3 packed per file, netCDF4, GRIB1) each become one dataset
//! whose values reproduce ../shared/data/era5-daily-REFERENCE.md.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hod_index::{IngestOptions, Quiet, ingest, read_meta, read_variable};
use hod_store::Store;
use hod_testkit::data;

const MEAN: f64 = 280.7740585847981;
const MIN: f64 = 265.68017578125;
const MAX: f64 = 291.558837890625;
const P1: f64 = 281.6083984375;
const P2: f64 = 281.62890625;
const P3: f64 = 281.099365234375;
const BBOX: f64 = 279.66697429138935;

async fn check(dir: &str, ext: &str, tol: f64) {
    let store = Store::open(&format!("memory://era5-{dir}")).unwrap();
    let files = data::files(dir, ext);
    assert_eq!(files.len(), 31);
    let report = ingest(&store, "t2m", &files, &IngestOptions::default(), &Quiet)
        .await
        .unwrap();
    assert_eq!(report.sources, 31);
    let meta = read_meta(&store, "t2m").await.unwrap();
    assert_eq!(meta.variables["t2m"].array.shape, vec![744, 33, 49], "{dir}");
    let t = read_variable(&store, &meta, "t2m", true).await.unwrap();
    let at = |ti: usize, la: usize, lo: usize| t[(ti * 33 + la) * 49 + lo];
    let mean = t.iter().sum::<f64>() / t.len() as f64;
    let (min, max) = t
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), &x| (a.min(x), b.max(x)));
    assert!((mean - MEAN).abs() < 1e-6, "{dir}: mean {mean}");
    assert!(
        (min - MIN).abs() <= tol && (max - MAX).abs() <= tol,
        "{dir}: min {min} max {max}"
    );
    // P1 2019-03-01T00 lat 51.5 lon 0; P2 2019-03-15T12 lat 55 lon -3.25; P3 2019-03-31T23 lat 58 lon -10.
    for (got, want) in [(at(0, 26, 40), P1), (at(348, 12, 27), P2), (at(743, 0, 0), P3)] {
        assert!((got - want).abs() <= tol, "{dir}: {got} vs {want}");
    }
    // bbox lon 0..2, lat 53..51, 2019-03-10T00..2019-03-12T23: 72 x 9 x 9 values.
    let mut sum = 0.0;
    for ti in 216..288 {
        for la in 20..29 {
            for lo in 40..49 {
                sum += at(ti, la, lo);
            }
        }
    }
    let bbox = sum / 5832.0;
    assert!((bbox - BBOX).abs() < 1e-6, "{dir}: bbox mean {bbox}");
}

#[tokio::test(flavor = "multi_thread")]
async fn netcdf3_packed_per_file() {
    check("era5-daily-nc3", "nc", 2e-4).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn netcdf4() {
    check("era5-daily-nc4", "nc", 0.0).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn grib1() {
    check("era5-daily-grib", "grib", 0.0).await;
}

/// Ingesting more files into a dataset extends it; files it holds are skipped; the result equals
/// one ingest of everything, in any order of arrival.
#[tokio::test(flavor = "multi_thread")]
async fn extending_a_dataset() {
    let store = Store::open("memory://era5-extend").unwrap();
    let files = data::files("era5-daily-nc3", "nc");
    let opts = IngestOptions::default();
    ingest(&store, "t2m", &files[10..20], &opts, &Quiet)
        .await
        .unwrap();
    ingest(&store, "t2m", &files[20..], &opts, &Quiet).await.unwrap();
    let r = ingest(&store, "t2m", &files[..12], &opts, &Quiet).await.unwrap();
    assert_eq!((r.scanned, r.sources), (10, 31));
    let again = ingest(&store, "t2m", &files, &opts, &Quiet).await.unwrap();
    assert_eq!((again.scanned, again.version), (0, r.version));
    let meta = read_meta(&store, "t2m").await.unwrap();
    assert_eq!(meta.variables["t2m"].array.shape, vec![744, 33, 49]);
    let extended = read_variable(&store, &meta, "t2m", true).await.unwrap();

    let whole = Store::open("memory://era5-extend-whole").unwrap();
    ingest(&whole, "t2m", &files, &opts, &Quiet).await.unwrap();
    let meta2 = read_meta(&whole, "t2m").await.unwrap();
    assert_eq!(
        read_variable(&whole, &meta2, "t2m", true).await.unwrap(),
        extended
    );
    let time = read_variable(&store, &meta, "time", true).await.unwrap();
    assert!(time.windows(2).all(|w| w[1] - w[0] == 1.0), "hourly and ordered");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_that_differs_is_named() {
    let store = Store::open("memory://era5-mismatch").unwrap();
    let mut files = data::files("era5-daily-nc3", "nc")[..3].to_vec();
    files.push(data::root().join("era5/era5_2t_1.nc").display().to_string());
    let err = ingest(&store, "t2m", &files, &IngestOptions::default(), &Quiet)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("era5_2t_1.nc"), "{err}");
    // Nothing was published.
    assert!(read_meta(&store, "t2m").await.is_err());
}
