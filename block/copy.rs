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

// The statistics ABI numbers the reasons as the provider interface does:
// `struct blkcopy_stats.fallback[]` is indexed by `Reason`.
const _: () = assert!(
    Reason::NoProvider as u32 == bindings::BLKCOPY_STAT_NO_PROVIDER
        && Reason::CrossDevice as u32 == bindings::BLKCOPY_STAT_CROSS_DEVICE
        && Reason::Unpaired as u32 == bindings::BLKCOPY_STAT_UNPAIRED
        && Reason::DeviceError as u32 == bindings::BLKCOPY_STAT_DEVICE_ERROR
        && Reason::Disabled as u32 == bindings::BLKCOPY_STAT_DISABLED
        && Reason::Limits as u32 == bindings::BLKCOPY_STAT_LIMITS
        && Reason::COUNT <= bindings::BLKCOPY_STATS_FALLBACKS as usize
        && Reason::NoProvider as u32 == bindings::blkcopy_reason_BLKCOPY_FALLBACK_NO_PROVIDER
        && Reason::Limits as u32 == bindings::blkcopy_reason_BLKCOPY_FALLBACK_LIMITS
        && Reason::COUNT as u32 == bindings::blkcopy_reason_BLKCOPY_FALLBACK_NR
);

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
    /// Which check refused the copy (`Rule::NONE` for other errors).
    pub(crate) rule: Rule,
}

/// Which check refused a copy, as `struct blkcopy_error` tells userspace:
/// the rule (`BLKCOPY_ERROR_*`), the range it concerns
/// (`BLKCOPY_NO_RANGE` if none), and what the check compared with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Rule {
    pub(crate) code: u32,
    pub(crate) range: u32,
    pub(crate) value: u64,
}

impl Rule {
    /// No check refused the copy: `struct blkcopy_error` all zero.
    pub(crate) const NONE: Rule = Rule { code: bindings::BLKCOPY_ERROR_NONE, range: 0, value: 0 };

    /// A rule about the command, not one of its ranges.
    pub(crate) const fn of(code: u32) -> Rule {
        Rule { code, range: bindings::BLKCOPY_NO_RANGE, value: 0 }
    }

    pub(crate) const fn with_value(self, value: u64) -> Rule {
        Rule { value, ..self }
    }

    /// A rule about range `i` (a range index fits: at most
    /// `BLKCOPY_MAX_RANGES`).
    pub(crate) fn at(self, i: usize) -> Rule {
        Rule { range: u32::try_from(i).unwrap_or(bindings::BLKCOPY_NO_RANGE), ..self }
    }

    pub(crate) fn to_uapi(self) -> bindings::blkcopy_error {
        bindings::blkcopy_error { rule: self.code, range: self.range, value: self.value }
    }
}

impl Default for Rule {
    fn default() -> Rule {
        Rule::NONE
    }
}

/// A copy refused before it started: the errno its caller gets, and the
/// check that refused it. Any other error converts with `Rule::NONE`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Refusal {
    pub(crate) errno: Error,
    pub(crate) rule: Rule,
}

impl From<Error> for Refusal {
    fn from(errno: Error) -> Refusal {
        Refusal { errno, rule: Rule::NONE }
    }
}

impl From<kernel::alloc::AllocError> for Refusal {
    fn from(_: kernel::alloc::AllocError) -> Refusal {
        ENOMEM.into()
    }
}

impl From<Refusal> for Error {
    fn from(r: Refusal) -> Error {
        r.errno
    }
}

/// What a check returns.
pub(crate) type Checked<T> = core::result::Result<T, Refusal>;

/// `errno`, refused by `rule`.
pub(crate) fn refuse(errno: Error, rule: Rule) -> Refusal {
    Refusal { errno, rule }
}

/// Caller-visible flags (the uAPI's and the C API's bits are the same).
pub(crate) const FLAG_OFFLOAD_ONLY: u32 = bindings::BLKCOPY_FLAG_OFFLOAD_ONLY;
pub(crate) const FLAG_NO_OFFLOAD: u32 = bindings::BLKCOPY_FLAG_NO_OFFLOAD;
const _: () = assert!(
    FLAG_OFFLOAD_ONLY == bindings::BLKCOPY_OFFLOAD_ONLY && FLAG_NO_OFFLOAD == bindings::BLKCOPY_NO_OFFLOAD
);

/// A caller's flags: known bits, and not both "only offload" and "never".
pub(crate) fn check_flags(flags: u32) -> Checked<()> {
    let all = FLAG_OFFLOAD_ONLY | FLAG_NO_OFFLOAD;
    if flags & !all != 0 || flags == all {
        return Err(refuse(EINVAL, Rule::of(bindings::BLKCOPY_ERROR_FLAGS)));
    }
    Ok(())
}

/// What the range checks know about a device.
pub(crate) fn geom(b: Bdev<'_>) -> DevGeom {
    DevGeom { size: b.size(), lbs: b.logical_block_size(), disk: b.disk() as u64, start: b.start_sect() << 9 }
}

fn range_refusal(i: usize, e: RangeError, src: &DevGeom, dst: &DevGeom) -> Refusal {
    let (errno, code) = match e {
        RangeError::ZeroLength => (EINVAL, bindings::BLKCOPY_ERROR_ZERO_LENGTH),
        RangeError::Misaligned => (EINVAL, bindings::BLKCOPY_ERROR_ALIGNMENT),
        RangeError::Overflow => (crate::kernel_ext::code::eoverflow(), bindings::BLKCOPY_ERROR_OVERFLOW),
        RangeError::SrcPastEnd => (EINVAL, bindings::BLKCOPY_ERROR_SRC_END),
        RangeError::DstPastEnd => (EINVAL, bindings::BLKCOPY_ERROR_DST_END),
        RangeError::DstOverlapsSource(_) => (EINVAL, bindings::BLKCOPY_ERROR_OVERLAP_SRC),
        RangeError::DstOverlapsDestination(_) => (EINVAL, bindings::BLKCOPY_ERROR_OVERLAP_DST),
    };
    refuse(errno, Rule::of(code).with_value(e.value(src, dst)).at(i))
}

/// Checks a copy's ranges against its devices (`EINVAL`, or `EOVERFLOW`
/// for offsets past what 64 bits hold): aligned, within both devices, no
/// destination over a source or another destination on the same disk.
/// (Overlap through stacking layers is found where the halves land.)
pub(crate) fn check(src: Bdev<'_>, dst: Bdev<'_>, ranges: &[CopyRange]) -> Checked<()> {
    let (sg, dg) = (geom(src), geom(dst));
    check_ranges(ranges, &sg, &dg).map_err(|(i, e)| range_refusal(i, e, &sg, &dg))
}

/// A range of 512-byte sectors as a byte range (`EOVERFLOW` past 64 bits),
/// for the in-kernel APIs, which count in sectors.
pub(crate) fn sectors(src: u64, dst: u64, nr: u64) -> Result<CopyRange> {
    match (src.checked_mul(512), dst.checked_mul(512), nr.checked_mul(512)) {
        (Some(src), Some(dst), Some(len)) => Ok(CopyRange { src, dst, len }),
        _ => Err(crate::kernel_ext::code::eoverflow()),
    }
}
