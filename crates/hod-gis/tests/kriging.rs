#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Kriging against PyKrige's validation answers (KT3D_H2O / MEUK) in `kriging/`, the
//! single-point universal kriging example of PyKrige's test suite, and properties.

use hod_gis::ascii;
use hod_gis::kriging::{
    Anisotropy, Drift, ExternalDrift, FitOptions, Kriging, Model, MovingKriging, Predict, Variogram,
    cross_validate, fit_variogram,
};
use hod_testkit::data::path as data;

fn points() -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let text = std::fs::read_to_string(data("kriging/test_data.txt")).unwrap();
    let v: Vec<f64> = text.split_whitespace().map(|t| t.parse().unwrap()).collect();
    let col = |k: usize| v.chunks(3).map(|r| r[k]).collect::<Vec<f64>>();
    (col(0), col(1), col(2))
}

/// The answer grid and its cell centres as PyKrige's `read_asc_grid` makes them
/// (`xllcenter + i·dx`, rows south to north).
fn answer(rel: &str) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let r = ascii::parse(&std::fs::read_to_string(data(rel)).unwrap()).unwrap();
    let g = &r.geom;
    let xll = g.x0 + g.dx / 2.0;
    let yll = g.y0 - g.rows as f64 * g.dy + g.dy / 2.0;
    let gx = (0..g.cols).map(|i| xll + i as f64 * g.dx).collect();
    let gy = (0..g.rows).map(|j| yll + j as f64 * g.dy).collect();
    let south_first = r.data.chunks(g.cols).rev().flatten().copied().collect();
    (gx, gy, south_first)
}

fn assert_close(got: &[f64], want: &[f64], rtol: f64, atol: f64) {
    assert_eq!(got.len(), want.len());
    let mut worst = (0.0, 0);
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let excess = (g - w).abs() - (atol + rtol * w.abs());
        assert!(excess <= 0.0, "cell {i}: got {g}, want {w}");
        if (g - w).abs() > worst.0 {
            worst = ((g - w).abs(), i);
        }
    }
    eprintln!("max |diff| {:.3e} at {}", worst.0, worst.1);
}

#[test]
fn test1_ordinary_exponential_matches_kt3d() {
    let (x, y, z) = points();
    let (gx, gy, want) = answer("kriging/test1_answer.asc");
    let v = Variogram::from_pykrige_list(Model::Exponential, &[500.0, 3000.0, 0.0]).unwrap();
    let k = Kriging::new(&x, &y, &z, v, &Drift::None, Anisotropy::default()).unwrap();
    let p = k.predict_grid(&gx, &gy).unwrap();
    assert_close(&p.z, &want, 1e-5, 0.0);
    // PyKrige 1.7.3 at (1067275, 241459) and (1072225, 243934) (MANIFEST.md).
    let last = p.z.len() - 1;
    assert!((p.z[0] - 40.98528584).abs() < 1e-7, "{}", p.z[0]);
    assert!((p.z[last] - 63.74086571).abs() < 1e-7);
    assert!((p.variance[0] - 528.2630424).abs() < 1e-6, "{}", p.variance[0]);
    assert!(
        (p.variance[last] - 508.86014835).abs() < 1e-6,
        "{}",
        p.variance[last]
    );
    // PyKrige's own form of the system, solved directly (a neighbourhood holding every point),
    // agrees with the covariance form used by the global solver.
    let loose = MovingKriging::new(&x, &y, &z, v, &Drift::None, Anisotropy::default(), 100).unwrap();
    let q = loose.predict_grid(&gx, &gy).unwrap();
    assert_close(&q.z, &p.z, 1e-9, 1e-9);
    assert_close(&q.variance, &p.variance, 1e-9, 1e-9);
}

#[test]
fn test3_external_drift_matches_meuk() {
    let (x, y, z) = points();
    let (gx, gy, want) = answer("kriging/test3_answer.asc");
    let dem = ascii::parse(&std::fs::read_to_string(data("kriging/test3_dem.asc")).unwrap()).unwrap();
    let drift = Drift::External(ExternalDrift::from_raster(&dem));
    let v = Variogram::from_pykrige_list(Model::Spherical, &[500.0, 3000.0, 0.0]).unwrap();
    let k = Kriging::new(&x, &y, &z, v, &drift, Anisotropy::default()).unwrap();
    let p = k.predict_grid(&gx, &gy).unwrap();
    assert_close(&p.z, &want, 1e-5, 1e-8);
}

/// PyKrige's `test_uk_drift` example (N. Christou's lecture notes, UCLA).
fn christou() -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let pts = [
        (61.0, 139.0, 477.0),
        (63.0, 140.0, 696.0),
        (64.0, 129.0, 227.0),
        (68.0, 128.0, 646.0),
        (71.0, 140.0, 606.0),
        (73.0, 141.0, 791.0),
        (75.0, 128.0, 783.0),
    ];
    (
        pts.iter().map(|p| p.0).collect(),
        pts.iter().map(|p| p.1).collect(),
        pts.iter().map(|p| p.2).collect(),
    )
}

