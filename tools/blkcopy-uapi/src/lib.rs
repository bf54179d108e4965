// SPDX-License-Identifier: GPL-2.0

//! The blkcopy user API: the structures and ioctls of
//! `include/uapi/linux/blkcopy.h`, and safe calls on `/dev/blkcopy`.
//!
//! The layouts are checked against the C header by this crate's tests
//! (`tests/layout.rs` compiles the header with the host C compiler).

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsRawFd, RawFd};

pub mod uring;

/// `BLKCOPY_IOC_MAGIC`.
pub const IOC_MAGIC: u8 = 0xBC;
/// Fail with `EOPNOTSUPP` rather than copy through the host.
pub const FLAG_OFFLOAD_ONLY: u32 = 1 << 0;
/// Copy through the host without trying the device.
pub const FLAG_NO_OFFLOAD: u32 = 1 << 1;
/// Most ranges one BLKCOPY call takes.
pub const MAX_RANGES: usize = 256;

/// `struct blkcopy_range`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Range {
    pub src_offset: u64,
    pub dst_offset: u64,
    pub length: u64,
    pub reserved: u64,
}

/// `struct blkcopy_args`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct Args {
    pub size: u32,
    pub flags: u32,
    pub src_fd: i32,
    pub dst_fd: i32,
    pub ranges: u64,
    pub nr_ranges: u32,
    pub pad: u32,
    pub bytes_copied: u64,
    pub bytes_offloaded: u64,
    pub error: Refusal,
    pub reserved: [u64; 2],
}

/// `struct blkcopy_error`: which check refused a copy.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Refusal {
    /// `BLKCOPY_ERROR_*` ([`Rule`]).
    pub rule: u32,
    /// The range refused, or [`NO_RANGE`].
    pub range: u32,
    /// What the check compared with (see the rule).
    pub value: u64,
}

/// `BLKCOPY_NO_RANGE`.
pub const NO_RANGE: u32 = u32::MAX;

/// The checks that refuse a copy (`BLKCOPY_ERROR_*`), by their numbers in
/// the header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Rule {
    None = 0,
    Struct = 1,
    Flags = 2,
    NrRanges = 3,
    SrcFd = 4,
    DstFd = 5,
    DstReadOnly = 6,
    DstSwap = 7,
    RangeReserved = 8,
    ZeroLength = 9,
    Alignment = 10,
    Overflow = 11,
    SrcEnd = 12,
    DstEnd = 13,
    OverlapSrc = 14,
    OverlapDst = 15,
    OverlapBelow = 16,
    NotOffloaded = 17,
    WouldBlock = 18,
}

impl Rule {
    /// Every rule, in number order.
    pub const ALL: [Rule; 19] = [
        Rule::None,
        Rule::Struct,
        Rule::Flags,
        Rule::NrRanges,
        Rule::SrcFd,
        Rule::DstFd,
        Rule::DstReadOnly,
        Rule::DstSwap,
        Rule::RangeReserved,
        Rule::ZeroLength,
        Rule::Alignment,
        Rule::Overflow,
        Rule::SrcEnd,
        Rule::DstEnd,
        Rule::OverlapSrc,
        Rule::OverlapDst,
        Rule::OverlapBelow,
        Rule::NotOffloaded,
        Rule::WouldBlock,
    ];

    /// The rule with number `code` (a newer kernel's unknown rule: `None`).
    pub fn from_code(code: u32) -> Option<Rule> {
        Rule::ALL.get(code as usize).copied()
    }

    /// The rule's name in JSON output and tests (the header's constant,
    /// lower case, without `BLKCOPY_ERROR_`).
    pub fn name(self) -> &'static str {
        match self {
            Rule::None => "none",
            Rule::Struct => "struct",
            Rule::Flags => "flags",
            Rule::NrRanges => "nr_ranges",
            Rule::SrcFd => "src_fd",
            Rule::DstFd => "dst_fd",
            Rule::DstReadOnly => "dst_read_only",
            Rule::DstSwap => "dst_swap",
            Rule::RangeReserved => "range_reserved",
            Rule::ZeroLength => "zero_length",
            Rule::Alignment => "alignment",
            Rule::Overflow => "overflow",
            Rule::SrcEnd => "src_end",
            Rule::DstEnd => "dst_end",
            Rule::OverlapSrc => "overlap_src",
            Rule::OverlapDst => "overlap_dst",
            Rule::OverlapBelow => "overlap_below",
            Rule::NotOffloaded => "not_offloaded",
            Rule::WouldBlock => "would_block",
        }
    }
}

