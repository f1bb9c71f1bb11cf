//! CSV and JSON outputs of a selection.

use crate::{DataCube, QueryError};
use hod_core::time::format_unix_seconds;
use serde_json::{Map, Value, json};
use std::io::Write;
use std::path::Path;

/// How to reduce a selection to one row per time step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reduce {
    /// Mean over all other dims, weighted by cos(latitude) on lat/lon grids (the area of a
    /// regular lat/lon cell), over the valid values only.
    Mean,
}

fn write_atomic(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), QueryError> {
    let tmp = path.with_extension("partial");
    let err = |source| QueryError::Write {
        path: path.to_path_buf(),
        source,
    };
    let result = (|| {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
        write(&mut f)?;
        f.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(err)
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
/// Missing values are empty fields.
///
/// # Errors
/// Variables on different grids, or an I/O failure (nothing is left at `path` then).
pub fn write_csv(path: &Path, cubes: &[DataCube], reduce: Option<Reduce>) -> Result<(), QueryError> {
    let grid = same_grid(cubes)?;
    let names: Vec<&str> = cubes.iter().map(|c| c.name.as_str()).collect();
    match reduce {
        None => write_atomic(path, |w| {
            writeln!(w, "{},{}", grid.dims.join(","), names.join(","))?;
            let n = grid.values.len();
            let mut pos = vec![0usize; grid.shape.len()];
            for k in 0..n {
                let mut row: Vec<String> = pos
                    .iter()
                    .enumerate()
                    .map(|(d, &i)| coord_text(grid, d, i))
                    .collect();
                row.extend(cubes.iter().map(|c| value_text(c.values[k])));
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
        Some(Reduce::Mean) => {
            let weights = area_weights(grid);
            let steps = grid.shape.first().copied().unwrap_or(1);
            let per_step = grid.values.len() / steps.max(1);
            let dim = grid.dims.first().cloned().unwrap_or_default();
            write_atomic(path, |w| {
                writeln!(w, "{dim},{}", names.join(","))?;
                for s in 0..steps {
                    let mut row = vec![coord_text(grid, 0, s)];
                    for c in cubes {
                        let vals = &c.values[s * per_step..(s + 1) * per_step];
                        let (sum, wsum) = vals
                            .iter()
                            .zip(&weights)
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
            })
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
