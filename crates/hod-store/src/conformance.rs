//! The conformance suite every backend must pass: `tests/conformance.rs` runs it on a local
//! folder, a memory store and a real S3 server; other crates may run it on their own stores.
//!
//! Each check uses its own key prefix (`conformance/<check>/`) and clears it first, so checks
//! may share a store. Run them on a multi-threaded tokio runtime ([`ObjectReader`] blocks).

// Test support: failing loudly is the point.
#![allow(clippy::panic, clippy::expect_used, clippy::unwrap_used)]

use std::time::Duration;

use bytes::Bytes;
use hod_core::ReadAt;

use crate::{BLOCK_SIZE, MULTIPART_THRESHOLD, ObjectReader, Store, StoreError, Swap};

/// Runs every check.
pub async fn run_all(store: &Store) {
    round_trip(store).await;
    missing_key(store).await;
    ranges(store).await;
    size(store).await;
    list_prefix(store).await;
    nested_keys(store).await;
    put_new(store).await;
    swap(store).await;
    overwrite_atomicity(store).await;
    put_file_large(store).await;
    delete(store).await;
    reader_matches_get_range(store).await;
}

/// Deterministic pseudo-random bytes (xorshift), so misplaced bytes are caught.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

async fn fresh(store: &Store, check: &str) -> String {
    let prefix = format!("conformance/{check}");
    for o in store.list(&prefix).await.unwrap() {
        store.delete(&o.key).await.unwrap();
    }
    prefix
}

/// `put` then `get` returns the same bytes, also for an empty object.
pub async fn round_trip(store: &Store) {
    let p = fresh(store, "round_trip").await;
    let data = Bytes::from(pattern(100_000, 1));
    store.put(&format!("{p}/a.bin"), data.clone()).await.unwrap();
    assert_eq!(store.get(&format!("{p}/a.bin")).await.unwrap(), data);
    assert_eq!(store.get_opt(&format!("{p}/a.bin")).await.unwrap(), Some(data));
    store.put(&format!("{p}/empty"), Bytes::new()).await.unwrap();
    assert_eq!(store.get(&format!("{p}/empty")).await.unwrap().len(), 0);
}

/// A missing key is `NotFound` naming the key (`None` for `get_opt`), for every read.
pub async fn missing_key(store: &Store) {
    let p = fresh(store, "missing_key").await;
    let key = format!("{p}/nope.nc");
    let err = store.get(&key).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::NotFound { key: k, .. } if *k == key),
        "{err:?}"
    );
    assert!(
        err.to_string().contains(&key) && err.to_string().contains(store.url()),
        "{err}"
    );
    assert_eq!(store.get_opt(&key).await.unwrap(), None);
    assert!(matches!(store.size(&key).await, Err(StoreError::NotFound { .. })));
    assert!(matches!(
        store.get_range(&key, 0..10).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        ObjectReader::open(store, &key).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.get("../escape").await,
        Err(StoreError::InvalidKey { .. })
    ));
}

/// `get_range`/`get_ranges` return exactly the asked bytes in input order, whether or not
/// ranges are coalesced; a range past the end is `InvalidRange` naming that range.
pub async fn ranges(store: &Store) {
    let p = fresh(store, "ranges").await;
    let key = format!("{p}/obj");
    let data = pattern(3 * 1024 * 1024 + 17, 2);
    store.put(&key, Bytes::from(data.clone())).await.unwrap();
    let n = data.len() as u64;
    assert_eq!(store.get_range(&key, 10..20).await.unwrap(), data[10..20]);
    // Unsorted, overlapping, adjacent, near (coalesced), far apart (not), empty, whole object.
    let asked = [
        2_000_000..2_000_100,
        0..10,
        5..15,
        15..4096,
        4200..4300,
        1_000_000..1_000_001,
        7..7,
        n - 5..n,
        0..n,
    ];
    let got = store.get_ranges(&key, &asked).await.unwrap();
    assert_eq!(got.len(), asked.len());
    for (r, g) in asked.iter().zip(&got) {
        assert_eq!(g[..], data[r.start as usize..r.end as usize], "range {r:?}");
    }
    for bad in [n - 5..n + 1, n + 10..n + 20] {
        let err = store.get_ranges(&key, &[0..10, bad.clone()]).await.unwrap_err();
        match &err {
            StoreError::InvalidRange { range, .. } => assert_eq!(*range, bad),
            other => panic!("range {bad:?} past the end of {n} bytes gave {other:?}"),
        }
        assert!(
            err.to_string().contains(&format!("{}..{}", bad.start, bad.end)),
            "{err}"
        );
    }
    #[allow(clippy::reversed_empty_ranges)]
    let reversed = store.get_range(&key, 20..10).await;
    assert!(matches!(reversed, Err(StoreError::InvalidRange { .. })));
}

