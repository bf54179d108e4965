// SPDX-License-Identifier: GPL-2.0

//! Building device commands from a write half at the bottom of the stack.
//!
//! A write-half piece has reached a disk whose provider copies; its
//! logical range pairs with the source extents its read halves recorded
//! ([`super::pairing::Sources::pair`]). The router turns the piece into
//! commands front to back: each [`next_command`] takes as many paired
//! segments as the provider's limits allow, all from one source device, or
//! the unpaired run at the piece's start (which falls back).

use super::pairing::Segment;

/// One source range of a command: `len` bytes at byte offset `pos` of the
/// command's source device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct SrcRange {
    pub pos: u64,
    pub len: u64,
}

/// A provider's limits, in bytes, as the router applies them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Most bytes one command copies (a multiple of 512, at least 512).
    pub max_bytes: u64,
    /// Most bytes one source range covers (a multiple of 512, at least 512,
    /// at most `max_bytes`).
    pub max_range: u64,
    /// Most source ranges in one command (at least 1).
    pub max_ranges: usize,
}

impl Limits {
    /// Limits from what a provider reports (any values: zeroes and
    /// unaligned sizes are made usable), bounded by the largest half
    /// (`half_max`, a multiple of 512) and the ranges the router's buffer
    /// holds (`ranges_max`, at least 1).
    pub fn new(max_bytes: u64, max_range_bytes: u64, max_src_ranges: u32, half_max: u64, ranges_max: usize) -> Self {
        let max_bytes = (max_bytes & !511).clamp(512, half_max.max(512));
        let max_range = (max_range_bytes & !511).clamp(512, max_bytes);
        let max_ranges = (max_src_ranges as usize).clamp(1, ranges_max.max(1));
        Limits { max_bytes, max_range, max_ranges }
    }
}

/// What the front of a write piece becomes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// A device command: `len` bytes from `ranges` source ranges (handed
    /// to `put` in order) on source device `src_dev`.
    Copy { len: u64, ranges: usize, src_dev: u64 },
    /// The first `len` bytes have no recorded source: they fall back.
    Unpaired { len: u64 },
    /// The segments were empty (cannot happen for a piece within its
    /// pair): nothing to do.
    Empty,
}