/// What [`Refusal::describe`] needs to know about the copy's devices.
#[derive(Clone, Copy, Debug)]
pub struct Devices<'a> {
    pub src: &'a str,
    pub dst: &'a str,
    pub src_block_size: u32,
    pub dst_block_size: u32,
}

impl Refusal {
    /// The rule, if a check refused the copy and this tool knows it.
    pub fn rule(&self) -> Option<Rule> {
        Rule::from_code(self.rule).filter(|r| *r != Rule::None)
    }

    /// The refusal in words, naming the range (when the copy has several),
    /// the device and the limit: "range 3: destination ends at 2147487744,
    /// past the end of /dev/nvme0n2 (2147483648 bytes)". `ranges` are the
    /// ranges of the refused call. None when no check refused it.
    pub fn describe(&self, dev: &Devices<'_>, ranges: &[Range]) -> Option<String> {
        let rule = self.rule()?;
        let r = ranges.get(self.range as usize).copied();
        let v = self.value;
        let range_name = |i: u64| format!("range {i}");
        let msg = match rule {
            Rule::None => return None,
            Rule::Struct => "malformed command (size, padding or reserved field)".to_string(),
            Rule::Flags => "unknown flags, or offload-only together with no-offload".to_string(),
            Rule::NrRanges => format!("a copy takes 1 to {v} ranges"),
            Rule::SrcFd => format!("{}: not a block device open for reading", dev.src),
            Rule::DstFd => format!("{}: not a block device open for writing", dev.dst),
            Rule::DstReadOnly => format!("{} is read-only", dev.dst),
            Rule::DstSwap => format!("{} is an active swap device", dev.dst),
            Rule::RangeReserved => "reserved field of the range set".to_string(),
            Rule::ZeroLength => "length must not be 0".to_string(),
            Rule::Alignment => {
                let by = match (dev.src_block_size as u64 == v, dev.dst_block_size as u64 == v) {
                    (true, false) => format!("logical block size of {}", dev.src),
                    (false, true) => format!("logical block size of {}", dev.dst),
                    _ if dev.src == dev.dst => format!("logical block size of {}", dev.src),
                    _ => format!("logical block size of {} and {}", dev.src, dev.dst),
                };
                format!("offsets and length must be multiples of {v} ({by})")
            }
            Rule::Overflow => "offset plus length is past 2^64".to_string(),
            Rule::SrcEnd | Rule::DstEnd => {
                let (what, name, off) = match rule {
                    Rule::SrcEnd => ("source", dev.src, r.map(|r| (r.src_offset, r.length))),
                    _ => ("destination", dev.dst, r.map(|r| (r.dst_offset, r.length))),
                };
                match off {
                    Some((o, l)) => format!("{what} ends at {}, past the end of {name} ({v} bytes)", o as u128 + l as u128),
                    None => format!("{what} past the end of {name} ({v} bytes)"),
                }
            }
            Rule::OverlapSrc if v == u64::from(self.range) => {
                format!("source and destination overlap on {}", dev.dst)
            }
            Rule::OverlapSrc => format!("destination overlaps the source of {} on {}", range_name(v), dev.dst),
            Rule::OverlapDst => format!("destination overlaps the destination of {} on {}", range_name(v), dev.dst),
            Rule::OverlapBelow => format!(
                "{} and {} reach the same disk, where a destination overlaps a source or another destination (at byte {v} of that disk)",
                dev.src, dev.dst
            ),
            Rule::NotOffloaded => format!("{v} bytes cannot be offloaded (offload only); see blkcopy info {} {}", dev.src, dev.dst),
            Rule::WouldBlock => "would wait for the page cache (non-blocking)".to_string(),
        };
        Some(if self.range != NO_RANGE && ranges.len() > 1 { format!("{}: {msg}", range_name(self.range.into())) } else { msg })
    }
}

