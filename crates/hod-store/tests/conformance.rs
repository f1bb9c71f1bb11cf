//! The conformance suite on every backend (local folder, memory, a real S3 server on
//! 127.0.0.1), plus failure cases: a server killed during an upload, a cancelled local upload,
//! bad credentials.

// Helpers outside #[test] fns fail loudly too.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hod_store::conformance::{pattern, run_all, swap_race};
use hod_store::testing::S3Server;
use hod_store::{S3Options, Store, StoreError, resolve};

/// Files under `dir` whose name holds a '#': the local backend's staged (in-progress) uploads.
fn staged_files(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if entry.file_name().to_string_lossy().contains('#') {
                found.push(path.display().to_string());
            }
        }
    }
    found
}

/// A file of `mib` MiB with varied content, written without holding it all in memory twice.
fn big_file(dir: &Path, mib: usize) -> std::path::PathBuf {
    let path = dir.join("big.bin");
    let block = pattern(1024 * 1024, 9);
    let mut data = Vec::with_capacity(mib * block.len());
    for i in 0..mib {
        data.extend_from_slice(&block);
        data[i * block.len()] = i as u8;
    }
    std::fs::write(&path, data).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn local_folder() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("not/yet/there");
    let store = Store::open(root.to_str().unwrap()).unwrap();
    assert!(store.is_local() && !store.is_remote());
    assert_eq!(store.url(), format!("file://{}", root.display()));
    // Opening has no side effect; listing a folder that does not exist yet finds nothing.
    assert!(!root.exists());
    assert!(store.list("").await.unwrap().is_empty());
    run_all(&store).await;
    swap_race(&store).await;
    assert_eq!(staged_files(&root), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory() {
    let store = Store::open("memory://conformance").unwrap();
    assert!(!store.is_local() && !store.is_remote());
    run_all(&store).await;
    swap_race(&store).await;
    // Every open of the same name is the same store; a prefix is a view into it.
    let again = Store::open("memory://conformance/conformance/size").unwrap();
    assert_eq!(again.url(), "memory://conformance/conformance/size");
    assert_eq!(again.size("s").await.unwrap(), 12345);
    assert!(
        Store::open("memory://other")
            .unwrap()
            .list("")
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s3() {
    let Some(server) = S3Server::start_or_skip("s3") else {
        return;
    };
    let store = Store::open_with(&server.url("some/prefix"), &server.options()).unwrap();
    assert!(store.is_remote());
    assert_eq!(store.url(), "s3://hod-test/some/prefix");
    run_all(&store).await;
    // Keys are relative to the prefix: the object really lives under it in the bucket.
    let bucket = Store::open_with(&server.url(""), &server.options()).unwrap();
    assert_eq!(
        bucket.size("some/prefix/conformance/size/s").await.unwrap(),
        12345
    );
    assert!(
        server
            .root()
            .join("hod-test/some/prefix/conformance/size/s")
            .is_file()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s3_server_killed_during_put_file() {
    let Some(mut server) = S3Server::start_or_skip("s3_server_killed_during_put_file") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = big_file(dir.path(), 96);
    let store = Store::open_with(&server.url("kill"), &server.options()).unwrap();
    let upload = {
        let store = store.clone();
        tokio::spawn(async move { store.put_file("data/big.bin", &path).await })
    };
    // s3s-fs writes `.upload-<id>.json` in its root when a multipart upload starts.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !std::fs::read_dir(server.root())
        .unwrap()
        .flatten()
        .any(|e| e.file_name().to_string_lossy().starts_with(".upload"))
    {
        assert!(Instant::now() < deadline, "the multipart upload never started");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    server.kill();
    let err = upload
        .await
        .unwrap()
        .expect_err("an upload to a killed server must fail");
    let text = err.to_string();
    assert!(
        text.contains("data/big.bin") && text.contains("s3://hod-test/kill"),
        "{text}"
    );

    server.restart();
    let store = Store::open_with(&server.url("kill"), &server.options()).unwrap();
    assert!(matches!(
        store.get("data/big.bin").await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(store.list("").await.unwrap().is_empty());
    assert!(!server.root().join("hod-test/kill/data/big.bin").exists());
}

/// A local upload dropped mid-way leaves no object and no staged file: the local backend
/// writes `key#N` and renames it only on completion.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn local_put_file_cancelled_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = big_file(dir.path(), 64);
    let root = dir.path().join("store");
    let store = Store::open(root.to_str().unwrap()).unwrap();
    let cut = tokio::time::timeout(Duration::from_millis(30), store.put_file("a/b.bin", &path)).await;
    // The staged file is removed by a blocking task after the drop.
    tokio::time::sleep(Duration::from_millis(300)).await;
    match cut {
        Err(_) => assert_eq!(store.get_opt("a/b.bin").await.unwrap(), None),
        // Too fast to cut on this machine: then it must be whole.
        Ok(sent) => assert_eq!(store.size("a/b.bin").await.unwrap(), sent.unwrap()),
    }
    assert_eq!(staged_files(&root), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_errors_say_what_to_set() {
    let half = S3Options {
        access_key_id: Some("id".into()),
        ..S3Options::default()
    };
    let err = Store::open_with("s3://bkt", &half).unwrap_err();
    assert!(matches!(err, StoreError::MissingCredentials { .. }));
    assert!(err.to_string().contains("AWS_SECRET_ACCESS_KEY"), "{err}");

    let Some(server) = S3Server::start_or_skip("credentials_errors_say_what_to_set") else {
        return;
    };
    let wrong = S3Options {
        secret_access_key: Some("wrong-secret".into()),
        ..server.options()
    };
    let store = Store::open_with(&server.url(""), &wrong).unwrap();
    let err = store.put("k", Bytes::from_static(b"v")).await.unwrap_err();
    assert!(matches!(err, StoreError::AccessDenied { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("AWS_ACCESS_KEY_ID") && !text.contains("wrong-secret"),
        "{text}"
    );
    assert!(!format!("{err:?}").contains("wrong-secret"));
}

#[tokio::test]
async fn resolve_object_urls() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("f.nc");
    std::fs::write(&file, b"CDF\x01").unwrap();
    let (store, key) = resolve(file.to_str().unwrap()).unwrap();
    assert_eq!(store.url(), "file:///");
    assert_eq!(store.get(&key).await.unwrap(), Bytes::from_static(b"CDF\x01"));
    let (store, key) = resolve(&format!("file://{}", file.display())).unwrap();
    assert_eq!(store.size(&key).await.unwrap(), 4);

    let (store, key) = resolve("s3://bucket/era5/2020/t2m.nc").unwrap();
    assert_eq!((store.url(), key.as_str()), ("s3://bucket", "era5/2020/t2m.nc"));
    assert!(matches!(
        resolve("s3://bucket"),
        Err(StoreError::InvalidUrl { .. })
    ));
    assert!(matches!(
        Store::open("gs://bucket"),
        Err(StoreError::InvalidUrl { .. })
    ));
}

/// `Store::open` takes the endpoint and credentials from `AWS_*` (plain http allowed for a
/// loopback endpoint without `AWS_ALLOW_HTTP`). The environment is set only in a child process
/// running this same test, so parallel tests never race on it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_reads_aws_env() {
    if std::env::var_os("HOD_STORE_ENV_CHILD").is_some() {
        let store = Store::open("s3://hod-test/from-env").unwrap();
        store.put("k", Bytes::from_static(b"env")).await.unwrap();
        assert_eq!(store.get("k").await.unwrap(), Bytes::from_static(b"env"));
        return;
    }
    let Some(server) = S3Server::start_or_skip("open_reads_aws_env") else {
        return;
    };
    let mut child = std::process::Command::new(std::env::current_exe().unwrap());
    child.args(["--exact", "open_reads_aws_env", "--test-threads=1"]);
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("AWS_")) {
        child.env_remove(k);
    }
    child.envs(server.env().into_iter().filter(|(k, _)| *k != "AWS_ALLOW_HTTP"));
    let out = child.env("HOD_STORE_ENV_CHILD", "1").output().unwrap();
    assert!(
        out.status.success(),
        "child failed: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 passed"));
    assert!(server.root().join("hod-test/from-env/k").is_file());
}
