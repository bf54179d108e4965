// SPDX-License-Identifier: GPL-2.0

//! The `/dev/blkcopy` ioctls: BLKCOPY and BLKCOPY_INFO
//! (include/uapi/linux/blkcopy.h, Documentation/blkcopy.rst).

use core::mem::size_of;

use kernel::alloc::{flags::GFP_KERNEL, KVec};
use kernel::error::Error;
use kernel::prelude::*;
use kernel::types::{AsBytes, FromBytes};
use kernel::uaccess::UserSlice;

use crate::copy::{self, refuse, Checked, CopyResult, Rule};
use crate::job::{CopyJob, Core, Located, Notify, Waiter};
use crate::kernel_ext::bindings;
use crate::kernel_ext::block::BdevFile;
use crate::range::CopyRange;

// SAFETY: plain integer structures without padding holes (the header pads
// explicitly), valid for any bit pattern.
unsafe impl FromBytes for bindings::blkcopy_args {}
// SAFETY: as above.
unsafe impl AsBytes for bindings::blkcopy_args {}
// SAFETY: as above.
unsafe impl FromBytes for bindings::blkcopy_range {}
// SAFETY: as above.
unsafe impl FromBytes for bindings::blkcopy_info {}
// SAFETY: as above.
unsafe impl AsBytes for bindings::blkcopy_info {}
// SAFETY: as above.
unsafe impl FromBytes for bindings::blkcopy_stats {}
// SAFETY: as above.
unsafe impl AsBytes for bindings::blkcopy_stats {}

pub(crate) const BLKCOPY: u32 = kernel::ioctl::_IOWR::<bindings::blkcopy_args>(bindings::BLKCOPY_IOC_MAGIC, 1);
pub(crate) const BLKCOPY_INFO: u32 = kernel::ioctl::_IOWR::<bindings::blkcopy_info>(bindings::BLKCOPY_IOC_MAGIC, 2);
pub(crate) const BLKCOPY_STATS: u32 = kernel::ioctl::_IOWR::<bindings::blkcopy_stats>(bindings::BLKCOPY_IOC_MAGIC, 3);

/// The descriptors of a copy: a block device open for reading and one open
/// for writing (the rights read(2) and write(2) would need), the second
/// writable and not an active swap device. The checks BLKCOPY and
/// BLKCOPY_URING_COPY make, in this order, with these errnos.
pub(crate) fn open_pair(src_fd: i32, dst_fd: i32) -> Checked<(BdevFile, BdevFile)> {
    let src = BdevFile::from_fd(src_fd).map_err(|e| refuse(e, Rule::of(bindings::BLKCOPY_ERROR_SRC_FD)))?;
    let dst = BdevFile::from_fd(dst_fd).map_err(|e| refuse(e, Rule::of(bindings::BLKCOPY_ERROR_DST_FD)))?;
    if !src.readable() {
        return Err(refuse(EBADF, Rule::of(bindings::BLKCOPY_ERROR_SRC_FD)));
    }
    if !dst.writable() {
        return Err(refuse(EBADF, Rule::of(bindings::BLKCOPY_ERROR_DST_FD)));
    }
    if dst.bdev().read_only() {
        return Err(refuse(EPERM, Rule::of(bindings::BLKCOPY_ERROR_DST_READ_ONLY)));
    }
    if dst.is_swap() {
        return Err(refuse(ETXTBSY, Rule::of(bindings::BLKCOPY_ERROR_DST_SWAP)));
    }
    Ok((src, dst))
}

/// The command's range count: 1 ..= BLKCOPY_MAX_RANGES.
pub(crate) fn check_nr_ranges(n: u32) -> Checked<()> {
    if n == 0 || n > bindings::BLKCOPY_MAX_RANGES {
        let rule = Rule::of(bindings::BLKCOPY_ERROR_NR_RANGES).with_value(bindings::BLKCOPY_MAX_RANGES.into());
        return Err(refuse(EINVAL, rule));
    }
    Ok(())
}

