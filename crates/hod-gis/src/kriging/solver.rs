//! Exact (global) kriging: one system over all data, factorised once, solved for every
//! prediction point in parallel.
//!
//! PyKrige's `execute(..., backend="vectorized")` inverts the full kriging matrix
//! `[[−Γ, F], [Fᵀ, 0]]` and multiplies it with one right-hand side per point. For models with a
//! sill we solve the same system in covariance form instead (`C = sill − Γ`, Cholesky, then a
//! Schur complement for the drift; Cressie, *Statistics for Spatial Data*, 1993, §3.4.5), which
//! gives the same weights and variances with half the work per point: estimates from dual
//! weights (O(n) per point), variances from one triangular solve per block of points (a
//! matrix-matrix solve, BLAS-3). Linear and power models, and any matrix that is not positive
//! definite, solve PyKrige's matrix by LU. The same `System` serves the moving neighbourhood,
//! built over a point's neighbours.

use super::batched::{Batched, NR};
use super::drift::{Drift, ExternalDrift};
use super::variogram::{Model, Variogram};
use crate::GisError;
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::cholesky::llt::factor::{cholesky_in_place, cholesky_in_place_scratch};
use faer::linalg::matmul::matmul;
use faer::linalg::solvers::{DenseSolveCore, PartialPivLu, Solve};
use faer::linalg::triangular_solve::{solve_lower_triangular_in_place, solve_upper_triangular_in_place};
use faer::{Accum, ColRef, Mat, MatRef, Par};
use rayon::prelude::*;
use std::sync::{Mutex, OnceLock, PoisonError};

/// PyKrige's `eps`: a prediction point this close to a datum gets γ = 0 there, so the
/// estimate honours the datum exactly even with a nugget (PyKrige's `exact_values=True`).
pub(crate) const EPS: f64 = 1e-10;

/// Euclidean length as scipy's `cdist` computes it (`hypot` is exact to the last bit but several
/// times slower, and this is the innermost loop).
#[inline]
pub(crate) fn dist(dx: f64, dy: f64) -> f64 {
    (dx * dx + dy * dy).sqrt()
}

/// Points per block of right-hand sides: at most (an n × 1024 block is 8 MB for n = 1000) and
/// at least.
const MAX_BLOCK: usize = 1024;
const MIN_BLOCK: usize = 64;

/// Geometric anisotropy as PyKrige applies it: coordinates are rotated by `-angle` (degrees,
/// counter-clockwise) about the centre of the data's bounding box, and y is then multiplied by
/// `scaling`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Anisotropy {
    /// Ratio of the major to the minor range (PyKrige's `anisotropy_scaling`).
    pub scaling: f64,
    /// Angle of the major axis, degrees counter-clockwise from x (`anisotropy_angle`).
    pub angle: f64,
}

impl Default for Anisotropy {
    fn default() -> Anisotropy {
        Anisotropy {
            scaling: 1.0,
            angle: 0.0,
        }
    }
}

/// PyKrige's `_adjust_for_anisotropy`, with the same order of operations.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Frame {
    cx: f64,
    cy: f64,
    cos: f64,
    sin: f64,
    scaling: f64,
}

impl Frame {
    pub(crate) fn new(x: &[f64], y: &[f64], a: Anisotropy) -> Frame {
        let mid = |v: &[f64]| {
            let (lo, hi) = v.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &t| {
                (l.min(t), h.max(t))
            });
            (hi + lo) / 2.0
        };
        let rad = -a.angle * std::f64::consts::PI / 180.0;
        Frame {
            cx: mid(x),
            cy: mid(y),
            cos: rad.cos(),
            sin: rad.sin(),
            scaling: a.scaling,
        }
    }

    #[inline]
    pub(crate) fn adjust(&self, x: f64, y: f64) -> (f64, f64) {
        let (dx, dy) = (x - self.cx, y - self.cy);
        let u = self.cos * dx + (-self.sin) * dy;
        let v = self.sin * dx + self.cos * dy;
        (u + self.cx, self.scaling * v + self.cy)
    }
}

/// Kriging estimates and their variances at a set of points.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// Estimates.
    pub z: Vec<f64>,
    /// Kriging variances σ² (PyKrige's `ss`).
    pub variance: Vec<f64>,
}

