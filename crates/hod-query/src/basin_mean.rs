//! Basin-average time series: the weighted mean of a gridded variable over each of a set of
//! polygons, at every time step, read block by block in bounded memory.
//!
//! Weights are exact coverage fractions (× true cell areas with [`Weighting::Area`]) from
//! `hod_gis::zonal`, computed once per (grid, polygons, weighting) and kept in this process and
//! on disk ([`crate::weights_cache`]), so other variables and later runs reuse them. At each
//! step the mean runs over the covered cells holding a value; the weights are
//! renormalised over those, so a NaN cell drops out instead of counting as zero.

use crate::select::{Bbox, Role, is_longitude, resolve, role};
use crate::sink::{Block, Sink};
use crate::weights_cache::{self, WeightsCache, WeightsFrom};
use crate::{DataCube, QueryError, Request};
use geo_types::MultiPolygon;
use hod_gis::zonal::{Precision, Weighting, Weights, grid_from_centers, weighted_mean};
use hod_index::{DatasetMeta, read_variable};
use hod_store::Store;

/// One basin: a name for its column and its polygon(s), in the dataset's CRS.
#[derive(Debug, Clone, PartialEq)]
pub struct Basin {
    /// Column name in the output.
    pub id: String,
    /// The basin's area.
    pub shape: MultiPolygon<f64>,
}

/// What to average.
#[derive(Debug, Clone)]
pub struct BasinMeanRequest {
    /// Variable, by short name, long name or CF standard name.
    pub var: String,
    /// First time to keep (seconds since 1970, inclusive).
    pub start: Option<f64>,
    /// Last time to keep (inclusive).
    pub end: Option<f64>,
    /// Cell weights; [`Weighting::Area`] becomes planar (`dx·dy`) on grids whose x is not a
    /// longitude.
    pub weighting: Weighting,
    /// Weight rounding (exact, or exactextract's float32).
    pub precision: Precision,
    /// Memory for one block of steps, in bytes: the basins' window of values plus the chunks
    /// read for it, as [`crate::read_to`]'s budget (at least one step per block).
    pub block_bytes: usize,
    /// Where weights are kept between calls.
    pub cache: WeightsCache,
}

/// What a basin-mean run covered.
#[derive(Debug, Clone, PartialEq)]
pub struct BasinMeanSummary {
    /// The variable's name in the dataset.
    pub var: String,
    /// Time steps written.
    pub steps: usize,
    /// Rows × columns of the window read at each step.
    pub window: (usize, usize),
    /// Per basin, the number of cells it covers and the sum of its weights.
    pub cells: Vec<(usize, f64)>,
    /// Whether the weights were computed or came from a cache.
    pub weights: WeightsFrom,
    /// Cache files that could not be used (the means are right regardless).
    pub warnings: Vec<String>,
}

