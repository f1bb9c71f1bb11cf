//! Regular north-up grids: where each cell is, and the values on them.

/// Placement of a regular, north-up grid: `rows × cols` cells of `dx × dy` starting at the
/// north-west corner (`x0`, `y0`); row 0 is the northernmost row.
#[derive(Debug, Clone, PartialEq)]
pub struct GridGeometry {
    /// Number of columns.
    pub cols: usize,
    /// Number of rows.
    pub rows: usize,
    /// x of the west edge of column 0.
    pub x0: f64,
    /// y of the north edge of row 0.
    pub y0: f64,
    /// Cell width (positive).
    pub dx: f64,
    /// Cell height (positive; rows go south).
    pub dy: f64,
    /// Coordinate reference system as given by the source (e.g. `EPSG:4326`), if known.
    pub crs: Option<String>,
}

impl GridGeometry {
    /// Number of cells.
    pub fn len(&self) -> usize {
        self.rows * self.cols
    }

    /// Whether the grid has no cells.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Centre of cell (`row`, `col`).
    pub fn cell_center(&self, row: usize, col: usize) -> (f64, f64) {
        (
            self.x0 + (col as f64 + 0.5) * self.dx,
            self.y0 - (row as f64 + 0.5) * self.dy,
        )
    }

    /// The cell containing (`x`, `y`), if inside the grid. A point on a shared edge belongs to
    /// the cell east / south of it.
    pub fn cell_of(&self, x: f64, y: f64) -> Option<(usize, usize)> {
        let c = ((x - self.x0) / self.dx).floor();
        let r = ((self.y0 - y) / self.dy).floor();
        (c >= 0.0 && r >= 0.0 && (c as usize) < self.cols && (r as usize) < self.rows)
            .then_some((r as usize, c as usize))
    }

    /// Whether coordinates are longitude/latitude degrees: only an explicit geographic CRS
    /// (EPSG:4326, CRS84, a `+proj=longlat` string) counts, never a guess from the numbers.
    pub fn is_geographic(&self) -> bool {
        self.crs.as_deref().is_some_and(|c| {
            let c = c.to_ascii_uppercase();
            c == "EPSG:4326" || c.ends_with("CRS84") || c.contains("+PROJ=LONGLAT")
        })
    }

    /// Whether `other` places its cells at the same positions (same size, origin and cell size,
    /// up to a relative tolerance of 1e-9 of the cell size).
    pub fn same_cells(&self, other: &GridGeometry) -> bool {
        let close = |a: f64, b: f64, unit: f64| (a - b).abs() <= 1e-9 * unit.abs().max(f64::MIN_POSITIVE);
        self.cols == other.cols
            && self.rows == other.rows
            && close(self.dx, other.dx, self.dx)
            && close(self.dy, other.dy, self.dy)
            && close(self.x0, other.x0, self.dx)
            && close(self.y0, other.y0, self.dy)
    }
}

/// Values on a grid, row-major from the north-west corner.
#[derive(Debug, Clone, PartialEq)]
pub struct Raster<T> {
    /// Where the cells are.
    pub geom: GridGeometry,
    /// `geom.rows * geom.cols` values, row 0 first.
    pub data: Vec<T>,
    /// The value that marks a cell without data, as stored in the source.
    pub nodata: Option<f64>,
}

impl<T: Copy> Raster<T> {
    /// A raster of `geom` filled with `value`.
    pub fn filled(geom: GridGeometry, value: T) -> Raster<T> {
        Raster {
            data: vec![value; geom.len()],
            geom,
            nodata: None,
        }
    }

    /// Value at (`row`, `col`), or `None` outside the grid.
    pub fn get(&self, row: usize, col: usize) -> Option<T> {
        if row < self.geom.rows && col < self.geom.cols {
            self.data.get(row * self.geom.cols + col).copied()
        } else {
            None
        }
    }
}

impl Raster<f64> {
    /// Value at (`row`, `col`); NaN outside the grid (nodata is already NaN in rasters read by
    /// this crate).
    pub fn value(&self, row: usize, col: usize) -> f64 {
        self.get(row, col).unwrap_or(f64::NAN)
    }
}

#[cfg(test)]
impl<T> Raster<T> {
    /// A test raster of `rows × cols` unit cells with its south-west corner at the origin.
    pub(crate) fn unit(rows: usize, cols: usize, data: Vec<T>) -> Raster<T> {
        Raster {
            geom: GridGeometry {
                cols,
                rows,
                x0: 0.0,
                y0: rows as f64,
                dx: 1.0,
                dy: 1.0,
                crs: None,
            },
            data,
            nodata: None,
        }
    }
}