/// The drift functions of one kriging problem, evaluated at data and prediction points.
/// Columns other than the constant are centred and scaled on the data (this spans the same
/// space, so the kriging solution is unchanged, but keeps the system well conditioned with
/// projected coordinates in the millions).
#[derive(Debug, Clone)]
pub(crate) struct DriftBasis {
    linear: bool,
    external: Option<ExternalDrift>,
    /// (centre, scale) per non-constant column.
    norm: Vec<(f64, f64)>,
}

impl DriftBasis {
    fn new(drift: &Drift, ax: &[f64], ay: &[f64], ox: &[f64], oy: &[f64]) -> Result<DriftBasis, GisError> {
        let mut basis = DriftBasis {
            linear: matches!(drift, Drift::RegionalLinear),
            external: match drift {
                Drift::External(e) => Some(e.clone()),
                _ => None,
            },
            norm: Vec::new(),
        };
        let k = basis.n_terms() - 1;
        let mut raw = vec![Vec::with_capacity(ax.len()); k];
        for i in 0..ax.len() {
            let row = basis.raw(ax[i], ay[i], ox[i], oy[i])?;
            for (col, v) in raw.iter_mut().zip(row) {
                if !v.is_finite() {
                    return Err(GisError::Invalid(format!(
                        "external drift raster has no data at data point {i} ({}, {})",
                        ox[i], oy[i]
                    )));
                }
                col.push(v);
            }
        }
        basis.norm = raw
            .iter()
            .map(|col| {
                let m = col.iter().sum::<f64>() / col.len().max(1) as f64;
                let s = col.iter().fold(0.0f64, |a, v| a.max((v - m).abs()));
                (m, if s > 0.0 { s } else { 1.0 })
            })
            .collect();
        Ok(basis)
    }

    /// Number of drift functions including the constant.
    pub(crate) fn n_terms(&self) -> usize {
        1 + 2 * usize::from(self.linear) + usize::from(self.external.is_some())
    }

    /// Non-constant drift values, unnormalised, in PyKrige's order: x, y (adjusted
    /// coordinates), external (original coordinates); the first `n_terms() − 1` entries count
    /// (an array, not a `Vec`: this runs once per prediction point).
    fn raw(&self, ax: f64, ay: f64, ox: f64, oy: f64) -> Result<[f64; 3], GisError> {
        let mut v = [0.0; 3];
        let mut k = 0;
        if self.linear {
            v[..2].copy_from_slice(&[ax, ay]);
            k = 2;
        }
        if let Some(e) = &self.external {
            v[k] = e.sample(ox, oy)?;
        }
        Ok(v)
    }

    /// All drift values (normalised, constant last) into `out`.
    pub(crate) fn eval(&self, ax: f64, ay: f64, ox: f64, oy: f64, out: &mut [f64]) -> Result<(), GisError> {
        let raw = self.raw(ax, ay, ox, oy)?;
        for ((o, v), (m, s)) in out.iter_mut().zip(raw).zip(&self.norm) {
            *o = (v - m) / s;
        }
        if let Some(last) = out.last_mut() {
            *last = 1.0;
        }
        Ok(())
    }
}

/// A factorised kriging system over some of the data: all of them for [`Kriging`], the
/// neighbours of a prediction point for [`super::MovingKriging`].
#[derive(Debug, Clone)]
pub(crate) struct System {
    /// Indices of the data in the system, ascending.
    pub(crate) idx: Vec<usize>,
    /// Their adjusted coordinates.
    pub(crate) x: Vec<f64>,
    pub(crate) y: Vec<f64>,
    pub(crate) solver: Solver,
}

/// The semivariances between some data: the lower triangle of `g[(a, b)] = γ(|x_idx[a] −
/// x_idx[b]|)`, 0 on the diagonal.
#[derive(Debug, Clone)]
pub(crate) struct Gram {
    /// Indices of the data, ascending.
    pub(crate) idx: Vec<usize>,
    g: Mat<f64>,
}