/// `struct blkcopy_info`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct Info {
    pub size: u32,
    pub flags: u32,
    pub fd: i32,
    pub fd2: i32,
    pub provider: u32,
    pub logical_block_size: u32,
    pub capacity: u64,
    pub max_copy_bytes: u64,
    pub max_ranges: u32,
    pub pair_offload: u32,
    pub pair_reason: u32,
    pub pad: u32,
    pub reserved: [u64; 4],
}

/// `struct blkcopy_stats`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Stats {
    pub size: u32,
    pub flags: u32,
    pub fd: i32,
    pub index: u32,
    pub dev_major: u32,
    pub dev_minor: u32,
    pub name: [u8; 40],
    pub copies: u64,
    pub failures: u64,
    pub bytes_offloaded: u64,
    pub bytes_emulated: u64,
    pub fallback: [u64; STATS_FALLBACKS],
    pub reserved: [u64; 4],
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            size: std::mem::size_of::<Stats>() as u32,
            flags: 0,
            fd: -1,
            index: 0,
            dev_major: 0,
            dev_minor: 0,
            name: [0; 40],
            copies: 0,
            failures: 0,
            bytes_offloaded: 0,
            bytes_emulated: 0,
            fallback: [0; STATS_FALLBACKS],
            reserved: [0; 4],
        }
    }
}

impl Stats {
    /// The device's name.
    pub fn name(&self) -> String {
        let n = self.name.iter().position(|&c| c == 0).unwrap_or(self.name.len());
        String::from_utf8_lossy(&self.name[..n]).into_owned()
    }
}

/// `BLKCOPY_STATS_FALLBACKS`: entries of `Stats::fallback`.
pub const STATS_FALLBACKS: usize = 8;
/// `BLKCOPY_STATS_BY_FD`.
pub const STATS_BY_FD: u32 = 1 << 0;
/// The `BLKCOPY_STAT_*` reasons, by index of `Stats::fallback`.
pub const FALLBACK_REASONS: [&str; 6] = ["no_provider", "cross_device", "unpaired", "device_error", "disabled", "limits"];

/// `_IOWR(BLKCOPY_IOC_MAGIC, nr, size)` (nix's definition of the kernel's
/// `_IOC` encoding for this architecture; `tests/layout.rs` checks every
/// number against the C header).
// (The request type is `c_ulong`: u64 only on 64-bit targets.)
#[allow(clippy::unnecessary_cast)]
pub(crate) const fn iowr(nr: u8, size: usize) -> u64 {
    nix::request_code_readwrite!(IOC_MAGIC, nr, size) as u64
}

/// `_IOW(BLKCOPY_IOC_MAGIC, nr, size)`.
#[allow(clippy::unnecessary_cast)]
pub(crate) const fn iow(nr: u8, size: usize) -> u64 {
    nix::request_code_write!(IOC_MAGIC, nr, size) as u64
}

/// `BLKCOPY`.
pub const BLKCOPY: u64 = iowr(1, std::mem::size_of::<Args>());
/// `BLKCOPY_INFO`.
pub const BLKCOPY_INFO: u64 = iowr(2, std::mem::size_of::<Info>());
/// `BLKCOPY_STATS`.
pub const BLKCOPY_STATS: u64 = iowr(3, std::mem::size_of::<Stats>());

/// A size as the tools take it: a number with an optional K, M, G or T
/// suffix (powers of 1024).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let (num, shift) = match s.as_bytes().last() {
        Some(b'K' | b'k') => (&s[..s.len() - 1], 10),
        Some(b'M' | b'm') => (&s[..s.len() - 1], 20),
        Some(b'G' | b'g') => (&s[..s.len() - 1], 30),
        Some(b'T' | b't') => (&s[..s.len() - 1], 40),
        _ => (s, 0),
    };
    let n: u64 = num.parse().map_err(|_| format!("bad size '{s}'"))?;
    n.checked_mul(1u64 << shift).ok_or_else(|| format!("size '{s}' too large"))
}

