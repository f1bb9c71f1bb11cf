//! De-accumulation: values accumulated over a period (ERA5 / ERA5-Land `tp`, `e`, `ro`, `ssrd`, …,
//! GFS `APCP` buckets) → the increment over each time step.
//!
//! Conventions (ECMWF, "ERA5-Land: data documentation" §"Accumulations" and "ERA5: data
//! documentation" §"Mean rates, flux and accumulations"):
//! - ERA5-Land accumulates from 00 UTC: the value valid at 01 UTC covers 00–01 UTC, at 02 UTC
//!   00–02 UTC, …, and the value at 00 UTC covers the whole previous day. In GRIB this is the
//!   forecast from 00 UTC with `stepRange` `0-1` … `0-24`.
//! - ERA5 on the CDS holds the accumulation over the hour ending at the valid time already
//!   (GRIB `stepRange` `N-1`-`N` from the 06 and 18 UTC forecasts): nothing to de-accumulate.
//! - GFS buckets restart every 6 hours (`0-3`, `0-6`, `6-9`, `6-12`, …).
//!
//! GRIB variables say all this per message (`GRIB_stepRange`, set by the GRIB scanner); other
//! files say at most *that* a variable is accumulated, so the convention comes from the
//! attribute `hod_time_convention` (on the variable or the dataset; what dataset profiles set) or
//! from the caller.

use crate::QueryError;
use crate::read::DataCube;
use crate::sink::{Block, Collect, Sink};
use hod_core::Attrs;
use serde_json::Value;

/// Seconds in a day and in an hour.
const DAY: f64 = 86_400.0;
const HOUR: f64 = 3_600.0;

/// ECMWF parameters that are accumulations in ERA5 and ERA5-Land (short names, ecCodes).
const ECMWF_ACCUMULATED: &[&str] = &[
    "tp", "cp", "lsp", "e", "es", "pev", "ro", "sro", "ssro", "sf", "csf", "lsf", "smlt", "ssrd", "strd",
    "ssr", "str", "ssrc", "strc", "ssrdc", "strdc", "tsr", "ttr", "tsrc", "ttrc", "tisr", "sshf", "slhf",
    "fdir", "cdir", "uvb", "par", "ewss", "nsss", "lgws", "mgws", "gwd", "bld", "evabs", "evaow", "evatc",
    "evavt",
];

/// How a variable's values are accumulated over time.
#[derive(Debug, Clone, PartialEq)]
pub enum Convention {
    /// Accumulated from 00 UTC to the valid time; the value at 00 UTC covers the previous day
    /// (ERA5-Land on a valid-time axis, as CDS netCDF files give it). `hod_time_convention =
    /// "since-00utc"`.
    SinceMidnight,
    /// Each value already covers the step ending at its time (ERA5 on the CDS): values are kept
    /// as they are. `hod_time_convention = "per-step"`.
    PerStep,
    /// Forecast steps with their accumulation periods `(start, end)` in hours after the
    /// reference time, by end (GRIB `stepRange`); de-accumulated along the `step` dimension.
    StepRanges(Vec<(f64, f64)>),
}

impl std::str::FromStr for Convention {
    type Err = QueryError;

    fn from_str(s: &str) -> Result<Convention, QueryError> {
        match s.trim().to_lowercase().as_str() {
            // The second names are the catalog profiles' time conventions.
            "since-00utc" | "era5-land" | "accumulated_since_00utc" => Ok(Convention::SinceMidnight),
            "per-step" | "era5" | "accumulated_over_hour" => Ok(Convention::PerStep),
            _ => Err(QueryError::Invalid(format!(
                "accumulation convention '{s}': expected 'since-00utc' (ERA5-Land) or 'per-step' (ERA5)"
            ))),
        }
    }
}

impl std::fmt::Display for Convention {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Convention::SinceMidnight => f.write_str("accumulated since 00 UTC (ERA5-Land)"),
            Convention::PerStep => f.write_str("accumulated over each step (ERA5)"),
            Convention::StepRanges(r) => {
                let r: Vec<String> = r.iter().map(|(a, b)| format!("{a}-{b}")).collect();
                write!(f, "accumulated over forecast step ranges {} h", r.join(", "))
            }
        }
    }
}

fn text<'a>(attrs: &'a Attrs, key: &str) -> Option<&'a str> {
    attrs.get(key).and_then(Value::as_str)
}

