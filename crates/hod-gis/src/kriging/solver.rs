//! Exact (global) kriging: one system over all data, factorised once, solved for every
//! prediction point in parallel.
//!
//! PyKrige's `execute(..., backend="vectorized")` inverts the full kriging matrix
//! `[[−Γ, F], [Fᵀ, 0]]` and multiplies it with one right-hand side per point. For models with a
//! sill we solve the same system in covariance form instead (`C = sill − Γ`, Cholesky, then a
//! Schur complement for the drift; Cressie, *Statistics for Spatial Data*, 1993, §3.4.5), which
//! gives the same weights and variances with half the work per point; linear and power models,
//! and any matrix that is not positive definite, take PyKrige's inverse route.

use super::drift::{Drift, ExternalDrift};
use super::variogram::Variogram;
use crate::GisError;
use faer::linalg::matmul::matmul;
use faer::linalg::solvers::DenseSolveCore;
use faer::linalg::triangular_solve::{solve_lower_triangular_in_place, solve_upper_triangular_in_place};
use faer::{Accum, Mat, MatRef, Par, Side};
use rayon::prelude::*;

/// PyKrige's `eps`: a prediction point this close to a datum gets γ = 0 there, so the
/// estimate honours the datum exactly even with a nugget (PyKrige's `exact_values=True`).
pub(crate) const EPS: f64 = 1e-10;

/// Euclidean length as scipy's `cdist` computes it (`hypot` is exact to the last bit but several
/// times slower, and this is the innermost loop).
#[inline]
pub(crate) fn dist(dx: f64, dy: f64) -> f64 {
    (dx * dx + dy * dy).sqrt()
}

