// SPDX-License-Identifier: GPL-2.0

//! io_uring command passthrough (`include/linux/io_uring/cmd.h`): what a
//! driver's `file_operations.uring_cmd` sees, as the NVMe driver's generic
//! character device uses it (drivers/nvme/host/ioctl.c).
//!
//! A command arrives as a [`UringCmd`], borrowed for the issue call. The
//! driver answers at once ([`Issued::now`], or an error), or queues the
//! command with [`UringCmd::queue`], handing it its data (a [`QueuedCmd`])
//! and getting a [`Queued`] handle. Dropping the handle says the driver is
//! done: io_uring then runs [`QueuedCmd::complete`] in the submitting
//! task's context, which says what the CQE carries, and posts it. While
//! queued, the command is cancelable: ring teardown and the exit of the
//! submitting task call [`QueuedCmd::cancel`] (`IO_URING_F_CANCEL`).

use core::marker::PhantomData;
use core::ptr::NonNull;

use kernel::error::Result;
use kernel::ffi::c_uint;
use kernel::prelude::*;
use kernel::sync::{Arc, ArcBorrow};
use kernel::types::FromBytes;

use super::bindings;

/// How io_uring issues a command (`enum io_uring_cmd_flags`).
#[derive(Clone, Copy)]
pub struct IssueFlags(c_uint);

impl IssueFlags {
    /// The ring has 128-byte SQEs (an 80-byte command area).
    pub fn sqe128(self) -> bool {
        self.0 & bindings::BLKCOPY_IO_URING_F_SQE128 != 0
    }

    /// The ring has 32-byte CQEs (`res2` reaches user space).
    pub fn cqe32(self) -> bool {
        self.0 & bindings::BLKCOPY_IO_URING_F_CQE32 != 0
    }

    /// Issued from the submitting task, which must not wait for I/O:
    /// `EAGAIN` has io_uring issue the command again from a worker.
    pub fn nonblock(self) -> bool {
        self.0 & bindings::BLKCOPY_IO_URING_F_NONBLOCK != 0
    }

    fn cancel(self) -> bool {
        self.0 & bindings::BLKCOPY_IO_URING_F_CANCEL != 0
    }
}

/// What the driver keeps for a queued command.
pub trait QueuedCmd: Send + Sync + Sized {
    /// Stop as soon as possible: the ring is being torn down or its task
    /// exits. Called with the command still queued (its [`Queued`] handle
    /// may have been dropped already), possibly more than once.
    fn cancel(&self);

    /// In the submitting task (its memory reachable with `UserSlice`),
    /// unless `task_dead` (io_uring's fallback context: the task exits,
    /// nobody reads its memory): the CQE's `res`, and `res2` for rings with
    /// 32-byte CQEs.
    fn complete(&self, task_dead: bool) -> (i32, u64);
}

/// An io_uring command being issued to the driver.
///
/// # Invariants
///
/// `cmd` is the command io_uring passed to `file_operations.uring_cmd`
/// for a call that lasts `'a`, with `flags`.
pub struct UringCmd<'a, D> {
    cmd: NonNull<bindings::io_uring_cmd>,
    flags: IssueFlags,
    _p: PhantomData<(&'a bindings::io_uring_cmd, fn(Arc<D>))>,
}

/// What the issue call answers: a value for the CQE now, or that the
/// command was queued (only [`UringCmd::queue`] says so).
pub struct Issued(Option<i32>);

impl Issued {
    /// Complete the command at once with `res` (not negative: errors are
    /// returned as `Err`).
    pub fn now(res: i32) -> Self {
        Self(Some(res.max(0)))
    }
}

impl<'a, D: QueuedCmd> UringCmd<'a, D> {
    /// # Safety
    ///
    /// `cmd` and `flags` are what io_uring passed to the `uring_cmd` call
    /// that lasts `'a`, not with `IO_URING_F_CANCEL`.
    pub(crate) unsafe fn from_raw(cmd: NonNull<bindings::io_uring_cmd>, flags: c_uint) -> Self {
        // INVARIANT: per the contract.
        Self { cmd, flags: IssueFlags(flags), _p: PhantomData }
    }

    /// How it is issued.
    pub fn flags(&self) -> IssueFlags {
        self.flags
    }

    /// `sqe->cmd_op`.
    pub fn op(&self) -> u32 {
        // SAFETY: by the invariant `cmd` is live for this call; `cmd_op`
        // was read from the SQE by io_uring's prep and does not change.
        unsafe { bindings::blkcopy_uring_cmd_cmd_op(self.cmd.as_ptr()) }
    }

    /// A copy of the SQE's command area as a `P`, read once (the SQE may
    /// live in memory user space shares; what the driver checks is what it
    /// uses). `EINVAL` if `P` is larger than the ring's command area.
    pub fn payload<P: FromBytes>(&self) -> Result<P> {
        let area = if self.flags.sqe128() { 80 } else { 16 };
        if core::mem::size_of::<P>() > area {
            return Err(EINVAL);
        }
        // SAFETY: by the invariant the SQE is valid during this call, and
        // its command area has `area` bytes; `P` is valid for any bytes
        // (`FromBytes`), and an unaligned read copies them once.
        Ok(unsafe {
            let p = bindings::blkcopy_uring_cmd_payload(self.cmd.as_ptr()) as *const P;
            core::ptr::read_unaligned(p)
        })
    }

