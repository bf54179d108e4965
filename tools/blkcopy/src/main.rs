// SPDX-License-Identifier: GPL-2.0

//! `blkcopy`: copy between block devices through /dev/blkcopy.
//!
//! ```text
//! blkcopy copy SRC DST [--src-offset N] [--dst-offset N] [--length N]
//!                      [--range SRC_OFF:DST_OFF:LEN]... [--offload-only | --no-offload]
//!                      [--queue-depth N [--piece SIZE]] [--progress] [--json]
//! blkcopy batch [FILE] [--queue-depth N] [--offload-only | --no-offload] [--json]
//! blkcopy info DEV [DEV2] [--json]
//! blkcopy stats [DEV] [--json]
//! ```
//!
//! Sizes take K, M, G, T suffixes (powers of 1024). Exit status 0 on
//! success; on failure 1 and one line `blkcopy: <reason>` on stderr.
//!
//! `--queue-depth` copies asynchronously through io_uring: the ranges in
//! pieces, N in flight. `batch` takes copies one per line (`SRC DST
//! SRC_OFF DST_OFF LEN`; `#` comments) from FILE or stdin, keeps N in
//! flight, and reports each as it ends.

use std::fs::{File, OpenOptions};
use std::io::{IsTerminal, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::MetadataExt;
use std::process::ExitCode;
use std::time::Instant;

use std::collections::HashMap;
use std::io::BufRead;

use blkcopy_uapi::uring::{CopyRing, Event};
use blkcopy_uapi::{Control, Copied, CopyError, Range, FLAG_NO_OFFLOAD, FLAG_OFFLOAD_ONLY, MAX_RANGES};

/// Bytes per BLKCOPY call when a single range is copied with progress
/// shown: small enough for a lively display, large enough to keep device
/// commands big.
const PROGRESS_STEP: u64 = 256 << 20;

/// Piece size of an asynchronous copy (`--piece`).
const DEFAULT_PIECE: u64 = 64 << 20;

const USAGE: &str = "usage:
  blkcopy copy SRC DST [--src-offset N] [--dst-offset N] [--length N]
                       [--range SRC_OFF:DST_OFF:LEN]... [--offload-only | --no-offload]
                       [--queue-depth N [--piece SIZE]] [--progress] [--json]
  blkcopy batch [FILE] [--queue-depth N] [--offload-only | --no-offload] [--json]
  blkcopy info DEV [DEV2] [--json]
  blkcopy stats [DEV] [--json]";

struct Fail(String);

impl<E: std::fmt::Display> From<E> for Fail {
    fn from(e: E) -> Self {
        Fail(e.to_string())
    }
}

fn parse_size(s: &str) -> Result<u64, Fail> {
    blkcopy_uapi::parse_size(s).map_err(Fail)
}

fn dev_size(f: &File) -> Result<u64, Fail> {
    let mut size = 0u64;
    // BLKGETSIZE64 = _IOR(0x12, 114, size_t)
    const BLKGETSIZE64: u64 = (2u64 << 30) | (8 << 16) | (0x12 << 8) | 114;
    // SAFETY: BLKGETSIZE64 writes one u64 to the pointer.
    if unsafe { libc::ioctl(f.as_raw_fd(), BLKGETSIZE64 as _, &mut size as *mut u64) } < 0 {
        return Err(Fail(format!("cannot get size: {}", std::io::Error::last_os_error())));
    }
    Ok(size)
}

fn json_str(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

fn human(bytes: f64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < units.len() {
        v /= 1024.0;
        i += 1;
    }
    format!("{v:.1} {}", units[i])
}

fn cmd_copy(args: &[String]) -> Result<(), Fail> {
    let mut pos = Vec::new();
    let (mut src_off, mut dst_off, mut length) = (0u64, 0u64, None);
    let mut ranges: Vec<Range> = Vec::new();
    let (mut flags, mut json, mut progress) = (0u32, false, std::io::stderr().is_terminal());
    let (mut qd, mut piece) = (None, DEFAULT_PIECE);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = || it.next().ok_or_else(|| Fail(format!("{a} needs a value")));
        match a.as_str() {
            "--queue-depth" => qd = Some(parse_qd(val()?)?),
            "--piece" => piece = parse_size(val()?)?,
            "--src-offset" => src_off = parse_size(val()?)?,
            "--dst-offset" => dst_off = parse_size(val()?)?,
            "--length" => length = Some(parse_size(val()?)?),
            "--range" => {
                let v = val()?;
                let p: Vec<&str> = v.split(':').collect();
                if p.len() != 3 {
                    return Err(Fail(format!("bad range '{v}': want SRC_OFF:DST_OFF:LEN")));
                }
                ranges.push(Range {
                    src_offset: parse_size(p[0])?,
                    dst_offset: parse_size(p[1])?,
                    length: parse_size(p[2])?,
                    reserved: 0,
                });
            }
            "--offload-only" => flags |= FLAG_OFFLOAD_ONLY,
            "--no-offload" => flags |= FLAG_NO_OFFLOAD,
            "--json" => json = true,
            "--progress" => progress = true,
            "--no-progress" => progress = false,
            s if s.starts_with('-') => return Err(Fail(format!("unknown option {s}"))),
            _ => pos.push(a.clone()),
        }
    }
    let [src_path, dst_path] = pos.as_slice() else {
        return Err(Fail("copy needs SRC and DST".into()));
    };
    let src = File::open(src_path).map_err(|e| Fail(format!("{src_path}: {e}")))?;
    let dst = OpenOptions::new().write(true).open(dst_path).map_err(|e| Fail(format!("{dst_path}: {e}")))?;
    if ranges.is_empty() {
        let len = match length {
            Some(l) => l,
            None => dev_size(&src)?.saturating_sub(src_off),
        };
        ranges.push(Range { src_offset: src_off, dst_offset: dst_off, length: len, reserved: 0 });
    } else if length.is_some() || src_off != 0 || dst_off != 0 {
        return Err(Fail("--range does not combine with --src-offset/--dst-offset/--length".into()));
    }
    if ranges.len() > MAX_RANGES {
        return Err(Fail(format!("at most {MAX_RANGES} ranges")));
    }
    let ctl = Control::open().map_err(|e| Fail(format!("/dev/blkcopy: {e} (is the blkcopy module loaded?)")))?;
    let total: u64 = ranges.iter().map(|r| r.length).sum();
    let start = Instant::now();
    if let Some(qd) = qd {
        if piece == 0 {
            return Err(Fail("--piece must not be 0".into()));
        }
        let pieces = split_pieces(&ranges, piece);
        let (copied, offloaded) = copy_async(&ctl, &src, &dst, &pieces, flags, qd, total, progress)?;
        report(json, src_path, dst_path, ranges.len(), copied, offloaded, start.elapsed().as_secs_f64());
        return Ok(());
    }
    // One range copied in steps, so that progress can be shown; a vector
    // in one call.
    let steps: Vec<Vec<Range>> = if ranges.len() == 1 && progress {
        let r = ranges[0];
        let mut v = Vec::new();
        let mut done = 0;
        while done < r.length {
            let l = (r.length - done).min(PROGRESS_STEP);
            v.push(vec![Range { src_offset: r.src_offset + done, dst_offset: r.dst_offset + done, length: l, reserved: 0 }]);
            done += l;
        }
        v
    } else {
        vec![ranges.clone()]
    };
    let (mut copied, mut offloaded) = (0u64, 0u64);
    for step in &steps {
        match ctl.copy(src.as_raw_fd(), dst.as_raw_fd(), step, flags) {
            Ok(c) => {
                copied += c.copied;
                offloaded += c.offloaded;
            }
            Err(e) => {
                if progress {
                    eprintln!();
                }
                return Err(Fail(format!(
                    "copy failed: {} (copied {} bytes, {} offloaded)",
                    e.error,
                    copied + e.done.copied,
                    offloaded + e.done.offloaded
                )));
            }
        }
        if progress {
            show_progress(copied, total, start);
        }
    }
    if progress {
        eprintln!();
    }
    report(json, src_path, dst_path, ranges.len(), copied, offloaded, start.elapsed().as_secs_f64());
    Ok(())
}

fn report(json: bool, src_path: &str, dst_path: &str, nr_ranges: usize, copied: u64, offloaded: u64, secs: f64) {
    if json {
        println!(
            "{{\"src\":{},\"dst\":{},\"ranges\":{},\"bytes_copied\":{},\"bytes_offloaded\":{},\"seconds\":{:.6}}}",
            json_str(src_path),
            json_str(dst_path),
            nr_ranges,
            copied,
            offloaded,
            secs
        );
    } else {
        println!(
            "copied {} bytes ({}) from {} to {} in {:.3} s, {} offloaded, {} through the host",
            copied,
            human(copied as f64),
            src_path,
            dst_path,
            secs,
            offloaded,
            copied - offloaded
        );
    }
}

fn parse_qd(s: &str) -> Result<u32, Fail> {
    match s.parse::<u32>() {
        Ok(n) if (1..=4096).contains(&n) => Ok(n),
        _ => Err(Fail(format!("bad queue depth '{s}': want 1 to 4096"))),
    }
}

/// The ranges in pieces of at most `piece` bytes, in order.
fn split_pieces(ranges: &[Range], piece: u64) -> Vec<Range> {
    let mut out = Vec::new();
    for r in ranges {
        let mut done = 0;
        while done < r.length {
            let l = (r.length - done).min(piece);
            out.push(Range { src_offset: r.src_offset + done, dst_offset: r.dst_offset + done, length: l, reserved: 0 });
            done += l;
        }
        if r.length == 0 {
            // The kernel refuses it, with the errno BLKCOPY would give.
            out.push(*r);
        }
    }
    out
}

fn show_progress(copied: u64, total: u64, start: Instant) {
    let secs = start.elapsed().as_secs_f64().max(1e-9);
    eprint!(
        "\r{:5.1}%  {} of {}  {}/s   ",
        100.0 * copied as f64 / total.max(1) as f64,
        human(copied as f64),
        human(total as f64),
        human(copied as f64 / secs)
    );
    let _ = std::io::stderr().flush();
}

/// Copies `pieces` through io_uring with `qd` of them in flight; after a
/// failure no new piece starts, and those in flight end first.
#[allow(clippy::too_many_arguments)]
fn copy_async(
    ctl: &Control,
    src: &File,
    dst: &File,
    pieces: &[Range],
    flags: u32,
    qd: u32,
    total: u64,
    progress: bool,
) -> Result<(u64, u64), Fail> {
    let start = Instant::now();
    let mut ring = CopyRing::new(ctl, qd).map_err(|e| Fail(format!("io_uring: {e}")))?;
    let (mut copied, mut offloaded) = (0u64, 0u64);
    let mut next = 0;
    let mut failed: Option<String> = None;
    loop {
        while failed.is_none() && next < pieces.len() && ring.in_flight() < qd as usize {
            ring.push_copy(src.as_raw_fd(), dst.as_raw_fd(), &pieces[next..next + 1], flags)?;
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
                Err(CopyError { error, done }) => {
                    copied += done.copied;
                    offloaded += done.offloaded;
                    let r = pieces[id as usize];
                    failed.get_or_insert(format!(
                        "{error} (piece at source offset {}, {} bytes)",
                        r.src_offset, r.length
                    ));
                }
            }
        }
        if progress {
            show_progress(copied, total, start);
        }
    }
    if progress {
        eprintln!();
    }
    match failed {
        Some(e) => Err(Fail(format!("copy failed: {e} (copied {copied} bytes, {offloaded} offloaded)"))),
        None => Ok((copied, offloaded)),
    }
}

