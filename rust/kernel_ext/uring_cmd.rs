// SPDX-License-Identifier: GPL-2.0

//! io_uring command passthrough (`include/linux/io_uring/cmd.h`): what a
//! driver's `file_operations.uring_cmd` sees, as the NVMe driver's generic
//! character device uses it (drivers/nvme/host/ioctl.c).
//!
//! A command arrives as a [`UringCmd`], borrowed for the issue call. The
//! driver answers at once ([`Issued::now`], or an error), or queues the
//! command with [`UringCmd::queue`], handing it its data (a [`QueuedCmd`],
//! which embeds an [`InTask`]). From then on the driver works on the
//! command in the submitting task's context, as the NVMe driver completes
//! its passthrough commands: [`InTask::schedule`] (from any context,
//! interrupts included) has io_uring call [`QueuedCmd::task_run`] there
//! soon, once however often it is asked before that; when `task_run`
//! returns the CQE's values, the command completes. While queued, it is
//! cancelable: ring teardown and the exit of the submitting task call
//! [`QueuedCmd::cancel`] (`IO_URING_F_CANCEL`).

use core::marker::PhantomData;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicPtr, AtomicU32, Ordering};

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
    /// Its [`InTask`].
    fn in_task(&self) -> &InTask<Self>;

    /// Stop as soon as possible: the ring is being torn down or its task
    /// exits. Called with the command still queued, possibly more than
    /// once.
    fn cancel(&self);

    /// In the submitting task (its memory reachable with `UserSlice`),
    /// unless `task_dead` (io_uring's fallback context: the task exits,
    /// nobody reads its memory), after [`InTask::schedule`]: does what it
    /// was scheduled for, and returns the CQE's `res` and `res2` (for rings
    /// with 32-byte CQEs) to complete the command, or `None` to keep it
    /// queued. May be called again after returning them (a schedule came
    /// in meanwhile): it must return them again.
    fn task_run(&self, task_dead: bool) -> Option<(i32, u64)>;
}

/// A run of [`QueuedCmd::task_run`] is scheduled.
const SCHEDULED: u32 = 1 << 0;
/// The command completed: nothing may touch it any more.
const COMPLETED: u32 = 1 << 1;

/// The link between a queued command and its driver data: schedules runs
/// in the submitting task and completes the command exactly once.
///
/// # Invariants
///
/// Once `cmd` is set (by [`UringCmd::queue`] with the `D` that embeds
/// this), it is a queued command whose pdu holds a reference to that `D`,
/// until `state` has [`COMPLETED`]; while `state` has [`SCHEDULED`] and
/// not [`COMPLETED`], exactly one run of `task_trampoline::<D>` is pending
/// for it and the command cannot complete before that run.
pub struct InTask<D> {
    cmd: AtomicPtr<bindings::io_uring_cmd>,
    state: AtomicU32,
    _p: PhantomData<fn(D)>,
}

impl<D: QueuedCmd> InTask<D> {
    /// Not attached to a command yet.
    pub const fn new() -> Self {
        // INVARIANT: no command.
        Self { cmd: AtomicPtr::new(core::ptr::null_mut()), state: AtomicU32::new(0), _p: PhantomData }
    }

    /// Has io_uring run [`QueuedCmd::task_run`] soon in the submitting
    /// task's context. Any context. Nothing once the command completed,
    /// or before it was queued.
    pub fn schedule(&self) {
        let cmd = self.cmd.load(Ordering::Acquire);
        if cmd.is_null() {
            return;
        }
        let mut s = self.state.load(Ordering::Acquire);
        loop {
            if s & (SCHEDULED | COMPLETED) != 0 {
                return;
            }
            match self.state.compare_exchange(s, s | SCHEDULED, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => break,
                Err(now) => s = now,
            }
        }
        // SAFETY: by the invariant the command is queued (not completed:
        // it cannot complete while `SCHEDULED`, set above by us), with a
        // `D` in its pdu, and no run of it is pending: io_uring may take its
        // task work entry.
        unsafe { bindings::__io_uring_cmd_do_in_task(cmd, Some(task_trampoline::<D>), 0) };
    }
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

    /// Queues the command with `data`, which it keeps until it completes
    /// (from [`QueuedCmd::task_run`]); it becomes cancelable. Returns the
    /// answer for the issue call.
    pub fn queue(self, data: Arc<D>) -> Issued {
        let cmd = self.cmd.as_ptr();
        let raw = Arc::into_raw(data);
        // SAFETY: by the invariant `cmd` is live and being issued: its pdu
        // is ours, and has room for a pointer (checked at build time in the
        // helper), which holds `data`'s reference from here.
        unsafe { (bindings::blkcopy_uring_cmd_pdu(cmd) as *mut *const D).write(raw) };
        // SAFETY: `raw` is the live reference just made.
        let it = unsafe { (*raw).in_task() };
        // INVARIANT: queued with `D` (this call returns that it is), its pdu
        // holds the reference. Each `D` is queued once.
        if it.cmd.compare_exchange(core::ptr::null_mut(), cmd, Ordering::AcqRel, Ordering::Acquire).is_err() {
            // SAFETY: the reference `into_raw` gave; the pdu is not used
            // (the command fails at once).
            drop(unsafe { Arc::from_raw(raw) });
            return Issued(Some(EINVAL.to_errno()));
        }
        // SAFETY: the command is live and being issued with `flags`. Marked
        // cancelable before it can complete (nothing scheduled it yet: the
        // driver had no command to schedule), which keeps the two in order.
        unsafe { bindings::io_uring_cmd_mark_cancelable(cmd, self.flags.0) };
        // The pdu's reference stays until `task_trampoline` completes it.
        Issued(None)
    }
}

unsafe extern "C" fn task_trampoline<D: QueuedCmd>(cmd: *mut bindings::io_uring_cmd, flags: c_uint) {
    // SAFETY: io_uring runs this for a command `InTask::<D>::schedule`
    // scheduled: queued with a `D`, whose pdu holds the reference `queue`
    // took, and not completed (it cannot while `SCHEDULED`).
    let raw = unsafe { *(bindings::blkcopy_uring_cmd_pdu(cmd) as *const *const D) };
    // SAFETY: as above: the reference stays until the command completes,
    // which only this function does, below.
    let data = unsafe { ArcBorrow::<D>::from_raw(raw) };
    let it = data.in_task();
    // From here a new schedule queues a new run (the entry is free again).
    it.state.fetch_and(!SCHEDULED, Ordering::AcqRel);
    let Some((res, res2)) = data.task_run(flags & bindings::BLKCOPY_IO_URING_F_TASK_DEAD != 0) else { return };
    // Complete, unless a run was scheduled meanwhile (it completes then).
    if it.state.compare_exchange(0, COMPLETED, Ordering::AcqRel, Ordering::Acquire).is_err() {
        return;
    }
    // SAFETY: the command is queued and this completes it, once (the state
    // is `COMPLETED`), with the flags io_uring gave this callback; it is
    // taken off the cancelable list under the ring's lock, after which
    // `cancel` no longer sees it, and only then is the reference released.
    unsafe {
        bindings::io_uring_cmd_done(cmd, res as isize, res2, flags);
        drop(Arc::from_raw(raw));
    }
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
    // takes to remove them before `task_trampoline` releases the data.
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