/// Reads `n` (checked by `check_nr_ranges`) ranges from user memory at
/// `ptr`: `EFAULT`, or `EINVAL` for a reserved field set.
pub(crate) fn read_ranges(ptr: u64, n: u32) -> Checked<KVec<CopyRange>> {
    let n = n as usize;
    let mut ur = UserSlice::new(ptr as usize, n * size_of::<bindings::blkcopy_range>()).reader();
    let mut ranges = KVec::with_capacity(n, GFP_KERNEL)?;
    for i in 0..n {
        let r: bindings::blkcopy_range = ur.read()?;
        if r.reserved != 0 {
            return Err(refuse(EINVAL, Rule::of(bindings::BLKCOPY_ERROR_RANGE_RESERVED).at(i)));
        }
        ranges.push(CopyRange { src: r.src_offset, dst: r.dst_offset, len: r.length }, GFP_KERNEL)?;
    }
    Ok(ranges)
}

/// Like O_DIRECT: the device must see dirty cached source data, and the
/// destination's cache must not keep stale data over the copy. With
/// `nonblock`, `EAGAIN` instead of anything that may wait for I/O: source
/// cache to write back, destination cache to drop.
pub(crate) fn sync_caches(src: &BdevFile, dst: &BdevFile, ranges: &[CopyRange], nonblock: bool) -> Checked<()> {
    if nonblock
        && ranges.iter().any(|r| src.needs_writeback(r.src, r.src + r.len - 1) || dst.has_cached(r.dst, r.dst + r.len - 1))
    {
        return Err(refuse(EAGAIN, Rule::of(bindings::BLKCOPY_ERROR_WOULD_BLOCK)));
    }
    for r in ranges.iter() {
        src.write_and_wait(r.src, r.src + r.len - 1)?;
        dst.invalidate(r.dst, r.dst + r.len - 1)?;
    }
    Ok(())
}

/// After a copy: drops what the destination's cache read meanwhile.
pub(crate) fn drop_dst_cache(dst: &BdevFile, ranges: &[CopyRange]) {
    for r in ranges.iter() {
        let _ = dst.invalidate(r.dst, r.dst + r.len - 1);
    }
}

/// BLKCOPY: copy a vector of ranges from `src_fd` to `dst_fd`. The
/// arguments go back to the caller with the byte counts and, for a copy a
/// check refused, the rule (`struct blkcopy_error`): always, unless they
/// could not be read or are of another size.
pub(crate) fn copy(core: &'static Core, arg: usize) -> Result<isize> {
    let (mut reader, mut writer) = UserSlice::new(arg, size_of::<bindings::blkcopy_args>()).reader_writer();
    let mut a: bindings::blkcopy_args = reader.read()?;
    if a.size as usize != size_of::<bindings::blkcopy_args>() {
        return Err(EINVAL);
    }
    let res = match run_copy(core, &a) {
        Ok(res) => res,
        Err(r) => CopyResult { status: r.errno.to_errno(), rule: r.rule, ..CopyResult::default() },
    };
    a.bytes_copied = res.copied;
    a.bytes_offloaded = res.offloaded;
    a.error = res.rule.to_uapi();
    let written = writer.write(&a);
    if res.status != 0 {
        return Err(Error::from_errno(res.status));
    }
    written?;
    Ok(0)
}

/// BLKCOPY's checks, then the copy, driven by the calling process.
fn run_copy(core: &'static Core, a: &bindings::blkcopy_args) -> Checked<CopyResult> {
    if a.pad != 0 || a.reserved.iter().any(|&r| r != 0) {
        return Err(refuse(EINVAL, Rule::of(bindings::BLKCOPY_ERROR_STRUCT)));
    }
    copy::check_flags(a.flags)?;
    check_nr_ranges(a.nr_ranges)?;
    let (src, dst) = open_pair(a.src_fd, a.dst_fd)?;
    let ranges = read_ranges(a.ranges, a.nr_ranges)?;
    let (sb, db) = (src.bdev(), dst.bdev());
    copy::check(sb, db, &ranges)?;
    sync_caches(&src, &dst, &ranges, false)?;

    let waiter = Waiter::new()?;
    // SAFETY: `src` and `dst` hold the devices open until this function
    // returns, and `drive` returns only once the job has notified the
    // waiter (after what was in flight has ended, on a fatal signal too).
    let job = unsafe { CopyJob::start(core, sb, db, &ranges, a.flags, Notify::Driver(waiter.clone())) }?;
    // Until it ends, or a fatal signal stops it (then after what is in
    // flight has ended); the copied prefix is reported either way.
    job.drive();
    drop(job);
    let res = waiter.result();
    drop_dst_cache(&dst, &ranges);
    Ok(res)
}

