//! Basin weights kept across calls: in this process and in files on the local disk, so that a
//! second basin mean over the same grid and polygons (another variable of the dataset, another
//! run of `hod basin-mean`) does not compute them again.
//!
//! A set of weights is named by the SHA-256 of everything that determines it: the grid geometry
//! (shape, origin, cell size, CRS), every polygon coordinate, the weighting and rounding, and
//! [`WEIGHTS_REVISION`]. On disk it is `<dir>/<key hex>.bin`:
//!
//! ```text
//! "HODWGTS\x1a"  magic (8 bytes)
//! u32            format version (1)
//! [u8; 32]       the key again
//! u64            grid cells (rows × cols)
//! u64            basins
//! per basin:     u64 cells, then per cell u64 row-major grid index and f64 weight
//! [u8; 32]       SHA-256 of all the bytes before it
//! ```
//!
//! All numbers little-endian. Files are written to a temporary name and renamed, so a reader sees
//! a whole file or none; a file that is truncated, corrupt or for another key is ignored (with a
//! warning) and the weights are computed again, never used.

use geo_types::MultiPolygon;
use hod_gis::GridGeometry;
use hod_gis::zonal::{AreaModel, Precision, WEIGHTS_REVISION, Weighting, Weights, weights};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

const MAGIC: &[u8; 8] = b"HODWGTS\x1a";
const VERSION: u32 = 1;

/// Where weights are kept between calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WeightsCache {
    /// Computed at every call.
    Off,
    /// Kept in this process only.
    Memory,
    /// Kept in this process and in files under this directory.
    Disk(PathBuf),
}

/// Where a call's weights came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightsFrom {
    /// Computed by this call.
    Computed,
    /// Found in this process's cache.
    Memory,
    /// Read from the disk cache.
    Disk,
}

impl WeightsFrom {
    /// `computed`, `memory` or `disk`.
    pub fn as_str(self) -> &'static str {
        match self {
            WeightsFrom::Computed => "computed",
            WeightsFrom::Memory => "memory",
            WeightsFrom::Disk => "disk",
        }
    }
}

/// The default cache directory: `$HOD_CACHE_DIR/weights`, else `$XDG_CACHE_HOME/hod/weights`,
/// else `$HOME/.cache/hod/weights`; `None` when none of these is set.
pub fn default_dir() -> Option<PathBuf> {
    let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    let root = var("HOD_CACHE_DIR")
        .or_else(|| var("XDG_CACHE_HOME").map(|d| d.join("hod")))
        .or_else(|| var("HOME").map(|d| d.join(".cache").join("hod")))?;
    Some(root.join("weights"))
}

/// The name of a set of weights: SHA-256 of everything they depend on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key(pub [u8; 32]);

impl Key {
    /// The weights of `shapes` (in order) on `grid`: SHA-256 over, little-endian, the tag
    /// `hod basin weights`, the format version and [`WEIGHTS_REVISION`] (u32); rows, cols (u64);
    /// x0, y0, dx, dy (f64); 1 if geographic else 0 (u8); the CRS (u64 length and bytes, or
    /// u64::MAX); the weighting (u8: 0 coverage, 1 planar, 2 sphere then its radius as f64,
    /// 3 WGS84); the precision (u8: 0 exact, 1 float32); the number of shapes (u64) and for each
    /// its polygons (u64), for each polygon its holes (u64), for each ring (exterior first) its
    /// vertices (u64) and their x, y (f64).
    pub fn new(
        grid: &GridGeometry,
        shapes: &[&MultiPolygon<f64>],
        weighting: Weighting,
        precision: Precision,
    ) -> Key {
        let mut h = Sha256::new();
        h.update(b"hod basin weights");
        h.update(VERSION.to_le_bytes());
        h.update(WEIGHTS_REVISION.to_le_bytes());
        let u = |h: &mut Sha256, n: usize| h.update((n as u64).to_le_bytes());
        let f = |h: &mut Sha256, v: f64| h.update(v.to_le_bytes());
        u(&mut h, grid.rows);
        u(&mut h, grid.cols);
        for v in [grid.x0, grid.y0, grid.dx, grid.dy] {
            f(&mut h, v);
        }
        h.update([u8::from(grid.is_geographic())]);
        match &grid.crs {
            Some(c) => {
                u(&mut h, c.len());
                h.update(c.as_bytes());
            }
            None => h.update(u64::MAX.to_le_bytes()),
        }
        match weighting {
            Weighting::Coverage => h.update([0]),
            Weighting::Area(AreaModel::Planar) => h.update([1]),
            Weighting::Area(AreaModel::Sphere { radius }) => {
                h.update([2]);
                f(&mut h, radius);
            }
            Weighting::Area(AreaModel::Wgs84) => h.update([3]),
        }
        h.update([match precision {
            Precision::Exact => 0,
            Precision::Float32 => 1,
        }]);
        u(&mut h, shapes.len());
        for shape in shapes {
            u(&mut h, shape.0.len());
            for p in &shape.0 {
                u(&mut h, p.interiors().len());
                for ring in std::iter::once(p.exterior()).chain(p.interiors()) {
                    u(&mut h, ring.0.len());
                    for c in &ring.0 {
                        f(&mut h, c.x);
                        f(&mut h, c.y);
                    }
                }
            }
        }
        Key(h.finalize().into())
    }

