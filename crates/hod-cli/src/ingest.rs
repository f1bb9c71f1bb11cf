//! `hod ingest`.

use anyhow::Context;
use hod_index::IngestOptions;
use hod_store::Store;

/// Expands globs (a pattern that matches nothing is an error) and keeps URLs as they are.
fn expand(sources: &[String]) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    for s in sources {
        if s.contains("://") || !s.contains(['*', '?', '[']) {
            out.push(s.clone());
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

pub async fn run(
    store: &Store,
    dataset: &str,
    sources: &[String],
    concat_dim: String,
    copy: bool,
    no_copy: bool,
    json: bool,
) -> anyhow::Result<()> {
    let sources = expand(sources)?;
    let all_local = sources
        .iter()
        .all(|s| !s.contains("://") || s.starts_with("file://"));
    let copy = copy || (store.is_remote() && all_local && !no_copy);
    let opts = IngestOptions { concat_dim, copy };
    let bar = crate::progress::Bar::new();
    let report = hod_index::ingest(store, dataset, &sources, &opts, &bar).await?;
    drop(bar);
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
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
        );
    }
    Ok(())
}
