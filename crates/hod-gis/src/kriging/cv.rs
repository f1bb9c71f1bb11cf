//! Leave-one-out cross-validation of a kriging model.
//!
//! For the global system the n leave-one-out predictions come from one inverse
//! (O. Dubrule, "Cross validation of kriging in a unique neighborhood", *Math. Geol.* 15, 1983):
//! with `Q = A⁻¹` and `s = Q [z; 0]`, the error at datum i is `s_i / Q_ii` and its kriging
//! variance `1 / Q_ii`. In a moving neighbourhood each datum is predicted from its `k` nearest
//! others.

use super::neighbourhood::MovingKriging;
use super::solver::Kriging;
use crate::GisError;
use rayon::prelude::*;

/// Leave-one-out errors and the usual summary scores (Kitanidis 1997, §3.5: Q1 and Q2 are the
/// mean and mean square of the standardized errors, ideally 0 and 1).
#[derive(Debug, Clone, PartialEq)]
pub struct CrossValidation {
    /// `z_i − ẑ_(−i)` per datum.
    pub errors: Vec<f64>,
    /// Kriging variance of each leave-one-out prediction.
    pub variances: Vec<f64>,
    /// Mean error.
    pub mean_error: f64,
    /// Root mean square error.
    pub rmse: f64,
    /// Q1: mean of the standardized errors `ε_i = e_i / σ_i`.
    pub q1: f64,
    /// Q2: mean of `ε_i²`.
    pub q2: f64,
    /// cR = Q2 · geometric mean of σ² (PyKrige's `cR`; smaller is better).
    pub cr: f64,
}

impl CrossValidation {
    fn from_errors(errors: Vec<f64>, variances: Vec<f64>) -> CrossValidation {
        let n = errors.len().max(1) as f64;
        let mean_error = errors.iter().sum::<f64>() / n;
        let rmse = (errors.iter().map(|e| e * e).sum::<f64>() / n).sqrt();
        // Points predicted with (numerically) zero variance carry no standardized error.
        let eps: Vec<f64> = errors
            .iter()
            .zip(&variances)
            .filter(|(_, v)| **v > 1e-10)
            .map(|(e, v)| e / v.sqrt())
            .collect();
        let m = eps.len().max(1) as f64;
        let q1 = eps.iter().sum::<f64>() / m;
        let q2 = eps.iter().map(|e| e * e).sum::<f64>() / m;
        let logs: Vec<f64> = variances.iter().filter(|v| **v > 1e-10).map(|v| v.ln()).collect();
        let cr = q2 * (logs.iter().sum::<f64>() / logs.len().max(1) as f64).exp();
        CrossValidation {
            errors,
            variances,
            mean_error,
            rmse,
            q1,
            q2,
            cr,
        }
    }
}

/// Leave-one-out cross-validation of the global (exact) kriging model.
///
/// # Errors
/// [`GisError::Invalid`] when the full system is singular.
pub fn cross_validate(k: &Kriging) -> Result<CrossValidation, GisError> {
    let (inv, dual) = k.p.full_inverse()?;
    let (errors, variances) = (0..k.len())
        .map(|i| {
            let q = inv[(i, i)];
            (dual[i] / q, 1.0 / q)
        })
        .unzip();
    Ok(CrossValidation::from_errors(errors, variances))
}

impl MovingKriging {
    /// Leave-one-out cross-validation in the moving neighbourhood.
    ///
    /// # Errors
    /// [`GisError::Invalid`] when a local system is singular.
    pub fn cross_validate(&self) -> Result<CrossValidation, GisError> {
        let out: Vec<(f64, f64)> = (0..self.len())
            .into_par_iter()
            .map_init(MovingKriging::scratch, |s, i| self.predict_without(i, s))
            .collect::<Result<_, _>>()?;
        let (errors, variances): (Vec<f64>, Vec<f64>) = out
            .into_iter()
            .enumerate()
            .map(|(i, (zhat, v))| (self.datum(i) - zhat, v))
            .unzip();
        Ok(CrossValidation::from_errors(errors, variances))
    }
}
