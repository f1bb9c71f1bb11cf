//! The experimental variogram and a model fitted to it, as PyKrige estimates them when no
//! `variogram_parameters` are given (`core._initialize_variogram_model`,
//! `core._calculate_variogram_model`).

use super::solver::{Anisotropy, Frame, dist};
use super::variogram::{Model, Variogram};
use crate::GisError;

/// Binned semivariances: `lags[i]` is the mean separation and `semivariance[i]` the mean of
/// `½(z_a − z_b)²` over the pairs in bin i (empty bins are left out).
#[derive(Debug, Clone, PartialEq)]
pub struct ExperimentalVariogram {
    /// Mean lag distance per bin.
    pub lags: Vec<f64>,
    /// Mean semivariance per bin.
    pub semivariance: Vec<f64>,
}

/// How to fit: PyKrige's `nlags` (default 6) and `weight` (logistic weights that favour the
/// short lags, default off).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FitOptions {
    /// Number of equal-width lag bins between the smallest and largest separation.
    pub nlags: usize,
    /// Weight the residuals as PyKrige's `weight=True`.
    pub weight: bool,
    /// Anisotropy applied to the coordinates before binning, as PyKrige does.
    pub anisotropy: Anisotropy,
}

impl Default for FitOptions {
    fn default() -> FitOptions {
        FitOptions {
            nlags: 6,
            weight: false,
            anisotropy: Anisotropy::default(),
        }
    }
}

/// PyKrige's experimental variogram: all point pairs, `nlags` bins of equal width from the
/// smallest to the largest separation (the last bin closed at `max + 0.001`). Memory is O(nlags)
/// whatever the number of points.
///
/// # Errors
/// [`GisError::Invalid`] for fewer than 2 points, mismatched lengths or `nlags == 0`.
pub fn experimental_variogram(
    x: &[f64],
    y: &[f64],
    z: &[f64],
    opts: &FitOptions,
) -> Result<ExperimentalVariogram, GisError> {
    let n = z.len();
    if x.len() != n || y.len() != n || n < 2 || opts.nlags == 0 {
        return Err(GisError::Invalid(format!(
            "experimental variogram needs ≥ 2 points with x, y, z each and nlags ≥ 1 (got {} x, {} y, \
             {n} z, nlags {})",
            x.len(),
            y.len(),
            opts.nlags
        )));
    }
    let frame = Frame::new(x, y, opts.anisotropy);
    let (ax, ay): (Vec<f64>, Vec<f64>) = x.iter().zip(y).map(|(&a, &b)| frame.adjust(a, b)).unzip();
    let pairs = || {
        (0..n).flat_map({
            let (ax, ay) = (&ax, &ay);
            move |i| (i + 1..n).map(move |j| (i, j, dist(ax[i] - ax[j], ay[i] - ay[j])))
        })
    };
    let (dmin, dmax) = pairs().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), (_, _, d)| {
        (lo.min(d), hi.max(d))
    });
    let nl = opts.nlags;
    let dd = (dmax - dmin) / nl as f64;
    let mut bins: Vec<f64> = (0..nl).map(|k| dmin + k as f64 * dd).collect();
    bins.push(dmax + 0.001);
    let mut sum_d = vec![0.0; nl];
    let mut sum_g = vec![0.0; nl];
    let mut count = vec![0usize; nl];
    for (i, j, d) in pairs() {
        // First guess from the width, then settle on PyKrige's half-open bin [b_k, b_k+1).
        let mut k = if dd > 0.0 {
            (((d - dmin) / dd) as usize).min(nl - 1)
        } else {
            0
        };
        while k > 0 && d < bins[k] {
            k -= 1;
        }
        while k + 1 < nl && d >= bins[k + 1] {
            k += 1;
        }
        if d >= bins[k] && d < bins[k + 1] {
            sum_d[k] += d;
            sum_g[k] += 0.5 * (z[i] - z[j]).powi(2);
            count[k] += 1;
        }
    }
    let (lags, semivariance) = (0..nl)
        .filter(|&k| count[k] > 0)
        .map(|k| (sum_d[k] / count[k] as f64, sum_g[k] / count[k] as f64))
        .unzip();
    Ok(ExperimentalVariogram { lags, semivariance })
}

