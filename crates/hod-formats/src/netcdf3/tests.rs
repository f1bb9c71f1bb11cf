//! Layout tests on hand-assembled netCDF3 files (the real files in the shared data set have no
//! record variables).

use super::*;
use crate::SliceSource;
use std::sync::atomic::{AtomicU64, Ordering};

const BYTE: u32 = 1;
const CHAR: u32 = 2;
const SHORT: u32 = 3;
const INT: u32 = 4;
const FLOAT: u32 = 5;
const DOUBLE: u32 = 6;
const USHORT: u32 = 8;
const INT64: u32 = 10;

struct A {
    name: &'static str,
    ty: u32,
    n: u64,
    raw: Vec<u8>,
}

fn text(name: &'static str, s: &str) -> A {
    A {
        name,
        ty: CHAR,
        n: s.len() as u64,
        raw: s.as_bytes().to_vec(),
    }
}

fn doubles(name: &'static str, v: &[f64]) -> A {
    A {
        name,
        ty: DOUBLE,
        n: v.len() as u64,
        raw: v.iter().flat_map(|x| x.to_be_bytes()).collect(),
    }
}

struct V {
    name: &'static str,
    dims: Vec<u64>,
    ty: u32,
    attrs: Vec<A>,
}

fn var(name: &'static str, dims: &[u64], ty: u32) -> V {
    V {
        name,
        dims: dims.to_vec(),
        ty,
        attrs: Vec::new(),
    }
}

/// Writes a header in the grammar of the netCDF classic format spec.
struct W {
    version: u8,
    out: Vec<u8>,
}

impl W {
    fn u32(&mut self, v: u32) {
        self.out.extend(v.to_be_bytes());
    }
    fn count(&mut self, v: u64) {
        if self.version == 5 {
            self.out.extend(v.to_be_bytes());
        } else {
            self.u32(v as u32);
        }
    }
    fn pad(&mut self) {
        while !self.out.len().is_multiple_of(4) {
            self.out.push(0);
        }
    }
    fn name(&mut self, s: &str) {
        self.count(s.len() as u64);
        self.out.extend(s.as_bytes());
        self.pad();
    }
    fn list_head(&mut self, tag: u32, n: usize) {
        self.u32(if n == 0 { 0 } else { tag });
        self.count(n as u64);
    }
    fn attrs(&mut self, attrs: &[A]) {
        self.list_head(0x0C, attrs.len());
        for a in attrs {
            self.name(a.name);
            self.u32(a.ty);
            self.count(a.n);
            self.out.extend(&a.raw);
            self.pad();
        }
    }
}

/// A header with the given layout; `begins` are the variables' data offsets.
fn header(
    version: u8,
    numrecs: u64,
    dims: &[(&str, u64)],
    gattrs: &[A],
    vars: &[V],
    begins: &[u64],
) -> Vec<u8> {
    let mut w = W {
        version,
        out: vec![b'C', b'D', b'F', version],
    };
    w.count(numrecs);
    w.list_head(0x0A, dims.len());
    for (name, len) in dims {
        w.name(name);
        w.count(*len);
    }
    w.attrs(gattrs);
    w.list_head(0x0B, vars.len());
    for (v, begin) in vars.iter().zip(begins) {
        w.name(v.name);
        w.count(v.dims.len() as u64);
        for &d in &v.dims {
            w.count(d);
        }
        w.attrs(&v.attrs);
        w.u32(v.ty);
        w.count(0); // vsize: ignored by the scanner
        if version == 1 {
            w.u32(*begin as u32);
        } else {
            w.out.extend(begin.to_be_bytes());
        }
    }
    w.out
}

/// The header length (independent of the begin values).
fn header_len(version: u8, dims: &[(&str, u64)], gattrs: &[A], vars: &[V]) -> u64 {
    header(version, 0, dims, gattrs, vars, &vec![0; vars.len()]).len() as u64
}

/// A whole file: the header, then zeros up to `size`, with `data` written at their offsets.
fn file(head: Vec<u8>, size: u64, data: &[(u64, &[u8])]) -> Vec<u8> {
    let mut f = head;
    f.resize(size as usize, 0);
    for (at, bytes) in data {
        f[*at as usize..*at as usize + bytes.len()].copy_from_slice(bytes);
    }
    f
}

