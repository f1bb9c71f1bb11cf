//! Horizontal grids: regular lat/lon and regular Gaussian, with coordinates computed the way
//! ecCodes' iterators compute them (so they equal cfgrib's `latitude`/`longitude`).

/// Kind of a supported grid.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum GridKind {
    /// Regular latitude/longitude (GRIB1 GDS type 0, GRIB2 template 3.0).
    RegularLl,
    /// Regular Gaussian with `n` parallels between a pole and the equator (GRIB1 type 4, 3.40).
    RegularGg { n: u32 },
}

/// A horizontal grid as described by GRIB1's GDS or GRIB2's section 3 (angles in degrees).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Grid {
    pub kind: GridKind,
    pub ni: u32,
    pub nj: u32,
    pub lat_first: f64,
    pub lon_first: f64,
    pub lat_last: f64,
    pub lon_last: f64,
    /// j increment in degrees (unused for Gaussian grids).
    pub dj: f64,
    /// GRIB scanning mode flags (table 8 / 3.4).
    pub scan: u8,
}

/// Scanning mode: points go in the −i (westward) direction.
pub(super) const SCAN_I_NEGATIVE: u8 = 0x80;
/// Scanning mode: points go in the +j (northward) direction.
pub(super) const SCAN_J_POSITIVE: u8 = 0x40;
/// Scanning mode: adjacent points are consecutive in j (columns first).
pub(super) const SCAN_J_CONSECUTIVE: u8 = 0x20;
/// Scanning mode: every other row runs in the opposite direction (GRIB2 only).
pub(super) const SCAN_BOUSTROPHEDON: u8 = 0x10;

impl Grid {
    /// Name of the grid as ecCodes' `gridType`.
    pub fn grid_type(&self) -> &'static str {
        match self.kind {
            GridKind::RegularLl => "regular_ll",
            GridKind::RegularGg { .. } => "regular_gg",
        }
    }

    /// Number of points.
    pub fn len(&self) -> usize {
        self.ni as usize * self.nj as usize
    }

    /// Latitudes of the rows, in scan order (north to south unless +j scanning).
    pub fn latitudes(&self) -> Vec<f64> {
        let nj = self.nj as usize;
        match self.kind {
            GridKind::RegularLl => {
                // Cumulative steps, last point pinned to the declared one, as ecCodes does.
                let step = if self.scan & SCAN_J_POSITIVE != 0 {
                    self.dj
                } else {
                    -self.dj
                };
                let mut lat = self.lat_first;
                let mut out = Vec::with_capacity(nj);
                for _ in 0..nj {
                    out.push(lat);
                    lat += step;
                }
                if let Some(last) = out.last_mut().filter(|_| nj > 1) {
                    *last = self.lat_last;
                }
                out
            }
            GridKind::RegularGg { n } => {
                let all = gaussian_latitudes(n as usize);
                // Start at the Gaussian latitude nearest the first grid point.
                let start = all
                    .iter()
                    .enumerate()
                    .min_by(|a, b| {
                        (a.1 - self.lat_first)
                            .abs()
                            .total_cmp(&(b.1 - self.lat_first).abs())
                    })
                    .map_or(0, |(i, _)| i);
                if self.scan & SCAN_J_POSITIVE != 0 {
                    (0..nj)
                        .map(|k| start.checked_sub(k).map_or(f64::NAN, |i| all[i]))
                        .collect()
                } else {
                    (0..nj)
                        .map(|k| all.get(start + k).copied().unwrap_or(f64::NAN))
                        .collect()
                }
            }
        }
    }

    /// Longitudes of the columns, in scan order; the i increment is derived from the first and
    /// last longitudes (the coded increment is often rounded), as ecCodes does.
    pub fn longitudes(&self) -> Vec<f64> {
        let ni = self.ni as usize;
        let (lon1, lon2) = (self.lon_first, self.lon_last);
        let negative = self.scan & SCAN_I_NEGATIVE != 0;
        let mut step = 0.0;
        if ni > 1 {
            let span = if negative { lon1 - lon2 } else { lon2 - lon1 };
            let span = if span > 0.0 { span } else { span + 360.0 };
            step = span / (ni - 1) as f64;
        }
        let mut lon = lon1;
        if negative {
            step = -step;
        } else if lon1 + (ni as f64 - 2.0) * step > 360.0 {
            lon -= 360.0;
        }
        let mut out = Vec::with_capacity(ni);
        for _ in 0..ni {
            out.push(lon);
            lon += step;
        }
        if let Some(last) = out.last_mut().filter(|_| ni > 1) {
            *last = lon2;
        }
        out
    }
}