#[test]
fn universal_kriging_single_point() {
    let (x, y, z) = christou();
    let v = Variogram::from_pykrige_list(Model::Exponential, &[10.0, 9.99, 0.0]).unwrap();
    let k = Kriging::new(&x, &y, &z, v, &Drift::RegionalLinear, Anisotropy::default()).unwrap();
    let p = k.predict_points(&[65.0, 61.0], &[137.0, 139.0]).unwrap();
    // The test suite's figures (567.54, 9.044) to its tolerance, and PyKrige 1.7.3's own output.
    assert!((p.z[0] - 567.54).abs() < 0.1 * 567.54 && (p.variance[0] - 9.044).abs() < 0.1 * 9.044);
    assert!((p.z[0] - 567.6581492812596).abs() < 1e-9, "{}", p.z[0]);
    assert!(
        (p.variance[0] - 9.042819665551926).abs() < 1e-9,
        "{}",
        p.variance[0]
    );
    assert!((p.z[1] - 477.0).abs() < 1e-9, "{}", p.z[1]);
    assert!(p.variance[1].abs() < 1e-9);
    let w = k.weights(65.0, 137.0).unwrap();
    assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-12);
}

#[test]
fn leave_one_out_equals_refitting_without_the_point() {
    let (x, y, z) = points();
    for (model, drift) in [
        (Model::Spherical, Drift::None),
        (Model::Linear, Drift::RegionalLinear),
    ] {
        let list: &[f64] = if model == Model::Linear {
            &[0.05, 1.0]
        } else {
            &[500.0, 3000.0, 10.0]
        };
        let v = Variogram::from_pykrige_list(model, list).unwrap();
        let k = Kriging::new(&x, &y, &z, v, &drift, Anisotropy::default()).unwrap();
        let cv = cross_validate(&k).unwrap();
        for i in [0, 7, 14] {
            let keep = |c: &[f64]| {
                c.iter()
                    .enumerate()
                    .filter(|(j, _)| *j != i)
                    .map(|(_, v)| *v)
                    .collect::<Vec<_>>()
            };
            let ki = Kriging::new(&keep(&x), &keep(&y), &keep(&z), v, &drift, Anisotropy::default()).unwrap();
            let p = ki.predict_points(&[x[i]], &[y[i]]).unwrap();
            assert!(
                (z[i] - p.z[0] - cv.errors[i]).abs() < 1e-6 * z[i].abs(),
                "{model} {i}"
            );
            assert!(
                (p.variance[0] - cv.variances[i]).abs() < 1e-6 * p.variance[0],
                "{model} {i}"
            );
        }
        assert!(cv.rmse > 0.0 && cv.q2 > 0.0);
        let moving = MovingKriging::new(&x, &y, &z, v, &drift, Anisotropy::default(), 20).unwrap();
        let mcv = moving.cross_validate().unwrap();
        for (a, b) in mcv.errors.iter().zip(&cv.errors) {
            assert!((a - b).abs() < 1e-6 * (1.0 + b.abs()));
        }
    }
}

#[test]
fn fit_recovers_a_sensible_variogram() {
    let (x, y, z) = points();
    let (v, ev) = fit_variogram(&x, &y, &z, Model::Spherical, &FitOptions::default()).unwrap();
    assert_eq!(ev.lags.len(), ev.semivariance.len());
    assert!(v.params.iter().all(|p| p.is_finite() && *p >= 0.0));
    assert!(v.params[1] <= ev.lags.iter().copied().fold(0.0, f64::max) + 1e-9);
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config::with_cases(48))]
    #[test]
    fn weights_sum_to_one_and_data_are_honoured(
        pts in proptest::collection::vec((0.0f64..100.0, 0.0f64..100.0, -50.0f64..50.0), 4..25),
        model_i in 0usize..6,
        lin in proptest::bool::ANY,
        qx in 0.0f64..100.0,
        qy in 0.0f64..100.0,
    ) {
        let x: Vec<f64> = pts.iter().map(|p| p.0).collect();
        let y: Vec<f64> = pts.iter().map(|p| p.1).collect();
        let z: Vec<f64> = pts.iter().map(|p| p.2).collect();
        let model = Model::ALL[model_i];
        let list: &[f64] = match model {
            Model::Linear => &[1.0, 0.0],
            Model::Power => &[1.0, 1.5, 0.0],
            // A Gaussian model without nugget is numerically singular for close points.
            Model::Gaussian => &[100.0, 60.0, 1.0],
            _ => &[100.0, 60.0, 0.0],
        };
        let spread = (0..x.len()).all(|i| (0..i).all(|j| (x[i] - x[j]).hypot(y[i] - y[j]) > 1.0));
        proptest::prop_assume!(spread);
        let v = Variogram::from_pykrige_list(model, list).unwrap();
        let drift = if lin { Drift::RegionalLinear } else { Drift::None };
        // Random points can be (nearly) coincident or collinear: such systems may be singular.
        let Ok(k) = Kriging::new(&x, &y, &z, v, &drift, Anisotropy::default()) else { return Ok(()) };
        let w = k.weights(qx, qy).unwrap();
        proptest::prop_assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-6, "sum {}", w.iter().sum::<f64>());
        let p = k.predict_points(&x, &y).unwrap();
        for (got, want) in p.z.iter().zip(&z) {
            proptest::prop_assert!((got - want).abs() < 1e-6 * (1.0 + want.abs()), "{} vs {}", got, want);
        }
    }
}
