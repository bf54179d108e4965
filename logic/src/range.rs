// SPDX-License-Identifier: GPL-2.0

//! Validation of copy ranges against the devices they name.
//!
//! A copy range is `len` bytes from byte offset `src` of the source device to
//! byte offset `dst` of the destination device. Offsets are relative to the
//! device as opened (a partition's offsets are partition-relative). The
//! checks are the ones BLKCOPY documents, in the order it documents them.

/// One range of a copy, in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CopyRange {
    /// Byte offset on the source device.
    pub src: u64,
    /// Byte offset on the destination device.
    pub dst: u64,
    /// Length in bytes.
    pub len: u64,
}

/// What the checks need to know about a device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DevGeom {
    /// Size in bytes of the device as opened (the partition, for a partition).
    pub size: u64,
    /// Logical block size in bytes (a power of two).
    pub lbs: u32,
    /// Identity of the whole disk the device lives on.
    pub disk: u64,
    /// Byte offset of the device on that whole disk (0 unless a partition).
    pub start: u64,
}

/// Why a range was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeError {
    /// A zero-length range.
    ZeroLength,
    /// An offset or the length is not a multiple of the larger of the two
    /// devices' logical block sizes.
    Misaligned,
    /// `offset + len` overflows 64 bits.
    Overflow,
    /// The source range reaches past the end of the source device.
    SrcPastEnd,
    /// The destination range reaches past the end of the destination device.
    DstPastEnd,
    /// The destination overlaps the source of the range with this index
    /// (its own, or another's of a vectored copy) on the same disk.
    DstOverlapsSource(usize),
    /// The destination overlaps the destination of the range with this
    /// index.
    DstOverlapsDestination(usize),
}

impl RangeError {
    /// What the check compared with, as the uAPI reports it
    /// (`struct blkcopy_error.value`): the alignment, the device's size,
    /// the other range's index; 0 for the rest.
    pub fn value(self, src: &DevGeom, dst: &DevGeom) -> u64 {
        match self {
            RangeError::Misaligned => copy_alignment(src, dst),
            RangeError::SrcPastEnd => src.size,
            RangeError::DstPastEnd => dst.size,
            RangeError::DstOverlapsSource(j) | RangeError::DstOverlapsDestination(j) => j as u64,
            RangeError::ZeroLength | RangeError::Overflow => 0,
        }
    }
}

/// The alignment every offset and length must have: the larger of the two
/// logical block sizes.
pub fn copy_alignment(src: &DevGeom, dst: &DevGeom) -> u64 {
    u64::from(src.lbs.max(dst.lbs))
}

fn end_of(off: u64, len: u64) -> Result<u64, RangeError> {
    off.checked_add(len).ok_or(RangeError::Overflow)
}

/// Checks one range on its own (an overlap of its destination with its
/// own source names it as range 0).
pub fn check_range(r: &CopyRange, src: &DevGeom, dst: &DevGeom) -> Result<(), RangeError> {
    if r.len == 0 {
        return Err(RangeError::ZeroLength);
    }
    let align = copy_alignment(src, dst);
    if align == 0 || r.src % align != 0 || r.dst % align != 0 || r.len % align != 0 {
        return Err(RangeError::Misaligned);
    }
    let src_end = end_of(r.src, r.len)?;
    let dst_end = end_of(r.dst, r.len)?;
    if src_end > src.size {
        return Err(RangeError::SrcPastEnd);
    }
    if dst_end > dst.size {
        return Err(RangeError::DstPastEnd);
    }
    // Absolute positions on the whole disk cannot overflow once the range
    // is inside a device that lies on that disk, but do not rely on it.
    end_of(src.start, src_end)?;
    end_of(dst.start, dst_end)?;
    if src.disk == dst.disk && overlaps(src.start + r.src, dst.start + r.dst, r.len, r.len) {
        return Err(RangeError::DstOverlapsSource(0));
    }
    Ok(())
}

fn overlaps(a: u64, b: u64, alen: u64, blen: u64) -> bool {
    a < b.saturating_add(blen) && b < a.saturating_add(alen)
}

