//! Kriging in a moving neighbourhood: each prediction uses only its `k` nearest data points
//! (found with an R-tree), as PyKrige's `execute(..., n_closest_points=k)` does with a k-d tree.
//! The cost per point is O(k³) instead of O(n²), so it scales to many thousands of points.

use super::drift::Drift;
use super::solver::{Anisotropy, EPS, Prediction, Problem, dist};
use super::variogram::Variogram;
use crate::GisError;
use rayon::prelude::*;
use rstar::RTree;
use rstar::primitives::GeomWithData;

type Site = GeomWithData<[f64; 2], usize>;

/// A kriging problem solved locally around each prediction point from its `k` nearest data.
#[derive(Debug, Clone)]
pub struct MovingKriging {
    p: Problem,
    tree: RTree<Site>,
    k: usize,
}

/// Scratch space of one local solve.
#[derive(Default)]
pub(crate) struct Local {
    idx: Vec<usize>,
    a: Vec<f64>,
    b: Vec<f64>,
    x: Vec<f64>,
    drift: Vec<f64>,
}

impl MovingKriging {
    /// Sets up kriging from the `k` nearest data points (at least 2, and at least the number of
    /// drift terms + 1; all points when `k ≥ n`).
    ///
    /// # Errors
    /// As [`super::Kriging::new`], and [`GisError::Invalid`] for a `k` below that minimum.
    pub fn new(
        x: &[f64],
        y: &[f64],
        z: &[f64],
        variogram: Variogram,
        drift: &Drift,
        anisotropy: Anisotropy,
        k: usize,
    ) -> Result<MovingKriging, GisError> {
        let p = Problem::new(x, y, z, variogram, drift, anisotropy)?;
        let need = (p.basis.n_terms() + 1).max(2);
        if k < need {
            return Err(GisError::Invalid(format!(
                "kriging neighbourhood of {k} points is too small; need at least {need}"
            )));
        }
        let sites = (0..p.len()).map(|i| Site::new([p.ax[i], p.ay[i]], i)).collect();
        Ok(MovingKriging {
            tree: RTree::bulk_load(sites),
            k: k.min(p.len()),
            p,
        })
    }

    /// Predicts at the points (`x[k]`, `y[k]`).
    ///
    /// # Errors
    /// [`GisError::Invalid`] for mismatched lengths, a point outside the external drift, or a
    /// singular local system.
    pub fn predict_points(&self, x: &[f64], y: &[f64]) -> Result<Prediction, GisError> {
        if x.len() != y.len() {
            return Err(GisError::Invalid(format!(
                "kriging: {} x but {} y prediction coordinates",
                x.len(),
                y.len()
            )));
        }
        self.predict_with(x.len(), |i| (x[i], y[i]))
    }

    /// Predicts on the grid of all (`gx[i]`, `gy[j]`), row `j` at `gy[j]` (as
    /// [`super::Kriging::predict_grid`]).
    ///
    /// # Errors
    /// As [`MovingKriging::predict_points`].
    pub fn predict_grid(&self, gx: &[f64], gy: &[f64]) -> Result<Prediction, GisError> {
        let nx = gx.len().max(1);
        self.predict_with(gx.len() * gy.len(), |i| (gx[i % nx], gy[i / nx]))
    }

    fn predict_with(
        &self,
        npt: usize,
        at: impl Fn(usize) -> (f64, f64) + Sync,
    ) -> Result<Prediction, GisError> {
        let out: Vec<(f64, f64)> = (0..npt)
            .into_par_iter()
            .map_init(Local::default, |s, i| {
                let (ox, oy) = at(i);
                self.predict_one(ox, oy, s)
            })
            .collect::<Result<_, _>>()?;
        let (z, variance) = out.into_iter().unzip();
        Ok(Prediction { z, variance })
    }

    /// Leave-one-out prediction at data point `i` from its `k` nearest other data points.
    pub(crate) fn predict_without(&self, i: usize, s: &mut Local) -> Result<(f64, f64), GisError> {
        let (ax, ay) = (self.p.ax[i], self.p.ay[i]);
        // The adjusted coordinates are those of the datum; predict there directly.
        self.solve_local(ax, ay, None, Some(i), s)
    }

    /// Number of data points.
    pub fn len(&self) -> usize {
        self.p.len()
    }

    /// Value of datum `i`.
    pub(crate) fn datum(&self, i: usize) -> f64 {
        self.p.z.get(i).copied().unwrap_or(f64::NAN)
    }

