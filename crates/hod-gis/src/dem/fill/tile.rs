//! One tile's Priority-Flood, in a copy of the tile with a one-cell halo around it so that every
//! tile cell has eight neighbours in the buffer and the flood needs no edge tests. The halo and
//! nodata are closed; the tile's perimeter cells seed the flood, with the cells next to nodata
//! (or next to the grid edge, which the halo holds as nodata) inside the tile.

use super::radix_heap::RadixHeap;
use super::{sortable, unsortable};
use crate::dem::{BitSet, DC, DR};

/// Label of a cell the flood never enters: the halo and nodata.
pub(super) const CLOSED: u32 = u32::MAX;

/// Rows `r0..r0 + h` and columns `c0..c0 + w` of the grid.
#[derive(Debug, Clone, Copy)]
pub(super) struct Tile {
    pub(super) r0: usize,
    pub(super) c0: usize,
    pub(super) h: usize,
    pub(super) w: usize,
}

impl Tile {
    fn stride(&self) -> usize {
        self.w + 2
    }

    /// Index in the buffer of the tile's cell (`r`, `c`).
    fn at(&self, r: usize, c: usize) -> usize {
        (r + 1) * self.stride() + c + 1
    }

    /// The perimeter cells, each once.
    fn perimeter(&self) -> impl Iterator<Item = (usize, usize)> {
        let (h, w) = (self.h, self.w);
        let rows = if h > 1 { vec![0, h - 1] } else { vec![0] };
        let cols = if w > 1 { vec![0, w - 1] } else { vec![0] };
        let across = rows.into_iter().flat_map(move |r| (0..w).map(move |c| (r, c)));
        let down = (1..h.saturating_sub(1)).flat_map(move |r| cols.clone().into_iter().map(move |c| (r, c)));
        across.chain(down)
    }
}

/// What labelling a tile found: its watersheds (labels `1..=labels`, each grown from one seed)
/// and the lowest level at which two of them meet inside the tile.
pub(super) struct TileGraph {
    /// Number of labels.
    pub(super) labels: u32,
    /// `(a << 32 | b, level)` for labels `a < b` that meet at `level` (sortable bits); `a = 0` is
    /// the outlet (the label reaches nodata or the grid edge at `level`).
    pub(super) edges: Vec<(u64, u32)>,
    /// Labels of the top row, bottom row, left column and right column ([`CLOSED`]: nodata).
    pub(super) sides: [Vec<u32>; 4],
    /// Cells raised (one bit per buffer cell; empty when none was).
    raised: BitSet,
    /// How many.
    pub(super) raised_cells: u64,
}

impl TileGraph {
    /// The label of perimeter cell (`r`, `c`) of `t`.
    pub(super) fn perimeter_label(&self, t: &Tile, r: usize, c: usize) -> u32 {
        let side = if r == 0 {
            (0, c)
        } else if r + 1 == t.h {
            (1, c)
        } else if c == 0 {
            (2, r)
        } else {
            (3, r)
        };
        self.sides[side.0][side.1]
    }
}

/// The cells around a tile: the rows above and below, the columns left and right (`None`
/// beyond the grid), and the corners top left, top right, bottom left, bottom right (NaN beyond
/// the grid).
pub(super) struct Halo<'a> {
    pub(super) sides: [Option<&'a [f32]>; 4],
    pub(super) corners: [f32; 4],
}

/// Buffers reused from tile to tile.
pub(super) struct Scratch {
    z: Vec<f32>,
    label: Vec<u32>,
    heap: RadixHeap,
    pit: Vec<u32>,
    trace: Vec<u32>,
    outlets: Vec<u32>,
    edges: Vec<(u64, u32)>,
    next: u32,
    raised: BitSet,
}

impl Scratch {
    pub(super) fn new() -> Scratch {
        Scratch {
            z: Vec::new(),
            label: Vec::new(),
            heap: RadixHeap::new(),
            pit: Vec::new(),
            trace: Vec::new(),
            outlets: Vec::new(),
            edges: Vec::new(),
            next: 0,
            raised: BitSet::new(0),
        }
    }

    /// Sizes the buffers for `t`: all nodata and closed, to be overwritten by the tile's rows.
    fn reset(&mut self, t: &Tile) {
        let n = (t.h + 2) * t.stride();
        self.z.clear();
        self.z.resize(n, f32::NAN);
        self.label.clear();
        self.label.resize(n, CLOSED);
        self.outlets.clear();
        self.edges.clear();
        self.next = 0;
        self.raised = BitSet::new(n);
    }

