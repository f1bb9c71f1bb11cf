//! `hod read`: a selection of a dataset, as statistics or a file (.nc, .zarr, .csv, .json).

use anyhow::Context;
use hod_query::{Bbox, Request, parse_time};
use hod_store::Store;
use serde_json::{Map, Value};

pub struct Args {
    pub dataset: String,
    pub vars: Vec<String>,
    pub start: Option<String>,
    pub end: Option<String>,
    pub bbox: Option<String>,
    pub polygon: Option<std::path::PathBuf>,
    pub stats: bool,
    pub output: Option<std::path::PathBuf>,
    pub reduce: Option<String>,
    pub deaccumulate: Deaccumulate,
}

/// De-accumulation options of `hod read`.
#[derive(Debug, Clone, clap::Args)]
pub struct Deaccumulate {
    /// Read accumulated variables (ERA5/ERA5-Land tp, e, ro, ssrd…; GFS APCP) as increments
    /// over each time step.
    #[arg(long)]
    pub deaccumulate: bool,
    /// Accumulation convention where the metadata do not say it: since-00utc (ERA5-Land) or
    /// per-step (ERA5 on the CDS).
    #[arg(long, requires = "deaccumulate")]
    pub accumulation: Option<String>,
    /// Check that each complete day's increments sum to that day's accumulation (fails if not).
    #[arg(long, requires = "deaccumulate")]
    pub check: bool,
}

pub async fn run(store: &Store, a: Args, json: bool) -> anyhow::Result<()> {
    anyhow::ensure!(
        a.stats || a.output.is_some(),
        "say what to do with the selection: --stats, or -o OUT ending in .nc, .zarr, .csv or .json"
    );
    // A dataset in the store, a Zarr v3 group in it, or a Zarr v3 group at a path or URL.
    let (store, meta) = hod_index::open(store, &a.dataset).await?;
    let store = &store;
    let vars = if a.vars.is_empty() {
        // Every data variable (not the coordinates).
        meta.variables
            .iter()
            .filter(|(n, v)| !hod_core::is_coordinate(n, &v.array) && !v.array.shape.is_empty())
            .map(|(n, _)| n.clone())
            .collect()
    } else {
        a.vars
    };
    let req = Request {
        vars,
        start: a.start.as_deref().map(parse_time).transpose()?,
        end: a.end.as_deref().map(parse_time).transpose()?,
        bbox: a.bbox.as_deref().map(str::parse::<Bbox>).transpose()?,
        polygon: match &a.polygon {
            Some(p) => {
                let text =
                    std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?;
                Some(hod_query::polygon::Area::from_geojson(&text).with_context(|| p.display().to_string())?)
            }
            None => None,
        },
        deaccumulate: a.deaccumulate.deaccumulate,
        accumulation: a
            .deaccumulate
            .accumulation
            .as_deref()
            .map(str::parse)
            .transpose()?,
    };
    let cubes = hod_query::read(store, &meta, &req).await?;
    if a.deaccumulate.check {
        check_days(store, &meta, &req, &cubes, json).await?;
    }
    if let Some(out) = &a.output {
        write(out, &cubes, &meta.attrs, a.reduce.as_deref())?;
        if !a.stats {
            if json {
                let shapes: Map<String, Value> = cubes
                    .iter()
                    .map(|c| (c.name.clone(), serde_json::json!(c.shape)))
                    .collect();
                crate::output::line(serde_json::json!({"output": out, "shapes": shapes}));
            } else {
                let shapes: Vec<String> = cubes
                    .iter()
                    .map(|c| format!("{} {:?}", c.name, c.shape))
                    .collect();
                crate::output::line(format!("wrote {} to {}", shapes.join(", "), out.display()));
            }
            return Ok(());
        }
    }
    if json {
        let out: Map<String, Value> = cubes
            .iter()
            .map(|c| {
                (
                    c.name.clone(),
                    serde_json::to_value(c.stats()).unwrap_or_default(),
                )
            })
            .collect();
        crate::output::line(serde_json::to_string_pretty(&Value::Object(out))?);
        return Ok(());
    }
    for c in &cubes {
        let s = c.stats();
        let shape: Vec<String> = s.shape.iter().map(usize::to_string).collect();
        let f = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{v:.6}"));
        crate::output::line(format!(
            "{}  ({}) shape ({})  count {}  mean {}  min {}  max {}",
            c.name,
            c.dims.join(", "),
            shape.join(", "),
            s.count,
            f(s.mean),
            f(s.min),
            f(s.max)
        ));
    }
    Ok(())
}

/// Reads the selection again as stored and checks that each day's increments sum to that day's
/// accumulation; prints the outcome on stderr (stdout keeps the statistics) and fails when a
/// variable does not pass.
async fn check_days(
    store: &Store,
    meta: &hod_index::DatasetMeta,
    req: &Request,
    cubes: &[hod_query::DataCube],
    json: bool,
) -> anyhow::Result<()> {
    use hod_query::deaccumulate::{convention, daily_check};
    let raw = hod_query::read(
        store,
        meta,
        &Request {
            deaccumulate: false,
            ..req.clone()
        },
    )
    .await?;
    let mut failed = Vec::new();
    for (inc, acc) in cubes.iter().zip(&raw) {
        let var = meta
            .variables
            .get(&inc.name)
            .with_context(|| format!("no variable '{}' in the dataset", inc.name))?;
        let conv = convention(
            &inc.name,
            &var.array.attrs,
            &meta.attrs,
            req.accumulation.as_ref(),
        )?;
        let c = daily_check(&conv, inc, acc)?;
        if json {
            eprintln!(
                "{}",
                serde_json::json!({"check": inc.name, "daily": c, "passed": c.passed()})
            );
        } else {
            eprintln!(
                "{}: {} days ({} cell-days) checked, max |sum of increments - daily accumulation| = {:e} \
                 (tolerance {:e}): {}",
                inc.name,
                c.days,
                c.compared,
                c.max_abs_diff,
                c.tolerance,
                if c.passed() { "ok" } else { "FAILED" }
            );
        }
        if !c.passed() {
            failed.push(inc.name.clone());
        }
    }
    anyhow::ensure!(
        failed.is_empty(),
        "the daily check failed for {}",
        failed.join(", ")
    );
    Ok(())
}

/// Writes the selection in the format the file name says.
fn write(
    out: &std::path::Path,
    cubes: &[hod_query::DataCube],
    attrs: &hod_core::Attrs,
    reduce: Option<&str>,
) -> anyhow::Result<()> {
    let reduce = match reduce {
        None => None,
        Some("mean") => Some(hod_query::text::Reduce::Mean),
        Some(other) => anyhow::bail!("--reduce {other}: only 'mean' is supported"),
    };
    let ext = out
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_lowercase();
    anyhow::ensure!(
        reduce.is_none() || ext == "csv",
        "--reduce applies to .csv output only"
    );
    match ext.as_str() {
        "nc" => hod_query::netcdf::write_netcdf(out, cubes, attrs)?,
        "zarr" => hod_query::zarr::write_zarr(out, cubes, attrs)?,
        "csv" => hod_query::text::write_csv(out, cubes, reduce)?,
        "json" => hod_query::text::write_json(out, cubes)?,
        _ => anyhow::bail!(
            "{}: the output must end in .nc, .zarr, .csv or .json",
            out.display()
        ),
    }
    Ok(())
}
