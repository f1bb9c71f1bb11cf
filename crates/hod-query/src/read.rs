//! Plan → fetch → decode → assemble, block by block: reads only the chunks a selection touches,
//! holding at most a memory budget's worth of values and chunk bytes at a time.

use crate::select::Bbox;
use crate::sink::{Block, Collect, Sink};
use crate::{QueryError, fetch, plan};
use hod_core::Attrs;
use hod_index::{DatasetMeta, Objects};
use hod_store::Store;

/// What to read: variables, an inclusive time range (seconds since 1970) and a bbox.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// Variables by short name, long name or CF standard name.
    pub vars: Vec<String>,
    /// First time to keep (inclusive).
    pub start: Option<f64>,
    /// Last time to keep (inclusive).
    pub end: Option<f64>,
    /// Area to keep, in the dataset's CRS.
    pub bbox: Option<Bbox>,
    /// Area to keep: the cells whose centre is inside (others are NaN), within its bounds.
    pub polygon: Option<crate::polygon::Area>,
    /// Read accumulated variables as increments over each step ([`crate::deaccumulate`]).
    pub deaccumulate: bool,
    /// The accumulation convention where the metadata do not say it.
    pub accumulation: Option<crate::deaccumulate::Convention>,
}

/// The values of one variable over a selection, CF-decoded (packing applied per source file,
/// fill and missing values → NaN).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DataCube {
    /// Variable name.
    pub name: String,
    /// Dimension names.
    pub dims: Vec<String>,
    /// Selected size along each dimension.
    pub shape: Vec<usize>,
    /// Coordinate values along each dimension (times in seconds since 1970; index positions for
    /// dimensions without a coordinate).
    pub coords: Vec<Vec<f64>>,
    /// Per dimension, whether its coordinate is a CF time (then `coords` holds seconds since 1970);
    /// writers use it to label the axis. Missing entries count as `false`.
    pub time_dims: Vec<bool>,
    /// Values, C order.
    pub values: Vec<f64>,
    /// The variable's attributes.
    pub attrs: Attrs,
}

/// Per-variable statistics of a selection.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Stats {
    /// Selected shape.
    pub shape: Vec<usize>,
    /// Number of valid (non-NaN) values.
    pub count: usize,
    /// Mean of the valid values.
    pub mean: Option<f64>,
    /// Minimum.
    pub min: Option<f64>,
    /// Maximum.
    pub max: Option<f64>,
}

impl DataCube {
    /// Count, mean, min and max of the valid values.
    pub fn stats(&self) -> Stats {
        let valid = self.values.iter().filter(|v| !v.is_nan());
        let (count, sum, min, max) = valid.fold(
            (0usize, 0.0f64, f64::INFINITY, f64::NEG_INFINITY),
            |(n, s, lo, hi), &v| (n + 1, s + v, lo.min(v), hi.max(v)),
        );
        let some = |x: f64| (count > 0).then_some(x);
        Stats {
            shape: self.shape.clone(),
            count,
            mean: some(sum / count as f64),
            min: some(min),
            max: some(max),
        }
    }
}

/// Reads a selection of a dataset into memory.
///
/// # Errors
/// Unknown variables, a bbox or time range that selects nothing, or read/decode failures
/// (naming the source object and byte range).
pub async fn read(store: &Store, meta: &DatasetMeta, req: &Request) -> Result<Vec<DataCube>, QueryError> {
    let mut all = Collect::new();
    read_to(store, meta, req, usize::MAX, &mut all).await?;
    Ok(all.into_cubes())
}

/// Reads a selection of a dataset into `sink`, block by block along the first dimension: each
/// block's values plus the chunk bytes read for it stay within `budget` bytes (a block holds at
/// least one row, or one [`Sink::granule`], whatever the budget). A result within the budget is
/// one block per variable.
///
/// The sink gets the layout, then the blocks in the order [`crate::sink`] describes, then
/// `finish`; after an error it gets nothing more (and, dropped, leaves no output).
///
/// # Errors
/// As [`read`], and the sink's errors.
pub async fn read_to(
    store: &Store,
    meta: &DatasetMeta,
    req: &Request,
    budget: usize,
    sink: &mut dyn Sink,
) -> Result<(), QueryError> {
    if req.deaccumulate {
        return crate::deaccumulate::read_to(store, meta, req, budget, sink).await;
    }
    read_plain(store, meta, req, budget, sink).await
}

/// [`read_to`] without de-accumulation.
pub(crate) async fn read_plain(
    store: &Store,
    meta: &DatasetMeta,
    req: &Request,
    budget: usize,
    sink: &mut dyn Sink,
) -> Result<(), QueryError> {
    let plans = plan::plan(store, meta, req).await?;
    let layout: Vec<DataCube> = plans.iter().map(|p| p.layout.clone()).collect();
    sink.begin(&layout)?;
    // Variables sharing their first dimension are read round by round (CSV rows need them all).
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (i, c) in layout.iter().enumerate() {
        let key = |c: &DataCube| (c.dims.first().cloned(), c.shape.first().copied());
        match groups.iter_mut().find(|g| {
            g.first()
                .is_some_and(|&j| !c.dims.is_empty() && key(&layout[j]) == key(c))
        }) {
            Some(g) => g.push(i),
            None => groups.push(vec![i]),
        }
    }
    let objects = Objects::new(store);
    // Each block is read while the sink takes the one before; buffers the sink hands back are
    // filled again.
    let mut spare: Vec<Vec<f64>> = Vec::new();
    let mut pending: Option<Block> = None;
    for group in groups {
        let members: Vec<&plan::VarPlan> = group.iter().map(|&i| &plans[i]).collect();
        let granule = group.iter().map(|&i| sink.granule(i)).fold(1, lcm);
        for rows in plan::split_rows(&members, budget, granule) {
            for (&var, p) in group.iter().zip(&members) {
                let reuse = spare.pop().unwrap_or_default();
                let reading = fetch::read_rows(&objects, p, rows.clone(), reuse);
                let taking = async {
                    if let Some(block) = pending.take() {
                        sink.block(block)?;
                        spare.extend(sink.reclaim());
                    }
                    Ok::<_, QueryError>(())
                };
                let (values, taken) = futures::join!(reading, taking);
                taken?;
                pending = Some(Block {
                    var,
                    rows: rows.clone(),
                    values: values?,
                });
            }
        }
    }
    if let Some(block) = pending {
        sink.block(block)?;
    }
    sink.finish()
}

fn lcm(a: usize, b: usize) -> usize {
    let gcd = |mut x: usize, mut y: usize| {
        while y != 0 {
            (x, y) = (y, x % y);
        }
        x
    };
    match (a, b) {
        (0, n) | (n, 0) => n,
        _ => a / gcd(a, b) * b,
    }
}
