//! Writes [`DataCube`]s as a CF netCDF file in the classic 64-bit offset format (CDF-2), which
//! netCDF-C, netCDF4-python and xarray read, with no C library on our side.
//!
//! Layout: a header (dimensions, global attributes, variables with their attributes and data
//! offsets), then every variable's float64 values, big-endian, one after the other. There is no
//! record (UNLIMITED) dimension: the header is computed from the shapes first, so a streamed read
//! writes each block at its offset. Values are already CF-decoded, so the packing attributes are
//! dropped and missing values are NaN, declared as `_FillValue`.

use crate::sink::{Block, Sink};
use crate::{DataCube, QueryError};
use hod_core::Attrs;
use serde_json::Value;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

const NC_DIMENSION: u32 = 0x0A;
const NC_VARIABLE: u32 = 0x0B;
const NC_ATTRIBUTE: u32 = 0x0C;
const NC_CHAR: u32 = 2;
const NC_INT: u32 = 4;
const NC_DOUBLE: u32 = 6;

/// Attributes that describe an encoding the values no longer have.
const DROPPED: [&str; 5] = [
    "scale_factor",
    "add_offset",
    "missing_value",
    "_FillValue",
    "_Unsigned",
];
/// Valid ranges are in packed units when the source was packed (CF), so they go with the packing.
const PACKED_RANGES: [&str; 3] = ["valid_range", "valid_min", "valid_max"];

/// Writes `cubes` to `path` as a CF-1.8 netCDF file (64-bit offset format): one dimension per
/// distinct dimension name, a float64 coordinate variable per dimension (time dimensions in
/// `seconds since 1970-01-01 00:00:00`, proleptic Gregorian), one float64 data variable per cube
/// with `_FillValue = NaN`, and `global_attrs` plus `Conventions` and a `history` line.
///
/// The file is written next to `path` as `*.nc.partial` and renamed into place, so readers never
/// see a partial file. A `/` in a name (HDF5 group paths) becomes `_`. [`NetcdfWriter`] writes
/// the same file block by block.
///
/// # Errors
/// [`QueryError::Invalid`] when the cubes disagree on a dimension (naming both variables), are
/// inconsistent, or do not fit the format; [`QueryError::Write`] on I/O failure.
pub fn write_netcdf(path: &Path, cubes: &[DataCube], global_attrs: &Attrs) -> Result<(), QueryError> {
    for cube in cubes {
        check(cube, true)?;
    }
    let mut w = NetcdfWriter::new(path, global_attrs);
    w.begin(cubes)?;
    for (i, c) in cubes.iter().enumerate() {
        w.write_rows(i, 0, &c.values)?;
    }
    w.finish()
}

/// Writes a netCDF file (as [`write_netcdf`] does) from a streamed read: [`Sink::begin`] computes
/// the header from the shapes, writes it and the coordinates and sizes the file; each block is
/// then written at its offset. Dropped before [`Sink::finish`], it removes the partial file.
#[derive(Debug)]
pub struct NetcdfWriter {
    path: PathBuf,
    partial: PathBuf,
    global_attrs: Attrs,
    file: Option<std::fs::File>,
    /// Per layout variable: where its values start in the file, the values in one row and in
    /// all; `None` for a variable written as its dimension's coordinate.
    places: Vec<Option<(u64, usize, usize)>>,
}

impl NetcdfWriter {
    /// A writer of `path` (created by [`Sink::begin`]).
    pub fn new(path: &Path, global_attrs: &Attrs) -> NetcdfWriter {
        NetcdfWriter {
            path: path.to_path_buf(),
            partial: path.with_extension("nc.partial"),
            global_attrs: global_attrs.clone(),
            file: None,
            places: Vec::new(),
        }
    }

