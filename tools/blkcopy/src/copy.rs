// SPDX-License-Identifier: GPL-2.0

//! `blkcopy copy`: one BLKCOPY call (a vector of ranges), the range in
//! steps when progress is shown, or pieces kept in flight through io_uring
//! (`--queue-depth`).

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::time::Instant;

use blkcopy_uapi::uring::{CopyRing, Event};
use blkcopy_uapi::{Control, CopyError, Devices, Range, Refusal, MAX_RANGES};
use clap::Args;

use crate::output::{progress, CopyReport};
use crate::{size, Fail, Mode};

/// Bytes per BLKCOPY call when one range is copied with progress shown:
/// small enough for a lively display, large enough to keep device commands
/// big.
const PROGRESS_STEP: u64 = 256 << 20;

#[derive(Args)]
pub(crate) struct CopyArgs {
    /// Source block device (opened for reading).
    src: String,
    /// Destination block device (opened for writing).
    dst: String,
    /// Byte offset in SRC.
    #[arg(long, value_parser = size, default_value = "0", conflicts_with = "range")]
    src_offset: u64,
    /// Byte offset in DST.
    #[arg(long, value_parser = size, default_value = "0", conflicts_with = "range")]
    dst_offset: u64,
    /// Bytes to copy [default: to the end of SRC].
    #[arg(long, value_parser = size, conflicts_with = "range")]
    length: Option<u64>,
    /// A range SRC_OFF:DST_OFF:LEN; repeat for a vectored copy (at most 256).
    #[arg(long, value_parser = parse_range, value_name = "SRC_OFF:DST_OFF:LEN")]
    range: Vec<Range>,
    #[command(flatten)]
    mode: Mode,
    /// Copy asynchronously through io_uring, N pieces in flight.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=4096))]
    queue_depth: Option<u32>,
    /// Piece size with --queue-depth.
    #[arg(long, value_parser = size, default_value = "64M", requires = "queue_depth")]
    piece: u64,
    /// Show progress (default: when stderr is a terminal).
    #[arg(long, overrides_with = "no_progress")]
    progress: bool,
    /// Do not show progress.
    #[arg(long)]
    no_progress: bool,
    /// Print the result as one JSON object.
    #[arg(long)]
    json: bool,
}

fn parse_range(v: &str) -> Result<Range, String> {
    let p: Vec<&str> = v.split(':').collect();
    let [s, d, l] = p.as_slice() else {
        return Err(format!("bad range '{v}': want SRC_OFF:DST_OFF:LEN"));
    };
    Ok(Range { src_offset: size(s)?, dst_offset: size(d)?, length: size(l)?, reserved: 0 })
}

/// A refused or failed copy in words: the rule that refused it (and what
/// was copied, if anything was), or the errno and what was copied.
pub(crate) fn failure(refused: &Refusal, error: &std::io::Error, dev: &Devices<'_>, ranges: &[Range], copied: u64, offloaded: u64) -> String {
    match refused.describe(dev, ranges) {
        Some(m) if copied == 0 => m,
        Some(m) => format!("{m} (copied {copied} bytes, {offloaded} offloaded)"),
        None => format!("copy failed: {error} (copied {copied} bytes, {offloaded} offloaded)"),
    }
}

pub(crate) fn run(a: CopyArgs) -> Result<(), Fail> {
    let src = File::open(&a.src).map_err(|e| Fail(format!("{}: {e}", a.src)))?;
    let dst = OpenOptions::new().write(true).open(&a.dst).map_err(|e| Fail(format!("{}: {e}", a.dst)))?;
    // Not for what is no block device: the kernel refuses those.
    let (sg, dg) = (blkcopy_uapi::geometry(&src).ok(), blkcopy_uapi::geometry(&dst).ok());
    let dev = Devices {
        src: &a.src,
        dst: &a.dst,
        src_block_size: sg.map_or(0, |g| g.lbs),
        dst_block_size: dg.map_or(0, |g| g.lbs),
    };
    let mut ranges = a.range.clone();
    if ranges.is_empty() {
        let len = match (a.length, sg) {
            (Some(l), _) => l,
            (None, Some(g)) => g.size.saturating_sub(a.src_offset),
            (None, None) => return Err(Fail(format!("{}: not a block device (give --length)", a.src))),
        };
        ranges.push(Range { src_offset: a.src_offset, dst_offset: a.dst_offset, length: len, reserved: 0 });
    }
    if ranges.len() > MAX_RANGES {
        return Err(Fail(format!("a copy takes 1 to {MAX_RANGES} ranges")));
    }
    let ctl = crate::control()?;
    let total: u64 = ranges.iter().map(|r| r.length).sum();
    let show = if a.no_progress {
        Some(false)
    } else if a.progress {
        Some(true)
    } else {
        None
    };
    let bar = progress(total, show);
    // Progress in steps only between devices that are not stacked: steps
    // of a copy between a volume and a disk it maps could overlap each
    // other where one call of the whole copy would be refused.
    let stepped = ranges.len() == 1 && !bar.is_hidden() && !blkcopy_uapi::is_stacked(&src) && !blkcopy_uapi::is_stacked(&dst);
    // A copy made of several calls (progress steps, pieces in flight) is
    // checked whole first, as one call would be: a bad range copies
    // nothing.
    let split = a.queue_depth.is_some() || stepped;
    if let (true, Some(sg), Some(dg)) = (split, sg, dg) {
        if let Err(r) = blkcopy_uapi::check_ranges(&ranges, &sg, &dg) {
            bar.finish_and_clear();
            let m = r.describe(&dev, &ranges).unwrap_or_default();
            return Err(Fail(m));
        }
    }
    let start = Instant::now();
    let copier = Copier { ctl: &ctl, src: &src, dst: &dst, dev, flags: a.mode.flags(), bar: &bar };
    let res = match a.queue_depth {
        Some(qd) => {
            if a.piece == 0 {
                return Err(Fail("--piece must not be 0".into()));
            }
            copier.in_flight(&split_pieces(&ranges, a.piece), qd)
        }
        None => copier.sync(&ranges, stepped),
    };
    bar.finish_and_clear();
    let (copied, offloaded) = res?;
    CopyReport {
        src: &a.src,
        dst: &a.dst,
        ranges: ranges.len(),
        bytes_copied: copied,
        bytes_offloaded: offloaded,
        seconds: start.elapsed().as_secs_f64(),
    }
    .print(a.json);
    Ok(())
}