/// How a system is factorised.
#[derive(Debug, Clone)]
pub(crate) enum Solver {
    /// `C = c − Γ` (diagonal `c`) = `L Lᵀ`; `u = L⁻¹F`; `s_inv = (uᵀu)⁻¹`; dual weights
    /// `alpha`, `beta` with `[C F; Fᵀ 0] [α; β] = [z; 0]`.
    Covariance {
        c: f64,
        l: Mat<f64>,
        u: Mat<f64>,
        s_inv: Mat<f64>,
        alpha: Vec<f64>,
        beta: Vec<f64>,
    },
    /// LU of PyKrige's matrix `A = [[−Γ, F], [Fᵀ, 0]]`, and `dual = A⁻¹ [z; 0]`.
    Lu { lu: PartialPivLu<f64>, dual: Vec<f64> },
}

/// Data, variogram and drift of one kriging problem, before any system is solved.
#[derive(Debug, Clone)]
pub(crate) struct Problem {
    pub(crate) variogram: Variogram,
    pub(crate) frame: Frame,
    /// Data coordinates as given.
    pub(crate) ox: Vec<f64>,
    pub(crate) oy: Vec<f64>,
    /// Data coordinates, anisotropy-adjusted.
    pub(crate) ax: Vec<f64>,
    pub(crate) ay: Vec<f64>,
    pub(crate) z: Vec<f64>,
    pub(crate) basis: DriftBasis,
    /// n × p drift values at the data (constant last).
    pub(crate) f: Mat<f64>,
}

/// Prediction at arbitrary points; [`Kriging`] and [`super::MovingKriging`] implement it, and
/// the point and grid layouts come with it.
pub trait Predict {
    /// Predicts at `npt` points, point `k` at `at(k)`.
    ///
    /// # Errors
    /// [`GisError::Invalid`] for a point outside the external drift or a singular system.
    fn predict_at(
        &self,
        npt: usize,
        at: &(dyn Fn(usize) -> (f64, f64) + Sync),
    ) -> Result<Prediction, GisError>;

    /// Predicts at the points (`x[k]`, `y[k]`) (PyKrige's `execute("points", x, y)`).
    ///
    /// # Errors
    /// [`GisError::Invalid`] for mismatched lengths, and as [`Predict::predict_at`].
    fn predict_points(&self, x: &[f64], y: &[f64]) -> Result<Prediction, GisError> {
        if x.len() != y.len() {
            return Err(GisError::Invalid(format!(
                "kriging: {} x but {} y prediction coordinates",
                x.len(),
                y.len()
            )));
        }
        self.predict_at(x.len(), &|k| (x[k], y[k]))
    }

    /// Predicts on the grid of all (`gx[i]`, `gy[j]`) (PyKrige's `execute("grid", gx, gy)`):
    /// row-major with `gy.len()` rows, row `j` at `gy[j]`.
    ///
    /// # Errors
    /// As [`Predict::predict_at`].
    fn predict_grid(&self, gx: &[f64], gy: &[f64]) -> Result<Prediction, GisError> {
        let nx = gx.len().max(1);
        self.predict_at(gx.len() * gy.len(), &|k| (gx[k % nx], gy[k / nx]))
    }
}

/// Runs `block` over consecutive runs of `len` points in parallel (rayon), each with its
/// points' coordinates and its slices of the output.
pub(crate) fn in_blocks(
    npt: usize,
    len: usize,
    at: &(dyn Fn(usize) -> (f64, f64) + Sync),
    block: impl Fn(&[(f64, f64)], &mut [f64], &mut [f64]) -> Result<(), GisError> + Sync,
) -> Result<Prediction, GisError> {
    let mut z = vec![0.0; npt];
    let mut variance = vec![0.0; npt];
    z.par_chunks_mut(len)
        .zip(variance.par_chunks_mut(len))
        .enumerate()
        .try_for_each(|(b, (zc, vc))| {
            let pts: Vec<(f64, f64)> = (b * len..b * len + zc.len()).map(at).collect();
            block(&pts, zc, vc)
        })?;
    Ok(Prediction { z, variance })
}

/// A kriging problem with its system over all data factorised, ready to predict anywhere.
#[derive(Debug, Clone)]
pub struct Kriging {
    pub(crate) p: Problem,
    system: System,
    /// For a covariance system: what predicting many points at once needs, built by the
    /// first prediction of that many.
    batched: OnceLock<Option<Batched>>,
}