/// One line of a batch.
struct BatchCopy {
    line: usize,
    src: String,
    dst: String,
    range: Range,
}

fn parse_batch_line(n: usize, l: &str) -> Result<Option<BatchCopy>, Fail> {
    let l = l.split('#').next().unwrap_or("").trim();
    if l.is_empty() {
        return Ok(None);
    }
    let f: Vec<&str> = l.split_whitespace().collect();
    let [src, dst, so, d_, len] = f.as_slice() else {
        return Err(Fail(format!("line {n}: want SRC DST SRC_OFF DST_OFF LEN")));
    };
    let bad = |e: Fail| Fail(format!("line {n}: {}", e.0));
    Ok(Some(BatchCopy {
        line: n,
        src: src.to_string(),
        dst: dst.to_string(),
        range: Range {
            src_offset: parse_size(so).map_err(bad)?,
            dst_offset: parse_size(d_).map_err(bad)?,
            length: parse_size(len).map_err(bad)?,
            reserved: 0,
        },
    }))
}

fn cmd_batch(args: &[String]) -> Result<(), Fail> {
    let (mut flags, mut json, mut qd, mut input) = (0u32, false, 16u32, None);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--queue-depth" => qd = parse_qd(it.next().ok_or_else(|| Fail(format!("{a} needs a value")))?)?,
            "--offload-only" => flags |= FLAG_OFFLOAD_ONLY,
            "--no-offload" => flags |= FLAG_NO_OFFLOAD,
            "--json" => json = true,
            s if s.starts_with('-') && s != "-" => return Err(Fail(format!("unknown option {s}"))),
            _ if input.is_some() => return Err(Fail("batch takes one FILE".into())),
            _ => input = Some(a.clone()),
        }
    }
    let reader: Box<dyn BufRead> = match input.as_deref() {
        None | Some("-") => Box::new(std::io::stdin().lock()),
        Some(p) => Box::new(std::io::BufReader::new(File::open(p).map_err(|e| Fail(format!("{p}: {e}")))?)),
    };
    let mut copies = Vec::new();
    for (i, l) in reader.lines().enumerate() {
        if let Some(c) = parse_batch_line(i + 1, &l?)? {
            copies.push(c);
        }
    }
    let ctl = Control::open().map_err(|e| Fail(format!("/dev/blkcopy: {e} (is the blkcopy module loaded?)")))?;
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
    let mut ring = CopyRing::new(&ctl, qd).map_err(|e| Fail(format!("io_uring: {e}")))?;
    let mut started: HashMap<u64, (usize, Instant)> = HashMap::new();
    let (mut next, mut failures) = (0, 0usize);
    loop {
        while next < copies.len() && ring.in_flight() < qd as usize {
            let c = &copies[next];
            let (s, d) = (fd(&c.src, false)?, fd(&c.dst, true)?);
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
            let usec = t.elapsed().as_micros();
            let c = &copies[i];
            let (done, err) = match &result {
                Ok(d) => (*d, None),
                Err(e) => (e.done, Some(&e.error)),
            };
            if err.is_some() {
                failures += 1;
            }
            print_batch_result(json, c, done, err, usec);
        }
    }
    if failures > 0 {
        return Err(Fail(format!("{failures} of {} copies failed", copies.len())));
    }
    Ok(())
}

