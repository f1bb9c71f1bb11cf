//! Kriging of scattered point data onto points or grids, compatible with PyKrige
//! (B. S. Murphy et al., PyKrige 1.7): the same variogram models and parameters, ordinary and
//! universal kriging (regional linear and external drift), the same estimates and kriging
//! variances.
//!
//! ```
//! use hod_gis::kriging::{Anisotropy, Drift, Kriging, Model, Predict, Variogram};
//! let (x, y, z) = ([0.0, 1.0, 0.0, 1.0], [0.0, 0.0, 1.0, 1.0], [1.0, 2.0, 3.0, 4.0]);
//! let v = Variogram::from_pykrige_list(Model::Exponential, &[1.0, 2.0, 0.0])?;
//! let k = Kriging::new(&x, &y, &z, v, &Drift::None, Anisotropy::default())?;
//! let p = k.predict_points(&[0.0, 0.5], &[0.0, 0.5])?;
//! assert!((p.z[0] - 1.0).abs() < 1e-12 && p.variance[0].abs() < 1e-12);
//! assert!((p.z[1] - 2.5).abs() < 1e-12);
//! # Ok::<(), hod_gis::GisError>(())
//! ```

mod batched;
mod cv;
mod drift;
mod fit;
mod neighbourhood;
mod solver;
mod variogram;

pub use cv::{CrossValidation, cross_validate};
pub use drift::{Drift, ExternalDrift};
pub use fit::{ExperimentalVariogram, FitOptions, experimental_variogram, fit_variogram};
pub use neighbourhood::MovingKriging;
pub use solver::{Anisotropy, Kriging, Predict, Prediction};
pub use variogram::{Model, Variogram};
