//! `hod krige`: kriging of scattered points onto a regular grid, PyKrige-compatible.

use anyhow::{Context, bail, ensure};
use hod_gis::kriging::{
    Anisotropy, CrossValidation, Drift, ExternalDrift, FitOptions, Kriging, Model, MovingKriging, Predict,
    Prediction, Variogram, cross_validate, fit_variogram,
};
use hod_gis::{GridGeometry, Raster, ascii};
use std::path::{Path, PathBuf};

/// Arguments of `hod krige`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Points: `x y z` per line (whitespace, comma or semicolon separated); a header line naming
    /// columns x, y and z (or value) picks those columns, otherwise the first three are used.
    #[arg(long)]
    points: PathBuf,
    /// Variogram model: linear, power, gaussian, spherical, exponential, hole-effect.
    #[arg(long)]
    model: String,
    /// Variogram parameters as PyKrige's `variogram_parameters` list: SILL,RANGE,NUGGET (PyKrige
    /// keeps psill = sill − nugget), SLOPE,NUGGET for linear, SCALE,EXPONENT,NUGGET for power.
    /// Without it the variogram is fitted to the data as PyKrige fits it.
    #[arg(long, allow_hyphen_values = true)]
    params: Option<String>,
    /// Lag bins of the experimental variogram when fitting (PyKrige's nlags).
    #[arg(long, default_value_t = 6)]
    nlags: usize,
    /// Weight the fit towards short lags (PyKrige's weight=True).
    #[arg(long)]
    weight: bool,
    /// Universal kriging drift: `linear` (PyKrige's regional_linear).
    #[arg(long, conflicts_with = "external_drift")]
    drift: Option<String>,
    /// Universal kriging with an external drift raster (.asc or .tif), sampled bilinearly at cell
    /// centres as PyKrige's external_Z.
    #[arg(long)]
    external_drift: Option<PathBuf>,
    /// Anisotropy SCALING,ANGLE (PyKrige's anisotropy_scaling and anisotropy_angle in degrees).
    #[arg(long, allow_hyphen_values = true)]
    anisotropy: Option<String>,
    /// Output grid of cell centres: XMIN,DX,NX,YMIN,DY,NY (x = XMIN + i·DX, y = YMIN + j·DY).
    #[arg(long, allow_hyphen_values = true)]
    grid: String,
    /// Estimates: .asc (KT3D layout: XLLCENTER/YLLCENTER/DX/DY) or .nc (CF netCDF).
    #[arg(short, long)]
    output: PathBuf,
    /// Kriging variances, .asc or .nc.
    #[arg(long)]
    variance: Option<PathBuf>,
    /// Krige each cell from its K nearest points only (moving neighbourhood) instead of all.
    #[arg(long)]
    neighbours: Option<usize>,
    /// Print leave-one-out cross-validation scores.
    #[arg(long)]
    cv: bool,
}