    /// Copies the tile's rows and its halo in; the tile's cells are open unless nodata.
    fn load(&mut self, t: &Tile, rows: &[&mut [f32]], halo: Option<&Halo>) {
        let st = t.stride();
        for (r, row) in rows.iter().enumerate() {
            let s = t.at(r, 0);
            self.z[s..s + t.w].copy_from_slice(row);
            for (l, v) in self.label[s..s + t.w].iter_mut().zip(row.iter()) {
                if !v.is_nan() {
                    *l = 0;
                }
            }
        }
        let Some(halo) = halo else {
            return;
        };
        let [top, bottom, left, right] = halo.sides;
        if let Some(v) = top {
            self.z[1..=t.w].copy_from_slice(v);
        }
        if let Some(v) = bottom {
            let s = (t.h + 1) * st + 1;
            self.z[s..s + t.w].copy_from_slice(v);
        }
        for (r, v) in left.into_iter().flatten().enumerate() {
            self.z[(r + 1) * st] = *v;
        }
        for (r, v) in right.into_iter().flatten().enumerate() {
            self.z[(r + 1) * st + t.w + 1] = *v;
        }
        let [tl, tr, bl, br] = halo.corners;
        let last = self.z.len() - 1;
        (self.z[0], self.z[t.w + 1], self.z[last - t.w - 1], self.z[last]) = (tl, tr, bl, br);
    }

    /// Copies the tile's cells out.
    fn store(&self, t: &Tile, rows: &mut [&mut [f32]]) {
        for (r, row) in rows.iter_mut().enumerate() {
            let s = t.at(r, 0);
            row.copy_from_slice(&self.z[s..s + t.w]);
        }
    }

    /// Pushes the seeds: the valid perimeter cells and the inner cells next to nodata; records
    /// which seeds are outlets (next to nodata).
    fn seed(&mut self, t: &Tile) {
        let off = offsets(t.stride());
        let next_to_nodata = |z: &[f32], i: usize| off.iter().any(|&o| z[i.wrapping_add_signed(o)].is_nan());
        for (r, c) in t.perimeter() {
            let i = t.at(r, c);
            if self.label[i] == CLOSED {
                continue;
            }
            self.heap.push(sortable(self.z[i]), i as u32);
            if next_to_nodata(&self.z, i) {
                self.outlets.push(i as u32);
            }
        }
        let any_nodata = (0..t.h).any(|r| {
            let s = t.at(r, 0);
            self.z[s..s + t.w].iter().fold(false, |a, v| a | v.is_nan())
        });
        if !any_nodata {
            return;
        }
        for r in 1..t.h.saturating_sub(1) {
            for c in 1..t.w - 1 {
                let i = t.at(r, c);
                if self.label[i] != CLOSED && next_to_nodata(&self.z, i) {
                    self.heap.push(sortable(self.z[i]), i as u32);
                    self.outlets.push(i as u32);
                }
            }
        }
    }

    /// Priority-Flood of the seeded buffer in Zhou, Sun & Fu's variant, marking the cells it
    /// raises; returns how many. A popped seed without a label starts a new one, which the cells
    /// it reaches take, and labels that meet are recorded in `edges`.
    fn flood(&mut self, stride: usize) -> u64 {
        let off = offsets(stride);
        let Scratch {
            z,
            label,
            heap,
            pit,
            trace,
            edges,
            next,
            raised: bits,
            ..
        } = self;
        // Two labels meet where `i` touches `n`; the same two meet again mostly next to it, so
        // one entry keeps the lower level.
        let mut meet = |z: &[f32], label: &[u32], i: usize, n: usize| {
            let (a, b) = (label[i].min(label[n]), label[i].max(label[n]));
            let e = (
                u64::from(a) << 32 | u64::from(b),
                sortable(z[i]).max(sortable(z[n])),
            );
            match edges.last_mut() {
                Some(last) if last.0 == e.0 => last.1 = last.1.min(e.1),
                _ => edges.push(e),
            }
        };
        let mut raised = 0;
        loop {
            // Cells raised in a depression first (all at the current level), then slope cells,
            // then the lowest cell of the boundary.
            let i = if let Some(i) = pit.pop() {
                i as usize
            } else if let Some(i) = trace.pop() {
                // `i` keeps its elevation. Its higher neighbours do too: take them now. A lower
                // one must wait for its level, so `i` joins the boundary in the heap.
                let i = i as usize;
                let (zc, lc) = (z[i], label[i]);
                let mut lower = false;
                for n in cells(open_neighbours(z, label, i, off, &mut meet), i, off) {
                    if z[n] > zc {
                        label[n] = lc;
                        trace.push(n as u32);
                    } else {
                        lower = true;
                    }
                }
                if lower {
                    heap.push(sortable(zc), i as u32);
                }
                continue;
            } else if let Some((_, i)) = heap.pop() {
                let i = i as usize;
                if label[i] == 0 {
                    *next += 1;
                    label[i] = *next;
                }
                i
            } else {
                break;
            };
            // `i` is at its final level: lower or equal neighbours are raised to it (a
            // depression), higher ones start a slope trace.
            let (zc, lc) = (z[i], label[i]);
            for n in cells(open_neighbours(z, label, i, off, &mut meet), i, off) {
                label[n] = lc;
                if z[n] <= zc {
                    if z[n] < zc {
                        raised += 1;
                        bits.set(n);
                    }
                    z[n] = zc;
                    pit.push(n as u32);
                } else {
                    trace.push(n as u32);
                }
            }
        }
        raised
    }
}

