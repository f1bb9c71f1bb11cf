//! Lambert azimuthal equal-area projection on the WGS84 ellipsoid, oblique aspect, with PROJ's
//! formulas (`+proj=laea +lat_0 +lon_0 +datum=WGS84`, PROJ's `laea.cpp`), after Snyder (1987),
//! *Map Projections: A Working Manual*, USGS PP 1395, pp. 187–190.
//!
//! Thiessen cells are built in this plane because it is what the usual Python recipe
//! (pyproj + scipy + shapely) does, and because areas measured in it are true ellipsoidal areas.

/// WGS84 semi-major axis (m).
const A: f64 = 6_378_137.0;
/// WGS84 flattening.
const F: f64 = 1.0 / 298.257_223_563;

/// A projection centred on (`lon0`, `lat0`) degrees.
#[derive(Debug, Clone)]
pub(crate) struct Laea {
    lon0: f64,
    e: f64,
    one_es: f64,
    qp: f64,
    rq: f64,
    sinb1: f64,
    cosb1: f64,
    xmf: f64,
    ymf: f64,
    dd: f64,
}

impl Laea {
    /// The projection centred on (`lon0`, `lat0`) degrees. Centres within ~1e-10 rad of a pole
    /// or the equator use the same oblique formulas (PROJ switches aspect there; the numbers
    /// agree to rounding).
    pub(crate) fn new(lon0: f64, lat0: f64) -> Laea {
        let es = F * (2.0 - F);
        let e = es.sqrt();
        let one_es = 1.0 - es;
        let qp = qsfn(1.0, e, one_es);
        let rq = (0.5 * qp).sqrt();
        let phi0 = lat0.to_radians();
        let sinphi = phi0.sin();
        let sinb1 = qsfn(sinphi, e, one_es) / qp;
        let cosb1 = (1.0 - sinb1 * sinb1).sqrt();
        let dd = phi0.cos() / ((1.0 - es * sinphi * sinphi).sqrt() * rq * cosb1);
        Laea {
            lon0: lon0.to_radians(),
            e,
            one_es,
            qp,
            rq,
            sinb1,
            cosb1,
            xmf: rq * dd,
            ymf: rq / dd,
            dd,
        }
    }

    /// (lon, lat) degrees → (x, y) metres.
    pub(crate) fn forward(&self, lon: f64, lat: f64) -> (f64, f64) {
        let lam = wrap_pi(lon.to_radians() - self.lon0);
        let (sinlam, coslam) = lam.sin_cos();
        let sinb = qsfn(lat.to_radians().sin(), self.e, self.one_es) / self.qp;
        let cosb = (1.0 - sinb * sinb).max(0.0).sqrt();
        let b = (2.0 / (1.0 + self.sinb1 * sinb + self.cosb1 * cosb * coslam)).sqrt();
        let y = self.ymf * b * (self.cosb1 * sinb - self.sinb1 * cosb * coslam);
        let x = self.xmf * b * cosb * sinlam;
        (A * x, A * y)
    }

    /// (x, y) metres → (lon, lat) degrees.
    pub(crate) fn inverse(&self, x: f64, y: f64) -> (f64, f64) {
        let (x, y) = (x / A / self.dd, y / A * self.dd);
        let rho = x.hypot(y);
        if rho < 1e-15 {
            return (self.lon0.to_degrees(), self.authalic_to_geodetic(self.sinb1));
        }
        let ce = 2.0 * (0.5 * rho / self.rq).clamp(-1.0, 1.0).asin();
        let (sce, cce) = ce.sin_cos();
        let sinb = cce * self.sinb1 + y * sce * self.cosb1 / rho;
        let lam = (x * sce).atan2(rho * self.cosb1 * cce - y * self.sinb1 * sce);
        (
            wrap_pi(lam + self.lon0).to_degrees(),
            self.authalic_to_geodetic(sinb),
        )
    }

    /// The geodetic latitude (degrees) whose authalic latitude has sine `sinb`: Newton on
    /// `q(φ) = qp·sin β` (Snyder eq. 3-16), exact where PROJ uses a truncated series.
    fn authalic_to_geodetic(&self, sinb: f64) -> f64 {
        let q = self.qp * sinb.clamp(-1.0, 1.0);
        let es = self.e * self.e;
        let mut phi = sinb.clamp(-1.0, 1.0).asin();
        for _ in 0..12 {
            let s = phi.sin();
            let c = phi.cos();
            if c.abs() < 1e-12 {
                break;
            }
            let d = 1.0 - es * s * s;
            let step = d * d / (2.0 * c)
                * (q / self.one_es - s / d
                    + (1.0 / (2.0 * self.e)) * ((1.0 - self.e * s) / (1.0 + self.e * s)).ln());
            phi += step;
            if step.abs() < 1e-15 {
                break;
            }
        }
        phi.to_degrees()
    }
}

/// Snyder's q (eq. 3-12), as PROJ's `pj_qsfn`.
fn qsfn(sinphi: f64, e: f64, one_es: f64) -> f64 {
    let con = e * sinphi;
    one_es * (sinphi / (1.0 - con * con) - (0.5 / e) * ((1.0 - con) / (1.0 + con)).ln())
}

/// An angle brought into [-π, π].
fn wrap_pi(a: f64) -> f64 {
    use std::f64::consts::PI;
    if (-PI..=PI).contains(&a) {
        a
    } else {
        a - (2.0 * PI) * ((a + PI) / (2.0 * PI)).floor()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let p = Laea::new(-67.3, 48.4);
        for &(lon, lat) in &[(-67.3, 48.4), (-67.8, 48.1), (-66.7, 48.7), (-60.0, 40.0)] {
            let (x, y) = p.forward(lon, lat);
            let (lo, la) = p.inverse(x, y);
            assert!(
                (lo - lon).abs() < 1e-11 && (la - lat).abs() < 1e-11,
                "{lon} {lat} -> {lo} {la}"
            );
        }
        let (x, y) = p.forward(-67.3, 48.4);
        assert!(x.abs() < 1e-9 && y.abs() < 1e-9);
    }

    #[test]
    fn equals_pyproj() {
        // pyproj 3.7.2 / PROJ 9.5.1: "+proj=laea +lat_0=48.4 +lon_0=-67.3 +datum=WGS84 +units=m"
        let p = Laea::new(-67.3, 48.4);
        for ((lon, lat), (x, y)) in [
            ((-67.8, 48.1), (-37240.10703339494, -33237.60456926977)),
            ((-66.7, 48.7), (44166.01279360223, 33532.78878939687)),
            ((-60.0, 40.0), (623911.4324211669, -903915.0776200109)),
        ] {
            let (px, py) = p.forward(lon, lat);
            assert!(
                (px - x).abs() < 1e-8 && (py - y).abs() < 1e-8,
                "{px} {py} vs {x} {y}"
            );
        }
    }
}