/// BLKCOPY_INFO: a device's copy capability, and whether a copy from it to
/// a second device can be offloaded.
pub(crate) fn info(core: &'static Core, arg: usize) -> Result<isize> {
    let (mut reader, mut writer) = UserSlice::new(arg, size_of::<bindings::blkcopy_info>()).reader_writer();
    let mut a: bindings::blkcopy_info = reader.read()?;
    if a.size as usize != size_of::<bindings::blkcopy_info>()
        || a.flags != 0
        || a.pad != 0
        || a.reserved.iter().any(|&r| r != 0)
    {
        return Err(EINVAL);
    }
    let f = BdevFile::from_fd(a.fd)?;
    let b = f.bdev();
    let reg = core.registry();
    a.logical_block_size = b.logical_block_size();
    a.capacity = b.size();
    let f2 = match a.fd2 {
        -1 => None,
        fd2 if fd2 >= 0 => Some(BdevFile::from_fd(fd2)?),
        _ => return Err(EINVAL),
    };
    // Where each device's blocks land below stacking layers and
    // partitions: the disks whose providers copy them.
    let located = Located::new(core, b)?;
    let below = located.disks();
    let has_provider = |d: u64| reg.limits(d as *mut bindings::gendisk);
    a.provider = bindings::BLKCOPY_PROVIDER_NONE;
    a.max_copy_bytes = 0;
    a.max_ranges = 0;
    // Stacked: some part lands on another disk (a layer remapped it).
    let stacked = below.iter().any(|&d| d != b.disk() as u64);
    if stacked && below.iter().any(|&d| has_provider(d).is_some()) {
        a.provider = bindings::BLKCOPY_PROVIDER_STACKED;
    }
    // The limits every disk below allows (none unless all have a provider).
    let mut all = Some((u64::MAX, u32::MAX, bindings::BLKCOPY_PROVIDER_NONE));
    for &d in below.iter() {
        all = match (all, has_provider(d)) {
            (Some((bytes, ranges, _)), Some(l)) => Some((bytes.min(l.max_bytes), ranges.min(l.max_src_ranges), l.provider_id)),
            _ => None,
        };
    }
    if let (Some((bytes, ranges, id)), false) = (all, below.is_empty()) {
        if !stacked {
            a.provider = id;
        }
        a.max_copy_bytes = bytes;
        a.max_ranges = ranges;
    }
    a.pair_offload = 0;
    a.pair_reason = bindings::BLKCOPY_REASON_NONE;
    if let Some(f2) = &f2 {
        let b2 = f2.bdev();
        let located2 = Located::new(core, b2)?;
        let below2 = located2.disks();
        // Offloadable when every part of the first device can be copied
        // to every part of the second: the verdict for whole devices
        // (a copy's `bytes_offloaded` is the answer for its ranges).
        a.pair_reason = if b.logical_block_size() != b2.logical_block_size() {
            bindings::BLKCOPY_REASON_BLOCK_SIZE
        } else if below.iter().any(|&d| has_provider(d).is_none()) || below2.iter().any(|&d| has_provider(d).is_none()) {
            bindings::BLKCOPY_REASON_NO_PROVIDER
        } else if below.iter().any(|&s| below2.iter().any(|&d| !reg.pair_possible(s as *mut _, d as *mut _))) {
            bindings::BLKCOPY_REASON_CROSS_DEVICE
        } else {
            a.pair_offload = 1;
            bindings::BLKCOPY_REASON_NONE
        };
    }
    writer.write(&a)?;
    Ok(0)
}

/// BLKCOPY_STATS: one device's copy statistics, by index or by fd.
pub(crate) fn stats(core: &'static Core, arg: usize) -> Result<isize> {
    let (mut reader, mut writer) = UserSlice::new(arg, size_of::<bindings::blkcopy_stats>()).reader_writer();
    let mut a: bindings::blkcopy_stats = reader.read()?;
    if a.size as usize != size_of::<bindings::blkcopy_stats>()
        || a.flags & !bindings::BLKCOPY_STATS_BY_FD != 0
        || a.reserved.iter().any(|&r| r != 0)
    {
        return Err(EINVAL);
    }
    let d = if a.flags & bindings::BLKCOPY_STATS_BY_FD != 0 {
        let f = BdevFile::from_fd(a.fd)?;
        core.stats().of(f.bdev())
    } else {
        core.stats().nth(a.index as usize).ok_or(ENOENT)?
    };
    d.to_uapi(&mut a);
    writer.write(&a)?;
    Ok(0)
}