/// `BLKCOPY_PROVIDER_*` as a name.
pub fn provider_name(id: u32) -> &'static str {
    match id {
        0 => "none",
        1 => "nvme",
        2 => "scsi",
        3 => "stacked",
        _ => "unknown",
    }
}

/// `BLKCOPY_REASON_*` as a name.
pub fn reason_name(id: u32) -> &'static str {
    match id {
        0 => "none",
        1 => "no_provider",
        2 => "cross_device",
        3 => "block_size",
        _ => "unknown",
    }
}

/// A device as the range checks see it (the kernel's own checks, from
/// `logic/src/range.rs`).
pub use blkcopy_logic::range::DevGeom;

/// Where the device open as `f` lies: its size and logical block size,
/// and the whole disk it is part of with its byte offset there (a
/// partition's, from sysfs).
pub fn geometry(f: &File) -> io::Result<DevGeom> {
    use std::os::unix::fs::MetadataExt;
    let rdev = f.metadata()?.rdev();
    let (major, minor) = (libc::major(rdev), libc::minor(rdev));
    let sys = format!("/sys/dev/block/{major}:{minor}");
    let read = |p: &str| std::fs::read_to_string(p).map(|s| s.trim().to_string());
    let num = |p: &str| -> io::Result<u64> {
        read(p)?.parse().map_err(|_| io::Error::new(io::ErrorKind::InvalidData, format!("{p}: not a number")))
    };
    let mut size = 0u64;
    // BLKGETSIZE64 = _IOR(0x12, 114, size_t)
    const BLKGETSIZE64: u64 = nix::request_code_read!(0x12, 114, std::mem::size_of::<usize>()) as u64;
    // SAFETY: BLKGETSIZE64 writes one u64 to the pointer.
    if unsafe { libc::ioctl(f.as_raw_fd(), BLKGETSIZE64 as _, &mut size as *mut u64) } < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut lbs: libc::c_int = 0;
    // BLKSSZGET = _IO(0x12, 104), writes an int.
    #[allow(clippy::unnecessary_cast)]
    const BLKSSZGET: u64 = nix::request_code_none!(0x12, 104) as u64;
    // SAFETY: BLKSSZGET writes one int to the pointer.
    if unsafe { libc::ioctl(f.as_raw_fd(), BLKSSZGET as _, &mut lbs as *mut libc::c_int) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // A partition: its disk is the parent directory's device.
    let (disk, start) = if std::path::Path::new(&format!("{sys}/partition")).exists() {
        let parent = read(&format!("{sys}/../dev"))?;
        (parent, num(&format!("{sys}/start"))? * 512)
    } else {
        (format!("{major}:{minor}"), 0)
    };
    let (ma, mi) = disk.split_once(':').unwrap_or(("0", "0"));
    let disk = (ma.parse::<u64>().unwrap_or(0) << 32) | mi.parse::<u64>().unwrap_or(0);
    Ok(DevGeom { size, lbs: lbs as u32, disk, start })
}

/// Whether the device open as `f` is built on other block devices (a
/// device-mapper or md device: its sysfs `slaves` are not empty), so that
/// it may reach another device's blocks.
pub fn is_stacked(f: &File) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(m) = f.metadata() else { return true };
    let (major, minor) = (libc::major(m.rdev()), libc::minor(m.rdev()));
    let sys = format!("/sys/dev/block/{major}:{minor}");
    let slaves = if std::path::Path::new(&format!("{sys}/partition")).exists() {
        format!("{sys}/../slaves")
    } else {
        format!("{sys}/slaves")
    };
    std::fs::read_dir(slaves).is_ok_and(|mut d| d.next().is_some())
}