/// Whether a variable is accumulated, from its metadata: GRIB `stepType`, CF `cell_methods`
/// (`time: sum`), `hod_time_convention`, or an ECMWF accumulated short name whose units are not a
/// rate. `Err` says why not.
fn accumulated(name: &str, attrs: &Attrs) -> Result<(), String> {
    if let Some(c) = text(attrs, "hod_time_convention") {
        return if c.starts_with("accumulated") || c.parse::<Convention>().is_ok() {
            Ok(())
        } else {
            Err(format!("its dataset profile says it is '{c}'"))
        };
    }
    if let Some(t) = text(attrs, "GRIB_stepType") {
        return if t == "accum" {
            Ok(())
        } else {
            Err(format!("its GRIB_stepType is '{t}', not 'accum'"))
        };
    }
    if let Some(m) = text(attrs, "cell_methods") {
        return if m.replace(' ', "").contains("time:sum") {
            Ok(())
        } else {
            Err(format!("its cell_methods is '{m}', not 'time: sum'"))
        };
    }
    let short = text(attrs, "GRIB_shortName")
        .unwrap_or_else(|| name.rsplit('/').next().unwrap_or(name))
        .to_lowercase();
    let units = text(attrs, "units").unwrap_or("").replace(' ', "");
    let rate = ["s-1", "s**-1", "s^-1", "/s", "W"]
        .iter()
        .any(|r| units.contains(r));
    if ECMWF_ACCUMULATED.contains(&short.as_str()) && !rate {
        return Ok(());
    }
    Err(
        "no metadata say so (GRIB_stepType = accum, cell_methods = time: sum, hod_time_convention, \
         or an ECMWF accumulated parameter such as tp, e, ro, ssrd)"
            .into(),
    )
}

/// Parses `GRIB_stepRange`: `"0-6"`, or a list of them.
fn step_ranges(v: &Value) -> Option<Vec<(f64, f64)>> {
    let one = |s: &str| {
        let (a, b) = s.split_once('-')?;
        Some((a.trim().parse().ok()?, b.trim().parse().ok()?))
    };
    match v {
        Value::String(s) => Some(vec![one(s)?]),
        Value::Array(a) => a.iter().map(|x| one(x.as_str()?)).collect(),
        _ => None,
    }
}

/// The accumulation convention of a variable from its metadata: `Ok(None)` when it is
/// accumulated but nothing says how (ERA5 and ERA5-Land netCDF files look alike).
///
/// This is the hook dataset profiles feed (through `hod_time_convention`).
///
/// # Errors
/// [`QueryError::Invalid`] when the variable is not accumulated, or its metadata are malformed.
pub fn accumulation(name: &str, attrs: &Attrs, dataset: &Attrs) -> Result<Option<Convention>, QueryError> {
    accumulated(name, attrs)
        .map_err(|why| QueryError::Invalid(format!("'{name}' is not an accumulated variable: {why}")))?;
    if let Some(v) = attrs.get("GRIB_stepRange") {
        let ranges = step_ranges(v).ok_or_else(|| {
            QueryError::Invalid(format!("'{name}': GRIB_stepRange {v} is not 'start-end' hours"))
        })?;
        return Ok(Some(Convention::StepRanges(ranges)));
    }
    match text(attrs, "hod_time_convention").or_else(|| text(dataset, "hod_time_convention")) {
        Some(c) => c.parse().map(Some),
        None => Ok(None),
    }
}

/// The convention to de-accumulate a variable with: its metadata's, else `fallback`.
///
/// # Errors
/// [`QueryError::Invalid`] when the variable is not accumulated, when neither says how, or when
/// `fallback` contradicts the metadata.
pub fn convention(
    name: &str,
    attrs: &Attrs,
    dataset: &Attrs,
    fallback: Option<&Convention>,
) -> Result<Convention, QueryError> {
    match (accumulation(name, attrs, dataset)?, fallback) {
        (Some(c), Some(f)) if c != *f => Err(QueryError::Invalid(format!(
            "'{name}': the metadata say it is {c}, not {f}"
        ))),
        (Some(c), _) => Ok(c),
        (None, Some(f)) => Ok(f.clone()),
        (None, None) => Err(QueryError::Invalid(format!(
            "'{name}' is accumulated, but its metadata do not say over which period (ERA5-Land: \
             since 00 UTC; ERA5: each hour); give the convention (`--accumulation since-00utc` or \
             `per-step`)"
        ))),
    }
}