impl Problem {
    /// Everything but the factorisation (shared with the moving neighbourhood).
    pub(crate) fn new(
        x: &[f64],
        y: &[f64],
        z: &[f64],
        variogram: Variogram,
        drift: &Drift,
        anisotropy: Anisotropy,
    ) -> Result<Problem, GisError> {
        let n = z.len();
        if x.len() != n || y.len() != n {
            return Err(GisError::Invalid(format!(
                "kriging: {} x, {} y and {n} z values; need one of each per point",
                x.len(),
                y.len()
            )));
        }
        if n == 0 {
            return Err(GisError::Invalid("kriging: no data points".into()));
        }
        if let Some(i) = (0..n).find(|&i| !(x[i].is_finite() && y[i].is_finite() && z[i].is_finite())) {
            return Err(GisError::Invalid(format!(
                "kriging: data point {i} ({}, {}, {}) is not finite",
                x[i], y[i], z[i]
            )));
        }
        if !(anisotropy.scaling.is_finite() && anisotropy.scaling > 0.0 && anisotropy.angle.is_finite()) {
            return Err(GisError::Invalid(format!(
                "kriging: anisotropy scaling must be positive and angle finite, got {anisotropy:?}"
            )));
        }
        let frame = Frame::new(x, y, anisotropy);
        let (ax, ay): (Vec<f64>, Vec<f64>) = x.iter().zip(y).map(|(&a, &b)| frame.adjust(a, b)).unzip();
        let basis = DriftBasis::new(drift, &ax, &ay, x, y)?;
        let p = basis.n_terms();
        if n < p {
            return Err(GisError::Invalid(format!(
                "kriging: {n} data points cannot determine {p} drift coefficients"
            )));
        }
        let mut f = Mat::zeros(n, p);
        let mut row = vec![0.0; p];
        for i in 0..n {
            basis.eval(ax[i], ay[i], x[i], y[i], &mut row)?;
            for (j, v) in row.iter().enumerate() {
                f[(i, j)] = *v;
            }
        }
        Ok(Problem {
            variogram,
            frame,
            ox: x.to_vec(),
            oy: y.to_vec(),
            ax,
            ay,
            z: z.to_vec(),
            basis,
            f,
        })
    }

    /// Number of data points.
    pub(crate) fn len(&self) -> usize {
        self.z.len()
    }

    /// γ between the data `idx` (ascending, distinct), taking the pairs also in `prev` from it
    /// (a moving neighbourhood changes by a few points from one cell to the next).
    pub(crate) fn gram(&self, idx: Vec<usize>, prev: Option<&Gram>) -> Gram {
        let n = idx.len();
        // Position of each datum in `prev`, by merging the two ascending lists.
        let mut old = vec![None; n];
        if let Some(pv) = prev {
            let mut t = 0;
            for (a, &i) in idx.iter().enumerate() {
                while t < pv.idx.len() && pv.idx[t] < i {
                    t += 1;
                }
                if pv.idx.get(t) == Some(&i) {
                    old[a] = Some(t);
                }
            }
        }
        let mut g = Mat::zeros(n, n);
        for (b, &j) in idx.iter().enumerate() {
            let col = &mut g.col_as_slice_mut(b)[b + 1..n];
            let rows = &idx[b + 1..];
            match (prev, old[b]) {
                (Some(pv), Some(ob)) => {
                    for ((h, &i), oa) in col.iter_mut().zip(rows).zip(&old[b + 1..]) {
                        *h = match oa {
                            Some(oa) => pv.g[(*oa, ob)],
                            None => self
                                .variogram
                                .gamma(dist(self.ax[i] - self.ax[j], self.ay[i] - self.ay[j])),
                        };
                    }
                }
                _ => {
                    for (h, &i) in col.iter_mut().zip(rows) {
                        *h = dist(self.ax[i] - self.ax[j], self.ay[i] - self.ay[j]);
                    }
                    // Distinct data take γ(h) even at h = 0, as in PyKrige.
                    lags_to_rhs(&self.variogram, col, 0.0, 1.0, -1.0);
                }
            }
        }
        Gram { idx, g }
    }

