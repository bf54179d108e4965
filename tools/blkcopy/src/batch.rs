// SPDX-License-Identifier: GPL-2.0

//! `blkcopy batch`: many copies from a file or stdin, kept in flight on one
//! io_uring ring, each reported as it ends.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::BufRead;
use std::os::fd::{AsRawFd, RawFd};
use std::time::Instant;

use blkcopy_uapi::uring::{CopyRing, Event};
use blkcopy_uapi::{Devices, Range};
use clap::Args;

use crate::output::BatchReport;
use crate::{size, Fail, Mode};

#[derive(Args)]
pub(crate) struct BatchArgs {
    /// The copies, one per line [default: stdin; "-" too].
    file: Option<String>,
    /// Copies in flight.
    #[arg(long, value_name = "N", default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=4096))]
    queue_depth: u32,
    #[command(flatten)]
    mode: Mode,
    /// Print one JSON object per copy, as it ends.
    #[arg(long)]
    json: bool,
}

/// One line of a batch.
struct BatchCopy {
    line: usize,
    src: String,
    dst: String,
    range: Range,
}

fn parse_line(n: usize, l: &str) -> Result<Option<BatchCopy>, Fail> {
    let l = l.split('#').next().unwrap_or("").trim();
    if l.is_empty() {
        return Ok(None);
    }
    let f: Vec<&str> = l.split_whitespace().collect();
    let [src, dst, so, d_, len] = f.as_slice() else {
        return Err(Fail(format!("line {n}: want SRC DST SRC_OFF DST_OFF LEN")));
    };
    let num = |s: &str| size(s).map_err(|e| Fail(format!("line {n}: {e}")));
    Ok(Some(BatchCopy {
        line: n,
        src: src.to_string(),
        dst: dst.to_string(),
        range: Range { src_offset: num(so)?, dst_offset: num(d_)?, length: num(len)?, reserved: 0 },
    }))
}

pub(crate) fn run(a: BatchArgs) -> Result<(), Fail> {
    let reader: Box<dyn BufRead> = match a.file.as_deref() {
        None | Some("-") => Box::new(std::io::stdin().lock()),
        Some(p) => Box::new(std::io::BufReader::new(File::open(p).map_err(|e| Fail(format!("{p}: {e}")))?)),
    };
    let mut copies = Vec::new();
    for (i, l) in reader.lines().enumerate() {
        if let Some(c) = parse_line(i + 1, &l?)? {
            copies.push(c);
        }
    }
    let ctl = crate::control()?;
    // Each device opened once for reading and once for writing, as used.
    let mut files: HashMap<(String, bool), File> = HashMap::new();
    let mut fd = |path: &str, write: bool| -> Result<RawFd, Fail> {
        if let Some(f) = files.get(&(path.to_string(), write)) {
            return Ok(f.as_raw_fd());
        }
        let f = OpenOptions::new().read(!write).write(write).open(path).map_err(|e| Fail(format!("{path}: {e}")))?;
        let raw = f.as_raw_fd();
        files.insert((path.to_string(), write), f);
        Ok(raw)
    };
    // Block sizes, for naming refusals.
    let mut lbs: HashMap<String, u32> = HashMap::new();
    let flags = a.mode.flags();
    let mut ring = CopyRing::new(&ctl, a.queue_depth).map_err(|e| Fail(format!("io_uring: {e}")))?;
    let mut started: HashMap<u64, (usize, Instant)> = HashMap::new();
    let (mut next, mut failures) = (0, 0usize);
    loop {
        while next < copies.len() && ring.in_flight() < a.queue_depth as usize {
            let c = &copies[next];
            let (s, d) = (fd(&c.src, false)?, fd(&c.dst, true)?);
            for p in [&c.src, &c.dst] {
                if !lbs.contains_key(p) {
                    let g = File::open(p).ok().and_then(|f| blkcopy_uapi::geometry(&f).ok());
                    lbs.insert(p.clone(), g.map_or(0, |g| g.lbs));
                }
            }
            let id = ring.push_copy(s, d, &[c.range], flags)?;
            started.insert(id, (next, Instant::now()));
            next += 1;
        }
        if ring.in_flight() == 0 {
            break;
        }
        for ev in ring.wait(1)? {
            let Event::Copy { id, result } = ev else { continue };
            let Some((i, t)) = started.remove(&id) else { continue };
            let c = &copies[i];
            let (done, err) = match result {
                Ok(d) => (d, None),
                Err(e) => (e.done, Some((e.error, e.refused))),
            };
            failures += usize::from(err.is_some());
            let dev = Devices {
                src: &c.src,
                dst: &c.dst,
                src_block_size: lbs.get(&c.src).copied().unwrap_or(0),
                dst_block_size: lbs.get(&c.dst).copied().unwrap_or(0),
            };
            BatchReport {
                line: c.line,
                src: &c.src,
                dst: &c.dst,
                src_offset: c.range.src_offset,
                dst_offset: c.range.dst_offset,
                length: c.range.length,
                ok: err.is_none(),
                errno: err.as_ref().and_then(|(e, _)| e.raw_os_error()).unwrap_or(0),
                rule: err.as_ref().and_then(|(_, r)| r.rule()).map(|r| r.name()),
                error: err.map(|(e, r)| r.describe(&dev, &[c.range]).unwrap_or_else(|| e.to_string())),
                bytes_copied: done.copied,
                bytes_offloaded: done.offloaded,
                usec: t.elapsed().as_micros(),
            }
            .print(a.json);
        }
    }
    if failures > 0 {
        return Err(Fail(format!("{failures} of {} copies failed", copies.len())));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_parse_and_comments_are_skipped() {
        let c = parse_line(4, "/dev/a /dev/b 1M 0 4K # note").unwrap().unwrap();
        assert_eq!((c.line, c.src.as_str(), c.range.src_offset, c.range.length), (4, "/dev/a", 1 << 20, 4096));
        assert!(parse_line(5, "   # only a comment").unwrap().is_none());
        assert!(parse_line(6, "/dev/a /dev/b 1 2").is_err());
        assert_eq!(parse_line(7, "/dev/a /dev/b 1 2 x").err().unwrap().0, "line 7: bad size 'x'");
    }
}
