//! The same ingest against a real S3-compatible server (s3s-fs) on 127.0.0.1: local files uploaded
//! into the store, and objects already in a bucket referenced in place through an s3:// glob.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hod_store::Store;
use hod_store::testing::S3Server;
use hod_testkit::cli;
use hod_testkit::data::root as data;
use serde_json::Value;
use std::process::Command;

fn hod(server: &S3Server, args: &[&str]) -> Value {
    cli::json(
        Command::new(env!("CARGO_BIN_EXE_hod"))
            .args(args)
            .envs(server.env()),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn ingest_into_and_from_s3() {
    let Some(server) = S3Server::start_or_skip("ingest_into_and_from_s3") else {
        return;
    };
    let store_url = server.url("hod");

    // Local files into an S3 store: uploaded by default.
    let pattern = data().join("era5-daily-nc3/*.nc").display().to_string();
    let report = hod(
        &server,
        &["--store", &store_url, "--json", "ingest", "nc3", &pattern],
    );
    assert_eq!(
        (report["sources"].as_u64(), report["copied"].as_u64()),
        (Some(31), Some(31))
    );
    let info = hod(&server, &["--store", &store_url, "info", "nc3", "--json"]);
    assert_eq!(
        info["variables"]["t2m"]["shape"],
        serde_json::json!([744, 33, 49])
    );
    // Re-running uploads and scans nothing.
    let again = hod(
        &server,
        &["--store", &store_url, "--json", "ingest", "nc3", &pattern],
    );
    assert_eq!(again["scanned"].as_u64(), Some(0));

    // Objects already in a bucket, referenced in place through an s3:// glob.
    let raw = Store::open_with(&server.url("raw"), &server.options()).unwrap();
    for f in std::fs::read_dir(data().join("era5-daily-grib"))
        .unwrap()
        .flatten()
    {
        raw.put_file(&f.file_name().to_string_lossy(), &f.path())
            .await
            .unwrap();
    }
    let glob = format!("{}/*.grib", server.url("raw"));
    let report = hod(
        &server,
        &["--store", &store_url, "--json", "ingest", "grib", &glob],
    );
    assert_eq!(
        (report["sources"].as_u64(), report["copied"].as_u64()),
        (Some(31), Some(0))
    );
    let list = hod(&server, &["--store", &store_url, "--json", "list"]);
    assert_eq!(list.as_array().unwrap().len(), 2);

    // Values read back from S3 equal those of the same ingest on the local store.
    let s3 = Store::open_with(&store_url, &server.options()).unwrap();
    let meta = hod_index::read_meta(&s3, "nc3").await.unwrap();
    let remote = hod_index::read_variable(&s3, &meta, "t2m", true).await.unwrap();
    let local = Store::open("memory://s3-compare").unwrap();
    let files: Vec<String> = glob::glob(&pattern)
        .unwrap()
        .map(|p| p.unwrap().display().to_string())
        .collect();
    hod_index::ingest(&local, "nc3", &files, &Default::default(), &hod_index::Quiet)
        .await
        .unwrap();
    let lmeta = hod_index::read_meta(&local, "nc3").await.unwrap();
    assert_eq!(
        hod_index::read_variable(&local, &lmeta, "t2m", true)
            .await
            .unwrap(),
        remote
    );
}

/// A store that goes away mid-ingest: a clear error naming the store, nothing half-published, and
/// the same command completes once the store is back.
#[tokio::test(flavor = "multi_thread")]
async fn store_that_goes_away() {
    let Some(mut server) = S3Server::start_or_skip("store_that_goes_away") else {
        return;
    };
    let store_url = server.url("hod");
    let pattern = data().join("era5-daily-nc4/*.nc").display().to_string();
    server.kill();
    let out = Command::new(env!("CARGO_BIN_EXE_hod"))
        .args(["--store", &store_url, "ingest", "nc4", &pattern])
        .envs(server.env())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("s3://hod-test/hod"), "{stderr}");
    server.restart();
    let s3 = Store::open_with(&store_url, &server.options()).unwrap();
    assert!(
        hod_index::read_meta(&s3, "nc4").await.is_err(),
        "nothing was published"
    );
    let report = hod(
        &server,
        &["--store", &store_url, "--json", "ingest", "nc4", &pattern],
    );
    assert_eq!(report["sources"].as_u64(), Some(31));
}