/// The kernel's checks of a copy's ranges, made before the CLI splits a
/// copy into several calls (so that a range refused as a whole copies
/// nothing): the refusal the kernel would give. Overlaps through stacking
/// layers are left to the kernel.
pub fn check_ranges(ranges: &[Range], src: &DevGeom, dst: &DevGeom) -> Result<(), Refusal> {
    use blkcopy_logic::range::{self, CopyRange, RangeError};
    let v: Vec<CopyRange> = ranges.iter().map(|r| CopyRange { src: r.src_offset, dst: r.dst_offset, len: r.length }).collect();
    range::check_ranges(&v, src, dst).map_err(|(i, e)| {
        let rule = match e {
            RangeError::ZeroLength => Rule::ZeroLength,
            RangeError::Misaligned => Rule::Alignment,
            RangeError::Overflow => Rule::Overflow,
            RangeError::SrcPastEnd => Rule::SrcEnd,
            RangeError::DstPastEnd => Rule::DstEnd,
            RangeError::DstOverlapsSource(_) => Rule::OverlapSrc,
            RangeError::DstOverlapsDestination(_) => Rule::OverlapDst,
        };
        Refusal { rule: rule as u32, range: i as u32, value: e.value(src, dst) }
    })
}

/// An open `/dev/blkcopy`.
pub struct Control {
    file: File,
}

/// Result of a copy: bytes of the copied prefix, and how many of them the
/// device copied.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Copied {
    pub copied: u64,
    pub offloaded: u64,
}

/// A failed copy: the error, what had been copied before it, and which
/// check refused it (if one did).
#[derive(Debug)]
pub struct CopyError {
    pub error: io::Error,
    pub done: Copied,
    pub refused: Refusal,
}

impl Control {
    /// Opens `/dev/blkcopy` (the `blkcopy` module must be loaded).
    pub fn open() -> io::Result<Self> {
        Self::open_path("/dev/blkcopy")
    }

    pub fn open_path(path: &str) -> io::Result<Self> {
        Ok(Self { file: OpenOptions::new().read(true).write(true).open(path)? })
    }

    /// The open control node.
    pub fn file(&self) -> &File {
        &self.file
    }

    /// BLKCOPY: copies `ranges` from `src` (open for reading) to `dst`
    /// (open for writing).
    pub fn copy(&self, src: RawFd, dst: RawFd, ranges: &[Range], flags: u32) -> Result<Copied, CopyError> {
        let mut a = Args {
            size: std::mem::size_of::<Args>() as u32,
            flags,
            src_fd: src,
            dst_fd: dst,
            ranges: ranges.as_ptr() as u64,
            nr_ranges: ranges.len() as u32,
            ..Default::default()
        };
        // SAFETY: `a` and `ranges` are valid for the kernel to read and
        // (`a`) write for the duration of the call.
        let ret = unsafe { libc::ioctl(self.file.as_raw_fd(), BLKCOPY as _, &mut a as *mut Args) };
        let done = Copied { copied: a.bytes_copied, offloaded: a.bytes_offloaded };
        if ret < 0 {
            return Err(CopyError { error: io::Error::last_os_error(), done, refused: a.error });
        }
        Ok(done)
    }