/// Which neighbours of `i` are still open (label 0), as a mask of directions, after calling
/// `meet` for each neighbour of another label. The tests are gathered into masks first: which
/// way each goes is unpredictable, and a mispredicted branch per neighbour costs more than them.
#[inline(always)]
fn open_neighbours(
    z: &[f32],
    label: &[u32],
    i: usize,
    off: [isize; 8],
    meet: &mut impl FnMut(&[f32], &[u32], usize, usize),
) -> u32 {
    let lc = label[i];
    let (mut open, mut other) = (0u32, 0u32);
    for (k, o) in off.iter().enumerate() {
        let ln = label[i.wrapping_add_signed(*o)];
        open |= u32::from(ln == 0) << k;
        other |= u32::from(ln != 0 && ln != lc && ln != CLOSED) << k;
    }
    for n in cells(other, i, off) {
        meet(z, label, i, n);
    }
    open
}

/// The neighbours of `i` in the directions of `mask`.
#[inline(always)]
fn cells(mask: u32, i: usize, off: [isize; 8]) -> impl Iterator<Item = usize> {
    std::iter::successors((mask != 0).then_some(mask), |m| {
        Some(m & (m - 1)).filter(|&m| m != 0)
    })
    .map(move |m| i.wrapping_add_signed(off[m.trailing_zeros() as usize]))
}

/// Index offsets of the eight neighbours in a buffer `stride` cells wide.
fn offsets(stride: usize) -> [isize; 8] {
    std::array::from_fn(|k| DR[k] * stride as isize + DC[k])
}

/// Fills tile `t`, whose rows are `rows`, in place as if its perimeter drained out, labelling
/// the watersheds of its seeds (Barnes 2016's first step). The perimeter keeps its elevations.
pub(super) fn label(rows: &mut [&mut [f32]], t: Tile, halo: &Halo, s: &mut Scratch) -> TileGraph {
    s.reset(&t);
    s.load(&t, rows, Some(halo));
    s.seed(&t);
    let raised_cells = s.flood(t.stride());
    s.store(&t, rows);
    for &o in &s.outlets {
        s.edges
            .push((u64::from(s.label[o as usize]), sortable(s.z[o as usize])));
    }
    s.edges.sort_unstable();
    s.edges.dedup_by_key(|e| e.0);
    // A copy of the few left, not the buffer sized for all the meetings.
    let edges = s.edges.clone();
    let side =
        |cells: &mut dyn Iterator<Item = (usize, usize)>| cells.map(|(r, c)| s.label[t.at(r, c)]).collect();
    let sides = [
        side(&mut (0..t.w).map(|c| (0, c))),
        side(&mut (0..t.w).map(|c| (t.h - 1, c))),
        side(&mut (0..t.h).map(|r| (r, 0))),
        side(&mut (0..t.h).map(|r| (r, t.w - 1))),
    ];
    TileGraph {
        labels: s.next,
        edges,
        sides,
        raised: if raised_cells > 0 {
            std::mem::replace(&mut s.raised, BitSet::new(0))
        } else {
            BitSet::new(0)
        },
        raised_cells,
    }
}

/// Raises the cells of tile `t` (rows `rows`, filled by [`label`]) that lie below the spill
/// level of their watershed, `spill(label)` (sortable bits; Barnes 2016's last step); returns
/// how many cells this raises that [`label`] had not.
///
/// A watershed's cells below its spill level form a region that holds its seed on the
/// perimeter (each cell was reached from its seed over cells no higher), so a flood from the
/// perimeter cells raised to their spill levels, in order of level, that enters only lower
/// cells finds them all, and only them, each at its final level.
pub(super) fn raise(
    rows: &mut [&mut [f32]],
    t: Tile,
    g: &TileGraph,
    spill: impl Fn(u32) -> u32,
    s: &mut Scratch,
) -> u64 {
    let seeds: Vec<(usize, usize, u32)> = t
        .perimeter()
        .filter_map(|(r, c)| {
            let l = g.perimeter_label(&t, r, c);
            let v = rows[r][c];
            (l != CLOSED && spill(l) > sortable(v)).then(|| (r, c, spill(l)))
        })
        .collect();
    if seeds.is_empty() {
        return 0;
    }
    s.reset(&t);
    s.load(&t, rows, None);
    let mut raised = 0;
    for (r, c, level) in seeds {
        let i = t.at(r, c);
        s.z[i] = unsortable(level);
        s.label[i] = 1;
        s.heap.push(level, i as u32);
        raised += u64::from(!g.raised.get(i));
    }
    let off = offsets(t.stride());
    while let Some((_, i)) = s.heap.pop() {
        s.pit.push(i);
        while let Some(i) = s.pit.pop() {
            let zc = s.z[i as usize];
            for o in off {
                let n = (i as usize).wrapping_add_signed(o);
                if s.label[n] == 0 && s.z[n] < zc {
                    s.label[n] = 1;
                    s.z[n] = zc;
                    s.pit.push(n as u32);
                    raised += u64::from(!g.raised.get(n));
                }
            }
        }
    }
    s.store(&t, rows);
    raised
}