    /// Factorises the system over the data `idx` (ascending, distinct): in covariance form for
    /// models with a sill when it is positive definite, else PyKrige's matrix by LU.
    pub(crate) fn system(&self, gram: Gram) -> Result<System, GisError> {
        let idx = gram.idx.clone();
        let solver = match self.variogram.model.is_bounded() {
            true => match self.covariance_solver(&idx, gram.g) {
                Some(s) => s,
                // The failed Cholesky factorisation overwrote the semivariances.
                None => self.lu_solver(&self.gram(idx.clone(), None))?,
            },
            false => self.lu_solver(&gram)?,
        };
        Ok(System {
            x: idx.iter().map(|&i| self.ax[i]).collect(),
            y: idx.iter().map(|&i| self.ay[i]).collect(),
            idx,
            solver,
        })
    }

    /// PyKrige's matrix by LU, with the dual weights `A⁻¹ [z; 0]`.
    fn lu_solver(&self, gram: &Gram) -> Result<Solver, GisError> {
        let lu = self.pykrige_matrix(gram).partial_piv_lu();
        let mut dual = Mat::zeros(gram.idx.len() + self.f.ncols(), 1);
        for (r, &i) in gram.idx.iter().enumerate() {
            dual[(r, 0)] = self.z[i];
        }
        lu.solve_in_place(dual.as_mut());
        let dual: Vec<f64> = dual.col(0).iter().copied().collect();
        if dual.iter().any(|v| !v.is_finite()) {
            return Err(singular());
        }
        Ok(Solver::Lu { lu, dual })
    }

    /// The covariance form over the data `idx`, factorised in place of their semivariances
    /// `cmat` (lower triangle); `None` where it is not positive definite.
    fn covariance_solver(&self, idx: &[usize], mut cmat: Mat<f64>) -> Option<Solver> {
        let n = idx.len();
        let p = self.f.ncols();
        let c = self.variogram.params[0] + self.variogram.nugget();
        // The Cholesky factorisation reads the lower triangle only (γ = 0 on the diagonal).
        for b in 0..n {
            for v in &mut cmat.col_as_slice_mut(b)[b..] {
                *v = c - *v;
            }
        }
        let par = par_for(n);
        let mut scratch = MemBuffer::new(cholesky_in_place_scratch::<f64>(n, par, Default::default()));
        let stack = MemStack::new(&mut scratch);
        cholesky_in_place(cmat.as_mut(), Default::default(), par, stack, Default::default()).ok()?;
        let l = cmat;
        let mut u = Mat::from_fn(n, p, |a, j| self.f[(idx[a], j)]);
        solve_lower_triangular_in_place(l.as_ref(), u.as_mut(), Par::Seq);
        let mut s = Mat::zeros(p, p);
        matmul(
            s.as_mut(),
            Accum::Replace,
            u.transpose(),
            u.as_ref(),
            1.0,
            Par::Seq,
        );
        let s_inv = s.partial_piv_lu().inverse();
        // Dual weights: y = L⁻¹z, β = S⁻¹ uᵀy, α = L⁻ᵀ(y − uβ).
        let mut yv = Mat::from_fn(n, 1, |a, _| self.z[idx[a]]);
        solve_lower_triangular_in_place(l.as_ref(), yv.as_mut(), Par::Seq);
        let mut uty = Mat::zeros(p, 1);
        matmul(
            uty.as_mut(),
            Accum::Replace,
            u.transpose(),
            yv.as_ref(),
            1.0,
            Par::Seq,
        );
        let mut beta = Mat::zeros(p, 1);
        matmul(
            beta.as_mut(),
            Accum::Replace,
            s_inv.as_ref(),
            uty.as_ref(),
            1.0,
            Par::Seq,
        );
        matmul(yv.as_mut(), Accum::Add, u.as_ref(), beta.as_ref(), -1.0, Par::Seq);
        solve_upper_triangular_in_place(l.transpose(), yv.as_mut(), Par::Seq);
        let alpha: Vec<f64> = yv.col(0).iter().copied().collect();
        let beta: Vec<f64> = beta.col(0).iter().copied().collect();
        let finite = alpha.iter().chain(&beta).all(|v| v.is_finite())
            && (0..p).all(|i| (0..p).all(|j| s_inv[(i, j)].is_finite()));
        finite.then_some(Solver::Covariance {
            c,
            l,
            u,
            s_inv,
            alpha,
            beta,
        })
    }

