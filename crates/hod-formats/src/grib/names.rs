//! Parameter names: ecCodes' `paramId`, `shortName`, `cfVarName`, `cfName`, `units` and `name`
//! for GRIB1 (ECMWF and WMO tables) and GRIB2 (WMO and NCEP local entries), from tables probed
//! out of ecCodes by `params/generate.py`.

use super::Param;
use std::collections::HashMap;
use std::sync::OnceLock;

/// ecCodes' names of one parameter.
#[derive(Debug)]
pub(super) struct ParamInfo {
    pub param_id: i64,
    pub short_name: &'static str,
    pub cf_var_name: &'static str,
    pub cf_name: &'static str,
    pub units: &'static str,
    pub name: &'static str,
}

fn table(text: &'static str) -> HashMap<&'static str, ParamInfo> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let [key, id, short_name, cf_var_name, cf_name, units, name] = f[..] else {
                return None;
            };
            let info = ParamInfo {
                param_id: id.parse().ok()?,
                short_name,
                cf_var_name,
                cf_name,
                units,
                name,
            };
            Some((key, info))
        })
        .collect()
}

fn grib1() -> &'static HashMap<&'static str, ParamInfo> {
    static T: OnceLock<HashMap<&'static str, ParamInfo>> = OnceLock::new();
    T.get_or_init(|| table(include_str!("params/grib1.tsv")))
}

fn grib2() -> &'static HashMap<&'static str, ParamInfo> {
    static T: OnceLock<HashMap<&'static str, ParamInfo>> = OnceLock::new();
    T.get_or_init(|| table(include_str!("params/grib2.tsv")))
}

/// ecCodes' names of a parameter; for GRIB2 an entry specific to the statistical process or the
/// level type wins over the plain one, as in ecCodes' concept matching.
pub(super) fn lookup(param: &Param) -> Option<&'static ParamInfo> {
    match param {
        Param::Grib1 { table, number } => grib1().get(format!("{table}/{number}").as_str()),
        Param::Grib2 {
            discipline,
            category,
            number,
            variants,
        } => {
            let key = format!("{discipline}/{category}/{number}");
            variants
                .iter()
                .find_map(|v| grib2().get(format!("{key}/{v}").as_str()))
                .or_else(|| grib2().get(key.as_str()))
        }
    }
}

/// The variable name cfgrib gives a parameter (its `cfVarName`, else `shortName`), or a stable
/// made-up one for parameters ecCodes does not know.
pub(super) fn var_name(param: &Param) -> String {
    match lookup(param) {
        Some(i) if !matches!(i.cf_var_name, "" | "unknown") => i.cf_var_name.to_string(),
        Some(i) if !matches!(i.short_name, "" | "unknown") => i.short_name.to_string(),
        _ => match param {
            Param::Grib1 { table, number } => format!("p{table}_{number}"),
            Param::Grib2 {
                discipline,
                category,
                number,
                ..
            } => format!("p{discipline}_{category}_{number}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g2(d: u8, c: u8, n: u8, v: Option<&str>) -> String {
        var_name(&Param::Grib2 {
            discipline: d,
            category: c,
            number: n,
            variants: v.into_iter().map(String::from).collect(),
        })
    }

    #[test]
    fn known_names() {
        assert_eq!(
            var_name(&Param::Grib1 {
                table: 128,
                number: 167
            }),
            "t2m"
        );
        assert_eq!(
            var_name(&Param::Grib1 {
                table: 128,
                number: 228
            }),
            "tp"
        );
        assert_eq!(
            var_name(&Param::Grib1 {
                table: 128,
                number: 165
            }),
            "u10"
        );
        assert_eq!(
            var_name(&Param::Grib1 {
                table: 128,
                number: 129
            }),
            "z"
        );
        assert_eq!(g2(0, 0, 0, None), "t");
        assert_eq!(g2(0, 0, 0, Some("h2")), "t2m");
        assert_eq!(g2(0, 2, 2, Some("h10")), "u10");
        assert_eq!(g2(0, 1, 8, Some("s1")), "tp");
        assert_eq!(g2(0, 3, 5, None), "gh");
        assert_eq!(g2(0, 3, 5, Some("l1")), "orog");
        assert_eq!(g2(0, 3, 0, Some("l1")), "sp");
        assert_eq!(g2(0, 3, 0, Some("l7")), "trpp");
        assert_eq!(g2(10, 0, 3, None), "swh");
        assert_eq!(g2(0, 250, 250, None), "p0_250_250");
    }
}
