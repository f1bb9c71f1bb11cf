//! `hod refs`: kerchunk export.

use anyhow::Context;
use hod_store::Store;
use std::path::Path;

pub async fn run(
    store: &Store,
    dataset: &str,
    output: &Path,
    inline_unpacked: bool,
    json: bool,
) -> anyhow::Result<()> {
    let meta = hod_index::read_meta(store, dataset).await?;
    let refs = hod_index::kerchunk_refs(store, &meta, inline_unpacked).await?;
    let n = refs["refs"].as_object().map_or(0, |r| r.len());
    // Write beside the target and rename, so a reader never sees half a file.
    let tmp = output.with_extension("json.partial");
    std::fs::write(&tmp, serde_json::to_vec(&refs)?)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, output).with_context(|| format!("cannot write {}", output.display()))?;
    if json {
        crate::output::line(serde_json::json!({"dataset": dataset, "output": output, "refs": n}));
    } else {
        crate::output::line(format!(
            "wrote {n} references of '{dataset}' to {}",
            output.display()
        ));
    }
    Ok(())
}
