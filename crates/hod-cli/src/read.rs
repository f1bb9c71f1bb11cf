//! `hod read`: a selection of a dataset, as statistics or a file (.nc, .zarr, .csv, .json).

use anyhow::Context;
use hod_query::sink::{Block, Collect, Sink, StatsSink, Tee};
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
    pub max_memory: String,
    pub deaccumulate: Deaccumulate,
    pub coverage: bool,
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
    let area = a
        .polygon
        .as_deref()
        .map(hod_query::polygon::Area::from_path)
        .transpose()?;
    anyhow::ensure!(!a.coverage || area.is_some(), "--coverage needs --polygon");
    // With --coverage every cell the polygon touches is read (not only those whose centre is
    // inside); the values of untouched cells are then set to NaN.
    let (polygon, bbox) = match (&area, a.coverage) {
        (Some(area), true) => (None, Some(hod_query::polygon::coverage_bbox(&meta, area))),
        _ => (
            area.clone(),
            a.bbox.as_deref().map(str::parse::<Bbox>).transpose()?,
        ),
    };
    let req = Request {
        vars,
        start: a.start.as_deref().map(parse_time).transpose()?,
        end: a.end.as_deref().map(parse_time).transpose()?,
        bbox,
        polygon,
        deaccumulate: a.deaccumulate.deaccumulate,
        accumulation: a
            .deaccumulate
            .accumulation
            .as_deref()
            .map(str::parse)
            .transpose()?,
    };
    if a.deaccumulate.check {
        check_days(store, &meta, &req, json).await?;
    }
    let budget = parse_size(&a.max_memory)?;
    let (stats, coverage_means) = match (&area, a.coverage) {
        (Some(area), true) => {
            let cubes = with_coverage(store, &meta, &req, area, budget).await?;
            let data_vars = &cubes[..cubes.len() - 1];
            let means: Vec<Option<f64>> = data_vars
                .iter()
                .map(|c| cubes.last().and_then(|f| hod_query::polygon::coverage_mean(c, f)))
                .collect();
            if let Some(out) = &a.output {
                let mut writer = writer(out, &meta.attrs, a.reduce.as_deref(), budget)?;
                // The long CSV format holds one grid; coverage fractions go to .nc, .zarr, .json.
                let csv = out.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv"));
                feed(writer.as_mut(), if csv { data_vars } else { &cubes })?;
            }
            let stats = data_vars
                .iter()
                .map(|c| (c.name.clone(), c.dims.clone(), c.stats()))
                .collect();
            (stats, Some(means))
        }
        _ => {
            let mut stats_sink = StatsSink::new();
            match &a.output {
                Some(out) => {
                    let mut writer = writer(out, &meta.attrs, a.reduce.as_deref(), budget)?;
                    let mut tee = Tee::new(writer.as_mut());
                    hod_query::read_to(store, &meta, &req, budget, &mut tee).await?;
                    (tee.stats.stats(), None)
                }
                None => {
                    hod_query::read_to(store, &meta, &req, budget, &mut stats_sink).await?;
                    (stats_sink.stats(), None)
                }
            }
        }
    };
    if let (Some(out), false) = (&a.output, a.stats) {
        if json {
            let shapes: Map<String, Value> = stats
                .iter()
                .map(|(n, _, s)| (n.clone(), serde_json::json!(s.shape)))
                .collect();
            crate::output::line(serde_json::json!({"output": out, "shapes": shapes}));
        } else {
            let shapes: Vec<String> = stats
                .iter()
                .map(|(n, _, s)| format!("{n} {:?}", s.shape))
                .collect();
            crate::output::line(format!("wrote {} to {}", shapes.join(", "), out.display()));
        }
        return Ok(());
    }
    let coverage_mean = |i: usize| coverage_means.as_ref().map(|m| m.get(i).copied().flatten());
    if json {
        let out: Map<String, Value> = stats
            .iter()
            .enumerate()
            .map(|(i, (n, _, s))| {
                let mut v = serde_json::to_value(s).unwrap_or_default();
                if let (Some(o), Some(cm)) = (v.as_object_mut(), coverage_mean(i)) {
                    o.insert("coverage_mean".into(), serde_json::json!(cm));
                }
                (n.clone(), v)
            })
            .collect();
        crate::output::line(serde_json::to_string_pretty(&Value::Object(out))?);
        return Ok(());
    }
    for (i, (name, dims, s)) in stats.iter().enumerate() {
        let shape: Vec<String> = s.shape.iter().map(usize::to_string).collect();
        let f = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{v:.6}"));
        let cov = coverage_mean(i).map_or(String::new(), |m| format!("  coverage-weighted mean {}", f(m)));
        crate::output::line(format!(
            "{name}  ({}) shape ({})  count {}  mean {}  min {}  max {}{cov}",
            dims.join(", "),
            shape.join(", "),
            s.count,
            f(s.mean),
            f(s.min),
            f(s.max),
        ));
    }
    Ok(())
}

