//! Georeferencing: the affine transform (ModelPixelScale + ModelTiepoint or
//! ModelTransformation) and the CRS from the GeoKeyDirectory.

use super::ifd::{Ifd, Layout, corrupt};
use crate::{FormatError, ReadAt};
use hod_core::Format;
use std::collections::BTreeMap;

const MODEL_PIXEL_SCALE: u16 = 33550;
const MODEL_TIEPOINT: u16 = 33922;
const MODEL_TRANSFORMATION: u16 = 34264;
const GEO_KEY_DIRECTORY: u16 = 34735;
const GEO_DOUBLE_PARAMS: u16 = 34736;
const GEO_ASCII_PARAMS: u16 = 34737;

/// "User-defined" in every GeoKey that holds an EPSG code.
const USER_DEFINED: u64 = 32767;

/// One GeoKey's value.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum GeoValue {
    Short(u64),
    Doubles(Vec<f64>),
    Ascii(String),
}

impl GeoValue {
    fn to_json(&self) -> serde_json::Value {
        match self {
            GeoValue::Short(v) => (*v).into(),
            GeoValue::Doubles(v) if v.len() == 1 => hod_core::float_attr(v[0]),
            GeoValue::Doubles(v) => v.iter().map(|&x| hod_core::float_attr(x)).collect(),
            GeoValue::Ascii(s) => s.clone().into(),
        }
    }
}

/// What the georeferencing tags say about the first image.
#[derive(Debug, Clone)]
pub(super) struct Georef {
    /// GDAL order: x0, dx, row rotation, y0, column rotation, dy; the outer corner of pixel
    /// (0, 0), with PixelIsPoint already shifted by half a pixel as GDAL does.
    pub transform: [f64; 6],
    /// Whether the file has a transform at all (else the identity, as GDAL gives).
    pub georeferenced: bool,
    /// GTRasterTypeGeoKey is PixelIsPoint.
    pub pixel_is_point: bool,
    /// The CRS is geographic (degrees).
    pub geographic: bool,
    /// `EPSG:NNNN`, or a PROJ string for a user-defined CRS.
    pub crs: Option<String>,
    /// The PROJ string built from the GeoKeys of a user-defined CRS.
    pub proj4: Option<String>,
    /// Name of the projected linear unit (CF `units` of the coordinates), when the GeoKeys
    /// give it (ProjLinearUnitsGeoKey; no EPSG database here to look it up).
    pub linear_unit: Option<&'static str>,
    /// Every GeoKey, by key id.
    pub keys: BTreeMap<u16, GeoValue>,
}

impl Georef {
    /// The GeoKeys as a JSON object (key id → value), for the file's attributes.
    pub fn keys_json(&self) -> serde_json::Value {
        self.keys
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_json()))
            .collect()
    }

    fn short(&self, key: u16) -> Option<u64> {
        match self.keys.get(&key) {
            Some(GeoValue::Short(v)) => Some(*v),
            _ => None,
        }
    }

    fn double(&self, key: u16) -> Option<f64> {
        match self.keys.get(&key) {
            Some(GeoValue::Doubles(v)) => v.first().copied(),
            _ => None,
        }
    }

    /// The first of these keys that is present.
    fn first(&self, keys: &[u16]) -> Option<f64> {
        keys.iter().find_map(|&k| self.double(k))
    }
}

