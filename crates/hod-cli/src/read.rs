//! `hod read`: a selection of a dataset, as statistics or a file (.nc, .zarr, .csv, .json).

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
    pub coverage: bool,
}

pub async fn run(store: &Store, a: Args, json: bool) -> anyhow::Result<()> {
    anyhow::ensure!(
        a.stats || a.output.is_some(),
        "say what to do with the selection: --stats, or -o OUT ending in .nc, .zarr, .csv or .json"
    );
    let meta = hod_index::read_meta(store, &a.dataset).await?;
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
    };
    let mut cubes = hod_query::read(store, &meta, &req).await?;
    let mut fractions = None;
    if let (Some(area), true) = (&area, a.coverage) {
        for c in cubes.iter_mut() {
            fractions = Some(hod_query::polygon::apply_coverage(&meta, c, area)?);
        }
    }
    let coverage_means: Vec<Option<f64>> = cubes
        .iter()
        .map(|c| {
            fractions
                .as_ref()
                .and_then(|f| hod_query::polygon::coverage_mean(c, f))
        })
        .collect();
    let data_vars = cubes.len();
    if let Some(f) = fractions {
        cubes.push(f);
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
        let out: Map<String, Value> = cubes[..data_vars]
            .iter()
            .zip(&coverage_means)
            .map(|(c, cm)| {
                let mut v = serde_json::to_value(c.stats()).unwrap_or_default();
                if let (Some(o), true) = (v.as_object_mut(), a.coverage) {
                    o.insert("coverage_mean".into(), serde_json::json!(cm));
                }
                (c.name.clone(), v)
            })
            .collect();
        crate::output::line(serde_json::to_string_pretty(&Value::Object(out))?);
        return Ok(());
    }
    for (c, cm) in cubes[..data_vars].iter().zip(&coverage_means) {
        let s = c.stats();
        let shape: Vec<String> = s.shape.iter().map(usize::to_string).collect();
        let f = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{v:.6}"));
        let cov = cm.map_or(String::new(), |m| format!("  coverage-weighted mean {m:.6}"));
        crate::output::line(format!(
            "{}  ({}) shape ({})  count {}  mean {}  min {}  max {}{cov}",
            c.name,
            c.dims.join(", "),
            shape.join(", "),
            s.count,
            f(s.mean),
            f(s.min),
            f(s.max),
        ));
    }
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
        // The long CSV format holds one grid; coverage fractions go to .nc, .zarr and .json.
        "csv" => {
            let data: Vec<hod_query::DataCube> = cubes
                .iter()
                .filter(|c| c.name != "coverage_fraction")
                .cloned()
                .collect();
            hod_query::text::write_csv(out, &data, reduce)?
        }
        "json" => hod_query::text::write_json(out, cubes)?,
        _ => anyhow::bail!(
            "{}: the output must end in .nc, .zarr, .csv or .json",
            out.display()
        ),
    }
    Ok(())
}
