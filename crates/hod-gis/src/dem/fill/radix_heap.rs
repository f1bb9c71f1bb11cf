//! A monotone priority queue of `u32` items by `u32` key: a radix heap (Ahuja, Mehlhorn, Orlin &
//! Tarjan 1990, "Faster algorithms for the shortest path problem", Journal of the ACM 37(2),
//! 213–223). No key pushed may be below the last one popped, which holds for Priority-Flood and
//! for the minimax paths of the spill graph. Bucket 0 holds the keys equal to the last popped,
//! bucket `b` those whose highest bit that differs from it is bit `b - 1`. When bucket 0 is
//! empty, the lowest non-empty bucket's minimum becomes the last popped and its entries move to
//! lower buckets: an entry moves at most 32 times, and a DEM of whole metres has few levels, so
//! a push or pop is a few instructions instead of a binary heap's log n cache-missing steps.

/// The heap; entries pack the key and the item in a `u64`.
pub(super) struct RadixHeap {
    last: u32,
    buckets: [Vec<u64>; 33],
}

impl RadixHeap {
    pub(super) fn new() -> RadixHeap {
        RadixHeap {
            last: 0,
            buckets: std::array::from_fn(|_| Vec::new()),
        }
    }

    #[inline]
    fn bucket(&self, key: u32) -> usize {
        (32 - (key ^ self.last).leading_zeros()) as usize
    }

    /// Adds `item` with `key`, which must not be below the last key popped.
    #[inline]
    pub(super) fn push(&mut self, key: u32, item: u32) {
        debug_assert!(key >= self.last, "radix heap keys must not decrease");
        let b = self.bucket(key);
        self.buckets[b].push(u64::from(key) << 32 | u64::from(item));
    }

    /// The entry of lowest key, as `(key, item)`; once empty, the heap takes keys from 0 again.
    pub(super) fn pop(&mut self) -> Option<(u32, u32)> {
        if self.buckets[0].is_empty() {
            let Some(b) = (1..self.buckets.len()).find(|&b| !self.buckets[b].is_empty()) else {
                self.last = 0;
                return None;
            };
            let mut moving = std::mem::take(&mut self.buckets[b]);
            self.last = moving.iter().map(|e| (e >> 32) as u32).min()?;
            for &e in &moving {
                let to = self.bucket((e >> 32) as u32);
                self.buckets[to].push(e);
            }
            // Keep the allocation for the bucket's next fill.
            moving.clear();
            self.buckets[b] = moving;
        }
        self.buckets[0].pop().map(|e| ((e >> 32) as u32, e as u32))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_in_key_order_while_keys_are_pushed() {
        let mut h = RadixHeap::new();
        for (k, i) in [(7, 0), (3, 1), (3, 2), (1 << 31, 3), (u32::MAX, 4)] {
            h.push(k, i);
        }
        let mut got = vec![h.pop().unwrap()];
        h.push(5, 5);
        h.push(3, 6);
        while let Some(e) = h.pop() {
            got.push(e);
        }
        let keys: Vec<u32> = got.iter().map(|e| e.0).collect();
        assert_eq!(keys, [3, 3, 3, 5, 7, 1 << 31, u32::MAX]);
        let mut items: Vec<u32> = got.iter().map(|e| e.1).collect();
        items.sort_unstable();
        assert_eq!(items, [0, 1, 2, 3, 4, 5, 6]);
        h.push(0, 9);
        assert_eq!(h.pop(), Some((0, 9)));
    }
}
