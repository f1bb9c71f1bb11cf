//! Writes [`DataCube`]s as a Zarr v3 group in a local directory, readable by zarr-python 3 and
//! by `xarray.open_zarr(path, zarr_format=3, consolidated=False)`.
//!
//! Layout: a root group `zarr.json` holding the global attributes (and zarr-python's inline
//! consolidated metadata); one float64 array per data
//! variable and one float64 coordinate array per dimension (named like the dimension, so xarray
//! makes it the index). Every array has `dimension_names`, fill value NaN, the `default` chunk
//! key encoding (`c/0/1/2`) and the codecs `bytes` (little endian) then `gzip` level 1. Chunks
//! that hold only NaN are not written: readers return the fill value for them.
//!
//! The group is built in a sibling `<path>.partial-<pid>` directory and renamed onto `path` at
//! the end, so `path` never holds a half-written group.

use crate::sink::{Block, Sink};
use crate::{DataCube, QueryError};
use flate2::Compression;
use flate2::write::GzEncoder;
use hod_core::Attrs;
use serde_json::{Value, json};
use std::fs;
use std::io::Write;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// Largest chunk written, in bytes (leading dimensions are split to stay under it).
const MAX_CHUNK_BYTES: usize = 8 << 20;

/// Attributes describing a packing or fill that the values no longer carry (they are decoded).
const DECODED_ATTRS: [&str; 5] = [
    "scale_factor",
    "add_offset",
    "missing_value",
    "_FillValue",
    "_Unsigned",
];

/// CF units for time coordinates (cube times are seconds since 1970).
const TIME_UNITS: &str = "seconds since 1970-01-01 00:00:00";

/// One array of the group.
struct Node<'a> {
    name: String,
    dims: Vec<String>,
    shape: Vec<usize>,
    values: Values<'a>,
    attrs: Attrs,
}

/// Where an array's values come from.
#[derive(Clone, Copy)]
enum Values<'a> {
    /// A dimension's coordinates, known up front.
    Coord(&'a [f64]),
    /// The values of layout variable `i`, written block by block.
    Cube(usize),
}

/// Writes `cubes` as a Zarr v3 group at `path`, a directory that must not exist yet.
///
/// Dimensions are shared by name: every cube using a dimension must give it the same length and
/// coordinates. A cube that is its own dimension's coordinate (1-D, named like its dimension) is
/// written only as that coordinate. Names containing `/` (group paths) are flattened with `_`.
///
/// # Errors
/// [`QueryError::Invalid`] when `path` exists, a cube is inconsistent (shape, values, coords),
/// two cubes disagree on a dimension (naming both) or a name cannot name a Zarr array;
/// [`QueryError::Write`] when the file system refuses a write. On error nothing is left behind.
pub fn write_zarr(path: &Path, cubes: &[DataCube], global_attrs: &Attrs) -> Result<(), QueryError> {
    for c in cubes {
        check_cube(c, true)?;
    }
    let mut w = ZarrWriter::new(path, global_attrs, MAX_CHUNK_BYTES);
    w.begin(cubes)?;
    for (i, c) in cubes.iter().enumerate() {
        w.write_rows(i, 0..c.shape.first().copied().unwrap_or(1), &c.values)?;
    }
    w.finish()
}

/// Writes a Zarr group (as [`write_zarr`] does) from a streamed read: [`Sink::begin`] writes the
/// metadata and the coordinates, and chooses each array's chunks (at most `max_chunk_bytes`);
/// [`Sink::granule`] asks for blocks of whole chunks along the first dimension, so each block is
/// written as chunk objects at once. Dropped before [`Sink::finish`], it removes the partial group.
#[derive(Debug)]
pub struct ZarrWriter {
    path: PathBuf,
    global_attrs: Attrs,
    max_chunk_bytes: usize,
    /// The partial group, once begun.
    tmp: Option<PathBuf>,
    /// Per layout variable: its array's directory, shape and chunk shape; `None` for a variable
    /// written as its dimension's coordinate.
    arrays: Vec<Option<OutArray>>,
}

/// A data array being written: its directory, shape and chunk shape.
type OutArray = (PathBuf, Vec<usize>, Vec<usize>);

