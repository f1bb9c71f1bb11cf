//! Ingest hooks: files checked against the dataset's profile, variables documented from it, and
//! the store's STAC refreshed after each publish.

use crate::profile::{self, Profile};
use hod_index::{DatasetMeta, IndexError, IngestHooks, SourceScan, VariableMeta};
use hod_query::select::{Role, is_longitude, role};

/// Relative tolerance on grid spacing (coordinates are often float32).
const STEP_TOLERANCE: f64 = 1e-4;

/// What `hod ingest` runs around its publish (see [`IngestHooks`]).
#[derive(Debug, Clone, Default)]
pub struct Hooks {
    /// The profile asked for (`--profile`); a dataset that has one keeps being checked against it.
    pub profile: Option<Profile>,
}

impl Hooks {
    /// Hooks with the profile called `name`, if any.
    ///
    /// # Errors
    /// An unknown profile name.
    pub fn new(profile: Option<&str>) -> Result<Hooks, crate::CatalogError> {
        Ok(Hooks {
            profile: profile.map(profile::find).transpose()?,
        })
    }
}

fn invalid(e: crate::CatalogError) -> IndexError {
    IndexError::Invalid(e.to_string())
}

impl IngestHooks for Hooks {
    fn before_publish(&self, meta: &mut DatasetMeta, scans: &[SourceScan]) -> Result<(), IndexError> {
        let profile = match (&self.profile, &meta.profile) {
            (Some(p), Some(had)) if *had != p.name => {
                return Err(IndexError::Invalid(format!(
                    "dataset '{}' was ingested with profile '{had}', not '{}'",
                    meta.name, p.name
                )));
            }
            (Some(p), _) => p.clone(),
            (None, Some(had)) => profile::find(had).map_err(invalid)?,
            (None, None) => return Ok(()),
        };
        for scan in scans {
            check_file(&profile, scan)?;
        }
        document(&profile, meta);
        Ok(())
    }

    fn after_publish<'a>(
        &'a self,
        store: &'a hod_store::Store,
        meta: &'a DatasetMeta,
    ) -> futures::future::BoxFuture<'a, Result<(), IndexError>> {
        Box::pin(async move { crate::stac::update(store, meta).await.map_err(invalid) })
    }
}

/// Variables that describe others rather than hold data: CF bounds, scalar positions.
fn is_auxiliary(name: &str, v: &hod_core::ScannedVariable, all: &[hod_core::ScannedVariable]) -> bool {
    let short = name.rsplit('/').next().unwrap_or(name);
    let bounds_of_other = all.iter().any(|o| {
        o.meta
            .attrs
            .get("bounds")
            .and_then(|b| b.as_str())
            .map(|b| b.rsplit('/').next().unwrap_or(b))
            == Some(short)
    });
    let vm = as_var(&v.meta);
    let units = v.meta.attrs.get("units").and_then(|u| u.as_str()).unwrap_or("");
    // Listed in another variable's `coordinates` (GRIB scans' step, valid_time, number...).
    let named_coordinate = all.iter().any(|o| {
        o.meta
            .attrs
            .get("coordinates")
            .and_then(|c| c.as_str())
            .is_some_and(|c| c.split_whitespace().any(|x| x == short))
    });
    bounds_of_other
        || named_coordinate
        || v.meta.shape.is_empty()
        || units.contains(" since ")
        || short.ends_with("_bnds")
        || short.ends_with("_bounds")
        || hod_core::is_coordinate(name, &v.meta)
        || role(name, &vm) != Role::Other && v.meta.dims.len() == 1
        || short == "spatial_ref"
        || short == "crs"
}

fn as_var(a: &hod_core::ArrayMeta) -> VariableMeta {
    VariableMeta {
        array: a.clone(),
        per_source_packing: false,
    }
}

/// A file contradicts its profile: an unknown variable, another grid spacing, data outside the
/// product's extent, a projected grid where the product is on latitude/longitude.
fn check_file(p: &Profile, scan: &SourceScan) -> Result<(), IndexError> {
    let fail = |what: String| IndexError::Mismatch {
        url: scan.url.clone(),
        what: format!("{what} (profile '{}')", p.name),
    };
    let vars = &scan.file.variables;
    for v in vars {
        if !is_auxiliary(&v.name, v, vars) && p.variable(&v.name).is_none() {
            let known: Vec<&str> = p.variables.iter().map(|s| s.name.as_str()).collect();
            return Err(fail(format!(
                "variable '{}' is not a variable of this product (it has: {})",
                v.name,
                known.join(", ")
            )));
        }
    }
    let Some(grid) = &p.grid else { return Ok(()) };
    for v in vars.iter().filter(|v| v.meta.dims.len() == 1) {
        let vm = as_var(&v.meta);
        let r = role(&v.name, &vm);
        let (want, lo, hi) = match r {
            Role::X => (grid.dx, p.extent.bbox[0], p.extent.bbox[2]),
            Role::Y => (grid.dy, p.extent.bbox[1], p.extent.bbox[3]),
            _ => continue,
        };
        let Some(values) = scan.coords.get(&v.name) else {
            continue;
        };
        let geographic = match r {
            Role::X => is_longitude(&v.name, &vm),
            _ => vm
                .array
                .attrs
                .get("units")
                .and_then(|u| u.as_str())
                .is_some_and(|u| u.starts_with("degree")),
        };
        if grid.crs == "EPSG:4326" && !geographic {
            return Err(fail(format!(
                "variable '{}' is a projected coordinate, but the product's grid is {}",
                v.name, grid.crs
            )));
        }
        let step = match values.as_slice() {
            [a, b, ..] => Some((b - a).abs()),
            _ => None,
        };
        if let (Some(want), Some(step)) = (want, step)
            && (step - want).abs() > STEP_TOLERANCE * want.max(1e-12)
        {
            return Err(fail(format!(
                "variable '{}' has a grid step of {step}, the product's native grid has {want}",
                v.name
            )));
        }
        let (min, max) = values
            .iter()
            .fold((f64::MAX, f64::MIN), |(a, b), &x| (a.min(x), b.max(x)));
        let inside = if r == Role::X {
            let (w, e) = crate::extent::wrap_lon(min, max);
            (hi - lo >= 360.0) || (w >= lo && e <= hi && w <= e)
        } else {
            min >= lo - 1e-6 && max <= hi + 1e-6
        };
        if !inside {
            return Err(fail(format!(
                "variable '{}' spans {min}..{max}, outside the product's extent {lo}..{hi}",
                v.name
            )));
        }
    }
    Ok(())
}

/// Fills `long_name`, `standard_name` and `units` where the files leave them out, and records each
/// variable's time convention (`hod_time_convention`, CF `cell_methods`) and the profile name.
fn document(p: &Profile, meta: &mut DatasetMeta) {
    for (name, v) in meta.variables.iter_mut() {
        let Some(spec) = p.variable(name) else { continue };
        let attrs = &mut v.array.attrs;
        let mut fill = |k: &str, val: &str| {
            attrs.entry(k.to_string()).or_insert_with(|| val.into());
        };
        fill("long_name", &spec.long_name);
        fill("units", &spec.units);
        if let Some(s) = &spec.standard_name {
            fill("standard_name", s);
        }
        if let Some(c) = spec.convention.cell_methods() {
            fill("cell_methods", c);
        }
        attrs.insert("hod_time_convention".into(), spec.convention.as_str().into());
    }
    meta.profile = Some(p.name.clone());
}
