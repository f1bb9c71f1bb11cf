//! Dataset profiles: what a data product is (provider, licence, extent, grid) and what its
//! variables mean (names, units, CF standard names, time conventions). They are data files,
//! `catalog/*.toml` in the repository, embedded in the binary.

use crate::CatalogError;
use serde::{Deserialize, Serialize};

/// The profile files, embedded so `hod` works from any directory.
pub const FILES: &[(&str, &str)] = &[
    ("dem.toml", include_str!("../../../catalog/dem.toml")),
    ("era5-land.toml", include_str!("../../../catalog/era5-land.toml")),
    ("era5.toml", include_str!("../../../catalog/era5.toml")),
    ("gauges.toml", include_str!("../../../catalog/gauges.toml")),
    ("gfs.toml", include_str!("../../../catalog/gfs.toml")),
    ("gpm-imerg.toml", include_str!("../../../catalog/gpm-imerg.toml")),
    ("landcover.toml", include_str!("../../../catalog/landcover.toml")),
];

/// A data product.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Short id used on the command line (`hod ingest --profile era5-land`).
    pub name: String,
    /// Product title.
    pub title: String,
    /// What the product is.
    pub description: String,
    /// Kind of data (reanalysis, forecast, elevation, gauges...).
    pub kind: String,
    /// Who makes and distributes it.
    pub provider: String,
    /// The provider's page for the product.
    pub provider_url: String,
    /// SPDX licence id, or `other` (then see `licence_url` and `licence_note`).
    pub licence: String,
    /// The licence text.
    pub licence_url: String,
    /// The licence in one sentence, when it is not an SPDX licence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub licence_note: Option<String>,
    /// How to cite it.
    pub citation: String,
    /// Its DOI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub doi: Option<String>,
    /// Spatial and temporal resolution, in words.
    pub resolution: String,
    /// How often it is updated, and how late.
    pub update_frequency: String,
    /// Release latency as an ISO 8601 duration (near-real-time products).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<String>,
    /// How to get it (protocols, services).
    pub access: Vec<String>,
    /// Search keywords.
    #[serde(default)]
    pub keywords: Vec<String>,
    /// Extent of the whole product.
    pub extent: Extent,
    /// Native grid; ingest checks files against it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grid: Option<Grid>,
    /// Time axis.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<TimeAxis>,
    /// Variables.
    pub variables: Vec<VariableSpec>,
}

/// Extent of a product.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Extent {
    /// `[west, south, east, north]`, degrees.
    pub bbox: [f64; 4],
    /// First time (RFC 3339), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    /// Last time; none while the product is updated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
}

/// Native grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grid {
    /// CRS (`EPSG:4326`).
    pub crs: String,
    /// Spacing along x, in CRS units; absent when it varies (Copernicus DEM above 50°).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dx: Option<f64>,
    /// Spacing along y.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dy: Option<f64>,
}

/// Time axis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeAxis {
    /// Step, ISO 8601 duration (`PT1H`).
    pub step: String,
    /// Forecast runs (hours UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runs: Option<Vec<String>>,
    /// Forecast hours, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forecast_hours: Option<String>,
}

/// What a value at a time stamp stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Convention {
    /// The state at the time stamp.
    Instantaneous,
    /// Accumulated from 00 UTC to the time stamp; the 00 UTC value is the previous day's total
    /// (ERA5-Land).
    #[serde(rename = "accumulated_since_00utc")]
    AccumulatedSince00Utc,
    /// Accumulated over the hour ending at the time stamp (ERA5 hourly reanalysis).
    AccumulatedOverHour,
    /// Mean over the hour ending at the time stamp (ERA5 mean rates).
    MeanOverHour,
    /// Mean over the 30 minutes starting at the time stamp (IMERG half-hourly).
    MeanOverHalfHour,
    /// Total over the day starting at the time stamp.
    AccumulatedOverDay,
    /// Mean over the day starting at the time stamp.
    MeanOverDay,
    /// Accumulated since the start of the current 6-hour bucket (GFS APCP).
    #[serde(rename = "accumulated_6h_bucket")]
    Accumulated6hBucket,
    /// Mean since the start of the current 6-hour bucket (GFS *ave* fluxes).
    #[serde(rename = "mean_6h_bucket")]
    Mean6hBucket,
    /// Time-invariant (elevation, land cover, masks).
    Static,
    /// A count of samples behind an aggregate.
    Count,
}

impl Convention {
    /// The serialized name (`accumulated_since_00utc`).
    pub fn as_str(self) -> &'static str {
        match self {
            Convention::Instantaneous => "instantaneous",
            Convention::AccumulatedSince00Utc => "accumulated_since_00utc",
            Convention::AccumulatedOverHour => "accumulated_over_hour",
            Convention::MeanOverHour => "mean_over_hour",
            Convention::MeanOverHalfHour => "mean_over_half_hour",
            Convention::AccumulatedOverDay => "accumulated_over_day",
            Convention::MeanOverDay => "mean_over_day",
            Convention::Accumulated6hBucket => "accumulated_6h_bucket",
            Convention::Mean6hBucket => "mean_6h_bucket",
            Convention::Static => "static",
            Convention::Count => "count",
        }
    }

    /// The CF `cell_methods` that goes with it, when there is one.
    pub fn cell_methods(self) -> Option<&'static str> {
        match self {
            Convention::Instantaneous => Some("time: point"),
            Convention::AccumulatedSince00Utc
            | Convention::AccumulatedOverHour
            | Convention::AccumulatedOverDay
            | Convention::Accumulated6hBucket => Some("time: sum"),
            Convention::MeanOverHour
            | Convention::MeanOverHalfHour
            | Convention::MeanOverDay
            | Convention::Mean6hBucket => Some("time: mean"),
            Convention::Static | Convention::Count => None,
        }
    }
}

