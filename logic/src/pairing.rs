// SPDX-License-Identifier: GPL-2.0

//! The pairing state of one copy token.
//!
//! A copy is a read half and a write half over the same logical range
//! `[0, len)` of the copy. The read half travels down the stack first; each
//! piece of it that reaches a device with a copy provider records where
//! that part of the source physically lives ([`Sources::record`]). The write
//! half travels next; each piece that reaches a provider asks which source
//! extents back its logical range ([`Sources::pair`]). Parts with no
//! recorded source (the read half hit a device without a provider, or was
//! split further than the token can hold) pair with nothing and fall back.

/// Where one piece of the source lives: an opaque device identity (the
/// kernel uses the `gendisk` address) and a byte offset on that device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SourceExtent {
    /// Logical offset within the copy.
    pub off: u64,
    /// Length in bytes.
    pub len: u64,
    /// Identity of the device holding the data.
    pub dev: u64,
    /// Byte offset of the data on that device.
    pub pos: u64,
}

/// A segment of a write piece: its logical range and, when paired, the
/// physical source (device and byte offset of its first byte).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    /// Logical offset within the copy.
    pub off: u64,
    /// Length in bytes.
    pub len: u64,
    /// `(device, byte offset)` of the source, or `None`: fall back.
    pub src: Option<(u64, u64)>,
}

/// Why a source piece could not be recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordError {
    /// More pieces than the token holds.
    Full,
    /// The piece overlaps one recorded before (a stacking layer bug).
    Overlap,
    /// Empty piece, or one past the end of the copy.
    OutOfRange,
}

/// Source extents recorded by the read half, sorted by logical offset.
#[derive(Clone, Debug)]
pub struct Sources<const N: usize> {
    len: u64,
    ext: [SourceExtent; N],
    n: usize,
}

impl<const N: usize> Sources<N> {
    /// Pairing state for a copy of `len` bytes.
    pub const fn new(len: u64) -> Self {
        Self { len, ext: [SourceExtent { off: 0, len: 0, dev: 0, pos: 0 }; N], n: 0 }
    }

    /// The recorded extents.
    pub fn extents(&self) -> &[SourceExtent] {
        &self.ext[..self.n]
    }

    /// Records a read-half piece. Adjacent pieces that continue each other
    /// on the same device are merged.
    pub fn record(&mut self, off: u64, len: u64, dev: u64, pos: u64) -> Result<(), RecordError> {
        let end = off.checked_add(len).ok_or(RecordError::OutOfRange)?;
        if len == 0 || end > self.len {
            return Err(RecordError::OutOfRange);
        }
        let i = self.extents().iter().position(|e| e.off >= off).unwrap_or(self.n);
        if i < self.n && self.ext[i].off < end {
            return Err(RecordError::Overlap);
        }
        if i > 0 {
            let p = self.ext[i - 1];
            if p.off + p.len > off {
                return Err(RecordError::Overlap);
            }
            if p.off + p.len == off && p.dev == dev && p.pos.checked_add(p.len) == Some(pos) {
                self.ext[i - 1].len += len;
                return Ok(());
            }
        }
        if self.n == N {
            return Err(RecordError::Full);
        }
        self.ext.copy_within(i..self.n, i + 1);
        self.ext[i] = SourceExtent { off, len, dev, pos };
        self.n += 1;
        Ok(())
    }

    /// Bytes of the copy that have a recorded source.
    pub fn recorded(&self) -> u64 {
        self.extents().iter().map(|e| e.len).sum()
    }

    /// Splits the write piece `[off, off + len)` into segments at source
    /// extent boundaries, each paired with its source or with nothing.
    pub fn pair(&self, off: u64, len: u64) -> Pair<'_, N> {
        let end = off.saturating_add(len).min(self.len);
        Pair { src: self, pos: off.min(end), end }
    }
}

/// Iterator returned by [`Sources::pair`].
pub struct Pair<'a, const N: usize> {
    src: &'a Sources<N>,
    pos: u64,
    end: u64,
}

impl<const N: usize> Iterator for Pair<'_, N> {
    type Item = Segment;

    fn next(&mut self) -> Option<Segment> {
        if self.pos >= self.end {
            return None;
        }
        let pos = self.pos;
        let ext = self.src.extents();
        let seg = match ext.iter().find(|e| e.off + e.len > pos) {
            Some(e) if e.off <= pos => {
                let len = (e.off + e.len).min(self.end) - pos;
                Segment { off: pos, len, src: Some((e.dev, e.pos + (pos - e.off))) }
            }
            Some(e) => Segment { off: pos, len: e.off.min(self.end) - pos, src: None },
            None => Segment { off: pos, len: self.end - pos, src: None },
        };
        self.pos += seg.len;
        Some(seg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_merges_contiguous_pieces() {
        let mut s = Sources::<4>::new(1 << 20);
        s.record(0, 4096, 7, 1 << 20).unwrap();
        s.record(4096, 4096, 7, (1 << 20) + 4096).unwrap();
        assert_eq!(s.extents().len(), 1);
        s.record(8192, 4096, 8, 0).unwrap(); // other device: new extent
        assert_eq!(s.extents().len(), 2);
        assert_eq!(s.recorded(), 12288);
        assert_eq!(s.record(4096, 512, 7, 0), Err(RecordError::Overlap));
        assert_eq!(s.record(1 << 20, 512, 7, 0), Err(RecordError::OutOfRange));
        assert_eq!(s.record(0, 0, 7, 0), Err(RecordError::OutOfRange));
    }

    #[test]
    fn pair_splits_at_boundaries_and_holes() {
        let mut s = Sources::<4>::new(100);
        s.record(10, 20, 1, 1000).unwrap();
        s.record(50, 30, 2, 0).unwrap();
        let segs: [Segment; 5] = {
            let mut it = s.pair(0, 100);
            core::array::from_fn(|_| it.next().unwrap())
        };
        assert_eq!(segs[0], Segment { off: 0, len: 10, src: None });
        assert_eq!(segs[1], Segment { off: 10, len: 20, src: Some((1, 1000)) });
        assert_eq!(segs[2], Segment { off: 30, len: 20, src: None });
        assert_eq!(segs[3], Segment { off: 50, len: 30, src: Some((2, 0)) });
        assert_eq!(segs[4], Segment { off: 80, len: 20, src: None });
        assert_eq!(s.pair(0, 100).count(), 5);
        // A piece starting inside an extent gets the matching source offset.
        let mut it = s.pair(15, 10);
        assert_eq!(it.next(), Some(Segment { off: 15, len: 10, src: Some((1, 1005)) }));
        assert_eq!(it.next(), None);
    }

    #[test]
    fn pair_covers_the_piece_exactly() {
        let mut s = Sources::<8>::new(1000);
        for i in 0..8u64 {
            let _ = s.record(i * 120, 60, i % 3, i * 4096);
        }
        for off in (0..1000).step_by(37) {
            for len in [1u64, 59, 60, 61, 500, 2000] {
                let mut pos = off;
                for seg in s.pair(off, len) {
                    assert_eq!(seg.off, pos);
                    assert!(seg.len > 0);
                    pos += seg.len;
                }
                assert_eq!(pos, (off + len).min(1000));
            }
        }
    }
}