/// `size` is the object's length.
pub async fn size(store: &Store) {
    let p = fresh(store, "size").await;
    store
        .put(&format!("{p}/s"), Bytes::from(vec![7u8; 12345]))
        .await
        .unwrap();
    assert_eq!(store.size(&format!("{p}/s")).await.unwrap(), 12345);
}

/// `list` returns the keys under a prefix (whole segments), relative to the store, sorted.
pub async fn list_prefix(store: &Store) {
    let p = fresh(store, "list_prefix").await;
    for k in ["a/1", "a/2", "a/sub/3", "ab/4", "b"] {
        store
            .put(&format!("{p}/{k}"), Bytes::from(k.as_bytes().to_vec()))
            .await
            .unwrap();
    }
    let keys = |v: Vec<crate::ObjectInfo>| v.into_iter().map(|o| o.key).collect::<Vec<_>>();
    let under_a = keys(store.list(&format!("{p}/a")).await.unwrap());
    assert_eq!(under_a, ["a/1", "a/2", "a/sub/3"].map(|k| format!("{p}/{k}")));
    let all = store.list(&p).await.unwrap();
    assert_eq!(all.len(), 5);
    assert_eq!(all[0].size, 3);
    assert!(store.list(&format!("{p}/none")).await.unwrap().is_empty());
    assert_eq!(
        store.list_dirs(&p).await.unwrap(),
        ["a", "ab"].map(|k| format!("{p}/{k}"))
    );
    assert!(store.list_dirs(&format!("{p}/none")).await.unwrap().is_empty());
}

/// Deeply nested keys work (parent "folders" are created by the write).
pub async fn nested_keys(store: &Store) {
    let p = fresh(store, "nested_keys").await;
    let key = format!("{p}/x/y/z/w/v.json");
    store.put(&key, Bytes::from_static(b"{}")).await.unwrap();
    assert_eq!(store.get(&key).await.unwrap(), Bytes::from_static(b"{}"));
    assert_eq!(store.list(&format!("{p}/x/y")).await.unwrap()[0].key, key);
    // Hive-style partitions and spaces survive the trip through URLs and file names.
    let odd = format!("{p}/year=2020/t 2m+x.nc");
    store.put(&odd, Bytes::from_static(b"odd")).await.unwrap();
    assert_eq!(store.get(&odd).await.unwrap(), Bytes::from_static(b"odd"));
    assert_eq!(store.list(&format!("{p}/year=2020")).await.unwrap()[0].key, odd);
}

/// `put_new` creates once, then reports `false` without overwriting.
pub async fn put_new(store: &Store) {
    let p = fresh(store, "put_new").await;
    let key = format!("{p}/once");
    assert!(store.put_new(&key, Bytes::from_static(b"first")).await.unwrap());
    assert!(!store.put_new(&key, Bytes::from_static(b"second")).await.unwrap());
    assert_eq!(store.get(&key).await.unwrap(), Bytes::from_static(b"first"));
}

/// `swap` publishes only over the expected version.
pub async fn swap(store: &Store) {
    let p = fresh(store, "swap").await;
    let key = format!("{p}/HEAD");
    assert!(store.get_versioned(&key).await.unwrap().is_none());
    let Swap::Done { .. } = store.swap(&key, None, Bytes::from_static(b"v1")).await.unwrap() else {
        panic!("creating an absent root failed")
    };
    assert_eq!(
        store
            .swap(&key, None, Bytes::from_static(b"v1bis"))
            .await
            .unwrap(),
        Swap::Conflict
    );
    let v1 = store.get_versioned(&key).await.unwrap().unwrap();
    assert_eq!(v1.data, Bytes::from_static(b"v1"));
    let token = v1.version.expect("a version token");
    // Distinct content and length, so that every backend's token changes.
    let done = store
        .swap(&key, Some(&token), Bytes::from_static(b"version-2"))
        .await
        .unwrap();
    assert!(matches!(done, Swap::Done { .. }), "{done:?}");
    let stale = store
        .swap(&key, Some(&token), Bytes::from_static(b"stale writer"))
        .await
        .unwrap();
    assert_eq!(stale, Swap::Conflict);
    assert_eq!(store.get(&key).await.unwrap(), Bytes::from_static(b"version-2"));
    let missing = store
        .swap(&format!("{p}/absent"), Some(&token), Bytes::new())
        .await
        .unwrap();
    assert_eq!(missing, Swap::Conflict);
}

/// Of simultaneous swaps from one version exactly one wins. Not in [`run_all`]: it needs an
/// atomic compare-and-swap (memory, local folder, AWS S3); s3s-fs checks and then writes.
pub async fn swap_race(store: &Store) {
    let p = fresh(store, "swap_race").await;
    let key = format!("{p}/HEAD");
    store.put(&key, Bytes::from_static(b"v0")).await.unwrap();
    let token = store.get_versioned(&key).await.unwrap().unwrap().version.unwrap();
    let writers: Vec<_> = (0..8)
        .map(|i| {
            let (store, key, token) = (store.clone(), key.clone(), token.clone());
            tokio::spawn(async move {
                store
                    .swap(&key, Some(&token), Bytes::from(format!("writer {i}")))
                    .await
            })
        })
        .collect();
    let mut wins = 0;
    for w in writers {
        if let Swap::Done { .. } = w.await.unwrap().unwrap() {
            wins += 1;
        }
    }
    assert_eq!(wins, 1, "simultaneous swaps from one version");
}