    /// Whether there are no data points (never true for a built problem).
    pub fn is_empty(&self) -> bool {
        self.p.len() == 0
    }

    pub(crate) fn scratch() -> Local {
        Local::default()
    }

    fn predict_one(&self, ox: f64, oy: f64, s: &mut Local) -> Result<(f64, f64), GisError> {
        let (px, py) = self.p.frame.adjust(ox, oy);
        self.solve_local(px, py, Some((ox, oy)), None, s)
    }

    /// Solves PyKrige's system `[[−Γ, F], [Fᵀ, 0]] x = [−γ₀; f₀]` over the neighbours of
    /// (`px`, `py`) (adjusted coordinates; `orig` = original coordinates for the external
    /// drift, or `None` to take the drift of the excluded datum).
    fn solve_local(
        &self,
        px: f64,
        py: f64,
        orig: Option<(f64, f64)>,
        exclude: Option<usize>,
        s: &mut Local,
    ) -> Result<(f64, f64), GisError> {
        let p = &self.p;
        let np = p.basis.n_terms();
        s.idx.clear();
        s.idx.extend(
            self.tree
                .nearest_neighbor_iter(&[px, py])
                .map(|g| g.data)
                .filter(|&j| Some(j) != exclude)
                .take(self.k),
        );
        let n = s.idx.len();
        let m = n + np;
        s.a.clear();
        s.a.resize(m * m, 0.0);
        s.b.clear();
        s.b.resize(m, 0.0);
        for (r, &i) in s.idx.iter().enumerate() {
            for (c, &j) in s.idx.iter().enumerate().skip(r + 1) {
                let g = -p.gamma_ij(i, j);
                s.a[r * m + c] = g;
                s.a[c * m + r] = g;
            }
            for t in 0..np {
                let f = p.f[(i, t)];
                s.a[r * m + n + t] = f;
                s.a[(n + t) * m + r] = f;
            }
            let h = dist(px - p.ax[i], py - p.ay[i]);
            s.b[r] = if h.abs() <= EPS {
                0.0
            } else {
                -p.variogram.gamma(h)
            };
        }
        s.drift.clear();
        s.drift.resize(np, 0.0);
        match (orig, exclude) {
            (Some((ox, oy)), _) => p.basis.eval(px, py, ox, oy, &mut s.drift)?,
            (None, Some(i)) => {
                for (t, d) in s.drift.iter_mut().enumerate() {
                    *d = p.f[(i, t)];
                }
            }
            (None, None) => return Err(GisError::Invalid("kriging point without coordinates".into())),
        }
        s.b[n..].copy_from_slice(&s.drift);
        s.x.clear();
        s.x.extend_from_slice(&s.b);
        solve_dense(&mut s.a, &mut s.x, m).ok_or_else(|| {
            GisError::Invalid(format!(
                "local kriging system at ({px}, {py}) is singular (duplicate data points?)"
            ))
        })?;
        let z = s.idx.iter().zip(&s.x).map(|(&i, w)| w * p.z[i]).sum();
        let var = -s.x.iter().zip(&s.b).map(|(w, b)| w * b).sum::<f64>();
        Ok((z, var))
    }
}

/// Solves `a x = b` in place (`a` row-major `m × m`) by Gaussian elimination with partial
/// pivoting; `None` when `a` is singular.
fn solve_dense(a: &mut [f64], b: &mut [f64], m: usize) -> Option<()> {
    for col in 0..m {
        let piv = (col..m).max_by(|&i, &j| a[i * m + col].abs().total_cmp(&a[j * m + col].abs()))?;
        if a[piv * m + col] == 0.0 || !a[piv * m + col].is_finite() {
            return None;
        }
        if piv != col {
            for c in 0..m {
                a.swap(piv * m + c, col * m + c);
            }
            b.swap(piv, col);
        }
        let d = a[col * m + col];
        for r in col + 1..m {
            let f = a[r * m + col] / d;
            if f != 0.0 {
                for c in col..m {
                    a[r * m + c] -= f * a[col * m + c];
                }
                b[r] -= f * b[col];
            }
        }
    }
    for r in (0..m).rev() {
        let s: f64 = (r + 1..m).map(|c| a[r * m + c] * b[c]).sum();
        b[r] = (b[r] - s) / a[r * m + r];
    }
    Some(())
}