impl ZarrWriter {
    /// A writer of the group `path` (a directory that must not exist yet) with chunks of at most
    /// `max_chunk_bytes` (and one row of the last dimension, at least).
    pub fn new(path: &Path, global_attrs: &Attrs, max_chunk_bytes: usize) -> ZarrWriter {
        ZarrWriter {
            path: path.to_path_buf(),
            global_attrs: global_attrs.clone(),
            max_chunk_bytes: max_chunk_bytes.min(MAX_CHUNK_BYTES),
            tmp: None,
            arrays: Vec::new(),
        }
    }

    /// Writes rows `rows` of variable `var`: whole chunks along the first dimension, but for the
    /// array's last rows.
    fn write_rows(&mut self, var: usize, rows: Range<usize>, values: &[f64]) -> Result<(), QueryError> {
        let Some(array) = self.arrays.get(var) else {
            return Err(QueryError::Invalid(format!("no output variable {var}")));
        };
        let Some((dir, shape, chunk)) = array else {
            // A coordinate's own cube: written with the coordinates.
            return Ok(());
        };
        let mut block_shape = shape.clone();
        let first = match (block_shape.first_mut(), chunk.first()) {
            (Some(n), Some(&c)) => {
                let whole = rows.start.is_multiple_of(c) && (rows.end.is_multiple_of(c) || rows.end == *n);
                if !whole || rows.end > *n {
                    return Err(QueryError::Invalid(format!(
                        "rows {rows:?} of '{}' are not whole chunks of {c} rows",
                        dir.display()
                    )));
                }
                *n = rows.len();
                rows.start / c
            }
            _ => 0,
        };
        if block_shape.iter().product::<usize>() != values.len() {
            return Err(QueryError::Invalid(format!(
                "{} values for rows {rows:?} of '{}'",
                values.len(),
                dir.display()
            )));
        }
        write_chunks(dir, values, &block_shape, chunk, first)
    }
}

impl Sink for ZarrWriter {
    fn begin(&mut self, layout: &[DataCube]) -> Result<(), QueryError> {
        for c in layout {
            check_cube(c, false)?;
        }
        let nodes = plan(layout)?;
        if fs::symlink_metadata(&self.path).is_ok() {
            return Err(QueryError::Invalid(format!(
                "{} already exists; refusing to overwrite it",
                self.path.display()
            )));
        }
        let tmp = partial_path(&self.path)?;
        fs::create_dir(&tmp).map_err(write_err(&tmp))?;
        // From here on, dropping `self` removes the partial group.
        self.tmp = Some(tmp.clone());
        self.arrays = vec![None; layout.len()];
        let mut docs = serde_json::Map::new();
        let mut chunks: Vec<Vec<usize>> = nodes
            .iter()
            .map(|n| chunk_shape(&n.shape, self.max_chunk_bytes / 8))
            .collect();
        // Data arrays sharing their first dimension share its chunk length, so that the blocks
        // read round by round for all of them are whole chunks of each.
        for i in 0..nodes.len() {
            let same = |j: usize| {
                matches!(nodes[j].values, Values::Cube(_))
                    && !nodes[j].dims.is_empty()
                    && nodes[j].dims.first() == nodes[i].dims.first()
            };
            if same(i)
                && let Some(c0) = (0..nodes.len()).filter(|&j| same(j)).map(|j| chunks[j][0]).min()
            {
                chunks[i][0] = c0;
            }
        }
        for (node, chunk) in nodes.iter().zip(chunks) {
            let doc = array_doc(node, &chunk);
            let dir = tmp.join(&node.name);
            fs::create_dir(&dir).map_err(write_err(&dir))?;
            write_json(&dir.join("zarr.json"), &doc)?;
            docs.insert(node.name.clone(), doc);
            match node.values {
                Values::Coord(v) => write_chunks(&dir, v, &node.shape, &chunk, 0)?,
                Values::Cube(i) => self.arrays[i] = Some((dir, node.shape.clone(), chunk)),
            }
        }
        // zarr-python 3's inline consolidated metadata, so that openers find every array in one
        // read (and xarray does not warn); readers that do not know it ignore it.
        let root = json!({
            "zarr_format": 3,
            "node_type": "group",
            "attributes": self.global_attrs,
            "consolidated_metadata": {"kind": "inline", "must_understand": false, "metadata": docs},
        });
        write_json(&tmp.join("zarr.json"), &root)
    }

