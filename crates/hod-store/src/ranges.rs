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

    proptest::proptest! {
        /// Every input range lies inside its fetch at the recorded offset; fetches are sorted,
        /// disjoint, needed by some input range, and merged whenever the rules allow.
        #[test]
        fn plan_covers_every_range(
            raw in proptest::collection::vec((0u64..20_000, 0u64..3_000), 0..40),
            gap in 0u64..2_000,
            max_len in 1u64..10_000,
        ) {
            let ranges: Vec<Range<u64>> = raw.iter().map(|&(s, l)| s..s + l).collect();
            let plan = coalesce(&ranges, gap, max_len);
            for (r, piece) in ranges.iter().zip(&plan.pieces) {
                match piece {
                    None => proptest::prop_assert!(r.is_empty()),
                    Some((i, off)) => {
                        let f = &plan.fetches[*i];
                        proptest::prop_assert_eq!(f.start + off, r.start);
                        proptest::prop_assert!(r.end <= f.end);
                    }
                }
            }
            for w in plan.fetches.windows(2) {
                proptest::prop_assert!(w[0].end <= w[1].start);
                // Near neighbours stay apart only when merging them would exceed `max_len`.
                if w[1].start <= w[0].end + gap {
                    proptest::prop_assert!(w[1].end - w[0].start > max_len);
                }
            }
            for (i, f) in plan.fetches.iter().enumerate() {
                let used = plan.pieces.iter().flatten().any(|(j, _)| *j == i);
                proptest::prop_assert!(used && !f.is_empty());
            }
        }
    }
}