    /// PyKrige's kriging matrix `[[−Γ, F], [Fᵀ, 0]]` over the data `idx`.
    fn pykrige_matrix(&self, gram: &Gram) -> Mat<f64> {
        let n = gram.idx.len();
        let mut a = Mat::zeros(n + self.f.ncols(), n + self.f.ncols());
        for (c, &j) in gram.idx.iter().enumerate() {
            for r in c + 1..n {
                a[(r, c)] = -gram.g[(r, c)];
                a[(c, r)] = -gram.g[(r, c)];
            }
            for t in 0..self.f.ncols() {
                a[(c, n + t)] = self.f[(j, t)];
                a[(n + t, c)] = self.f[(j, t)];
            }
        }
        a
    }

    /// `A⁻¹` of PyKrige's matrix over all data and `A⁻¹ [z; 0]` (for cross-validation).
    pub(crate) fn full_inverse(&self) -> Result<(Mat<f64>, Vec<f64>), GisError> {
        let n = self.len();
        let inv = self
            .pykrige_matrix(&self.gram((0..n).collect(), None))
            .partial_piv_lu()
            .inverse();
        let dual: Vec<f64> = (0..inv.nrows())
            .map(|i| (0..n).map(|j| inv[(i, j)] * self.z[j]).sum())
            .collect();
        if dual.iter().any(|v| !v.is_finite()) {
            return Err(singular());
        }
        Ok((inv, dual))
    }
}

fn singular() -> GisError {
    GisError::Invalid(
        "kriging matrix is singular (duplicate data points without a nugget, or a drift the data \
         cannot resolve)"
            .into(),
    )
}

/// Systems this large factorise on all threads; the small local systems of a moving
/// neighbourhood, already one per thread, stay sequential.
fn par_for(n: usize) -> Par {
    if n >= 256 { Par::rayon(0) } else { Par::Seq }
}

/// `shift + sign·γ(h)` in place over the lags `h`, with γ = 0 for `h ≤ eps`; one loop per
/// model, so that the model test stays out of the innermost loop, and each loop free of
/// branches, so that it vectorises where it is inlined into code built for wider vectors.
#[inline(always)]
pub(crate) fn lags_to_rhs(v: &Variogram, h: &mut [f64], shift: f64, sign: f64, eps: f64) {
    #[inline(always)]
    fn each(h: &mut [f64], shift: f64, sign: f64, eps: f64, gamma: impl Fn(f64) -> f64) {
        for t in h {
            let v = shift + sign * gamma(*t);
            *t = if *t <= eps { shift } else { v };
        }
    }
    let p = &v.params;
    let (s, g, e) = (shift, sign, eps);
    match v.model {
        Model::Linear => each(h, s, g, e, |t| Variogram::eval(Model::Linear, p, t)),
        Model::Power => each(h, s, g, e, |t| Variogram::eval(Model::Power, p, t)),
        Model::Gaussian => each(h, s, g, e, |t| Variogram::eval(Model::Gaussian, p, t)),
        Model::Spherical => each(h, s, g, e, |t| Variogram::eval(Model::Spherical, p, t)),
        Model::Exponential => each(h, s, g, e, |t| Variogram::eval(Model::Exponential, p, t)),
        Model::HoleEffect => each(h, s, g, e, |t| Variogram::eval(Model::HoleEffect, p, t)),
    }
}

impl System {
    /// Right-hand sides `[shift + sign·γ; drift]` of the points `pts` (original coordinates),
    /// one column per point.
    fn rhs(&self, p: &Problem, pts: &[(f64, f64)], shift: f64, sign: f64) -> Result<Mat<f64>, GisError> {
        let n = self.x.len();
        let mut b = Mat::zeros(n + p.f.ncols(), pts.len());
        for (k, &(ox, oy)) in pts.iter().enumerate() {
            let (px, py) = p.frame.adjust(ox, oy);
            let (g, drift) = b.col_as_slice_mut(k).split_at_mut(n);
            for ((h, x), y) in g.iter_mut().zip(&self.x).zip(&self.y) {
                *h = dist(px - x, py - y);
            }
            // PyKrige's exact_values: γ = 0 at a datum.
            lags_to_rhs(&p.variogram, g, shift, sign, EPS);
            p.basis.eval(px, py, ox, oy, drift)?;
        }
        Ok(b)
    }