fn ranges(v: &ScannedVariable) -> Vec<(Vec<u64>, u64, u64)> {
    v.chunks
        .iter()
        .map(|c| match &c.loc {
            ChunkLoc::Range { offset, length } => (c.index.clone(), *offset, *length),
            ChunkLoc::Inline(_) => unreachable!(),
        })
        .collect()
}

fn bytes_at<'a>(f: &'a [u8], v: &ScannedVariable, i: usize) -> &'a [u8] {
    let (_, offset, length) = ranges(v)[i].clone();
    &f[offset as usize..(offset + length) as usize]
}

#[test]
fn two_record_variables_are_padded_and_interleaved() {
    let dims = [("time", 0), ("y", 3)];
    let vars = [
        var("fix", &[1], INT),
        var("time", &[0], INT),
        var("x", &[0, 1], SHORT),
    ];
    let h = header_len(1, &dims, &[], &vars);
    // fix: 12 bytes; then records of time (4) + x (6, padded to 8): recsize 12.
    let begins = [h, h + 12, h + 16];
    let x0: Vec<u8> = [1i16, 2, 3].iter().flat_map(|v| v.to_be_bytes()).collect();
    let x1: Vec<u8> = [4i16, 5, 6].iter().flat_map(|v| v.to_be_bytes()).collect();
    let f = file(
        header(1, 2, &dims, &[], &vars, &begins),
        h + 12 + 2 * 12,
        &[
            (h + 12, &7i32.to_be_bytes()),
            (h + 16, &x0),
            (h + 24, &8i32.to_be_bytes()),
            (h + 28, &x1),
        ],
    );
    let s = scan(&SliceSource(&f)).unwrap();
    let [fix, time, x] = &s.variables[..] else {
        panic!()
    };
    assert_eq!(fix.meta.shape, vec![3]);
    assert_eq!(ranges(fix), vec![(vec![0], h, 12)]);
    assert_eq!(
        (time.meta.shape.clone(), time.meta.chunks.clone()),
        (vec![2], vec![1])
    );
    assert_eq!(ranges(time), vec![(vec![0], h + 12, 4), (vec![1], h + 24, 4)]);
    assert_eq!(x.meta.dims, vec!["time", "y"]);
    assert_eq!(
        (x.meta.shape.clone(), x.meta.chunks.clone()),
        (vec![2, 3], vec![1, 3])
    );
    assert_eq!(ranges(x), vec![(vec![0, 0], h + 16, 6), (vec![1, 0], h + 28, 6)]);
    assert_eq!(bytes_at(&f, x, 1), &x1[..]);
    assert_eq!(bytes_at(&f, time, 1), &8i32.to_be_bytes());
}

#[test]
fn a_single_record_variable_is_packed_and_must_lead() {
    let dims = [("y", 3), ("time", 0)];
    let vars = [var("x", &[0, 1], SHORT)];
    // The unlimited dimension must come first in the variable.
    let h = header_len(2, &dims, &[], &vars);
    let f = file(header(2, 3, &dims, &[], &vars, &[h]), h + 18, &[]);
    let err = scan(&SliceSource(&f)).unwrap_err();
    assert!(matches!(err, FormatError::Corrupt { .. }), "{err}");

    let dims = [("time", 0), ("y", 3)];
    let vars = [var("x", &[0, 1], SHORT)];
    let h = header_len(2, &dims, &[], &vars);
    let f = file(header(2, 3, &dims, &[], &vars, &[h]), h + 18, &[]);
    let s = scan(&SliceSource(&f)).unwrap();
    assert_eq!(
        ranges(&s.variables[0]),
        vec![
            (vec![0, 0], h, 6),
            (vec![1, 0], h + 6, 6),
            (vec![2, 0], h + 12, 6)
        ]
    );
}

#[test]
fn streaming_numrecs_comes_from_the_file_size() {
    let dims = [("time", 0)];
    let vars = [var("t", &[0], DOUBLE)];
    let h = header_len(2, &dims, &[], &vars);
    // Two and a half records: the partial one is not counted.
    let f = file(header(2, 0xFFFF_FFFF, &dims, &[], &vars, &[h]), h + 20, &[]);
    let s = scan(&SliceSource(&f)).unwrap();
    assert_eq!(s.variables[0].meta.shape, vec![2]);
    assert_eq!(
        ranges(&s.variables[0]),
        vec![(vec![0], h, 8), (vec![1], h + 8, 8)]
    );
}

