//! `hod read --polygon` with shapefiles, multi-feature GeoJSON with holes, and `--coverage`
//! (exact covered fractions), on the real ERA5 daily netCDF4 set (UK, 0.25°).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hod_testkit::cli;
use hod_testkit::data::root as data;
use serde_json::{Value, json};
use std::path::Path;

fn hod(store: &Path, args: &[&str]) -> String {
    cli::stdout(cli::with_store(env!("CARGO_BIN_EXE_hod"), store).args(args))
}

/// A square with a square hole, and a triangle, in the UK box (lon -10..2, lat 50..58).
fn polygons() -> Vec<geo_types::Polygon<f64>> {
    vec![
        geo_types::Polygon::new(
            vec![
                (-4.1, 51.3),
                (-1.37, 51.3),
                (-1.37, 53.62),
                (-4.1, 53.62),
                (-4.1, 51.3),
            ]
            .into(),
            vec![
                vec![
                    (-3.0, 52.0),
                    (-2.0, 52.0),
                    (-2.0, 53.0),
                    (-3.0, 53.0),
                    (-3.0, 52.0),
                ]
                .into(),
            ],
        ),
        geo_types::Polygon::new(
            vec![(0.13, 51.1), (1.71, 51.4), (0.5, 52.77), (0.13, 51.1)].into(),
            vec![],
        ),
    ]
}

fn area(p: &geo_types::Polygon<f64>) -> f64 {
    let ring = |r: &geo_types::LineString<f64>| {
        r.0.windows(2)
            .map(|w| w[0].x * w[1].y - w[1].x * w[0].y)
            .sum::<f64>()
            .abs()
            / 2.0
    };
    ring(p.exterior()) - p.interiors().iter().map(ring).sum::<f64>()
}

#[test]
fn shapefile_geojson_and_coverage() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let pattern = data().join("era5-daily-nc4/*.nc").display().to_string();
    hod(&store, &["ingest", "nc4", &pattern]);
    let polys = polygons();
    let gj = dir.path().join("two.geojson");
    let features: Vec<Value> = polys
        .iter()
        .map(|p| {
            json!({"type": "Feature", "properties": {},
                   "geometry": geojson::Geometry::new(geojson::GeometryValue::from(p))})
        })
        .collect();
    std::fs::write(
        &gj,
        json!({"type": "FeatureCollection", "features": features}).to_string(),
    )
    .unwrap();
    let shp = dir.path().join("two.shp");
    {
        use shapefile::dbase::{FieldName, TableWriterBuilder};
        let table = TableWriterBuilder::new().add_character_field(FieldName::try_from("NAME").unwrap(), 8);
        let mut w = shapefile::Writer::from_path(&shp, table).unwrap();
        for p in &polys {
            let mut rec = shapefile::dbase::Record::default();
            rec.insert(
                "NAME".into(),
                shapefile::dbase::FieldValue::Character(Some("x".into())),
            );
            w.write_shape_and_record(&shapefile::Polygon::from(p.clone()), &rec)
                .unwrap();
        }
    }
    let sel = [
        "read",
        "nc4",
        "--var",
        "t2m",
        "--start",
        "2019-03-10",
        "--end",
        "2019-03-10T05",
    ];
    let stats = |poly: &Path, extra: &[&str]| -> Value {
        let p = poly.display().to_string();
        let mut args = sel.to_vec();
        args.extend(["--polygon", &p, "--stats", "--json"]);
        args.extend(extra);
        serde_json::from_str(&hod(&store, &args)).unwrap()
    };
    // Centre-in selection: the shapefile reads exactly as the GeoJSON.
    let (a, b) = (stats(&gj, &[]), stats(&shp, &[]));
    assert_eq!(a, b);
    assert!(a["t2m"]["count"].as_u64().unwrap() > 0);
    // Exact coverage: every touched cell is kept, and the fractions' sum is the polygons' area
    // (in degrees², the grid's own units: 0.25° cells).
    let c = stats(&gj, &["--coverage"]);
    assert!(c["t2m"]["count"].as_u64().unwrap() > a["t2m"]["count"].as_u64().unwrap());
    let cm = c["t2m"]["coverage_mean"].as_f64().unwrap();
    assert!((270.0..300.0).contains(&cm), "{cm}");
    let out = dir.path().join("cov.json");
    let mut args = sel.to_vec();
    let (p, o) = (shp.display().to_string(), out.display().to_string());
    args.extend(["--polygon", &p, "--coverage", "-o", &o]);
    hod(&store, &args);
    let j: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let f = &j["coverage_fraction"];
    assert_eq!(f["dims"], json!(["latitude", "longitude"]));
    let fr: Vec<f64> = f["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert!(fr.iter().all(|x| (0.0..=1.0).contains(x)));
    let total: f64 = fr.iter().sum::<f64>() * 0.25 * 0.25;
    let want: f64 = polys.iter().map(area).sum();
    assert!((total - want).abs() < 1e-9 * want, "{total} vs {want}");
    // The coverage-weighted mean recomputed from the written values and fractions.
    let vals = j["t2m"]["values"].as_array().unwrap();
    let (mut s, mut w) = (0.0, 0.0);
    for (i, v) in vals.iter().enumerate() {
        if let Some(v) = v.as_f64() {
            s += v * fr[i % fr.len()];
            w += fr[i % fr.len()];
        }
    }
    assert!((s / w - cm).abs() < 1e-9 * cm);

    // basin-mean over the whole 744-step series: blocks of 0.05 MiB (tens of reads) give the same
    // series as one block.
    let series = |extra: &[&str]| {
        let csv = dir.path().join("bm.csv");
        let (g, o) = (gj.display().to_string(), csv.display().to_string());
        let mut args = vec!["basin-mean", "nc4", "--var", "t2m", "--basins", &g, "-o", &o];
        args.extend(extra);
        hod(&store, &args);
        std::fs::read_to_string(&csv).unwrap()
    };
    let one = series(&["--block-mib", "64"]);
    assert_eq!(one, series(&["--block-mib", "0.05"]));
    let lines: Vec<&str> = one.lines().collect();
    assert_eq!(lines.len(), 745);
    assert_eq!(lines[0], "time,0,1");
    assert!(lines[1].starts_with("2019-03-01T00:00:00,"));
}