/// The next command from `segments` (the piece's pairing, front first,
/// at most `lim.max_bytes` of it), its source ranges handed to `put` as
/// `(index, range)`.
pub fn next_command(
    segments: impl IntoIterator<Item = Segment>,
    lim: &Limits,
    mut put: impl FnMut(usize, SrcRange),
) -> Command {
    let (mut n, mut len, mut src_dev) = (0usize, 0u64, 0u64);
    for s in segments {
        let Some((dev, spos)) = s.src else {
            if n == 0 {
                return if s.len == 0 { Command::Empty } else { Command::Unpaired { len: s.len } };
            }
            break;
        };
        if n > 0 && dev != src_dev {
            break;
        }
        src_dev = dev;
        // A source extent longer than a range may be is several ranges of
        // one command; bytes past the command's budget wait for the next.
        let mut done = 0;
        while done < s.len && n < lim.max_ranges && len + done < lim.max_bytes {
            let l = (s.len - done).min(lim.max_range).min(lim.max_bytes - len - done);
            put(n, SrcRange { pos: spos + done, len: l });
            n += 1;
            done += l;
        }
        len += done;
        if done < s.len || n == lim.max_ranges || len == lim.max_bytes {
            break;
        }
    }
    if n == 0 {
        Command::Empty
    } else {
        Command::Copy { len, ranges: n, src_dev }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    fn seg(off: u64, len: u64, src: Option<(u64, u64)>) -> Segment {
        Segment { off, len, src }
    }

    fn run(segs: &[Segment], lim: &Limits) -> (Command, Vec<SrcRange>) {
        let mut v = Vec::new();
        let c = next_command(segs.iter().copied(), lim, |i, r| {
            assert_eq!(i, v.len());
            v.push(r);
        });
        (c, v)
    }

    const BIG: Limits = Limits { max_bytes: 1 << 30, max_range: 1 << 30, max_ranges: 128 };

    #[test]
    fn limits_are_made_usable() {
        let l = Limits::new(0, 0, 0, 1 << 30, 128);
        assert_eq!(l, Limits { max_bytes: 512, max_range: 512, max_ranges: 1 });
        let l = Limits::new(u64::MAX, 1000, 1000, 1 << 30, 128);
        assert_eq!(l, Limits { max_bytes: 1 << 30, max_range: 512, max_ranges: 128 });
        let l = Limits::new(4096, 1 << 20, 4, 1 << 30, 128);
        assert_eq!(l.max_range, 4096);
    }

    #[test]
    fn contiguous_source_is_one_range() {
        let (c, r) = run(&[seg(0, 8192, Some((7, 4096)))], &BIG);
        assert_eq!(c, Command::Copy { len: 8192, ranges: 1, src_dev: 7 });
        assert_eq!(r, [SrcRange { pos: 4096, len: 8192 }]);
    }

    #[test]
    fn long_extent_is_several_ranges_within_the_budget() {
        let lim = Limits { max_bytes: 10240, max_range: 4096, max_ranges: 8 };
        let (c, r) = run(&[seg(0, 1 << 20, Some((1, 0)))], &lim);
        assert_eq!(c, Command::Copy { len: 10240, ranges: 3, src_dev: 1 });
        assert_eq!(r.iter().map(|x| x.len).collect::<Vec<_>>(), [4096, 4096, 2048]);
        assert_eq!(r[2].pos, 8192);
    }

    #[test]
    fn range_count_ends_the_command() {
        let lim = Limits { max_bytes: 1 << 30, max_range: 512, max_ranges: 2 };
        let (c, _) = run(&[seg(0, 4096, Some((1, 0)))], &lim);
        assert_eq!(c, Command::Copy { len: 1024, ranges: 2, src_dev: 1 });
    }

    #[test]
    fn another_source_device_ends_the_command() {
        let segs = [seg(0, 4096, Some((1, 0))), seg(4096, 4096, Some((1, 1 << 20))), seg(8192, 4096, Some((2, 0)))];
        let (c, r) = run(&segs, &BIG);
        assert_eq!(c, Command::Copy { len: 8192, ranges: 2, src_dev: 1 });
        assert_eq!(r[1], SrcRange { pos: 1 << 20, len: 4096 });
    }

    #[test]
    fn unpaired_front_falls_back_and_unpaired_tail_waits() {
        let segs = [seg(0, 4096, None), seg(4096, 4096, Some((1, 0)))];
        assert_eq!(run(&segs, &BIG).0, Command::Unpaired { len: 4096 });
        let segs = [seg(0, 4096, Some((1, 0))), seg(4096, 4096, None)];
        assert_eq!(run(&segs, &BIG).0, Command::Copy { len: 4096, ranges: 1, src_dev: 1 });
    }

    #[test]
    fn nothing_is_empty() {
        assert_eq!(run(&[], &BIG).0, Command::Empty);
        assert_eq!(run(&[seg(0, 0, None)], &BIG).0, Command::Empty);
    }

    #[test]
    fn commands_cover_the_piece_exactly() {
        // Pieces of many sources, several limits: the commands, taken
        // front to back as the router does, cover every byte once.
        for lim in [
            Limits { max_bytes: 4096, max_range: 512, max_ranges: 3 },
            Limits { max_bytes: 1 << 20, max_range: 8192, max_ranges: 2 },
            BIG,
        ] {
            let segs: Vec<Segment> = (0..20u64)
                .map(|i| seg(i * 6144, 6144, if i % 5 == 3 { None } else { Some((i / 7, i * 100_000)) }))
                .collect();
            let total = 20 * 6144;
            let mut pos = 0;
            while pos < total {
                let rest: Vec<Segment> = segs
                    .iter()
                    .filter(|s| s.off + s.len > pos)
                    .map(|s| {
                        let skip = pos.saturating_sub(s.off);
                        seg(s.off + skip, s.len - skip, s.src.map(|(d, p)| (d, p + skip)))
                    })
                    .collect();
                let (c, r) = run(&rest, &lim);
                let len = match c {
                    Command::Copy { len, ranges, .. } => {
                        assert!(len <= lim.max_bytes && ranges <= lim.max_ranges);
                        assert!(r.iter().all(|x| x.len <= lim.max_range && x.len > 0));
                        assert_eq!(r.iter().map(|x| x.len).sum::<u64>(), len);
                        len
                    }
                    Command::Unpaired { len } => len,
                    Command::Empty => panic!("no progress at {pos}"),
                };
                pos += len;
            }
            assert_eq!(pos, total);
        }
    }
}
