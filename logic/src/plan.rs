// SPDX-License-Identifier: GPL-2.0

//! Planning a copy job: its segments and pairs.
//!
//! A job copies a caller's ranges in *segments* (a range, in pieces of at
//! most the largest copy half) that follow each other in the job's logical
//! space (the ranges concatenated). Consecutive segments whose destinations
//! follow each other form one *pair* (one write half over the destination
//! run, one read half per segment recording its source in the pair's
//! token), up to the largest half and the extents one token records.

use super::range::CopyRange;
use super::split;

/// A segment: `len` bytes from `src` to `dst`, at `lstart` in the job's
/// logical space, in pair `pair`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seg {
    pub src: u64,
    pub dst: u64,
    pub len: u64,
    pub lstart: u64,
    pub pair: u32,
}

/// A pair: the destination run `[dst, dst + len)`, starting at `lstart` in
/// the job's logical space.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pair {
    pub dst: u64,
    pub len: u64,
    pub lstart: u64,
}

/// What the next segment does to the pairs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// It starts a new pair (its index is `Seg::pair`).
    NewPair(Pair, Seg),
    /// It extends the last pair by `Seg::len` bytes.
    Extend(Seg),
}

/// The plan of a job over `ranges`, one [`Step`] per segment: halves of at
/// most `half_max` bytes (split at multiples of 512), pairs of at most
/// `per_token` segments.
pub fn plan(ranges: &[CopyRange], half_max: u64, per_token: usize) -> Plan<'_> {
    Plan { ranges, next_range: 0, pieces: None, half_max, per_token, last: None, members: 0, pairs: 0, lstart: 0 }
}

/// Iterator over the [`Step`]s of a plan (see [`plan`]).
pub struct Plan<'a> {
    ranges: &'a [CopyRange],
    next_range: usize,
    pieces: Option<split::Pieces>,
    half_max: u64,
    per_token: usize,
    /// The last pair, and how many segments it has.
    last: Option<Pair>,
    members: usize,
    pairs: u32,
    lstart: u64,
}

impl Plan<'_> {
    /// Bytes planned so far (all of them once the iterator is done).
    pub fn total(&self) -> u64 {
        self.lstart
    }

    fn next_piece(&mut self) -> Option<CopyRange> {
        loop {
            if let Some(p) = self.pieces.as_mut().and_then(Iterator::next) {
                return Some(p);
            }
            let r = *self.ranges.get(self.next_range)?;
            self.next_range += 1;
            self.pieces = Some(split::pieces(r, self.half_max, 512));
        }
    }
}

