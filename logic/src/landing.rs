// SPDX-License-Identifier: GPL-2.0

//! Where the pieces of a copy land on the disks at the bottom of the
//! stack, and the rule they must keep there.
//!
//! A copy's source and destination may be different devices that reach
//! the same disk: a mapped volume and the disk below it, two volumes
//! mapping the same sectors, a partition and its disk through a volume.
//! The range checks at the top see two devices and cannot tell. Before a
//! copy writes anything, every piece of its source and of its destination
//! is routed down the stack like a copy half, and records where it lands
//! (disk, byte offset, length). The copy may run only when no destination
//! piece overlaps any source piece or any other destination piece on the
//! same disk: its device commands and fallback I/O run concurrently and in
//! no defined order, so an overlap would leave bytes that depend on timing.

/// One piece of a copy on the disk it lands on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Landing {
    /// Identity of the disk at the bottom of the stack.
    pub disk: u64,
    /// Byte offset on that disk.
    pub start: u64,
    /// Length in bytes.
    pub len: u64,
    /// A piece of the destination (else of the source).
    pub dst: bool,
}

impl Landing {
    fn end(&self) -> u64 {
        self.start.saturating_add(self.len)
    }
}

/// Sorts by (disk, offset) in place with a heap sort: no scratch space
/// and no recursion (as the kernel's lib/sort.c; core's slice sorts keep
/// a 1.5 KiB buffer of elements on the stack).
fn sort_by_place(v: &mut [Landing]) {
    let key = |l: &Landing| (l.disk, l.start);
    // Moves v[root] down the max-heap v[..end].
    let sift_down = |v: &mut [Landing], mut root: usize, end: usize| loop {
        let mut child = 2 * root + 1;
        if child >= end {
            break;
        }
        if child + 1 < end && key(&v[child]) < key(&v[child + 1]) {
            child += 1;
        }
        if key(&v[root]) >= key(&v[child]) {
            break;
        }
        v.swap(root, child);
        root = child;
    };
    let n = v.len();
    for root in (0..n / 2).rev() {
        sift_down(v, root, n);
    }
    for end in (1..n).rev() {
        v.swap(0, end);
        sift_down(v, 0, end);
    }
}

/// Two landed pieces that break the rule: a destination piece and a source
/// or destination piece overlapping it on one disk. Sorts `landings`.
pub fn first_conflict(landings: &mut [Landing]) -> Option<(Landing, Landing)> {
    sort_by_place(landings);
    // Sweep each disk in offset order, keeping the piece seen so far that
    // reaches furthest (any kind, and destination only): a piece overlaps
    // an earlier one exactly when it starts before that reach.
    let mut disk = None;
    let mut reach_any: Option<Landing> = None;
    let mut reach_dst: Option<Landing> = None;
    for &l in landings.iter() {
        if l.len == 0 {
            continue;
        }
        if disk != Some(l.disk) {
            disk = Some(l.disk);
            reach_any = None;
            reach_dst = None;
        }
        let against = if l.dst { reach_any } else { reach_dst };
        if let Some(e) = against {
            if l.start < e.end() {
                return Some((e, l));
            }
        }
        if reach_any.map_or(true, |e| l.end() > e.end()) {
            reach_any = Some(l);
        }
        if l.dst && reach_dst.map_or(true, |e| l.end() > e.end()) {
            reach_dst = Some(l);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(disk: u64, start: u64, len: u64) -> Landing {
        Landing { disk, start, len, dst: false }
    }
    fn dst(disk: u64, start: u64, len: u64) -> Landing {
        Landing { disk, start, len, dst: true }
    }

    #[test]
    fn heap_sort_orders_by_disk_then_offset() {
        // A fixed pseudo-random permutation of many pieces, duplicates too.
        let mut v = [src(0, 0, 1); 257];
        let mut x = 12345u64;
        for l in v.iter_mut() {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            *l = src((x >> 60) % 3, (x >> 20) % 1000, 1);
        }
        sort_by_place(&mut v);
        assert!(v.windows(2).all(|w| (w[0].disk, w[0].start) <= (w[1].disk, w[1].start)));
        let mut one = [dst(1, 5, 1)];
        sort_by_place(&mut one);
        sort_by_place(&mut []);
    }

    #[test]
    fn disjoint_and_adjacent_pieces_keep_the_rule() {
        let mut v = [src(1, 0, 4096), dst(1, 4096, 4096), src(1, 8192, 512), dst(1, 8704, 512)];
        assert_eq!(first_conflict(&mut v), None);
    }

    #[test]
    fn sources_may_overlap_each_other() {
        let mut v = [src(1, 0, 8192), src(1, 4096, 8192), dst(2, 0, 8192), dst(2, 8192, 8192)];
        assert_eq!(first_conflict(&mut v), None);
    }

    #[test]
    fn same_offsets_on_different_disks_do_not_conflict() {
        let mut v = [src(1, 0, 1 << 20), dst(2, 0, 1 << 20), dst(3, 0, 1 << 20)];
        assert_eq!(first_conflict(&mut v), None);
    }

    #[test]
    fn destination_over_source_both_directions() {
        // Forward and backward shifts, smaller and larger than the piece.
        for (s, d) in [(0u64, 512u64), (512, 0), (0, 4095 * 512), (4095 * 512, 0)] {
            let mut v = [src(7, s, 4096 * 512), dst(7, d, 4096 * 512)];
            let c = first_conflict(&mut v).expect("overlap found");
            assert!(c.0.dst || c.1.dst);
        }
    }

    #[test]
    fn destination_over_destination() {
        let mut v = [dst(1, 0, 8192), src(2, 0, 8192), dst(1, 4096, 8192), src(3, 0, 8192)];
        let (a, b) = first_conflict(&mut v).expect("overlap found");
        assert!(a.dst && b.dst);
    }

    #[test]
    fn overlap_hidden_behind_a_long_earlier_piece() {
        // The long source reaches past the short pieces after it.
        let mut v = [src(1, 0, 1 << 20), dst(1, 2 << 20, 512), src(1, 4096, 512), dst(1, 900 << 10, 512)];
        let (a, b) = first_conflict(&mut v).expect("overlap found");
        assert_eq!((a, b), (src(1, 0, 1 << 20), dst(1, 900 << 10, 512)));
    }

    #[test]
    fn long_destination_then_later_source() {
        let mut v = [dst(1, 0, 1 << 20), src(1, 8192, 512), src(1, 2 << 20, 512)];
        let (a, b) = first_conflict(&mut v).expect("overlap found");
        assert_eq!((a, b), (dst(1, 0, 1 << 20), src(1, 8192, 512)));
    }

    #[test]
    fn pieces_split_by_layers_count_individually() {
        // One destination split at a table line into two pieces on the
        // same disk; the second lands on a source piece.
        let mut v = [dst(1, 100 << 20, 1 << 20), dst(1, 10 << 20, 1 << 20), src(1, (10 << 20) + (512 << 10), 1 << 20)];
        assert!(first_conflict(&mut v).is_some());
    }

    #[test]
    fn empty_and_extreme_pieces() {
        assert_eq!(first_conflict(&mut []), None);
        let mut v = [dst(1, 0, 0), src(1, 0, 4096), dst(1, u64::MAX - 511, 512), src(1, u64::MAX - 1023, 512)];
        assert_eq!(first_conflict(&mut v), None);
        let mut v = [dst(1, u64::MAX - 511, 512), src(1, u64::MAX - 1023, 1024)];
        assert!(first_conflict(&mut v).is_some());
    }
}
