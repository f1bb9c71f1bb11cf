//! Variogram models in PyKrige's parameterisation (P. K. Kitanidis, *Introduction to
//! Geostatistics*, 1997, ch. 2; formulas as in PyKrige's `variogram_models.py`).

use crate::GisError;
use std::fmt;
use std::str::FromStr;

/// The shape of a variogram model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Model {
    /// `slope·h + nugget`; parameters `[slope, nugget]`.
    Linear,
    /// `scale·h^exponent + nugget`; parameters `[scale, exponent, nugget]`.
    Power,
    /// `psill·(1 − exp(−h² / (4/7·range)²)) + nugget`.
    Gaussian,
    /// `psill·(3h/(2·range) − h³/(2·range³)) + nugget` for `h ≤ range`, `psill + nugget` beyond.
    Spherical,
    /// `psill·(1 − exp(−h / (range/3))) + nugget` (range is the practical range).
    Exponential,
    /// `psill·(1 − (1 − h/(range/3))·exp(−h/(range/3))) + nugget`.
    HoleEffect,
}

impl Model {
    /// Every model, in PyKrige's order.
    pub const ALL: [Model; 6] = [
        Model::Linear,
        Model::Power,
        Model::Gaussian,
        Model::Spherical,
        Model::Exponential,
        Model::HoleEffect,
    ];

    /// PyKrige's name of the model (`"hole-effect"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Model::Linear => "linear",
            Model::Power => "power",
            Model::Gaussian => "gaussian",
            Model::Spherical => "spherical",
            Model::Exponential => "exponential",
            Model::HoleEffect => "hole-effect",
        }
    }

    /// How many parameters the model takes (2 for linear, else 3).
    pub fn n_params(self) -> usize {
        if self == Model::Linear { 2 } else { 3 }
    }

    /// Whether the model has a sill (all but linear and power).
    pub fn is_bounded(self) -> bool {
        !matches!(self, Model::Linear | Model::Power)
    }
}

impl fmt::Display for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Model {
    type Err = GisError;

    fn from_str(s: &str) -> Result<Model, GisError> {
        let key = s.trim().to_ascii_lowercase().replace('_', "-");
        Model::ALL
            .into_iter()
            .find(|m| m.name() == key || (key == "hole" && *m == Model::HoleEffect))
            .ok_or_else(|| {
                GisError::Invalid(format!(
                    "unknown variogram model {s:?}; expected one of linear, power, gaussian, \
                     spherical, exponential, hole-effect"
                ))
            })
    }
}

/// A variogram model with its parameters, stored as PyKrige stores them internally
/// (`variogram_model_parameters`): `[slope, nugget]` for linear, `[scale, exponent, nugget]` for
/// power, `[psill, range, nugget]` (partial sill) for the others.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Variogram {
    /// The model.
    pub model: Model,
    /// Its parameters (the third is unused for linear).
    pub params: [f64; 3],
}

impl Variogram {
    /// A variogram from its internal parameters (partial sill first), checking they are usable.
    ///
    /// # Errors
    /// [`GisError::Invalid`] for a wrong number of parameters, non-finite values, a range that
    /// is not positive, or a power exponent outside (0, 2).
    pub fn new(model: Model, params: &[f64]) -> Result<Variogram, GisError> {
        let bad = |m: String| GisError::Invalid(format!("{model} variogram: {m}"));
        if params.len() != model.n_params() {
            return Err(bad(format!(
                "takes {} parameters, got {}",
                model.n_params(),
                params.len()
            )));
        }
        if params.iter().any(|p| !p.is_finite()) {
            return Err(bad(format!("parameters must be finite numbers, got {params:?}")));
        }
        let mut p = [0.0; 3];
        p[..params.len()].copy_from_slice(params);
        if model.is_bounded() && p[1] <= 0.0 {
            return Err(bad(format!("range must be positive, got {}", p[1])));
        }
        if model == Model::Power && !(p[1] > 0.0 && p[1] < 2.0) {
            return Err(bad(format!("exponent must lie in (0, 2), got {}", p[1])));
        }
        Ok(Variogram { model, params: p })
    }

    /// A variogram from the list PyKrige's `variogram_parameters=[...]` takes: for the bounded
    /// models PyKrige reads a list as `[sill, range, nugget]` and keeps `psill = sill − nugget`
    /// (`core._make_variogram_parameter_list`); linear and power lists are kept as given.
    ///
    /// # Errors
    /// As [`Variogram::new`].
    pub fn from_pykrige_list(model: Model, list: &[f64]) -> Result<Variogram, GisError> {
        match (model.is_bounded(), list) {
            (true, [sill, range, nugget]) => Variogram::new(model, &[sill - nugget, *range, *nugget]),
            _ => Variogram::new(model, list),
        }
    }

    /// The nugget.
    pub fn nugget(&self) -> f64 {
        match self.model {
            Model::Linear => self.params[1],
            _ => self.params[2],
        }
    }

    /// γ(h), the semivariance at lag `h` (including the nugget at `h = 0`, as PyKrige does; the
    /// kriging matrix sets its diagonal to 0 separately).
    #[inline]
    pub fn gamma(&self, h: f64) -> f64 {
        Self::eval(self.model, &self.params, h)
    }

    /// γ(h) for `model` with parameters `p` (used by the fit with trial parameters).
    #[inline(always)]
    pub(crate) fn eval(model: Model, p: &[f64; 3], h: f64) -> f64 {
        let [a, b, c] = *p;
        match model {
            Model::Linear => a * h + b,
            Model::Power => a * h.powf(b) + c,
            Model::Gaussian => {
                let r = b * 4.0 / 7.0;
                a * (1.0 - (-(h * h) / (r * r)).exp()) + c
            }
            Model::Spherical => {
                // Both sides, then a select: branch-free, so batched lags vectorise.
                let inside = a * ((3.0 * h) / (2.0 * b) - (h * h * h) / (2.0 * b * b * b)) + c;
                if h <= b { inside } else { a + c }
            }
            Model::Exponential => a * (1.0 - (-h / (b / 3.0)).exp()) + c,
            Model::HoleEffect => {
                let s = h / (b / 3.0);
                a * (1.0 - (1.0 - s) * (-s).exp()) + c
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn pykrige_lists_give_the_partial_sill() {
        let v = Variogram::from_pykrige_list(Model::Spherical, &[10.0, 3.0, 2.0]).unwrap();
        assert_eq!(v.params, [8.0, 3.0, 2.0]);
        assert_eq!(v.gamma(5.0), 10.0);
        let l = Variogram::from_pykrige_list(Model::Linear, &[2.0, 1.0]).unwrap();
        assert_eq!(l.gamma(3.0), 7.0);
        assert!(Variogram::new(Model::Power, &[1.0, 2.5, 0.0]).is_err());
        assert!(Variogram::new(Model::Gaussian, &[1.0, 0.0, 0.0]).is_err());
        assert_eq!("Hole_Effect".parse::<Model>().unwrap(), Model::HoleEffect);
    }

    #[test]
    fn practical_ranges() {
        let e = Variogram::new(Model::Exponential, &[1.0, 3.0, 0.0]).unwrap();
        assert!((e.gamma(3.0) - (1.0 - (-3.0f64).exp())).abs() < 1e-15);
        let g = Variogram::new(Model::Gaussian, &[1.0, 7.0, 0.0]).unwrap();
        assert!((g.gamma(4.0) - (1.0 - (-1.0f64).exp())).abs() < 1e-15);
    }
}
