// SPDX-License-Identifier: GPL-2.0

//! Asynchronous copies through io_uring: BLKCOPY_URING_COPY and
//! BLKCOPY_URING_CANCEL on `/dev/blkcopy` (Documentation/blkcopy.rst,
//! "Asynchronous copies: io_uring"), on the `io-uring` crate.
//!
//! A [`CopyRing`] is a ring with 128-byte SQEs and 32-byte CQEs. Copies are
//! queued with [`CopyRing::push_copy`], sent with [`CopyRing::submit`], and
//! their results collected with [`CopyRing::wait`] / [`CopyRing::poll`], in
//! the order the copies end.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::mem::size_of;
use std::os::fd::{AsRawFd, RawFd};

use io_uring::{cqueue, opcode, squeue, types, IoUring};

use crate::{iow, iowr, Control, Copied, CopyError, Range};

/// `struct blkcopy_uring_copy`: the SQE's command area of a copy.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct UringCopy {
    pub size: u32,
    pub flags: u32,
    pub src_fd: i32,
    pub dst_fd: i32,
    pub ranges: u64,
    pub nr_ranges: u32,
    pub pad: u32,
    pub src_offset: u64,
    pub dst_offset: u64,
    pub length: u64,
    pub result: u64,
    pub result_size: u32,
    pub pad2: u32,
    pub reserved: u64,
}

/// `struct blkcopy_uring_result`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct UringResult {
    pub bytes_copied: u64,
    pub bytes_offloaded: u64,
    pub error: crate::Refusal,
}

/// `struct blkcopy_uring_cancel`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct UringCancel {
    pub size: u32,
    pub flags: u32,
    pub user_data: u64,
    pub reserved: [u64; 2],
}

/// `BLKCOPY_URING_COPY` (`sqe->cmd_op`).
pub const URING_COPY: u32 = iowr(0x80, size_of::<UringCopy>()) as u32;
/// `BLKCOPY_URING_CANCEL`.
pub const URING_CANCEL: u32 = iow(0x81, size_of::<UringCancel>()) as u32;
/// `BLKCOPY_CANCEL_ALL`.
pub const CANCEL_ALL: u32 = 1 << 0;

/// The bytes of a structure as an SQE command area (80 bytes, zero-padded).
pub fn cmd_bytes<T: Copy>(v: &T) -> [u8; 80] {
    assert!(size_of::<T>() <= 80);
    let mut out = [0u8; 80];
    // SAFETY: `T` is a plain `repr(C)` structure of `size_of::<T>()` bytes
    // (all of this module's are, without padding), copied into `out`.
    unsafe { std::ptr::copy_nonoverlapping(v as *const T as *const u8, out.as_mut_ptr(), size_of::<T>()) };
    out
}

impl UringCopy {
    /// A copy of `ranges` (one inline, more through a pointer to them,
    /// which must stay valid until the copy's CQE).
    pub fn new(src: RawFd, dst: RawFd, ranges: &[Range], flags: u32) -> Self {
        let mut c = UringCopy { size: size_of::<Self>() as u32, flags, src_fd: src, dst_fd: dst, ..Default::default() };
        match ranges {
            [r] => {
                c.src_offset = r.src_offset;
                c.dst_offset = r.dst_offset;
                c.length = r.length;
            }
            _ => {
                c.ranges = ranges.as_ptr() as u64;
                c.nr_ranges = ranges.len() as u32;
            }
        }
        c
    }
}

/// Names a copy submitted on a [`CopyRing`].
pub type CopyId = u64;

/// What the ring reports.
#[derive(Debug)]
pub enum Event {
    /// A copy ended.
    Copy { id: CopyId, result: Result<Copied, CopyError> },
    /// A cancel request ended: how many copies it stopped, or the error
    /// (`ENOENT`: none was in progress).
    Cancel { id: CopyId, result: io::Result<u32> },
}

struct Pending {
    /// The ranges the kernel reads when it issues the copy.
    _ranges: Vec<Range>,
    result: Box<UringResult>,
}

/// Bit of a cancel request's `user_data` (copies count up from 0).
const CANCEL_TAG: u64 = 1 << 63;

/// An io_uring ring for copies through one `/dev/blkcopy`.
pub struct CopyRing {
    ring: IoUring<squeue::Entry128, cqueue::Entry32>,
    ctl: File,
    pending: HashMap<u64, Pending>,
    cancels: usize,
    next: u64,
}