/// Points per block of right-hand sides.
const BLOCK: usize = 256;

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
    /// coordinates), external (original coordinates).
    fn raw(&self, ax: f64, ay: f64, ox: f64, oy: f64) -> Result<Vec<f64>, GisError> {
        let mut v = Vec::with_capacity(3);
        if self.linear {
            v.extend([ax, ay]);
        }
        if let Some(e) = &self.external {
            v.push(e.sample(ox, oy)?);
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

/// How the factorised system is held.
#[derive(Debug, Clone)]
pub(crate) enum System {
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
    /// The inverse of PyKrige's matrix `[[−Γ, F], [Fᵀ, 0]]`, and `dual = inv · [z; 0]`.
    Inverse { inv: Mat<f64>, dual: Vec<f64> },
}

/// Data, variogram and drift of one kriging problem, before any system is solved.
#[derive(Debug, Clone)]
pub(crate) struct Problem {
    pub(crate) variogram: Variogram,
    pub(crate) frame: Frame,
    /// Data coordinates, anisotropy-adjusted.
    pub(crate) ax: Vec<f64>,
    pub(crate) ay: Vec<f64>,
    pub(crate) z: Vec<f64>,
    pub(crate) basis: DriftBasis,
    /// n × p drift values at the data (constant last).
    pub(crate) f: Mat<f64>,
}

/// A kriging problem with its system factorised, ready to predict anywhere.
#[derive(Debug, Clone)]
pub struct Kriging {
    pub(crate) p: Problem,
    system: System,
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

    /// γ between data points `i` and `j`, 0 on the diagonal (PyKrige's `fill_diagonal(a, 0)`).
    pub(crate) fn gamma_ij(&self, i: usize, j: usize) -> f64 {
        if i == j {
            0.0
        } else {
            self.variogram
                .gamma(dist(self.ax[i] - self.ax[j], self.ay[i] - self.ay[j]))
        }
    }

    /// Right-hand sides of one block: `rhs[.., k]` = [γ-part; drift] for point `start + k`,
    /// where the γ-part is `c − γ` (covariance form) or `−γ` (PyKrige's form).
    pub(crate) fn rhs_block(
        &self,
        start: usize,
        len: usize,
        at: &impl Fn(usize) -> (f64, f64),
        shift: f64,
        sign: f64,
    ) -> Result<(Mat<f64>, Mat<f64>), GisError> {
        let n = self.len();
        let p = self.f.ncols();
        let mut g = Mat::zeros(n, len);
        let mut f0 = Mat::zeros(p, len);
        let mut drift = vec![0.0; p];
        for k in 0..len {
            let (ox, oy) = at(start + k);
            let (px, py) = self.frame.adjust(ox, oy);
            for (i, out) in g.col_mut(k).iter_mut().enumerate() {
                let h = dist(px - self.ax[i], py - self.ay[i]);
                let gam = if h.abs() <= EPS {
                    0.0
                } else {
                    self.variogram.gamma(h)
                };
                *out = shift + sign * gam;
            }
            self.basis.eval(px, py, ox, oy, &mut drift)?;
            for (j, v) in drift.iter().enumerate() {
                f0[(j, k)] = *v;
            }
        }
        Ok((g, f0))
    }
    pub(crate) fn factorise(&self) -> Result<System, GisError> {
        if self.variogram.model.is_bounded()
            && let Some(s) = self.covariance_system()
        {
            return Ok(s);
        }
        let (inv, dual) = self.full_inverse()?;
        Ok(System::Inverse { inv, dual })
    }

    fn covariance_system(&self) -> Option<System> {
        let n = self.len();
        let p = self.f.ncols();
        let c = self.variogram.params[0] + self.variogram.nugget();
        let cmat = Mat::from_fn(n, n, |i, j| c - self.gamma_ij(i, j));
        let llt = cmat.llt(Side::Lower).ok()?;
        let l = llt.L().to_owned();
        let mut u = self.f.clone();
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
        let mut yv = Mat::from_fn(n, 1, |i, _| self.z[i]);
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
        let alpha: Vec<f64> = (0..n).map(|i| yv[(i, 0)]).collect();
        let beta: Vec<f64> = (0..p).map(|i| beta[(i, 0)]).collect();
        let finite = alpha.iter().chain(&beta).all(|v| v.is_finite())
            && (0..p).all(|i| (0..p).all(|j| s_inv[(i, j)].is_finite()));
        finite.then_some(System::Covariance {
            c,
            l,
            u,
            s_inv,
            alpha,
            beta,
        })
    }

    /// `A⁻¹` of PyKrige's full system `[[−Γ, F], [Fᵀ, 0]]` and `A⁻¹ [z; 0]`.
    pub(crate) fn full_inverse(&self) -> Result<(Mat<f64>, Vec<f64>), GisError> {
        let n = self.len();
        let p = self.f.ncols();
        let m = n + p;
        let a = Mat::from_fn(m, m, |i, j| match (i < n, j < n) {
            (true, true) => -self.gamma_ij(i, j),
            (true, false) => self.f[(i, j - n)],
            (false, true) => self.f[(j, i - n)],
            (false, false) => 0.0,
        });
        let inv = a.partial_piv_lu().inverse();
        let dual: Vec<f64> = (0..m)
            .map(|i| (0..n).map(|j| inv[(i, j)] * self.z[j]).sum())
            .collect();
        if dual.iter().any(|v| !v.is_finite()) {
            return Err(GisError::Invalid(
                "kriging matrix is singular (duplicate data points without a nugget, or a drift \
                 the data cannot resolve)"
                    .into(),
            ));
        }
        Ok((inv, dual))
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
        let system = p.factorise()?;
        Ok(Kriging { p, system })
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

    /// Predicts at the points (`x[k]`, `y[k]`) (PyKrige's `execute("points", x, y)`).
    ///
    /// # Errors
    /// [`GisError::Invalid`] for mismatched lengths or a point outside the external drift.
    pub fn predict_points(&self, x: &[f64], y: &[f64]) -> Result<Prediction, GisError> {
        if x.len() != y.len() {
            return Err(GisError::Invalid(format!(
                "kriging: {} x but {} y prediction coordinates",
                x.len(),
                y.len()
            )));
        }
        self.predict_with(x.len(), |k| (x[k], y[k]))
    }

    /// Predicts on the grid of all (`gx[i]`, `gy[j]`) (PyKrige's `execute("grid", gx, gy)`):
    /// row-major with `gy.len()` rows, row `j` at `gy[j]`.
    ///
    /// # Errors
    /// [`GisError::Invalid`] for a point outside the external drift.
    pub fn predict_grid(&self, gx: &[f64], gy: &[f64]) -> Result<Prediction, GisError> {
        let nx = gx.len().max(1);
        self.predict_with(gx.len() * gy.len(), |k| (gx[k % nx], gy[k / nx]))
    }

    fn predict_with(
        &self,
        npt: usize,
        at: impl Fn(usize) -> (f64, f64) + Sync,
    ) -> Result<Prediction, GisError> {
        let mut z = vec![0.0; npt];
        let mut variance = vec![0.0; npt];
        z.par_chunks_mut(BLOCK)
            .zip(variance.par_chunks_mut(BLOCK))
            .enumerate()
            .try_for_each(|(b, (zc, vc))| self.predict_block(b * BLOCK, &at, zc, vc))?;
        Ok(Prediction { z, variance })
    }

    fn predict_block(
        &self,
        start: usize,
        at: &impl Fn(usize) -> (f64, f64),
        zc: &mut [f64],
        vc: &mut [f64],
    ) -> Result<(), GisError> {
        let n = self.len();
        let p = self.p.f.ncols();
        let len = zc.len();
        match &self.system {
            System::Covariance {
                c,
                l,
                u,
                s_inv,
                alpha,
                beta,
            } => {
                let (mut g, f0) = self.p.rhs_block(start, len, at, *c, -1.0)?;
                for (k, out) in zc.iter_mut().enumerate() {
                    *out = g.col(k).iter().zip(alpha).map(|(a, b)| a * b).sum::<f64>()
                        + f0.col(k).iter().zip(beta).map(|(a, b)| a * b).sum::<f64>();
                }
                solve_lower_triangular_in_place(l.as_ref(), g.as_mut(), Par::Seq);
                // r = uᵀv − f0, σ² = c − |v|² + rᵀ S⁻¹ r.
                let mut r = -f0;
                matmul(r.as_mut(), Accum::Add, u.transpose(), g.as_ref(), 1.0, Par::Seq);
                let mut rk = vec![0.0; p];
                for (k, out) in vc.iter_mut().enumerate() {
                    let vv: f64 = g.col(k).iter().map(|v| v * v).sum();
                    rk.iter_mut().zip(r.col(k).iter()).for_each(|(a, b)| *a = *b);
                    *out = c - vv + quad_form(s_inv.as_ref(), &rk);
                }
            }
            System::Inverse { inv, dual } => {
                let (g, f0) = self.p.rhs_block(start, len, at, 0.0, -1.0)?;
                let m = n + p;
                let b = Mat::from_fn(m, len, |i, k| if i < n { g[(i, k)] } else { f0[(i - n, k)] });
                let mut x = Mat::zeros(m, len);
                matmul(
                    x.as_mut(),
                    Accum::Replace,
                    inv.as_ref(),
                    b.as_ref(),
                    1.0,
                    Par::Seq,
                );
                for (k, (zo, vo)) in zc.iter_mut().zip(vc.iter_mut()).enumerate() {
                    *zo = b.col(k).iter().zip(dual).map(|(a, d)| a * d).sum();
                    *vo = -x
                        .col(k)
                        .iter()
                        .zip(b.col(k).iter())
                        .map(|(a, d)| a * d)
                        .sum::<f64>();
                }
            }
        }
        Ok(())
    }

    /// The kriging weights of the data for a prediction at (`x`, `y`) (they sum to 1).
    ///
    /// # Errors
    /// [`GisError::Invalid`] for a point outside the external drift.
    pub fn weights(&self, x: f64, y: f64) -> Result<Vec<f64>, GisError> {
        let n = self.len();
        match &self.system {
            System::Covariance { c, l, u, s_inv, .. } => {
                let (mut g, f0) = self.p.rhs_block(0, 1, &|_| (x, y), *c, -1.0)?;
                solve_lower_triangular_in_place(l.as_ref(), g.as_mut(), Par::Seq);
                // μ = S⁻¹(uᵀv − f0); w = L⁻ᵀ(v − uμ).
                let mut r = -f0;
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
                Ok((0..n).map(|i| g[(i, 0)]).collect())
            }
            System::Inverse { inv, .. } => {
                let (g, f0) = self.p.rhs_block(0, 1, &|_| (x, y), 0.0, -1.0)?;
                let m = inv.nrows();
                let b = Mat::from_fn(m, 1, |i, _| if i < n { g[(i, 0)] } else { f0[(i - n, 0)] });
                let sol = inv.as_ref() * b.as_ref();
                Ok((0..n).map(|i| sol[(i, 0)]).collect())
            }
        }
    }
}

/// `rᵀ M r` for a small square `M`.
fn quad_form(m: MatRef<'_, f64>, r: &[f64]) -> f64 {
    let mut acc = 0.0;
    for (i, ri) in r.iter().enumerate() {
        for (j, rj) in r.iter().enumerate() {
            acc += ri * m[(i, j)] * rj;
        }
    }
    acc
}