/// Position of a cube's time axis and the sizes before it and after it.
fn split(cube: &DataCube, axis: usize) -> (usize, usize, usize) {
    let outer = cube.shape[..axis].iter().product();
    let inner = cube.shape[axis + 1..].iter().product();
    (outer, cube.shape[axis], inner)
}

/// The time axis of a well-formed cube (as many coordinates as dimensions, as many values as its
/// shape holds).
fn time_axis(cube: &DataCube) -> Result<usize, QueryError> {
    let coords_fit = cube.coords.len() == cube.shape.len()
        && cube.dims.len() == cube.shape.len()
        && cube.coords.iter().zip(&cube.shape).all(|(c, &n)| c.len() == n);
    if !coords_fit || cube.values.len() != cube.shape.iter().product::<usize>() {
        return Err(QueryError::Invalid(format!(
            "'{}': the cube's coordinates or values do not fit its shape {:?}",
            cube.name, cube.shape
        )));
    }
    cube.time_dims.iter().position(|&t| t).ok_or_else(|| {
        QueryError::Invalid(format!(
            "'{}' has no time dimension to de-accumulate along",
            cube.name
        ))
    })
}

fn step_axis(cube: &DataCube) -> Option<usize> {
    cube.dims.iter().position(|d| d == "step")
}

/// How one step's increment follows from its accumulation.
#[derive(Clone, Copy)]
enum Mode {
    /// The accumulation started at the previous step: it is the increment.
    Fresh,
    /// The previous step's accumulation is part of this one: subtract it.
    Subtract,
    /// The previous step is not known: NaN.
    Unknown,
}

/// Turns accumulations into increments, block by block along time: the last accumulation of
/// each cell carries over to the next block (feed the blocks in time order).
#[derive(Debug, Clone)]
pub struct Deaccumulator {
    convention: Convention,
    /// Time of the last step seen and its accumulation per cell.
    last: Option<(f64, Vec<f64>)>,
}

impl Deaccumulator {
    /// A de-accumulator that has seen nothing yet.
    pub fn new(convention: Convention) -> Deaccumulator {
        Deaccumulator {
            convention,
            last: None,
        }
    }

    /// Replaces a block's accumulations by increments over each step (in place), and records
    /// how in the attribute `hod_deaccumulated`.
    ///
    /// # Errors
    /// [`QueryError::Invalid`] when the cube's layout does not fit the convention (no time
    /// axis, forecast steps without their ranges, ranges that cannot be differenced), or a block
    /// whose cells differ from the previous one's.
    pub fn apply(&mut self, cube: &mut DataCube) -> Result<(), QueryError> {
        match self.convention.clone() {
            Convention::PerStep => {}
            Convention::SinceMidnight => self.since_midnight(cube)?,
            Convention::StepRanges(ranges) => steps(cube, &ranges)?,
        }
        cube.attrs
            .insert("hod_deaccumulated".into(), Value::String(self.describe().into()));
        Ok(())
    }

    /// What the values become, for the attribute `hod_deaccumulated`.
    fn describe(&self) -> &'static str {
        match self.convention {
            Convention::PerStep => "values already cover the step ending at their time (kept as they are)",
            Convention::SinceMidnight => {
                "increments over the step ending at each time (from accumulations since 00 UTC)"
            }
            Convention::StepRanges(_) => {
                "increments over each forecast step (from the accumulations of GRIB stepRange)"
            }
        }
    }

    fn since_midnight(&mut self, cube: &mut DataCube) -> Result<(), QueryError> {
        let axis = time_axis(cube)?;
        if step_axis(cube).is_some_and(|s| cube.shape[s] > 1) {
            return Err(QueryError::Invalid(format!(
                "'{}' has forecast steps but no GRIB_stepRange saying what they accumulate",
                cube.name
            )));
        }
        let (outer, n, inner) = split(cube, axis);
        let (mut last_time, mut last) = self
            .last
            .take()
            .unwrap_or((f64::NEG_INFINITY, vec![f64::NAN; outer * inner]));
        if last.len() != outer * inner {
            return Err(QueryError::Invalid(format!(
                "'{}': a block of {} cells follows one of {}",
                cube.name,
                outer * inner,
                last.len()
            )));
        }
        for (i, &t) in cube.coords[axis].iter().enumerate() {
            // The accumulation valid at t started at the last 00 UTC strictly before t; without
            // a step read since, an hourly series' 01 UTC value is its own increment.
            let window = ((t - 1.0) / DAY).floor() * DAY;
            let mode = if last_time > window && last_time < t {
                Mode::Subtract
            } else if last_time == window || t - window == HOUR {
                Mode::Fresh
            } else {
                Mode::Unknown
            };
            for o in 0..outer {
                for c in 0..inner {
                    let (k, s) = ((o * n + i) * inner + c, o * inner + c);
                    let (Some(v), Some(prev)) = (cube.values.get_mut(k), last.get_mut(s)) else {
                        continue;
                    };
                    let acc = *v;
                    *v = match mode {
                        Mode::Fresh => acc,
                        Mode::Subtract => acc - *prev,
                        Mode::Unknown => f64::NAN,
                    };
                    *prev = acc;
                }
            }
            last_time = t;
        }
        self.last = Some((last_time, last));
        Ok(())
    }
}