/// One variable of a product.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariableSpec {
    /// Short name as in the files (`tp`).
    pub name: String,
    /// Other names the files use for it (GRIB shortName `2t`, NCEP `TMP`...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// Name in CDS requests (`total_precipitation`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cds_name: Option<String>,
    /// Long name (`Total precipitation`).
    pub long_name: String,
    /// Units as the provider writes them.
    pub units: String,
    /// CF standard name, where one matches exactly (sign and meaning).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standard_name: Option<String>,
    /// ECMWF GRIB paramId.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grib_param_id: Option<u32>,
    /// GRIB2 discipline, parameter category, parameter number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grib2: Option<[u8; 3]>,
    /// Vertical level, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    /// What a value at a time stamp stands for.
    pub convention: Convention,
    /// Notes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl VariableSpec {
    /// Whether a file's variable name (or the last part of its group path) is this variable.
    pub fn matches(&self, name: &str) -> bool {
        let short = name.rsplit('/').next().unwrap_or(name);
        short == self.name || self.aliases.iter().any(|a| a == short)
    }
}

impl Profile {
    /// The profile's variable that a file variable is.
    pub fn variable(&self, name: &str) -> Option<&VariableSpec> {
        self.variables.iter().find(|v| v.matches(name))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    profile: Vec<toml::Table>,
}

/// Parses one profile file; `inherits = "other"` starts a profile from an earlier one of the same
/// file, its own keys replacing the inherited ones.
///
/// # Errors
/// [`CatalogError::Profile`] naming the file and what breaks the schema.
pub fn parse(file: &str, text: &str) -> Result<Vec<Profile>, CatalogError> {
    let bad = |what: String| CatalogError::Profile {
        file: file.to_string(),
        what,
    };
    let parsed: File = toml::from_str(text).map_err(|e| bad(e.to_string()))?;
    let mut tables: Vec<toml::Table> = Vec::new();
    for mut t in parsed.profile {
        if let Some(parent) = t.remove("inherits") {
            let parent = parent
                .as_str()
                .ok_or_else(|| bad("'inherits' must be a profile name".into()))?;
            let mut base = tables
                .iter()
                .find(|p| p.get("name").and_then(|n| n.as_str()) == Some(parent))
                .cloned()
                .ok_or_else(|| {
                    bad(format!(
                        "'inherits = \"{parent}\"' names no earlier profile of this file"
                    ))
                })?;
            base.extend(t);
            t = base;
        }
        tables.push(t);
    }
    let profiles = tables
        .into_iter()
        .map(|t| {
            let name = t.get("name").and_then(|n| n.as_str()).unwrap_or("?").to_string();
            toml::Value::Table(t)
                .try_into::<Profile>()
                .map_err(|e| bad(format!("profile '{name}': {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    for p in &profiles {
        check(p).map_err(|w| bad(format!("profile '{}': {w}", p.name)))?;
    }
    Ok(profiles)
}

/// Checks what serde cannot: unique variable names, a sane bbox.
fn check(p: &Profile) -> Result<(), String> {
    let [w, s, e, n] = p.extent.bbox;
    let lon = -180.0..=180.0;
    let ok = lon.contains(&w) && lon.contains(&e) && -90.0 <= s && s <= n && n <= 90.0;
    if !ok {
        return Err(format!(
            "extent.bbox {:?} is not W,S,E,N in degrees",
            p.extent.bbox
        ));
    }
    for (i, v) in p.variables.iter().enumerate() {
        let names = std::iter::once(&v.name).chain(&v.aliases);
        for name in names {
            if p.variables[..i].iter().any(|o| o.matches(name)) {
                return Err(format!("variable name '{name}' is used twice"));
            }
        }
        if v.long_name.is_empty() || v.units.is_empty() {
            return Err(format!("variable '{}' needs a long_name and units", v.name));
        }
    }
    Ok(())
}

/// Every embedded profile.
///
/// # Errors
/// A file that breaks the schema (the tests keep this from shipping).
pub fn all() -> Result<Vec<Profile>, CatalogError> {
    let mut out: Vec<Profile> = Vec::new();
    for (file, text) in FILES {
        for p in parse(file, text)? {
            if out.iter().any(|o| o.name == p.name) {
                return Err(CatalogError::Profile {
                    file: (*file).to_string(),
                    what: format!("profile name '{}' is used twice", p.name),
                });
            }
            out.push(p);
        }
    }
    Ok(out)
}

/// The embedded profile called `name`.
///
/// # Errors
/// [`CatalogError::NoProfile`] listing the names there are.
pub fn find(name: &str) -> Result<Profile, CatalogError> {
    let all = all()?;
    let known = all.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(", ");
    all.iter()
        .find(|p| p.name == name)
        .cloned()
        .ok_or_else(|| CatalogError::NoProfile {
            name: name.to_string(),
            known,
        })
}