    fn io(&self) -> impl FnOnce(std::io::Error) -> QueryError + '_ {
        |source| QueryError::Write {
            path: self.partial.clone(),
            source,
        }
    }

    /// Writes `values` of variable `var` from row `row` on.
    fn write_rows(&mut self, var: usize, row: usize, values: &[f64]) -> Result<(), QueryError> {
        let Some(&place) = self.places.get(var) else {
            return Err(QueryError::Invalid(format!("no output variable {var}")));
        };
        let (Some((begin, row_len, len)), Some(file)) = (place, self.file.as_mut()) else {
            // A coordinate's own cube: written with the coordinates.
            return Ok(());
        };
        if row.saturating_mul(row_len).saturating_add(values.len()) > len {
            return Err(QueryError::Invalid(format!(
                "{} values from row {row} overflow output variable {var} of {len} values",
                values.len()
            )));
        }
        let at = begin + (row as u64) * (row_len as u64) * 8;
        let mut buf = Vec::with_capacity(values.len().min(1 << 16) * 8);
        let written = file.seek(SeekFrom::Start(at)).and_then(|_| {
            for part in values.chunks(1 << 16) {
                buf.clear();
                part.iter().for_each(|x| buf.extend_from_slice(&x.to_be_bytes()));
                file.write_all(&buf)?;
            }
            Ok(())
        });
        written.map_err(self.io())
    }
}

impl Sink for NetcdfWriter {
    fn begin(&mut self, layout: &[DataCube]) -> Result<(), QueryError> {
        for cube in layout {
            check(cube, false)?;
        }
        let (header, placed) = encode_header(layout, &self.global_attrs)?;
        let end = placed
            .iter()
            .map(|p| p.begin + p.len as u64 * 8)
            .max()
            .unwrap_or(header.len() as u64);
        let mut file = std::fs::File::create(&self.partial).map_err(self.io())?;
        // From here on, dropping `self` removes the partial file.
        self.file = Some(file.try_clone().map_err(self.io())?);
        let mut written = file.write_all(&header).and_then(|()| file.set_len(end));
        self.places = vec![None; layout.len()];
        for p in &placed {
            match p.values {
                Values::Coord(v) => {
                    written = written.and_then(|()| {
                        file.seek(SeekFrom::Start(p.begin))?;
                        let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_be_bytes()).collect();
                        file.write_all(&bytes)
                    });
                }
                Values::Cube(i) => {
                    let row_len = layout[i].shape.iter().skip(1).product();
                    self.places[i] = Some((p.begin, row_len, p.len));
                }
            }
        }
        written.map_err(self.io())
    }

    fn block(&mut self, block: Block) -> Result<(), QueryError> {
        self.write_rows(block.var, block.rows.start, &block.values)
    }

    fn finish(&mut self) -> Result<(), QueryError> {
        let Some(file) = self.file.take() else {
            return Err(QueryError::Invalid("the netCDF writer was not begun".into()));
        };
        let done = file.sync_all().and_then(|()| {
            drop(file);
            std::fs::rename(&self.partial, &self.path)
        });
        if let Err(source) = done {
            // Best effort: the rename's error is the one worth reporting.
            let _ = std::fs::remove_file(&self.partial);
            return Err(QueryError::Write {
                path: self.path.clone(),
                source,
            });
        }
        Ok(())
    }
}

impl Drop for NetcdfWriter {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            // Unfinished: leave nothing behind.
            let _ = std::fs::remove_file(&self.partial);
        }
    }
}

/// One dimension of the output and the cube that defined it first.
struct Dim<'a> {
    name: String,
    /// The name as the cube gives it.
    raw: &'a str,
    coords: &'a [f64],
    time: bool,
    owner: &'a str,
}

/// Where a variable's values come from.
#[derive(Clone, Copy)]
enum Values<'a> {
    /// A dimension's coordinates, known up front.
    Coord(&'a [f64]),
    /// The values of layout variable `i`, written as they come.
    Cube(usize),
}

/// One output variable: name, dimension ids, attributes and values.
struct Var<'a> {
    name: String,
    dimids: Vec<usize>,
    attrs: Vec<(String, AttrValue)>,
    len: usize,
    values: Values<'a>,
}

/// Where a variable's values go in the file.
struct Placed<'a> {
    begin: u64,
    len: usize,
    values: Values<'a>,
}

enum AttrValue {
    Char(Vec<u8>),
    Int(Vec<i32>),
    Double(Vec<f64>),
}

