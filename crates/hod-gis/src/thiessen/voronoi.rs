//! Voronoi cells (Voronoi 1908; Thiessen 1911) from the Delaunay triangulation: the cell of a
//! site is the intersection of the half-planes closer to it than to each Delaunay neighbour,
//! which is the whole Voronoi cell because every Voronoi edge is dual to a Delaunay edge.

use super::clip::{Bbox, HalfPlane, P, clip_ring};
use crate::GisError;
use spade::{DelaunayTriangulation, HasPosition, Point2, Triangulation};

/// A site with its index in the caller's list.
struct Site {
    p: P,
    index: usize,
}

impl HasPosition for Site {
    type Scalar = f64;
    fn position(&self) -> Point2<f64> {
        Point2::new(self.p.0, self.p.1)
    }
}

/// One site's cell: the convex polygon (counter-clockwise, bounded by the frame) and the
/// half-planes that define it.
#[derive(Debug, Clone)]
pub(crate) struct Cell {
    pub polygon: Vec<P>,
    pub planes: Vec<HalfPlane>,
}

/// The Voronoi cells of `sites`, each cut to `frame` (which must hold the region of interest).
/// Sites must be distinct (the caller checks, to name the stations).
pub(crate) fn cells(sites: &[P], frame: Bbox) -> Result<Vec<Cell>, GisError> {
    let frame_ring = vec![
        (frame.0, frame.1),
        (frame.2, frame.1),
        (frame.2, frame.3),
        (frame.0, frame.3),
    ];
    let mut neighbours = vec![Vec::new(); sites.len()];
    if sites.len() > 1 {
        let tri: DelaunayTriangulation<Site> = DelaunayTriangulation::bulk_load(
            sites
                .iter()
                .enumerate()
                .map(|(index, &p)| Site { p, index })
                .collect(),
        )
        .map_err(|e| GisError::Invalid(format!("cannot triangulate the stations: {e}")))?;
        // also when all sites are collinear: spade then links consecutive sites along the line
        for e in tri.undirected_edges() {
            let [a, b] = e.vertices();
            let (a, b) = (a.data().index, b.data().index);
            neighbours[a].push(b);
            neighbours[b].push(a);
        }
    }
    Ok(sites
        .iter()
        .zip(&neighbours)
        .map(|(&p, nb)| {
            let planes: Vec<HalfPlane> = nb.iter().map(|&q| bisector(p, sites[q])).collect();
            Cell {
                polygon: clip_ring(&frame_ring, planes.iter().copied()),
                planes,
            }
        })
        .collect())
}

/// The half-plane of points at least as close to `p` as to `q`.
fn bisector(p: P, q: P) -> HalfPlane {
    let (nx, ny) = (q.0 - p.0, q.1 - p.1);
    let m = (0.5 * (p.0 + q.0), 0.5 * (p.1 + q.1));
    HalfPlane {
        nx,
        ny,
        c: nx * m.0 + ny * m.1,
    }
}

#[cfg(test)]
mod tests {
    use super::super::clip::signed_area;
    use super::*;

    #[test]
    fn collinear_sites_make_slabs() {
        let cells = cells(
            &[(0.0, 0.0), (2.0, 0.0), (1.0, 0.0), (5.0, 0.0)],
            Bbox(0.0, -1.0, 6.0, 1.0),
        )
        .unwrap();
        let areas: Vec<f64> = cells.iter().map(|c| signed_area(&c.polygon)).collect();
        assert_eq!(areas, vec![1.0, 4.0, 2.0, 5.0]);
    }

    #[test]
    fn square_grid_is_cocircular_but_fine() {
        let sites = [(0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (1.0, 1.0)];
        let cells = cells(&sites, Bbox(-0.5, -0.5, 1.5, 1.5)).unwrap();
        for c in cells {
            assert!((signed_area(&c.polygon) - 1.0).abs() < 1e-12);
        }
    }
}
