// SPDX-License-Identifier: GPL-2.0

//! Asynchronous copies: the io_uring commands of `/dev/blkcopy`,
//! BLKCOPY_URING_COPY and BLKCOPY_URING_CANCEL
//! (include/uapi/linux/blkcopy.h, Documentation/blkcopy.rst).
//!
//! A copy is checked as BLKCOPY checks it when it is issued, then started
//! as a job stepped by its [`UringCopy`]: the first step (routing, device
//! commands) in the issue call, the others in the submitting task's
//! context (`QueuedCmd::task_run`), where the job's I/O completions have it
//! scheduled, as a BLKCOPY caller steps its job when woken. The step that
//! ends the job also posts the CQE there. Copies in progress are listed
//! per control device, for cancellation by the `user_data` of their SQE.

use core::mem::size_of;

use kernel::alloc::{flags::GFP_KERNEL, KVec};
use kernel::new_mutex;
use kernel::prelude::*;
use kernel::sync::{Arc, Mutex};
use kernel::types::{AsBytes, FromBytes};
use kernel::uaccess::UserSlice;

use crate::copy::{self, refuse, Checked, CopyResult, Rule};
use crate::ioctl;
use crate::job::{CopyDone, CopyJob, Core, JobStepper, Notify};
use crate::kernel_ext::bindings;
use crate::kernel_ext::block::BdevFile;
use crate::kernel_ext::NoIo;
use crate::kernel_ext::uring_cmd::{InTask, Issued, QueuedCmd, UringCmd};
use crate::range::CopyRange;

// SAFETY: plain integer structures without padding holes (the header pads
// explicitly), valid for any bit pattern.
unsafe impl FromBytes for bindings::blkcopy_uring_copy {}
// SAFETY: as above.
unsafe impl FromBytes for bindings::blkcopy_uring_cancel {}
// SAFETY: as above.
unsafe impl AsBytes for bindings::blkcopy_uring_result {}

// Both fit the command area of a 128-byte SQE.
const _: () = assert!(
    size_of::<bindings::blkcopy_uring_copy>() <= 80 && size_of::<bindings::blkcopy_uring_cancel>() <= 80
);

pub(crate) const URING_COPY: u32 =
    kernel::ioctl::_IOWR::<bindings::blkcopy_uring_copy>(bindings::BLKCOPY_IOC_MAGIC, 0x80);
pub(crate) const URING_CANCEL: u32 =
    kernel::ioctl::_IOW::<bindings::blkcopy_uring_cancel>(bindings::BLKCOPY_IOC_MAGIC, 0x81);

/// The copies in progress of one control device, in slots (a slot is
/// reused once its copy has ended: as many as were ever in progress at once).
pub(crate) type InProgress = Mutex<KVec<Option<Arc<UringCopy>>>>;

/// Creates an empty list of copies in progress.
pub(crate) fn in_progress() -> Result<Arc<InProgress>> {
    Arc::pin_init(new_mutex!(KVec::new()), GFP_KERNEL)
}

struct State {
    /// The job, until it has notified.
    job: Option<Arc<CopyJob>>,
    cancelled: bool,
    done: bool,
    res: CopyResult,
}

/// One asynchronous copy: it holds the devices open until its CQE is
/// posted, after the job's last I/O.
#[pin_data]
pub(crate) struct UringCopy {
    src: BdevFile,
    dst: BdevFile,
    ranges: KVec<CopyRange>,
    /// User address of the `struct blkcopy_uring_result`, or 0.
    result: u64,
    ring: usize,
    user_data: u64,
    list: Arc<InProgress>,
    in_task: InTask<UringCopy>,
    #[pin]
    state: Mutex<State>,
}

impl UringCopy {
    /// Asks the copy to stop; it completes once what it has in flight has
    /// ended (with `ECANCELED` unless it had finished).
    fn stop(&self) {
        let job = {
            let mut st = self.state.lock();
            st.cancelled = true;
            st.job.clone()
        };
        if let Some(job) = job {
            job.cancel();
        }
    }

