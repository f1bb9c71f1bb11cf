//! Thiessen weights against scipy.spatial.Voronoi + shapely (after a pyproj laea projection, as
//! ../shared/bench/peer_voronoi.py does), on the real basins in ../shared/data/basins.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use geo::{Area, BooleanOps, Contains, Point, Rect};
use hod_gis::thiessen::{
    AreaMetric, Station, StationSeries, ThiessenBasin, areal_series, basin_from_geojson, stations_from_csv,
};
use hod_testkit::data::root as data;
use hod_testkit::rng::Lcg;
use proptest::prelude::*;
use std::path::PathBuf;

fn basin(name: &str) -> geo::MultiPolygon<f64> {
    let text = std::fs::read_to_string(data().join("basins").join(format!("{name}.geojson"))).unwrap();
    basin_from_geojson(&text).unwrap()
}

/// The 6 stations of stations/Matapedia_meteo_data_stations.nc (longitude, latitude variables,
/// read with netCDF4-python 1.7.5); ids are its `stations` variable.
fn matapedia_stations() -> Vec<Station> {
    [
        (-67.75, 48.5),
        (-67.5, 48.5),
        (-67.5, 48.25),
        (-67.25, 48.5),
        (-67.25, 48.25),
        (-67.0, 48.5),
    ]
    .iter()
    .enumerate()
    .map(|(i, &(lon, lat))| Station::new((i + 1).to_string(), lon, lat))
    .collect()
}

/// `n` stations uniform over the basin's bbox widened by 10% on each side (some outside).
fn random_stations(b: &geo::MultiPolygon<f64>, seed: u64, n: usize) -> Vec<Station> {
    let ext = b.0.iter().flat_map(|p| p.exterior().coords());
    let (minx, miny, maxx, maxy) = ext.fold((f64::MAX, f64::MAX, f64::MIN, f64::MIN), |(a, b, c, d), p| {
        (a.min(p.x), b.min(p.y), c.max(p.x), d.max(p.y))
    });
    let (w, h) = (maxx - minx, maxy - miny);
    let mut r = Lcg(seed);
    (0..n)
        .map(|i| {
            let fx = r.next(1_000_000) as f64 / 1e6;
            let fy = r.next(1_000_000) as f64 / 1e6;
            Station::new(
                format!("s{i}"),
                minx - 0.1 * w + fx * 1.2 * w,
                miny - 0.1 * h + fy * 1.2 * h,
            )
        })
        .collect()
}

fn assert_close(ours: &[f64], theirs: &[f64], tol: f64, what: &str) {
    assert_eq!(ours.len(), theirs.len(), "{what}");
    for (i, (a, b)) in ours.iter().zip(theirs).enumerate() {
        assert!(
            (a - b).abs() <= tol,
            "{what}: station {i}: {a} vs {b} (diff {:e})",
            (a - b).abs()
        );
    }
}