/// De-accumulates along the `step` axis of a forecast layout (each reference time on its own).
fn steps(cube: &mut DataCube, ranges: &[(f64, f64)]) -> Result<(), QueryError> {
    time_axis(cube)?;
    let Some(axis) = step_axis(cube) else {
        // One step: its value is the accumulation over its own period already.
        return match ranges {
            [_] => Ok(()),
            _ => Err(QueryError::Invalid(format!(
                "'{}' has {} GRIB step ranges but no 'step' dimension to de-accumulate along",
                cube.name,
                ranges.len()
            ))),
        };
    };
    let start_of = |end: f64| {
        ranges.iter().find(|r| r.1 == end).map(|r| r.0).ok_or_else(|| {
            QueryError::Invalid(format!("'{}': step {end} h has no GRIB_stepRange", cube.name))
        })
    };
    let ends = &cube.coords[axis];
    let mut modes = Vec::with_capacity(ends.len());
    for (k, &end) in ends.iter().enumerate() {
        let start = start_of(end)?;
        let mode = match k.checked_sub(1).map(|p| (start_of(ends[p]), ends[p])) {
            None => Mode::Fresh,
            Some((prev_start, prev_end)) => {
                let prev_start = prev_start?;
                if start == prev_start {
                    Mode::Subtract
                } else if start >= prev_end {
                    Mode::Fresh
                } else {
                    return Err(QueryError::Invalid(format!(
                        "'{}': step range {start}-{end} h cannot be differenced with {prev_start}-{prev_end} h",
                        cube.name
                    )));
                }
            }
        };
        modes.push(mode);
    }
    let (outer, n, inner) = split(cube, axis);
    for o in 0..outer {
        // Backwards, so that each step subtracts its predecessor's accumulation.
        for k in (1..n).rev() {
            if let Some(Mode::Subtract) = modes.get(k) {
                for c in 0..inner {
                    let (here, before) = ((o * n + k) * inner + c, (o * n + k - 1) * inner + c);
                    if let (Some(&prev), true) = (cube.values.get(before), here < cube.values.len()) {
                        cube.values[here] -= prev;
                    }
                }
            }
        }
    }
    Ok(())
}

/// Outcome of checking that each day's increments sum to that day's accumulation.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct DailyCheck {
    /// Days whose every step was read (valid times 01 UTC … 00 UTC the next day).
    pub days: usize,
    /// Cell-days compared (cells with a NaN that day are left out).
    pub compared: usize,
    /// Largest |Σ increments − accumulation at the day's 00 UTC|.
    pub max_abs_diff: f64,
    /// Largest difference accepted: 1e-9 × (1 + largest |accumulation|).
    pub tolerance: f64,
}

impl DailyCheck {
    /// Whether every compared day agrees within the tolerance.
    pub fn passed(&self) -> bool {
        self.max_abs_diff <= self.tolerance
    }
}

