//! `hod ingest`.

use anyhow::Context;
use hod_index::IngestOptions;
use hod_store::Store;

/// Expands globs, local (`data/*.nc`) or in object stores (`s3://bucket/era5/*.nc`); a pattern
/// that matches nothing is an error.
async fn expand(sources: &[String]) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    for s in sources {
        if !s.contains(['*', '?', '[']) {
            out.push(s.clone());
            continue;
        }
        if let Some((scheme, rest)) = s.split_once("://").filter(|(scheme, _)| *scheme != "file") {
            out.append(&mut expand_remote(scheme, rest).await?);
            continue;
        }
        let mut matched: Vec<String> = glob::glob(s)
            .with_context(|| format!("bad glob pattern {s}"))?
            .filter_map(Result::ok)
            .filter(|p| p.is_file())
            .map(|p| p.display().to_string())
            .collect();
        anyhow::ensure!(!matched.is_empty(), "no files match {s}");
        matched.sort();
        out.append(&mut matched);
    }
    Ok(out)
}

/// Lists the objects under the pattern's fixed prefix and keeps those matching it.
async fn expand_remote(scheme: &str, rest: &str) -> anyhow::Result<Vec<String>> {
    let (bucket, path) = rest.split_once('/').unwrap_or((rest, ""));
    let fixed = &path[..path.find(['*', '?', '[']).unwrap_or(path.len())];
    let dir = &fixed[..fixed.rfind('/').map_or(0, |i| i + 1)];
    let pattern = glob::Pattern::new(path).with_context(|| format!("bad glob pattern {path}"))?;
    let root = format!("{scheme}://{bucket}");
    let store = Store::open(&root).with_context(|| format!("cannot open {root}"))?;
    let mut matched: Vec<String> = store
        .list(dir.trim_end_matches('/'))
        .await?
        .into_iter()
        .filter(|o| pattern.matches(&o.key))
        .map(|o| format!("{root}/{}", o.key))
        .collect();
    anyhow::ensure!(!matched.is_empty(), "no objects match {scheme}://{rest}");
    matched.sort();
    Ok(matched)
}

/// Options of `hod ingest`.
pub struct Opts {
    pub concat_dim: String,
    pub copy: bool,
    pub no_copy: bool,
    pub profile: Option<String>,
}

pub async fn run(
    store: &Store,
    dataset: &str,
    sources: &[String],
    o: Opts,
    json: bool,
) -> anyhow::Result<()> {
    let sources = expand(sources).await?;
    let all_local = sources
        .iter()
        .all(|s| !s.contains("://") || s.starts_with("file://"));
    let copy = o.copy || (store.is_remote() && all_local && !o.no_copy);
    let opts = IngestOptions {
        concat_dim: o.concat_dim,
        copy,
    };
    // The catalog hooks check against the profile and refresh the store's STAC.
    let hooks = hod_catalog::Hooks::new(o.profile.as_deref())?;
    let bar = crate::progress::Bar::new();
    let report = hod_index::ingest_with(store, dataset, &sources, &opts, &bar, Some(&hooks)).await?;
    drop(bar);
    if json {
        crate::output::line(serde_json::to_string_pretty(&report)?);
    } else {
        crate::output::line(format!(
            "ingested {} file(s) into '{}' (version {}, {} source objects{})",
            report.scanned,
            report.dataset,
            report.version,
            report.sources,
            if report.copied > 0 {
                format!(", {} uploaded", report.copied)
            } else {
                String::new()
            }
        ));
    }
    Ok(())
}