/// The header, from the cubes' dims, shapes and coordinates (not their values), and where each
/// variable's values go.
fn encode_header<'a>(
    cubes: &'a [DataCube],
    global_attrs: &Attrs,
) -> Result<(Vec<u8>, Vec<Placed<'a>>), QueryError> {
    let mut dims: Vec<Dim> = Vec::new();
    let mut data = Vec::new();
    for (i, cube) in cubes.iter().enumerate() {
        let mut dimids = Vec::new();
        for (d, raw) in cube.dims.iter().enumerate() {
            let name = nc_name(raw)?;
            let coords = &cube.coords[d];
            let time = cube.time_dims.get(d).copied().unwrap_or(false);
            let id = match dims.iter().position(|x| x.name == name) {
                Some(id) => {
                    let same = |a: &[f64], b: &[f64]| {
                        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
                    };
                    if !same(dims[id].coords, coords) || dims[id].time != time {
                        return Err(QueryError::Invalid(format!(
                            "variables '{}' and '{}' give dimension '{raw}' different lengths or coordinates",
                            dims[id].owner, cube.name
                        )));
                    }
                    id
                }
                None => {
                    dims.push(Dim {
                        name,
                        raw,
                        coords,
                        time,
                        owner: &cube.name,
                    });
                    dims.len() - 1
                }
            };
            dimids.push(id);
        }
        data.push((i, cube, dimids));
    }
    let mut vars: Vec<Var> = dims
        .iter()
        .enumerate()
        .map(|(id, d)| Var {
            name: d.name.clone(),
            dimids: vec![id],
            attrs: coord_attrs(d, cubes),
            len: d.coords.len(),
            values: Values::Coord(d.coords),
        })
        .collect();
    for (i, cube, dimids) in data {
        let name = nc_name(&cube.name)?;
        if let Some(id) = dims.iter().position(|d| d.name == name) {
            // A cube of a coordinate itself is already written as that dimension's coordinate.
            if dimids == [id] {
                continue;
            }
            return Err(QueryError::Invalid(format!(
                "variable '{}' is named like a dimension it is not the coordinate of",
                cube.name
            )));
        }
        if vars.iter().any(|v| v.name == name) {
            return Err(QueryError::Invalid(format!(
                "variable '{}' is given twice",
                cube.name
            )));
        }
        vars.push(Var {
            name,
            dimids,
            attrs: data_attrs(&cube.attrs)?,
            len: cube.shape.iter().product(),
            values: Values::Cube(i),
        });
    }
    // CDF-2 lets only the last variable take more than 4 GiB.
    let large = |v: &Var| v.len.saturating_mul(8) > (u32::MAX - 3) as usize;
    match vars.iter().filter(|v| large(v)).count() {
        0 => {}
        1 => {
            let at = vars.iter().position(large).unwrap_or(0);
            let big = vars.remove(at);
            vars.push(big);
        }
        _ => {
            return Err(QueryError::Invalid(
                "more than one variable over 4 GiB does not fit the netCDF 64-bit offset format; \
                 write them to separate files"
                    .into(),
            ));
        }
    }
    let mut out = Vec::new();
    out.extend_from_slice(b"CDF\x02");
    put_u32(&mut out, 0)?; // numrecs: no record dimension
    put_u32(&mut out, if dims.is_empty() { 0 } else { NC_DIMENSION })?;
    put_u32(&mut out, dims.len())?;
    for d in &dims {
        put_name(&mut out, &d.name)?;
        put_u32(&mut out, d.coords.len())?;
    }
    put_attrs(&mut out, &global(global_attrs)?)?;
    put_u32(&mut out, if vars.is_empty() { 0 } else { NC_VARIABLE })?;
    put_u32(&mut out, vars.len())?;
    let mut begins = Vec::new();
    for v in &vars {
        put_name(&mut out, &v.name)?;
        put_u32(&mut out, v.dimids.len())?;
        for &id in &v.dimids {
            put_u32(&mut out, id)?;
        }
        put_attrs(&mut out, &v.attrs)?;
        put_u32(&mut out, NC_DOUBLE)?;
        // vsize is 32-bit; the format says to write 2^32 - 1 when it does not fit.
        let bytes = v.len.saturating_mul(8);
        out.extend_from_slice(&u32::try_from(bytes).unwrap_or(u32::MAX).to_be_bytes());
        begins.push(out.len());
        out.extend_from_slice(&[0; 8]); // begin, patched below
    }
    let mut next = out.len() as u64;
    let mut placed = Vec::new();
    for (v, at) in vars.iter().zip(begins) {
        out[at..at + 8].copy_from_slice(&next.to_be_bytes());
        placed.push(Placed {
            begin: next,
            len: v.len,
            values: v.values,
        });
        next += v.len as u64 * 8;
    }
    Ok((out, placed))
}

