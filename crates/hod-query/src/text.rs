//! CSV and JSON outputs of a selection.

use crate::sink::{Block, Sink};
use crate::{DataCube, QueryError};
use hod_core::time::format_unix_seconds;
use serde_json::{Map, Value, json};
use std::io::Write;
use std::ops::Range;
use std::path::Path;

/// How to reduce a selection to one row per time step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reduce {
    /// Mean over all other dims, weighted by cos(latitude) on lat/lon grids (the area of a
    /// regular lat/lon cell), over the valid values only.
    Mean,
}

/// A file written under a temporary name (`<name>.partial`) and renamed into place when complete,
/// so a reader never sees half of it; removed if dropped before.
pub struct Partial {
    path: std::path::PathBuf,
    tmp: std::path::PathBuf,
    out: Option<std::io::BufWriter<std::fs::File>>,
}

impl Partial {
    /// Starts writing `path`.
    ///
    /// # Errors
    /// [`QueryError::Write`] when the temporary file cannot be created.
    pub fn create(path: &Path) -> Result<Partial, QueryError> {
        let tmp = path.with_extension("partial");
        let file = std::fs::File::create(&tmp).map_err(|source| QueryError::Write {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Partial {
            path: path.to_path_buf(),
            tmp,
            out: Some(std::io::BufWriter::new(file)),
        })
    }

    fn err(&self) -> impl FnOnce(std::io::Error) -> QueryError + '_ {
        |source| QueryError::Write {
            path: self.path.clone(),
            source,
        }
    }

    /// Writes through `write`.
    ///
    /// # Errors
    /// [`QueryError::Write`] naming the final path.
    pub fn write(
        &mut self,
        write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
    ) -> Result<(), QueryError> {
        let result = match self.out.as_mut() {
            Some(out) => write(out),
            None => Err(std::io::Error::other("already finished")),
        };
        result.map_err(self.err())
    }