/// Weights from tests/interop/compare_thiessen.py (pyproj 3.7.2 / PROJ 9.5.1, scipy 1.17.1,
/// shapely 2.2.0) for `random_stations(basin, seed, n)`.
const RANDOM_REFS: &[(&str, u64, usize, &[f64])] = &[
    (
        "matapedia",
        1,
        12,
        &[
            0.0,
            0.1683808829332399,
            0.1323859219251477,
            0.1724200683339943,
            0.0035268413157070982,
            0.1305153301781899,
            0.012216983892651712,
            0.044973450721330216,
            0.17219168397656787,
            0.04649793202008079,
            0.11687082541144145,
            2.007929164855871e-05,
        ],
    ),
    (
        "matapedia",
        2,
        25,
        &[
            0.11962171354125999,
            0.052596847008908446,
            0.0,
            0.0,
            0.1068183136959786,
            0.0,
            0.0,
            0.0,
            0.029159756559357815,
            0.0,
            0.11920318280285434,
            0.036964838336313685,
            0.040050239824264776,
            0.030478703984409782,
            0.1048349435523198,
            0.0,
            0.0,
            0.016630972952428175,
            0.0,
            0.0,
            0.01617825539759589,
            0.03573818179500794,
            0.23068062050385135,
            0.008042483170602768,
            0.053000946874846036,
        ],
    ),
    (
        "nldi_get_basin",
        1,
        12,
        &[
            0.0,
            0.18739218005190392,
            0.124390229851153,
            0.26818759352038407,
            0.011536662125542557,
            0.1472882613952547,
            0.0,
            0.06558304804381605,
            0.09867215177572487,
            0.014418010880577356,
            0.08253186235564332,
            0.0,
        ],
    ),
    (
        "nldi_get_basin",
        2,
        25,
        &[
            0.16940622776177314,
            0.0,
            0.0,
            0.0,
            0.10090787019659159,
            8.75144598222196e-05,
            0.0,
            0.0,
            0.042086498565610246,
            0.0,
            0.14349552324682208,
            0.03107816508631968,
            0.04453804888299287,
            0.007251302177592567,
            0.08742447731974975,
            0.0,
            0.0,
            0.014439670172493,
            0.0771641042851291,
            0.0,
            0.009982716530326008,
            0.04988312300689531,
            0.22225475830788222,
            0.0,
            0.0,
        ],
    ),
    (
        "salmon_river",
        1,
        12,
        &[
            0.0,
            0.16131786842450235,
            0.1360222671001108,
            0.3663706294360647,
            0.0,
            0.16465231534446834,
            0.0,
            0.03200500779182835,
            0.012579931240575121,
            0.07307994621227012,
            0.05397203445018117,
            0.0,
        ],
    ),
    (
        "salmon_river",
        2,
        25,
        &[
            0.16188036369250425,
            0.0,
            0.002593507275488733,
            0.0,
            0.1009398075102052,
            0.0,
            0.0,
            0.0,
            0.0015750360765453767,
            0.0,
            0.16801993214951447,
            0.01791863477945284,
            0.04847741635053911,
            0.010990064961393058,
            0.03964644860469303,
            0.0358855402018684,
            0.0,
            0.04678712937120004,
            0.06934433252074872,
            0.0,
            0.0023593003989747954,
            0.0,
            0.2935824861068726,
            0.0,
            0.0,
        ],
    ),
    (
        "test",
        1,
        12,
        &[
            0.0,
            0.15057271429282013,
            0.11103419055502035,
            0.16044173234128095,
            0.04655502881684455,
            0.10857312268555586,
            0.0,
            0.048642974101065,
            0.14559037030518665,
            0.05843362952450481,
            0.13311324938383945,
            0.037042987993882344,
        ],
    ),
    (
        "test",
        2,
        25,
        &[
            0.13834016073701555,
            0.0300428145482719,
            0.014508279152298088,
            0.0,
            0.08969002310628502,
            0.0,
            0.0,
            0.0,
            0.04450745099561591,
            0.03234718472142999,
            0.07959531823296735,
            0.027732075719342383,
            0.036849265303318626,
            0.028352138292384702,
            0.09148328038417602,
            0.0,
            0.0,
            0.00889054542797538,
            0.029372479714102586,
            0.0,
            0.037529345636343664,
            0.043232474960373184,
            0.20415102685401434,
            0.029897950430685258,
            0.03347818578340016,
        ],
    ),
];

#[test]
fn matapedia_six_stations_equal_scipy_shapely() {
    let b = ThiessenBasin::new(&basin("matapedia"), AreaMetric::EqualArea).unwrap();
    let t = b.compute(&matapedia_stations()).unwrap();
    // compare_thiessen.py on the same stations
    let expected = [
        0.11388320880749485,
        0.1983898773945661,
        0.1949820080844886,
        0.11750246723994696,
        0.20406744670965218,
        0.1711749917638507,
    ];
    assert_close(&t.weights, &expected, 1e-9, "matapedia");
    // shapely's area of the projected polygon
    assert!(
        (b.area() - 2758898294.9823127).abs() < 1e-9 * b.area(),
        "{}",
        b.area()
    );
}

#[test]
fn random_stations_over_the_basins_equal_scipy_shapely() {
    for &(name, seed, n, expected) in RANDOM_REFS {
        let poly = basin(name);
        let b = ThiessenBasin::new(&poly, AreaMetric::EqualArea).unwrap();
        let t = b.compute(&random_stations(&poly, seed, n)).unwrap();
        assert_close(&t.weights, expected, 1e-9, &format!("{name} seed {seed}"));
    }
}

