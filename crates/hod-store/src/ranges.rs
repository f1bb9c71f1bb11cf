//! Coalescing many byte ranges of one object into fewer requests.

use std::ops::Range;

/// Ranges closer than this are fetched in one request: one round trip costs more than 64 KiB.
pub const COALESCE_GAP: u64 = 64 * 1024;
/// A coalesced request grows no larger than this, so big reads still run in parallel.
pub const MAX_COALESCED: u64 = 16 * 1024 * 1024;
/// At most this many range requests of one `get_ranges` call run at once.
pub const CONCURRENCY: usize = 8;

/// Which requests to make, and where each input range lies in their results.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Plan {
    /// The requests, sorted by start.
    pub(crate) fetches: Vec<Range<u64>>,
    /// For each input range: `(fetch index, start offset within that fetch)`; `None` when empty.
    pub(crate) pieces: Vec<Option<(usize, u64)>>,
}

/// Merges ranges whose gap is at most `gap` while the merged request stays within `max_len`.
/// Empty ranges need no request. Ranges must satisfy `start <= end`.
pub(crate) fn coalesce(ranges: &[Range<u64>], gap: u64, max_len: u64) -> Plan {
    let mut order: Vec<usize> = (0..ranges.len())
        .filter(|&i| ranges[i].start < ranges[i].end)
        .collect();
    order.sort_by_key(|&i| (ranges[i].start, ranges[i].end));
    let mut fetches: Vec<Range<u64>> = Vec::new();
    let mut pieces = vec![None; ranges.len()];
    for i in order {
        let r = &ranges[i];
        match fetches.last_mut() {
            Some(cur)
                if r.start <= cur.end.saturating_add(gap) && r.end.max(cur.end) - cur.start <= max_len =>
            {
                cur.end = cur.end.max(r.end);
            }
            // An overlapping range always joins, whatever the size, so every byte is fetched once.
            Some(cur) if r.start < cur.end => cur.end = cur.end.max(r.end),
            _ => fetches.push(r.clone()),
        }
        let idx = fetches.len() - 1;
        pieces[i] = Some((idx, r.start - fetches[idx].start));
    }
    Plan { fetches, pieces }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_near_ranges_and_keeps_far_ones_apart() {
        let plan = coalesce(&[100..200, 0..10, 5000..5100, 210..220, 7..7], 64, 1 << 20);
        assert_eq!(plan.fetches, vec![0..10, 100..220, 5000..5100]);
        assert_eq!(
            plan.pieces,
            vec![Some((1, 0)), Some((0, 0)), Some((2, 0)), Some((1, 110)), None]
        );
    }

    #[test]
    fn respects_max_len_and_overlaps() {
        let plan = coalesce(&[0..60, 70..130, 100..110], 64, 100);
        assert_eq!(plan.fetches, vec![0..60, 70..130]);
        assert_eq!(plan.pieces, vec![Some((0, 0)), Some((1, 0)), Some((1, 30))]);
        let plan = coalesce(&[0..100, 50..300], 0, 100);
        assert_eq!(plan.fetches, vec![0..300]);
    }
}
