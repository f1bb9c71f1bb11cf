//! Finding messages, reading their headers and grouping them into variables.

use super::bytes::Bytes;
use super::{Field, Param, grib1, grib2, names, parse_idx};
use crate::{FormatError, ReadAt, read};
use hod_core::{
    ArrayMeta, Attrs, ChunkEntry, ChunkLoc, Codec, DType, Endian, Format, ScannedFile, ScannedVariable,
};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// One message found in the file.
struct Message {
    offset: u64,
    length: u64,
    edition: u8,
    field: Field,
}

/// Scans a GRIB file, using a wgrib2 `.idx` inventory for the message offsets when given.
///
/// # Errors
/// [`FormatError`] for an unreadable or corrupt file or inventory. Messages this implementation
/// cannot represent are skipped and listed in the `hod_skipped` file attribute.
pub fn scan(src: &dyn ReadAt, idx: Option<&str>) -> Result<ScannedFile, FormatError> {
    let size = src.size();
    let mut skipped = BTreeMap::new();
    let mut messages = Vec::new();
    let mut edition_seen = None;
    let mut visit =
        |offset: u64, limit: u64, skipped: &mut BTreeMap<String, Value>| -> Result<u64, FormatError> {
            let (length, edition, field) = read_message(src, offset, limit)?;
            edition_seen.get_or_insert(edition);
            match field {
                Ok(field) => messages.push(Message {
                    offset,
                    length,
                    edition,
                    field,
                }),
                Err(e @ FormatError::Unsupported { .. }) => {
                    skipped.insert(format!("message@{offset}"), Value::String(e.to_string()));
                }
                Err(e) => return Err(e),
            }
            Ok(length)
        };
    match idx {
        Some(text) => {
            let mut offsets: Vec<u64> = parse_idx(text)?.iter().map(|e| e.offset).collect();
            offsets.dedup();
            for (k, &off) in offsets.iter().enumerate() {
                let end = offsets.get(k + 1).copied().unwrap_or(size);
                if end <= off || end > size {
                    return Err(FormatError::Corrupt {
                        format: Format::Grib2,
                        offset: off,
                        what: format!(
                            ".idx entry {} ends at {end}, outside the file of {size} bytes",
                            k + 1
                        ),
                    });
                }
                visit(off, end - off, &mut skipped)?;
            }
        }
        None => {
            let mut off = 0;
            while let Some(start) = next_grib(src, off)? {
                off = start + visit(start, size - start, &mut skipped)?;
            }
        }
    }
    let format = match edition_seen {
        Some(1) => Format::Grib1,
        Some(_) => Format::Grib2,
        None => {
            return Err(FormatError::Corrupt {
                format: Format::Grib2,
                offset: 0,
                what: "no GRIB message found".into(),
            });
        }
    };
    let mut file = build(format, messages, &mut skipped);
    if !skipped.is_empty() {
        file.attrs
            .insert("hod_skipped".into(), Value::Object(skipped.into_iter().collect()));
    }
    Ok(file)
}

/// Offset of the next `GRIB` marker at or after `from` (skips padding between messages).
fn next_grib(src: &dyn ReadAt, from: u64) -> Result<Option<u64>, FormatError> {
    // Messages usually follow each other directly: look there first.
    if read(src, from, 4)? == b"GRIB" {
        return Ok(Some(from));
    }
    // Padding is usually short: search small blocks first, then larger ones.
    let mut block = 64u64;
    let mut pos = from;
    while pos < src.size() {
        let buf = read(src, pos, block + 3)?;
        if let Some(i) = buf.windows(4).position(|w| w == b"GRIB") {
            return Ok(Some(pos + i as u64));
        }
        if (buf.len() as u64) < block + 3 {
            break;
        }
        pos += block;
        block = (block * 2).min(64 * 1024);
    }
    Ok(None)
}

