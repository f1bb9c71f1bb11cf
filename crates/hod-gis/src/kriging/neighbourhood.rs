//! Kriging in a moving neighbourhood: each prediction uses only its `k` nearest data points
//! (found with an R-tree), as PyKrige's `execute(..., n_closest_points=k)` does with a k-d tree.
//! The cost per point is O(k³) instead of O(n²), so it scales to many thousands of points; a
//! run of points with the same neighbours (adjacent grid cells) reuses one factorisation at
//! O(k²) per point.

use super::drift::Drift;
use super::solver::{Anisotropy, Gram, Predict, Prediction, Problem, System, in_blocks};
use super::variogram::Variogram;
use crate::GisError;
use rstar::RTree;
use rstar::primitives::GeomWithData;

type Site = GeomWithData<[f64; 2], usize>;

/// Points handed to one rayon task: consecutive grid cells, so that the task's cached system
/// is often the one the next cell needs.
const RUN: usize = 512;

/// A kriging problem solved locally around each prediction point from its `k` nearest data.
#[derive(Debug, Clone)]
pub struct MovingKriging {
    p: Problem,
    tree: RTree<Site>,
    k: usize,
}

/// The neighbours of the last point, their semivariances and factorised system (one per
/// rayon task).
#[derive(Default)]
pub(crate) struct Local {
    near: Vec<usize>,
    gram: Option<Gram>,
    system: Option<System>,
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

    /// Leave-one-out prediction at data point `i` from its `k` nearest other data points.
    pub(crate) fn predict_without(&self, i: usize, s: &mut Local) -> Result<(f64, f64), GisError> {
        let (ox, oy) = (self.p.ox[i], self.p.oy[i]);
        self.predict_one(ox, oy, Some(i), s)
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

    /// Predicts at (`ox`, `oy`) from its `k` nearest data other than `exclude`, refactorising
    /// only when that set differs from the last point's.
    fn predict_one(
        &self,
        ox: f64,
        oy: f64,
        exclude: Option<usize>,
        s: &mut Local,
    ) -> Result<(f64, f64), GisError> {
        let (px, py) = self.p.frame.adjust(ox, oy);
        s.near.clear();
        s.near.extend(
            self.tree
                .nearest_neighbor_iter(&[px, py])
                .map(|g| g.data)
                .filter(|&j| Some(j) != exclude)
                .take(self.k),
        );
        s.near.sort_unstable();
        let system = match s.system.take() {
            Some(sys) if sys.idx == s.near => sys,
            _ => {
                let gram = self.p.gram(s.near.clone(), s.gram.as_ref());
                let sys = self.p.system(gram.clone());
                s.gram = Some(gram);
                sys.map_err(|e| GisError::Invalid(format!("local kriging system at ({ox}, {oy}): {e}")))?
            }
        };
        let (mut z, mut v) = ([0.0], [0.0]);
        let out = system.predict(&self.p, &[(ox, oy)], &mut z, &mut v);
        s.system = Some(system);
        out.map(|()| (z[0], v[0]))
    }
}

impl Predict for MovingKriging {
    fn predict_at(
        &self,
        npt: usize,
        at: &(dyn Fn(usize) -> (f64, f64) + Sync),
    ) -> Result<Prediction, GisError> {
        in_blocks(npt, RUN, at, |pts, zc, vc| {
            let mut s = Local::default();
            for ((&(ox, oy), zo), vo) in pts.iter().zip(zc).zip(vc) {
                (*zo, *vo) = self.predict_one(ox, oy, None, &mut s)?;
            }
            Ok(())
        })
    }
}