/// Checks, for every complete day, that the increments valid from 01 UTC to 00 UTC the next day
/// sum to the accumulation valid at that 00 UTC (accumulations since 00 UTC: ERA5-Land, on a
/// valid-time axis or as GRIB forecast steps).
///
/// `increments` and `accumulated` are the same selection read with and without
/// de-accumulation. A day counts when its steps are evenly spaced and cover it.
///
/// # Errors
/// [`QueryError::Invalid`] when the convention does not accumulate from 00 UTC (for forecast
/// steps: from the reference time), or the two cubes differ in shape or have no time axis.
pub fn daily_check(
    convention: &Convention,
    increments: &DataCube,
    accumulated: &DataCube,
) -> Result<DailyCheck, QueryError> {
    let since_reference = |r: &[(f64, f64)]| r.iter().all(|&(start, _)| start == 0.0);
    if !matches!(convention, Convention::SinceMidnight)
        && !matches!(convention, Convention::StepRanges(r) if since_reference(r))
    {
        return Err(QueryError::Invalid(format!(
            "'{}' is {convention}: the daily check applies to accumulations since 00 UTC",
            increments.name
        )));
    }
    if increments.shape != accumulated.shape || increments.values.len() != accumulated.values.len() {
        return Err(QueryError::Invalid(format!(
            "'{}': the de-accumulated and accumulated selections differ in shape",
            increments.name
        )));
    }
    let ta = time_axis(increments)?;
    let sa = step_axis(increments);
    let rank = increments.shape.len();
    let mut strides = vec![1usize; rank];
    for d in (0..rank.saturating_sub(1)).rev() {
        strides[d] = strides[d + 1] * increments.shape[d + 1];
    }
    // Valid time of every (time, step) pair with its offset, in time order.
    let steps: Vec<f64> = sa.map_or_else(|| vec![0.0], |s| increments.coords[s].clone());
    let mut valid: Vec<(f64, usize)> = Vec::new();
    for (ti, &t) in increments.coords[ta].iter().enumerate() {
        for (si, &h) in steps.iter().enumerate() {
            valid.push((t + h * HOUR, ti * strides[ta] + sa.map_or(0, |s| si * strides[s])));
        }
    }
    valid.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
    // Offsets of every cell (all other dims), time and step at 0.
    let mut cells = vec![0usize];
    for d in (0..rank).filter(|&d| d != ta && Some(d) != sa) {
        let stride = strides[d];
        cells = cells
            .iter()
            .flat_map(|&c| (0..increments.shape[d]).map(move |i| c + i * stride))
            .collect();
    }
    let scale = accumulated
        .values
        .iter()
        .filter(|v| v.is_finite())
        .fold(0.0f64, |m, v| m.max(v.abs()));
    let mut check = DailyCheck {
        days: 0,
        compared: 0,
        max_abs_diff: 0.0,
        tolerance: 1e-9 * (1.0 + scale),
    };
    for (end_pos, &(t_end, end_off)) in valid.iter().enumerate() {
        if t_end.rem_euclid(DAY) != 0.0 {
            continue;
        }
        let day: Vec<(f64, usize)> = valid[..=end_pos]
            .iter()
            .filter(|(t, _)| *t > t_end - DAY)
            .copied()
            .collect();
        let spacing = DAY / day.len() as f64;
        let even = day
            .iter()
            .enumerate()
            .all(|(k, (t, _))| *t == t_end - DAY + (k + 1) as f64 * spacing);
        if !even {
            continue;
        }
        let mut any = false;
        let at = |v: &[f64], k: usize| v.get(k).copied().unwrap_or(f64::NAN);
        for &c in &cells {
            let sum: f64 = day.iter().map(|&(_, off)| at(&increments.values, c + off)).sum();
            let acc = at(&accumulated.values, c + end_off);
            if sum.is_nan() || acc.is_nan() {
                continue;
            }
            check.max_abs_diff = check.max_abs_diff.max((sum - acc).abs());
            check.compared += 1;
            any = true;
        }
        check.days += usize::from(any);
    }
    Ok(check)
}

