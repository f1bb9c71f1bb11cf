//! Exact zonal statistics: the fraction of each grid cell a polygon covers, cell areas on the
//! sphere or ellipsoid, and polygon-weighted means of gridded values (basin averages).
//!
//! Coverage fractions are exact (up to rounding): each ring is walked through the cells it
//! crosses and the covered area of each cell is integrated, as exactextract does (D. Baston,
//! "exactextract", ISciences 2019–2024, <https://github.com/isciences/exactextract>). The cost is
//! O(cells the boundary crosses + cells of the polygon's bounding window), not O(cells ×
//! vertices).

mod area;
mod coverage;
mod mean;

pub use area::{AreaModel, EXACTEXTRACT_RADIUS, row_areas};
pub use coverage::{Coverage, coverage};
pub use mean::{Precision, WEIGHTS_REVISION, Weighting, Weights, grid_from_centers, weighted_mean, weights};
