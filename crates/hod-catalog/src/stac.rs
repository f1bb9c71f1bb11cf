//! The store's STAC catalog (STAC 1.1 + datacube extension), rewritten for a dataset each time it
//! is published:
//!
//! ```text
//! stac/catalog.json                      root Catalog, a child link per dataset
//! stac/<dataset>/collection.json         Collection: extents from the data, cube:dimensions,
//!                                        cube:variables, assets: manifest + kerchunk export
//! stac/<dataset>/kerchunk.json           kerchunk references of the version (when exportable)
//! stac/<dataset>/items/<dataset>-NNNNNN.json
//!                                        Item per manifest shard (time block of <= 256 files),
//!                                        the shard and its source files as assets
//! ```
//!
//! Every href is relative, so the store can be moved or served from anywhere; there are no
//! `self` links, which the spec wants absolute (this is pystac's "self-contained" layout).

use crate::extent::{self, LonLatBox};
use crate::{CatalogError, profile};
use bytes::Bytes;
use hod_core::time::format_unix_seconds;
use hod_index::{DatasetMeta, STORE_URL, Shard};
use hod_query::select::{Role, role};
use hod_store::Store;
use serde_json::{Value, json};

/// STAC version written.
pub const STAC_VERSION: &str = "1.1.0";
/// Datacube extension schema.
pub const DATACUBE: &str = "https://stac-extensions.github.io/datacube/v2.2.0/schema.json";
/// Key of the root catalog.
pub const ROOT: &str = "stac/catalog.json";

/// Key of a dataset's collection.
pub fn collection_key(name: &str) -> String {
    format!("stac/{name}/collection.json")
}

fn rfc3339(t: f64) -> String {
    format!("{}Z", format_unix_seconds(t))
}

fn put_json(v: &Value) -> Bytes {
    // Serialising a JSON value to a Vec cannot fail.
    Bytes::from(serde_json::to_vec_pretty(v).unwrap_or_default())
}

/// Media type of a source object, by format.
fn media_type(f: hod_core::Format) -> &'static str {
    match f.to_string().to_lowercase() {
        s if s.contains("netcdf3") => "application/x-netcdf",
        s if s.contains("hdf5") => "application/x-hdf5",
        s if s.contains("grib2") => "application/wmo-GRIB2",
        s if s.contains("grib") => "application/x-grib",
        s if s.contains("tiff") => "image/tiff; application=geotiff",
        _ => "application/octet-stream",
    }
}

/// An asset href for a source URL, relative to a document `depth` folders below the store root.
fn source_href(url: &str, depth: usize) -> String {
    match url.strip_prefix(STORE_URL) {
        Some(key) => format!("{}{key}", "../".repeat(depth)),
        None => url.to_string(),
    }
}