/// Computes each basin's weighted mean at every time step of `req`, handing each step to `sink`
/// as `(seconds since 1970, one mean per basin, NaN where no covered cell has a value)`.
///
/// # Errors
/// An unknown variable, one without time/x/y coordinates or on an uneven grid, a selection that
/// is empty, read failures, or what `sink` returns.
pub async fn basin_mean(
    store: &Store,
    meta: &DatasetMeta,
    req: &BasinMeanRequest,
    basins: &[Basin],
    mut sink: impl FnMut(f64, &[f64]) -> Result<(), QueryError>,
) -> Result<BasinMeanSummary, QueryError> {
    let (name, var) = resolve(meta, &req.var)?;
    let name = name.to_string();
    // Coordinates of each dimension, by role.
    let axis = |want: Role| {
        var.array.dims.iter().find_map(|d| {
            meta.variables
                .iter()
                .find(|(k, v)| hod_core::is_coordinate(k, &v.array) && v.array.dims[0] == *d)
                .filter(|(k, v)| role(k, v) == want)
                .map(|(k, v)| (k.clone(), v.clone()))
        })
    };
    let missing = |what: &str| QueryError::Invalid(format!("'{name}' has no {what} coordinate"));
    let (xname, xvar) = axis(Role::X).ok_or_else(|| missing("x (longitude)"))?;
    let (yname, yvar) = axis(Role::Y).ok_or_else(|| missing("y (latitude)"))?;
    let (_, tvar) = axis(Role::Time).ok_or_else(|| missing("time"))?;
    let (xs, ys) = futures::try_join!(
        read_variable(store, meta, &xname, true),
        read_variable(store, meta, &yname, true)
    )?;
    let geographic = is_longitude(&xname, &xvar);
    let crs = geographic.then(|| "EPSG:4326".to_string());
    let (grid, _) =
        grid_from_centers(&xs, &ys, crs).map_err(|e| QueryError::Invalid(format!("'{name}': {e}")))?;

    // Areas on the sphere or ellipsoid only mean something for lon/lat grids.
    let weighting = match req.weighting {
        Weighting::Area(_) if !geographic => Weighting::Area(hod_gis::zonal::AreaModel::Planar),
        w => w,
    };
    let shapes: Vec<_> = basins.iter().map(|b| &b.shape).collect();
    let found = weights_cache::get(&req.cache, &grid, &shapes, weighting, req.precision);
    let weights = &found.weights;
    // The window of grid cells any basin covers.
    let (mut r0, mut r1, mut c0, mut c1) = (usize::MAX, 0, usize::MAX, 0);
    for w in weights.iter() {
        for &(i, _) in &w.cells {
            let (r, c) = (i / grid.cols, i % grid.cols);
            (r0, r1, c0, c1) = (r0.min(r), r1.max(r + 1), c0.min(c), c1.max(c + 1));
        }
    }
    if r0 >= r1 {
        return Err(QueryError::Empty(format!(
            "no basin overlaps the grid of '{name}' (x {} .. {}, y {} .. {})",
            grid.x0,
            grid.x0 + grid.cols as f64 * grid.dx,
            grid.y0 - grid.rows as f64 * grid.dy,
            grid.y0
        )));
    }
    // Cell centres ± a quarter cell: read() keeps the points inside, so exactly the window.
    let (west, north) = grid.cell_center(r0, c0);
    let (east, south) = grid.cell_center(r1 - 1, c1 - 1);
    let q = (grid.dx / 4.0, grid.dy / 4.0);
    let bbox = Bbox {
        west: west - q.0,
        south: south - q.1,
        east: east + q.0,
        north: north + q.1,
    };

    let window = (r1 - r0, c1 - c0);
    let request = Request {
        vars: vec![name.clone()],
        start: req.start,
        end: req.end,
        bbox: Some(bbox),
        ..Default::default()
    };
    let mut means = Means {
        name: &name,
        basins,
        weights,
        grid: &grid,
        dims: [&tvar, &yvar, &xvar].map(|v| v.array.dims.first().cloned().unwrap_or_default()),
        map: Vec::new(),
        times: Vec::new(),
        time_dim: 0,
        time_stride: 0,
        means: vec![f64::NAN; basins.len()],
        steps: 0,
        sink: &mut sink,
        spare: None,
    };
    // Blocks split the first dimension, which must then be time.
    let first_is_time = var.array.dims.first() == tvar.array.dims.first();
    let budget = if first_is_time {
        req.block_bytes
    } else {
        usize::MAX
    };
    crate::read::read_to(store, meta, &request, budget, &mut means).await?;
    Ok(BasinMeanSummary {
        var: name.clone(),
        steps: means.steps,
        window,
        cells: weights.iter().map(|w| (w.cells.len(), w.total())).collect(),
        weights: found.from,
        warnings: found.warnings,
    })
}

/// The [`Sink`] that turns blocks of the window into per-step basin means.
struct Means<'a, F> {
    name: &'a str,
    basins: &'a [Basin],
    /// Per basin, its weights by grid cell...
    weights: &'a [Weights],
    grid: &'a hod_gis::GridGeometry,
    /// Time, y and x dimension names.
    dims: [String; 3],
    /// ... and by offset in a time slice of the window (set in `begin`).
    map: Vec<Weights>,
    times: Vec<f64>,
    /// Where time is in the window, and the values between two steps.
    time_dim: usize,
    time_stride: usize,
    means: Vec<f64>,
    steps: usize,
    sink: &'a mut F,
    /// The last block's values, for [`Sink::reclaim`].
    spare: Option<Vec<f64>>,
}