/// Reads one message's headers at `offset` (at most `limit` bytes long): its length, edition and
/// metadata (an `Unsupported` error there means "skip this message").
#[allow(clippy::type_complexity)]
fn read_message(
    src: &dyn ReadAt,
    offset: u64,
    limit: u64,
) -> Result<(u64, u8, Result<Field, FormatError>), FormatError> {
    let size = src.size();
    let mut fetch = |o: u64, l: u64| -> Result<Vec<u8>, FormatError> {
        let end = offset.saturating_add(o).saturating_add(l);
        if o.saturating_add(l) > limit || end > size {
            return Err(FormatError::Truncated {
                format: Format::Grib2,
                needed: end,
                size: size.min(offset.saturating_add(limit)),
            });
        }
        read(src, offset + o, l)
    };
    let head = fetch(0, 8)?;
    if &head[..4] != b"GRIB" {
        return Err(FormatError::Corrupt {
            format: Format::Grib2,
            offset,
            what: format!("expected a GRIB message, found {:02x?}", &head[..4]),
        });
    }
    let edition = head[7];
    let section = |fetch: &mut dyn FnMut(u64, u64) -> Result<Vec<u8>, FormatError>,
                   (o, l): (u64, u64),
                   fmt| { fetch(o, l).map(|d| (d, offset + o, fmt)) };
    match edition {
        1 => {
            let lay = grib1::layout(&mut fetch, offset, limit)?;
            let pds = section(&mut fetch, lay.pds, Format::Grib1)?;
            let gds = lay
                .gds
                .map(|g| section(&mut fetch, g, Format::Grib1))
                .transpose()?;
            let field = grib1::field(
                Bytes::new(&pds.0, pds.1, pds.2),
                gds.as_ref().map(|g| Bytes::new(&g.0, g.1, g.2)),
            );
            Ok((lay.total_len, 1, field))
        }
        2 => {
            let lay = match grib2::layout(&mut fetch, offset, limit) {
                Ok(lay) => lay,
                Err(e @ FormatError::Unsupported { .. }) => {
                    let len = u64::from_be_bytes(fetch(8, 8)?.try_into().unwrap_or_default());
                    return Ok((len, 2, Err(e)));
                }
                Err(e) => return Err(e),
            };
            let mut get = |n: u8| -> Result<(Vec<u8>, u64, Format), FormatError> {
                let s = lay.section(n).unwrap_or_default();
                section(&mut fetch, s, Format::Grib2)
            };
            let (s1, s3, s4) = (get(1)?, get(3)?, get(4)?);
            let field = grib2::field(lay.discipline, view(&s1), view(&s3), view(&s4));
            Ok((lay.total_len, 2, field))
        }
        e => Err(FormatError::Unsupported {
            format: Format::Grib2,
            what: format!("GRIB edition {e} at byte {offset}"),
        }),
    }
}

fn view(s: &(Vec<u8>, u64, Format)) -> Bytes<'_> {
    Bytes::new(&s.0, s.1, s.2)
}

/// Messages of one variable: same name, level type and step type.
struct Group {
    base: String,
    messages: Vec<Message>,
}