    /// Flushes, syncs and renames into place.
    ///
    /// # Errors
    /// [`QueryError::Write`] naming the final path (the temporary file is then removed).
    pub fn finish(&mut self) -> Result<(), QueryError> {
        let result = match self.out.take() {
            Some(out) => out
                .into_inner()
                .map_err(|e| e.into_error())
                .and_then(|f| f.sync_all())
                .and_then(|()| std::fs::rename(&self.tmp, &self.path)),
            None => Err(std::io::Error::other("already finished")),
        };
        if result.is_err() {
            let _ = std::fs::remove_file(&self.tmp);
        }
        result.map_err(self.err())
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        if self.out.take().is_some() {
            // Unfinished: leave nothing behind.
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

fn write_atomic(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), QueryError> {
    let mut p = Partial::create(path)?;
    p.write(write)?;
    p.finish()
}

fn same_grid(cubes: &[DataCube]) -> Result<&DataCube, QueryError> {
    let first = cubes
        .first()
        .ok_or_else(|| QueryError::Invalid("no variables selected".into()))?;
    if let Some(c) = cubes
        .iter()
        .find(|c| c.dims != first.dims || c.shape != first.shape)
    {
        return Err(QueryError::Invalid(format!(
            "'{}' {:?} and '{}' {:?} are on different grids: write them to separate CSV files",
            first.name, first.dims, c.name, c.dims
        )));
    }
    Ok(first)
}

fn coord_text(cube: &DataCube, d: usize, i: usize) -> String {
    let v = cube.coords[d][i];
    if cube.time_dims.get(d).copied().unwrap_or(false) {
        format_unix_seconds(v)
    } else {
        v.to_string()
    }
}

fn value_text(v: f64) -> String {
    if v.is_nan() { String::new() } else { v.to_string() }
}

/// Writes CSV: long format (one row per grid point, columns = dims then variables), or with
/// `reduce` one row per step of the first dim (usually time) with the reduced value per variable.
/// Missing values are empty fields. [`CsvWriter`] writes the same file block by block.
///
/// # Errors
/// Variables on different grids, or an I/O failure (nothing is left at `path` then).
pub fn write_csv(path: &Path, cubes: &[DataCube], reduce: Option<Reduce>) -> Result<(), QueryError> {
    let grid = same_grid(cubes)?;
    if let Some(c) = cubes
        .iter()
        .find(|c| c.values.len() != c.shape.iter().product::<usize>())
    {
        return Err(QueryError::Invalid(format!(
            "'{}': shape {:?} but {} values",
            c.name,
            c.shape,
            c.values.len()
        )));
    }
    let mut w = CsvWriter::new(path, reduce);
    w.begin(cubes)?;
    let rows = 0..grid.shape.first().copied().unwrap_or(1);
    let values: Vec<&[f64]> = cubes.iter().map(|c| c.values.as_slice()).collect();
    w.write_rows(rows, &values)?;
    w.finish()
}

/// Writes CSV (as [`write_csv`] does) from a streamed read: the header at [`Sink::begin`], then
/// the rows of each round of blocks (one block per variable, all on the same grid) as it completes.
pub struct CsvWriter {
    path: std::path::PathBuf,
    reduce: Option<Reduce>,
    out: Option<Partial>,
    /// The grid (the first variable's layout) and the cos(latitude) weights of one step.
    grid: Option<DataCube>,
    weights: Vec<f64>,
    /// The blocks of the round in progress.
    pending: Vec<Block>,
    vars: usize,
}

impl CsvWriter {
    /// A writer of `path` (created by [`Sink::begin`]).
    pub fn new(path: &Path, reduce: Option<Reduce>) -> CsvWriter {
        CsvWriter {
            path: path.to_path_buf(),
            reduce,
            out: None,
            grid: None,
            weights: Vec::new(),
            pending: Vec::new(),
            vars: 0,
        }
    }

    /// Writes the lines of output rows `rows`, given every variable's values for them.
    fn write_rows(&mut self, rows: Range<usize>, values: &[&[f64]]) -> Result<(), QueryError> {
        let (Some(grid), Some(out)) = (self.grid.as_ref(), self.out.as_mut()) else {
            return Err(QueryError::Invalid("the CSV writer was not begun".into()));
        };
        let per_row: usize = grid.shape.iter().skip(1).product();
        if let Some(v) = values.iter().find(|v| v.len() != rows.len() * per_row) {
            return Err(QueryError::Invalid(format!(
                "{} values for rows {rows:?} of '{}'",
                v.len(),
                grid.name
            )));
        }
        let weights = &self.weights;
        match self.reduce {
            None => out.write(|w| {
                let mut pos = vec![0usize; grid.shape.len()];
                if let Some(p) = pos.first_mut() {
                    *p = rows.start;
                }
                for k in 0..rows.len() * per_row {
                    let mut row: Vec<String> = pos
                        .iter()
                        .enumerate()
                        .map(|(d, &i)| coord_text(grid, d, i))
                        .collect();
                    row.extend(values.iter().map(|v| value_text(v[k])));
                    writeln!(w, "{}", row.join(","))?;
                    for d in (0..pos.len()).rev() {
                        pos[d] += 1;
                        if pos[d] < grid.shape[d] {
                            break;
                        }
                        pos[d] = 0;
                    }
                }
                Ok(())
            }),
            Some(Reduce::Mean) => out.write(|w| {
                for (i, s) in rows.enumerate() {
                    let mut row = vec![coord_text(grid, 0, s)];
                    for v in values {
                        let vals = &v[i * per_row..(i + 1) * per_row];
                        let (sum, wsum) = vals
                            .iter()
                            .zip(weights)
                            .filter(|(v, _)| !v.is_nan())
                            .fold((0.0, 0.0), |(a, b), (v, w)| (a + v * w, b + w));
                        row.push(if wsum > 0.0 {
                            (sum / wsum).to_string()
                        } else {
                            String::new()
                        });
                    }
                    writeln!(w, "{}", row.join(","))?;
                }
                Ok(())
            }),
        }
    }
}

impl Sink for CsvWriter {
    fn begin(&mut self, layout: &[DataCube]) -> Result<(), QueryError> {
        let grid = same_grid(layout)?.clone();
        let names: Vec<&str> = layout.iter().map(|c| c.name.as_str()).collect();
        let header = match self.reduce {
            None => format!("{},{}", grid.dims.join(","), names.join(",")),
            Some(Reduce::Mean) => {
                self.weights = area_weights(&grid);
                format!(
                    "{},{}",
                    grid.dims.first().cloned().unwrap_or_default(),
                    names.join(",")
                )
            }
        };
        let mut out = Partial::create(&self.path)?;
        out.write(|w| writeln!(w, "{header}"))?;
        self.out = Some(out);
        self.grid = Some(grid);
        self.vars = layout.len();
        Ok(())
    }

    fn block(&mut self, block: Block) -> Result<(), QueryError> {
        if let Some(first) = self.pending.first()
            && first.rows != block.rows
        {
            return Err(QueryError::Invalid(format!(
                "CSV rows {:?} and {:?} arrive interleaved",
                first.rows, block.rows
            )));
        }
        self.pending.push(block);
        if self.pending.len() == self.vars {
            let round = std::mem::take(&mut self.pending);
            let rows = round.first().map_or(0..0, |b| b.rows.clone());
            let values: Vec<&[f64]> = round.iter().map(|b| b.values.as_slice()).collect();
            self.write_rows(rows, &values)?;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), QueryError> {
        match self.out.take() {
            Some(mut out) => out.finish(),
            None => Err(QueryError::Invalid("the CSV writer was not begun".into())),
        }
    }
}

/// cos(latitude) per point of one step (all dims but the first), 1 where there is no latitude.
fn area_weights(c: &DataCube) -> Vec<f64> {
    let rest = &c.shape[1.min(c.shape.len())..];
    let lat_dim = c
        .dims
        .iter()
        .skip(1)
        .position(|d| matches!(d.to_lowercase().as_str(), "lat" | "latitude"));
    let n: usize = rest.iter().product();
    (0..n)
        .map(|k| match lat_dim {
            Some(ld) => {
                let stride: usize = rest[ld + 1..].iter().product();
                let i = (k / stride) % rest[ld];
                c.coords[ld + 1][i].to_radians().cos()
            }
            None => 1.0,
        })
        .collect()
}

/// Writes JSON (as [`write_json`] does) from a streamed read, which it gathers in memory first:
/// [`Sink::begin`] refuses results over the memory budget ([`QueryError::TooLarge`]).
pub struct JsonWriter {
    path: std::path::PathBuf,
    all: crate::sink::Collect,
}

impl JsonWriter {
    /// A writer of `path` for results of at most `budget` bytes of values.
    pub fn new(path: &Path, budget: usize) -> JsonWriter {
        JsonWriter {
            path: path.to_path_buf(),
            all: crate::sink::Collect::with_limit(budget),
        }
    }
}

impl Sink for JsonWriter {
    fn begin(&mut self, layout: &[DataCube]) -> Result<(), QueryError> {
        self.all.begin(layout)
    }

    fn block(&mut self, block: Block) -> Result<(), QueryError> {
        self.all.block(block)
    }

    fn finish(&mut self) -> Result<(), QueryError> {
        let cubes = std::mem::take(&mut self.all).into_cubes();
        write_json(&self.path, &cubes)
    }
}

/// Writes JSON: `{var: {"dims", "shape", "coords": {dim: [...]}, "values": [...] (C order,
/// null where missing), "attrs"}}`; times as ISO 8601 strings.
///
/// # Errors
/// An I/O failure (nothing is left at `path` then).
pub fn write_json(path: &Path, cubes: &[DataCube]) -> Result<(), QueryError> {
    let mut out = Map::new();
    for c in cubes {
        let coords: Map<String, Value> = c
            .dims
            .iter()
            .enumerate()
            .map(|(d, name)| {
                let vals: Vec<Value> = (0..c.shape[d])
                    .map(|i| {
                        if c.time_dims.get(d).copied().unwrap_or(false) {
                            Value::String(format_unix_seconds(c.coords[d][i]))
                        } else {
                            json!(c.coords[d][i])
                        }
                    })
                    .collect();
                (name.clone(), Value::Array(vals))
            })
            .collect();
        let values: Vec<Value> = c
            .values
            .iter()
            .map(|v| if v.is_nan() { Value::Null } else { json!(v) })
            .collect();
        out.insert(
            c.name.clone(),
            json!({"dims": c.dims, "shape": c.shape, "coords": coords, "values": values,
                   "attrs": Value::Object(c.attrs.clone().into_iter().collect())}),
        );
    }
    let text = serde_json::to_vec(&Value::Object(out)).map_err(|e| QueryError::Invalid(e.to_string()))?;
    write_atomic(path, |w| w.write_all(&text))
}
