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
    pub reserved: [u64; 4],
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

const fn ioc(dir: u64, nr: u8, size: usize) -> u64 {
    // _IOC(dir, type, nr, size) on x86-64 and most others.
    (dir << 30) | ((size as u64) << 16) | ((IOC_MAGIC as u64) << 8) | nr as u64
}

/// `_IOWR(BLKCOPY_IOC_MAGIC, nr, size)`.
pub(crate) const fn iowr(nr: u8, size: usize) -> u64 {
    ioc(3, nr, size)
}

/// `_IOW(BLKCOPY_IOC_MAGIC, nr, size)`.
pub(crate) const fn iow(nr: u8, size: usize) -> u64 {
    ioc(1, nr, size)
}

/// `BLKCOPY`.
pub const BLKCOPY: u64 = iowr(1, std::mem::size_of::<Args>());
/// `BLKCOPY_INFO`.
pub const BLKCOPY_INFO: u64 = iowr(2, std::mem::size_of::<Info>());

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

/// A failed copy: the error and what had been copied before it.
#[derive(Debug)]
pub struct CopyError {
    pub error: io::Error,
    pub done: Copied,
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
            return Err(CopyError { error: io::Error::last_os_error(), done });
        }
        Ok(done)
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