    fn unlist(&self) {
        let mut list = self.list.lock();
        if let Some(slot) = list.iter_mut().find(|c| c.as_ref().is_some_and(|c| core::ptr::eq(&**c, self))) {
            *slot = None;
        }
    }

    /// Ends the copy with `res`: it leaves the list. Its CQE is posted by
    /// the next `task_run`, which whoever ran the ending step makes sure
    /// of: `task_run` itself, or the issue (`copy`).
    fn end(&self, res: &CopyResult) {
        self.unlist();
        let job = {
            let mut st = self.state.lock();
            st.res = *res;
            st.done = true;
            st.job.take()
        };
        drop(job);
    }

    fn done(&self) -> bool {
        self.state.lock().done
    }
}

impl CopyDone for UringCopy {
    fn copy_done(&self, res: &CopyResult) {
        self.end(res);
    }
}

impl JobStepper for UringCopy {
    fn schedule_step(&self) {
        self.in_task.schedule();
    }
}

impl QueuedCmd for UringCopy {
    fn in_task(&self) -> &InTask<Self> {
        &self.in_task
    }

    fn cancel(&self) {
        self.stop();
    }

    fn task_run(&self, task_dead: bool) -> Option<(i32, u64)> {
        let job = self.state.lock().job.clone();
        if let Some(job) = job {
            job.step_now();
        }
        let (res, cancelled, done) = {
            let st = self.state.lock();
            (st.res, st.cancelled, st.done)
        };
        if !done {
            return None;
        }
        ioctl::drop_dst_cache(&self.dst, &self.ranges);
        let mut status = res.status;
        if cancelled && status == EINTR.to_errno() {
            status = crate::kernel_ext::code::ecanceled().to_errno();
        }
        if self.result != 0 && !task_dead {
            let out = result_of(&res);
            let w = UserSlice::new(self.result as usize, size_of::<bindings::blkcopy_uring_result>()).writer().write(&out);
            if w.is_err() && status == 0 {
                status = EFAULT.to_errno();
            }
        }
        Some((status, res.copied))
    }
}

/// BLKCOPY_URING_COPY's checks (BLKCOPY's, and the inline range's): the
/// devices and ranges of a copy that may start.
fn check(p: &bindings::blkcopy_uring_copy, nonblock: bool) -> Checked<(BdevFile, BdevFile, KVec<CopyRange>)> {
    let inline = p.ranges == 0 && p.nr_ranges == 0;
    if p.pad != 0
        || p.pad2 != 0
        || p.reserved != 0
        || (!inline && (p.src_offset | p.dst_offset | p.length) != 0)
    {
        return Err(refuse(EINVAL, Rule::of(bindings::BLKCOPY_ERROR_STRUCT)));
    }
    copy::check_flags(p.flags)?;
    if !inline {
        ioctl::check_nr_ranges(p.nr_ranges)?;
    }
    let (src, dst) = ioctl::open_pair(p.src_fd, p.dst_fd)?;
    let ranges = if inline {
        let mut v = KVec::with_capacity(1, GFP_KERNEL)?;
        v.push(CopyRange { src: p.src_offset, dst: p.dst_offset, len: p.length }, GFP_KERNEL)?;
        v
    } else {
        ioctl::read_ranges(p.ranges, p.nr_ranges)?
    };
    copy::check(src.bdev(), dst.bdev(), &ranges)?;
    ioctl::sync_caches(&src, &dst, &ranges, nonblock)?;
    Ok((src, dst, ranges))
}

fn result_of(res: &CopyResult) -> bindings::blkcopy_uring_result {
    bindings::blkcopy_uring_result { bytes_copied: res.copied, bytes_offloaded: res.offloaded, error: res.rule.to_uapi() }
}