/// Checks every range of a vectored copy, and that no destination overlaps
/// another range's source or destination on the same disk (the ranges are
/// copied concurrently, so such a vector has no defined result).
///
/// On error, returns the index of the first offending range with the
/// reason. Of two ranges that overlap, the one named is the one whose
/// destination overlaps, and the reason names the other.
pub fn check_ranges(
    ranges: &[CopyRange],
    src: &DevGeom,
    dst: &DevGeom,
) -> Result<(), (usize, RangeError)> {
    for (i, r) in ranges.iter().enumerate() {
        check_range(r, src, dst).map_err(|e| match e {
            RangeError::DstOverlapsSource(_) => (i, RangeError::DstOverlapsSource(i)),
            e => (i, e),
        })?;
    }
    let same_disk = src.disk == dst.disk;
    for (i, a) in ranges.iter().enumerate() {
        for (j, b) in ranges[..i].iter().enumerate() {
            let (ad, bd) = (dst.start + a.dst, dst.start + b.dst);
            if overlaps(ad, bd, a.len, b.len) {
                return Err((i, RangeError::DstOverlapsDestination(j)));
            }
            if same_disk && overlaps(ad, src.start + b.src, a.len, b.len) {
                return Err((i, RangeError::DstOverlapsSource(j)));
            }
            if same_disk && overlaps(src.start + a.src, bd, a.len, b.len) {
                return Err((j, RangeError::DstOverlapsSource(i)));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: DevGeom = DevGeom { size: 1 << 30, lbs: 512, disk: 1, start: 0 };
    const B4K: DevGeom = DevGeom { size: 1 << 30, lbs: 4096, disk: 2, start: 0 };
    const P1: DevGeom = DevGeom { size: 1 << 20, lbs: 512, disk: 3, start: 1 << 20 };
    const P2: DevGeom = DevGeom { size: 1 << 20, lbs: 512, disk: 3, start: 2 << 20 };

    fn r(src: u64, dst: u64, len: u64) -> CopyRange {
        CopyRange { src, dst, len }
    }

    #[test]
    fn accepts_valid_ranges() {
        assert_eq!(check_range(&r(0, 4096, 4096), &A, &A), Ok(()));
        assert_eq!(check_range(&r(0, 0, 1 << 30), &A, &B4K), Ok(()));
        assert_eq!(check_range(&r(0, 0, 1 << 20), &P1, &P2), Ok(()));
    }

    #[test]
    fn zero_length() {
        assert_eq!(check_range(&r(0, 4096, 0), &A, &A), Err(RangeError::ZeroLength));
    }

    #[test]
    fn alignment_is_the_larger_block_size() {
        assert_eq!(check_range(&r(512, 0, 4096), &A, &B4K), Err(RangeError::Misaligned));
        assert_eq!(check_range(&r(0, 0, 512), &A, &B4K), Err(RangeError::Misaligned));
        assert_eq!(check_range(&r(0, 512, 512), &A, &A), Ok(()));
        assert_eq!(check_range(&r(1, 512, 512), &A, &A), Err(RangeError::Misaligned));
    }

    #[test]
    fn overflow_and_bounds() {
        let big = u64::MAX - 511;
        assert_eq!(check_range(&r(big, 0, 1024), &A, &B4K.clone_with_lbs(512)), Err(RangeError::Overflow));
        assert_eq!(check_range(&r((1 << 30) - 512, 0, 1024), &A, &B4K.clone_with_lbs(512)), Err(RangeError::SrcPastEnd));
        assert_eq!(check_range(&r(0, (1 << 30) - 512, 1024), &A, &A), Err(RangeError::DstPastEnd));
        assert_eq!(check_range(&r(0, 0, 2 << 20), &P1, &P2), Err(RangeError::SrcPastEnd));
        assert_eq!(check_range(&r(0, 1 << 20, 4096), &P1, &P2), Err(RangeError::DstPastEnd));
    }

    #[test]
    fn overlap_on_one_device_and_between_partitions() {
        assert_eq!(check_range(&r(0, 4096, 8192), &A, &A), Err(RangeError::DstOverlapsSource(0)));
        assert_eq!(check_range(&r(4096, 0, 8192), &A, &A), Err(RangeError::DstOverlapsSource(0)));
        assert_eq!(check_range(&r(0, 8192, 8192), &A, &A), Ok(()));
        // Partition-relative offsets that do not overlap, absolute ones that do.
        let p1_big = DevGeom { size: 4 << 20, ..P1 };
        assert_eq!(check_range(&r(1 << 20, 0, 4096), &p1_big, &P2), Err(RangeError::DstOverlapsSource(0)));
    }

    #[test]
    fn vectors() {
        let ok = [r(0, 1 << 20, 4096), r(8192, (1 << 20) + 8192, 4096)];
        assert_eq!(check_ranges(&ok, &A, &A), Ok(()));
        let dst_dst = [r(0, 1 << 20, 8192), r(65536, (1 << 20) + 4096, 4096)];
        assert_eq!(check_ranges(&dst_dst, &A, &A), Err((1, RangeError::DstOverlapsDestination(0))));
        // Range 1's source is range 0's destination: range 0 is named.
        let src_dst = [r(0, 1 << 20, 4096), r(1 << 20, 2 << 20, 4096)];
        assert_eq!(check_ranges(&src_dst, &A, &A), Err((0, RangeError::DstOverlapsSource(1))));
        // Range 1's destination is range 0's source.
        let dst_src = [r(1 << 20, 2 << 20, 4096), r(8192, 1 << 20, 4096)];
        assert_eq!(check_ranges(&dst_src, &A, &A), Err((1, RangeError::DstOverlapsSource(0))));
        // A range's destination over its own source names itself.
        let own = [r(0, 1 << 20, 4096), r(65536, 65536 + 512, 4096)];
        assert_eq!(check_ranges(&own, &A, &A), Err((1, RangeError::DstOverlapsSource(1))));
        // Different disks: a destination may equal another range's source offset.
        let cross = [r(0, 1 << 20, 4096), r(1 << 20, 2 << 20, 4096)];
        assert_eq!(check_ranges(&cross, &A, &B4K.clone_with_lbs(512)), Ok(()));
        let bad = [r(0, 4096, 4096), r(0, 0, 0)];
        assert_eq!(check_ranges(&bad, &A, &B4K), Err((1, RangeError::ZeroLength)));
        let bad = [r(512, 4096, 4096), r(0, 0, 4096)];
        assert_eq!(check_ranges(&bad, &A, &B4K), Err((0, RangeError::Misaligned)));
    }

    impl DevGeom {
        const fn clone_with_lbs(self, lbs: u32) -> Self {
            DevGeom { lbs, ..self }
        }
    }
}