impl CopyRing {
    /// A ring with room for `entries` queued submissions (copies in flight
    /// are not limited by it: completions are never dropped).
    pub fn new(ctl: &Control, entries: u32) -> io::Result<Self> {
        let ring = IoUring::<squeue::Entry128, cqueue::Entry32>::builder()
            .setup_cqsize(entries.max(1) * 4)
            .build(entries.max(1))?;
        Ok(Self { ring, ctl: ctl.file().try_clone()?, pending: HashMap::new(), cancels: 0, next: 0 })
    }

    /// Copies submitted or queued whose result has not been collected.
    pub fn in_flight(&self) -> usize {
        self.pending.len()
    }

    /// Cancel requests not yet collected.
    pub fn cancels_in_flight(&self) -> usize {
        self.cancels
    }

    /// The underlying ring (tests use it to send malformed commands).
    pub fn ring(&mut self) -> &mut IoUring<squeue::Entry128, cqueue::Entry32> {
        &mut self.ring
    }

    fn push(&mut self, e: squeue::Entry128) -> io::Result<()> {
        if self.ring.submission().is_full() {
            self.ring.submit()?;
        }
        // SAFETY: what the entry points to (the command area is copied into
        // the SQE; the ranges and result buffers are owned by `pending`)
        // stays valid until its completion is collected.
        unsafe { self.ring.submission().push(&e) }.map_err(|_| io::Error::from(io::ErrorKind::WouldBlock))
    }

    /// Queues a copy of `ranges` from `src` (open for reading) to `dst`
    /// (open for writing); sent by the next [`Self::submit`] or wait.
    pub fn push_copy(&mut self, src: RawFd, dst: RawFd, ranges: &[Range], flags: u32) -> io::Result<CopyId> {
        let id = self.next;
        let ranges = ranges.to_vec();
        let mut result = Box::<UringResult>::default();
        let mut c = UringCopy::new(src, dst, &ranges, flags);
        c.result = &mut *result as *mut UringResult as u64;
        c.result_size = size_of::<UringResult>() as u32;
        let e = opcode::UringCmd80::new(types::Fd(self.ctl.as_raw_fd()), URING_COPY)
            .cmd(cmd_bytes(&c))
            .build()
            .user_data(id);
        self.push(e)?;
        self.next += 1;
        self.pending.insert(id, Pending { _ranges: ranges, result });
        Ok(id)
    }

    /// Queues a request to stop copy `id` (submitted on this ring).
    pub fn push_cancel(&mut self, id: CopyId) -> io::Result<()> {
        let c = UringCancel { size: size_of::<UringCancel>() as u32, flags: 0, user_data: id, reserved: [0; 2] };
        let e = opcode::UringCmd80::new(types::Fd(self.ctl.as_raw_fd()), URING_CANCEL)
            .cmd(cmd_bytes(&c))
            .build()
            .user_data(id | CANCEL_TAG);
        self.push(e)?;
        self.cancels += 1;
        Ok(())
    }

    /// Sends what is queued.
    pub fn submit(&mut self) -> io::Result<usize> {
        self.ring.submit()
    }

    /// Sends what is queued and waits until at least `want` events are
    /// available, then returns every available event.
    pub fn wait(&mut self, want: usize) -> io::Result<Vec<Event>> {
        let mut out = self.poll();
        while out.len() < want {
            let need = want - out.len();
            match self.ring.submit_and_wait(need) {
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
                Err(e) => return Err(e),
            }
            out.extend(self.poll());
        }
        Ok(out)
    }

    /// Every event available now.
    pub fn poll(&mut self) -> Vec<Event> {
        let cqes: Vec<cqueue::Entry32> = self.ring.completion().collect();
        cqes.into_iter().filter_map(|c| self.event(c)).collect()
    }

    fn event(&mut self, c: cqueue::Entry32) -> Option<Event> {
        let ud = c.user_data();
        let res = c.result();
        if ud & CANCEL_TAG != 0 {
            self.cancels = self.cancels.saturating_sub(1);
            let result = if res < 0 { Err(io::Error::from_raw_os_error(-res)) } else { Ok(res as u32) };
            return Some(Event::Cancel { id: ud & !CANCEL_TAG, result });
        }
        let p = self.pending.remove(&ud)?;
        // The copied prefix is in the CQE; what the device copied in the
        // result structure, written before the CQE was posted (both zero
        // for a copy refused before it started).
        let done = Copied { copied: c.big_cqe()[0], offloaded: p.result.bytes_offloaded };
        let result = if res < 0 {
            Err(CopyError { error: io::Error::from_raw_os_error(-res), done, refused: p.result.error })
        } else {
            Ok(done)
        };
        Some(Event::Copy { id: ud, result })
    }
}