fn print_batch_result(json: bool, c: &BatchCopy, done: Copied, err: Option<&std::io::Error>, usec: u128) {
    if json {
        let (errno, error) = match err {
            Some(e) => (e.raw_os_error().unwrap_or(0), json_str(&e.to_string())),
            None => (0, "null".to_string()),
        };
        println!(
            "{{\"line\":{},\"src\":{},\"dst\":{},\"src_offset\":{},\"dst_offset\":{},\"length\":{},\
             \"ok\":{},\"errno\":{errno},\"error\":{error},\"bytes_copied\":{},\"bytes_offloaded\":{},\"usec\":{usec}}}",
            c.line,
            json_str(&c.src),
            json_str(&c.dst),
            c.range.src_offset,
            c.range.dst_offset,
            c.range.length,
            err.is_none(),
            done.copied,
            done.offloaded,
        );
    } else {
        match err {
            None => println!("line {}: copied {} bytes, {} offloaded, {} us", c.line, done.copied, done.offloaded, usec),
            Some(e) => println!("line {}: failed: {e} (copied {} bytes, {} offloaded)", c.line, done.copied, done.offloaded),
        }
    }
}

fn cmd_info(args: &[String]) -> Result<(), Fail> {
    let json = args.iter().any(|a| a == "--json");
    let devs: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    if devs.is_empty() || devs.len() > 2 {
        return Err(Fail("info needs DEV [DEV2]".into()));
    }
    let f1 = File::open(devs[0]).map_err(|e| Fail(format!("{}: {e}", devs[0])))?;
    let f2 = match devs.get(1) {
        Some(d) => Some(File::open(d).map_err(|e| Fail(format!("{d}: {e}")))?),
        None => None,
    };
    let ctl = Control::open().map_err(|e| Fail(format!("/dev/blkcopy: {e} (is the blkcopy module loaded?)")))?;
    let i = ctl.info(f1.as_raw_fd(), f2.as_ref().map(|f| f.as_raw_fd()))?;
    let provider = blkcopy_uapi::provider_name(i.provider);
    if json {
        let mut s = format!(
            "{{\"device\":{},\"provider\":{},\"logical_block_size\":{},\"capacity\":{},\"max_copy_bytes\":{},\"max_ranges\":{}",
            json_str(devs[0]),
            json_str(provider),
            i.logical_block_size,
            i.capacity,
            i.max_copy_bytes,
            i.max_ranges
        );
        if let Some(d2) = devs.get(1) {
            s += &format!(
                ",\"to\":{},\"pair_offload\":{},\"pair_reason\":{}",
                json_str(d2),
                i.pair_offload != 0,
                json_str(blkcopy_uapi::reason_name(i.pair_reason))
            );
        }
        println!("{s}}}");
    } else {
        println!("{}: provider {provider}, {} bytes, {}-byte blocks", devs[0], i.capacity, i.logical_block_size);
        if i.provider != 0 {
            println!("  max {} bytes and {} source ranges per device command", i.max_copy_bytes, i.max_ranges);
        }
        if let Some(d2) = devs.get(1) {
            if i.pair_offload != 0 {
                println!("  copy to {d2}: offloaded");
            } else {
                println!("  copy to {d2}: through the host ({})", blkcopy_uapi::reason_name(i.pair_reason));
            }
        }
    }
    Ok(())
}

