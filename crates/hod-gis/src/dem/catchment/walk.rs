//! The upstream walk from one outlet, depth first (O(basin cells)), on all threads: a walk whose
//! stack has grown hands the older half of it to a new task, which other threads take. Each cell
//! is reached once, from the cell it drains to, so tasks never write the same label.

use super::super::{BitSet, DC, DR, FlowDir, NO_DATA, neighbour};
use super::Rows;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

/// Cells a task visits between looks at whether to hand over half of its stack.
const SPLIT_EVERY: usize = 1 << 15;
/// Stack entries (cell, row) a task keeps at least when it hands over the rest.
const SPLIT_MIN: usize = 64;

/// Per byte `k` (little-endian) of a word: the code of a cell that drains to its neighbour in
/// direction `k`.
const OPPOSITE: u64 = u64::from_le_bytes([4, 5, 6, 7, 0, 1, 2, 3]);

/// 0x80 in each byte of `x` that is zero, 0 elsewhere (exact, no carries between bytes).
#[inline]
fn zero_bytes(x: u64) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    !(((x & LOW7) + LOW7) | x | LOW7)
}

/// What every task of one walk reads and writes.
struct Walk<'a> {
    dirs: &'a FlowDir,
    is_outlet: &'a BitSet,
    labels: &'a [AtomicU32],
    label: u32,
    off: [isize; 8],
    /// One tally per thread (a task holds its thread's for its whole run).
    tallies: &'a [Mutex<Rows>],
}

/// Labels `l` the cells upstream of outlet `o` (not entering other outlets' cells) and counts
/// them in `tallies` (one per thread, merged by the caller).
pub(super) fn upstream(
    dirs: &FlowDir,
    is_outlet: &BitSet,
    labels: &[AtomicU32],
    (o, l): (usize, u32),
    tallies: &[Mutex<Rows>],
) {
    let cols = dirs.geom.cols;
    let w = Walk {
        dirs,
        is_outlet,
        labels,
        label: l,
        off: std::array::from_fn(|k| DR[k] * cols as isize + DC[k]),
        tallies,
    };
    rayon::scope(|s| task(&w, vec![(o as u32, (o / cols) as u32)], s));
}

fn task<'s>(w: &'s Walk<'s>, mut stack: Vec<(u32, u32)>, s: &rayon::Scope<'s>) {
    let (g, d) = (&w.dirs.geom, &w.dirs.data);
    let cols = g.cols;
    let slot = rayon::current_thread_index().unwrap_or(0) % w.tallies.len().max(1);
    let Some(mut rows) = w.tallies.get(slot).and_then(|t| t.lock().ok()) else {
        return;
    };
    let mut visited = 0usize;
    while let Some((c, r)) = stack.pop() {
        visited += 1;
        if visited.is_multiple_of(SPLIT_EVERY) && stack.len() >= 2 * SPLIT_MIN {
            let rest = stack.split_off(stack.len() / 2);
            let older = std::mem::replace(&mut stack, rest);
            s.spawn(move |s| task(w, older, s));
        }
        let (c, r) = (c as usize, r as usize);
        let col = c - r * cols;
        rows.add(r, col);
        // The neighbours' codes, one byte each in direction order (nodata off the grid).
        let codes = if r > 0 && col > 0 && r + 1 < g.rows && col + 1 < cols {
            u64::from_le_bytes(std::array::from_fn(|dir| d[c.wrapping_add_signed(w.off[dir])]))
        } else {
            u64::from_le_bytes(std::array::from_fn(|dir| {
                neighbour(g, r, col, dir).map_or(NO_DATA, |n| d[n])
            }))
        };
        // A neighbour drains here if it points the opposite way. Only outlets are labelled
        // before their walk (any other cell is reached once, from the cell it drains to), so
        // the walk asks a bit per cell rather than the label, 32 times larger.
        let mut towards = zero_bytes(codes ^ OPPOSITE);
        while towards != 0 {
            let dir = (towards.trailing_zeros() / 8) as usize;
            towards &= towards - 1;
            let n = c.wrapping_add_signed(w.off[dir]);
            if !w.is_outlet.get(n) {
                w.labels[n].store(w.label, Relaxed);
                stack.push((n as u32, r.wrapping_add_signed(DR[dir]) as u32));
            }
        }
    }
}