    /// BLKCOPY_STATS of the `index`-th device copies touched (`None` past
    /// the last).
    pub fn stats_nth(&self, index: u32) -> io::Result<Option<Stats>> {
        let mut a = Stats { index, ..Default::default() };
        match self.stats_call(&mut a) {
            Ok(()) => Ok(Some(a)),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// BLKCOPY_STATS of the block device open as `fd`.
    pub fn stats_of(&self, fd: RawFd) -> io::Result<Stats> {
        let mut a = Stats { flags: STATS_BY_FD, fd, ..Default::default() };
        self.stats_call(&mut a)?;
        Ok(a)
    }

    /// Every device's statistics, in index order.
    pub fn stats_all(&self) -> io::Result<Vec<Stats>> {
        let mut out = Vec::new();
        while let Some(s) = self.stats_nth(out.len() as u32)? {
            out.push(s);
        }
        Ok(out)
    }

    fn stats_call(&self, a: &mut Stats) -> io::Result<()> {
        // SAFETY: `a` is valid for the kernel to read and write.
        let ret = unsafe { libc::ioctl(self.file.as_raw_fd(), BLKCOPY_STATS as _, a as *mut Stats) };
        if ret < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// BLKCOPY_INFO about `fd`, and about copying from `fd` to `fd2`.
    pub fn info(&self, fd: RawFd, fd2: Option<RawFd>) -> io::Result<Info> {
        let mut a = Info {
            size: std::mem::size_of::<Info>() as u32,
            fd,
            fd2: fd2.unwrap_or(-1),
            ..Default::default()
        };
        // SAFETY: `a` is valid for the kernel to read and write.
        let ret = unsafe { libc::ioctl(self.file.as_raw_fd(), BLKCOPY_INFO as _, &mut a as *mut Info) };
        if ret < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEV: Devices<'static> = Devices { src: "/dev/nvme0n1", dst: "/dev/nvme0n2", src_block_size: 512, dst_block_size: 4096 };

    fn r(src_offset: u64, dst_offset: u64, length: u64) -> Range {
        Range { src_offset, dst_offset, length, reserved: 0 }
    }

    fn refusal(rule: Rule, range: u32, value: u64) -> Refusal {
        Refusal { rule: rule as u32, range, value }
    }

    #[test]
    fn refusals_name_the_range_device_and_limit() {
        let ranges = [r(0, 0, 4096), r(0, 8192, 4096), r(0, 16384, 4096), r(0, (2 << 30) - 4096, 8192)];
        assert_eq!(
            refusal(Rule::DstEnd, 3, 2 << 30).describe(&DEV, &ranges).unwrap(),
            "range 3: destination ends at 2147487744, past the end of /dev/nvme0n2 (2147483648 bytes)"
        );
        assert_eq!(
            refusal(Rule::Alignment, 0, 4096).describe(&DEV, &ranges[..1]).unwrap(),
            "offsets and length must be multiples of 4096 (logical block size of /dev/nvme0n2)"
        );
        let same = Devices { dst: "/dev/nvme0n1", dst_block_size: 512, ..DEV };
        assert_eq!(
            refusal(Rule::OverlapSrc, 0, 0).describe(&same, &ranges[..1]).unwrap(),
            "source and destination overlap on /dev/nvme0n1"
        );
        assert_eq!(
            refusal(Rule::OverlapSrc, 1, 2).describe(&same, &ranges).unwrap(),
            "range 1: destination overlaps the source of range 2 on /dev/nvme0n1"
        );
        assert_eq!(refusal(Rule::NrRanges, NO_RANGE, 256).describe(&DEV, &[]).unwrap(), "a copy takes 1 to 256 ranges");
    }

    #[test]
    fn every_rule_has_words_and_none_has_none() {
        for rule in Rule::ALL {
            let d = refusal(rule, 0, 1).describe(&DEV, &[r(0, 0, 4096)]);
            assert_eq!(d.is_none(), rule == Rule::None, "{rule:?}");
        }
        assert_eq!(Refusal { rule: 999, range: 0, value: 0 }.describe(&DEV, &[]), None);
    }

    #[test]
    fn the_precheck_refuses_as_the_kernel_does() {
        let a = DevGeom { size: 1 << 30, lbs: 512, disk: 1, start: 0 };
        let b = DevGeom { size: 1 << 20, lbs: 4096, disk: 2, start: 0 };
        assert_eq!(check_ranges(&[r(0, 0, 4096)], &a, &b), Ok(()));
        assert_eq!(check_ranges(&[r(0, 0, 4096), r(512, 8192, 4096)], &a, &b), Err(refusal(Rule::Alignment, 1, 4096)));
        assert_eq!(check_ranges(&[r(0, 1 << 20, 4096)], &a, &b), Err(refusal(Rule::DstEnd, 0, 1 << 20)));
        assert_eq!(check_ranges(&[r(0, 4096, 8192)], &a, &a), Err(refusal(Rule::OverlapSrc, 0, 0)));
    }
}
