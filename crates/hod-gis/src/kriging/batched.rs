//! Exact prediction of many points against the global covariance system, in panels of
//! [`NR`] points.
//!
//! The kriging variance needs `|L⁻¹c(x)|²` at every point: n²/2 multiply-adds each, nearly all
//! the work for a grid. A general triangular solve (faer's TRSM) must also store `L⁻¹c`; here
//! `L⁻¹` is formed once and packed, and one register-blocked kernel multiplies it with a panel
//! of right-hand sides and squares and sums each tile as it leaves the registers, so `L⁻¹c` is
//! never written. The right-hand sides are built straight into the kernel's layout, and the
//! estimates and drift residuals come from them in the same pass (`cᵀα` and `cᵀC⁻¹F`, O(n)
//! per point). PyKrige itself forms the explicit inverse of its whole kriging matrix.

use super::solver::{EPS, Problem, Solver, System, dist, lags_to_rhs, quad_form};
use crate::GisError;
use faer::linalg::triangular_solve::solve_upper_triangular_in_place;
use faer::{Mat, MatRef, Par};
use rayon::prelude::*;

/// Rows of `L⁻¹` per micro-panel: each one is broadcast against a panel row.
const MR: usize = 6;
/// Points per panel: two 4-wide f64 vectors. MR × NR accumulators fill 12 of AVX2's 16
/// registers.
pub(crate) const NR: usize = 8;
/// Micro-panels of `L⁻¹` reused against each panel before moving on (4 × 48 KB for n = 1000
/// stays in L2).
const MC: usize = 4;

type Tile = [[f64; NR]; MR];

/// The global covariance system `C = L Lᵀ` (see [`Solver::Covariance`]) in the form batched
/// prediction needs: `L⁻¹` packed in micro-panels, `W = C⁻¹F`, and the rest as solved.
#[derive(Debug, Clone)]
pub(crate) struct Batched {
    n: usize,
    /// Micro-panel `i` holds rows `MR·i ..` of `L⁻¹`, column-major over columns `0..ext(i)`
    /// (its last row's diagonal); rows past `n` are zero.
    panels: Vec<f64>,
    /// Start of each micro-panel in `panels`, and the end.
    starts: Vec<usize>,
    /// `C⁻¹F`, n × p.
    w: Mat<f64>,
    c: f64,
    x: Vec<f64>,
    y: Vec<f64>,
    s_inv: Mat<f64>,
    alpha: Vec<f64>,
    beta: Vec<f64>,
}

impl Batched {
    /// For a system in covariance form; `None` for PyKrige's matrix (solved by LU).
    pub(crate) fn new(system: &System) -> Option<Batched> {
        let Solver::Covariance {
            c,
            l,
            u,
            s_inv,
            alpha,
            beta,
        } = &system.solver
        else {
            return None;
        };
        let n = l.nrows();
        let (panels, starts) = pack_inverse(l.as_ref());
        let mut w = u.to_owned();
        solve_upper_triangular_in_place(l.transpose(), w.as_mut(), Par::Seq);
        Some(Batched {
            n,
            panels,
            starts,
            w,
            c: *c,
            x: system.x.clone(),
            y: system.y.clone(),
            s_inv: s_inv.clone(),
            alpha: alpha.clone(),
            beta: beta.clone(),
        })
    }

    /// Estimates and variances at `pts` (original coordinates) into `zc`, `vc`; `g` is scratch
    /// space, reused between calls.
    pub(crate) fn predict(
        &self,
        p: &Problem,
        pts: &[(f64, f64)],
        zc: &mut [f64],
        vc: &mut [f64],
        g: &mut Vec<f64>,
    ) -> Result<(), GisError> {
        let n = self.n;
        let nt = self.w.ncols();
        // Every value is overwritten: no need to clear.
        g.resize(pts.len().div_ceil(NR) * n * NR, 0.0);
        let mut f0 = vec![0.0; nt];
        let mut r = vec![0.0; nt];
        let mut q = vec![0.0; g.len() / n];
        for (((panel, pp), zp), vp) in g
            .chunks_exact_mut(n * NR)
            .zip(pts.chunks(NR))
            .zip(zc.chunks_mut(NR))
            .zip(vc.chunks_mut(NR))
        {
            // A short last panel repeats its last point; those lanes are dropped below.
            let at = |j: usize| pp[j.min(pp.len() - 1)];
            let adj: [(f64, f64); NR] = std::array::from_fn(|j| p.frame.adjust(at(j).0, at(j).1));
            let mut drift = vec![[0.0; NR]; nt];
            let dual = pulp::Arch::new().dispatch(Fill {
                p,
                b: self,
                adj: &adj,
                panel,
                drift: &mut drift,
            });
            for (j, (zo, vo)) in zp.iter_mut().zip(vp.iter_mut()).enumerate() {
                let ((ox, oy), (px, py)) = (pp[j], adj[j]);
                p.basis.eval(px, py, ox, oy, &mut f0)?;
                *zo = dual[j] + f0.iter().zip(&self.beta).map(|(f, b)| f * b).sum::<f64>();
                for ((rt, acc), f) in r.iter_mut().zip(&drift).zip(&f0) {
                    *rt = acc[j] - f;
                }
                // The variance less |L⁻¹c|², which the kernel adds below.
                *vo = self.c + quad_form(self.s_inv.as_ref(), faer::ColRef::from_slice(&r));
            }
        }
        self.norms(g, &mut q);
        for (v, q) in vc.iter_mut().zip(&q) {
            *v -= q;
        }
        Ok(())
    }