/// Zeros of the Bessel function J0: ecCodes' first guesses for the Legendre roots.
const BESSEL_ZEROS: [f64; 50] = [
    2.4048255577,
    5.5200781103,
    8.6537279129,
    11.7915344391,
    14.9309177086,
    18.0710639679,
    21.2116366299,
    24.3524715308,
    27.4934791320,
    30.6346064684,
    33.7758202136,
    36.9170983537,
    40.0584257646,
    43.1997917132,
    46.3411883717,
    49.4826098974,
    52.6240518411,
    55.7655107550,
    58.9069839261,
    62.0484691902,
    65.1899648002,
    68.3314693299,
    71.4729816036,
    74.6145006437,
    77.7560256304,
    80.8975558711,
    84.0390907769,
    87.1806298436,
    90.3221726372,
    93.4637187819,
    96.6052679510,
    99.7468198587,
    102.8883742542,
    106.0299309165,
    109.1714896498,
    112.3130502805,
    115.4546126537,
    118.5961766309,
    121.7377420880,
    124.8793089132,
    128.0208770059,
    131.1624462752,
    134.3040166383,
    137.4455880203,
    140.5871603528,
    143.7287335737,
    146.8703076258,
    150.0118824570,
    153.1534580192,
    156.2950342685,
];

/// The 2`n` Gaussian latitudes, north to south: arcsines of the roots of the Legendre polynomial
/// of degree 2`n`, found by Newton's method from Bessel-zero first guesses (ecCodes'
/// `grib_get_gaussian_latitudes`).
pub(super) fn gaussian_latitudes(n: usize) -> Vec<f64> {
    let nlat = 2 * n;
    let mut lats = vec![0.0; nlat];
    let pi = std::f64::consts::PI;
    let convval = 1.0 - (2.0 / pi) * (2.0 / pi) * 0.25;
    let denom = ((nlat as f64 + 0.5) * (nlat as f64 + 0.5) + convval).sqrt();
    let mut guess = 0.0;
    for j in 0..n {
        guess = BESSEL_ZEROS.get(j).copied().unwrap_or(guess + pi);
        let mut root = (guess / denom).cos();
        for _ in 0..20 {
            let (mut mem1, mut mem2, mut leg) = (root, 1.0, 0.0);
            for l in 0..nlat {
                leg = ((2.0 * (l as f64 + 1.0) - 1.0) * root * mem1 - l as f64 * mem2) / (l as f64 + 1.0);
                mem2 = mem1;
                mem1 = leg;
            }
            let conv = leg / ((nlat as f64 * (mem2 - root * leg)) / (1.0 - root * root));
            root -= conv;
            if conv.abs() < 1e-14 {
                break;
            }
        }
        lats[j] = root.asin().to_degrees();
        lats[nlat - 1 - j] = -lats[j];
    }
    lats
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaussian_n1_and_n2() {
        // Roots of P2 and P4: ±1/√3 and ±0.861136, ±0.339981.
        let l = gaussian_latitudes(1);
        assert!((l[0] - (1f64 / 3f64.sqrt()).asin().to_degrees()).abs() < 1e-12);
        let l = gaussian_latitudes(2);
        assert!((l[0] - 0.861_136_311_594_052_6f64.asin().to_degrees()).abs() < 1e-12);
        assert!((l[1] - 0.339_981_043_584_856_3f64.asin().to_degrees()).abs() < 1e-12);
        assert_eq!(l[3], -l[0]);
        // N=80: ecCodes 2.50 `distinctLatitudes` of its reduced_gg_pl_80_grib2 sample.
        let l = gaussian_latitudes(80);
        assert_eq!((l.len(), l[159]), (160, -l[0]));
        for (ours, ecc) in [
            (l[0], 89.14151942646112),
            (l[1], 88.02942886795154),
            (l[79], 0.5607449425442227),
        ] {
            assert!((ours - ecc).abs() < 1e-12, "{ours} vs {ecc}");
        }
    }

    #[test]
    fn wave_grid_coordinates_match_ecccodes() {
        let g = Grid {
            kind: GridKind::RegularLl,
            ni: 301,
            nj: 331,
            lat_first: 55.0,
            lon_first: 260.0,
            lat_last: 0.0,
            lon_last: 310.0,
            dj: 0.166667,
            scan: 0,
        };
        // cfgrib 0.9.15 / ecCodes 2.50 on gfswave.t18z.atlocn.0p16.f001.grib2.
        let lat = g.latitudes();
        assert_eq!(lat[2], 54.666666000000006);
        assert_eq!(lat[329], 0.16655700000038398);
        assert_eq!(lat[330], 0.0);
        let lon = g.longitudes();
        assert_eq!(lon[1], 260.1666666666667);
        assert_eq!(lon[299], 309.833333333339);
        assert_eq!(lon[300], 310.0);
    }
}
