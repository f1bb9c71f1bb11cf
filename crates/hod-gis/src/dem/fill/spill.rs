//! The spill graph of Barnes (2016): the tiles' watershed labels as nodes, node 0 the outlet
//! (nodata and the grid edge), and an edge wherever two labels meet, inside a tile or across a
//! tile border, at the lower of the levels over which water crosses there. A label's spill
//! level is the lowest level over which it can reach the outlet: the minimax path, found by
//! Dijkstra's order with the maximum in place of the sum.

use super::radix_heap::RadixHeap;
use super::sortable;
use super::tile::{CLOSED, Tile, TileGraph};

/// Each tile's first global label less one, and the spill level of every global label (sortable
/// bits; index 0: the outlet).
/// `values`: the elevations of each tile's sides (as [`TileGraph::sides`]).
pub(super) fn levels(
    values: &[[Vec<f32>; 4]],
    tiles: &[Tile],
    graphs: &[TileGraph],
    tile_cols: usize,
) -> (Vec<u32>, Vec<u32>) {
    let mut first = Vec::with_capacity(graphs.len());
    let mut nodes = 1u32;
    for g in graphs {
        first.push(nodes - 1);
        nodes += g.labels;
    }
    let global = |k: usize, l: u32| if l == 0 { 0 } else { first[k] + l };
    let mut edges: Vec<(u32, u32, u32)> = Vec::new();
    for (k, g) in graphs.iter().enumerate() {
        edges.extend(
            g.edges
                .iter()
                .map(|&(ab, w)| (global(k, (ab >> 32) as u32), global(k, ab as u32), w)),
        );
    }
    // Across tile borders: each cell on a tile's right or bottom side with its neighbours in
    // the tiles to the right, below, below right and below left.
    let mut cross = |ka: usize, la: u32, a: f32, kb: usize, lb: u32, b: f32| {
        if la != CLOSED && lb != CLOSED {
            let e = (global(ka, la), global(kb, lb), sortable(a).max(sortable(b)));
            // Neighbouring border cells mostly join the same two labels: one edge, the lowest.
            match edges.last_mut() {
                Some(last) if (last.0, last.1) == (e.0, e.1) => last.2 = last.2.min(e.2),
                _ => edges.push(e),
            }
        }
    };
    // Cell `j` of side `a` of tile `ka` touches cells `j - 1..=j + 1` of side `b` of tile `kb`.
    let mut border = |ka: usize, a: usize, kb: usize, b: usize| {
        let (la, za, lb, zb) = (
            &graphs[ka].sides[a],
            &values[ka][a],
            &graphs[kb].sides[b],
            &values[kb][b],
        );
        for (j, (&l, &z)) in la.iter().zip(za).enumerate() {
            let near = j.saturating_sub(1)..(j + 2).min(lb.len());
            for (&m, &y) in lb[near.clone()].iter().zip(&zb[near]) {
                cross(ka, l, z, kb, m, y);
            }
        }
    };
    for k in 0..tiles.len() {
        let tc = k % tile_cols;
        if tc + 1 < tile_cols {
            border(k, 3, k + 1, 2);
        }
        let below = k + tile_cols;
        if below < tiles.len() {
            border(k, 1, below, 0);
        }
    }
    // Corners: the bottom right and bottom left cells of each tile with the top left and top
    // right cells of the tiles diagonally below.
    for (k, g) in graphs.iter().enumerate() {
        let (tc, below) = (k % tile_cols, k + tile_cols);
        if below >= tiles.len() {
            continue;
        }
        let last = |side: &[u32]| side.len().saturating_sub(1);
        let diagonals = [
            (tc + 1 < tile_cols).then(|| (last(&g.sides[1]), below + 1, 0)),
            (tc > 0).then(|| (0, below - 1, last(&graphs[below - 1].sides[0]))),
        ];
        for (j, kb, m) in diagonals.into_iter().flatten() {
            let (gb, vb) = (&graphs[kb], &values[kb]);
            if let (Some(&l), Some(&z), Some(&lb), Some(&zb)) = (
                g.sides[1].get(j),
                values[k][1].get(j),
                gb.sides[0].get(m),
                vb[0].get(m),
            ) {
                cross(k, l, z, kb, lb, zb);
            }
        }
    }
    // Adjacency lists (compressed rows), then the minimax paths from the outlet.
    let n = nodes as usize;
    let mut start = vec![0u32; n + 1];
    for &(a, b, _) in &edges {
        start[a as usize + 1] += 1;
        start[b as usize + 1] += 1;
    }
    for i in 0..n {
        start[i + 1] += start[i];
    }
    let mut fill = start.clone();
    let mut adj = vec![(0u32, 0u32); edges.len() * 2];
    for &(a, b, w) in &edges {
        for (x, y) in [(a, b), (b, a)] {
            adj[fill[x as usize] as usize] = (y, w);
            fill[x as usize] += 1;
        }
    }
    drop(edges);
    let mut spill = vec![u32::MAX; n];
    spill[0] = 0;
    let mut heap = RadixHeap::new();
    heap.push(0, 0);
    while let Some((level, u)) = heap.pop() {
        let u = u as usize;
        if level > spill[u] {
            continue;
        }
        for &(v, w) in &adj[start[u] as usize..start[u + 1] as usize] {
            let l = level.max(w);
            if l < spill[v as usize] {
                spill[v as usize] = l;
                heap.push(l, v);
            }
        }
    }
    (first, spill)
}
