//! Where a streamed read goes: the reader hands a [`Sink`] the layout of every output variable,
//! then [`Block`]s of rows in order, then says it is finished.
//!
//! Order: variables sharing their first dimension (name and length) are read together, round by
//! round: each round covers the same rows of each of them, one block per variable in request
//! order. Groups of variables follow each other. Within a variable, blocks come in row order,
//! without gaps, and together cover every row.

use crate::{DataCube, QueryError, Stats};
use std::ops::Range;

/// Some consecutive rows (positions along the first dimension) of one output variable.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    /// Which variable: its position in the layout (the request's order).
    pub var: usize,
    /// The output rows it covers (`0..1` for a 0-d variable).
    pub rows: Range<usize>,
    /// Values, C order, shape `[rows.len(), rest of the variable's shape...]`.
    pub values: Vec<f64>,
}

/// A consumer of a streamed read: a file writer, statistics, or the in-memory [`DataCube`]s.
pub trait Sink {
    /// Called once, first, with every output variable's dims, shape, coordinates and attributes
    /// (their `values` are empty).
    ///
    /// # Errors
    /// When the sink cannot take this output (it is then not called again).
    fn begin(&mut self, layout: &[DataCube]) -> Result<(), QueryError>;

    /// How many rows a block of variable `var` must hold (except its last block), so that blocks
    /// map onto whole output chunks. Asked after [`Sink::begin`].
    fn granule(&self, var: usize) -> usize {
        let _ = var;
        1
    }

    /// Takes the next block.
    ///
    /// # Errors
    /// When it cannot be written.
    fn block(&mut self, block: Block) -> Result<(), QueryError>;

    /// A block's values the sink is done with, for the reader to fill again: reused pages cost
    /// nothing, while each fresh page costs a kernel page fault (several µs on a VM).
    fn reclaim(&mut self) -> Option<Vec<f64>> {
        None
    }

    /// Called once after the last block: complete the output.
    ///
    /// # Errors
    /// When the output cannot be completed; a sink that fails, or is dropped before finishing,
    /// leaves no output behind.
    fn finish(&mut self) -> Result<(), QueryError>;
}

/// Collects blocks into whole [`DataCube`]s.
#[derive(Debug, Default)]
pub struct Collect {
    cubes: Vec<DataCube>,
    limit: Option<usize>,
}

impl Collect {
    /// Collects everything.
    pub fn new() -> Collect {
        Collect::default()
    }

    /// Refuses (in [`Sink::begin`]) outputs whose values take more than `bytes`.
    pub fn with_limit(bytes: usize) -> Collect {
        Collect {
            cubes: Vec::new(),
            limit: Some(bytes),
        }
    }

    /// The cubes collected.
    pub fn into_cubes(self) -> Vec<DataCube> {
        self.cubes
    }
}

/// Bytes of the values of every variable of a layout.
pub fn values_bytes(layout: &[DataCube]) -> usize {
    layout
        .iter()
        .map(|c| c.shape.iter().product::<usize>().saturating_mul(8))
        .fold(0, usize::saturating_add)
}

impl Sink for Collect {
    fn begin(&mut self, layout: &[DataCube]) -> Result<(), QueryError> {
        let need = values_bytes(layout);
        if let Some(limit) = self.limit
            && need > limit
        {
            return Err(QueryError::TooLarge { need, limit });
        }
        self.cubes = layout.to_vec();
        Ok(())
    }

    fn block(&mut self, block: Block) -> Result<(), QueryError> {
        let cube = self
            .cubes
            .get_mut(block.var)
            .ok_or_else(|| QueryError::Invalid(format!("block of unknown variable {}", block.var)))?;
        if cube.values.is_empty() {
            // The first block (the only one of an in-memory read) is kept as it is.
            cube.values = block.values;
        } else {
            cube.values.extend_from_slice(&block.values);
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), QueryError> {
        Ok(())
    }
}

/// Running count, sum, min and max of the valid values, per variable.
#[derive(Debug, Clone, Default)]
pub struct StatsSink {
    /// Per variable: name, dims, and the running figures.
    vars: Vec<(String, Vec<String>, Running)>,
    /// The last block's values, for [`Sink::reclaim`].
    spare: Option<Vec<f64>>,
}

#[derive(Debug, Clone)]
struct Running {
    shape: Vec<usize>,
    count: usize,
    sum: f64,
    min: f64,
    max: f64,
}

impl Running {
    fn new(shape: Vec<usize>) -> Running {
        Running {
            shape,
            count: 0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }

    /// Adds values in order, so the sum is the same as over the whole array at once.
    fn add(&mut self, values: &[f64]) {
        for &v in values.iter().filter(|v| !v.is_nan()) {
            self.count += 1;
            self.sum += v;
            self.min = self.min.min(v);
            self.max = self.max.max(v);
        }
    }

    fn stats(&self) -> Stats {
        let some = |x: f64| (self.count > 0).then_some(x);
        Stats {
            shape: self.shape.clone(),
            count: self.count,
            mean: some(self.sum / self.count as f64),
            min: some(self.min),
            max: some(self.max),
        }
    }
}

impl StatsSink {
    /// No variables yet.
    pub fn new() -> StatsSink {
        StatsSink::default()
    }

    /// Per variable: its name, dims and statistics.
    pub fn stats(&self) -> Vec<(String, Vec<String>, Stats)> {
        self.vars
            .iter()
            .map(|(n, d, r)| (n.clone(), d.clone(), r.stats()))
            .collect()
    }

    /// Adds a block's values to its variable's figures.
    fn observe(&mut self, block: &Block) {
        if let Some((_, _, r)) = self.vars.get_mut(block.var) {
            r.add(&block.values);
        }
    }
}

impl Sink for StatsSink {
    fn begin(&mut self, layout: &[DataCube]) -> Result<(), QueryError> {
        self.vars = layout
            .iter()
            .map(|c| (c.name.clone(), c.dims.clone(), Running::new(c.shape.clone())))
            .collect();
        Ok(())
    }

    fn block(&mut self, block: Block) -> Result<(), QueryError> {
        self.observe(&block);
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

/// Statistics of everything that goes through to another sink.
pub struct Tee<'a> {
    /// The statistics gathered.
    pub stats: StatsSink,
    inner: &'a mut dyn Sink,
}

impl<'a> Tee<'a> {
    /// Passes everything on to `inner`, gathering statistics on the way.
    pub fn new(inner: &'a mut dyn Sink) -> Tee<'a> {
        Tee {
            stats: StatsSink::new(),
            inner,
        }
    }
}

impl Sink for Tee<'_> {
    fn begin(&mut self, layout: &[DataCube]) -> Result<(), QueryError> {
        self.stats.begin(layout)?;
        self.inner.begin(layout)
    }

    fn granule(&self, var: usize) -> usize {
        self.inner.granule(var)
    }

    fn block(&mut self, block: Block) -> Result<(), QueryError> {
        self.stats.observe(&block);
        self.inner.block(block)
    }

    fn reclaim(&mut self) -> Option<Vec<f64>> {
        self.inner.reclaim()
    }

    fn finish(&mut self) -> Result<(), QueryError> {
        self.inner.finish()
    }
}