/// Fits `model` to the experimental variogram of the data as PyKrige does: robust least squares
/// (soft-L1 loss, `scipy.optimize.least_squares(loss="soft_l1")`) from PyKrige's starting point
/// within PyKrige's bounds. Returns the variogram (partial sill first) and the experimental
/// variogram it was fitted to. The minimiser is a projected Levenberg–Marquardt on
/// iteratively reweighted residuals, not scipy's trust-region-reflective, so fitted parameters
/// agree with PyKrige's to the optimisers' tolerances (about 1e-4 relative), not bit for bit.
///
/// # Errors
/// As [`experimental_variogram`], and [`GisError::Invalid`] when there are too few non-empty
/// lag bins to fit the model's parameters.
pub fn fit_variogram(
    x: &[f64],
    y: &[f64],
    z: &[f64],
    model: Model,
    opts: &FitOptions,
) -> Result<(Variogram, ExperimentalVariogram), GisError> {
    let ev = experimental_variogram(x, y, z, opts)?;
    let (lags, sv) = (&ev.lags, &ev.semivariance);
    let np = model.n_params();
    if lags.len() < 2 {
        return Err(GisError::Invalid(format!(
            "cannot fit a {model} variogram to {} non-empty lag bin(s)",
            lags.len()
        )));
    }
    let max = |v: &[f64]| v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let min = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    let (smax, smin, lmax, lmin) = (max(sv), min(sv), max(lags), min(lags));
    let (x0, lo, hi): ([f64; 3], [f64; 3], [f64; 3]) = match model {
        Model::Linear => (
            [(smax - smin) / (lmax - lmin), smin, 0.0],
            [0.0, 0.0, 0.0],
            [f64::INFINITY, smax, 0.0],
        ),
        Model::Power => (
            [(smax - smin) / (lmax - lmin), 1.1, smin],
            [0.0, 0.001, 0.0],
            [f64::INFINITY, 1.999, smax],
        ),
        _ => (
            [smax - smin, 0.25 * lmax, smin],
            [0.0, 0.0, 0.0],
            [10.0 * smax, lmax, smax],
        ),
    };
    let weights: Vec<f64> = if opts.weight {
        let drange = lmax - lmin;
        let k = 2.1972 / (0.1 * drange);
        let c = 0.7 * drange + lmin;
        let w: Vec<f64> = lags.iter().map(|l| 1.0 / (1.0 + (-k * (c - l)).exp())).collect();
        let s: f64 = w.iter().sum();
        w.iter().map(|v| v / s).collect()
    } else {
        vec![1.0; lags.len()]
    };
    let resid = |p: &[f64; 3]| -> Vec<f64> {
        lags.iter()
            .zip(sv)
            .zip(&weights)
            .map(|((&l, &s), &w)| (Variogram::eval(model, p, l) - s) * w)
            .collect()
    };
    let params = minimise_soft_l1(&resid, x0, lo, hi, np);
    Ok((Variogram::new(model, &params[..np])?, ev))
}