    /// `q[j] = |L⁻¹g_j|²` for the panels of right-hand sides in `g` (each n rows of [`NR`]).
    fn norms(&self, g: &[f64], q: &mut [f64]) {
        let n = self.n;
        let blocks: Vec<(usize, usize)> = self.starts.windows(2).map(|s| (s[0], s[1])).collect();
        for block in blocks.chunks(MC) {
            for (panel, qp) in g.chunks_exact(n * NR).zip(q.chunks_exact_mut(NR)) {
                for &(s0, s1) in block {
                    let a = &self.panels[s0..s1];
                    let t = tile(a, &panel[..a.len() / MR * NR]);
                    for row in &t {
                        for (qj, y) in qp.iter_mut().zip(row) {
                            *qj += y * y;
                        }
                    }
                }
            }
        }
    }
}

/// Rows of `L⁻¹` solved at once (16 micro-panels): wide enough for a matrix-matrix solve.
const GROUP: usize = 16 * MR;

/// `L⁻¹` in micro-panels (see [`Batched::panels`]), and where each starts. Row `r` of `L⁻¹` is
/// `xᵀ` with `Lᵀx = e_r`, zero past `r`, so each group of rows is one triangular solve over
/// the leading block of `Lᵀ`, written straight into its panels; the groups run in parallel.
fn pack_inverse(l: MatRef<'_, f64>) -> (Vec<f64>, Vec<usize>) {
    let n = l.nrows();
    let mut starts = vec![0];
    for r0 in (0..n).step_by(MR) {
        starts.push(starts[starts.len() - 1] + (r0 + MR).min(n) * MR);
    }
    let mut panels = vec![0.0; starts[starts.len() - 1]];
    let mut groups = Vec::new();
    let mut rest = panels.as_mut_slice();
    for g0 in (0..n).step_by(GROUP) {
        let (p0, p1) = (g0 / MR, (g0 + GROUP).min(n).div_ceil(MR));
        let (head, tail) = rest.split_at_mut(starts[p1] - starts[p0]);
        groups.push((g0, head));
        rest = tail;
    }
    groups.into_par_iter().for_each(|(g0, out)| {
        let g1 = (g0 + GROUP).min(n);
        let mut x = Mat::zeros(g1, g1 - g0);
        for i in 0..g1 - g0 {
            x[(g0 + i, i)] = 1.0;
        }
        solve_upper_triangular_in_place(l.submatrix(0, 0, g1, g1).transpose(), x.as_mut(), Par::Seq);
        let mut at = 0;
        for r0 in (g0..g1).step_by(MR) {
            for k in 0..(r0 + MR).min(n) {
                for r in r0..r0 + MR {
                    // Past the diagonal and past n: zero (as allocated).
                    if r < g1 && k <= r {
                        out[at] = x[(k, r - g0)];
                    }
                    at += 1;
                }
            }
        }
    });
    (panels, starts)
}

/// Builds one panel of right-hand sides `c − γ(|x − x_k|)` for the points `adj` (adjusted
/// coordinates) and returns `cᵀα` per point, with `cᵀW` into `drift`; compiled, like the
/// kernel, for the CPU's vector instructions.
struct Fill<'a> {
    p: &'a Problem,
    b: &'a Batched,
    adj: &'a [(f64, f64); NR],
    panel: &'a mut [f64],
    drift: &'a mut [[f64; NR]],
}