#[test]
fn stations_outside_the_basin_and_nearly_collinear_ones() {
    let b = ThiessenBasin::new(&basin("matapedia"), AreaMetric::EqualArea).unwrap();
    let st = |v: &[(f64, f64)]| {
        v.iter()
            .enumerate()
            .map(|(i, &(x, y))| Station::new(i.to_string(), x, y))
            .collect::<Vec<_>>()
    };
    // compare_thiessen.py
    let t = b
        .compute(&st(&[(-67.6, 48.0), (-67.3, 48.4), (-67.0, 48.8)]))
        .unwrap();
    assert_close(
        &t.weights,
        &[0.06370177421102906, 0.9105087544005703, 0.025789471388401094],
        1e-9,
        "line",
    );
    let t = b
        .compute(&st(&[(-68.2, 48.3), (-67.3, 48.4), (-66.5, 48.9)]))
        .unwrap();
    assert_close(
        &t.weights,
        &[0.00840309202920769, 0.9915969079707917, 0.0],
        1e-9,
        "outside",
    );
    // one station far away still owns the whole basin
    let t = b.compute(&st(&[(-80.0, 30.0)])).unwrap();
    assert_eq!(t.weights, vec![1.0]);
}

#[test]
fn exactly_collinear_stations_cut_the_basin_into_slabs() {
    let poly = basin("matapedia");
    let b = ThiessenBasin::new(&poly, AreaMetric::Planar).unwrap();
    let xs = [-67.7, -67.4, -67.3, -66.9];
    let stations: Vec<Station> = xs.iter().map(|&x| Station::new(x.to_string(), x, 48.4)).collect();
    let t = b.compute(&stations).unwrap();
    let cuts = [
        -70.0,
        (xs[0] + xs[1]) / 2.0,
        (xs[1] + xs[2]) / 2.0,
        (xs[2] + xs[3]) / 2.0,
        -64.0,
    ];
    for i in 0..4 {
        let slab = Rect::new((cuts[i], 40.0), (cuts[i + 1], 50.0)).to_polygon();
        let expected = poly.intersection(&slab).unsigned_area() / poly.unsigned_area();
        assert!(
            (t.weights[i] - expected).abs() < 1e-7,
            "{i}: {} vs {expected}",
            t.weights[i]
        );
    }
}

#[test]
fn degenerate_station_sets() {
    let b = ThiessenBasin::new(&basin("test"), AreaMetric::EqualArea).unwrap();
    let err = b.compute(&[]).unwrap_err().to_string();
    assert!(err.contains("no stations"), "{err}");
    let dup = [
        Station::new("a", 122.5, 40.0),
        Station::new("b", 122.6, 40.0),
        Station::new("c", 122.5, 40.0),
    ];
    let err = b.compute(&dup).unwrap_err().to_string();
    assert!(err.contains("stations a and c are at the same place"), "{err}");
    let err = b
        .compute(&[Station::new("n", f64::NAN, 40.0)])
        .unwrap_err()
        .to_string();
    assert!(err.contains("station n"), "{err}");
    let one = b.compute(&[Station::new("a", 122.5, 40.0)]).unwrap();
    assert_eq!(one.weights, vec![1.0]);
    assert!((one.areas[0] - b.area()).abs() < 1e-6 * b.area());
}