    fn granule(&self, var: usize) -> usize {
        match self.arrays.get(var) {
            Some(Some((_, _, chunk))) => chunk.first().copied().unwrap_or(1),
            _ => 1,
        }
    }

    fn block(&mut self, block: Block) -> Result<(), QueryError> {
        self.write_rows(block.var, block.rows, &block.values)
    }

    fn finish(&mut self) -> Result<(), QueryError> {
        let Some(tmp) = self.tmp.take() else {
            return Err(QueryError::Invalid("the Zarr writer was not begun".into()));
        };
        fs::rename(&tmp, &self.path).map_err(|e| {
            // Best effort: the rename's error is the one worth reporting.
            let _ = fs::remove_dir_all(&tmp);
            write_err(&self.path)(e)
        })
    }
}

impl Drop for ZarrWriter {
    fn drop(&mut self) {
        if let Some(tmp) = self.tmp.take() {
            // Unfinished: leave nothing behind.
            let _ = fs::remove_dir_all(tmp);
        }
    }
}

fn write_err(path: &Path) -> impl FnOnce(std::io::Error) -> QueryError + '_ {
    move |source| QueryError::Write {
        path: path.to_path_buf(),
        source,
    }
}

/// `<path>.partial-<pid>`, next to `path`.
fn partial_path(path: &Path) -> Result<PathBuf, QueryError> {
    let name = path.file_name().ok_or_else(|| {
        QueryError::Invalid(format!("{} does not name a directory to create", path.display()))
    })?;
    let mut tmp = name.to_os_string();
    tmp.push(format!(".partial-{}", std::process::id()));
    Ok(path.with_file_name(tmp))
}

/// A valid Zarr node name for a variable or dimension: group paths flattened with `_`.
fn node_name(name: &str) -> Result<String, QueryError> {
    let n = name.trim_start_matches('/').replace('/', "_");
    if n.is_empty() || n == "." || n == ".." || n.starts_with("__") || n == "zarr.json" {
        return Err(QueryError::Invalid(format!("'{name}' cannot name a Zarr array")));
    }
    Ok(n)
}

/// A dimension as first seen: length, coordinates, whether it is a time, which cube gave it.
struct Dim<'a> {
    name: String,
    coords: &'a [f64],
    time: bool,
    from: &'a str,
}

/// Checks the cubes and lists the arrays to write: the data variables, then one per dimension.
fn plan(cubes: &[DataCube]) -> Result<Vec<Node<'_>>, QueryError> {
    let mut dims: Vec<Dim> = Vec::new();
    let mut vars = Vec::new();
    for (i, c) in cubes.iter().enumerate() {
        let mut names = Vec::new();
        for (d, dim) in c.dims.iter().enumerate() {
            let name = node_name(dim)?;
            let time = c.time_dims.get(d).copied().unwrap_or(false);
            match dims.iter_mut().find(|x| x.name == name) {
                Some(seen) if seen.coords.len() != c.shape[d] => {
                    return Err(QueryError::Invalid(format!(
                        "dimension '{dim}' has length {} in '{}' but {} in '{}'",
                        seen.coords.len(),
                        seen.from,
                        c.shape[d],
                        c.name
                    )));
                }
                Some(seen) if !same_bits(seen.coords, &c.coords[d]) => {
                    return Err(QueryError::Invalid(format!(
                        "dimension '{dim}' has different coordinates in '{}' and '{}'",
                        seen.from, c.name
                    )));
                }
                Some(seen) => seen.time |= time,
                None => dims.push(Dim {
                    name: name.clone(),
                    coords: &c.coords[d],
                    time,
                    from: &c.name,
                }),
            }
            names.push(name);
        }
        let name = node_name(&c.name)?;
        if names == [name.as_str()] {
            // The coordinate variable itself: its dimension's array holds it.
            continue;
        }
        let mut attrs = c.attrs.clone();
        attrs.retain(|k, _| !DECODED_ATTRS.contains(&k.as_str()));
        vars.push(Node {
            name,
            dims: names,
            shape: c.shape.clone(),
            values: Values::Cube(i),
            attrs,
        });
    }
    for v in &vars {
        if dims.iter().any(|d| d.name == v.name) || vars.iter().filter(|w| w.name == v.name).count() > 1 {
            return Err(QueryError::Invalid(format!(
                "two arrays would be named '{}' in the Zarr group",
                v.name
            )));
        }
    }
    vars.extend(dims.into_iter().map(|d| Node {
        attrs: coord_attrs(&d.name, d.time),
        dims: vec![d.name.clone()],
        shape: vec![d.coords.len()],
        values: Values::Coord(d.coords),
        name: d.name,
    }));
    Ok(vars)
}

