// SPDX-License-Identifier: GPL-2.0

//! A set of byte extents with fixed capacity: which parts of a copy's
//! logical space are done (copied, or offloaded).
//!
//! Storage is inline (`N` extents) so the kernel needs no allocation per
//! update; an insert that would need more than `N` disjoint extents fails
//! and the caller treats that part as not done (for blkcopy: it is copied
//! again by the fallback, which is always correct).

/// Set of disjoint, non-adjacent half-open extents `[start, end)`, sorted.
#[derive(Clone, Debug)]
pub struct ExtentSet<const N: usize> {
    ext: [(u64, u64); N],
    len: usize,
}

/// The set is full: the extent was not recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Full;

impl<const N: usize> Default for ExtentSet<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> ExtentSet<N> {
    /// An empty set.
    pub const fn new() -> Self {
        Self { ext: [(0, 0); N], len: 0 }
    }

    /// The extents, sorted by start.
    pub fn extents(&self) -> &[(u64, u64)] {
        &self.ext[..self.len]
    }

    /// Bytes covered.
    pub fn total(&self) -> u64 {
        self.extents().iter().map(|&(s, e)| e - s).sum()
    }

    /// Adds `[start, start + len)`, merging with overlapping or adjacent
    /// extents. An empty extent is a no-op.
    pub fn insert(&mut self, start: u64, len: u64) -> Result<(), Full> {
        let end = start.saturating_add(len);
        if end <= start {
            return Ok(());
        }
        // First extent that ends at or after `start` (could merge).
        let first = self.extents().iter().position(|&(_, e)| e >= start).unwrap_or(self.len);
        // One past the last extent that starts at or before `end`.
        let mut last = first;
        while last < self.len && self.ext[last].0 <= end {
            last += 1;
        }
        if first == last {
            if self.len == N {
                return Err(Full);
            }
            self.ext.copy_within(first..self.len, first + 1);
            self.ext[first] = (start, end);
            self.len += 1;
        } else {
            let s = self.ext[first].0.min(start);
            let e = self.ext[last - 1].1.max(end);
            self.ext[first] = (s, e);
            self.ext.copy_within(last..self.len, first + 1);
            self.len -= last - first - 1;
        }
        Ok(())
    }

    /// Length of the covered prefix: the end of the extent starting at 0.
    pub fn prefix(&self) -> u64 {
        match self.extents().first() {
            Some(&(0, e)) => e,
            _ => 0,
        }
    }

    /// Whether `[start, start + len)` is entirely covered.
    pub fn covers(&self, start: u64, len: u64) -> bool {
        let end = start.saturating_add(len);
        len == 0 || self.extents().iter().any(|&(s, e)| s <= start && end <= e)
    }

    /// The parts of `[0, total)` not covered, in order.
    pub fn gaps(&self, total: u64) -> Gaps<'_> {
        Gaps { ext: self.extents(), pos: 0, total }
    }
}

/// Iterator over uncovered extents, as `(start, len)`.
pub struct Gaps<'a> {
    ext: &'a [(u64, u64)],
    pos: u64,
    total: u64,
}

impl Iterator for Gaps<'_> {
    type Item = (u64, u64);

    fn next(&mut self) -> Option<(u64, u64)> {
        while self.pos < self.total {
            match self.ext.split_first() {
                Some((&(s, e), rest)) if s <= self.pos => {
                    self.pos = self.pos.max(e);
                    self.ext = rest;
                }
                Some((&(s, _), _)) => {
                    let end = s.min(self.total);
                    let gap = (self.pos, end - self.pos);
                    self.pos = end;
                    return Some(gap);
                }
                None => {
                    let gap = (self.pos, self.total - self.pos);
                    self.pos = self.total;
                    return Some(gap);
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_and_orders() {
        let mut s = ExtentSet::<4>::new();
        s.insert(100, 50).unwrap();
        s.insert(0, 10).unwrap();
        s.insert(10, 20).unwrap(); // adjacent: merges with [0,10)
        assert_eq!(s.extents(), &[(0, 30), (100, 150)]);
        s.insert(25, 80).unwrap(); // bridges both
        assert_eq!(s.extents(), &[(0, 150)]);
        assert_eq!(s.prefix(), 150);
        assert_eq!(s.total(), 150);
    }

    #[test]
    fn full_is_reported_and_harmless() {
        let mut s = ExtentSet::<2>::new();
        s.insert(0, 1).unwrap();
        s.insert(10, 1).unwrap();
        assert_eq!(s.insert(20, 1), Err(Full));
        assert_eq!(s.extents(), &[(0, 1), (10, 11)]);
        // Merging inserts still work when full.
        s.insert(1, 9).unwrap();
        assert_eq!(s.extents(), &[(0, 11)]);
    }

    #[test]
    fn gaps_complement() {
        let mut s = ExtentSet::<8>::new();
        s.insert(10, 10).unwrap();
        s.insert(40, 10).unwrap();
        let mut g = s.gaps(60);
        assert_eq!(g.next(), Some((0, 10)));
        assert_eq!(g.next(), Some((20, 20)));
        assert_eq!(g.next(), Some((50, 10)));
        assert_eq!(g.next(), None);
        assert_eq!(s.gaps(45).last(), Some((20, 20)));
        assert_eq!(ExtentSet::<1>::new().gaps(5).next(), Some((0, 5)));
        assert!(s.covers(12, 8) && !s.covers(12, 9) && s.covers(0, 0));
        assert_eq!(s.prefix(), 0);
    }

    #[test]
    fn random_inserts_match_a_bitmap() {
        // Deterministic pseudo-random inserts checked against a bitmap.
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..200 {
            let mut s = ExtentSet::<64>::new();
            let mut bits = [false; 256];
            for _ in 0..20 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let (a, l) = (x % 256, (x >> 16) % 40);
                if s.insert(a, l).is_ok() {
                    for b in a..(a + l).min(256) {
                        bits[b as usize] = true;
                    }
                }
            }
            for b in 0..256u64 {
                assert_eq!(s.covers(b, 1), bits[b as usize], "byte {b}");
            }
            let gap_total: u64 = s.gaps(256).map(|(_, l)| l).sum();
            assert_eq!(gap_total, bits.iter().filter(|&&b| !b).count() as u64);
        }
    }
}