/// Checks that a cube's parts agree with each other (and with its values, with `values`).
fn check(cube: &DataCube, values: bool) -> Result<(), QueryError> {
    let bad = |what: String| Err(QueryError::Invalid(format!("variable '{}': {what}", cube.name)));
    if cube.dims.len() != cube.shape.len() || cube.coords.len() != cube.shape.len() {
        return bad(format!(
            "{} dimensions, {} sizes and {} coordinates",
            cube.dims.len(),
            cube.shape.len(),
            cube.coords.len()
        ));
    }
    for ((d, &n), c) in cube.dims.iter().zip(&cube.shape).zip(&cube.coords) {
        if c.len() != n {
            return bad(format!(
                "dimension '{d}' has size {n} but {} coordinates",
                c.len()
            ));
        }
        if n == 0 {
            // Length 0 means UNLIMITED in the classic format.
            return bad(format!("dimension '{d}' is empty"));
        }
    }
    let n: usize = cube.shape.iter().product();
    if values && n != cube.values.len() {
        return bad(format!("shape {:?} but {} values", cube.shape, cube.values.len()));
    }
    Ok(())
}

/// A netCDF name: not empty, no control characters, `/` (HDF5 group paths) turned into `_`.
fn nc_name(s: &str) -> Result<String, QueryError> {
    if s.is_empty() || s.chars().any(char::is_control) {
        return Err(QueryError::Invalid(format!("{s:?} cannot be a netCDF name")));
    }
    Ok(s.replace('/', "_"))
}

/// CF attributes of a coordinate variable, from what its dimension stands for.
fn coord_attrs(d: &Dim, cubes: &[DataCube]) -> Vec<(String, AttrValue)> {
    let text = |k: &str, v: &str| (k.to_string(), AttrValue::Char(v.as_bytes().to_vec()));
    let short = d.raw.rsplit('/').next().unwrap_or(d.raw).to_lowercase();
    // x/y are longitude/latitude only on a geographic CRS (GeoTIFF's `crs` attribute).
    let geographic = || {
        cubes.iter().any(|c| {
            c.name == d.owner
                && c.attrs
                    .get("crs")
                    .and_then(Value::as_str)
                    .is_some_and(is_geographic)
        })
    };
    let kind = match short.as_str() {
        _ if d.time => Some(("time", "seconds since 1970-01-01 00:00:00", "T")),
        "lat" | "latitude" => Some(("latitude", "degrees_north", "Y")),
        "lon" | "longitude" => Some(("longitude", "degrees_east", "X")),
        "y" if geographic() => Some(("latitude", "degrees_north", "Y")),
        "x" if geographic() => Some(("longitude", "degrees_east", "X")),
        _ => None,
    };
    let Some((standard_name, units, axis)) = kind else {
        return Vec::new();
    };
    let mut attrs = vec![text("standard_name", standard_name), text("units", units)];
    if d.time {
        attrs.push(text("calendar", "proleptic_gregorian"));
    }
    attrs.push(text("axis", axis));
    attrs
}

fn is_geographic(crs: &str) -> bool {
    matches!(crs, "EPSG:4326" | "EPSG:4269" | "EPSG:4258" | "EPSG:4283")
        || crs.contains("+proj=longlat")
        || crs.contains("+proj=latlong")
}