/// Rank and lengths agree (and the value count, with `values`).
fn check_cube(c: &DataCube, values: bool) -> Result<(), QueryError> {
    let bad = |what: String| Err(QueryError::Invalid(format!("cube '{}': {what}", c.name)));
    if c.dims.len() != c.shape.len() || c.coords.len() != c.shape.len() {
        return bad(format!(
            "{} dims, {} sizes and {} coordinate lists",
            c.dims.len(),
            c.shape.len(),
            c.coords.len()
        ));
    }
    if let Some(d) = (0..c.shape.len()).find(|&d| c.coords[d].len() != c.shape[d]) {
        return bad(format!(
            "dimension '{}' has size {} but {} coordinates",
            c.dims[d],
            c.shape[d],
            c.coords[d].len()
        ));
    }
    let n = c.shape.iter().try_fold(1usize, |a, &n| a.checked_mul(n));
    if n.is_none() || (values && n != Some(c.values.len())) {
        return bad(format!("shape {:?} but {} values", c.shape, c.values.len()));
    }
    Ok(())
}

fn same_bits(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

/// CF attributes of a dimension's coordinate array, from what the cube says and the name.
fn coord_attrs(name: &str, time: bool) -> Attrs {
    let pairs: &[(&str, &str)] = if time {
        &[
            ("standard_name", "time"),
            ("units", TIME_UNITS),
            ("calendar", "proleptic_gregorian"),
        ]
    } else {
        match name.to_lowercase().as_str() {
            "lat" | "latitude" => &[("standard_name", "latitude"), ("units", "degrees_north")],
            "lon" | "longitude" => &[("standard_name", "longitude"), ("units", "degrees_east")],
            _ => &[],
        }
    };
    pairs.iter().map(|(k, v)| (k.to_string(), json!(v))).collect()
}

fn write_json(path: &Path, doc: &Value) -> Result<(), QueryError> {
    let text = serde_json::to_vec_pretty(doc)
        .map_err(|e| QueryError::Invalid(format!("cannot encode {}: {e}", path.display())))?;
    fs::write(path, text).map_err(write_err(path))
}

/// The cube's shape with leading dimensions cut so a chunk holds at most `cap` values.
fn chunk_shape(shape: &[usize], cap: usize) -> Vec<usize> {
    let mut chunk: Vec<usize> = shape.iter().map(|&n| n.max(1)).collect();
    for d in 0..chunk.len() {
        let inner = chunk[d + 1..].iter().fold(1usize, |a, &n| a.saturating_mul(n));
        if chunk[d].saturating_mul(inner) <= cap {
            break;
        }
        chunk[d] = (cap / inner).max(1);
    }
    chunk
}

/// The `zarr.json` document of an array.
fn array_doc(node: &Node, chunk: &[usize]) -> Value {
    json!({
        "zarr_format": 3,
        "node_type": "array",
        "shape": node.shape,
        "data_type": "float64",
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": chunk}},
        "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
        "fill_value": "NaN",
        "codecs": [
            {"name": "bytes", "configuration": {"endian": "little"}},
            {"name": "gzip", "configuration": {"level": 1}},
        ],
        "attributes": node.attrs,
        "dimension_names": node.dims,
    })
}

/// Writes the chunks of a C-order array of `shape` (the rows of a bigger one from chunk row
/// `first` on, along the first dimension); chunks holding only NaN are left out.
fn write_chunks(
    dir: &Path,
    values: &[f64],
    shape: &[usize],
    chunk: &[usize],
    first: usize,
) -> Result<(), QueryError> {
    let counts: Vec<usize> = shape.iter().zip(chunk).map(|(&n, &c)| n.div_ceil(c)).collect();
    if counts.contains(&0) {
        return Ok(());
    }
    let mut id = vec![0usize; counts.len()];
    loop {
        let part = extract(values, shape, chunk, &id);
        if part.iter().any(|v| !v.is_nan()) {
            let mut file = dir.join("c");
            for (d, i) in id.iter().enumerate() {
                file.push((if d == 0 { i + first } else { *i }).to_string());
            }
            if let Some(parent) = file.parent() {
                fs::create_dir_all(parent).map_err(write_err(parent))?;
            }
            fs::write(&file, gzip(&part).map_err(write_err(&file))?).map_err(write_err(&file))?;
        }
        if !next(&mut id, &counts) {
            return Ok(());
        }
    }
}

/// Advances a C-order multi-index; false once it wraps around.
fn next(id: &mut [usize], counts: &[usize]) -> bool {
    for d in (0..id.len()).rev() {
        id[d] += 1;
        if id[d] < counts[d] {
            return true;
        }
        id[d] = 0;
    }
    false
}

/// Chunk `id` of a C-order array, full size, padded with NaN past the array's edges.
fn extract(values: &[f64], shape: &[usize], chunk: &[usize], id: &[usize]) -> Vec<f64> {
    let mut out = vec![f64::NAN; chunk.iter().product()];
    let Some(last) = shape.len().checked_sub(1) else {
        // A 0-d array: one value, one chunk.
        out.copy_from_slice(&values[..1]);
        return out;
    };
    let start: Vec<usize> = id.iter().zip(chunk).map(|(i, c)| i * c).collect();
    let extent: Vec<usize> = (0..shape.len())
        .map(|d| chunk[d].min(shape[d] - start[d]))
        .collect();
    // Copy row by row along the last dimension, over the chunk's part of the leading ones.
    let mut pos = vec![0usize; last];
    loop {
        let (mut src, mut dst) = (0usize, 0usize);
        for d in 0..last {
            src = src * shape[d] + start[d] + pos[d];
            dst = dst * chunk[d] + pos[d];
        }
        let (src, dst) = (src * shape[last] + start[last], dst * chunk[last]);
        out[dst..dst + extent[last]].copy_from_slice(&values[src..src + extent[last]]);
        if !next(&mut pos, &extent[..last]) {
            return out;
        }
    }
}

fn gzip(values: &[f64]) -> std::io::Result<Vec<u8>> {
    let mut enc = GzEncoder::new(Vec::with_capacity(values.len() * 2), Compression::new(1));
    for v in values {
        enc.write_all(&v.to_le_bytes())?;
    }
    enc.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_split_leading_dims() {
        assert_eq!(chunk_shape(&[10, 20, 30], 100_000), vec![10, 20, 30]);
        assert_eq!(chunk_shape(&[10, 20, 30], 1_000), vec![1, 20, 30]);
        assert_eq!(chunk_shape(&[10, 20, 30], 100), vec![1, 3, 30]);
        // A row longer than the cap is cut too.
        assert_eq!(chunk_shape(&[10, 20, 30], 10), vec![1, 1, 10]);
        assert_eq!(chunk_shape(&[0, 5], 10), vec![1, 5]);
        assert_eq!(chunk_shape(&[], 10), Vec::<usize>::new());
        assert_eq!(
            chunk_shape(&[1000, 721, 1440], MAX_CHUNK_BYTES / 8),
            vec![1, 721, 1440]
        );
    }

    #[test]
    fn extract_pads_edge_chunks() {
        // 3 x 5, chunks 2 x 2: chunk (1, 2) holds only [2][4] = 14.
        let v: Vec<f64> = (0..15).map(f64::from).collect();
        let c = extract(&v, &[3, 5], &[2, 2], &[1, 2]);
        assert_eq!(c[0], 14.0);
        assert!(c[1..].iter().all(|x| x.is_nan()));
        assert_eq!(extract(&v, &[3, 5], &[2, 2], &[0, 1]), vec![2.0, 3.0, 7.0, 8.0]);
    }
}