const STATS_FILE: &str = "/sys/kernel/debug/blkcopy/stats";

fn cmd_stats(args: &[String]) -> Result<(), Fail> {
    let json = args.iter().any(|a| a == "--json");
    let filter = match args.iter().find(|a| !a.starts_with("--")) {
        Some(d) => {
            let m = std::fs::metadata(d).map_err(|e| Fail(format!("{d}: {e}")))?;
            let rdev = m.rdev();
            Some(format!("dev={}:{}", libc::major(rdev), libc::minor(rdev)))
        }
        None => None,
    };
    let text = std::fs::read_to_string(STATS_FILE)
        .map_err(|e| Fail(format!("{STATS_FILE}: {e} (blkcopy loaded, debugfs mounted?)")))?;
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| filter.as_ref().map_or(true, |f| l.split(' ').next() == Some(f.as_str())))
        .collect();
    if json {
        let objs: Vec<String> = lines
            .iter()
            .map(|l| {
                let fields: Vec<String> = l
                    .split(' ')
                    .filter_map(|kv| kv.split_once('='))
                    .map(|(k, v)| match v.parse::<u64>() {
                        Ok(n) => format!("{}:{n}", json_str(k)),
                        Err(_) => format!("{}:{}", json_str(k), json_str(v)),
                    })
                    .collect();
                format!("{{{}}}", fields.join(","))
            })
            .collect();
        println!("[{}]", objs.join(","));
    } else {
        for l in lines {
            println!("{l}");
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let res = match args.first().map(String::as_str) {
        Some("copy") => cmd_copy(&args[1..]),
        Some("batch") => cmd_batch(&args[1..]),
        Some("info") => cmd_info(&args[1..]),
        Some("stats") => cmd_stats(&args[1..]),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        _ => Err(Fail(format!("missing or unknown command\n{USAGE}"))),
    };
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(Fail(msg)) => {
            eprintln!("blkcopy: {msg}");
            ExitCode::FAILURE
        }
    }
}
