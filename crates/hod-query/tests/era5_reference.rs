//! `read` reproduces ../shared/data/era5-daily-REFERENCE.md on the three ERA5 daily sets: the bbox
//! mean over 3 files and the three point values.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hod_query::{Bbox, Request, parse_time, read};
use hod_store::Store;
use hod_testkit::data::files;

async fn check(dir: &str, ext: &str, tol: f64) {
    let store = Store::open(&format!("memory://query-{dir}")).unwrap();
    hod_index::ingest(
        &store,
        "d",
        &files(dir, ext),
        &Default::default(),
        &hod_index::Quiet,
    )
    .await
    .unwrap();
    let meta = hod_index::read_meta(&store, "d").await.unwrap();
    let req = Request {
        vars: vec!["2 metre temperature".into()],
        start: Some(parse_time("2019-03-10T00").unwrap()),
        end: Some(parse_time("2019-03-12T23").unwrap()),
        bbox: Some("0,51,2,53".parse::<Bbox>().unwrap()),
        ..Default::default()
    };
    let cube = &read(&store, &meta, &req).await.unwrap()[0];
    let s = cube.stats();
    assert_eq!((s.shape.clone(), s.count), (vec![72, 9, 9], 5832), "{dir}");
    assert!(
        (s.mean.unwrap() - 279.66697429138935).abs() < 1e-6,
        "{dir}: {:?}",
        s.mean
    );
    for (t, lat, lon, want) in [
        ("2019-03-01T00", 51.5, 0.0, 281.6083984375),
        ("2019-03-15T12", 55.0, -3.25, 281.62890625),
        ("2019-03-31T23", 58.0, -10.0, 281.099365234375),
    ] {
        let t = parse_time(t).unwrap();
        let req = Request {
            vars: vec!["t2m".into()],
            start: Some(t),
            end: Some(t),
            bbox: Some(Bbox {
                west: lon,
                south: lat,
                east: lon,
                north: lat,
            }),
            ..Default::default()
        };
        let cube = &read(&store, &meta, &req).await.unwrap()[0];
        assert_eq!(cube.shape, vec![1, 1, 1]);
        assert!(
            (cube.values[0] - want).abs() <= tol,
            "{dir} {t}: {} vs {want}",
            cube.values[0]
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn netcdf3() {
    check("era5-daily-nc3", "nc", 2e-4).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn netcdf4() {
    check("era5-daily-nc4", "nc", 0.0).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn grib() {
    check("era5-daily-grib", "grib", 0.0).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_requests_are_clear_errors() {
    let store = Store::open("memory://query-errors").unwrap();
    hod_index::ingest(
        &store,
        "d",
        &files("era5-daily-nc4", "nc")[..2],
        &Default::default(),
        &hod_index::Quiet,
    )
    .await
    .unwrap();
    let meta = hod_index::read_meta(&store, "d").await.unwrap();
    let err = |req: Request| {
        let (store, meta) = (&store, &meta);
        async move { read(store, meta, &req).await.unwrap_err().to_string() }
    };
    let e = err(Request {
        vars: vec!["nope".into()],
        ..Default::default()
    })
    .await;
    assert!(e.contains("no variable 'nope'") && e.contains("t2m"), "{e}");
    let outside = Request {
        vars: vec!["t2m".into()],
        start: Some(parse_time("2020-01-01").unwrap()),
        end: Some(parse_time("2020-01-02").unwrap()),
        ..Default::default()
    };
    let e = err(outside).await;
    assert!(e.contains("the data covers 2019-03-01T00:00:00"), "{e}");
    let far = Request {
        vars: vec!["t2m".into()],
        bbox: Some("20,10,30,20".parse().unwrap()),
        ..Default::default()
    };
    let e = err(far).await;
    assert!(e.contains("inside the bbox"), "{e}");
}