impl<F: FnMut(f64, &[f64]) -> Result<(), QueryError>> Sink for Means<'_, F> {
    fn begin(&mut self, layout: &[DataCube]) -> Result<(), QueryError> {
        let name = self.name;
        let cube = layout
            .first()
            .ok_or_else(|| QueryError::Empty(format!("'{name}': nothing read")))?;
        let dim = |n: &str| cube.dims.iter().position(|d| d == n);
        let [Some(td), Some(yd), Some(xd)] = self.dims.each_ref().map(|d| dim(d)) else {
            return Err(QueryError::Invalid(format!(
                "'{name}': cannot find its time, y and x dimensions"
            )));
        };
        if cube
            .shape
            .iter()
            .enumerate()
            .any(|(d, &n)| d != td && d != yd && d != xd && n != 1)
        {
            return Err(QueryError::Invalid(format!(
                "'{name}' has dimensions besides time, y and x ({:?}); select one level first",
                cube.dims
            )));
        }
        let grid = self.grid;
        let strides = strides(&cube.shape);
        // Per grid row and column, its offset in the window (an axis lookup each, not one entry
        // per cell of the window).
        let offsets = |coords: &[f64], n: usize, stride: usize, index: &dyn Fn(f64) -> f64| {
            let mut at = vec![None; n];
            for (k, &v) in coords.iter().enumerate() {
                let i = index(v);
                if i >= 0.0
                    && let Some(slot) = at.get_mut(i as usize)
                {
                    *slot = Some(k * stride);
                }
            }
            at
        };
        let row_at = offsets(&cube.coords[yd], grid.rows, strides[yd], &|y| {
            ((grid.y0 - y) / grid.dy - 0.5).round()
        });
        let col_at = offsets(&cube.coords[xd], grid.cols, strides[xd], &|x| {
            ((x - grid.x0) / grid.dx - 0.5).round()
        });
        let grid_to_window = |i: usize| {
            let (r, c) = (i / grid.cols, i % grid.cols);
            Some(row_at.get(r).copied()?? + col_at.get(c).copied()??)
        };
        for (w, b) in self.weights.iter().zip(self.basins) {
            let cells = w
                .cells
                .iter()
                .map(|&(i, wt)| {
                    grid_to_window(i).map(|o| (o, wt)).ok_or_else(|| {
                        QueryError::Invalid(format!("basin '{}': cell {} of the grid was not read", b.id, i))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            self.map.push(Weights { cells });
        }
        self.times = cube.coords[td].clone();
        self.time_dim = td;
        self.time_stride = strides[td];
        Ok(())
    }

    fn block(&mut self, block: Block) -> Result<(), QueryError> {
        // With time first, a block's rows are steps; otherwise the block is the whole window.
        let (first, steps) = match self.time_dim {
            0 => (block.rows.start, block.rows.len()),
            _ => (0, self.times.len()),
        };
        for k in 0..steps {
            let plane = block.values.get(k * self.time_stride..).unwrap_or(&[]);
            for (m, w) in self.means.iter_mut().zip(&self.map) {
                *m = weighted_mean(plane, w);
            }
            let t = self.times.get(first + k).copied().unwrap_or(f64::NAN);
            (self.sink)(t, &self.means)?;
            self.steps += 1;
        }
        self.spare = Some(block.values);
        Ok(())
    }

    fn reclaim(&mut self) -> Option<Vec<f64>> {
        self.spare.take()
    }

    fn finish(&mut self) -> Result<(), QueryError> {
        Ok(())
    }
}

fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for d in (0..shape.len().saturating_sub(1)).rev() {
        s[d] = s[d + 1] * shape[d + 1];
    }
    s
}