#[test]
fn rank4_variables_have_one_chunk_per_leading_index() {
    let dims = [("time", 0), ("level", 2), ("y", 2), ("x", 3)];
    let vars = [
        var("u", &[0, 1, 2, 3], FLOAT),
        var("w", &[0], BYTE),
        var("z", &[1, 1, 2, 3], SHORT),
    ];
    let h = header_len(1, &dims, &[], &vars);
    // Fixed z (2*2*2*3 shorts = 48 bytes) first, then records: u 48 bytes + w 1 (padded 4).
    let begins = [h + 48, h + 96, h];
    let f = file(header(1, 2, &dims, &[], &vars, &begins), h + 48 + 2 * 52, &[]);
    let s = scan(&SliceSource(&f)).unwrap();
    let u = s.variable("u").unwrap();
    assert_eq!(u.meta.chunks, vec![1, 1, 2, 3]);
    assert_eq!(
        ranges(u),
        vec![
            (vec![0, 0, 0, 0], h + 48, 24),
            (vec![0, 1, 0, 0], h + 72, 24),
            (vec![1, 0, 0, 0], h + 100, 24),
            (vec![1, 1, 0, 0], h + 124, 24),
        ]
    );
    assert_eq!(
        ranges(s.variable("w").unwrap()),
        vec![(vec![0], h + 96, 1), (vec![1], h + 148, 1)]
    );
    let z = s.variable("z").unwrap();
    assert_eq!(z.meta.chunks, vec![1, 1, 2, 3]);
    assert_eq!(z.chunks.len(), 4);
    assert_eq!(ranges(z)[3], (vec![1, 1, 0, 0], h + 36, 12));
}

#[test]
fn attributes_become_json_and_fill_value_is_taken_out() {
    let dims = [("x", 2)];
    let mut t = var("t", &[0], SHORT);
    t.attrs = vec![
        A {
            name: "_FillValue",
            ty: SHORT,
            n: 1,
            raw: (-32767i16).to_be_bytes().to_vec(),
        },
        doubles("scale_factor", &[-0.5]),
        doubles("valid_range", &[0.0, 10.0]),
        A {
            name: "nan",
            ty: FLOAT,
            n: 1,
            raw: f32::NAN.to_be_bytes().to_vec(),
        },
        text("units", "K\0"),
        A {
            name: "flags",
            ty: BYTE,
            n: 3,
            raw: vec![0xFF, 0, 1],
        },
        A {
            name: "empty",
            ty: INT,
            n: 0,
            raw: vec![],
        },
    ];
    let gattrs = [text("Conventions", "CF-1.6")];
    let vars = [t];
    let h = header_len(1, &dims, &gattrs, &vars);
    let f = file(header(1, 0, &dims, &gattrs, &vars, &[h]), h + 4, &[]);
    let s = scan(&SliceSource(&f)).unwrap();
    assert_eq!(s.attrs["Conventions"], "CF-1.6");
    let m = &s.variables[0].meta;
    assert_eq!(m.fill_value, Some(-32767.0));
    assert!(!m.attrs.contains_key("_FillValue"));
    assert_eq!(m.attrs["scale_factor"], -0.5);
    assert_eq!(m.attrs["valid_range"], serde_json::json!([0.0, 10.0]));
    assert_eq!(m.attrs["nan"], "NaN");
    assert_eq!(m.attrs["units"], "K");
    assert_eq!(m.attrs["flags"], serde_json::json!([-1, 0, 1]));
    assert_eq!(m.attrs["empty"], serde_json::json!([]));
    assert_eq!(
        (m.dtype, m.endian, m.codecs.is_empty()),
        (hod_core::DType::I16, Endian::Big, true)
    );
}