impl pulp::WithSimd for Fill<'_> {
    type Output = [f64; NR];
    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) -> [f64; NR] {
        let Fill {
            p,
            b,
            adj,
            panel,
            drift,
        } = self;
        let px: [f64; NR] = std::array::from_fn(|j| adj[j].0);
        let py: [f64; NR] = std::array::from_fn(|j| adj[j].1);
        for (row, (xk, yk)) in panel.chunks_exact_mut(NR).zip(b.x.iter().zip(&b.y)) {
            for ((h, x), y) in row.iter_mut().zip(&px).zip(&py) {
                *h = dist(x - xk, y - yk);
            }
        }
        lags_to_rhs(&p.variogram, panel, b.c, -1.0, EPS);
        let mut dual = [0.0; NR];
        for (k, row) in panel.chunks_exact(NR).enumerate() {
            for (d, v) in dual.iter_mut().zip(row) {
                *d += v * b.alpha[k];
            }
            for (t, acc) in drift.iter_mut().enumerate() {
                let wk = b.w[(k, t)];
                for (d, v) in acc.iter_mut().zip(row) {
                    *d += v * wk;
                }
            }
        }
        dual
    }
}

/// One MR × NR tile of `L⁻¹G`, compiled for the best instruction set the CPU has (pulp
/// detects it at run time: AVX2 + FMA on current x86).
fn tile(a: &[f64], b: &[f64]) -> Tile {
    struct Op<'a>(&'a [f64], &'a [f64]);
    impl pulp::WithSimd for Op<'_> {
        type Output = Tile;
        #[inline(always)]
        fn with_simd<S: pulp::Simd>(self, _: S) -> Tile {
            // Fixed-size loops over registers: LLVM turns each row into two vector FMAs.
            let mut c = [[0.0; NR]; MR];
            for (av, bv) in self.0.chunks_exact(MR).zip(self.1.chunks_exact(NR)) {
                for (cr, ar) in c.iter_mut().zip(av) {
                    for (cj, bj) in cr.iter_mut().zip(bv) {
                        *cj = ar.mul_add(*bj, *cj);
                    }
                }
            }
            c
        }
    }
    pulp::Arch::new().dispatch(Op(a, b))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::solver::Anisotropy;
    use super::super::{Drift, Model, Variogram};
    use super::*;

    /// The batched path gives what one triangular solve per point gives, for system sizes and
    /// point counts that fill neither the micro-panels, nor the groups of rows of `L⁻¹` solved
    /// at once, nor the last panel.
    #[test]
    fn equals_solving_each_point() {
        let mut s = 7u64;
        let mut rnd = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 11) as f64 / (1u64 << 53) as f64
        };
        for (n, npt, drift) in [
            (1, 3, Drift::None),
            (13, 37, Drift::RegionalLinear),
            (50, 8, Drift::None),
            (200, 9, Drift::RegionalLinear),
        ] {
            let x: Vec<f64> = (0..n).map(|_| rnd() * 100.0).collect();
            let y: Vec<f64> = (0..n).map(|_| rnd() * 50.0).collect();
            let z: Vec<f64> = (0..n).map(|_| rnd()).collect();
            let v = Variogram::new(Model::Spherical, &[2.0, 60.0, 0.1]).unwrap();
            let p = Problem::new(&x, &y, &z, v, &drift, Anisotropy::default()).unwrap();
            let sys = p.system(p.gram((0..n).collect(), None)).unwrap();
            let b = Batched::new(&sys).unwrap();
            // Points anywhere, one of them on a datum.
            let mut pts: Vec<(f64, f64)> = (0..npt).map(|_| (rnd() * 120.0 - 10.0, rnd() * 60.0)).collect();
            pts[0] = (x[0], y[0]);
            let (mut z1, mut v1) = (vec![0.0; npt], vec![0.0; npt]);
            b.predict(&p, &pts, &mut z1, &mut v1, &mut Vec::new()).unwrap();
            let (mut z2, mut v2) = (vec![0.0; npt], vec![0.0; npt]);
            sys.predict(&p, &pts, &mut z2, &mut v2).unwrap();
            for k in 0..npt {
                assert!(
                    (z1[k] - z2[k]).abs() < 1e-12,
                    "n {n}, point {k}: z {} vs {}",
                    z1[k],
                    z2[k]
                );
                assert!(
                    (v1[k] - v2[k]).abs() < 1e-12,
                    "n {n}, point {k}: σ² {} vs {}",
                    v1[k],
                    v2[k]
                );
            }
            assert!((z1[0] - z[0]).abs() < 1e-12 && v1[0].abs() < 1e-12);
        }
    }
}
