//! `hod catalog`: profiles, the store's STAC collections, search by area and time.

use anyhow::Context;
use clap::Subcommand;
use hod_catalog::search::{Query, QueryArea};
use hod_store::Store;

#[derive(Debug, Subcommand)]
pub enum CatalogCommand {
    /// Datasets of the store that intersect an area and a period, clipped to them.
    Search {
        /// W,S,E,N in degrees.
        #[arg(long, allow_hyphen_values = true)]
        bbox: Option<String>,
        /// GeoJSON file: Polygon, MultiPolygon, Feature or FeatureCollection (longitude/latitude).
        #[arg(long, conflicts_with = "bbox")]
        geojson: Option<std::path::PathBuf>,
        /// First time, ISO 8601 (inclusive).
        #[arg(long)]
        start: Option<String>,
        /// Last time, ISO 8601 (inclusive).
        #[arg(long)]
        end: Option<String>,
    },
    /// List the dataset profiles.
    Profiles,
    /// Show a profile, or a dataset's STAC collection.
    Show {
        /// Profile name or dataset name.
        name: String,
    },
}

pub async fn run(store: &Store, cmd: CatalogCommand, json: bool) -> anyhow::Result<()> {
    match cmd {
        CatalogCommand::Search {
            bbox,
            geojson,
            start,
            end,
        } => search(store, bbox, geojson, start, end, json).await,
        CatalogCommand::Profiles => profiles(json),
        CatalogCommand::Show { name } => show(store, &name, json).await,
    }
}

async fn search(
    store: &Store,
    bbox: Option<String>,
    geojson: Option<std::path::PathBuf>,
    start: Option<String>,
    end: Option<String>,
    json: bool,
) -> anyhow::Result<()> {
    let area = match (bbox, geojson) {
        (Some(b), _) => {
            let b: hod_query::Bbox = b.parse()?;
            Some(QueryArea::Bbox([b.west, b.south, b.east, b.north]))
        }
        (None, Some(path)) => {
            let text =
                std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
            let area = hod_query::polygon::Area::from_geojson(&text)
                .with_context(|| format!("{}", path.display()))?;
            Some(QueryArea::Polygon(area))
        }
        (None, None) => None,
    };
    let time = |s: Option<String>| s.as_deref().map(hod_query::parse_time).transpose();
    let q = Query {
        area,
        start: time(start)?,
        end: time(end)?,
    };
    let hits = hod_catalog::search::search(store, &q).await?;
    if json {
        crate::output::line(serde_json::to_string_pretty(&hits)?);
        return Ok(());
    }
    if hits.is_empty() {
        crate::output::line("no dataset of the store intersects the query");
    }
    for h in hits {
        let bbox = h.clipped_bbox.map_or("position unknown".to_string(), |b| {
            format!("{:.4},{:.4},{:.4},{:.4}", b[0], b[1], b[2], b[3])
        });
        let time = h
            .clipped_time
            .map_or("time-invariant".to_string(), |(a, b)| format!("{a} .. {b}"));
        crate::output::line(format!("{:<24} {time:<44} [{bbox}]", h.dataset));
        crate::output::line(format!("    {}; variables: {}", h.title, h.variables.join(", ")));
    }
    Ok(())
}

fn profiles(json: bool) -> anyhow::Result<()> {
    let all = hod_catalog::profile::all()?;
    if json {
        crate::output::line(serde_json::to_string_pretty(&all)?);
        return Ok(());
    }
    for p in all {
        crate::output::line(format!(
            "{:<22} {:<22} {:>3} variables  {}",
            p.name,
            p.kind,
            p.variables.len(),
            p.title
        ));
    }
    Ok(())
}

async fn show(store: &Store, name: &str, json: bool) -> anyhow::Result<()> {
    if let Ok(p) = hod_catalog::profile::find(name) {
        if json {
            crate::output::line(serde_json::to_string_pretty(&p)?);
            return Ok(());
        }
        let out = crate::output::line;
        out(format!("{} — {}", p.name, p.title));
        out(format!("  {}", p.description));
        out(format!("  provider:   {} <{}>", p.provider, p.provider_url));
        out(format!(
            "  licence:    {} <{}>{}",
            p.licence,
            p.licence_url,
            p.licence_note
                .as_ref()
                .map_or(String::new(), |n| format!(" ({n})"))
        ));
        out(format!("  citation:   {}", p.citation));
        out(format!("  resolution: {}", p.resolution));
        out(format!("  updates:    {}", p.update_frequency));
        out(format!(
            "  extent:     {:?} from {}",
            p.extent.bbox,
            p.extent.start.as_deref().unwrap_or("-")
        ));
        out(format!("  access:     {}", p.access.join("; ")));
        out("  variables:".to_string());
        for v in &p.variables {
            out(format!(
                "    {:<10} {:<48} [{}] {}{}",
                v.name,
                v.long_name,
                v.units,
                v.convention.as_str(),
                v.standard_name
                    .as_ref()
                    .map_or(String::new(), |s| format!("  ({s})"))
            ));
        }
        return Ok(());
    }
    let key = hod_catalog::stac::collection_key(name);
    let Some(bytes) = store.get_opt(&key).await? else {
        anyhow::bail!(
            "'{name}' is neither a profile (`hod catalog profiles`) nor a dataset with a STAC collection in {}",
            store.url()
        );
    };
    let c: serde_json::Value = serde_json::from_slice(&bytes).with_context(|| key.clone())?;
    if json {
        crate::output::line(serde_json::to_string_pretty(&c)?);
        return Ok(());
    }
    let out = crate::output::line;
    out(format!("{} — {}", name, c["title"].as_str().unwrap_or("")));
    out(format!("  licence:  {}", c["license"].as_str().unwrap_or("")));
    if let Some(p) = c["hod:profile"].as_str() {
        out(format!("  profile:  {p}"));
    }
    out(format!("  bbox:     {}", c["extent"]["spatial"]["bbox"][0]));
    out(format!("  time:     {}", c["extent"]["temporal"]["interval"][0]));
    out("  variables:".to_string());
    for (k, v) in c["cube:variables"].as_object().into_iter().flatten() {
        out(format!(
            "    {:<24} {:<40} [{}] {}",
            k,
            v["description"].as_str().unwrap_or(""),
            v["unit"].as_str().unwrap_or(""),
            v["hod:time_convention"].as_str().unwrap_or("")
        ));
    }
    Ok(())
}