    /// Lower-case hexadecimal.
    pub fn hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// What [`get`] found or computed.
#[derive(Debug, Clone)]
pub struct Found {
    /// One set of weights per shape, in order.
    pub weights: Arc<Vec<Weights>>,
    /// Where they came from.
    pub from: WeightsFrom,
    /// Cache files that could not be read or written (the weights are right regardless).
    pub warnings: Vec<String>,
}

/// The weights of each of `shapes` on `grid`, from the cache `cache` says, computed (and kept)
/// when missing. Never fails: a cache that cannot be read or written only adds a warning.
pub fn get(
    cache: &WeightsCache,
    grid: &GridGeometry,
    shapes: &[&MultiPolygon<f64>],
    weighting: Weighting,
    precision: Precision,
) -> Found {
    let dir = match cache {
        WeightsCache::Off => {
            let weights = Arc::new(compute(grid, shapes, weighting, precision));
            return Found {
                weights,
                from: WeightsFrom::Computed,
                warnings: vec![],
            };
        }
        WeightsCache::Memory => None,
        WeightsCache::Disk(d) => Some(d.as_path()),
    };
    let key = Key::new(grid, shapes, weighting, precision);
    static MEMORY: OnceLock<Mutex<HashMap<Key, Arc<Vec<Weights>>>>> = OnceLock::new();
    let memory = MEMORY.get_or_init(Default::default);
    if let Some(w) = memory.lock().ok().and_then(|m| m.get(&key).cloned()) {
        return Found {
            weights: w,
            from: WeightsFrom::Memory,
            warnings: vec![],
        };
    }
    let found = disk_or_compute(dir, &key, grid, shapes, weighting, precision);
    if let Ok(mut m) = memory.lock() {
        m.insert(key, found.weights.clone());
    }
    found
}

fn compute(
    grid: &GridGeometry,
    shapes: &[&MultiPolygon<f64>],
    weighting: Weighting,
    precision: Precision,
) -> Vec<Weights> {
    shapes
        .iter()
        .map(|s| weights(grid, s, weighting, precision))
        .collect()
}

/// The weights from `<dir>/<key>.bin` when it holds them, else computed and saved there.
fn disk_or_compute(
    dir: Option<&Path>,
    key: &Key,
    grid: &GridGeometry,
    shapes: &[&MultiPolygon<f64>],
    weighting: Weighting,
    precision: Precision,
) -> Found {
    let mut warnings = vec![];
    if let Some(dir) = dir {
        let path = dir.join(format!("{}.bin", key.hex()));
        match std::fs::read(&path) {
            Ok(bytes) => match decode(&bytes, key, grid.len(), shapes.len()) {
                Ok(w) => {
                    return Found {
                        weights: Arc::new(w),
                        from: WeightsFrom::Disk,
                        warnings,
                    };
                }
                Err(why) => warnings.push(format!(
                    "ignoring cached weights {}: {why}; computing them again",
                    path.display()
                )),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => warnings.push(format!("cannot read cached weights {}: {e}", path.display())),
        }
    }
    let w = Arc::new(compute(grid, shapes, weighting, precision));
    if let Some(dir) = dir
        && let Err(e) = write_atomic(dir, key, &encode(key, grid.len(), &w))
    {
        warnings.push(format!("cannot cache weights in {}: {e}", dir.display()));
    }
    Found {
        weights: w,
        from: WeightsFrom::Computed,
        warnings,
    }
}

/// The file's bytes (format in the module doc).
pub fn encode(key: &Key, cells: usize, sets: &[Weights]) -> Vec<u8> {
    let n: usize = sets.iter().map(|w| 8 + 16 * w.cells.len()).sum();
    let mut b = Vec::with_capacity(8 + 4 + 32 + 16 + n + 32);
    b.extend_from_slice(MAGIC);
    b.extend_from_slice(&VERSION.to_le_bytes());
    b.extend_from_slice(&key.0);
    b.extend_from_slice(&(cells as u64).to_le_bytes());
    b.extend_from_slice(&(sets.len() as u64).to_le_bytes());
    for w in sets {
        b.extend_from_slice(&(w.cells.len() as u64).to_le_bytes());
        for &(i, wt) in &w.cells {
            b.extend_from_slice(&(i as u64).to_le_bytes());
            b.extend_from_slice(&wt.to_le_bytes());
        }
    }
    let sum: [u8; 32] = Sha256::digest(&b).into();
    b.extend_from_slice(&sum);
    b
}

/// The weights in `bytes`, checked against what the caller expects: its key, the grid's number
/// of cells and the number of basins; indices in order and inside the grid, weights finite and
/// positive. The error says what is wrong.
pub fn decode(bytes: &[u8], key: &Key, cells: usize, basins: usize) -> Result<Vec<Weights>, String> {
    let body_len = bytes
        .len()
        .checked_sub(32)
        .ok_or_else(|| format!("{} bytes, too short", bytes.len()))?;
    let (body, sum) = bytes.split_at(body_len);
    if body.get(..8) != Some(MAGIC.as_slice()) {
        return Err("not a hod weights file".into());
    }
    if <[u8; 32]>::from(Sha256::digest(body)) != sum {
        return Err("checksum mismatch (truncated or corrupt)".into());
    }
    let mut r = Reader { b: body, at: 8 };
    let version = u32::from_le_bytes(r.array()?);
    if version != VERSION {
        return Err(format!("format version {version}, expected {VERSION}"));
    }
    if r.array::<32>()? != key.0 {
        return Err("written for another key".into());
    }
    let (n_cells, n_sets) = (r.u64()?, r.u64()?);
    if n_cells != cells as u64 || n_sets != basins as u64 {
        return Err(format!(
            "{n_sets} basins on {n_cells} cells, expected {basins} on {cells}"
        ));
    }
    let mut sets = Vec::with_capacity(basins);
    for _ in 0..basins {
        let n = r.u64()?;
        if n > n_cells || n.saturating_mul(16) > (body.len() - r.at) as u64 {
            return Err(format!(
                "{n} covered cells on a grid of {n_cells}, or past the end"
            ));
        }
        let mut w = Weights::default();
        w.cells.reserve(n as usize);
        for _ in 0..n {
            let (i, wt) = (r.u64()?, f64::from_le_bytes(r.array()?));
            let ordered = w.cells.last().is_none_or(|&(prev, _)| (prev as u64) < i);
            if i >= n_cells || !ordered || !(wt.is_finite() && wt > 0.0) {
                return Err(format!("bad cell ({i}, {wt})"));
            }
            w.cells.push((i as usize, wt));
        }
        sets.push(w);
    }
    if r.at != body.len() {
        return Err(format!("{} bytes left over", body.len() - r.at));
    }
    Ok(sets)
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let s = self
            .b
            .get(self.at..self.at + N)
            .and_then(|s| <[u8; N]>::try_from(s).ok())
            .ok_or_else(|| format!("ends at byte {} inside a record", self.b.len()))?;
        self.at += N;
        Ok(s)
    }

    fn u64(&mut self) -> Result<u64, String> {
        self.array().map(u64::from_le_bytes)
    }
}

/// Writes `<dir>/<key>.bin` through a temporary file in `dir` and a rename, so readers never see
/// part of a file.
fn write_atomic(dir: &Path, key: &Key, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    // Unique per process and call, so concurrent writers never share a temporary file.
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let n = CALLS.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!(".{}.{}.{n}.tmp", key.hex(), std::process::id()));
    let written = std::fs::write(&tmp, bytes)
        .and_then(|()| std::fs::rename(&tmp, dir.join(format!("{}.bin", key.hex()))));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use geo_types::{LineString, Polygon};