/// Minimises `½ Σ ρ(r_i²)` with `ρ(s) = 2(√(1+s) − 1)` over the box [`lo`, `hi`] (first `np`
/// parameters), by Levenberg–Marquardt on the residuals reweighted with `ρ'(r²)`, projecting
/// each step onto the box.
fn minimise_soft_l1(
    resid: &dyn Fn(&[f64; 3]) -> Vec<f64>,
    x0: [f64; 3],
    lo: [f64; 3],
    hi: [f64; 3],
    np: usize,
) -> [f64; 3] {
    let cost = |r: &[f64]| r.iter().map(|v| (1.0 + v * v).sqrt() - 1.0).sum::<f64>();
    let clamp = |mut p: [f64; 3]| {
        for t in 0..np {
            p[t] = p[t].clamp(lo[t], hi[t]);
        }
        p
    };
    let mut x = clamp(x0);
    let mut r = resid(&x);
    let mut f = cost(&r);
    let mut lambda = 1e-3;
    for _ in 0..2000 {
        // Central-difference Jacobian.
        let m = r.len();
        let mut jac = vec![[0.0; 3]; m];
        for t in 0..np {
            let h = 1e-7 * x[t].abs().max(1e-6);
            let (mut xp, mut xm) = (x, x);
            xp[t] += h;
            xm[t] -= h;
            let (rp, rm) = (resid(&xp), resid(&xm));
            for i in 0..m {
                jac[i][t] = (rp[i] - rm[i]) / (2.0 * h);
            }
        }
        let w: Vec<f64> = r.iter().map(|v| 1.0 / (1.0 + v * v).sqrt()).collect();
        let mut jtj = [[0.0; 3]; 3];
        let mut jtr = [0.0; 3];
        for i in 0..m {
            for a in 0..np {
                jtr[a] += w[i] * jac[i][a] * r[i];
                for b in 0..np {
                    jtj[a][b] += w[i] * jac[i][a] * jac[i][b];
                }
            }
        }
        // Variables held at a bound by the gradient stay there (projected Newton).
        let free: Vec<bool> = (0..3)
            .map(|t| t < np && !((x[t] <= lo[t] && jtr[t] > 0.0) || (x[t] >= hi[t] && jtr[t] < 0.0)))
            .collect();
        if !free.iter().any(|f| *f) {
            return x;
        }
        for a in 0..3 {
            for b in 0..3 {
                if !(free[a] && free[b]) {
                    jtj[a][b] = if a == b { 1.0 } else { 0.0 };
                }
            }
            if !free[a] {
                jtr[a] = 0.0;
            }
        }
        let mut improved = false;
        while lambda < 1e12 {
            let mut mat = jtj;
            for (a, row) in mat.iter_mut().enumerate().take(np) {
                row[a] += lambda * jtj[a][a].max(1e-12);
            }
            let Some(step) = solve3(&mat, &jtr, np) else {
                lambda *= 10.0;
                continue;
            };
            let mut xn = x;
            for t in 0..np {
                xn[t] -= step[t];
            }
            let xn = clamp(xn);
            let rn = resid(&xn);
            let fnew = cost(&rn);
            if fnew < f {
                let moved = (0..np)
                    .map(|t| (xn[t] - x[t]).abs() / x[t].abs().max(1e-12))
                    .fold(0.0, f64::max);
                let rel = (f - fnew) / f.max(f64::MIN_POSITIVE);
                x = xn;
                r = rn;
                f = fnew;
                lambda = (lambda / 10.0).max(1e-12);
                improved = true;
                if rel < 1e-15 || moved < 1e-14 {
                    return x;
                }
                break;
            }
            lambda *= 10.0;
        }
        if !improved {
            break;
        }
    }
    x
}

/// Solves the leading `np × np` block of `m s = b` (Cramer-free Gaussian elimination).
fn solve3(m: &[[f64; 3]; 3], b: &[f64; 3], np: usize) -> Option<[f64; 3]> {
    let mut a = *m;
    let mut v = *b;
    for c in 0..np {
        let piv = (c..np).max_by(|&i, &j| a[i][c].abs().total_cmp(&a[j][c].abs()))?;
        a.swap(c, piv);
        v.swap(c, piv);
        if a[c][c] == 0.0 || !a[c][c].is_finite() {
            return None;
        }
        for r in c + 1..np {
            let f = a[r][c] / a[c][c];
            let pivot_row = a[c];
            for (x, p) in a[r].iter_mut().zip(pivot_row).take(np).skip(c) {
                *x -= f * p;
            }
            v[r] -= f * v[c];
        }
    }
    let mut s = [0.0; 3];
    for r in (0..np).rev() {
        let acc: f64 = (r + 1..np).map(|k| a[r][k] * s[k]).sum();
        s[r] = (v[r] - acc) / a[r][r];
    }
    Some(s)
}