/// BLKCOPY_URING_COPY: checks the copy and starts it. A check that
/// refuses it answers with its errno and, when the command has a result
/// struct, writes the rule there.
pub(crate) fn copy(core: &'static Core, list: &Arc<InProgress>, cmd: UringCmd<'_, UringCopy>) -> Result<Issued> {
    if !cmd.flags().sqe128() {
        return Err(EINVAL);
    }
    // Read once: the SQE may be in memory user space writes.
    let p: bindings::blkcopy_uring_copy = cmd.payload()?;
    if p.size as usize != size_of::<bindings::blkcopy_uring_copy>() {
        return Err(EINVAL);
    }
    let result = match (p.result, p.result_size as usize) {
        (0, 0) => 0,
        (ptr, n) if ptr != 0 && n == size_of::<bindings::blkcopy_uring_result>() => ptr,
        _ => return Err(EINVAL),
    };
    let (src, dst, ranges) = match check(&p, cmd.flags().nonblock()) {
        Ok(checked) => checked,
        Err(r) => {
            if result != 0 {
                let out = result_of(&CopyResult { rule: r.rule, ..CopyResult::default() });
                // The errno is the answer; a result that cannot be written
                // does not change it.
                let _ = UserSlice::new(result as usize, size_of::<bindings::blkcopy_uring_result>()).writer().write(&out);
            }
            return Err(r.errno);
        }
    };
    let (ring, user_data) = (cmd.ring(), cmd.user_data());
    let state = State { job: None, cancelled: false, done: false, res: CopyResult::default() };
    let uc = Arc::pin_init(
        pin_init!(UringCopy {
            src,
            dst,
            ranges,
            result,
            ring,
            user_data,
            list: list.clone(),
            in_task: InTask::new(),
            state <- new_mutex!(state),
        }),
        GFP_KERNEL,
    )?;
    // Listed before it can end, so that it leaves the list when it does
    // (allocating without starting I/O under the list's lock).
    {
        let _noio = NoIo::enter();
        let mut list = list.lock();
        match list.iter_mut().find(|c| c.is_none()) {
            Some(slot) => *slot = Some(uc.clone()),
            None => list.push(Some(uc.clone()), GFP_KERNEL)?,
        }
    }
    let issued = cmd.queue(uc.clone());
    // SAFETY: `uc` holds the devices open until it is dropped, which is
    // after the job has notified it (the job holds it until then).
    let started = unsafe {
        CopyJob::start(core, uc.src.bdev(), uc.dst.bdev(), &uc.ranges, p.flags, Notify::Stepped(uc.clone()))
    };
    match started {
        Ok(job) => {
            let cancel = {
                let mut st = uc.state.lock();
                if !st.done {
                    st.job = Some(job.clone());
                }
                st.cancelled && !st.done
            };
            // A cancel that came before the job was known.
            if cancel {
                job.cancel();
            }
            // The first step here: the copy is started (routed, its device
            // commands sent) when the issue returns.
            job.step_now();
        }
        Err(e) => uc.end(&CopyResult { status: e.to_errno(), ..CopyResult::default() }),
    }
    // Ended already (refused below, or failed at once): the CQE from the
    // task. (A step that `task_run` runs completes its command itself.)
    if uc.done() {
        uc.in_task.schedule();
    }
    Ok(issued)
}

/// BLKCOPY_URING_CANCEL: stops the copies of the same ring with the given
/// `user_data` (the first, or all).
pub(crate) fn cancel(list: &Arc<InProgress>, cmd: UringCmd<'_, UringCopy>) -> Result<Issued> {
    if !cmd.flags().sqe128() {
        return Err(EINVAL);
    }
    let p: bindings::blkcopy_uring_cancel = cmd.payload()?;
    if p.size as usize != size_of::<bindings::blkcopy_uring_cancel>()
        || p.flags & !bindings::BLKCOPY_CANCEL_ALL != 0
        || p.reserved.iter().any(|&r| r != 0)
    {
        return Err(EINVAL);
    }
    let ring = cmd.ring();
    let mut n = 0i32;
    // Stopping a copy only sets its job's flag and queues its work: no I/O
    // under the list's lock.
    for c in list.lock().iter().flatten() {
        if c.ring == ring && c.user_data == p.user_data {
            c.stop();
            n += 1;
            if p.flags & bindings::BLKCOPY_CANCEL_ALL == 0 {
                break;
            }
        }
    }
    if n == 0 {
        return Err(ENOENT);
    }
    Ok(Issued::now(n))
}