/// Runs `hod krige`.
pub fn run(a: Args, json: bool) -> anyhow::Result<()> {
    let (x, y, z) = read_points(&a.points)?;
    let model: Model = a.model.parse()?;
    let drift = match (a.drift.as_deref(), &a.external_drift) {
        (None, None) => Drift::None,
        (Some("linear" | "regional_linear" | "regional-linear"), None) => Drift::RegionalLinear,
        (Some(other), _) => bail!("unknown --drift {other:?}; expected linear (or use --external-drift)"),
        (None, Some(path)) => {
            Drift::External(ExternalDrift::from_raster(&crate::dem::read_raster(path, None)?))
        }
    };
    let anisotropy = match &a.anisotropy {
        Some(s) => {
            let v = numbers(s, "--anisotropy")?;
            ensure!(v.len() == 2, "--anisotropy takes SCALING,ANGLE, got {s:?}");
            Anisotropy {
                scaling: v[0],
                angle: v[1],
            }
        }
        None => Anisotropy::default(),
    };
    let variogram = match &a.params {
        Some(p) => Variogram::from_pykrige_list(model, &numbers(p, "--params")?)?,
        None => {
            let opts = FitOptions {
                nlags: a.nlags,
                weight: a.weight,
                anisotropy,
            };
            fit_variogram(&x, &y, &z, model, &opts)?.0
        }
    };
    let g = numbers(&a.grid, "--grid")?;
    let [xmin, dx, nx, ymin, dy, ny] = g[..] else {
        bail!("--grid takes XMIN,DX,NX,YMIN,DY,NY, got {:?}", a.grid);
    };
    ensure!(
        dx > 0.0 && dy > 0.0 && nx >= 1.0 && ny >= 1.0 && nx.fract() == 0.0 && ny.fract() == 0.0,
        "--grid: DX and DY must be positive and NX, NY whole numbers ≥ 1, got {:?}",
        a.grid
    );
    ensure!(nx * ny <= 1e9, "--grid of {nx} × {ny} cells is too large");
    for out in std::iter::once(&a.output).chain(&a.variance) {
        out_kind(out)?;
    }
    let (nx, ny) = (nx as usize, ny as usize);
    let gx: Vec<f64> = (0..nx).map(|i| xmin + i as f64 * dx).collect();
    let gy: Vec<f64> = (0..ny).map(|j| ymin + j as f64 * dy).collect();
    let (pred, cv) = match a.neighbours {
        Some(k) => {
            let m = MovingKriging::new(&x, &y, &z, variogram, &drift, anisotropy, k)?;
            (
                m.predict_grid(&gx, &gy)?,
                a.cv.then(|| m.cross_validate()).transpose()?,
            )
        }
        None => {
            let m = Kriging::new(&x, &y, &z, variogram, &drift, anisotropy)?;
            (
                m.predict_grid(&gx, &gy)?,
                a.cv.then(|| cross_validate(&m)).transpose()?,
            )
        }
    };
    let geom = GridGeometry {
        cols: nx,
        rows: ny,
        x0: xmin - dx / 2.0,
        y0: ymin - dy / 2.0 + ny as f64 * dy,
        dx,
        dy,
        crs: None,
    };
    let Prediction { z: est, variance } = pred;
    write_grid(&a.output, "z", &geom, &gx, &gy, est)?;
    if let Some(path) = &a.variance {
        write_grid(path, "variance", &geom, &gx, &gy, variance)?;
    }
    report(&a, &variogram, x.len(), cv.as_ref(), json);
    Ok(())
}

fn report(a: &Args, v: &Variogram, n: usize, cv: Option<&CrossValidation>, json: bool) {
    let cv_json = cv.map(|c| {
        serde_json::json!({"mean_error": c.mean_error, "rmse": c.rmse, "q1": c.q1, "q2": c.q2, "cr": c.cr})
    });
    if json {
        crate::output::line(serde_json::json!({
            "output": a.output,
            "points": n,
            "model": v.model.name(),
            "variogram_model_parameters": &v.params[..v.model.n_params()],
            "cross_validation": cv_json,
        }));
        return;
    }
    crate::output::line(format!(
        "kriged {n} points ({} variogram, parameters {:?}) → {}",
        v.model,
        &v.params[..v.model.n_params()],
        a.output.display()
    ));
    if let Some(c) = cv {
        crate::output::line(format!(
            "leave-one-out: mean error {:.6}, RMSE {:.6}, Q1 {:.4}, Q2 {:.4}, cR {:.6}",
            c.mean_error, c.rmse, c.q1, c.q2, c.cr
        ));
    }
}

fn numbers(s: &str, what: &str) -> anyhow::Result<Vec<f64>> {
    s.split(',')
        .map(|t| {
            t.trim()
                .parse::<f64>()
                .with_context(|| format!("{what}: {t:?} is not a number"))
        })
        .collect()
}