impl Iterator for Plan<'_> {
    type Item = Step;

    fn next(&mut self) -> Option<Step> {
        let p = self.next_piece()?;
        let lstart = self.lstart;
        self.lstart = self.lstart.saturating_add(p.len);
        let joins = match &self.last {
            Some(q) => {
                q.dst.checked_add(q.len) == Some(p.dst)
                    && q.len.saturating_add(p.len) <= self.half_max
                    && self.members < self.per_token
            }
            None => false,
        };
        if joins {
            if let Some(q) = self.last.as_mut() {
                q.len += p.len;
            }
            self.members += 1;
            let pair = self.pairs - 1;
            return Some(Step::Extend(Seg { src: p.src, dst: p.dst, len: p.len, lstart, pair }));
        }
        let q = Pair { dst: p.dst, len: p.len, lstart };
        self.last = Some(q);
        self.members = 1;
        let pair = self.pairs;
        self.pairs = self.pairs.saturating_add(1);
        Some(Step::NewPair(q, Seg { src: p.src, dst: p.dst, len: p.len, lstart, pair }))
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    fn r(src: u64, dst: u64, len: u64) -> CopyRange {
        CopyRange { src, dst, len }
    }

    /// Runs a plan into (segments, pairs), as a job keeps them.
    fn run(ranges: &[CopyRange], half_max: u64, per_token: usize) -> (Vec<Seg>, Vec<Pair>, u64) {
        let (mut segs, mut pairs) = (Vec::new(), Vec::<Pair>::new());
        let mut p = plan(ranges, half_max, per_token);
        for step in p.by_ref() {
            match step {
                Step::NewPair(q, s) => {
                    assert_eq!(s.pair as usize, pairs.len());
                    pairs.push(q);
                    segs.push(s);
                }
                Step::Extend(s) => {
                    assert_eq!(s.pair as usize, pairs.len() - 1);
                    pairs.last_mut().unwrap().len += s.len;
                    segs.push(s);
                }
            }
        }
        let total = p.total();
        (segs, pairs, total)
    }

    /// What every plan must be: segments cover the ranges in order and
    /// contiguously in logical space; each pair is the contiguous
    /// destination run of its segments, within the limits.
    fn check(ranges: &[CopyRange], half_max: u64, per_token: usize) {
        let (segs, pairs, total) = run(ranges, half_max, per_token);
        assert_eq!(total, ranges.iter().map(|r| r.len).sum::<u64>());
        let mut l = 0;
        for s in &segs {
            assert_eq!(s.lstart, l);
            assert!(s.len > 0 && s.len <= half_max);
            l += s.len;
        }
        for (i, q) in pairs.iter().enumerate() {
            let members: Vec<&Seg> = segs.iter().filter(|s| s.pair as usize == i).collect();
            assert!(!members.is_empty() && members.len() <= per_token);
            assert!(q.len <= half_max);
            assert_eq!(q.lstart, members[0].lstart);
            let mut d = q.dst;
            for s in members {
                assert_eq!(s.dst, d);
                d += s.len;
            }
            assert_eq!(d, q.dst + q.len);
        }
    }

    #[test]
    fn one_range_in_halves() {
        let (segs, pairs, _) = run(&[r(0, 1 << 30, 5 << 29)], 1 << 30, 16);
        assert_eq!(segs.len(), 3);
        assert_eq!(pairs, [Pair { dst: 1 << 30, len: 1 << 30, lstart: 0 }, Pair { dst: 2 << 30, len: 1 << 30, lstart: 1 << 30 }, Pair { dst: 3 << 30, len: 1 << 29, lstart: 2 << 30 }]);
        check(&[r(0, 1 << 30, 5 << 29)], 1 << 30, 16);
    }

    #[test]
    fn gather_into_one_destination_is_one_pair() {
        let v = [r(0, 100 << 20, 1 << 20), r(50 << 20, 101 << 20, 1 << 20), r(9 << 20, 102 << 20, 2 << 20)];
        let (segs, pairs, _) = run(&v, 1 << 30, 16);
        assert_eq!(pairs, [Pair { dst: 100 << 20, len: 4 << 20, lstart: 0 }]);
        assert!(segs.iter().all(|s| s.pair == 0));
        check(&v, 1 << 30, 16);
    }

    #[test]
    fn scattered_destinations_are_separate_pairs() {
        let v = [r(0, 100 << 20, 1 << 20), r(0, 300 << 20, 1 << 20), r(0, 301 << 20, 1 << 20)];
        let (_, pairs, _) = run(&v, 1 << 30, 16);
        assert_eq!(pairs.len(), 2);
        check(&v, 1 << 30, 16);
    }

    #[test]
    fn token_and_half_limits_start_new_pairs() {
        let v: Vec<CopyRange> = (0..40).map(|i| r(i * 8192, (1 << 20) + i * 4096, 4096)).collect();
        let (_, pairs, _) = run(&v, 1 << 30, 16);
        assert_eq!(pairs.len(), 3);
        check(&v, 1 << 30, 16);
        // A run longer than a half is cut at the half.
        check(&[r(0, 0, 3 << 20), r(10 << 20, 3 << 20, 3 << 20)], 4 << 20, 16);
        let (_, pairs, _) = run(&[r(0, 0, 3 << 20), r(10 << 20, 3 << 20, 3 << 20)], 4 << 20, 16);
        assert_eq!(pairs.len(), 2);
    }

    #[test]
    fn empty_and_extreme() {
        assert_eq!(plan(&[], 1 << 30, 16).count(), 0);
        check(&[r(u64::MAX - (1 << 20) + 1, 0, 1 << 20)], 1 << 30, 1);
        check(&[r(0, u64::MAX - 8191, 4096), r(0, 0, 4096)], 1 << 30, 16);
    }
}