    fn square(x: f64) -> MultiPolygon<f64> {
        let ring: LineString<f64> = vec![(x, 0.2), (x + 1.3, 0.2), (x + 1.3, 1.7), (x, 1.7), (x, 0.2)].into();
        MultiPolygon(vec![Polygon::new(ring, vec![])])
    }

    fn grid() -> GridGeometry {
        GridGeometry {
            cols: 4,
            rows: 3,
            x0: 0.0,
            y0: 3.0,
            dx: 1.0,
            dy: 1.0,
            crs: Some("EPSG:4326".into()),
        }
    }

    #[test]
    fn disk_round_trip_and_every_damage_is_refused() {
        let (a, b) = (square(0.4), square(1.1));
        let area = Weighting::Area(AreaModel::Wgs84);
        let key = Key::new(&grid(), &[&a, &b], area, Precision::Exact);
        let sets: Vec<Weights> = [&a, &b]
            .iter()
            .map(|s| weights(&grid(), s, area, Precision::Exact))
            .collect();
        let bytes = encode(&key, 12, &sets);
        assert_eq!(decode(&bytes, &key, 12, 2).unwrap(), sets);
        // Any flipped byte, any truncation, another key or another grid size: refused.
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x40;
            assert!(decode(&bad, &key, 12, 2).is_err(), "byte {i}");
        }
        for n in 0..bytes.len() {
            assert!(decode(&bytes[..n], &key, 12, 2).is_err(), "length {n}");
        }
        let other = Key::new(&grid(), &[&a], area, Precision::Exact);
        assert!(decode(&bytes, &other, 12, 2).is_err());
        assert!(decode(&bytes, &key, 13, 2).is_err());
        assert!(decode(&bytes, &key, 12, 1).is_err());
    }

    #[test]
    fn keys_change_with_every_input() {
        let (a, b) = (square(0.4), square(0.5));
        let k = |g: &GridGeometry, s: &MultiPolygon<f64>, w, p| Key::new(g, &[s], w, p);
        let cov = Weighting::Coverage;
        let base = k(&grid(), &a, cov, Precision::Exact);
        assert_eq!(base, k(&grid(), &a.clone(), cov, Precision::Exact));
        // A fixed algorithm: the key of this input does not change between builds (the same digest
        // as Python's hashlib.sha256 over the encoding described in Key::new).
        assert_eq!(
            base.hex(),
            "36651d4fd83233dabb4d6dd40e69e5109dcef838b74915c1789b1bbdeafcd46c"
        );
        let mut shifted = grid();
        shifted.x0 += 360.0;
        let mut projected = grid();
        projected.crs = None;
        for other in [
            k(&grid(), &b, cov, Precision::Exact),
            k(&grid(), &a, cov, Precision::Float32),
            k(&grid(), &a, Weighting::Area(AreaModel::Wgs84), Precision::Exact),
            k(
                &grid(),
                &a,
                Weighting::Area(AreaModel::Sphere { radius: 6_371_000.0 }),
                Precision::Exact,
            ),
            k(&shifted, &a, cov, Precision::Exact),
            k(&projected, &a, cov, Precision::Exact),
            Key::new(&grid(), &[&a, &a], cov, Precision::Exact),
        ] {
            assert_ne!(base, other);
        }
    }

    #[test]
    fn files_are_reused_and_a_damaged_one_is_recomputed() {
        let dir = tempfile::tempdir().unwrap();
        let s = square(0.123_456);
        let (w, p) = (Weighting::Area(AreaModel::Planar), Precision::Exact);
        let key = Key::new(&grid(), &[&s], w, p);
        let at = Some(dir.path());
        let first = disk_or_compute(at, &key, &grid(), &[&s], w, p);
        assert_eq!((first.from, first.warnings.len()), (WeightsFrom::Computed, 0));
        let again = disk_or_compute(at, &key, &grid(), &[&s], w, p);
        assert_eq!((again.from, &again.weights), (WeightsFrom::Disk, &first.weights));
        let file = dir.path().join(format!("{}.bin", key.hex()));
        let bytes = std::fs::read(&file).unwrap();
        std::fs::write(&file, &bytes[..bytes.len() / 2]).unwrap();
        let redone = disk_or_compute(at, &key, &grid(), &[&s], w, p);
        assert_eq!(
            (redone.from, &redone.weights),
            (WeightsFrom::Computed, &first.weights)
        );
        assert!(
            redone.warnings[0].contains("ignoring cached weights"),
            "{:?}",
            redone.warnings
        );
        assert_eq!(std::fs::read(&file).unwrap(), bytes, "rewritten whole");
        // Through get(): Off computes and touches nothing; Disk then Memory.
        std::fs::remove_file(&file).unwrap();
        let off = get(&WeightsCache::Off, &grid(), &[&s], w, p);
        assert_eq!((off.from, &off.weights), (WeightsFrom::Computed, &first.weights));
        assert!(!file.exists());
        let cache = WeightsCache::Disk(dir.path().to_path_buf());
        assert_eq!(get(&cache, &grid(), &[&s], w, p).from, WeightsFrom::Computed);
        assert!(file.exists());
        assert_eq!(get(&cache, &grid(), &[&s], w, p).from, WeightsFrom::Memory);
    }
}