/// Reads the transform and the GeoKeys of `ifd`.
pub(super) fn read(layout: Layout, src: &dyn ReadAt, ifd: &Ifd) -> Result<Georef, FormatError> {
    let floats = |tag| ifd.get(tag).map(|e| layout.floats(src, e)).transpose();
    let keys = match ifd.get(GEO_KEY_DIRECTORY) {
        Some(e) => {
            let dir = layout.uints(src, e)?;
            let doubles = floats(GEO_DOUBLE_PARAMS)?.unwrap_or_default();
            let ascii = match ifd.get(GEO_ASCII_PARAMS) {
                Some(e) => layout.bytes(src, e)?,
                None => Vec::new(),
            };
            parse_keys(&dir, &doubles, &ascii, ifd.offset)?
        }
        None => BTreeMap::new(),
    };
    let mut g = Georef {
        transform: [0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
        georeferenced: true,
        pixel_is_point: false,
        geographic: false,
        crs: None,
        proj4: None,
        linear_unit: None,
        keys,
    };
    g.pixel_is_point = g.short(1025) == Some(2);
    let t = &mut g.transform;
    match (
        floats(MODEL_TRANSFORMATION)?,
        floats(MODEL_PIXEL_SCALE)?,
        floats(MODEL_TIEPOINT)?,
    ) {
        (Some(m), _, _) => {
            let &[a, b, _, c, d, e, _, f, ..] = m.as_slice() else {
                return Err(corrupt(
                    ifd.offset,
                    format!("ModelTransformation has {} values", m.len()),
                ));
            };
            if b != 0.0 || d != 0.0 {
                return Err(FormatError::Unsupported {
                    format: Format::Geotiff,
                    what: format!("rotated ModelTransformation (terms {b}, {d})"),
                });
            }
            *t = [c, a, b, f, d, e];
        }
        (None, Some(scale), Some(tie)) => {
            let (&[sx, sy, ..], &[i, j, _, x, y, ..]) = (scale.as_slice(), tie.as_slice()) else {
                return Err(corrupt(ifd.offset, "ModelPixelScale or ModelTiepoint too short"));
            };
            // The same expressions as GDAL, so that coordinates match it bit for bit.
            t[1] = sx;
            t[5] = -sy;
            t[0] = x - i * t[1];
            t[3] = y - j * t[5];
        }
        _ => g.georeferenced = false,
    }
    if g.pixel_is_point && g.georeferenced {
        t[0] -= t[1] * 0.5 + t[2] * 0.5;
        t[3] -= t[4] * 0.5 + t[5] * 0.5;
    }
    crs(&mut g);
    Ok(g)
}

/// Parses the GeoKeyDirectory: a header `[1, rev, minor, n]` then `n` entries
/// `[key, location, count, value or index]`.
fn parse_keys(
    dir: &[u64],
    doubles: &[f64],
    ascii: &[u8],
    at: u64,
) -> Result<BTreeMap<u16, GeoValue>, FormatError> {
    let bad = |what: String| corrupt(at, format!("GeoKeyDirectory: {what}"));
    let n = dir
        .get(3)
        .copied()
        .ok_or_else(|| bad("shorter than its header".into()))?;
    let entries = dir.get(4..).unwrap_or_default();
    if (entries.len() as u64) / 4 < n {
        return Err(bad(format!("declares {n} keys but holds {}", entries.len() / 4)));
    }
    let mut keys = BTreeMap::new();
    for e in entries.chunks_exact(4).take(n as usize) {
        let &[key, loc, count, value] = e else { continue };
        let range = (value as usize)..(value.saturating_add(count) as usize);
        let v = match loc {
            0 => GeoValue::Short(value),
            34736 => GeoValue::Doubles(
                doubles
                    .get(range)
                    .ok_or_else(|| bad(format!("key {key} points past the double params")))?
                    .to_vec(),
            ),
            34737 => {
                // Writers disagree on whether the count includes the '|' or NUL: clamp it.
                let end = range.end.min(ascii.len());
                let text = ascii
                    .get(range.start..end)
                    .ok_or_else(|| bad(format!("key {key} points past the ASCII params")))?;
                let text = String::from_utf8_lossy(text);
                GeoValue::Ascii(text.trim_end_matches(['|', '\0']).to_string())
            }
            34735 => GeoValue::Short(dir.get(value as usize).copied().unwrap_or_default()),
            other => return Err(bad(format!("key {key} has location tag {other}"))),
        };
        keys.insert(key as u16, v);
    }
    Ok(keys)
}

/// Fills `crs`, `proj4`, `geographic` and `linear_unit` from the GeoKeys.
fn crs(g: &mut Georef) {
    let projected_code = g.short(3072);
    let geographic_code = g.short(2048);
    g.geographic = match g.short(1024) {
        Some(model) => model == 2,
        None => projected_code.is_none() && geographic_code.is_some(),
    };
    // Unit → metre as a ratio, so that e.g. 4921250 US feet is exactly 1500000 m.
    let (unit, to_metre) = match g.short(3076) {
        None | Some(9001) => (("m", "metre"), Some((1.0, 1.0))),
        Some(9002) => (("ft", "foot"), Some((3048.0, 10000.0))),
        Some(9003) => (("us-ft", "US survey foot"), Some((1200.0, 3937.0))),
        Some(_) => (("", "unknown"), None),
    };
    g.linear_unit = g.short(3076).and(to_metre).map(|_| unit.1);
    let code = if g.geographic {
        geographic_code
    } else {
        projected_code
    };
    if let Some(c) = code.filter(|&c| c != USER_DEFINED && c != 0) {
        g.crs = Some(format!("EPSG:{c}"));
        return;
    }
    if g.keys.is_empty() {
        return;
    }
    let ellipsoid = ellipsoid(g);
    g.proj4 = if g.geographic {
        Some(format!("+proj=longlat{ellipsoid} +no_defs"))
    } else {
        projection(g, to_metre).map(|p| format!("{p}{ellipsoid} +units={} +no_defs", unit.0))
    };
    g.crs = g.proj4.clone();
}

/// The ellipsoid/datum part of a PROJ string, with a leading space (empty when unknown).
fn ellipsoid(g: &Georef) -> String {
    let mut s = match (g.double(2057), g.double(2059), g.double(2058)) {
        (Some(a), Some(rf), _) => format!(" +a={a} +rf={rf}"),
        (Some(a), None, Some(b)) => format!(" +a={a} +b={b}"),
        _ => match (g.short(2048), g.short(2050), g.short(2056)) {
            (Some(4326), ..) | (_, Some(6326), _) => " +datum=WGS84".into(),
            (Some(4269), ..) | (_, Some(6269), _) => " +datum=NAD83".into(),
            (Some(4267), ..) | (_, Some(6267), _) => " +datum=NAD27".into(),
            (.., Some(7030)) => " +ellps=WGS84".into(),
            (.., Some(7019)) => " +ellps=GRS80".into(),
            (.., Some(7008)) => " +ellps=clrk66".into(),
            _ => String::new(),
        },
    };
    if let Some(GeoValue::Doubles(t)) = g.keys.get(&2062) {
        let t: Vec<String> = t.iter().map(f64::to_string).collect();
        s += &format!(" +towgs84={}", t.join(","));
    }
    s
}

/// `+proj=… +lat_0=…` for the coordinate transformations GDAL writes most often.
fn projection(g: &Georef, to_metre: Option<(f64, f64)>) -> Option<String> {
    // Angles must be in degrees (GeogAngularUnitsGeoKey 9102, the default); linear
    // parameters are in the projection's unit, PROJ wants metres.
    let (num, den) = to_metre?;
    if g.short(2054).is_some_and(|u| u != 9102) {
        return None;
    }
    let lat_0 = g15(g.first(&[3081, 3085, 3089]).unwrap_or(0.0));
    let lon_0 = g15(g.first(&[3080, 3084, 3088]).unwrap_or(0.0));
    let x_0 = g15(g.first(&[3082, 3086, 3090]).unwrap_or(0.0) * num / den);
    let y_0 = g15(g.first(&[3083, 3087, 3091]).unwrap_or(0.0) * num / den);
    let k = g15(g.first(&[3092, 3093]).unwrap_or(1.0));
    let (lat_1, lat_2) = (
        g.double(3078).map_or(lat_0, g15),
        g.double(3079).map_or(lat_0, g15),
    );
    let origin = format!("+lat_0={lat_0} +lon_0={lon_0}");
    let false_en = format!("+x_0={x_0} +y_0={y_0}");
    Some(match g.short(3075)? {
        1 => format!("+proj=tmerc {origin} +k={k} {false_en}"),
        7 => format!("+proj=merc +lon_0={lon_0} +k={k} {false_en}"),
        8 => format!("+proj=lcc {origin} +lat_1={lat_1} +lat_2={lat_2} {false_en}"),
        9 => format!("+proj=lcc +lat_1={lat_0} {origin} +k_0={k} {false_en}"),
        10 => format!("+proj=laea {origin} {false_en}"),
        11 => format!("+proj=aea {origin} +lat_1={lat_1} +lat_2={lat_2} {false_en}"),
        _ => return None,
    })
}

/// Rounds to 15 significant digits, as PROJ prints its parameters (so 3280833.333333333 US
/// feet gives `y_0=1000000`, not 999999.9999999999).
fn g15(v: f64) -> f64 {
    format!("{v:.14e}").parse().unwrap_or(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_point_into_params() {
        let dir = [1, 1, 0, 3, 1024, 0, 1, 1, 3078, 34736, 1, 1, 1026, 34737, 4, 0];
        let keys = parse_keys(&dir, &[7.0, 29.5], b"abc||", 0).unwrap();
        assert_eq!(keys[&1024], GeoValue::Short(1));
        assert_eq!(keys[&3078], GeoValue::Doubles(vec![29.5]));
        assert_eq!(keys[&1026], GeoValue::Ascii("abc".into()));
        assert!(parse_keys(&dir, &[7.0], b"abc|", 0).is_err());
        assert!(parse_keys(&dir[..10], &[], b"", 0).is_err());
        // An ASCII count one past the end (a NUL counted twice) is clamped.
        assert_eq!(
            parse_keys(&dir, &[7.0, 29.5], b"abc", 0).unwrap()[&1026],
            GeoValue::Ascii("abc".into())
        );
    }
}