/// A reader during many overwrites sees whole objects only: every byte and the length belong
/// to one generation.
pub async fn overwrite_atomicity(store: &Store) {
    let p = fresh(store, "overwrite").await;
    let key = format!("{p}/obj");
    let len_of = |g: u8| 200_000 + usize::from(g) * 1_000;
    store.put(&key, Bytes::from(vec![0u8; len_of(0)])).await.unwrap();
    let reader = {
        let (store, key) = (store.clone(), key.clone());
        tokio::spawn(async move {
            let mut seen = 0;
            loop {
                let got = store.get(&key).await.unwrap();
                let g = got[0];
                assert_eq!(
                    got.len(),
                    len_of(g),
                    "object of generation {g} has the wrong length"
                );
                assert!(got.iter().all(|&b| b == g), "mixed object seen (generation {g})");
                seen += 1;
                if g == 40 {
                    return seen;
                }
            }
        })
    };
    for g in 1..=40u8 {
        store.put(&key, Bytes::from(vec![g; len_of(g)])).await.unwrap();
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let seen = tokio::time::timeout(Duration::from_secs(60), reader)
        .await
        .unwrap()
        .unwrap();
    assert!(seen >= 1);
}

/// `put_file` of a file above the multipart threshold arrives whole and byte-identical.
pub async fn put_file_large(store: &Store) {
    let p = fresh(store, "put_file").await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.bin");
    let data = pattern(MULTIPART_THRESHOLD as usize + 5 * 1024 * 1024 + 3, 3);
    std::fs::write(&path, &data).unwrap();
    let key = format!("{p}/big.bin");
    assert_eq!(store.put_file(&key, &path).await.unwrap(), data.len() as u64);
    assert_eq!(store.size(&key).await.unwrap(), data.len() as u64);
    assert!(
        store.get(&key).await.unwrap() == data[..],
        "uploaded bytes differ"
    );
    // A small file takes the single-request path.
    std::fs::write(&path, b"small").unwrap();
    assert_eq!(store.put_file(&format!("{p}/small"), &path).await.unwrap(), 5);
    let err = store
        .put_file(&format!("{p}/x"), &dir.path().join("absent"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::LocalFile { .. }), "{err:?}");
    assert_eq!(store.list(&p).await.unwrap().len(), 2);
}

/// `delete` removes; deleting an absent key is fine.
pub async fn delete(store: &Store) {
    let p = fresh(store, "delete").await;
    let key = format!("{p}/gone");
    store.put(&key, Bytes::from_static(b"x")).await.unwrap();
    store.delete(&key).await.unwrap();
    assert_eq!(store.get_opt(&key).await.unwrap(), None);
    store.delete(&key).await.unwrap();
}

/// [`ObjectReader`] reads (small, across blocks, bigger than the cache, past the end) equal `get_range`.
pub async fn reader_matches_get_range(store: &Store) {
    let p = fresh(store, "reader").await;
    let key = format!("{p}/obj");
    let data = pattern(17 * BLOCK_SIZE as usize + 1234, 4);
    let n = data.len() as u64;
    store.put(&key, Bytes::from(data.clone())).await.unwrap();
    let reader = ObjectReader::open(store, &key).await.unwrap();
    assert_eq!(reader.size(), n);
    let reads = [
        (0, 16),
        (BLOCK_SIZE - 8, 16),
        (5, 2 * BLOCK_SIZE),
        (0, n),
        (n - 10, 100),
        (n + 5, 10),
        (77, 0),
    ];
    let got = tokio::task::spawn_blocking(move || {
        reads
            .map(|(off, len)| (off, len, reader.read_at(off, len).unwrap()))
            .to_vec()
    })
    .await
    .unwrap();
    // Scanners share a reader across threads.
    let reader = std::sync::Arc::new(ObjectReader::open(store, &key).await.unwrap());
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let reader = reader.clone();
            tokio::task::spawn_blocking(move || {
                (0..50u64)
                    .map(|i| (i * 7919 + t * 104_729) % n)
                    .map(|off| (off, reader.read_at(off, 1000).unwrap()))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    for t in threads {
        for (off, bytes) in t.await.unwrap() {
            let end = (off + 1000).min(n) as usize;
            assert_eq!(bytes, data[off as usize..end], "concurrent read_at({off}, 1000)");
        }
    }
    for (off, len, bytes) in got {
        let end = (off + len).min(n);
        let want = if off >= end {
            Bytes::new()
        } else {
            store.get_range(&key, off..end).await.unwrap()
        };
        assert_eq!(bytes, want, "read_at({off}, {len})");
    }
}