fn build(format: Format, messages: Vec<Message>, skipped: &mut BTreeMap<String, Value>) -> ScannedFile {
    let mut groups: BTreeMap<(String, String, &'static str), Group> = BTreeMap::new();
    let mut order = Vec::new();
    for m in messages {
        let base = names::var_name(&m.field.param);
        let key = (base.clone(), m.field.type_of_level.clone(), m.field.step_type);
        if !groups.contains_key(&key) {
            order.push(key.clone());
        }
        groups
            .entry(key)
            .or_insert_with(|| Group {
                base,
                messages: Vec::new(),
            })
            .messages
            .push(m);
    }
    // Final names: suffixes only where a name is shared.
    let count = |f: &dyn Fn(&(String, String, &str)) -> bool| order.iter().filter(|k| f(k)).count();
    let final_name = |k: &(String, String, &'static str)| {
        if count(&|o| o.0 == k.0) == 1 {
            k.0.clone()
        } else if count(&|o| o.0 == k.0 && o.1 == k.1) == 1 {
            format!("{}_{}", k.0, k.1)
        } else {
            format!("{}_{}_{}", k.0, k.1, k.2)
        }
    };
    let named: Vec<(String, Group)> = order
        .iter()
        .filter_map(|k| groups.remove(k).map(|g| (final_name(k), g)))
        .collect();
    Coords::collect(&named).into_file(format, named, skipped)
}

fn distinct<T: PartialOrd + Copy>(mut v: Vec<T>) -> Vec<T> {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    v.dedup_by(|a, b| a == b);
    v
}

/// The shared coordinates of the file: unions over the variables that use them as dims.
struct Coords {
    times: Vec<i64>,
    steps: Vec<f64>,
    numbers: Vec<i64>,
    /// Levels per level type, over the variables with several levels.
    levels: BTreeMap<String, Vec<f64>>,
    /// Distinct grids; the first is `latitude`/`longitude`, the next `latitude_1`, …
    grids: Vec<super::Grid>,
}

impl Coords {
    fn collect(groups: &[(String, Group)]) -> Coords {
        let all = || groups.iter().flat_map(|g| g.1.messages.iter());
        let mut steps = Vec::new();
        let mut numbers = Vec::new();
        let mut levels: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        let mut grids: Vec<super::Grid> = Vec::new();
        for (_, g) in groups {
            let s = distinct(g.messages.iter().map(|m| m.field.step_hours).collect());
            if s.len() > 1 {
                steps.extend(s);
            }
            let n = distinct(g.messages.iter().filter_map(|m| m.field.number).collect());
            if n.len() > 1 {
                numbers.extend(n);
            }
            let l = distinct(g.messages.iter().map(|m| m.field.level).collect());
            if l.len() > 1 {
                levels
                    .entry(g.messages[0].field.type_of_level.clone())
                    .or_default()
                    .extend(l);
            }
            if !grids.contains(&g.messages[0].field.grid) {
                grids.push(g.messages[0].field.grid.clone());
            }
        }
        for (t, l) in &mut levels {
            *l = distinct(std::mem::take(l));
            if t.starts_with("isobaric") {
                l.reverse();
            }
        }
        let file_steps = distinct(all().map(|m| m.field.step_hours).collect());
        Coords {
            times: distinct(all().map(|m| m.field.ref_time).collect()),
            steps: if steps.is_empty() && file_steps.len() == 1 {
                file_steps
            } else {
                distinct(steps)
            },
            numbers: distinct(numbers),
            levels,
            grids,
        }
    }

    fn into_file(
        self,
        format: Format,
        groups: Vec<(String, Group)>,
        skipped: &mut BTreeMap<String, Value>,
    ) -> ScannedFile {
        let step_is_dim = self.steps.len() > 1;
        let mut variables = Vec::new();
        for (name, g) in groups {
            match self.variable(&name, &g, step_is_dim) {
                Ok(v) => variables.push(v),
                Err(reason) => {
                    skipped.insert(name, Value::String(reason));
                }
            }
        }
        variables.extend(self.coordinates(step_is_dim));
        let mut attrs = Attrs::new();
        attrs.insert(
            "GRIB_edition".into(),
            json!(if format == Format::Grib1 { 1 } else { 2 }),
        );
        attrs.insert("Conventions".into(), json!("CF-1.7"));
        ScannedFile {
            format,
            attrs,
            variables,
        }
    }

    fn grid_dims(&self, grid: &super::Grid) -> (String, String) {
        match self.grids.iter().position(|g| g == grid) {
            Some(0) | None => ("latitude".into(), "longitude".into()),
            Some(k) => (format!("latitude_{k}"), format!("longitude_{k}")),
        }
    }

    fn variable(&self, name: &str, g: &Group, step_is_dim: bool) -> Result<ScannedVariable, String> {
        let first = &g.messages[0].field;
        let numbers = distinct(
            g.messages
                .iter()
                .filter_map(|m| m.field.number)
                .collect::<Vec<_>>(),
        );
        let levels = distinct(g.messages.iter().map(|m| m.field.level).collect::<Vec<_>>());
        let steps = distinct(g.messages.iter().map(|m| m.field.step_hours).collect::<Vec<_>>());
        // (dim name, coordinate values as f64 for lookups)
        let mut dims: Vec<(String, Vec<f64>)> = Vec::new();
        if numbers.len() > 1 {
            dims.push(("number".into(), self.numbers.iter().map(|&n| n as f64).collect()));
        }
        dims.push(("time".into(), self.times.iter().map(|&t| t as f64).collect()));
        if step_is_dim && steps.len() > 1 {
            dims.push(("step".into(), self.steps.clone()));
        }
        if levels.len() > 1 {
            let l = self.levels.get(&first.type_of_level).cloned().unwrap_or_default();
            dims.push((first.type_of_level.clone(), l));
        }
        let (lat, lon) = self.grid_dims(&first.grid);
        let mut shape: Vec<u64> = dims.iter().map(|d| d.1.len() as u64).collect();
        let mut chunk_shape = vec![1; shape.len()];
        shape.extend([u64::from(first.grid.nj), u64::from(first.grid.ni)]);
        chunk_shape.extend([u64::from(first.grid.nj), u64::from(first.grid.ni)]);
        let mut chunks: Vec<ChunkEntry> = Vec::new();
        // (endStep, startStep) of the messages kept.
        let mut ranges: Vec<(f64, f64)> = Vec::new();
        for m in &g.messages {
            if m.field.grid != first.grid {
                return Err(format!("messages of {name} are on different grids"));
            }
            let mut index = Vec::with_capacity(shape.len());
            for (dim, values) in &dims {
                let v = match dim.as_str() {
                    "number" => m.field.number.unwrap_or(0) as f64,
                    "time" => m.field.ref_time as f64,
                    "step" => m.field.step_hours,
                    _ => m.field.level,
                };
                let i = values
                    .iter()
                    .position(|&x| x == v)
                    .ok_or_else(|| format!("{dim} value {v} not found"))?;
                index.push(i as u64);
            }
            index.extend([0, 0]);
            // The first message of a repeated combination wins, as in cfgrib.
            if chunks.iter().all(|c| c.index != index) {
                ranges.push((m.field.step_hours, m.field.start_hours));
                chunks.push(ChunkEntry {
                    index,
                    loc: ChunkLoc::Range {
                        offset: m.offset,
                        length: m.length,
                    },
                });
            }
        }
        let mut dim_names: Vec<String> = dims.into_iter().map(|d| d.0).collect();
        dim_names.extend([lat, lon]);
        let mut meta = ArrayMeta::new(dim_names, shape, chunk_shape, DType::F32, Endian::Little);
        meta.codecs = vec![Codec::Grib {
            edition: g.messages[0].edition,
        }];
        meta.fill_value = Some(f64::NAN);
        meta.attrs = var_attrs(&g.base, first);
        if levels.len() == 1 {
            meta.attrs.insert(first.type_of_level.clone(), json!(first.level));
        }
        if steps.len() == 1 && self.steps.len() != 1 {
            meta.attrs.insert("step".into(), json!(first.step_hours));
        }
        if first.step_type != "instant" {
            meta.attrs.insert("GRIB_stepRange".into(), step_ranges(ranges));
        }
        Ok(ScannedVariable {
            name: name.to_string(),
            meta,
            chunks,
        })
    }

    fn coordinates(&self, step_is_dim: bool) -> Vec<ScannedVariable> {
        let mut out = Vec::new();
        let mut attrs = Attrs::new();
        attrs.insert("units".into(), json!("seconds since 1970-01-01T00:00:00"));
        attrs.insert("calendar".into(), json!("proleptic_gregorian"));
        attrs.insert("standard_name".into(), json!("time"));
        attrs.insert("long_name".into(), json!("initial time of forecast"));
        out.push(coord(
            "time",
            &["time"],
            DType::I64,
            self.times.iter().flat_map(|t| t.to_le_bytes()).collect(),
            attrs,
        ));
        if !self.steps.is_empty() {
            let mut attrs = Attrs::new();
            attrs.insert("units".into(), json!("hours"));
            attrs.insert("standard_name".into(), json!("forecast_period"));
            attrs.insert("long_name".into(), json!("time since forecast_reference_time"));
            let dims: &[&str] = if step_is_dim { &["step"] } else { &[] };
            out.push(coord("step", dims, DType::F64, f64_bytes(&self.steps), attrs));
        }
        if !self.numbers.is_empty() {
            let mut attrs = Attrs::new();
            attrs.insert("units".into(), json!("1"));
            attrs.insert("standard_name".into(), json!("realization"));
            attrs.insert("long_name".into(), json!("ensemble member numerical id"));
            let bytes = self.numbers.iter().flat_map(|n| n.to_le_bytes()).collect();
            out.push(coord("number", &["number"], DType::I64, bytes, attrs));
        }
        for (t, levels) in &self.levels {
            out.push(coord(
                t,
                &[t.as_str()],
                DType::F64,
                f64_bytes(levels),
                level_attrs(t),
            ));
        }
        for grid in &self.grids {
            let (lat, lon) = self.grid_dims(grid);
            let lats = grid.latitudes();
            let mut attrs = Attrs::new();
            attrs.insert("units".into(), json!("degrees_north"));
            attrs.insert("standard_name".into(), json!("latitude"));
            attrs.insert("long_name".into(), json!("latitude"));
            if lats.first() > lats.last() {
                attrs.insert("stored_direction".into(), json!("decreasing"));
            }
            out.push(coord(&lat, &[lat.as_str()], DType::F64, f64_bytes(&lats), attrs));
            let mut attrs = Attrs::new();
            attrs.insert("units".into(), json!("degrees_east"));
            attrs.insert("standard_name".into(), json!("longitude"));
            attrs.insert("long_name".into(), json!("longitude"));
            out.push(coord(
                &lon,
                &[lon.as_str()],
                DType::F64,
                f64_bytes(&grid.longitudes()),
                attrs,
            ));
        }
        out
    }
}

/// ecCodes' `stepRange` (`"18-21"`) of a statistical variable's messages: one string when they
/// share it, else one per step, by step. Forecast steps alone do not say over which period a
/// value was accumulated (ERA5-Land `0-5` vs ERA5 `4-5` vs a GFS bucket `0-3`, `3-6`).
fn step_ranges(mut ranges: Vec<(f64, f64)>) -> Value {
    ranges.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    ranges.dedup_by(|a, b| a.0 == b.0);
    let text: Vec<String> = ranges
        .iter()
        .map(|&(end, start)| format!("{start}-{end}"))
        .collect();
    match &text[..] {
        [one] => json!(one),
        _ => json!(text),
    }
}

fn f64_bytes(v: &[f64]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// A coordinate variable with its values inline (one chunk; 0-d when `dims` is empty).
fn coord(name: &str, dims: &[&str], dtype: DType, bytes: Vec<u8>, attrs: Attrs) -> ScannedVariable {
    let n = (bytes.len() / dtype.size()) as u64;
    let shape: Vec<u64> = if dims.is_empty() { vec![] } else { vec![n] };
    let mut meta = ArrayMeta::new(
        dims.iter().map(|d| d.to_string()).collect(),
        shape.clone(),
        shape,
        dtype,
        Endian::Little,
    );
    meta.attrs = attrs;
    ScannedVariable {
        name: name.to_string(),
        meta,
        chunks: vec![ChunkEntry {
            index: vec![0; dims.len()],
            loc: ChunkLoc::Inline(bytes),
        }],
    }
}

fn level_attrs(t: &str) -> Attrs {
    let mut a = Attrs::new();
    let (long_name, units, extra) = match t {
        "isobaricInhPa" => ("pressure", "hPa", Some(("air_pressure", "down"))),
        "heightAboveGround" | "heightAboveSea" => ("height above the surface", "m", Some(("height", "up"))),
        "depthBelowLand" | "depthBelowLandLayer" => ("soil depth", "m", Some(("depth", "down"))),
        _ => ("", "1", None),
    };
    let long_name = if long_name.is_empty() {
        format!("original GRIB coordinate for key: level({t})")
    } else {
        long_name.into()
    };
    a.insert("long_name".into(), json!(long_name));
    a.insert("units".into(), json!(units));
    if let Some((standard_name, positive)) = extra {
        a.insert("standard_name".into(), json!(standard_name));
        a.insert("positive".into(), json!(positive));
    }
    if t.starts_with("isobaric") {
        a.insert("stored_direction".into(), json!("decreasing"));
    }
    a
}

/// cfgrib-style attributes of a variable.
fn var_attrs(base: &str, f: &Field) -> Attrs {
    let mut a = Attrs::new();
    let info = names::lookup(&f.param);
    if let Some(i) = info {
        a.insert("GRIB_paramId".into(), json!(i.param_id));
        a.insert("GRIB_shortName".into(), json!(i.short_name));
        a.insert("GRIB_units".into(), json!(i.units));
        a.insert("GRIB_name".into(), json!(i.name));
        a.insert("GRIB_cfVarName".into(), json!(i.cf_var_name));
        a.insert("GRIB_cfName".into(), json!(i.cf_name));
        a.insert("long_name".into(), json!(i.name));
        a.insert("units".into(), json!(i.units));
        a.insert("standard_name".into(), json!(i.cf_name));
    } else {
        a.insert("GRIB_shortName".into(), json!(base));
        a.insert("long_name".into(), json!(base));
        a.insert("units".into(), json!("unknown"));
    }
    match &f.param {
        Param::Grib1 { table, number } => {
            a.insert("GRIB_table2Version".into(), json!(table));
            a.insert("GRIB_indicatorOfParameter".into(), json!(number));
        }
        Param::Grib2 {
            discipline,
            category,
            number,
            ..
        } => {
            a.insert("GRIB_discipline".into(), json!(discipline));
            a.insert("GRIB_parameterCategory".into(), json!(category));
            a.insert("GRIB_parameterNumber".into(), json!(number));
        }
    }
    a.insert("GRIB_typeOfLevel".into(), json!(f.type_of_level));
    a.insert("GRIB_stepType".into(), json!(f.step_type));
    a.insert("GRIB_gridType".into(), json!(f.grid.grid_type()));
    a.insert("GRIB_Nx".into(), json!(f.grid.ni));
    a.insert("GRIB_Ny".into(), json!(f.grid.nj));
    a
}