#[test]
fn metrics_agree_closely_and_geodesic_area_is_karneys() {
    let poly = basin("matapedia");
    let stations = matapedia_stations();
    let ea = ThiessenBasin::new(&poly, AreaMetric::EqualArea).unwrap();
    let geo = ThiessenBasin::new(&poly, AreaMetric::Geodesic).unwrap();
    let planar = ThiessenBasin::new(&poly, AreaMetric::Planar).unwrap();
    // straight edges in the equal-area plane vs geodesics: a few m² over 2750 km²
    assert!(
        (ea.area() - geo.area()).abs() < 1e-6 * ea.area(),
        "{} {}",
        ea.area(),
        geo.area()
    );
    // pyproj.Geod(ellps="WGS84").geometry_area_perimeter (Karney) of the lon/lat polygon
    assert!(
        (geo.area() - 2758898317.3226185).abs() < 1e-9 * geo.area(),
        "{}",
        geo.area()
    );
    let (we, wg) = (
        ea.compute(&stations).unwrap().weights,
        geo.compute(&stations).unwrap().weights,
    );
    assert_close(&we, &wg, 1e-6, "equal-area vs geodesic");
    // lon/lat degrees as planar units shift the bisectors: different weights, same total
    let wp = planar.compute(&stations).unwrap().weights;
    assert!((wp.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    assert!(we.iter().zip(&wp).any(|(a, b)| (a - b).abs() > 1e-3));
}

#[test]
fn areal_series_recomputes_weights_for_the_stations_present() {
    let b = ThiessenBasin::new(&basin("matapedia"), AreaMetric::EqualArea).unwrap();
    let stations = matapedia_stations();
    let csv = "time,1,2,3,4,5,6\n               2000-01-01,1,2,3,4,5,6\n               2000-01-02,1,,3,NaN,5,6\n               2000-01-03,,,,,,\n               2000-01-04,2,4,6,8,10,12\n               2000-01-05,,,7,,,\n";
    let series = StationSeries::from_csv(csv).unwrap();
    let out = areal_series(&b, &stations, &series).unwrap();
    let full = b.compute(&stations).unwrap().weights;
    let v1: f64 = full.iter().zip(1..).map(|(w, v)| w * v as f64).sum();
    let sub: Vec<Station> = [0, 2, 4, 5].iter().map(|&k| stations[k].clone()).collect();
    let ws = b.compute(&sub).unwrap().weights;
    let v2 = ws[0] * 1.0 + ws[1] * 3.0 + ws[2] * 5.0 + ws[3] * 6.0;
    assert!((out.values[0] - v1).abs() < 1e-12 && (out.values[1] - v2).abs() < 1e-12);
    assert!(out.values[2].is_nan());
    assert!((out.values[3] - 2.0 * v1).abs() < 1e-12);
    assert!((out.values[4] - 7.0).abs() < 1e-12);
    assert_eq!(out.weight_sets, 3);
    let bad = StationSeries::from_csv("time,1,9\n2000,1,2\n").unwrap();
    let err = areal_series(&b, &stations, &bad).unwrap_err().to_string();
    assert!(err.contains("\"9\""), "{err}");
    let err = StationSeries::from_csv("time,1\n2000,x\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("line 2, column 1"), "{err}");
}

#[test]
fn stations_csv_with_and_without_header() {
    let a = stations_from_csv("id,lon,lat\nA,1.5,2\n\"B\",3,4\n").unwrap();
    let b = stations_from_csv("lat,name,longitude\n2,A,1.5\n4,B,3\n").unwrap();
    let c = stations_from_csv("A,1.5,2\nB,3,4\n").unwrap();
    assert_eq!(a, b);
    assert_eq!(a, c);
    assert_eq!(a[1], Station::new("B", 3.0, 4.0));
    let err = stations_from_csv("id,lon,lat\nA,1.5,north\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("line 2"), "{err}");
}

/// Random points inside the basin, with the index of the nearest station (in degrees, as the
/// planar metric measures), skipping near-ties.
fn nearest_samples(poly: &geo::MultiPolygon<f64>, stations: &[Station], seed: u64) -> Vec<(Point, usize)> {
    let ext = poly.0.iter().flat_map(|p| p.exterior().coords());
    let (minx, miny, maxx, maxy) = ext.fold((f64::MAX, f64::MAX, f64::MIN, f64::MIN), |(a, b, c, d), p| {
        (a.min(p.x), b.min(p.y), c.max(p.x), d.max(p.y))
    });
    let mut r = Lcg(seed);
    let mut out = Vec::new();
    while out.len() < 40 {
        let p = Point::new(
            minx + (maxx - minx) * r.next(1 << 30) as f64 / (1u64 << 30) as f64,
            miny + (maxy - miny) * r.next(1 << 30) as f64 / (1u64 << 30) as f64,
        );
        if !poly.contains(&p) {
            continue;
        }
        let mut d: Vec<(f64, usize)> = stations
            .iter()
            .enumerate()
            .map(|(i, s)| ((s.lon - p.x()).hypot(s.lat - p.y()), i))
            .collect();
        d.sort_by(|a, b| a.0.total_cmp(&b.0));
        if d.len() == 1 || d[1].0 - d[0].0 > 1e-7 {
            out.push((p, d[0].1));
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn weights_are_a_partition_and_cells_hold_their_nearest_points(
        seed in 1u64..1_000_000, n in 1usize..40, which in 0usize..3,
    ) {
        let name = ["test", "nldi_get_basin", "matapedia"][which];
        let poly = basin(name);
        let stations = random_stations(&poly, seed, n);
        for metric in [AreaMetric::EqualArea, AreaMetric::Geodesic, AreaMetric::Planar] {
            let b = ThiessenBasin::new(&poly, metric).unwrap();
            let t = b.compute(&stations).unwrap();
            prop_assert!((t.weights.iter().sum::<f64>() - 1.0).abs() < 1e-9);
            prop_assert!(t.weights.iter().all(|w| *w >= 0.0));
        }
        let b = ThiessenBasin::new(&poly, AreaMetric::Planar).unwrap();
        let t = b.compute(&stations).unwrap();
        let polygons = t.polygons();
        for (p, i) in nearest_samples(&poly, &stations, seed) {
            prop_assert!(polygons[i].contains(&p), "{name}: {p:?} not in the cell of station {i}");
            prop_assert!(t.weights[i] > 0.0);
        }
    }
}

/// The interop Python if it has pyproj, scipy, shapely and netCDF4.
fn python() -> Option<PathBuf> {
    hod_testkit::python::with_modules("pyproj, scipy, shapely, netCDF4")
}

fn reference(python: &PathBuf, args: &[&std::path::Path]) -> serde_json::Value {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/interop/compare_thiessen.py"
    );
    let out = std::process::Command::new(python)
        .arg(script)
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn write_stations(path: &std::path::Path, stations: &[Station]) {
    let mut text = String::from("id,lon,lat\n");
    for s in stations {
        text += &format!("{},{:?},{:?}\n", s.id, s.lon, s.lat);
    }
    std::fs::write(path, text).unwrap();
}

#[test]
fn interop_random_sets_equal_scipy_shapely() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("stations.csv");
    for name in ["matapedia", "nldi_get_basin", "salmon_river", "test"] {
        let path = data().join("basins").join(format!("{name}.geojson"));
        let poly = basin(name);
        let b = ThiessenBasin::new(&poly, AreaMetric::EqualArea).unwrap();
        for (seed, n) in [(11, 3), (12, 60), (13, 300)] {
            let stations = random_stations(&poly, seed, n);
            write_stations(&csv, &stations);
            let theirs: Vec<f64> =
                serde_json::from_value(reference(&python, &[&path, &csv])["weights"].clone()).unwrap();
            let ours = b.compute(&stations).unwrap().weights;
            assert_close(&ours, &theirs, 1e-9, &format!("{name} seed {seed} n {n}"));
        }
    }
}

#[test]
fn interop_matapedia_areal_precipitation_with_gaps() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (csv, series) = (dir.path().join("stations.csv"), dir.path().join("pr.csv"));
    // two years of the real daily pr, with values blanked on a fixed pattern (whole days too)
    let nc = data().join("stations/Matapedia_meteo_data_stations.nc");
    let dump = format!(
        "import netCDF4, numpy as np\n\
         d = netCDF4.Dataset({nc:?}); pr = np.ma.filled(d['pr'][:, :730], np.nan)\n\
         ids = [str(int(s)) for s in d['stations'][:]]\n\
         with open({series:?}, 'w') as f:\n\
         \x20   f.write('time,' + ','.join(ids) + '\\n')\n\
         \x20   for t in range(pr.shape[1]):\n\
         \x20       row = ['' if (t * 7 + k * 3) % 11 < 3 or t % 97 == 0 else repr(float(pr[k, t])) for k in range(len(ids))]\n\
         \x20       f.write(str(t) + ',' + ','.join(row) + '\\n')\n"
    );
    let st = std::process::Command::new(&python)
        .args(["-c", &dump])
        .status()
        .unwrap();
    assert!(st.success());
    let stations = matapedia_stations();
    write_stations(&csv, &stations);
    let path = data().join("basins/matapedia.geojson");
    let b = ThiessenBasin::new(&basin("matapedia"), AreaMetric::EqualArea).unwrap();
    let s = StationSeries::from_csv(&std::fs::read_to_string(&series).unwrap()).unwrap();
    let ours = areal_series(&b, &stations, &s).unwrap();
    assert!(ours.weight_sets > 5, "{}", ours.weight_sets);
    let theirs = reference(&python, &[&path, &csv, &series]);
    let theirs = theirs["areal"].as_array().unwrap();
    assert_eq!(theirs.len(), ours.values.len());
    for (t, (a, b)) in ours.values.iter().zip(theirs).enumerate() {
        match b.as_f64() {
            None => assert!(a.is_nan(), "day {t}: {a} vs none"),
            Some(b) => assert!((a - b).abs() <= 1e-9 * b.abs().max(1.0), "day {t}: {a} vs {b}"),
        }
    }
}
