// SPDX-License-Identifier: GPL-2.0

//! Splitting a copy range into pieces a device or the fallback can handle.

use super::range::CopyRange;

/// Iterator over the pieces of `range`, each at most `max` bytes, where
/// `max` is rounded down to a multiple of `align` (and is at least `align`).
/// Every piece starts where the previous one ended, on both devices.
#[derive(Clone, Debug)]
pub struct Pieces {
    rest: CopyRange,
    max: u64,
}

/// Splits `range` into pieces of at most `max` bytes, multiples of `align`
/// (a power of two). `range` is assumed valid (see [`crate::range`]): a
/// length that is not a multiple of `align` ends with a shorter piece.
pub fn pieces(range: CopyRange, max: u64, align: u64) -> Pieces {
    let align = align.max(1);
    let max = (max - max % align).max(align);
    Pieces { rest: range, max }
}

impl Iterator for Pieces {
    type Item = CopyRange;

    fn next(&mut self) -> Option<CopyRange> {
        if self.rest.len == 0 {
            return None;
        }
        let len = self.rest.len.min(self.max);
        let piece = CopyRange { src: self.rest.src, dst: self.rest.dst, len };
        self.rest = CopyRange {
            src: self.rest.src.saturating_add(len),
            dst: self.rest.dst.saturating_add(len),
            len: self.rest.len - len,
        };
        Some(piece)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.rest.len.div_ceil(self.max);
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        (n, Some(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_and_remainder() {
        let r = CopyRange { src: 0, dst: 1 << 20, len: 10 << 20 };
        let v: [CopyRange; 3] = {
            let mut it = pieces(r, 4 << 20, 512);
            [it.next().unwrap(), it.next().unwrap(), it.next().unwrap()]
        };
        assert_eq!(v[0], CopyRange { src: 0, dst: 1 << 20, len: 4 << 20 });
        assert_eq!(v[1], CopyRange { src: 4 << 20, dst: 5 << 20, len: 4 << 20 });
        assert_eq!(v[2], CopyRange { src: 8 << 20, dst: 9 << 20, len: 2 << 20 });
        assert_eq!(pieces(r, 4 << 20, 512).count(), 3);
        assert_eq!(pieces(r, 4 << 20, 512).size_hint(), (3, Some(3)));
    }

    #[test]
    fn max_is_rounded_to_alignment() {
        let r = CopyRange { src: 0, dst: 0, len: 16384 };
        assert!(pieces(r, 5000, 4096).all(|p| p.len == 4096));
        // A limit below the alignment still makes progress.
        assert_eq!(pieces(r, 100, 4096).count(), 4);
    }

    #[test]
    fn covers_the_range_exactly() {
        for &(len, max) in &[(512u64, 512u64), (1 << 20, 3 << 9), (7 << 9, 1 << 20), (u64::MAX - 511, 1 << 40)] {
            let r = CopyRange { src: 1024, dst: 0, len };
            let (mut total, mut next_src) = (0u64, 1024u64);
            for p in pieces(r, max, 512) {
                assert_eq!(p.src, next_src);
                assert!(p.len <= max.max(512) && p.len > 0);
                total += p.len;
                next_src = next_src.saturating_add(p.len);
                if total > (1 << 50) { break; }
            }
            assert!(total == len || len > (1 << 50));
        }
    }
}