#[test]
fn cdf5_has_wide_fields_and_more_types() {
    let dims = [("n", 3), ("s", 4)];
    let mut a = var("a", &[0], USHORT);
    a.attrs = vec![A {
        name: "big",
        ty: INT64,
        n: 1,
        raw: (-5_000_000_000i64).to_be_bytes().to_vec(),
    }];
    let vars = [a, var("c", &[0, 1], CHAR), var("scalar", &[], INT64)];
    let h = header_len(5, &dims, &[], &vars);
    let begins = [h, h + 8, h + 20];
    let f = file(header(5, 0, &dims, &[], &vars, &begins), h + 28, &[]);
    let s = scan(&SliceSource(&f)).unwrap();
    let a = s.variable("a").unwrap();
    assert_eq!(a.meta.dtype, hod_core::DType::U16);
    assert_eq!(a.meta.attrs["big"], -5_000_000_000i64);
    assert_eq!(ranges(a), vec![(vec![0], h, 6)]);
    let c = s.variable("c").unwrap();
    assert_eq!(
        (c.meta.dtype, c.meta.shape.clone()),
        (hod_core::DType::U8, vec![3, 4])
    );
    assert_eq!(ranges(c), vec![(vec![0, 0], h + 8, 12)]);
    let sc = s.variable("scalar").unwrap();
    assert_eq!((sc.meta.shape.clone(), sc.meta.chunks.clone()), (vec![], vec![]));
    assert_eq!(ranges(sc), vec![(vec![], h + 20, 8)]);
}

#[test]
fn data_past_the_end_is_truncated() {
    let dims = [("x", 10)];
    let vars = [var("v", &[0], DOUBLE)];
    let h = header_len(1, &dims, &[], &vars);
    let f = file(header(1, 0, &dims, &[], &vars, &[h]), h + 79, &[]);
    match scan(&SliceSource(&f)).unwrap_err() {
        FormatError::Truncated { needed, size, .. } => assert_eq!((needed, size), (h + 80, h + 79)),
        e => panic!("{e}"),
    }
}

#[test]
fn data_inside_the_header_or_overlapping_is_corrupt() {
    let dims = [("x", 2)];
    let vars = [var("v", &[0], INT), var("w", &[0], INT)];
    let h = header_len(1, &dims, &[], &vars);
    let f = file(header(1, 0, &dims, &[], &vars, &[h - 4, h]), h + 8, &[]);
    let e = scan(&SliceSource(&f)).unwrap_err();
    assert!(e.to_string().contains("variable v: data begin"), "{e}");
    // Two variables of 4000 bytes in a file of fewer than 8000.
    let dims = [("x", 1000)];
    let h = header_len(1, &dims, &[], &vars);
    let f = file(header(1, 0, &dims, &[], &vars, &[h, h]), h + 4000, &[]);
    let e = scan(&SliceSource(&f)).unwrap_err();
    assert!(
        e.to_string()
            .contains("variable w: the variables' data add up to more than the file"),
        "{e}"
    );
}

#[test]
fn absurd_counts_fail_without_reading_on() {
    let mut f = b"CDF\x01\0\0\0\0\0\0\0\x0a\x7f\xff\xff\xff".to_vec();
    f.resize(64, 0);
    assert!(matches!(
        scan(&SliceSource(&f)).unwrap_err(),
        FormatError::Truncated { .. }
    ));
    f[11] = 0x0B;
    let e = scan(&SliceSource(&f)).unwrap_err();
    assert!(e.to_string().contains("expected NC_DIMENSION tag"), "{e}");
    assert!(matches!(
        scan(&SliceSource(b"CDF\x03")).unwrap_err(),
        FormatError::Corrupt { offset: 0, .. }
    ));
}

/// A source that records how far it was read.
struct Watched<'a>(SliceSource<'a>, AtomicU64);

impl ReadAt for Watched<'_> {
    fn size(&self) -> u64 {
        self.0.size()
    }
    fn read_at(&self, offset: u64, len: u64) -> std::io::Result<Vec<u8>> {
        self.1.fetch_max(offset + len, Ordering::Relaxed);
        self.0.read_at(offset, len)
    }
}

#[test]
fn long_headers_are_read_in_steps_and_data_never() {
    let dims = [("x", 50_000)];
    let gattrs = [text("history", &"h".repeat(20_000))];
    let vars = [var("v", &[0], FLOAT)];
    let h = header_len(2, &dims, &gattrs, &vars);
    let f = file(header(2, 0, &dims, &gattrs, &vars, &[h]), h + 200_000, &[]);
    let src = Watched(SliceSource(&f), AtomicU64::new(0));
    let s = scan(&src).unwrap();
    assert_eq!(s.attrs["history"].as_str().unwrap().len(), 20_000);
    assert_eq!(ranges(&s.variables[0]), vec![(vec![0], h, 200_000)]);
    assert_eq!(src.1.load(Ordering::Relaxed), 2 * FIRST_READ);
}
