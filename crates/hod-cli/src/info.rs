//! `hod list` and `hod info`.

use hod_core::time::{CfTime, format_unix_seconds};
use hod_index::{DatasetMeta, VariableMeta};
use hod_store::Store;
use serde_json::{Value, json};

pub async fn list(store: &Store, json: bool) -> anyhow::Result<()> {
    let mut names = hod_index::list(store).await?;
    // Zarr v3 groups stored at the top of the store are datasets too.
    for g in hod_index::zarr::list_groups(store).await? {
        if !names.contains(&g) {
            names.push(g);
        }
    }
    if json {
        let mut out = Vec::new();
        for n in &names {
            let (_, m) = hod_index::open(store, n).await?;
            out.push(summary(&m));
        }
        crate::output::line(serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    if names.is_empty() {
        crate::output::line(format!(
            "no datasets in {} (add one with `hod ingest NAME FILES...`)",
            store.url()
        ));
    }
    for n in &names {
        let (_, m) = hod_index::open(store, n).await?;
        let dims: Vec<String> = m.dims.iter().map(|(d, s)| format!("{d}: {s}")).collect();
        crate::output::line(format!(
            "{n:<24} {:<13} {:>6} sources  ({})",
            m.source_format.to_string(),
            m.sources,
            dims.join(", ")
        ));
    }
    Ok(())
}

fn summary(m: &DatasetMeta) -> Value {
    json!({
        "name": m.name,
        "version": m.version,
        "source_format": m.source_format,
        "sources": m.sources,
        "dims": m.dims.iter().map(|(d, s)| (d.clone(), json!(s))).collect::<serde_json::Map<_, _>>(),
        "time_coverage": time_coverage(m),
    })
}

fn time_coverage(m: &DatasetMeta) -> Value {
    match m.concat.as_ref().and_then(|c| c.time_range.map(|r| (c, r))) {
        Some((c, (a, b))) => json!({
            "dim": c.dim,
            "start": format_unix_seconds(a),
            "end": format_unix_seconds(b),
            "steps": m.dims.iter().find(|(d, _)| *d == c.dim).map(|(_, n)| *n),
        }),
        None => Value::Null,
    }
}

fn is_coord(m: &DatasetMeta, name: &str) -> bool {
    m.variables
        .get(name)
        .is_some_and(|v| hod_core::is_coordinate(name, &v.array))
}

fn str_attr<'a>(v: &'a VariableMeta, k: &str) -> Option<&'a str> {
    v.array.attrs.get(k).and_then(|x| x.as_str())
}

/// First and last value of a coordinate, as dates when it is a CF time.
fn coord_range(m: &DatasetMeta, name: &str, v: &VariableMeta) -> Option<(String, String)> {
    let s = m.coords.get(name)?;
    let units = str_attr(v, "units").unwrap_or("");
    let decode = |x: f64| match CfTime::parse(units, str_attr(v, "calendar")) {
        Ok(t) => format_unix_seconds(t.unix_seconds(x)),
        Err(_) if v.array.dtype == hod_core::DType::F32 => format!("{}", x as f32),
        Err(_) => format!("{x}"),
    };
    Some((decode(s.first), decode(s.last)))
}

fn var_json(m: &DatasetMeta, name: &str, v: &VariableMeta) -> Value {
    let mut o = json!({
        "dims": v.array.dims,
        "shape": v.array.shape,
        "chunks": v.array.chunks,
        "dtype": v.array.dtype,
    });
    for k in ["units", "long_name", "standard_name"] {
        if let Some(x) = str_attr(v, k) {
            o[k] = json!(x);
        }
    }
    if let Some((a, b)) = coord_range(m, name, v) {
        o["first"] = json!(a);
        o["last"] = json!(b);
    }
    if v.per_source_packing {
        o["per_source_packing"] = json!(true);
    }
    o["attrs"] = Value::Object(v.array.attrs.clone().into_iter().collect());
    o
}

pub async fn info(store: &Store, dataset: &str, json: bool) -> anyhow::Result<()> {
    let (_, m) = hod_index::open(store, dataset).await?;
    if json {
        let mut out = summary(&m);
        let (coords, vars): (Vec<_>, Vec<_>) = m.variables.iter().partition(|(n, _)| is_coord(&m, n));
        out["coords"] = coords
            .iter()
            .map(|(n, v)| ((*n).clone(), var_json(&m, n, v)))
            .collect();
        out["variables"] = vars
            .iter()
            .map(|(n, v)| ((*n).clone(), var_json(&m, n, v)))
            .collect();
        out["attrs"] = Value::Object(m.attrs.clone().into_iter().collect());
        crate::output::line(serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    crate::output::line(format!(
        "<hod.Dataset '{}'> {} source object(s), {}, version {}",
        m.name, m.sources, m.source_format, m.version
    ));
    let dims: Vec<String> = m.dims.iter().map(|(d, s)| format!("{d}: {s}")).collect();
    crate::output::line(format!("Dimensions:  ({})", dims.join(", ")));
    let width = m.variables.keys().map(String::len).max().unwrap_or(0).max(8);
    let line = |n: &str, v: &VariableMeta, marker: &str| {
        let dims = format!("({})", v.array.dims.join(", "));
        let mut extra = Vec::new();
        if let Some((a, b)) = coord_range(&m, n, v) {
            extra.push(format!("{a} .. {b}"));
        } else if !v.array.shape.is_empty() {
            extra.push(format!(
                "chunks ({})",
                v.array
                    .chunks
                    .iter()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if let Some(u) = str_attr(v, "units") {
            extra.push(format!("[{u}]"));
        }
        if let Some(l) = str_attr(v, "long_name") {
            extra.push(format!("\"{l}\""));
        }
        if v.per_source_packing {
            extra.push("(packed per source file)".into());
        }
        format!(
            "  {marker} {n:<width$} {dims} {} {}",
            v.array.dtype,
            extra.join("  ")
        )
    };
    crate::output::line("Coordinates:");
    for (n, v) in m.variables.iter().filter(|(n, _)| is_coord(&m, n)) {
        crate::output::line(line(n, v, "*"));
    }
    crate::output::line("Data variables:");
    for (n, v) in m.variables.iter().filter(|(n, _)| !is_coord(&m, n)) {
        crate::output::line(line(n, v, " "));
    }
    if let Value::Object(t) = time_coverage(&m) {
        crate::output::line(format!(
            "Time coverage: {} .. {} ({} steps along '{}')",
            t["start"].as_str().unwrap_or(""),
            t["end"].as_str().unwrap_or(""),
            t["steps"],
            t["dim"].as_str().unwrap_or("")
        ));
    }
    if !m.attrs.is_empty() {
        crate::output::line("Attributes:");
        for (k, v) in &m.attrs {
            let s = v
                .as_str()
                .map_or_else(|| v.to_string(), |s| s.replace('\n', "; "));
            let s: String = if s.chars().count() > 90 {
                s.chars().take(87).chain("...".chars()).collect()
            } else {
                s
            };
            crate::output::line(format!("    {k}: {s}"));
        }
    }
    Ok(())
}