/// De-accumulating reads: the selection streams through [`DeaccumulateSink`] into `sink`. For
/// accumulations since 00 UTC the step just before `start` is read first (one time step of the
/// selection, so memory stays bounded) to seed each cell's last accumulation.
pub(crate) async fn read_to(
    store: &hod_store::Store,
    meta: &hod_index::DatasetMeta,
    req: &crate::Request,
    budget: usize,
    sink: &mut dyn Sink,
) -> Result<(), QueryError> {
    let plain = crate::Request {
        deaccumulate: false,
        ..req.clone()
    };
    let mut states = Vec::new();
    for wanted in &req.vars {
        let (name, var) = crate::select::resolve(meta, wanted)?;
        let conv = convention(name, &var.array.attrs, &meta.attrs, req.accumulation.as_ref())?;
        let mut state = Deaccumulator::new(conv.clone());
        if let (Convention::SinceMidnight, Some(start)) = (&conv, req.start) {
            // The step before `start` (within 1.5 steps, for uneven spacing), if the data have it.
            let before = crate::Request {
                vars: vec![wanted.clone()],
                start: Some(start - 1.5 * time_step(meta, var)),
                end: Some(start - 1e-3),
                ..plain.clone()
            };
            let mut seed = Collect::new();
            match crate::read::read_plain(store, meta, &before, budget, &mut seed).await {
                Ok(()) => {
                    for mut cube in seed.into_cubes() {
                        state.apply(&mut cube)?;
                    }
                }
                Err(QueryError::Empty(_)) => {}
                Err(e) => return Err(e),
            }
        }
        states.push(state);
    }
    let mut wrapped = DeaccumulateSink {
        inner: sink,
        states,
        layout: Vec::new(),
    };
    crate::read::read_plain(store, meta, &plain, budget, &mut wrapped).await
}

/// A [`Sink`] that de-accumulates the blocks going through it (time must be the first dimension
/// for accumulations since 00 UTC, so that blocks arrive in time order).
struct DeaccumulateSink<'a> {
    inner: &'a mut dyn Sink,
    /// One per output variable, in the request's order.
    states: Vec<Deaccumulator>,
    layout: Vec<DataCube>,
}

impl Sink for DeaccumulateSink<'_> {
    fn begin(&mut self, layout: &[DataCube]) -> Result<(), QueryError> {
        let mut layout = layout.to_vec();
        for (cube, state) in layout.iter_mut().zip(&self.states) {
            // (The layout has no values yet, so `time_axis` cannot check it.)
            if state.convention == Convention::SinceMidnight && cube.time_dims.first() != Some(&true) {
                return Err(QueryError::Invalid(format!(
                    "'{}': time must be the first dimension to de-accumulate since 00 UTC",
                    cube.name
                )));
            }
            cube.attrs
                .insert("hod_deaccumulated".into(), Value::String(state.describe().into()));
        }
        self.layout = layout.clone();
        self.inner.begin(&layout)
    }

    fn granule(&self, var: usize) -> usize {
        self.inner.granule(var)
    }

    fn block(&mut self, mut block: Block) -> Result<(), QueryError> {
        let (Some(layout), Some(state)) = (self.layout.get(block.var), self.states.get_mut(block.var)) else {
            return Err(QueryError::Invalid(format!(
                "block of unknown variable {}",
                block.var
            )));
        };
        let mut coords = layout.coords.clone();
        if let Some(first) = coords.first_mut() {
            *first = first.get(block.rows.clone()).unwrap_or_default().to_vec();
        }
        let mut shape = layout.shape.clone();
        if let Some(first) = shape.first_mut() {
            *first = block.rows.len();
        }
        let mut cube = DataCube {
            name: layout.name.clone(),
            dims: layout.dims.clone(),
            shape,
            coords,
            time_dims: layout.time_dims.clone(),
            values: std::mem::take(&mut block.values),
            attrs: Attrs::new(),
        };
        state.apply(&mut cube)?;
        block.values = cube.values;
        self.inner.block(block)
    }

    fn finish(&mut self) -> Result<(), QueryError> {
        self.inner.finish()
    }
}

/// The mean spacing of a variable's time coordinate in seconds, from the dataset's metadata
/// (one hour when they do not say).
fn time_step(meta: &hod_index::DatasetMeta, var: &hod_index::VariableMeta) -> f64 {
    use crate::select::{Role, role, time_values};
    let span = var.array.dims.iter().find_map(|dim| {
        if let Some(c) = meta.concat.as_ref().filter(|c| c.dim == *dim) {
            let n = meta.dims.iter().find(|d| d.0 == *dim)?.1;
            return c.time_range.map(|(a, b)| (a, b, n));
        }
        let (name, cvar) = meta.variables.iter().find(|(k, v)| {
            hod_core::is_coordinate(k, &v.array) && v.array.dims[0] == *dim && role(k, v) == Role::Time
        })?;
        let s = meta.coords.get(name)?;
        let t = time_values(name, cvar, &[s.first, s.last]).ok()?;
        Some((*t.first()?, *t.last()?, s.len))
    });
    match span {
        Some((a, b, n)) if n > 1 && b > a => (b - a) / (n - 1) as f64,
        _ => HOUR,
    }
}