/// A data variable's attributes: the source's, less the encoding ones, plus `_FillValue = NaN`.
fn data_attrs(attrs: &Attrs) -> Result<Vec<(String, AttrValue)>, QueryError> {
    let packed = attrs.contains_key("scale_factor") || attrs.contains_key("add_offset");
    let mut out = vec![("_FillValue".to_string(), AttrValue::Double(vec![f64::NAN]))];
    for (k, v) in attrs {
        if DROPPED.contains(&k.as_str()) || (packed && PACKED_RANGES.contains(&k.as_str())) {
            continue;
        }
        out.push((nc_name(k)?, attr_value(v)));
    }
    Ok(out)
}

/// The global attributes: the given ones, `Conventions = CF-1.8` and a `history` line appended.
fn global(attrs: &Attrs) -> Result<Vec<(String, AttrValue)>, QueryError> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs() as f64);
    let line = format!("{}Z: written by hod", hod_core::time::format_unix_seconds(now));
    let history = match attrs.get("history").and_then(Value::as_str) {
        Some(h) if !h.is_empty() => format!("{h}\n{line}"),
        _ => line,
    };
    let mut out = Vec::new();
    for (k, v) in attrs {
        if k != "Conventions" && k != "history" {
            out.push((nc_name(k)?, attr_value(v)));
        }
    }
    out.push(("Conventions".into(), AttrValue::Char(b"CF-1.8".to_vec())));
    out.push(("history".into(), AttrValue::Char(history.into_bytes())));
    Ok(out)
}

/// JSON to a netCDF attribute: strings → `NC_CHAR`; integers that fit → `NC_INT`; other numbers
/// and arrays of numbers → `NC_DOUBLE`; anything else → `NC_CHAR` holding the JSON text.
fn attr_value(v: &Value) -> AttrValue {
    match v {
        Value::String(s) => AttrValue::Char(s.as_bytes().to_vec()),
        Value::Number(n) => match n.as_i64().and_then(|i| i32::try_from(i).ok()) {
            Some(i) => AttrValue::Int(vec![i]),
            None => AttrValue::Double(vec![n.as_f64().unwrap_or(f64::NAN)]),
        },
        Value::Array(a) if !a.is_empty() && a.iter().all(Value::is_number) => {
            AttrValue::Double(a.iter().filter_map(Value::as_f64).collect())
        }
        other => AttrValue::Char(other.to_string().into_bytes()),
    }
}

fn put_u32(out: &mut Vec<u8>, n: impl TryInto<u32>) -> Result<(), QueryError> {
    let n = n
        .try_into()
        .ok()
        .filter(|&n| n <= i32::MAX as u32)
        .ok_or_else(|| QueryError::Invalid("a size does not fit the netCDF classic format".into()))?;
    out.extend_from_slice(&n.to_be_bytes());
    Ok(())
}

/// Bytes padded with zeros to a multiple of four.
fn put_padded(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(bytes);
    out.resize(out.len().next_multiple_of(4), 0);
}

fn put_name(out: &mut Vec<u8>, name: &str) -> Result<(), QueryError> {
    put_u32(out, name.len())?;
    put_padded(out, name.as_bytes());
    Ok(())
}

fn put_attrs(out: &mut Vec<u8>, attrs: &[(String, AttrValue)]) -> Result<(), QueryError> {
    put_u32(out, if attrs.is_empty() { 0 } else { NC_ATTRIBUTE })?;
    put_u32(out, attrs.len())?;
    for (name, value) in attrs {
        put_name(out, name)?;
        match value {
            AttrValue::Char(b) => {
                put_u32(out, NC_CHAR)?;
                put_u32(out, b.len())?;
                put_padded(out, b);
            }
            AttrValue::Int(v) => {
                put_u32(out, NC_INT)?;
                put_u32(out, v.len())?;
                v.iter().for_each(|x| out.extend_from_slice(&x.to_be_bytes()));
            }
            AttrValue::Double(v) => {
                put_u32(out, NC_DOUBLE)?;
                put_u32(out, v.len())?;
                v.iter().for_each(|x| out.extend_from_slice(&x.to_be_bytes()));
            }
        }
    }
    Ok(())
}