/// What the calls of one copy share: the control node, the devices (and
/// their names and block sizes, for refusals), the flags, the progress bar.
struct Copier<'a> {
    ctl: &'a Control,
    src: &'a File,
    dst: &'a File,
    dev: Devices<'a>,
    flags: u32,
    bar: &'a indicatif::ProgressBar,
}

impl Copier<'_> {
    /// One BLKCOPY call for the ranges; one range is copied in steps when
    /// `stepped` (progress is shown).
    fn sync(&self, ranges: &[Range], stepped: bool) -> Result<(u64, u64), Fail> {
        let steps: Vec<Vec<Range>> = if ranges.len() == 1 && stepped {
            split_pieces(ranges, PROGRESS_STEP).into_iter().map(|r| vec![r]).collect()
        } else {
            vec![ranges.to_vec()]
        };
        let (mut copied, mut offloaded) = (0u64, 0u64);
        for step in &steps {
            match self.ctl.copy(self.src.as_raw_fd(), self.dst.as_raw_fd(), step, self.flags) {
                Ok(c) => {
                    copied += c.copied;
                    offloaded += c.offloaded;
                    self.bar.set_position(copied);
                }
                Err(e) => {
                    // A step's range 0 is the copy's range: name that.
                    let named = if steps.len() > 1 { ranges } else { step.as_slice() };
                    return Err(Fail(failure(&e.refused, &e.error, &self.dev, named, copied + e.done.copied, offloaded + e.done.offloaded)));
                }
            }
        }
        Ok((copied, offloaded))
    }

    /// Copies `pieces` through io_uring with `qd` of them in flight; after a
    /// failure no new piece starts, and those in flight end first.
    fn in_flight(&self, pieces: &[Range], qd: u32) -> Result<(u64, u64), Fail> {
        let mut ring = CopyRing::new(self.ctl, qd).map_err(|e| Fail(format!("io_uring: {e}")))?;
        let (mut copied, mut offloaded) = (0u64, 0u64);
        let mut next = 0;
        let mut failed: Option<String> = None;
        loop {
            while failed.is_none() && next < pieces.len() && ring.in_flight() < qd as usize {
                ring.push_copy(self.src.as_raw_fd(), self.dst.as_raw_fd(), &pieces[next..next + 1], self.flags)?;
                next += 1;
            }
            if ring.in_flight() == 0 {
                break;
            }
            for ev in ring.wait(1)? {
                let Event::Copy { id, result } = ev else { continue };
                match result {
                    Ok(c) => {
                        copied += c.copied;
                        offloaded += c.offloaded;
                    }
                    Err(CopyError { error, done, refused }) => {
                        copied += done.copied;
                        offloaded += done.offloaded;
                        let r = pieces[id as usize];
                        let why = refused.describe(&self.dev, &[r]).unwrap_or_else(|| error.to_string());
                        failed.get_or_insert(format!("{why} (piece at source offset {}, {} bytes)", r.src_offset, r.length));
                    }
                }
            }
            self.bar.set_position(copied);
        }
        match failed {
            Some(e) => Err(Fail(format!("copy failed: {e} (copied {copied} bytes, {offloaded} offloaded)"))),
            None => Ok((copied, offloaded)),
        }
    }
}

/// The ranges in pieces of at most `piece` bytes, in order (an empty range
/// stays, for the kernel to refuse).
pub(crate) fn split_pieces(ranges: &[Range], piece: u64) -> Vec<Range> {
    let mut out = Vec::new();
    for r in ranges {
        let mut done = 0;
        while done < r.length {
            let l = (r.length - done).min(piece);
            out.push(Range { src_offset: r.src_offset + done, dst_offset: r.dst_offset + done, length: l, reserved: 0 });
            done += l;
        }
        if r.length == 0 {
            out.push(*r);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_with_suffixes() {
        assert_eq!(parse_range("1M:2G:4K").unwrap(), Range { src_offset: 1 << 20, dst_offset: 2 << 30, length: 4096, reserved: 0 });
        assert!(parse_range("1:2").is_err());
        assert!(parse_range("1:x:3").is_err());
    }

    #[test]
    fn pieces_cover_the_ranges_in_order() {
        let r = [Range { src_offset: 0, dst_offset: 100, length: 10, reserved: 0 }];
        let p = split_pieces(&r, 4);
        assert_eq!(p.iter().map(|x| (x.src_offset, x.dst_offset, x.length)).collect::<Vec<_>>(), [(0, 100, 4), (4, 104, 4), (8, 108, 2)]);
    }
}
