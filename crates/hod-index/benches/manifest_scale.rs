//! Manifest scaling: open a dataset of N source files (default 100,000, hourly, 24 steps each, one
//! chunk per step) and locate one chunk, vs parsing the equivalent kerchunk JSON as fsspec must.
//!
//! `cargo bench -p hod-index --bench manifest_scale [-- FILES]`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use hod_core::{ArrayMeta, ChunkEntry, ChunkLoc, DType, Endian, Format, ScannedFile, ScannedVariable};
use hod_index::{Builder, SourceScan};
use std::collections::BTreeMap;
use std::time::Instant;

fn synthetic(i: usize) -> SourceScan {
    let mut t2m = ArrayMeta::new(
        vec!["time".into(), "latitude".into(), "longitude".into()],
        vec![24, 33, 49],
        vec![1, 33, 49],
        DType::I16,
        Endian::Big,
    );
    t2m.attrs
        .insert("scale_factor".into(), (0.0001 + i as f64 * 1e-9).into());
    let mut time = ArrayMeta::new(vec!["time".into()], vec![24], vec![24], DType::I32, Endian::Big);
    time.attrs
        .insert("units".into(), "hours since 1900-01-01 00:00:00".into());
    let chunks = (0..24)
        .map(|h| ChunkEntry {
            index: vec![h, 0, 0],
            loc: ChunkLoc::Range {
                offset: 1520 + h * 3234,
                length: 3234,
            },
        })
        .collect();
    let file = ScannedFile {
        format: Format::Netcdf3,
        attrs: Default::default(),
        variables: vec![
            ScannedVariable {
                name: "t2m".into(),
                meta: t2m,
                chunks,
            },
            ScannedVariable {
                name: "time".into(),
                meta: time,
                chunks: vec![],
            },
        ],
    };
    let first = 1_044_552.0 + 24.0 * i as f64;
    let coords = BTreeMap::from([("time".to_string(), (0..24).map(|h| first + h as f64).collect())]);
    SourceScan {
        url: format!("s3://bucket/era5/era5_t2m_{i:06}.nc"),
        size: 79136,
        file,
        coords,
    }
}

fn main() {
    let n: usize = std::env::args()
        .filter_map(|a| a.parse().ok())
        .next()
        .unwrap_or(100_000);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = hod_store::Store::open(&dir.path().display().to_string()).unwrap();

    let t = Instant::now();
    let scans: Vec<SourceScan> = (0..n).map(synthetic).collect();
    let mut b = Builder::new("big", &scans[0], Some("time")).unwrap();
    for s in &scans {
        b.add(s).unwrap();
    }
    let (meta, shards) = b.finish().unwrap();
    let version = rt.block_on(hod_index::publish(&store, meta, shards)).unwrap();
    println!(
        "built and published {n} files ({} chunk refs) in {:.2} s (version {version})",
        n * 24,
        t.elapsed().as_secs_f64()
    );

    // Open + locate the chunk of one hour in the middle, from a cold process state.
    let target = (n as u64 / 2) * 24 + 7;
    let mut best = f64::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        let (offset, url) = rt.block_on(async {
            let meta = hod_index::read_meta(&store, "big").await.unwrap();
            let shards = hod_index::read_shards(&store, &meta, target..target + 1)
                .await
                .unwrap();
            let grid = meta.variables["t2m"].array.chunk_grid();
            match shards[0].locate("t2m", 0, &grid, &[target, 0, 0]).unwrap() {
                hod_index::manifest::Located::Range { source, offset, .. } => (offset, source.url.clone()),
                hod_index::manifest::Located::Inline(_) => unreachable!(),
            }
        });
        assert_eq!(offset, 1520 + 7 * 3234);
        assert!(url.ends_with(&format!("{:06}.nc", n / 2)));
        best = best.min(t.elapsed().as_secs_f64() * 1e3);
    }
    let meta_size = std::fs::metadata(walk(dir.path(), "versions")).unwrap().len();
    println!("hod: open + locate one chunk of {n} files: {best:.2} ms (version document {meta_size} bytes)");

    // Peer: the kerchunk JSON of the same dataset must be parsed whole before any chunk is found.
    let mut refs = serde_json::Map::new();
    for i in 0..n {
        for h in 0..24 {
            refs.insert(
                format!("t2m/{}.0.0", i * 24 + h),
                serde_json::json!([
                    format!("s3://bucket/era5/era5_t2m_{i:06}.nc"),
                    1520 + h * 3234,
                    3234
                ]),
            );
        }
    }
    let text = serde_json::to_vec(&serde_json::json!({"version": 1, "refs": refs})).unwrap();
    drop(refs);
    let t = Instant::now();
    let parsed: serde_json::Value = serde_json::from_slice(&text).unwrap();
    let key = format!("t2m/{target}.0.0");
    assert_eq!(parsed["refs"][&key][1], 1520 + 7 * 3234);
    let peer = t.elapsed().as_secs_f64() * 1e3;
    println!(
        "kerchunk JSON ({:.0} MB) parse + locate: {peer:.0} ms; ratio {:.0}x",
        text.len() as f64 / 1e6,
        peer / best
    );
}

fn walk(root: &std::path::Path, part: &str) -> std::path::PathBuf {
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.display().to_string().contains(part) {
                return p;
            }
        }
    }
    panic!("no {part} object");
}
