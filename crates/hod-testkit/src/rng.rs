//! A small deterministic generator (no dependency needed for a few dozen draws).

/// Knuth's MMIX linear congruential generator; the state is the seed. Some tests mirror it in
/// Python to draw the same values, so its output must not change.
pub struct Lcg(pub u64);

impl Lcg {
    /// The next draw in `0..n`.
    pub fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}