    /// Estimates and variances at `pts` (original coordinates) into `zc`, `vc`.
    pub(crate) fn predict(
        &self,
        p: &Problem,
        pts: &[(f64, f64)],
        zc: &mut [f64],
        vc: &mut [f64],
    ) -> Result<(), GisError> {
        let n = self.x.len();
        match &self.solver {
            Solver::Covariance {
                c,
                l,
                u,
                s_inv,
                alpha,
                beta,
            } => {
                let mut b = self.rhs(p, pts, *c, -1.0)?;
                let (mut g, f0) = b.as_mut().split_at_row_mut(n);
                for (k, out) in zc.iter_mut().enumerate() {
                    *out = dot(g.as_ref().col(k), alpha) + dot(f0.as_ref().col(k), beta);
                }
                solve_lower_triangular_in_place(l.as_ref(), g.as_mut(), Par::Seq);
                // r = uᵀv − f0, σ² = c − |v|² + rᵀ S⁻¹ r.
                let mut r = Mat::from_fn(f0.nrows(), f0.ncols(), |j, k| -f0[(j, k)]);
                matmul(r.as_mut(), Accum::Add, u.transpose(), g.as_ref(), 1.0, Par::Seq);
                for (k, out) in vc.iter_mut().enumerate() {
                    let v = g.as_ref().col(k);
                    *out = c - v.iter().map(|t| t * t).sum::<f64>() + quad_form(s_inv.as_ref(), r.col(k));
                }
            }
            Solver::Lu { lu, dual } => {
                let b = self.rhs(p, pts, 0.0, -1.0)?;
                let mut x = b.clone();
                lu.solve_in_place(x.as_mut());
                for (k, (zo, vo)) in zc.iter_mut().zip(vc.iter_mut()).enumerate() {
                    *zo = dot(b.col(k), dual);
                    *vo = -b
                        .col(k)
                        .iter()
                        .zip(x.col(k).iter())
                        .map(|(a, d)| a * d)
                        .sum::<f64>();
                }
            }
        }
        Ok(())
    }

    /// The kriging weights of the system's data for a prediction at (`x`, `y`).
    fn weights(&self, p: &Problem, x: f64, y: f64) -> Result<Vec<f64>, GisError> {
        let n = self.x.len();
        match &self.solver {
            Solver::Covariance { c, l, u, s_inv, .. } => {
                let mut b = self.rhs(p, &[(x, y)], *c, -1.0)?;
                let (mut g, f0) = b.as_mut().split_at_row_mut(n);
                solve_lower_triangular_in_place(l.as_ref(), g.as_mut(), Par::Seq);
                // μ = S⁻¹(uᵀv − f0); w = L⁻ᵀ(v − uμ).
                let mut r = Mat::from_fn(f0.nrows(), 1, |j, _| -f0[(j, 0)]);
                matmul(r.as_mut(), Accum::Add, u.transpose(), g.as_ref(), 1.0, Par::Seq);
                let mut mu = Mat::zeros(r.nrows(), 1);
                matmul(
                    mu.as_mut(),
                    Accum::Replace,
                    s_inv.as_ref(),
                    r.as_ref(),
                    1.0,
                    Par::Seq,
                );
                matmul(g.as_mut(), Accum::Add, u.as_ref(), mu.as_ref(), -1.0, Par::Seq);
                solve_upper_triangular_in_place(l.transpose(), g.as_mut(), Par::Seq);
                Ok(g.as_ref().col(0).iter().copied().collect())
            }
            Solver::Lu { lu, .. } => {
                let mut b = self.rhs(p, &[(x, y)], 0.0, -1.0)?;
                lu.solve_in_place(b.as_mut());
                Ok(b.col(0).iter().take(n).copied().collect())
            }
        }
    }
}