fn bbox_polygon([w, s, e, n]: LonLatBox) -> Value {
    if w > e {
        // Crossing the antimeridian: two boxes (RFC 7946 §3.1.9).
        return json!({"type": "MultiPolygon", "coordinates": [
            [[[w, s], [180.0, s], [180.0, n], [w, n], [w, s]]],
            [[[-180.0, s], [e, s], [e, n], [-180.0, n], [-180.0, s]]],
        ]});
    }
    if w == e && s == n {
        return json!({"type": "Point", "coordinates": [w, s]});
    }
    json!({"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]})
}

/// `cube:dimensions` and `cube:variables` of a dataset.
fn datacube(meta: &DatasetMeta, proj: Option<&str>) -> (Value, Value) {
    let mut dims = serde_json::Map::new();
    for (dim, size) in &meta.dims {
        let coord = meta
            .variables
            .iter()
            .find(|(n, v)| v.array.dims == [dim.clone()] && hod_core::is_coordinate(n, &v.array));
        let summary = coord.and_then(|(n, _)| meta.coords.get(n));
        let obj = match (coord, summary) {
            (Some((n, v)), Some(s)) => {
                let (lo, hi) = (s.first.min(s.last), s.first.max(s.last));
                let step = (s.len > 1).then(|| (hi - lo) / (s.len - 1) as f64);
                let units = v.array.attrs.get("units").and_then(|u| u.as_str());
                match role(n, v) {
                    r @ (Role::X | Role::Y) => {
                        let mut o = json!({
                            "type": "spatial",
                            "axis": if r == Role::X { "x" } else { "y" },
                            "extent": [lo, hi],
                            "reference_system": proj.map_or(json!(4326), |p| json!(p)),
                        });
                        if let Some(st) = step {
                            o["step"] = json!(st);
                        }
                        o
                    }
                    Role::Time => {
                        let t = extent::cf_time(v);
                        let iso = |x: f64| t.map(|t| rfc3339(t.unix_seconds(x)));
                        let mut o = json!({"type": "temporal", "extent": [iso(lo), iso(hi)]});
                        if let (Some(t), Some(st)) = (t, step) {
                            o["step"] = json!(iso_duration(st * t.unit_seconds));
                        }
                        o
                    }
                    Role::Other => {
                        let mut o = json!({"type": n, "extent": [lo, hi]});
                        if let Some(u) = units {
                            o["unit"] = json!(u);
                        }
                        o
                    }
                }
            }
            _ => json!({"type": "index", "extent": [0, size.saturating_sub(1)]}),
        };
        dims.insert(dim.clone(), obj);
    }
    let mut vars = serde_json::Map::new();
    for (n, v) in &meta.variables {
        if v.array.dims.len() == 1 && dims.contains_key(n) {
            continue;
        }
        let attr = |k: &str| v.array.attrs.get(k).and_then(|a| a.as_str());
        // Coordinates, bounds and scalars (GRIB's number, step) describe the data variables.
        let auxiliary =
            hod_core::is_coordinate(n, &v.array) || n.ends_with("_bnds") || v.array.shape.is_empty();
        let mut o = json!({
            "dimensions": v.array.dims,
            "type": if auxiliary { "auxiliary" } else { "data" },
        });
        if let Some(d) = attr("long_name") {
            o["description"] = json!(d);
        }
        if let Some(u) = attr("units") {
            o["unit"] = json!(u);
        }
        if let Some(c) = attr("hod_time_convention") {
            o["hod:time_convention"] = json!(c);
        }
        vars.insert(n.clone(), o);
    }
    (Value::Object(dims), Value::Object(vars))
}

/// Seconds as an ISO 8601 duration (`PT1H`, `P1D`, `PT30M`).
fn iso_duration(seconds: f64) -> String {
    let s = seconds.round() as i64;
    if s > 0 && s % 86400 == 0 {
        format!("P{}D", s / 86400)
    } else if s > 0 && s % 3600 == 0 {
        format!("PT{}H", s / 3600)
    } else if s > 0 && s % 60 == 0 {
        format!("PT{}M", s / 60)
    } else {
        format!("PT{s}S")
    }
}

/// Seconds since 1970 encoded in a version id (`1795626782894-947cde05`).
fn version_time(version: &str) -> Option<f64> {
    version
        .split('-')
        .next()?
        .parse::<f64>()
        .ok()
        .map(|ms| ms / 1000.0)
}

/// Rewrites the STAC documents of dataset `meta` (its collection and items) and the root catalog.
///
/// # Errors
/// Store errors, a corrupt manifest, an unusable CRS.
pub async fn update(store: &Store, meta: &DatasetMeta) -> Result<(), CatalogError> {
    let name = &meta.name;
    let profile = meta.profile.as_deref().map(profile::find).transpose()?;
    let bbox = extent::lonlat_box(store, meta).await?;
    let time = extent::time_range(meta);
    let proj = extent::proj_string(meta);

    // Items: one per shard, or one for a dataset without a concat dimension.
    let shards = hod_index::read_shards(store, meta, 0..u64::MAX).await?;
    let mut items: Vec<(String, Value)> = Vec::new();
    if shards.is_empty() {
        let urls: Vec<String> = match store.get_opt(&meta.sources_key).await? {
            Some(b) => serde_json::from_slice(&b).map_err(|e| CatalogError::Corrupt {
                key: meta.sources_key.clone(),
                what: e.to_string(),
            })?,
            None => Vec::new(),
        };
        items.push((format!("{name}-000000"), item(meta, 0, None, &urls, bbox, time)));
    }
    for (n, shard) in shards.iter().enumerate() {
        let info = meta.concat.as_ref().and_then(|c| c.shards.get(n));
        let urls: Vec<String> = shard.sources.iter().map(|s| s.url.clone()).collect();
        let t = info.and_then(|i| i.time_range).or(time);
        let mut it = item(meta, n, Some(shard), &urls, bbox, t);
        if let Some(info) = info {
            it["assets"]["shard"] = json!({
                "href": format!("../../../{}", info.key),
                "type": "application/octet-stream",
                "title": "hod manifest shard (chunk references of these files)",
                "roles": ["metadata"],
            });
        }
        items.push((format!("{name}-{n:06}"), it));
    }
    let prefix = format!("stac/{name}/items/");
    let keep: Vec<String> = items.iter().map(|(id, _)| format!("{prefix}{id}.json")).collect();
    for (id, it) in &items {
        store.put(&format!("{prefix}{id}.json"), put_json(it)).await?;
    }
    for old in store.list(&prefix).await? {
        if !keep.contains(&old.key) {
            store.delete(&old.key).await?;
        }
    }

    // The kerchunk export: written for every version it can express.
    let kerchunk_key = format!("stac/{name}/kerchunk.json");
    let kerchunk = match hod_index::kerchunk_refs(store, meta, false).await {
        Ok(refs) => {
            store.put(&kerchunk_key, put_json(&refs)).await?;
            Ok(())
        }
        Err(e) => {
            if store.get_opt(&kerchunk_key).await?.is_some() {
                store.delete(&kerchunk_key).await?;
            }
            Err(e.to_string())
        }
    };

    let (dims, vars) = datacube(meta, proj.as_deref());
    let interval = match time {
        Some((a, b)) => json!([[rfc3339(a), rfc3339(b)]]),
        None => json!([[null, null]]),
    };
    let mut description = profile.as_ref().map_or_else(
        || format!("Dataset '{name}' of the hod store."),
        |p| p.description.clone(),
    );
    if let Err(why) = &kerchunk {
        description.push_str(&format!(
            " No kerchunk export: {why} (`hod refs --inline-unpacked` writes one)."
        ));
    }
    let mut assets = json!({
        "manifest": {
            "href": format!("../../datasets/{name}/versions/{}.json", meta.version),
            "type": "application/json",
            "title": "hod manifest version document",
            "roles": ["metadata"],
        },
    });
    if kerchunk.is_ok() {
        assets["kerchunk"] = json!({
            "href": "./kerchunk.json",
            "type": "application/json",
            "title": "kerchunk references (version 1) for xarray/fsspec",
            "roles": ["references"],
        });
    }
    let mut links = vec![
        json!({"rel": "root", "href": "../catalog.json", "type": "application/json"}),
        json!({"rel": "parent", "href": "../catalog.json", "type": "application/json"}),
    ];
    for (id, _) in &items {
        links.push(
            json!({"rel": "item", "href": format!("./items/{id}.json"), "type": "application/geo+json"}),
        );
    }
    let mut c = json!({
        "type": "Collection",
        "stac_version": STAC_VERSION,
        "stac_extensions": [DATACUBE],
        "id": name,
        "title": profile.as_ref().map_or(name.as_str(), |p| p.title.as_str()),
        "description": description,
        "license": profile.as_ref().map_or("other", |p| p.licence.as_str()),
        "extent": {
            "spatial": {"bbox": [bbox.unwrap_or([-180.0, -90.0, 180.0, 90.0])]},
            "temporal": {"interval": interval},
        },
        "cube:dimensions": dims,
        "cube:variables": vars,
        "assets": assets,
        "links": links,
        "hod:version": meta.version,
        "hod:sources": meta.sources,
        "hod:source_format": meta.source_format,
        "hod:extent_known": bbox.is_some(),
    });
    if let Some(p) = &profile {
        c["providers"] =
            json!([{"name": p.provider, "roles": ["producer", "licensor"], "url": p.provider_url}]);
        c["keywords"] = json!(p.keywords);
        c["hod:profile"] = json!(p.name);
        c["sci:citation"] = json!(p.citation);
        if let Some(d) = &p.doi {
            c["sci:doi"] = json!(d);
        }
        if let Some(links) = c["links"].as_array_mut() {
            links.push(json!({"rel": "license", "href": p.licence_url, "title": p.licence_note.clone().unwrap_or_else(|| p.licence.clone())}));
        }
        if let Some(exts) = c["stac_extensions"].as_array_mut() {
            exts.push(json!(SCIENTIFIC));
        }
    }
    store.put(&collection_key(name), put_json(&c)).await?;
    write_root(store).await
}

/// Scientific citation extension (for `sci:citation` / `sci:doi`).
const SCIENTIFIC: &str = "https://stac-extensions.github.io/scientific/v1.0.0/schema.json";

fn item(
    meta: &DatasetMeta,
    n: usize,
    shard: Option<&Shard>,
    urls: &[String],
    bbox: Option<LonLatBox>,
    time: Option<(f64, f64)>,
) -> Value {
    let name = &meta.name;
    let mut props = serde_json::Map::new();
    match time {
        Some((a, b)) => {
            props.insert("datetime".into(), Value::Null);
            props.insert("start_datetime".into(), json!(rfc3339(a)));
            props.insert("end_datetime".into(), json!(rfc3339(b)));
        }
        None => {
            // Time-invariant data (a DEM): the time the version was published.
            let t = version_time(&meta.version).unwrap_or(0.0);
            props.insert("datetime".into(), json!(rfc3339(t)));
            props.insert("hod:static".into(), json!(true));
        }
    }
    if let Some(s) = shard {
        props.insert("hod:elements".into(), json!([s.start, s.end]));
    }
    let mut assets = serde_json::Map::new();
    for (i, u) in urls.iter().enumerate() {
        let file = u.rsplit('/').next().unwrap_or(u);
        assets.insert(
            format!("source-{i:03}"),
            json!({
                "href": source_href(u, 3),
                "type": media_type(meta.source_format),
                "title": file,
                "roles": ["data"],
            }),
        );
    }
    let (geometry, b) = match bbox {
        Some(b) => (bbox_polygon(b), Some(b)),
        None => (Value::Null, None),
    };
    let mut it = json!({
        "type": "Feature",
        "stac_version": STAC_VERSION,
        "stac_extensions": [],
        "id": format!("{name}-{n:06}"),
        "geometry": geometry,
        "properties": props,
        "links": [
            {"rel": "root", "href": "../../catalog.json", "type": "application/json"},
            {"rel": "parent", "href": "../collection.json", "type": "application/json"},
            {"rel": "collection", "href": "../collection.json", "type": "application/json"},
        ],
        "assets": assets,
        "collection": name,
    });
    if let Some(b) = b {
        it["bbox"] = json!(b);
    }
    it
}

/// Rewrites the root catalog with a child link per dataset that has a collection.
async fn write_root(store: &Store) -> Result<(), CatalogError> {
    let mut links = vec![json!({"rel": "root", "href": "./catalog.json", "type": "application/json"})];
    for name in hod_index::list(store).await? {
        if store.get_opt(&collection_key(&name)).await?.is_some() {
            links.push(json!({"rel": "child", "href": format!("./{name}/collection.json"), "type": "application/json", "title": name}));
        }
    }
    let root = json!({
        "type": "Catalog",
        "stac_version": STAC_VERSION,
        "id": "hod-store",
        "title": "hydro-opendata store",
        "description": "The datasets of this hod store: one Collection per dataset, one Item per time block.",
        "links": links,
    });
    store.put(ROOT, put_json(&root)).await?;
    Ok(())
}

/// The collections of the store's catalog, in catalog order.
///
/// # Errors
/// Store errors or malformed documents.
pub async fn collections(store: &Store) -> Result<Vec<Value>, CatalogError> {
    let Some(root) = store.get_opt(ROOT).await? else {
        return Ok(Vec::new());
    };
    let corrupt = |key: &str, e: serde_json::Error| CatalogError::Corrupt {
        key: key.to_string(),
        what: e.to_string(),
    };
    let root: Value = serde_json::from_slice(&root).map_err(|e| corrupt(ROOT, e))?;
    let mut out = Vec::new();
    for l in root["links"].as_array().into_iter().flatten() {
        if l["rel"] != "child" {
            continue;
        }
        let Some(href) = l["href"].as_str() else { continue };
        let key = format!("stac/{}", href.trim_start_matches("./"));
        let bytes = store.get(&key).await?;
        out.push(serde_json::from_slice(&bytes).map_err(|e| corrupt(&key, e))?);
    }
    Ok(out)
}
