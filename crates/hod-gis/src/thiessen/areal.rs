//! Areal (basin-average) series from station series: at each step, the Thiessen weights of the
//! stations that have a value, computed once per set of present stations.

use super::input::{fields, lines};
use super::{Station, ThiessenBasin};
use crate::GisError;
use std::collections::HashMap;

/// Station series in wide form: one row per time step, one column per station.
#[derive(Debug, Clone, PartialEq)]
pub struct StationSeries {
    /// Station ids, the column order.
    pub ids: Vec<String>,
    /// The time column, as written.
    pub times: Vec<String>,
    /// `times.len() × ids.len()` values, row by row; NaN where missing.
    pub values: Vec<f64>,
}

impl StationSeries {
    /// Parses a wide CSV: a header `time,<id1>,<id2>,...`, then one row per step. Empty cells
    /// and `NaN`/`NA`/`null` are missing values.
    ///
    /// # Errors
    /// [`GisError::Parse`] naming the line and column of a value that is not a number.
    pub fn from_csv(text: &str) -> Result<StationSeries, GisError> {
        let err = |message: String| GisError::Parse {
            what: "station series CSV".into(),
            message,
        };
        let mut rows = lines(text);
        let (_, header) = rows.next().ok_or_else(|| err("empty: no header".into()))?;
        let ids: Vec<String> = fields(header).iter().skip(1).map(|s| s.to_string()).collect();
        if ids.is_empty() {
            return Err(err(format!(
                "header {header:?} names no station column after the time column"
            )));
        }
        let (mut times, mut values) = (Vec::new(), Vec::new());
        for (n, line) in rows {
            let f = fields(line);
            if f.len() != ids.len() + 1 {
                return Err(err(format!(
                    "line {n}: {} columns, the header has {}",
                    f.len(),
                    ids.len() + 1
                )));
            }
            times.push(f[0].to_string());
            for (k, v) in f[1..].iter().enumerate() {
                values.push(match *v {
                    "" | "NaN" | "nan" | "NA" | "null" => f64::NAN,
                    v => v
                        .parse()
                        .map_err(|_| err(format!("line {n}, column {}: {v:?} is not a number", ids[k])))?,
                });
            }
        }
        Ok(StationSeries { ids, times, values })
    }
}

/// The result of [`areal_series`].
#[derive(Debug, Clone, PartialEq)]
pub struct ArealSeries {
    /// One basin value per time step; NaN where no station has a value.
    pub values: Vec<f64>,
    /// How many distinct sets of present stations needed their own weights.
    pub weight_sets: usize,
}

/// The basin average of `series` at each step: Σ wᵢ·vᵢ over the stations with a (non-NaN)
/// value, the weights being the Thiessen weights of those stations alone.
///
/// # Errors
/// [`GisError::Invalid`] when a series column names no station in `stations`, and the errors of
/// [`ThiessenBasin::compute`].
pub fn areal_series(
    basin: &ThiessenBasin,
    stations: &[Station],
    series: &StationSeries,
) -> Result<ArealSeries, GisError> {
    let by_id: HashMap<&str, &Station> = stations.iter().map(|s| (s.id.as_str(), s)).collect();
    let cols: Vec<&Station> = series
        .ids
        .iter()
        .map(|id| {
            by_id
                .get(id.as_str())
                .copied()
                .ok_or_else(|| GisError::Invalid(format!("series column {id:?} is not one of the stations")))
        })
        .collect::<Result<_, _>>()?;
    let n = cols.len();
    if series.values.len() != n * series.times.len() {
        return Err(GisError::Invalid(format!(
            "station series: {} values for {} steps × {n} stations",
            series.values.len(),
            series.times.len()
        )));
    }
    let mut cache: HashMap<Vec<u64>, Vec<f64>> = HashMap::new();
    let mut out = Vec::with_capacity(series.times.len());
    let mut present = Vec::with_capacity(n);
    for row in series.values.chunks(n.max(1)) {
        present.clear();
        present.extend((0..n).filter(|&k| row.get(k).is_some_and(|v| !v.is_nan())));
        if present.is_empty() {
            out.push(f64::NAN);
            continue;
        }
        let mut key = vec![0u64; n.div_ceil(64)];
        present.iter().for_each(|&k| key[k / 64] |= 1 << (k % 64));
        let weights = match cache.get(&key) {
            Some(w) => w,
            None => {
                let set: Vec<Station> = present.iter().map(|&k| cols[k].clone()).collect();
                let w = basin.compute(&set)?.weights;
                cache.entry(key).or_insert(w)
            }
        };
        out.push(present.iter().zip(weights).map(|(&k, w)| w * row[k]).sum());
    }
    Ok(ArealSeries {
        values: out,
        weight_sets: cache.len(),
    })
}