/// Reads the selection in memory (within `budget`) with each cell's exact coverage fraction:
/// the data cubes (cells the polygon does not touch are NaN), then `coverage_fraction`.
async fn with_coverage(
    store: &Store,
    meta: &hod_index::DatasetMeta,
    req: &Request,
    area: &hod_query::polygon::Area,
    budget: usize,
) -> anyhow::Result<Vec<hod_query::DataCube>> {
    let mut all = Collect::with_limit(budget);
    hod_query::read_to(store, meta, req, budget, &mut all).await?;
    let mut cubes = all.into_cubes();
    let mut fractions = None;
    for c in cubes.iter_mut() {
        fractions = Some(hod_query::polygon::apply_coverage(meta, c, area)?);
    }
    cubes.extend(fractions);
    anyhow::ensure!(cubes.len() > 1, "nothing was read");
    Ok(cubes)
}

/// Writes whole cubes through a streaming writer, one block each.
fn feed(sink: &mut dyn Sink, cubes: &[hod_query::DataCube]) -> anyhow::Result<()> {
    let layout: Vec<hod_query::DataCube> = cubes
        .iter()
        .map(|c| hod_query::DataCube {
            values: Vec::new(),
            ..c.clone()
        })
        .collect();
    sink.begin(&layout)?;
    for (var, c) in cubes.iter().enumerate() {
        let rows = 0..c.shape.first().copied().unwrap_or(1);
        sink.block(Block {
            var,
            rows,
            values: c.values.clone(),
        })?;
    }
    sink.finish()?;
    Ok(())
}

/// Reads the selection de-accumulated and as stored, and checks that each day's increments sum to
/// that day's accumulation; prints the outcome on stderr (stdout keeps the statistics) and fails
/// when a variable does not pass. Both reads are held in memory.
async fn check_days(
    store: &Store,
    meta: &hod_index::DatasetMeta,
    req: &Request,
    json: bool,
) -> anyhow::Result<()> {
    use hod_query::deaccumulate::{convention, daily_check};
    let cubes = hod_query::read(store, meta, req).await?;
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

/// A byte count: plain bytes, or with a unit `KiB`, `MiB`, `GiB`, `TiB` (powers of 1024; `K`,
/// `M`, `G`, `T` too) or `kB`, `MB`, `GB`, `TB` (powers of 1000).
fn parse_size(text: &str) -> anyhow::Result<usize> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let scale: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kib" => 1024.0,
        "m" | "mib" => 1024.0 * 1024.0,
        "g" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "t" | "tib" => 1024.0f64.powi(4),
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        "tb" => 1e12,
        _ => anyhow::bail!("--max-memory {text}: the unit must be one of KiB, MiB, GiB, TiB, kB, MB, GB, TB"),
    };
    let n: f64 = num
        .parse()
        .ok()
        .filter(|n: &f64| n.is_finite() && *n > 0.0)
        .with_context(|| {
            format!("--max-memory {text}: expected a positive size such as 16MiB, 1GiB or 50000000")
        })?;
    Ok((n * scale).min(usize::MAX as f64) as usize)
}

/// The writer for the format the file name says.
fn writer(
    out: &std::path::Path,
    attrs: &hod_core::Attrs,
    reduce: Option<&str>,
    budget: usize,
) -> anyhow::Result<Box<dyn Sink>> {
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
    Ok(match ext.as_str() {
        "nc" => Box::new(hod_query::netcdf::NetcdfWriter::new(out, attrs)),
        // A chunk being compressed is held beside the block: keep it a small share of the budget.
        "zarr" => Box::new(hod_query::zarr::ZarrWriter::new(out, attrs, budget / 8)),
        "csv" => Box::new(hod_query::text::CsvWriter::new(out, reduce)),
        "json" => Box::new(hod_query::text::JsonWriter::new(out, budget)),
        _ => anyhow::bail!(
            "{}: the output must end in .nc, .zarr, .csv or .json",
            out.display()
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("16MiB").unwrap(), 16 << 20);
        assert_eq!(parse_size("1GiB").unwrap(), 1 << 30);
        assert_eq!(parse_size("1.5 GiB").unwrap(), 3 << 29);
        assert_eq!(parse_size("50000000").unwrap(), 50_000_000);
        assert_eq!(parse_size("2MB").unwrap(), 2_000_000);
        assert!(parse_size("0").is_err());
        assert!(parse_size("16XB").is_err());
        assert!(parse_size("MiB").is_err());
    }
}