/// Reads x, y, z columns (see [`Args::points`]).
fn read_points(path: &Path) -> anyhow::Result<(Vec<f64>, Vec<f64>, Vec<f64>)> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let split = |line: &str| -> Vec<String> {
        line.split(|c: char| c == ',' || c == ';' || c.is_whitespace())
            .filter(|t| !t.is_empty())
            .map(|t| t.trim_matches('"').to_string())
            .collect()
    };
    let mut cols = [0usize, 1, 2];
    let (mut x, mut y, mut z) = (Vec::new(), Vec::new(), Vec::new());
    for (no, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let toks = split(line);
        if x.is_empty() && toks.iter().any(|t| t.parse::<f64>().is_err()) {
            // A header: pick the named columns if present.
            let find = |names: &[&str]| {
                toks.iter()
                    .position(|t| names.contains(&t.to_ascii_lowercase().as_str()))
            };
            if let (Some(a), Some(b), Some(c)) = (
                find(&["x", "lon", "longitude", "easting"]),
                find(&["y", "lat", "latitude", "northing"]),
                find(&["z", "value", "values"]),
            ) {
                cols = [a, b, c];
            }
            continue;
        }
        let get = |k: usize| -> anyhow::Result<f64> {
            let t = toks
                .get(cols[k])
                .with_context(|| format!("{} line {}: fewer than 3 columns", path.display(), no + 1))?;
            t.parse()
                .with_context(|| format!("{} line {}: {t:?} is not a number", path.display(), no + 1))
        };
        x.push(get(0)?);
        y.push(get(1)?);
        z.push(get(2)?);
    }
    ensure!(!x.is_empty(), "{}: no points", path.display());
    Ok((x, y, z))
}

#[derive(Clone, Copy)]
enum OutKind {
    Ascii,
    Netcdf,
    Geotiff,
}

fn out_kind(path: &Path) -> anyhow::Result<OutKind> {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("asc") => Ok(OutKind::Ascii),
        Some("nc") => Ok(OutKind::Netcdf),
        Some("tif" | "tiff") => Ok(OutKind::Geotiff),
        _ => bail!("{}: output must end in .asc, .tif or .nc", path.display()),
    }
}

/// Writes a south-first (PyKrige order) grid of values.
fn write_grid(
    path: &Path,
    name: &str,
    geom: &GridGeometry,
    gx: &[f64],
    gy: &[f64],
    values: Vec<f64>,
) -> anyhow::Result<()> {
    match out_kind(path)? {
        kind @ (OutKind::Ascii | OutKind::Geotiff) => {
            let north_first = values.chunks(geom.cols.max(1)).rev().flatten().copied().collect();
            let r = Raster {
                geom: geom.clone(),
                data: north_first,
                nodata: None,
            };
            if let OutKind::Geotiff = kind {
                return crate::dem::write_tif(path, &r);
            }
            let partial = path.with_extension("asc.partial");
            std::fs::write(&partial, ascii::write(&r, ascii::Header::Center))
                .and_then(|()| std::fs::rename(&partial, path))
                .with_context(|| format!("cannot write {}", path.display()))
        }
        OutKind::Netcdf => {
            let cube = hod_query::DataCube {
                name: name.to_string(),
                dims: vec!["y".into(), "x".into()],
                shape: vec![gy.len(), gx.len()],
                coords: vec![gy.to_vec(), gx.to_vec()],
                time_dims: vec![false, false],
                values,
                attrs: [(
                    "long_name".to_string(),
                    serde_json::Value::from(if name == "z" {
                        "kriging estimate"
                    } else {
                        "kriging variance"
                    }),
                )]
                .into_iter()
                .collect(),
            };
            let globals = [("source".to_string(), serde_json::Value::from("hod krige"))]
                .into_iter()
                .collect();
            hod_query::netcdf::write_netcdf(path, &[cube], &globals)
                .with_context(|| path.display().to_string())
        }
    }
}
