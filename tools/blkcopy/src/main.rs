// SPDX-License-Identifier: GPL-2.0

//! `blkcopy`: copy between block devices through /dev/blkcopy.
//!
//! ```text
//! blkcopy copy SRC DST [--src-offset N] [--dst-offset N] [--length N]
//!                      [--range SRC_OFF:DST_OFF:LEN]... [--offload-only | --no-offload]
//!                      [--progress] [--json]
//! blkcopy info DEV [DEV2] [--json]
//! blkcopy stats [DEV] [--json]
//! ```
//!
//! Sizes take K, M, G, T suffixes (powers of 1024). Exit status 0 on
//! success; on failure 1 and one line `blkcopy: <reason>` on stderr.

use std::fs::{File, OpenOptions};
use std::io::{IsTerminal, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::process::ExitCode;
use std::time::Instant;

use blkcopy_uapi::{Control, Range, FLAG_NO_OFFLOAD, FLAG_OFFLOAD_ONLY, MAX_RANGES};

/// Bytes per BLKCOPY call when a single range is copied with progress
/// shown: small enough for a lively display, large enough to keep device
/// commands big.
const PROGRESS_STEP: u64 = 256 << 20;

const USAGE: &str = "usage:
  blkcopy copy SRC DST [--src-offset N] [--dst-offset N] [--length N]
                       [--range SRC_OFF:DST_OFF:LEN]... [--offload-only | --no-offload]
                       [--progress] [--json]
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
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = || it.next().ok_or_else(|| Fail(format!("{a} needs a value")));
        match a.as_str() {
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
    }
    if progress {
        eprintln!();
    }
    let secs = start.elapsed().as_secs_f64();
    if json {
        println!(
            "{{\"src\":{},\"dst\":{},\"ranges\":{},\"bytes_copied\":{},\"bytes_offloaded\":{},\"seconds\":{:.6}}}",
            json_str(src_path),
            json_str(dst_path),
            ranges.len(),
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
    Ok(())
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
