//! The profile files: they parse under the strict schema, are all embedded, and say what the
//! providers' documentation says.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hod_catalog::profile::{self, FILES};
use hod_catalog::{Convention, Profile};
use std::collections::BTreeSet;

fn find(name: &str) -> Profile {
    profile::find(name).unwrap()
}

#[test]
fn every_catalog_file_is_embedded_and_valid() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../catalog");
    let on_disk: BTreeSet<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".toml"))
        .collect();
    let embedded: BTreeSet<String> = FILES.iter().map(|(n, _)| n.to_string()).collect();
    assert_eq!(on_disk, embedded, "catalog/*.toml and profile::FILES differ");
    for (name, text) in FILES {
        assert_eq!(std::fs::read_to_string(format!("{dir}/{name}")).unwrap(), *text);
    }
    let all = profile::all().unwrap();
    assert!(all.len() >= 16);
    for p in &all {
        assert!(!p.access.is_empty() && !p.citation.is_empty(), "{}", p.name);
        assert!(p.licence_url.starts_with("https://"), "{}", p.name);
        assert!(!p.variables.is_empty(), "{}", p.name);
    }
}

#[test]
fn unknown_fields_and_bad_values_are_refused() {
    let base = r#"[[profile]]
name = "x"
title = "t"
description = "d"
kind = "k"
provider = "p"
provider_url = "https://p"
licence = "CC-BY-4.0"
licence_url = "https://l"
citation = "c"
resolution = "r"
update_frequency = "u"
access = ["a"]
[profile.extent]
bbox = [-10.0, -5.0, 10.0, 5.0]
[[profile.variables]]
name = "tp"
long_name = "Total precipitation"
units = "m"
convention = "accumulated_since_00utc"
"#;
    assert_eq!(profile::parse("t.toml", base).unwrap().len(), 1);
    let typo = base.replace("citation = \"c\"", "citation = \"c\"\ncitaton = \"c\"");
    let e = profile::parse("t.toml", &typo).unwrap_err().to_string();
    assert!(e.contains("t.toml") && e.contains("citaton"), "{e}");
    let conv = base.replace("accumulated_since_00utc", "accumulated_since_midnight");
    assert!(profile::parse("t.toml", &conv).is_err());
    let bbox = base.replace("[-10.0, -5.0, 10.0, 5.0]", "[-10.0, 5.0, 10.0, -5.0]");
    assert!(profile::parse("t.toml", &bbox).is_err());
    let twice = format!("{base}{}", &base[base.find("[[profile.variables]]").unwrap()..]);
    assert!(
        profile::parse("t.toml", &twice)
            .unwrap_err()
            .to_string()
            .contains("used twice")
    );
}

/// The 50 variables of the CDS product "reanalysis-era5-land", with their ECMWF paramIds and
/// whether they are accumulated from 00 UTC (ERA5-Land documentation, table of parameters).
const ERA5_LAND: [(&str, u32, bool); 50] = [
    ("d2m", 168, false),
    ("t2m", 167, false),
    ("skt", 235, false),
    ("stl1", 139, false),
    ("stl2", 170, false),
    ("stl3", 183, false),
    ("stl4", 236, false),
    ("sp", 134, false),
    ("lblt", 228010, false),
    ("licd", 228014, false),
    ("lict", 228013, false),
    ("lmld", 228009, false),
    ("lmlt", 228008, false),
    ("lshf", 228012, false),
    ("ltlt", 228011, false),
    ("asn", 32, false),
    ("snowc", 260038, false),
    ("rsn", 33, false),
    ("sde", 3066, false),
    ("sd", 141, false),
    ("es", 44, true),
    ("sf", 144, true),
    ("smlt", 45, true),
    ("tsn", 238, false),
    ("src", 198, false),
    ("swvl1", 39, false),
    ("swvl2", 40, false),
    ("swvl3", 41, false),
    ("swvl4", 42, false),
    ("fal", 243, false),
    ("slhf", 147, true),
    ("ssr", 176, true),
    ("str", 177, true),
    ("sshf", 146, true),
    ("ssrd", 169, true),
    ("strd", 175, true),
    ("evabs", 228101, true),
    ("evaow", 228102, true),
    ("evatc", 228100, true),
    ("evavt", 228103, true),
    ("pev", 228251, true),
    ("ro", 205, true),
    ("ssro", 9, true),
    ("sro", 8, true),
    ("e", 182, true),
    ("u10", 165, false),
    ("v10", 166, false),
    ("tp", 228, true),
    ("lai_hv", 66, false),
    ("lai_lv", 67, false),
];

