// SPDX-License-Identifier: GPL-2.0

//! What every part of the core shares, at the bottom of block/: why part
//! of a copy fell back ([`Reason`]), what a finished copy reports
//! ([`CopyResult`]), the caller-visible flags, and the checks every entry
//! point (the BLKCOPY ioctl, the C API, the kcopyd adapter) makes before a
//! copy starts. It imports nothing else of the core.

use kernel::error::Error;
use kernel::prelude::*;

use crate::kernel_ext::bindings;
use crate::kernel_ext::block::Bdev;
use crate::range::{check_ranges, CopyRange, DevGeom, RangeError};

/// Why part of a copy was not offloaded (`enum blkcopy_reason`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Reason {
    NoProvider = 0,
    CrossDevice = 1,
    Unpaired = 2,
    DeviceError = 3,
    Disabled = 4,
    Limits = 5,
}

impl Reason {
    pub(crate) const COUNT: usize = 6;
    pub(crate) const ALL: [Reason; Self::COUNT] = [
        Reason::NoProvider,
        Reason::CrossDevice,
        Reason::Unpaired,
        Reason::DeviceError,
        Reason::Disabled,
        Reason::Limits,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Reason::NoProvider => "no_provider",
            Reason::CrossDevice => "cross_device",
            Reason::Unpaired => "unpaired",
            Reason::DeviceError => "device_error",
            Reason::Disabled => "disabled",
            Reason::Limits => "limits",
        }
    }

    pub(crate) fn from_c(r: u32) -> Reason {
        Self::ALL.get(r as usize).copied().unwrap_or(Reason::DeviceError)
    }
}

/// What a finished copy reports.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct CopyResult {
    /// 0 or a negative errno.
    pub(crate) status: i32,
    /// Length of the copied prefix of the copy's ranges, in bytes.
    pub(crate) copied: u64,
    /// Bytes the device copied.
    pub(crate) offloaded: u64,
    /// The error was a read of the source.
    pub(crate) read_failed: bool,
}

/// Caller-visible flags (the uAPI's and the C API's bits are the same).
pub(crate) const FLAG_OFFLOAD_ONLY: u32 = bindings::BLKCOPY_FLAG_OFFLOAD_ONLY;
pub(crate) const FLAG_NO_OFFLOAD: u32 = bindings::BLKCOPY_FLAG_NO_OFFLOAD;
const _: () = assert!(
    FLAG_OFFLOAD_ONLY == bindings::BLKCOPY_OFFLOAD_ONLY && FLAG_NO_OFFLOAD == bindings::BLKCOPY_NO_OFFLOAD
);

/// A caller's flags: known bits, and not both "only offload" and "never".
pub(crate) fn check_flags(flags: u32) -> Result {
    let all = FLAG_OFFLOAD_ONLY | FLAG_NO_OFFLOAD;
    if flags & !all != 0 || flags == all {
        return Err(EINVAL);
    }
    Ok(())
}

/// What the range checks know about a device.
pub(crate) fn geom(b: Bdev<'_>) -> DevGeom {
    DevGeom { size: b.size(), lbs: b.logical_block_size(), disk: b.disk() as u64, start: b.start_sect() << 9 }
}

fn range_errno(e: RangeError) -> Error {
    match e {
        RangeError::Overflow => crate::kernel_ext::code::eoverflow(),
        RangeError::ZeroLength | RangeError::Misaligned | RangeError::OutOfRange | RangeError::Overlap => EINVAL,
    }
}

/// Checks a copy's ranges against its devices (`EINVAL`, or `EOVERFLOW`
/// for offsets past what 64 bits hold): aligned, within both devices, no
/// destination over a source or another destination on the same disk.
/// (Overlap through stacking layers is found where the halves land.)
pub(crate) fn check(src: Bdev<'_>, dst: Bdev<'_>, ranges: &[CopyRange]) -> Result {
    check_ranges(ranges, &geom(src), &geom(dst)).map_err(|(_, e)| range_errno(e))
}

/// A range of 512-byte sectors as a byte range (`EOVERFLOW` past 64 bits),
/// for the in-kernel APIs, which count in sectors.
pub(crate) fn sectors(src: u64, dst: u64, nr: u64) -> Result<CopyRange> {
    match (src.checked_mul(512), dst.checked_mul(512), nr.checked_mul(512)) {
        (Some(src), Some(dst), Some(len)) => Ok(CopyRange { src, dst, len }),
        _ => Err(crate::kernel_ext::code::eoverflow()),
    }
}