impl Kriging {
    /// Sets up ordinary (`Drift::None`) or universal kriging of values `z` at (`x`, `y`) and
    /// factorises its system.
    ///
    /// # Errors
    /// [`GisError::Invalid`] for mismatched or empty inputs, non-finite values, drift values
    /// missing at a data point, or a singular system (e.g. duplicate points without nugget).
    pub fn new(
        x: &[f64],
        y: &[f64],
        z: &[f64],
        variogram: Variogram,
        drift: &Drift,
        anisotropy: Anisotropy,
    ) -> Result<Kriging, GisError> {
        let p = Problem::new(x, y, z, variogram, drift, anisotropy)?;
        let system = p.system(p.gram((0..p.len()).collect(), None))?;
        Ok(Kriging {
            p,
            system,
            batched: OnceLock::new(),
        })
    }

    /// Number of data points.
    pub fn len(&self) -> usize {
        self.p.len()
    }

    /// Whether there are no data points (never true for a built problem).
    pub fn is_empty(&self) -> bool {
        self.p.z.is_empty()
    }

    /// The variogram in use.
    pub fn variogram(&self) -> &Variogram {
        &self.p.variogram
    }

    /// The kriging weights of the data for a prediction at (`x`, `y`) (they sum to 1).
    ///
    /// # Errors
    /// [`GisError::Invalid`] for a point outside the external drift.
    pub fn weights(&self, x: f64, y: f64) -> Result<Vec<f64>, GisError> {
        self.system.weights(&self.p, x, y)
    }
}

impl Predict for Kriging {
    fn predict_at(
        &self,
        npt: usize,
        at: &(dyn Fn(usize) -> (f64, f64) + Sync),
    ) -> Result<Prediction, GisError> {
        let threads = rayon::current_num_threads();
        // Forming L⁻¹ costs about what solving n/3 points one by one does: worth it from n
        // points on, and not at all for cross-validation or the weights of one point.
        let batched = match npt >= self.p.len() {
            true => self.batched.get_or_init(|| Batched::new(&self.system)).as_ref(),
            false => None,
        };
        let Some(b) = batched else {
            // Wide blocks make the triangular solve a matrix-matrix product (faer's TRSM runs
            // at its GEMM speed from a few hundred columns); keep a few blocks per thread for
            // small inputs.
            let len = (npt / (4 * threads).max(1)).clamp(MIN_BLOCK, MAX_BLOCK);
            return in_blocks(npt, len, at, |pts, zc, vc| {
                self.system.predict(&self.p, pts, zc, vc)
            });
        };
        // A few blocks per thread for balance; each block's right-hand sides (n × len) are
        // built once and then stream through the cache against all of L⁻¹.
        let len = (npt / (4 * threads).max(1)).clamp(NR, BATCH).next_multiple_of(NR);
        // Right-hand sides are built into one buffer per thread, reused from block to block (a
        // fresh one would page-fault its megabytes in each time) and freed with this call.
        let scratch: Vec<Mutex<Vec<f64>>> = (0..threads).map(|_| Mutex::new(Vec::new())).collect();
        in_blocks(npt, len, at, |pts, zc, vc| {
            let slot = rayon::current_thread_index().unwrap_or(0) % scratch.len();
            // Only this thread takes its slot; a poisoned lock still holds a usable buffer.
            let mut g = scratch[slot].lock().unwrap_or_else(PoisonError::into_inner);
            b.predict(&self.p, pts, zc, vc, &mut g)
        })
    }
}

/// Points per block of batched prediction (an n × 256 block of right-hand sides is 2 MB for
/// n = 1000).
const BATCH: usize = 256;

fn dot(a: ColRef<'_, f64>, b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(s, t)| s * t).sum()
}

/// `rᵀ M r` for a small square `M`.
pub(crate) fn quad_form(m: MatRef<'_, f64>, r: ColRef<'_, f64>) -> f64 {
    let mut acc = 0.0;
    for (i, ri) in r.iter().enumerate() {
        for (j, rj) in r.iter().enumerate() {
            acc += ri * m[(i, j)] * rj;
        }
    }
    acc
}