#[test]
fn era5_land_has_its_50_variables_with_their_conventions() {
    let p = find("era5-land");
    assert_eq!(p.variables.len(), 50);
    for (name, param, accumulated) in ERA5_LAND {
        let v = p.variable(name).unwrap_or_else(|| panic!("{name} missing"));
        assert_eq!(v.grib_param_id, Some(param), "{name}");
        let want = if accumulated {
            Convention::AccumulatedSince00Utc
        } else {
            Convention::Instantaneous
        };
        assert_eq!(v.convention, want, "{name}");
        assert!(v.cds_name.is_some(), "{name}");
    }
    let tp = p.variable("tp").unwrap();
    assert_eq!(
        (tp.long_name.as_str(), tp.units.as_str()),
        ("Total precipitation", "m")
    );
    assert_eq!(
        tp.standard_name.as_deref(),
        Some("lwe_thickness_of_precipitation_amount")
    );
    assert_eq!(p.grid.as_ref().unwrap().dx, Some(0.1));
    // GRIB shortNames find their variables too.
    assert_eq!(p.variable("2t").unwrap().name, "t2m");
}

#[test]
fn era5_accumulates_over_the_hour_not_from_midnight() {
    let p = find("era5");
    for v in ["tp", "e", "ro", "ssrd"] {
        assert_eq!(
            p.variable(v).unwrap().convention,
            Convention::AccumulatedOverHour,
            "{v}"
        );
    }
    assert_eq!(p.variable("mtpr").unwrap().convention, Convention::MeanOverHour);
    assert_eq!(p.grid.as_ref().unwrap().dx, Some(0.25));
}

#[test]
fn gfs_codes_buckets_and_runs() {
    let p = find("gfs-0p25");
    let code = |n: &str| p.variable(n).unwrap().grib2.unwrap();
    assert_eq!(code("APCP"), [0, 1, 8]);
    assert_eq!(code("TMP_2maboveground"), [0, 0, 0]);
    assert_eq!(code("RH_2maboveground"), [0, 1, 1]);
    assert_eq!(code("UGRD_10maboveground"), [0, 2, 2]);
    assert_eq!(code("VGRD_10maboveground"), [0, 2, 3]);
    assert_eq!(code("DSWRF"), [0, 4, 7]);
    assert_eq!(code("PWAT"), [0, 1, 3]);
    assert_eq!(code("TCDC"), [0, 6, 1]);
    assert_eq!(code("SPFH_2maboveground"), [0, 1, 0]);
    assert_eq!(
        p.variable("APCP").unwrap().convention,
        Convention::Accumulated6hBucket
    );
    let t = p.time.unwrap();
    assert_eq!(t.runs.unwrap(), ["00", "06", "12", "18"]);
    assert!(t.forecast_hours.unwrap().contains("0-120 hourly"));
}

#[test]
fn imerg_runs_share_variables_and_differ_in_latency() {
    let early = find("imerg-early-hh");
    let late = find("imerg-late-hh");
    let fin = find("imerg-final-hh");
    assert_eq!(early.variables, fin.variables);
    assert_eq!(
        [&early.latency, &late.latency, &fin.latency].map(|l| l.clone().unwrap()),
        ["PT4H", "PT14H", "P3M15D"]
    );
    assert_eq!(fin.doi.as_deref(), Some("10.5067/GPM/IMERG/3B-HH/07"));
    assert_eq!(fin.variable("Grid/precipitation").unwrap().units, "mm/hr");
    assert!(fin.variable("precipitationQualityIndex").is_some());
    let daily = find("imerg-final-daily");
    assert_eq!(daily.variable("precipitation").unwrap().units, "mm/day");
}