    /// The `user_data` of the command's SQE.
    pub fn user_data(&self) -> u64 {
        // SAFETY: by the invariant `cmd` is live.
        unsafe { bindings::blkcopy_uring_cmd_user_data(self.cmd.as_ptr()) }
    }

    /// Identifies the ring the command was issued on (for matching only).
    pub fn ring(&self) -> usize {
        // SAFETY: by the invariant `cmd` is live.
        unsafe { bindings::blkcopy_uring_cmd_ring(self.cmd.as_ptr()) as usize }
    }

    /// Queues the command with `data`, which it keeps until its CQE is
    /// posted; it becomes cancelable. Returns the handle whose drop
    /// completes it, and the answer for the issue call.
    pub fn queue(self, data: Arc<D>) -> (Queued<D>, Issued) {
        let raw = Arc::into_raw(data);
        // SAFETY: by the invariant `cmd` is live and being issued with
        // `flags`; its pdu has room for a pointer (checked at build time in
        // the helper), which holds `data`'s reference from here until
        // `complete_trampoline` takes it back. Marking it cancelable before
        // the driver can complete it keeps the two in order.
        unsafe {
            (bindings::blkcopy_uring_cmd_pdu(self.cmd.as_ptr()) as *mut *const D).write(raw);
            bindings::io_uring_cmd_mark_cancelable(self.cmd.as_ptr(), self.flags.0);
        }
        // INVARIANT: queued above; the handle is the only one.
        (Queued { cmd: self.cmd, _p: PhantomData }, Issued(None))
    }
}

/// A queued command; dropping it has the command completed (in the
/// submitting task's context).
///
/// # Invariants
///
/// `cmd` was queued by [`UringCmd::queue`] with a `D`, and is not yet
/// completed; this is its only handle.
pub struct Queued<D: QueuedCmd> {
    cmd: NonNull<bindings::io_uring_cmd>,
    _p: PhantomData<Arc<D>>,
}

// SAFETY: the handle only completes the command, which io_uring allows
// from any context; `D` is `Send + Sync`.
unsafe impl<D: QueuedCmd> Send for Queued<D> {}
// SAFETY: `&Queued` allows nothing.
unsafe impl<D: QueuedCmd> Sync for Queued<D> {}

impl<D: QueuedCmd> Drop for Queued<D> {
    fn drop(&mut self) {
        // SAFETY: by the invariant the command is queued and not completed;
        // io_uring runs the trampoline once, in task context.
        unsafe { bindings::__io_uring_cmd_do_in_task(self.cmd.as_ptr(), Some(complete_trampoline::<D>), 0) };
    }
}

unsafe extern "C" fn complete_trampoline<D: QueuedCmd>(cmd: *mut bindings::io_uring_cmd, flags: c_uint) {
    // SAFETY: io_uring calls this once for a command queued with a `D`
    // (the only user of this trampoline is `Queued::drop`), whose pdu holds
    // the reference `queue` took.
    let data = unsafe { Arc::from_raw(*(bindings::blkcopy_uring_cmd_pdu(cmd) as *const *const D)) };
    let (res, res2) = data.complete(flags & bindings::BLKCOPY_IO_URING_F_TASK_DEAD != 0);
    // SAFETY: the command is queued and this completes it, with the flags
    // io_uring gave this callback; it is taken off the cancelable list
    // under the ring's lock, after which `cancel` no longer sees it, and
    // only then is `data` released.
    unsafe { bindings::io_uring_cmd_done(cmd, res as isize, res2, flags) };
    drop(data);
}

/// Answers a `uring_cmd` call with `IO_URING_F_CANCEL`.
///
/// # Safety
///
/// `cmd` is a command that was queued by [`UringCmd::queue`] with a `D`,
/// and the call has `flags` from io_uring.
pub(crate) unsafe fn cancel<D: QueuedCmd>(cmd: NonNull<bindings::io_uring_cmd>) {
    // SAFETY: io_uring calls with `IO_URING_F_CANCEL` only for commands on
    // its cancelable list, under the ring's lock, which `io_uring_cmd_done`
    // takes to remove them before `complete_trampoline` releases the data.
    let data = unsafe { ArcBorrow::<D>::from_raw(*(bindings::blkcopy_uring_cmd_pdu(cmd.as_ptr()) as *const *const D)) };
    data.cancel();
}

/// What a `uring_cmd` issue call returns to io_uring.
pub(crate) fn issue_result(r: Result<Issued>) -> i32 {
    match r {
        Ok(Issued(Some(v))) => v,
        Ok(Issued(None)) => -(bindings::EIOCBQUEUED as i32),
        Err(e) => e.to_errno(),
    }
}

/// Whether a `uring_cmd` call asks to cancel a queued command.
pub(crate) fn is_cancel(flags: c_uint) -> bool {
    IssueFlags(flags).cancel()
}
